//! Signals berth receives: passed on to the container during a session (`--sig-proxy`),
//! and the interrupts (SIGINT, SIGTERM) that end a command where docker's CLI ends it.

use std::future::Future;
use std::io;

use bollard::Docker;
use bollard::query_parameters::KillContainerOptions;
use futures_util::future::select_all;
use rustix::process::Signal;
use tokio::signal::unix::{SignalKind, signal};

use crate::error::CliError;

/// The interrupts: what ends a command, or counts towards ending a session.
const INTERRUPTS: [(Signal, &str); 2] = [(Signal::INT, "SIGINT"), (Signal::TERM, "SIGTERM")];

/// The signals `--sig-proxy` passes on: every one a process can catch, as docker's does,
/// except those docker leaves out (SIGCHLD, SIGPIPE, SIGURG), those the kernel raises for
/// a fault in berth itself (SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGSYS),
/// and SIGTTIN/SIGTTOU, which a berth in the background would be sent without end once it
/// caught them.
const FORWARDED: [(Signal, &str); 17] = [
    (Signal::HUP, "SIGHUP"),
    (Signal::INT, "SIGINT"),
    (Signal::QUIT, "SIGQUIT"),
    (Signal::USR1, "SIGUSR1"),
    (Signal::USR2, "SIGUSR2"),
    (Signal::ALARM, "SIGALRM"),
    (Signal::TERM, "SIGTERM"),
    (Signal::STKFLT, "SIGSTKFLT"),
    (Signal::CONT, "SIGCONT"),
    (Signal::TSTP, "SIGTSTP"),
    (Signal::XCPU, "SIGXCPU"),
    (Signal::XFSZ, "SIGXFSZ"),
    (Signal::VTALARM, "SIGVTALRM"),
    (Signal::PROF, "SIGPROF"),
    (Signal::WINCH, "SIGWINCH"),
    (Signal::IO, "SIGIO"),
    (Signal::POWER, "SIGPWR"),
];

/// Docker's way out of a session that interrupts do not end (the container ignores them,
/// or they are not passed on): the third one gives up.
pub const FORCE_AFTER: usize = 3;

/// The failure a session forced to end by interrupts reports (status 1).
pub fn forced_exit() -> CliError {
    CliError::Failed("\ngot 3 SIGTERM/SIGINTs, forcefully exiting".to_string())
}

/// The signals a session listens for. Once listening, they no longer end berth by
/// themselves: the session decides what they mean.
pub struct Signals {
    streams: Vec<(tokio::signal::unix::Signal, Signal, &'static str)>,
    /// The container received signals are passed on to.
    proxy: Option<(Docker, String)>,
    /// Interrupts received so far.
    interrupts: usize,
}

impl Signals {
    /// Listens for interrupts only.
    pub fn interrupts() -> io::Result<Self> {
        Self::listen(&INTERRUPTS, None)
    }

    /// Listens for interrupts; with `forward` (`--sig-proxy`), for every signal that is
    /// passed on to container `id`.
    pub fn for_container(forward: bool, docker: &Docker, id: &str) -> io::Result<Self> {
        if forward {
            Self::listen(&FORWARDED, Some((docker.clone(), id.to_string())))
        } else {
            Self::interrupts()
        }
    }

    fn listen(
        signals: &[(Signal, &'static str)],
        proxy: Option<(Docker, String)>,
    ) -> io::Result<Self> {
        let mut streams = Vec::with_capacity(signals.len());
        for &(sig, name) in signals {
            streams.push((signal(SignalKind::from_raw(sig.as_raw()))?, sig, name));
        }
        Ok(Signals {
            streams,
            proxy,
            interrupts: 0,
        })
    }

    /// Handles signals as they come, passing each on before it counts, until `count`
    /// interrupts have been received in all (earlier calls included).
    pub async fn interrupted(&mut self, count: usize) {
        while self.interrupts < count {
            let received = self.streams.iter_mut().map(|(stream, sig, name)| {
                Box::pin(async move { stream.recv().await.map(|()| (*sig, *name)) })
            });
            let (received, _, _) = select_all(received).await;
            // No more signals come once the runtime shuts down.
            let Some((sig, name)) = received else {
                return std::future::pending().await;
            };
            if let Some((docker, id)) = &self.proxy {
                let options = KillContainerOptions {
                    signal: name.to_string(),
                };
                // The container may be gone already; its exit is reported by the wait.
                let _ = docker.kill_container(id, Some(options)).await;
            }
            if INTERRUPTS.iter().any(|&(interrupt, _)| interrupt == sig) {
                self.interrupts += 1;
            }
        }
    }
}

/// Runs a command that has no session; an interrupt ends it quietly with docker's status
/// for it, 128 + the signal.
pub async fn interruptible(
    command: impl Future<Output = Result<(), CliError>>,
) -> Result<(), CliError> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let status = |sig: Signal| CliError::ContainerExit(128 + i64::from(sig.as_raw()));
    tokio::select! {
        result = command => result,
        _ = interrupt.recv() => Err(status(Signal::INT)),
        _ = terminate.recv() => Err(status(Signal::TERM)),
    }
}
