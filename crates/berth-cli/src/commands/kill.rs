//! `kill`: send containers a signal (the daemon's default, SIGKILL, unless `-s` names one).

use bollard::query_parameters::KillContainerOptions;

use super::each;
use crate::cli::KillArgs;
use crate::client::Connector;
use crate::error::CliError;

pub async fn run(connector: &Connector, args: KillArgs) -> Result<(), CliError> {
    let docker = connector.connect().await?;
    let (docker, args) = (&docker, &args);
    each(&args.containers, |name| async move {
        let options = args
            .signal
            .clone()
            .map(|signal| KillContainerOptions { signal });
        docker.kill_container(&name, options).await?;
        Ok(Some(name))
    })
    .await
    .map_err(CliError::from)
}
