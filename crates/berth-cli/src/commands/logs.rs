//! `logs`: a container's output so far, or followed (`-f`).

use bollard::query_parameters::LogsOptions;
use jiff::Timestamp;

use crate::cli::LogsArgs;
use crate::client::Connector;
use crate::error::CliError;
use crate::format::time::parse_time_filter;
use crate::output;

pub async fn run(connector: &Connector, args: LogsArgs) -> Result<(), CliError> {
    let now = Timestamp::now();
    let since = time_filter(args.since.as_deref(), now)?;
    let until = time_filter(args.until.as_deref(), now)?;
    let docker = connector.connect().await?;
    let options = LogsOptions {
        follow: args.follow,
        stdout: true,
        stderr: true,
        since,
        until,
        timestamps: args.timestamps,
        tail: args.tail,
    };
    output::copy_container_output(docker.logs(&args.container, Some(options))).await
}

/// Unix seconds for the API (0: no limit).
fn time_filter(value: Option<&str>, now: Timestamp) -> Result<i32, CliError> {
    let Some(value) = value else { return Ok(0) };
    let seconds = parse_time_filter(value, now).map_err(CliError::Failed)?;
    i32::try_from(seconds).map_err(|_| CliError::Failed(format!("time out of range: {value:?}")))
}
