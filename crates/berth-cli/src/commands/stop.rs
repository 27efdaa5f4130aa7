//! `stop`: stop running containers, after an optional grace period.

use bollard::query_parameters::StopContainerOptions;

use super::each;
use crate::cli::{GracePeriodArgs, StopArgs};
use crate::client::Connector;
use crate::error::CliError;
use crate::output;

pub async fn run(connector: &Connector, args: StopArgs) -> Result<(), CliError> {
    let timeout = grace_period(&args.grace)?;
    let docker = connector.connect().await?;
    let (docker, args) = (&docker, &args);
    each(&args.containers, |name| async move {
        let options = StopContainerOptions {
            t: timeout,
            signal: args.signal.clone(),
        };
        docker.stop_container(&name, Some(options)).await?;
        Ok(Some(name))
    })
    .await
    .map_err(CliError::from)
}

/// The grace period `stop` and `restart` were given, if any; `--time` still works, with
/// docker's deprecation notice (on stdout, where docker prints it).
pub fn grace_period(args: &GracePeriodArgs) -> Result<Option<i32>, CliError> {
    if args.time.is_some() {
        output::line("Flag --time has been deprecated, use --timeout instead");
    }
    match (args.timeout, args.time) {
        (Some(_), Some(_)) => Err(CliError::Failed(
            "conflicting options: cannot specify both --timeout and --time".to_string(),
        )),
        (timeout, time) => Ok(timeout.or(time)),
    }
}
