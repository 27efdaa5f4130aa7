//! One container's cgroup across the host's hierarchies: create, join, list, remove.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cgroup_file;
use crate::cgroup_path;
use crate::error::{Error, Result};
use crate::layout::Layout;

/// The v2 controllers a container's cgroup gets, when its parents can delegate them.
const V2_CONTROLLERS: &[&str] = &[
    "cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc",
];

/// Tries of `rmdir` on `EBUSY` (processes still leaving), 10 ms apart, doubling.
const RMDIR_TRIES: u32 = 6;

/// One container's cgroup: on v1 a directory at the same relative path in every hierarchy, on
/// v2 one directory, on hybrid both (the v1 ones hold the limits; the v2 one only tracks the
/// processes, as runc does).
///
/// Every method does blocking file I/O on cgroupfs (`freeze` waits up to 10 s): async callers
/// run them on a blocking thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    layout: Layout,
    relative: PathBuf,
}

impl Cgroup {
    /// The cgroup at `path` below each hierarchy's root (`berth/<id>`, or a `--cgroup-parent`
    /// joined with the id), without touching the filesystem. Refuses paths with `.` or `..`.
    pub fn open(layout: &Layout, path: &str) -> Result<Self> {
        Ok(Self {
            layout: layout.clone(),
            relative: cgroup_path::parse(path)?,
        })
    }

    /// Creates the cgroup and its missing parents in every hierarchy. On v1, a new cpuset
    /// cgroup gets its parent's `cpuset.cpus`/`cpuset.mems` (it can hold no process while they
    /// are empty). On pure v2, each parent delegates the controllers it has to its children
    /// (`cgroup.subtree_control`); one it cannot delegate stays off, and [`Cgroup::apply`] then
    /// names the missing file if a limit needs it. Existing directories are kept.
    pub fn create(layout: &Layout, path: &str) -> Result<Self> {
        let cgroup = Self::open(layout, path)?;
        for hierarchy in layout.v1_hierarchies() {
            for (parent, dir) in levels(&hierarchy.mountpoint, &cgroup.relative) {
                make_dir(&dir)?;
                if hierarchy.has("cpuset") {
                    inherit_cpuset(&parent, &dir)?;
                }
            }
        }
        if let Some(root) = layout.unified_root() {
            let delegate = matches!(layout, Layout::V2 { .. });
            for (parent, dir) in levels(root, &cgroup.relative) {
                if delegate {
                    enable_controllers(&parent)?;
                }
                make_dir(&dir)?;
            }
        }
        Ok(cgroup)
    }

    /// The cgroup's path below each hierarchy's root.
    pub fn relative_path(&self) -> &Path {
        &self.relative
    }

    /// Moves process `pid` (with all its threads) into the cgroup, in every hierarchy.
    pub fn add_process(&self, pid: i32) -> Result<()> {
        if pid <= 0 {
            return Err(Error::InvalidPid(pid));
        }
        let pid = pid.to_string();
        for dir in self.dirs() {
            cgroup_file::write(&dir.join("cgroup.procs"), &pid)?;
        }
        Ok(())
    }

    /// The processes in the cgroup and in any cgroup the container created below it, sorted.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let mut pids = Vec::new();
        if let Some(dir) = self.procs_dir() {
            collect_pids(&dir, &mut pids)?;
        }
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// Removes the cgroup (and any cgroup the container created below it) from every
    /// hierarchy; parents are left. Its processes must have exited: `rmdir` is retried briefly
    /// while they finish leaving. Removing a cgroup that is already gone succeeds.
    pub fn remove(&self) -> Result<()> {
        let mut first_error = None;
        for dir in self.dirs() {
            if let Err(e) = remove_tree(&dir) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Whether [`Cgroup::apply`] enforces `devices` rules: with the v1 devices controller on v1
    /// and hybrid hosts (not where it is not mounted), with an eBPF device filter on pure v2.
    pub fn enforces_device_rules(&self) -> bool {
        self.v1_dir("devices").is_some() || self.v2_resource_dir().is_some()
    }

    /// The directory of the v1 hierarchy holding `controller`.
    pub(crate) fn v1_dir(&self, controller: &str) -> Option<PathBuf> {
        self.layout
            .v1_hierarchies()
            .iter()
            .find(|h| h.has(controller))
            .map(|h| h.mountpoint.join(&self.relative))
    }

    /// The directory in the v2 tree (pure v2 or hybrid).
    pub(crate) fn unified_dir(&self) -> Option<PathBuf> {
        self.layout
            .unified_root()
            .map(|root| root.join(&self.relative))
    }

    /// The directory holding limits and stats on a pure v2 host; `None` where they live in v1
    /// hierarchies (v1 and hybrid hosts).
    pub(crate) fn v2_resource_dir(&self) -> Option<PathBuf> {
        match &self.layout {
            Layout::V2 { root } => Some(root.join(&self.relative)),
            Layout::V1 { .. } | Layout::Hybrid { .. } => None,
        }
    }

    fn dirs(&self) -> Vec<PathBuf> {
        self.layout
            .v1_hierarchies()
            .iter()
            .map(|h| h.mountpoint.join(&self.relative))
            .chain(self.unified_dir())
            .collect()
    }

    /// Where to list processes: the v2 tree when there is one (it tracks every process), else
    /// a v1 hierarchy that every container process joins.
    fn procs_dir(&self) -> Option<PathBuf> {
        if let Some(dir) = self.unified_dir() {
            return Some(dir);
        }
        let hierarchies = self.layout.v1_hierarchies();
        ["freezer", "pids", "memory"]
            .iter()
            .find_map(|c| hierarchies.iter().find(|h| h.has(c)))
            .or(hierarchies.first())
            .map(|h| h.mountpoint.join(&self.relative))
    }
}

/// Each (parent, directory) pair from the first component of `relative` down to all of it.
fn levels(root: &Path, relative: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut parent = root.to_path_buf();
    relative
        .components()
        .map(|name| {
            let dir = parent.join(name);
            let level = (parent.clone(), dir.clone());
            parent = dir;
            level
        })
        .collect()
}

fn make_dir(dir: &Path) -> Result<()> {
    let error = |source| Error::CreateDir {
        path: dir.to_owned(),
        source,
    };
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if dir.is_dir() {
                Ok(())
            } else {
                Err(error(io::Error::from_raw_os_error(libc::ENOTDIR)))
            }
        }
        Err(source) => Err(error(source)),
    }
}

fn inherit_cpuset(parent: &Path, dir: &Path) -> Result<()> {
    for name in ["cpuset.cpus", "cpuset.mems"] {
        let own = dir.join(name);
        if cgroup_file::read(&own)?.trim().is_empty() {
            let inherited = cgroup_file::read(&parent.join(name))?;
            cgroup_file::write(&own, inherited.trim())?;
        }
    }
    Ok(())
}

/// Delegates to `dir`'s children each wanted controller that `dir` has and has not yet
/// delegated.
fn enable_controllers(dir: &Path) -> Result<()> {
    let available = cgroup_file::read(&dir.join("cgroup.controllers"))?;
    let control = dir.join("cgroup.subtree_control");
    let enabled = cgroup_file::read(&control)?;
    for controller in V2_CONTROLLERS {
        let has = |list: &str| list.split_whitespace().any(|c| c == *controller);
        if has(&available) && !has(&enabled) {
            // Refused when `dir` holds processes itself (and is not the root), or for `cpu`
            // while a realtime task runs in it. The controller then stays off below `dir`: a
            // container that sets no limit for it runs anyway, and `apply` names the missing
            // file for one that does.
            let _refused = cgroup_file::write(&control, &format!("+{controller}"));
        }
    }
    Ok(())
}

fn collect_pids(dir: &Path, pids: &mut Vec<i32>) -> Result<()> {
    let procs = dir.join("cgroup.procs");
    let text = cgroup_file::read(&procs)?;
    let listed = cgroup_file::parse_with(&procs, &text, cgroup_file::parse_pids)?;
    // A process outside this pid namespace is listed as 0.
    pids.extend(listed.into_iter().filter(|&pid| pid > 0));
    for child in child_cgroups(dir)? {
        collect_pids(&child, pids)?;
    }
    Ok(())
}

/// The cgroups directly below `dir` (empty when `dir` does not exist).
fn child_cgroups(dir: &Path) -> Result<Vec<PathBuf>> {
    let error = |source| Error::Read {
        path: dir.to_owned(),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(error(source)),
    };
    let mut children = Vec::new();
    for entry in entries {
        let entry = entry.map_err(error)?;
        if entry.file_type().map_err(error)?.is_dir() {
            children.push(entry.path());
        }
    }
    Ok(children)
}

fn remove_tree(dir: &Path) -> Result<()> {
    for child in child_cgroups(dir)? {
        remove_tree(&child)?;
    }
    let mut delay = Duration::from_millis(10);
    for attempt in 1.. {
        match std::fs::remove_dir(dir) {
            Ok(()) => break,
            Err(e) if e.kind() == io::ErrorKind::NotFound => break,
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < RMDIR_TRIES => {
                std::thread::sleep(delay);
                delay *= 2;
            }
            Err(source) => {
                return Err(Error::RemoveDir {
                    path: dir.to_owned(),
                    source,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::V1Hierarchy;

    fn fake_v1(root: &Path) -> Layout {
        Layout::V1 {
            hierarchies: ["memory", "cpuset"]
                .iter()
                .map(|c| V1Hierarchy {
                    mountpoint: root.join(c),
                    controllers: vec![c.to_string()],
                })
                .collect(),
        }
    }

    #[test]
    fn levels_walk_down_the_relative_path() {
        assert_eq!(
            levels(Path::new("/r"), Path::new("a/b")),
            [
                (PathBuf::from("/r"), PathBuf::from("/r/a")),
                (PathBuf::from("/r/a"), PathBuf::from("/r/a/b")),
            ]
        );
    }

    #[test]
    fn dirs_per_layout() {
        let v1 = Cgroup::open(&fake_v1(Path::new("/cg")), "berth/x").unwrap();
        assert_eq!(
            v1.dirs(),
            [
                Path::new("/cg/memory/berth/x"),
                Path::new("/cg/cpuset/berth/x")
            ]
        );
        assert_eq!(v1.procs_dir().unwrap(), Path::new("/cg/memory/berth/x"));
        assert!(!v1.enforces_device_rules());

        let v2 = Layout::V2 {
            root: "/sys/fs/cgroup".into(),
        };
        let v2 = Cgroup::open(&v2, "/parent/x").unwrap();
        assert_eq!(v2.dirs(), [Path::new("/sys/fs/cgroup/parent/x")]);
        assert!(v2.v2_resource_dir().is_some() && v2.enforces_device_rules());
    }

    #[test]
    fn create_inherits_cpuset_and_remove_deletes_only_the_leaf() {
        // A plain directory tree stands in for cgroupfs: the files the kernel would provide
        // are created by hand at each level.
        let tmp = tempfile::tempdir().unwrap();
        let layout = fake_v1(tmp.path());
        let cpuset = tmp.path().join("cpuset");
        std::fs::create_dir_all(cpuset.join("berth")).unwrap();
        std::fs::create_dir(tmp.path().join("memory")).unwrap();
        std::fs::write(cpuset.join("cpuset.cpus"), "0-3\n").unwrap();
        std::fs::write(cpuset.join("cpuset.mems"), "0\n").unwrap();
        for name in ["cpuset.cpus", "cpuset.mems"] {
            std::fs::write(cpuset.join("berth").join(name), "").unwrap();
        }
        // The leaf's files cannot exist before the leaf: pre-create it as the kernel would.
        std::fs::create_dir_all(cpuset.join("berth/x")).unwrap();
        for name in ["cpuset.cpus", "cpuset.mems"] {
            std::fs::write(cpuset.join("berth/x").join(name), "").unwrap();
        }

        let cgroup = Cgroup::create(&layout, "berth/x").unwrap();
        assert_eq!(
            std::fs::read_to_string(cpuset.join("berth/cpuset.cpus")).unwrap(),
            "0-3"
        );
        assert_eq!(
            std::fs::read_to_string(cpuset.join("berth/x/cpuset.mems")).unwrap(),
            "0"
        );
        assert!(tmp.path().join("memory/berth/x").is_dir());

        for name in ["cpuset.cpus", "cpuset.mems"] {
            std::fs::remove_file(cpuset.join("berth/x").join(name)).unwrap();
        }
        cgroup.remove().unwrap();
        assert!(!tmp.path().join("memory/berth/x").exists());
        assert!(!cpuset.join("berth/x").exists());
        assert!(cpuset.join("berth").is_dir());
        cgroup.remove().unwrap();
    }
}
