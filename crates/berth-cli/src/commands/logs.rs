//! `logs`: a container's output so far, or followed (`-f`).

use bollard::query_parameters::LogsOptions;
use futures_util::TryStreamExt;
use hyper::Method;
use jiff::Timestamp;
use tokio_util::codec::FramedRead;
use tokio_util::io::StreamReader;

use crate::cli::LogsArgs;
use crate::client::Connector;
use crate::client::raw::{query, request};
use crate::error::CliError;
use crate::format::time::parse_time_filter;
use crate::output;
use crate::session::frames::Frames;

pub async fn run(connector: &Connector, args: LogsArgs) -> Result<(), CliError> {
    let now = Timestamp::now();
    let since = time_filter(args.since.as_deref(), now)?;
    let until = time_filter(args.until.as_deref(), now)?;
    let docker = connector.connect().await?;
    if args.details {
        // bollard has no `details`: the request is made here, and the container inspected
        // first to know whether its output is framed, as docker does.
        let tty = docker
            .inspect_container(&args.container, None)
            .await?
            .config
            .and_then(|c| c.tty)
            .unwrap_or(false);
        let flag = |on: bool| if on { "1" } else { "0" };
        let (since, until) = (since.to_string(), until.to_string());
        let pairs = [
            ("stdout", "1"),
            ("stderr", "1"),
            ("details", "1"),
            ("follow", flag(args.follow)),
            ("timestamps", flag(args.timestamps)),
            ("tail", args.tail.as_str()),
            ("since", since.as_str()),
            ("until", until.as_str()),
        ];
        let path = format!("/containers/{}/logs?{}", args.container, query(&pairs));
        let response = request(connector.host(), Method::GET, &path, None)
            .await
            .map_err(CliError::Failed)?;
        if response.status != 200 {
            return Err(CliError::Failed(response.error_message().await));
        }
        let body = StreamReader::new(Box::pin(
            response.into_stream().map_err(std::io::Error::other),
        ));
        return output::copy_container_output(FramedRead::new(body, Frames::new(tty))).await;
    }
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
