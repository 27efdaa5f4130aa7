//! `restart`: stop containers (after an optional grace period) and start them again.

use bollard::query_parameters::RestartContainerOptions;

use super::each;
use super::stop::grace_period;
use crate::cli::RestartArgs;
use crate::client::Connector;
use crate::error::CliError;

pub async fn run(connector: &Connector, args: RestartArgs) -> Result<(), CliError> {
    let timeout = grace_period(&args.grace)?;
    let docker = connector.connect().await?;
    let (docker, args) = (&docker, &args);
    each(&args.containers, |name| async move {
        let options = RestartContainerOptions {
            signal: args.signal.clone(),
            t: timeout,
        };
        docker.restart_container(&name, Some(options)).await?;
        Ok(Some(name))
    })
    .await
    .map_err(CliError::from)
}
