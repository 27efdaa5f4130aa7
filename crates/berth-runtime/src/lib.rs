//! berth-runtime: an OCI runtime spec and an overlay rootfs become an isolated process.
//!
//! [`create`] clones the container init into the namespaces the spec lists. The init mounts
//! the overlay and the spec's mounts inside its own mount namespace, builds `/dev`,
//! `pivot_root`s, hides the masked paths, sets hostname, stdio (or a pty in the container's
//! devpts, see [`Terminal`]), rlimits, user, capabilities and working directory, and looks the
//! command up in the container's `PATH` — so a missing command fails `create` with Docker's
//! message and exit code 127. It then reports ready and waits; [`Container::start`] lets it
//! `execve`, under the spec's seccomp filter ([`seccomp`]; Docker's default profile is
//! [`seccomp::docker_default_profile`]). [`exec`] runs another process in a running
//! container's namespaces, with the same process setup and filter; [`in_network_namespace`]
//! runs work in its network namespace.
//! [`init_binary`] is the tiny init Docker's `--init` runs as pid 1.
//!
//! The caller must be single-threaded (processes are forked from it): berth-shim is.
//! Cgroup limits are not applied here: the caller creates the cgroup named by
//! `linux.cgroupsPath`, and the init joins it in every hierarchy before anything else (before
//! its cgroup namespace, which is then rooted there); an exec'd process joins the init's.
//!
//! The kernel boundary for the rootfs is a seam: the spec becomes a pure plan of steps
//! (`rootfs_plan`), which a small executor (`rootfs_setup`) runs against the `Kernel` trait —
//! real system calls in the init, a recording fake in unit tests.

mod capabilities;
mod cgroup_mounts;
mod container_plan;
mod devices;
mod error;
mod exec;
mod exec_target;
mod executable;
mod init;
mod init_program;
mod kernel;
mod linux;
mod mount_options;
mod namespaces;
mod network_namespace;
mod process_plan;
mod process_setup;
mod rlimits;
mod rootfs_plan;
mod rootfs_setup;
pub mod seccomp;
mod sync;
mod sys;
mod terminal;
mod user;

use std::io;
use std::os::fd::BorrowedFd;

use berth_shim_proto::OverlayMount;
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use oci_spec::runtime::Spec;

use crate::container_plan::ContainerPlan;
use crate::namespaces::PidNamespaceForChildren;
use crate::sync::{Report, SyncSocket};
use crate::sys::Forked;

pub use crate::error::{
    EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND, EXIT_RUNTIME_FAILURE, Error, SpecError,
};
pub use crate::exec::{ExecProcess, exec};
pub use crate::init_program::init_binary;
pub use crate::network_namespace::in_network_namespace;
pub use crate::terminal::Terminal;

/// Where a container process's stdin, stdout and stderr come from.
#[derive(Debug, Clone, Copy)]
pub enum Stdio<'a> {
    /// These descriptors (pipes, `/dev/null`...), for a process without `process.terminal`.
    Descriptors {
        stdin: BorrowedFd<'a>,
        stdout: BorrowedFd<'a>,
        stderr: BorrowedFd<'a>,
    },
    /// A new pty in the container's devpts, for a process with `process.terminal`: its slave
    /// becomes the process's controlling terminal and stdio, its master the caller's
    /// [`Terminal`].
    Terminal,
}

/// A created container: its init is set up and waits to execute the command.
///
/// Dropping it without [`Container::start`] makes the init exit (status
/// [`EXIT_RUNTIME_FAILURE`]); the caller, its parent, reaps it.
#[derive(Debug)]
pub struct Container {
    pid: Pid,
    sync: SyncSocket,
    terminal: Option<Terminal>,
}

/// Creates the container described by `spec` on the overlay `rootfs`, with `stdio`. On
/// success the init (a child of the calling process) waits for [`Container::start`]; on
/// failure nothing is left running and [`Error::exit_code`] is the code Docker reports.
pub fn create(spec: &Spec, rootfs: &OverlayMount, stdio: Stdio<'_>) -> Result<Container, Error> {
    let plan = ContainerPlan::new(spec, rootfs)?;
    plan.process.check_stdio(&stdio)?;
    let threads = sys::thread_count().map_err(|e| Error::os("count threads", e))?;
    if threads != 1 {
        return Err(Error::MultiThreaded { threads });
    }
    let (caller_end, init_end) = SyncSocket::pair().map_err(|e| Error::os("socketpair", e))?;
    let pid_namespace = match plan.namespaces.joined_pid() {
        Some(path) => Some(
            PidNamespaceForChildren::enter(path)
                .map_err(|e| Error::os("enter the pid namespace to join", e))?,
        ),
        None => None,
    };
    // SAFETY: this process has exactly one thread, checked just above.
    let forked = unsafe { sys::clone_process(plan.namespaces.clone_flags()) };
    drop(pid_namespace);
    match forked.map_err(|e| Error::os("clone", e))? {
        Forked::Child => {
            drop(caller_end);
            init::run(&plan, &stdio, &init_end)
        }
        Forked::Parent(pid) => {
            drop(init_end);
            wait_ready(pid, caller_end)
        }
    }
}

fn wait_ready(pid: Pid, sync: SyncSocket) -> Result<Container, Error> {
    let mut terminal = None;
    loop {
        return match sync.recv_report() {
            Ok(Some(Report::Terminal(master))) => {
                terminal = Some(Terminal::new(master));
                continue;
            }
            Ok(Some(Report::Ready)) => Ok(Container {
                pid,
                sync,
                terminal,
            }),
            Ok(Some(Report::Failed { exit_code, message })) => {
                reap(pid);
                Err(Error::Init { exit_code, message })
            }
            Ok(None) => Err(Error::InitDied { status: reap(pid) }),
            Ok(Some(Report::Spawned { .. })) => Err(abandon(
                pid,
                io::Error::new(io::ErrorKind::InvalidData, "unexpected report"),
            )),
            Err(e) => Err(abandon(pid, e)),
        };
    }
}

/// Kills and reaps an init in an unknown state, after `e` while reading from it.
fn abandon(pid: Pid, e: io::Error) -> Error {
    let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
    reap(pid);
    Error::os("read from container init", e)
}

/// Waits for `pid` to exit and says how it ended.
pub(crate) fn reap(pid: Pid) -> String {
    loop {
        match nix::sys::wait::waitpid(pid, None) {
            Err(nix::errno::Errno::EINTR) => continue,
            Ok(WaitStatus::Exited(_, code)) => return format!("exit status {code}"),
            Ok(WaitStatus::Signaled(_, signal, _)) => return format!("killed by {signal}"),
            Ok(other) => return format!("{other:?}"),
            Err(e) => return format!("waitpid: {e}"),
        }
    }
}

impl Container {
    /// The init's pid, as the caller sees it.
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// The master of the init's pty, with [`Stdio::Terminal`].
    pub fn take_terminal(&mut self) -> Option<Terminal> {
        self.terminal.take()
    }

    /// Lets the init execute the command; returns once it has. If `execve` fails the error
    /// says why, and the init exits with the matching code (126 or 127).
    pub fn start(self) -> Result<(), Error> {
        self.sync
            .send_start()
            .map_err(|e| Error::os("start container init", e))?;
        match self.sync.recv_report() {
            Ok(None) => Ok(()),
            Ok(Some(Report::Failed { exit_code, message })) => {
                Err(Error::Init { exit_code, message })
            }
            Ok(Some(_)) => Err(Error::os(
                "start container init",
                io::Error::new(io::ErrorKind::InvalidData, "unexpected report"),
            )),
            Err(e) => Err(Error::os("start container init", e)),
        }
    }
}
