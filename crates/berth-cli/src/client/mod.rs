//! Reaching the daemon: which host, a bollard client speaking the API version both sides
//! know, and berthd started on demand when the default socket has nobody behind it.

mod autostart;
pub mod raw;

use bollard::{API_DEFAULT_VERSION, Docker};

use crate::error::{CliError, is_connection_error};

pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

/// Requests have no deadline, as docker's have none: `stop -t 600`, `wait` and a pull all
/// legitimately take long before the daemon answers. (tokio treats a deadline it cannot
/// represent as none.)
const NO_TIMEOUT: u64 = u64::MAX;

pub struct Connector {
    host: String,
    /// `-H` or `BERTH_HOST` was given: never start a daemon behind the user's back.
    explicit: bool,
}

impl Connector {
    pub fn new(host: Option<String>) -> Self {
        Connector {
            explicit: host.is_some(),
            host: host.unwrap_or_else(|| DEFAULT_HOST.to_string()),
        }
    }

    /// A client for the daemon, starting berthd first if it is needed and allowed.
    pub async fn connect(&self) -> Result<Docker, CliError> {
        if !self.host.starts_with("unix://")
            && !self.host.starts_with("tcp://")
            && !self.host.starts_with("http://")
        {
            return Err(CliError::Failed(format!(
                "unable to parse berth host `{}`",
                self.host
            )));
        }
        match open(&self.host).await {
            Ok(docker) => Ok(docker),
            Err(error) if !is_connection_error(&error) => Err(error.into()),
            Err(_) if !self.explicit => {
                autostart::start_berthd(&self.host).await.map_err(|reason| {
                    CliError::Failed(format!("{}\nberthd: {reason}", self.cannot_connect()))
                })
            }
            Err(_) => Err(CliError::Failed(self.cannot_connect())),
        }
    }

    /// The daemon's address, as given or the default.
    pub fn host(&self) -> &str {
        &self.host
    }

    fn cannot_connect(&self) -> String {
        format!(
            "Cannot connect to the berth daemon at {}. Is the berth daemon running?",
            self.host
        )
    }
}

/// Connects and negotiates the API version (one round trip, so it also tells whether a
/// daemon answers).
async fn open(host: &str) -> Result<Docker, bollard::errors::Error> {
    let docker = if host.starts_with("unix://") {
        Docker::connect_with_unix(host, NO_TIMEOUT, API_DEFAULT_VERSION)?
    } else {
        Docker::connect_with_http(host, NO_TIMEOUT, API_DEFAULT_VERSION)?
    };
    docker.negotiate_version().await
}
