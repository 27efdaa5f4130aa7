//! `attach`: our stdin, stdout and stderr attached to a running container's, until it exits
//! (its status is ours) or the detach keys leave it running. The attach request itself is
//! shared with `run` and `start -a`.

use bollard::Docker;
use bollard::models::ContainerInspectResponse;

use super::container_status;
use super::wait::wait_for_exit;
use crate::cli::AttachArgs;
use crate::client::Connector;
use crate::client::raw::{Connection, hijack};
use crate::error::CliError;
use crate::session::resize::{self, Tty};
use crate::session::signals::{FORCE_AFTER, Signals, forced_exit};
use crate::session::{self, Ended, Streams, Task};
use crate::terminal;

pub async fn run(connector: &Connector, args: AttachArgs) -> Result<(), CliError> {
    let docker = connector.connect().await?;
    // Asked first, so that an exit while we attach is not missed.
    let mut exit = Task::spawn({
        let (docker, container) = (docker.clone(), args.container.clone());
        async move { wait_for_exit(&docker, &container, "not-running").await }
    });
    let inspected = running(&docker, &args.container).await?;
    let id = inspected.id.unwrap_or_else(|| args.container.clone());
    let config = inspected.config.unwrap_or_default();
    let tty = config.tty.unwrap_or(false);
    terminal::check_tty(!args.no_stdin, tty).map_err(CliError::Failed)?;
    let streams = Streams {
        stdin: !args.no_stdin && config.open_stdin.unwrap_or(false),
        output: true,
        tty,
        detach_keys: args.detach_keys,
    };
    let mut signals = Signals::for_container(args.sig_proxy && !tty, &docker, &id)?;
    let connection = connect(connector.host(), &id, &streams, true, true).await?;
    // It may have stopped while we attached, and then nothing would end the session.
    running(&docker, &id).await?;
    let _resize = if tty && terminal::stdout_is_terminal() {
        // A shell redraws its prompt on a size change: make one, as docker does, so that
        // attaching shows where the shell is. Following the terminal then sets the real
        // size.
        let tty = Tty::Container(id.clone());
        if let Some((rows, columns)) = terminal::stdout_size() {
            let larger = (rows.saturating_add(1), columns.saturating_add(1));
            resize::resize(&docker, &tty, larger).await;
        }
        Some(resize::follow(docker.clone(), tty)?)
    } else {
        None
    };
    // The first interrupt ends the session, not the wait for the container's status.
    let ended = tokio::select! {
        ended = session::run(connection, &streams) => ended?,
        () = signals.interrupted(1) => Ended::Closed,
    };
    if ended == Ended::Detached {
        return Err(CliError::Failed("read escape sequence".to_string()));
    }
    tokio::select! {
        status = exit.join() => container_status(status?),
        () = signals.interrupted(FORCE_AFTER) => Err(forced_exit()),
    }
}

/// The container, if it is one that can be attached to.
async fn running(docker: &Docker, container: &str) -> Result<ContainerInspectResponse, CliError> {
    let inspected = docker.inspect_container(container, None).await?;
    let state = inspected.state.clone().unwrap_or_default();
    let refusal = if state.running != Some(true) {
        "You cannot attach to a stopped container, start it first"
    } else if state.paused == Some(true) {
        "You cannot attach to a paused container, unpause it first"
    } else if state.restarting == Some(true) {
        "You cannot attach to a restarting container, wait until it is running"
    } else {
        return Ok(inspected);
    };
    Err(CliError::Failed(refusal.to_string()))
}

/// Attaches to the streams of the container `id` that `streams` and the output flags ask
/// for (`stdout`, `stderr`: `run -a` may attach only one).
pub async fn connect(
    host: &str,
    id: &str,
    streams: &Streams,
    stdout: bool,
    stderr: bool,
) -> Result<Connection, CliError> {
    let flag = |on: bool| if on { "1" } else { "0" };
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("stream", "1")
        .append_pair("stdin", flag(streams.stdin))
        .append_pair("stdout", flag(stdout))
        .append_pair("stderr", flag(stderr));
    if let Some(keys) = streams.detach_keys() {
        query.append_pair("detachKeys", keys);
    }
    let path = format!("/containers/{id}/attach?{}", query.finish());
    hijack(host, &path, None).await.map_err(CliError::Failed)
}
