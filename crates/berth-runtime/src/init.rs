//! The container init: what the cloned child does between `clone` and `execve`, in order.
//!
//! Its cgroups, joined namespaces, a new cgroup namespace, the rootfs (overlay, mounts, `/dev`, `pivot_root`, masked and read-only
//! paths), hostname, stdio (the caller's descriptors, or a pty in the container's devpts whose
//! master goes to the caller), then the process setup shared with `exec`; then it reports
//! ready, waits for `Start` and executes (loading the seccomp filter first, with
//! `no_new_privileges`).

use std::os::fd::OwnedFd;
use std::panic::{self, AssertUnwindSafe};

use rustix::fs::Mode;

use crate::Stdio;
use crate::cgroup_mounts;
use crate::container_plan::ContainerPlan;
use crate::error::{EXIT_RUNTIME_FAILURE, SetupError};
use crate::linux::LinuxKernel;
use crate::process_setup::{self, Command};
use crate::rootfs_setup;
use crate::sync::{Report, SyncSocket};
use crate::sys;

/// Runs in the cloned child; never returns.
pub(crate) fn run(plan: &ContainerPlan, stdio: &Stdio<'_>, sync: &SyncSocket) -> ! {
    let prepared = panic::catch_unwind(AssertUnwindSafe(|| prepare(plan, stdio)));
    let command = match prepared {
        Ok(Ok((command, terminal))) => {
            if let Some(master) = terminal
                && sync.send_report(&Report::Terminal(master)).is_err()
            {
                sys::exit_immediately(EXIT_RUNTIME_FAILURE);
            }
            command
        }
        Ok(Err(e)) => fail(sync, e.exit_code(), &e.to_string()),
        Err(_) => fail(sync, EXIT_RUNTIME_FAILURE, "container init panicked"),
    };
    if sync.send_report(&Report::Ready).is_err() {
        sys::exit_immediately(EXIT_RUNTIME_FAILURE);
    }
    match sync.wait_start() {
        Ok(true) => {}
        // The caller went away (or dropped the container) instead of starting it.
        _ => sys::exit_immediately(EXIT_RUNTIME_FAILURE),
    }
    let err = command.exec();
    fail(sync, err.exit_code(), &err.to_string())
}

/// Reports why the process cannot run and exits with the matching code.
pub(crate) fn fail(sync: &SyncSocket, exit_code: i32, message: &str) -> ! {
    // Nothing more can be done if the caller is gone; the exit code still says it.
    let _ = sync.send_report(&Report::Failed {
        exit_code,
        message: message.to_string(),
    });
    sys::exit_immediately(exit_code)
}

/// Everything up to `execve`; returns the command and, with a terminal, the pty's master.
fn prepare<'p>(
    plan: &'p ContainerPlan,
    stdio: &Stdio<'_>,
) -> Result<(Command<'p>, Option<OwnedFd>), SetupError> {
    sys::reset_signals().map_err(|e| SetupError::sys("reset signals", e))?;
    // Cgroups first: everything the init does from here on is accounted to the container, and
    // its cgroup namespace is rooted at them.
    if let Some(path) = &plan.cgroups_path {
        cgroup_mounts::join(path)?;
    }
    plan.namespaces.join()?;
    plan.namespaces.unshare_cgroup()?;
    // Nodes are created with exactly the modes asked for; the command's umask is set last.
    rustix::process::umask(Mode::empty());
    let mut kernel = LinuxKernel::new().map_err(|e| SetupError::path("open", "/", e))?;
    rootfs_setup::run(&mut kernel, &plan.rootfs)?;
    if let Some(hostname) = &plan.hostname {
        rustix::system::sethostname(hostname.as_bytes())
            .map_err(|e| SetupError::sys("sethostname", e))?;
    }
    if let Some(domainname) = &plan.domainname {
        rustix::system::setdomainname(domainname.as_bytes())
            .map_err(|e| SetupError::sys("setdomainname", e))?;
    }
    // After the rootfs: a terminal is opened in the container's own /dev/pts.
    let terminal = process_setup::setup_stdio(stdio, &plan.process)?;
    Ok((process_setup::prepare(&plan.process)?, terminal))
}
