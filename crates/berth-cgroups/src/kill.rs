//! Signalling every process of a cgroup.

use std::io;

use crate::cgroup::Cgroup;
use crate::cgroup_file;
use crate::error::{Error, Result};

impl Cgroup {
    /// Sends `signal` to every process in the cgroup (and in cgroups below it).
    ///
    /// `SIGKILL` goes through v2's `cgroup.kill` when the kernel has it (pure v2 and hybrid
    /// hosts, Linux 5.14+), which also catches processes forked meanwhile. Otherwise the cgroup
    /// is frozen while its processes are signalled one by one, so none can fork or exit (and
    /// have its pid reused) in between, then thawed again; a cgroup that was already frozen is
    /// left frozen, and its processes see the signal once thawed. Without any freezer the
    /// processes are signalled unfrozen. Processes that exit meanwhile are not an error.
    pub fn kill_all(&self, signal: i32) -> Result<()> {
        if !(1..=libc::SIGRTMAX()).contains(&signal) {
            return Err(Error::InvalidSignal(signal));
        }
        if signal == libc::SIGKILL
            && let Some(dir) = self.unified_dir()
        {
            let kill = dir.join("cgroup.kill");
            if kill.exists() {
                return cgroup_file::write(&kill, "1");
            }
        }
        let thaw_after = match self.freezer() {
            Ok(_) if !self.frozen()? => {
                self.freeze()?;
                true
            }
            Ok(_) | Err(Error::ControllerMissing { .. }) => false,
            Err(e) => return Err(e),
        };
        let signalled = self.pids().and_then(|pids| {
            pids.into_iter()
                .try_for_each(|pid| send_signal(pid, signal))
        });
        if thaw_after {
            self.thaw()?;
        }
        signalled
    }
}

fn send_signal(pid: i32, signal: i32) -> Result<()> {
    if pid <= 0 {
        // 0 would signal our own process group, -1 every process we may signal.
        return Err(Error::InvalidPid(pid));
    }
    // SAFETY: kill(2) takes two integers and touches no memory of ours; `pid` is positive, so
    // it names one process, never a group or every process.
    if unsafe { libc::kill(pid, signal) } == 0 {
        return Ok(());
    }
    let source = io::Error::last_os_error();
    if source.raw_os_error() == Some(libc::ESRCH) {
        return Ok(());
    }
    Err(Error::Signal {
        pid,
        signal,
        source,
    })
}
