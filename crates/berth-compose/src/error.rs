//! Errors. A problem in a compose file says where it is (file, line, column) and which key
//! (`services.web.ports[0]`); a problem talking to the daemon carries the API's error.

use std::fmt;
use std::path::PathBuf;

use crate::yaml::Location;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The compose model is invalid.
    #[error("{0}")]
    Config(ConfigError),
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The daemon refused a request or could not be reached.
    #[error(transparent)]
    Api(#[from] bollard::errors::Error),
    /// An operation could not be carried out (a dependency failed, a container is unhealthy…).
    #[error("{0}")]
    Failed(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The daemon answered 404 (no such container, image, network or volume).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Error::Api(bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                ..
            })
        )
    }
}

/// An invalid compose model: where, which key, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub location: Location,
    /// The key path, e.g. `services.web.ports[0]`; empty for the whole file.
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(location: Location, key: &str, message: impl Into<String>) -> Self {
        ConfigError {
            location,
            key: key.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loc = self.location.to_string();
        if !loc.is_empty() {
            write!(f, "{loc}: ")?;
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

/// Shorthand for an invalid-model error.
pub(crate) fn invalid(location: &Location, key: &str, message: impl Into<String>) -> Error {
    Error::Config(ConfigError::new(location.clone(), key, message))
}
