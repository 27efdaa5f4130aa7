//! `docker exec`: another process in a running container.
//!
//! The caller opens the init's namespaces and finds its cgroups, then forks a *joiner*. The
//! joiner moves into the cgroups and namespaces; joining a pid namespace only affects the
//! children forked afterwards, so it clones the process itself with `CLONE_PARENT`, which makes
//! it the caller's child (the caller reaps it as it reaps the init), reports its pid and exits.
//! The process then does what a container init does last (stdio or a pty in the container's
//! devpts, rlimits, capabilities, user, working directory, command lookup, the container's
//! seccomp filter) and executes.

use std::panic::{self, AssertUnwindSafe};

use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxSeccomp, Process};

use crate::error::{EXIT_RUNTIME_FAILURE, Error, SetupError, SpecError};
use crate::exec_target::ExecTarget;
use crate::init::fail;
use crate::process_plan::ProcessPlan;
use crate::process_setup;
use crate::sync::{Report, SyncSocket};
use crate::sys::{self, Forked};
use crate::terminal::Terminal;
use crate::{Stdio, reap};

/// A process started by [`exec`]: a child of the caller, which must reap it.
#[derive(Debug)]
pub struct ExecProcess {
    pid: Pid,
    terminal: Option<Terminal>,
}

impl ExecProcess {
    /// Its pid, as the caller sees it.
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// The master of its pty, with [`Stdio::Terminal`].
    pub fn take_terminal(&mut self) -> Option<Terminal> {
        self.terminal.take()
    }
}

/// Runs `process` in the container whose init is `init_pid`, a child of the caller that has
/// not been reaped, under `seccomp`: the container's `linux.seccomp`, as it was given to
/// [`crate::create`]. Returns once the command is executing. When it cannot be run the error
/// says why, in Docker's words, and [`Error::exit_code`] is 126 or 127 for a command that
/// cannot be executed or found. The caller must be single-threaded.
///
/// A process without a filter in a container whose init has one is refused: it would escape
/// the container's profile.
pub fn exec(
    init_pid: i32,
    process: &Process,
    seccomp: Option<&LinuxSeccomp>,
    stdio: Stdio<'_>,
) -> Result<ExecProcess, Error> {
    let plan = ProcessPlan::new(process, seccomp)?;
    plan.check_stdio(&stdio)?;
    let target = ExecTarget::open(Pid::from_raw(init_pid))
        .map_err(|e| Error::os("open the namespaces of the container init", e))?;
    if target.init_has_own_seccomp_filter() && plan.seccomp.is_none() {
        return Err(SpecError::Seccomp(
            "the container runs under a seccomp filter, and exec was given none".into(),
        )
        .into());
    }
    let threads = sys::thread_count().map_err(|e| Error::os("count threads", e))?;
    if threads != 1 {
        return Err(Error::MultiThreaded { threads });
    }
    let (caller_end, child_end) = SyncSocket::pair().map_err(|e| Error::os("socketpair", e))?;
    // SAFETY: this process has exactly one thread, checked just above.
    let forked = unsafe { sys::clone_process(CloneFlags::empty()) };
    match forked.map_err(|e| Error::os("fork", e))? {
        Forked::Child => {
            drop(caller_end);
            join(&plan, &target, &stdio, &child_end)
        }
        Forked::Parent(joiner) => {
            drop(child_end);
            wait_started(joiner, &caller_end)
        }
    }
}

/// The joiner; never returns.
fn join(plan: &ProcessPlan, target: &ExecTarget, stdio: &Stdio<'_>, sync: &SyncSocket) -> ! {
    match panic::catch_unwind(AssertUnwindSafe(|| target.enter())) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => fail(sync, e.exit_code(), &e.to_string()),
        Err(_) => fail(sync, EXIT_RUNTIME_FAILURE, "exec process panicked"),
    }
    // SAFETY: the joiner is a fork of a single-threaded process and started no thread.
    match unsafe { sys::clone_process(CloneFlags::CLONE_PARENT) } {
        Err(e) => fail(sync, EXIT_RUNTIME_FAILURE, &format!("clone: {e}")),
        Ok(Forked::Child) => run(plan, stdio, sync),
        Ok(Forked::Parent(pid)) => {
            let reported = sync.send_report(&Report::Spawned { pid: pid.as_raw() });
            sys::exit_immediately(if reported.is_ok() {
                0
            } else {
                EXIT_RUNTIME_FAILURE
            })
        }
    }
}

/// The process itself, in the container's namespaces; never returns.
fn run(plan: &ProcessPlan, stdio: &Stdio<'_>, sync: &SyncSocket) -> ! {
    let prepare = || -> Result<_, SetupError> {
        sys::reset_signals().map_err(|e| SetupError::sys("reset signals", e))?;
        let terminal = process_setup::setup_stdio(stdio, plan)?;
        Ok((process_setup::prepare(plan)?, terminal))
    };
    let command = match panic::catch_unwind(AssertUnwindSafe(prepare)) {
        Ok(Ok((command, terminal))) => {
            if let Some(master) = terminal
                && sync.send_report(&Report::Terminal(master)).is_err()
            {
                sys::exit_immediately(EXIT_RUNTIME_FAILURE);
            }
            command
        }
        Ok(Err(e)) => fail(sync, e.exit_code(), &e.to_string()),
        Err(_) => fail(sync, EXIT_RUNTIME_FAILURE, "exec process panicked"),
    };
    let err = command.exec();
    fail(sync, err.exit_code(), &err.to_string())
}

/// Collects the reports of the joiner and the process until both have closed the socket (the
/// joiner exited, the process executed its command or exited), and reaps what is over.
fn wait_started(joiner: Pid, sync: &SyncSocket) -> Result<ExecProcess, Error> {
    let mut pid = None;
    let mut terminal = None;
    let mut failure = None;
    let received = loop {
        match sync.recv_report() {
            Ok(None) => break Ok(()),
            Ok(Some(Report::Spawned { pid: p })) => pid = Some(Pid::from_raw(p)),
            Ok(Some(Report::Terminal(master))) => terminal = Some(Terminal::new(master)),
            Ok(Some(Report::Failed { exit_code, message })) => {
                failure = Some(Error::Init { exit_code, message });
            }
            Ok(Some(Report::Ready)) => {
                break Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "unexpected report from the exec process",
                ));
            }
            Err(e) => break Err(e),
        }
    };
    let joiner_status = reap(joiner);
    if let Err(e) = received {
        if let Some(pid) = pid {
            // In an unknown state: make sure it is gone.
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            reap(pid);
        }
        return Err(Error::os("read from the exec process", e));
    }
    match (pid, failure) {
        (Some(pid), None) => Ok(ExecProcess { pid, terminal }),
        (pid, Some(failure)) => {
            // It exits right after reporting.
            if let Some(pid) = pid {
                reap(pid);
            }
            Err(failure)
        }
        (None, None) => Err(Error::ExecDied {
            status: joiner_status,
        }),
    }
}
