//! Work done inside a container's network namespace (configuring the interfaces berthd moved
//! there): in a forked child, so the caller's own namespaces never change and no thread is
//! ever started in it.

use std::fs::File;
use std::panic::{self, AssertUnwindSafe};

use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::error::{EXIT_RUNTIME_FAILURE, Error};
use crate::init::fail;
use crate::reap;
use crate::sync::{Report, SyncSocket};
use crate::sys::{self, Forked};

/// Runs `work` in the network namespace of the container whose init is `init_pid` (a child of
/// the caller, not yet reaped) and returns once it is done; its error comes back as
/// [`Error::InNamespace`]. The caller must be single-threaded.
pub fn in_network_namespace(
    init_pid: i32,
    work: impl FnOnce() -> Result<(), String>,
) -> Result<(), Error> {
    let namespace = File::open(format!("/proc/{init_pid}/ns/net"))
        .map_err(|e| Error::os("open the network namespace of the container init", e))?;
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
            let done = panic::catch_unwind(AssertUnwindSafe(|| {
                nix::sched::setns(&namespace, CloneFlags::CLONE_NEWNET)
                    .map_err(|e| format!("setns /proc/{init_pid}/ns/net: {e}"))?;
                work()
            }));
            match done {
                Ok(Ok(())) if child_end.send_report(&Report::Ready).is_ok() => {
                    sys::exit_immediately(0)
                }
                Ok(Ok(())) => sys::exit_immediately(EXIT_RUNTIME_FAILURE),
                Ok(Err(message)) => fail(&child_end, EXIT_RUNTIME_FAILURE, &message),
                Err(_) => fail(&child_end, EXIT_RUNTIME_FAILURE, "namespace work panicked"),
            }
        }
        Forked::Parent(child) => {
            drop(child_end);
            wait_done(child, &caller_end)
        }
    }
}

fn wait_done(child: Pid, sync: &SyncSocket) -> Result<(), Error> {
    let report = sync.recv_report();
    if report.is_err() {
        let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
    }
    let status = reap(child);
    match report {
        Ok(Some(Report::Ready)) => Ok(()),
        Ok(Some(Report::Failed { message, .. })) => Err(Error::InNamespace { message }),
        Ok(_) => Err(Error::InNamespace {
            message: format!("namespace worker ended without reporting ({status})"),
        }),
        Err(e) => Err(Error::os("read from the namespace worker", e)),
    }
}
