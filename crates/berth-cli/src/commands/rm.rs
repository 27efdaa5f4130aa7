//! `rm`: remove containers; with `-f`, running ones too, and missing ones are no failure.

use bollard::query_parameters::RemoveContainerOptions;

use super::each;
use crate::cli::RmArgs;
use crate::client::Connector;
use crate::error::{CliError, describe, is_not_found};

pub async fn run(connector: &Connector, args: RmArgs) -> Result<(), CliError> {
    let docker = connector.connect().await?;
    let (docker, args) = (&docker, &args);
    each(&args.containers, |name| async move {
        let options = RemoveContainerOptions {
            force: args.force,
            v: args.volumes,
            link: false,
        };
        match docker.remove_container(&name, Some(options)).await {
            Ok(()) => Ok(Some(name)),
            Err(error) if args.force && is_not_found(&error) => {
                // Reported, but not a failure: the container is gone either way.
                eprintln!("{}", describe(&error));
                Ok(None)
            }
            Err(error) => Err(error.into()),
        }
    })
    .await
    .map_err(CliError::from)
}
