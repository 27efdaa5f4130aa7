//! The container's `/sys/fs/cgroup`, laid out like the host's (cgroup v1, v2 or hybrid).
//!
//! In a private cgroup namespace each hierarchy is mounted afresh: the kernel roots it at the
//! namespace's cgroup. Without one, a fresh mount would show the host's whole tree, so each
//! hierarchy is bound from the host at the container's own cgroup instead.

use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

use crate::error::SetupError;
use crate::rootfs_plan::Step;

/// Where the host mounts its cgroup hierarchies.
const HOST_CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Mount options of a v1 hierarchy that are not controllers (nor `name=`).
const NON_CONTROLLER_OPTIONS: &[&str] = &[
    "rw",
    "ro",
    "xattr",
    "clone_children",
    "noprefix",
    "cpuset_v2_mode",
    "favordynmods",
];

/// One cgroup hierarchy mounted on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hierarchy {
    /// Its directory under `/sys/fs/cgroup` (`cpu,cpuacct`, `systemd`, `unified`); empty for a
    /// v2 hierarchy mounted on `/sys/fs/cgroup` itself.
    pub dir: String,
    pub version: Version,
    /// v1 controllers and `name=` option, in the host's order; empty for v2.
    pub controllers: Vec<String>,
    pub mountpoint: PathBuf,
    /// The cgroup the host mount is rooted at (mountinfo's 4th field).
    pub root: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    V1,
    V2,
}

/// The cgroup hierarchies mounted under `/sys/fs/cgroup`, from `/proc/self/mountinfo`.
pub(crate) fn host_hierarchies(mountinfo: &str) -> Vec<Hierarchy> {
    mountinfo.lines().filter_map(parse_mountinfo_line).collect()
}

fn parse_mountinfo_line(line: &str) -> Option<Hierarchy> {
    let (mount, fs) = line.split_once(" - ")?;
    let fields: Vec<&str> = mount.split(' ').collect();
    let (root, mountpoint) = (unescape(fields.get(3)?), unescape(fields.get(4)?));
    let mut fs = fs.split(' ');
    let version = match fs.next()? {
        "cgroup" => Version::V1,
        "cgroup2" => Version::V2,
        _ => return None,
    };
    let super_options = fs.nth(1).unwrap_or("");
    let dir = Path::new(&mountpoint).strip_prefix(HOST_CGROUP_ROOT).ok()?;
    if dir.components().count() > 1 {
        return None;
    }
    let controllers = match version {
        Version::V2 => Vec::new(),
        Version::V1 => super_options
            .split(',')
            .filter(|o| {
                !NON_CONTROLLER_OPTIONS.contains(o) && (!o.contains('=') || o.starts_with("name="))
            })
            .map(str::to_string)
            .collect(),
    };
    Some(Hierarchy {
        dir: dir.to_str()?.to_string(),
        version,
        controllers,
        mountpoint: PathBuf::from(&mountpoint),
        root: PathBuf::from(root),
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The calling process's cgroup in each hierarchy, from `/proc/self/cgroup`: pairs of the
/// controller list (`cpu,cpuacct`, `name=systemd`, empty for v2) and the path.
pub(crate) fn own_cgroups(proc_cgroup: &str) -> Vec<(String, PathBuf)> {
    proc_cgroup
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            Some((controllers.to_string(), PathBuf::from(path)))
        })
        .collect()
}

/// The host directory of a process's cgroup in hierarchy `h`, given the process's cgroups
/// (see [`own_cgroups`]); `None` if the process has none there or it is outside the host's
/// mount of the hierarchy.
fn dir_in(h: &Hierarchy, cgroups: &[(String, PathBuf)]) -> Option<PathBuf> {
    let key = h.controllers.join(",");
    let (_, path) = cgroups
        .iter()
        .find(|(controllers, _)| *controllers == key)?;
    let below_root = path.strip_prefix(&h.root).ok()?;
    Some(h.mountpoint.join(below_root))
}

/// The host directories of the cgroup `path` (`linux.cgroupsPath`, absolute) in each hierarchy
/// that has it: the hierarchies the caller did not create it in are left alone.
pub(crate) fn dirs_of_path(hierarchies: &[Hierarchy], path: &Path) -> Vec<PathBuf> {
    hierarchies
        .iter()
        .filter_map(|h| Some(h.mountpoint.join(path.strip_prefix(&h.root).ok()?)))
        .filter(|dir| dir.is_dir())
        .collect()
}

/// Moves the calling process into the cgroup `path` in every hierarchy that has it.
pub(crate) fn join(path: &Path) -> Result<(), SetupError> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| SetupError::path("read", "/proc/self/mountinfo", e))?;
    enter(&dirs_of_path(&host_hierarchies(&mountinfo), path))
}

/// Moves the calling process into the cgroup directories `dirs`.
pub(crate) fn enter(dirs: &[PathBuf]) -> Result<(), SetupError> {
    for dir in dirs {
        let procs = dir.join("cgroup.procs");
        // "0" is the writing process.
        std::fs::write(&procs, "0").map_err(|e| SetupError::path("join cgroup", &procs, e))?;
    }
    Ok(())
}

/// The host directories of a process's cgroups, one per hierarchy it can be found in.
pub(crate) fn dirs(hierarchies: &[Hierarchy], cgroups: &[(String, PathBuf)]) -> Vec<PathBuf> {
    hierarchies
        .iter()
        .filter_map(|h| dir_in(h, cgroups))
        .collect()
}

/// The steps that lay out `target` like the host's `/sys/fs/cgroup`.
pub(crate) fn plan(
    target: &Path,
    flags: MsFlags,
    private_namespace: bool,
    hierarchies: &[Hierarchy],
    own: &[(String, PathBuf)],
) -> Vec<Step> {
    let mount = |h: &Hierarchy, target: PathBuf| -> Option<Step> {
        if private_namespace {
            let (fstype, data) = match h.version {
                Version::V1 => ("cgroup", Some(h.controllers.join(","))),
                Version::V2 => ("cgroup2", None),
            };
            return Some(Step::Filesystem {
                target,
                fstype: fstype.into(),
                source: fstype.into(),
                flags,
                data,
            });
        }
        Some(Step::Bind {
            source: dir_in(h, own)?,
            target,
            recursive: false,
            flags,
        })
    };

    if let Some(unified) = hierarchies.iter().find(|h| h.dir.is_empty()) {
        return mount(unified, target.to_path_buf()).into_iter().collect();
    }
    let mut steps = vec![Step::Filesystem {
        target: target.to_path_buf(),
        fstype: "tmpfs".into(),
        source: "tmpfs".into(),
        flags: (flags - MsFlags::MS_RDONLY)
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC,
        data: Some("mode=755".into()),
    }];
    for h in hierarchies {
        let Some(step) = mount(h, target.join(&h.dir)) else {
            continue;
        };
        steps.push(step);
        // `cpu` -> `cpu,cpuacct` where controllers share a hierarchy, as on the host.
        for controller in h
            .controllers
            .iter()
            .filter(|c| !c.contains('=') && **c != h.dir)
        {
            steps.push(Step::Symlink {
                link: target.join(controller),
                points_to: PathBuf::from(&h.dir),
            });
        }
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        steps.push(Step::Remount {
            target: target.to_path_buf(),
            flags: MsFlags::MS_RDONLY,
        });
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,release_agent=/x,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
50 23 0:40 / /mnt/other\\040dir rw - cgroup cgroup rw,pids
";

    const OWN: &str = "\
9:name=systemd:/
4:memory:/berth/c1
2:cpu,cpuacct:/berth/c1
0::/berth/c1
";

    fn ro() -> MsFlags {
        MsFlags::MS_RDONLY | MsFlags::MS_NOSUID
    }

    #[test]
    fn a_process_cgroup_dirs_are_found_in_each_hierarchy() {
        let dirs = dirs(&host_hierarchies(HYBRID), &own_cgroups(OWN));
        assert_eq!(
            dirs,
            [
                "/sys/fs/cgroup/cpu,cpuacct/berth/c1",
                "/sys/fs/cgroup/memory/berth/c1",
                "/sys/fs/cgroup/systemd",
                "/sys/fs/cgroup/unified/berth/c1",
            ]
            .map(PathBuf::from)
        );
    }

    #[test]
    fn mountinfo_gives_hierarchies_under_sys_fs_cgroup_only() {
        let h = host_hierarchies(HYBRID);
        let dirs: Vec<_> = h.iter().map(|h| h.dir.as_str()).collect();
        assert_eq!(dirs, ["cpu,cpuacct", "memory", "systemd", "unified"]);
        assert_eq!(h[0].controllers, ["cpu", "cpuacct"]);
        assert_eq!(h[2].controllers, ["name=systemd"]);
        assert_eq!(h[3].version, Version::V2);
        assert_eq!(unescape(r"/a\040b\134c"), r"/a b\c");
    }

    #[test]
    fn private_namespace_mounts_each_hierarchy_fresh_under_a_tmpfs() {
        let steps = plan(
            Path::new("sys/fs/cgroup"),
            ro(),
            true,
            &host_hierarchies(HYBRID),
            &[],
        );
        let summary: Vec<String> = steps
            .iter()
            .map(|s| match s {
                Step::Filesystem {
                    target,
                    fstype,
                    data,
                    ..
                } => {
                    format!(
                        "{fstype} {} {}",
                        target.display(),
                        data.as_deref().unwrap_or("-")
                    )
                }
                Step::Symlink { link, points_to } => {
                    format!("link {} -> {}", link.display(), points_to.display())
                }
                Step::Remount { target, .. } => format!("remount {}", target.display()),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            summary,
            [
                "tmpfs sys/fs/cgroup mode=755",
                "cgroup sys/fs/cgroup/cpu,cpuacct cpu,cpuacct",
                "link sys/fs/cgroup/cpu -> cpu,cpuacct",
                "link sys/fs/cgroup/cpuacct -> cpu,cpuacct",
                "cgroup sys/fs/cgroup/memory memory",
                "cgroup sys/fs/cgroup/systemd name=systemd",
                "cgroup2 sys/fs/cgroup/unified -",
                "remount sys/fs/cgroup",
            ]
        );
        let Step::Filesystem { flags, .. } = &steps[0] else {
            panic!()
        };
        assert!(
            !flags.contains(MsFlags::MS_RDONLY),
            "the tmpfs is made read-only last"
        );
    }

    #[test]
    fn host_namespace_binds_the_containers_own_cgroup() {
        let steps = plan(
            Path::new("sys/fs/cgroup"),
            ro(),
            false,
            &host_hierarchies(HYBRID),
            &own_cgroups(OWN),
        );
        let binds: Vec<(PathBuf, PathBuf)> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Bind { source, target, .. } => Some((source.clone(), target.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            binds,
            [
                (
                    "/sys/fs/cgroup/cpu,cpuacct/berth/c1".into(),
                    "sys/fs/cgroup/cpu,cpuacct".into()
                ),
                (
                    "/sys/fs/cgroup/memory/berth/c1".into(),
                    "sys/fs/cgroup/memory".into()
                ),
                (
                    "/sys/fs/cgroup/systemd/".into(),
                    "sys/fs/cgroup/systemd".into()
                ),
                (
                    "/sys/fs/cgroup/unified/berth/c1".into(),
                    "sys/fs/cgroup/unified".into()
                ),
            ]
        );
    }

    #[test]
    fn pure_v2_is_one_mount() {
        let v2 = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        let steps = plan(
            Path::new("sys/fs/cgroup"),
            ro(),
            true,
            &host_hierarchies(v2),
            &[],
        );
        assert_eq!(
            steps,
            [Step::Filesystem {
                target: "sys/fs/cgroup".into(),
                fstype: "cgroup2".into(),
                source: "cgroup2".into(),
                flags: ro(),
                data: None,
            }]
        );
    }
}
