//! What entering a running container takes: its namespaces and its cgroups, read from
//! `/proc/<init pid>` by the caller before it forks (inside the container's mount namespace
//! `/proc` no longer shows the host's pids).

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use nix::sched::CloneFlags;
use nix::unistd::Pid;

use crate::cgroup_mounts;
use crate::error::SetupError;

/// The namespaces a process can join, in the order they are joined: the mount namespace last,
/// so the others are entered while the caller's view of the system is still its own. The pid
/// namespace applies to the children forked afterwards.
const NAMESPACES: [(&str, CloneFlags); 6] = [
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

pub(crate) struct ExecTarget {
    /// The container's namespaces that differ from the caller's: kind, path and open file.
    namespaces: Vec<(CloneFlags, PathBuf, File)>,
    /// The container's cgroup in each host hierarchy where the caller is in another one.
    cgroup_dirs: Vec<PathBuf>,
    /// The init runs under more seccomp filters than the caller: its container's own.
    init_filtered: bool,
}

impl ExecTarget {
    /// Reads the namespaces and cgroups of `init`. It must be the caller's child and not yet
    /// reaped, so its pid cannot name another process; an init that has exited is refused.
    pub(crate) fn open(init: Pid) -> io::Result<Self> {
        let mut namespaces = Vec::new();
        for (name, flag) in NAMESPACES {
            let path = PathBuf::from(format!("/proc/{init}/ns/{name}"));
            let theirs = match File::open(&path) {
                Ok(file) => file,
                // A kernel without this kind of namespace.
                Err(e) if e.kind() == io::ErrorKind::NotFound && name == "cgroup" => continue,
                Err(e) => return Err(e),
            };
            let ours = std::fs::metadata(format!("/proc/self/ns/{name}"))?;
            let same = theirs.metadata()?;
            if (same.dev(), same.ino()) != (ours.dev(), ours.ino()) {
                namespaces.push((flag, path, theirs));
            }
        }
        let hierarchies =
            cgroup_mounts::host_hierarchies(&std::fs::read_to_string("/proc/self/mountinfo")?);
        let dirs_of = |pid: &str| -> io::Result<Vec<PathBuf>> {
            let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
            Ok(cgroup_mounts::dirs(
                &hierarchies,
                &cgroup_mounts::own_cgroups(&cgroups),
            ))
        };
        // Moving into a cgroup is slow (a v1 hierarchy waits for an RCU grace period): the
        // joiner, a fork of the caller, skips the cgroups it is in already.
        let ours = dirs_of("self")?;
        let cgroup_dirs = dirs_of(&init.to_string())?
            .into_iter()
            .filter(|dir| !ours.contains(dir))
            .collect();
        let filters = |pid: &str| -> io::Result<Option<u32>> {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
            Ok(seccomp_filters(&status))
        };
        let init_filtered = match (filters(&init.to_string())?, filters("self")?) {
            (Some(theirs), Some(ours)) => theirs > ours,
            // A kernel older than 5.9 does not count them.
            _ => false,
        };
        Ok(Self {
            namespaces,
            cgroup_dirs,
            init_filtered,
        })
    }

    /// Whether the container's init runs under a seccomp filter the caller does not.
    pub(crate) fn init_has_own_seccomp_filter(&self) -> bool {
        self.init_filtered
    }

    /// Moves the calling process into the container's cgroups, then its namespaces.
    pub(crate) fn enter(&self) -> Result<(), SetupError> {
        cgroup_mounts::enter(&self.cgroup_dirs)?;
        for (flag, path, file) in &self.namespaces {
            nix::sched::setns(file, *flag).map_err(|e| SetupError::path("setns", path, e))?;
        }
        Ok(())
    }
}

/// The `Seccomp_filters:` count of a `/proc/<pid>/status`.
fn seccomp_filters(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Seccomp_filters:"))
        .and_then(|count| count.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seccomp_filter_count_is_read_from_the_status() {
        let status = "Name:\tsh\nSeccomp:\t2\nSeccomp_filters:\t1\nSpeculation_Store_Bypass:\tx\n";
        assert_eq!(seccomp_filters(status), Some(1));
        assert_eq!(seccomp_filters("Name:\tsh\nSeccomp:\t0\n"), None);
    }
}
