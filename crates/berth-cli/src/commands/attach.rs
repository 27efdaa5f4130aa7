//! Running a container with our stdout and stderr attached, as `run` without `-d` and
//! `start -a` do: attach before starting so no output is lost, ask for the exit status
//! before starting so the exit cannot be missed, pass our signals on to the container, copy
//! its output until it closes it, and return its exit status.

use std::time::Duration;

use bollard::Docker;
use bollard::models::ContainerStateStatusEnum;
use bollard::query_parameters::{AttachContainerOptions, KillContainerOptions};
use futures_util::future::select_all;
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinHandle;

use super::wait::wait_for_exit;
use crate::error::CliError;
use crate::output;

/// How often the state is checked when the exit notification may have been missed.
const STATE_POLL: Duration = Duration::from_secs(1);

/// The signals docker's `--sig-proxy` passes on by default, which matter for a container.
const FORWARDED: [(SignalKind, &str); 6] = [
    (SignalKind::interrupt(), "SIGINT"),
    (SignalKind::terminate(), "SIGTERM"),
    (SignalKind::hangup(), "SIGHUP"),
    (SignalKind::quit(), "SIGQUIT"),
    (SignalKind::user_defined1(), "SIGUSR1"),
    (SignalKind::user_defined2(), "SIGUSR2"),
];

/// Starts the created container `id` attached and returns its exit status. With
/// `auto_remove` the status comes once the daemon has removed it.
pub async fn run_attached(docker: &Docker, id: &str, auto_remove: bool) -> Result<i64, CliError> {
    let options = AttachContainerOptions {
        stream: true,
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let attached = docker.attach_container(id, Some(options)).await?;
    let condition = if auto_remove { "removed" } else { "next-exit" };
    let mut exit = tokio::spawn({
        let docker = docker.clone();
        let id = id.to_string();
        async move { wait_for_exit(&docker, &id, condition).await }
    });
    // Let the wait request go out before the start request; should the daemon still see
    // them the other way round, `exit_from_state` below catches the exit.
    tokio::task::yield_now().await;
    if let Err(error) = docker.start_container(id, None).await {
        exit.abort();
        return Err(error.into());
    }
    let signals = tokio::spawn(forward_signals(docker.clone(), id.to_string()));
    let status = match output::copy_container_output(attached.output).await {
        Err(error) => Err(error),
        Ok(()) if auto_remove => joined(&mut exit).await,
        Ok(()) => tokio::select! {
            status = joined(&mut exit) => status,
            status = exit_from_state(docker, id) => status,
        },
    };
    exit.abort();
    signals.abort();
    status
}

/// The exit status as a command result: 0 succeeds, anything else is passed on.
pub fn container_status(status: i64) -> Result<(), CliError> {
    match status {
        0 => Ok(()),
        status => Err(CliError::ContainerExit(status)),
    }
}

async fn joined(task: &mut JoinHandle<Result<i64, CliError>>) -> Result<i64, CliError> {
    task.await
        .map_err(|e| CliError::Failed(format!("waiting for the container: {e}")))?
}

/// A safety net for a wait request that reached the daemon only after the container had
/// already exited (it would wait for a next exit that never comes): once the output has
/// ended, the container's state tells its status too.
async fn exit_from_state(docker: &Docker, id: &str) -> Result<i64, CliError> {
    loop {
        tokio::time::sleep(STATE_POLL).await;
        let state = docker
            .inspect_container(id, None)
            .await?
            .state
            .unwrap_or_default();
        if matches!(
            state.status,
            Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD)
        ) {
            return Ok(state.exit_code.unwrap_or_default());
        }
    }
}

/// Sends the container every forwarded signal we receive, until aborted.
async fn forward_signals(docker: Docker, id: String) {
    let mut streams: Vec<_> = FORWARDED
        .iter()
        .filter_map(|&(kind, name)| signal(kind).ok().map(|stream| (stream, name)))
        .collect();
    if streams.is_empty() {
        return;
    }
    loop {
        let received = streams
            .iter_mut()
            .map(|(stream, name)| Box::pin(async move { stream.recv().await.map(|()| *name) }));
        let (name, _, _) = select_all(received).await;
        let Some(name) = name else { return };
        let options = KillContainerOptions {
            signal: name.to_string(),
        };
        // The container may be gone already; its exit is reported by the wait.
        let _ = docker.kill_container(&id, Some(options)).await;
    }
}
