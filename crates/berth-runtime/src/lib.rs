//! berth-runtime: an OCI runtime spec and an overlay rootfs become an isolated process.
//!
//! [`create`] clones the container init into the namespaces the spec lists. The init mounts
//! the overlay and the spec's mounts inside its own mount namespace, builds `/dev`,
//! `pivot_root`s, hides the masked paths, sets hostname, rlimits, user, capabilities and
//! working directory, and looks the command up in the container's `PATH` — so a missing
//! command fails `create` with Docker's message and exit code 127. It then reports ready and
//! waits; [`Container::start`] lets it `execve`.
//!
//! The caller must be single-threaded (the init is forked from it): berth-shim is.
//! Cgroups are not applied here.
//!
//! The kernel boundary for the rootfs is a seam: the spec becomes a pure plan of steps
//! (`rootfs_plan`), which a small executor (`rootfs_setup`) runs against the `Kernel` trait —
//! real system calls in the init, a recording fake in unit tests.

mod capabilities;
mod cgroup_mounts;
mod container_plan;
mod devices;
mod error;
mod executable;
mod init;
mod kernel;
mod linux;
mod mount_options;
mod namespaces;
mod process_plan;
mod rlimits;
mod rootfs_plan;
mod rootfs_setup;
mod sync;
mod sys;
mod user;

use std::io;
use std::os::fd::BorrowedFd;

use berth_shim_proto::OverlayMount;
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use oci_spec::runtime::Spec;

use crate::container_plan::ContainerPlan;
use crate::sync::{Report, SyncSocket};
use crate::sys::Forked;

pub use crate::error::{
    EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND, EXIT_RUNTIME_FAILURE, Error, SpecError,
};

/// The descriptors that become the container's stdin, stdout and stderr.
#[derive(Debug, Clone, Copy)]
pub struct Stdio<'a> {
    pub stdin: BorrowedFd<'a>,
    pub stdout: BorrowedFd<'a>,
    pub stderr: BorrowedFd<'a>,
}

/// A created container: its init is set up and waits to execute the command.
///
/// Dropping it without [`Container::start`] makes the init exit (status
/// [`EXIT_RUNTIME_FAILURE`]); the caller, its parent, reaps it.
#[derive(Debug)]
pub struct Container {
    pid: Pid,
    sync: SyncSocket,
}

/// Creates the container described by `spec` on the overlay `rootfs`, with `stdio`. On
/// success the init (a child of the calling process) waits for [`Container::start`]; on
/// failure nothing is left running and [`Error::exit_code`] is the code Docker reports.
pub fn create(spec: &Spec, rootfs: &OverlayMount, stdio: Stdio<'_>) -> Result<Container, Error> {
    let plan = ContainerPlan::new(spec, rootfs)?;
    let threads = sys::thread_count().map_err(|e| Error::os("count threads", e))?;
    if threads != 1 {
        return Err(Error::MultiThreaded { threads });
    }
    let (caller_end, init_end) = SyncSocket::pair().map_err(|e| Error::os("socketpair", e))?;
    // SAFETY: this process has exactly one thread, checked just above.
    let forked = unsafe { sys::clone_process(plan.namespaces.clone_flags()) };
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
    match sync.recv_report() {
        Ok(Some(Report::Ready)) => Ok(Container { pid, sync }),
        Ok(Some(Report::Failed { exit_code, message })) => {
            reap(pid);
            Err(Error::Init { exit_code, message })
        }
        Ok(None) => Err(Error::InitDied { status: reap(pid) }),
        Err(e) => {
            // The init is in an unknown state: make sure it is gone.
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            reap(pid);
            Err(Error::os("read from container init", e))
        }
    }
}

/// Waits for `pid` to exit and says how it ended.
fn reap(pid: Pid) -> String {
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
            Ok(Some(Report::Ready)) => Err(Error::os(
                "start container init",
                io::Error::new(io::ErrorKind::InvalidData, "init reported ready twice"),
            )),
            Err(e) => Err(Error::os("start container init", e)),
        }
    }
}
