//! `run`: create a container and start it, attached (the default) or detached (`-d`).

use super::attach::{container_status, run_attached};
use super::create::create_container;
use crate::cli::RunArgs;
use crate::client::Connector;
use crate::error::CliError;
use crate::output;

pub async fn run(connector: &Connector, args: RunArgs) -> Result<(), CliError> {
    run_container(connector, args)
        .await
        .map_err(CliError::in_run)
}

async fn run_container(connector: &Connector, args: RunArgs) -> Result<(), CliError> {
    let docker = connector.connect().await?;
    let id = create_container(&docker, &args.container, !args.detach).await?;
    if args.detach {
        docker.start_container(&id, None).await?;
        output::line(&id);
        return Ok(());
    }
    container_status(run_attached(&docker, &id, args.container.rm).await?)
}
