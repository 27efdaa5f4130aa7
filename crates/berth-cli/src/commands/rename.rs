//! `rename`: give a container a new name.

use bollard::query_parameters::RenameContainerOptions;

use crate::cli::RenameArgs;
use crate::client::Connector;
use crate::error::{CliError, describe};

pub async fn run(connector: &Connector, args: RenameArgs) -> Result<(), CliError> {
    let (container, name) = (args.container.trim(), args.new_name.trim());
    if container.is_empty() || name.is_empty() {
        return Err(CliError::Failed(
            "Error: Neither old nor new names may be empty".to_string(),
        ));
    }
    let docker = connector.connect().await?;
    let options = RenameContainerOptions {
        name: name.to_string(),
    };
    docker
        .rename_container(container, options)
        .await
        .map_err(|error| {
            // Docker prints the daemon's reason, then its own summary.
            eprintln!("{}", describe(&error));
            CliError::Failed(format!(
                "Error: failed to rename container named {container}"
            ))
        })
}
