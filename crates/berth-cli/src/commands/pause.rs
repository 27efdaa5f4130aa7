//! `pause` and `unpause`: freeze all processes of containers, or thaw them.

use super::each;
use crate::cli::PauseArgs;
use crate::client::Connector;
use crate::error::CliError;

/// Pauses the containers (`pause`: true) or unpauses them.
pub async fn run(connector: &Connector, args: PauseArgs, pause: bool) -> Result<(), CliError> {
    let docker = connector.connect().await?;
    let docker = &docker;
    each(&args.containers, |name| async move {
        if pause {
            docker.pause_container(&name).await?;
        } else {
            docker.unpause_container(&name).await?;
        }
        Ok(Some(name))
    })
    .await
    .map_err(CliError::from)
}
