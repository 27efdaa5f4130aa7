//! `start`: start containers, or start one attached (`-a`, `-i`) and pass on its exit
//! status. The attached start is `run`'s too: attach before starting so no output is lost,
//! ask for the exit status before starting so the exit cannot be missed, then run the
//! session until the output ends or the user detaches.

use std::time::Duration;

use bollard::Docker;
use bollard::models::ContainerStateStatusEnum;

use super::attach::connect;
use super::wait::wait_for_exit;
use super::{container_status, each};
use crate::cli::StartArgs;
use crate::client::Connector;
use crate::error::CliError;
use crate::session::resize::{self, Tty};
use crate::session::signals::{FORCE_AFTER, Signals, forced_exit};
use crate::session::{self, Ended, Streams, Task};
use crate::terminal;

/// How often the state is checked when the exit notification may have been missed.
const STATE_POLL: Duration = Duration::from_secs(1);

pub async fn run(connector: &Connector, args: StartArgs) -> Result<(), CliError> {
    if args.attach || args.interactive {
        let [container] = args.containers.as_slice() else {
            return Err(CliError::Failed(
                "you cannot start and attach multiple containers at once".to_string(),
            ));
        };
        let docker = connector.connect().await?;
        let inspected = docker.inspect_container(container, None).await?;
        let id = inspected.id.unwrap_or_else(|| container.clone());
        let config = inspected.config.unwrap_or_default();
        let tty = config.tty.unwrap_or(false);
        let start = AttachedStart {
            id: &id,
            streams: Streams {
                stdin: args.interactive && config.open_stdin.unwrap_or(false),
                output: true,
                tty,
                detach_keys: args.detach_keys,
            },
            stdout: true,
            stderr: true,
            sig_proxy: !tty,
            auto_remove: inspected
                .host_config
                .and_then(|h| h.auto_remove)
                .unwrap_or(false),
            caller: Caller::Start,
        };
        return start_attached(&docker, connector.host(), start).await;
    }
    let docker = connector.connect().await?;
    let docker = &docker;
    each(&args.containers, |name| async move {
        docker.start_container(&name, None).await?;
        Ok(Some(name))
    })
    .await
    .map_err(|failures| {
        let summary = format!(
            "Error: failed to start containers: {}",
            failures.targets.join(", ")
        );
        let mut messages = failures.messages;
        messages.push(summary);
        CliError::Failed(messages.join("\n"))
    })
}

/// The command starting a container attached, for what docker does differently in each.
#[derive(Clone, Copy)]
pub enum Caller {
    /// `run`: interrupts are the container's business (passed on with `--sig-proxy`), and
    /// only the third one ends berth; a failed start is reported as `run` reports it.
    Run,
    /// `start -a`: the first interrupt ends the session, quietly.
    Start,
}

/// A created container to start attached.
pub struct AttachedStart<'a> {
    pub id: &'a str,
    pub streams: Streams,
    /// Which outputs are attached (`run -a` may pick one).
    pub stdout: bool,
    pub stderr: bool,
    /// Pass our signals on to the container.
    pub sig_proxy: bool,
    /// The daemon removes the container when it exits (`--rm`).
    pub auto_remove: bool,
    pub caller: Caller,
}

/// Starts the container attached and passes on its exit status; succeeds quietly when the
/// session ends without one (the user detached, or interrupted `start -a`).
pub async fn start_attached(
    docker: &Docker,
    host: &str,
    start: AttachedStart<'_>,
) -> Result<(), CliError> {
    let mut signals = Signals::for_container(start.sig_proxy, docker, start.id)?;
    let session = attach_and_start(docker, host, &start);
    let status = match start.caller {
        Caller::Run => tokio::select! {
            status = session => status?,
            () = signals.interrupted(FORCE_AFTER) => return Err(forced_exit()),
        },
        Caller::Start => tokio::select! {
            status = session => status?,
            () = signals.interrupted(1) => None,
        },
    };
    status.map_or(Ok(()), container_status)
}

async fn attach_and_start(
    docker: &Docker,
    host: &str,
    start: &AttachedStart<'_>,
) -> Result<Option<i64>, CliError> {
    let id = start.id;
    let connection = connect(host, id, &start.streams, start.stdout, start.stderr).await?;
    let condition = if start.auto_remove {
        "removed"
    } else {
        "next-exit"
    };
    let mut exit = Task::spawn({
        let (docker, id) = (docker.clone(), id.to_string());
        async move { wait_for_exit(&docker, &id, condition).await }
    });
    // Let the wait request go out before the start request; should the daemon still see
    // them the other way round, `exit_from_state` below catches the exit.
    tokio::task::yield_now().await;
    if let Err(error) = docker.start_container(id, None).await {
        if start.auto_remove {
            // The daemon removes it all the same; report once it is gone, as docker does.
            let _ = exit.join().await;
        }
        let error = CliError::from(error);
        return Err(match start.caller {
            Caller::Run => error.in_run(),
            Caller::Start => error,
        });
    }
    let _resize = if start.streams.tty && terminal::stdout_is_terminal() {
        Some(resize::follow(
            docker.clone(),
            Tty::Container(id.to_string()),
        )?)
    } else {
        None
    };
    let ended = tokio::select! {
        ended = session::run(connection, &start.streams) => ended?,
        // Only stdin attached: the container's exit ends the session.
        status = exit.join(), if !start.streams.output => return status.map(Some),
    };
    if ended == Ended::Detached {
        return Ok(None);
    }
    let status = if start.auto_remove {
        exit.join().await
    } else {
        tokio::select! {
            status = exit.join() => status,
            status = exit_from_state(docker, id) => status,
        }
    };
    status.map(Some)
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
