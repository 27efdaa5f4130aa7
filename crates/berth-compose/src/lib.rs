//! The Compose Specification, as `docker compose` v2 implements it.
//!
//! - [`load()`] finds and reads the compose files, merges them, interpolates variables, applies
//!   `include`, `extends` and profiles, and returns a validated [`Project`].
//! - [`config`] prints the resolved model (`docker compose config`).
//! - [`Compose`] drives a daemon through the Docker Engine API (bollard) to bring a project
//!   up and down and to act on its containers, labelling everything the way docker compose
//!   does, so the two tools can manage each other's projects.
//!
//! Compose files are untrusted input: reading is bounded, nothing panics on bad input, and
//! errors name the file, line and key (`compose.yaml:7:9: services.web.ports[0]: invalid
//! port "x"`).
//!
//! How `berth compose up` uses it:
//!
//! ```no_run
//! # async fn up(docker: bollard::Docker) -> berth_compose::Result<()> {
//! use berth_compose::orchestrate::{LogPrefixer, UpOptions};
//! use futures_util::StreamExt;
//!
//! let project = berth_compose::load(&berth_compose::LoadOptions {
//!     files: vec!["compose.yaml".into()], // -f; empty: discovery
//!     services: vec![],                    // the services named on the command line
//!     ..Default::default()
//! })?;
//! for w in &project.warnings {
//!     eprintln!("WARN {w}");
//! }
//! let compose = berth_compose::Compose::new(docker).with_progress(|e| eprintln!(" {e}"));
//! let mut logs = compose.up_attached(&project, &UpOptions::default()).await?;
//! let containers = compose.ps(&project.name, &[], true).await?;
//! let mut prefix = LogPrefixer::new(containers.iter().map(|c| c.log_name()), true);
//! while let Some(event) = logs.next().await {
//!     print!("{}", prefix.format(&event?));
//! }
//! # Ok(())
//! # }
//! ```

pub mod config;
mod convert;
pub mod dotenv;
pub mod error;
pub mod interpolate;
pub mod load;
pub mod model;
pub mod orchestrate;
pub mod plan;
mod profiles;
pub mod units;
mod validate;
mod yaml;

pub use error::{ConfigError, Error, Result};
pub use load::{LoadOptions, load};
pub use model::{Project, Service};
pub use orchestrate::Compose;
pub use yaml::Location;

use std::io::Read;
use std::path::Path;

/// `parent.key`, or `key` at the top.
pub(crate) fn keypath(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// Reads a UTF-8 file of at most `max` bytes.
pub(crate) fn read_bounded(path: &Path, max: u64) -> Result<String> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut text = String::new();
    file.take(max + 1)
        .read_to_string(&mut text)
        .map_err(|e| Error::io(path, e))?;
    if text.len() as u64 > max {
        return Err(Error::Failed(format!(
            "{}: larger than {max} bytes",
            path.display()
        )));
    }
    Ok(text)
}
