//! `export`: a container's filesystem as a tar archive, to a file or a redirected stdout.

use super::save::{check_output, write_archive};
use crate::cli::ExportArgs;
use crate::client::Connector;
use crate::error::CliError;

pub async fn run(connector: &Connector, args: ExportArgs) -> Result<(), CliError> {
    check_output(args.output.as_deref(), "failed to export container").await?;
    let docker = connector.connect().await?;
    let archive = docker.export_container(&args.container);
    write_archive(args.output.as_deref(), Box::pin(archive)).await
}
