//! `stop`: stop running containers, after an optional grace period.

use bollard::query_parameters::StopContainerOptions;

use super::each;
use crate::cli::StopArgs;
use crate::client::Connector;
use crate::error::CliError;

pub async fn run(connector: &Connector, args: StopArgs) -> Result<(), CliError> {
    let docker = connector.connect().await?;
    let (docker, args) = (&docker, &args);
    each(&args.containers, |name| async move {
        let options = StopContainerOptions {
            t: args.timeout,
            signal: args.signal.clone(),
        };
        docker.stop_container(&name, Some(options)).await?;
        Ok(Some(name))
    })
    .await
    .map_err(CliError::from)
}
