//! Which cgroup hierarchies the host mounts, from `/proc/self/mountinfo`.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where hosts mount their cgroup hierarchies; mounts elsewhere are ignored.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

const MOUNTINFO: &str = "/proc/self/mountinfo";

/// v1 controllers the kernel knows. Anything else in a v1 mount's super options (`rw`,
/// `clone_children`, `release_agent=...`) is an option, except `name=...` hierarchies.
const V1_CONTROLLERS: &[&str] = &[
    "blkio",
    "cpu",
    "cpuacct",
    "cpuset",
    "debug",
    "devices",
    "freezer",
    "hugetlb",
    "memory",
    "misc",
    "net_cls",
    "net_prio",
    "perf_event",
    "pids",
    "rdma",
];

/// The cgroup hierarchies of a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Only v1 hierarchies: each controller (or set of co-mounted controllers) has its own tree.
    V1 { hierarchies: Vec<V1Hierarchy> },
    /// One v2 tree holding every controller.
    V2 { root: PathBuf },
    /// v1 hierarchies for the controllers, plus a v2 tree (usually `/sys/fs/cgroup/unified`)
    /// that only tracks processes, as systemd's "hybrid" mode sets up.
    Hybrid {
        hierarchies: Vec<V1Hierarchy>,
        unified: PathBuf,
    },
}

/// One mounted v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Hierarchy {
    pub mountpoint: PathBuf,
    /// Its controllers (`cpu`, `cpuacct` when co-mounted), or `name=systemd` for a named one.
    pub controllers: Vec<String>,
}

impl V1Hierarchy {
    /// Whether the hierarchy carries `controller` (`memory`, or `name=systemd`).
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

impl Layout {
    /// The host's layout, from this process's `/proc/self/mountinfo`.
    pub fn detect() -> Result<Self> {
        let text = std::fs::read_to_string(MOUNTINFO).map_err(|source| Error::Read {
            path: MOUNTINFO.into(),
            source,
        })?;
        Self::from_mountinfo(&text).ok_or_else(|| Error::NoHierarchy {
            path: MOUNTINFO.into(),
        })
    }

    /// The layout described by a mountinfo text, `None` when no cgroup hierarchy is mounted
    /// under [`CGROUP_ROOT`].
    ///
    /// Pure v2 when `/sys/fs/cgroup` itself is cgroup2; hybrid when v1 controllers and a cgroup2
    /// mount are both present; v1 when only v1 hierarchies are. A hierarchy mounted twice (a bind
    /// mount) counts once, at its first mountpoint.
    pub fn from_mountinfo(mountinfo: &str) -> Option<Self> {
        let mut hierarchies: Vec<V1Hierarchy> = Vec::new();
        let mut unified: Option<PathBuf> = None;
        for mount in mountinfo.lines().filter_map(CgroupMount::parse) {
            if !mount.mountpoint.starts_with(CGROUP_ROOT) {
                continue;
            }
            match mount.kind {
                MountKind::V2 if mount.mountpoint == Path::new(CGROUP_ROOT) => {
                    return Some(Layout::V2 {
                        root: mount.mountpoint,
                    });
                }
                MountKind::V2 => {
                    unified.get_or_insert(mount.mountpoint);
                }
                MountKind::V1(controllers) => {
                    if !controllers.is_empty()
                        && !hierarchies.iter().any(|h| h.controllers == controllers)
                    {
                        hierarchies.push(V1Hierarchy {
                            mountpoint: mount.mountpoint,
                            controllers,
                        });
                    }
                }
            }
        }
        let has_v1_controller = hierarchies
            .iter()
            .any(|h| h.controllers.iter().any(|c| !c.starts_with("name=")));
        match (has_v1_controller, unified) {
            (true, Some(unified)) => Some(Layout::Hybrid {
                hierarchies,
                unified,
            }),
            (true, None) => Some(Layout::V1 { hierarchies }),
            (false, Some(root)) => Some(Layout::V2 { root }),
            (false, None) => None,
        }
    }

    /// The cgroup version `docker info` reports: 2 only for a pure v2 host.
    pub fn version(&self) -> u32 {
        match self {
            Layout::V2 { .. } => 2,
            Layout::V1 { .. } | Layout::Hybrid { .. } => 1,
        }
    }

    pub(crate) fn v1_hierarchies(&self) -> &[V1Hierarchy] {
        match self {
            Layout::V1 { hierarchies } | Layout::Hybrid { hierarchies, .. } => hierarchies,
            Layout::V2 { .. } => &[],
        }
    }

    /// The v2 tree: the only one on pure v2, the process-tracking one on hybrid.
    pub(crate) fn unified_root(&self) -> Option<&Path> {
        match self {
            Layout::V2 { root } => Some(root),
            Layout::Hybrid { unified, .. } => Some(unified),
            Layout::V1 { .. } => None,
        }
    }
}

enum MountKind {
    V1(Vec<String>),
    V2,
}

struct CgroupMount {
    mountpoint: PathBuf,
    kind: MountKind,
}

impl CgroupMount {
    /// One mountinfo line: `id parent maj:min root mountpoint opts [optional...] - fstype source
    /// superopts`. `None` for anything that is not a cgroup mount.
    fn parse(line: &str) -> Option<Self> {
        let (before, after) = line.split_once(" - ")?;
        let mountpoint = unescape(before.split(' ').nth(4)?);
        let mut after = after.split(' ');
        let fstype = after.next()?;
        let _source = after.next()?;
        let super_options = after.next().unwrap_or("");
        let kind = match fstype {
            "cgroup2" => MountKind::V2,
            "cgroup" => MountKind::V1(
                super_options
                    .split(',')
                    .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                    .map(str::to_owned)
                    .collect(),
            ),
            _ => return None,
        };
        Some(CgroupMount {
            mountpoint: PathBuf::from(mountpoint),
            kind,
        })
    }
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\134` for a backslash, ...).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).filter(|d| {
            bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)) && d[0] <= b'3'
        });
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hierarchy(mountpoint: &str, controllers: &[&str]) -> V1Hierarchy {
        V1Hierarchy {
            mountpoint: mountpoint.into(),
            controllers: controllers.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn pure_v2() {
        let layout = Layout::from_mountinfo(include_str!("../tests/fixtures/mountinfo-v2.txt"));
        assert_eq!(
            layout,
            Some(Layout::V2 {
                root: "/sys/fs/cgroup".into()
            })
        );
        assert_eq!(layout.unwrap().version(), 2);
    }

    #[test]
    fn pure_v1_with_co_mounted_controllers() {
        let layout =
            Layout::from_mountinfo(include_str!("../tests/fixtures/mountinfo-v1.txt")).unwrap();
        let Layout::V1 { hierarchies } = &layout else {
            panic!("expected v1, got {layout:?}");
        };
        assert_eq!(
            hierarchies,
            &[
                hierarchy("/sys/fs/cgroup/systemd", &["name=systemd"]),
                hierarchy("/sys/fs/cgroup/cpu,cpuacct", &["cpu", "cpuacct"]),
                hierarchy("/sys/fs/cgroup/memory", &["memory"]),
                hierarchy("/sys/fs/cgroup/net_cls,net_prio", &["net_cls", "net_prio"]),
                hierarchy("/sys/fs/cgroup/pids", &["pids"]),
                hierarchy("/sys/fs/cgroup/freezer", &["freezer"]),
                hierarchy("/sys/fs/cgroup/cpuset", &["cpuset"]),
            ]
        );
        assert_eq!(layout.version(), 1);
    }

    #[test]
    fn hybrid_like_this_host() {
        let layout =
            Layout::from_mountinfo(include_str!("../tests/fixtures/mountinfo-hybrid.txt")).unwrap();
        let Layout::Hybrid {
            hierarchies,
            unified,
        } = &layout
        else {
            panic!("expected hybrid, got {layout:?}");
        };
        assert_eq!(unified, Path::new("/sys/fs/cgroup/unified"));
        let names: Vec<&str> = hierarchies
            .iter()
            .flat_map(|h| h.controllers.iter().map(String::as_str))
            .collect();
        assert_eq!(
            names,
            [
                "cpu",
                "cpuacct",
                "cpuset",
                "memory",
                "devices",
                "freezer",
                "blkio",
                "pids",
                "name=systemd"
            ]
        );
        assert_eq!(layout.version(), 1);
    }

    #[test]
    fn bind_mounts_and_mounts_elsewhere_are_ignored() {
        let text = "\
30 1 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
31 1 0:26 / /sys/fs/cgroup/memory2 rw - cgroup cgroup rw,memory
32 1 0:27 / /mnt/pids rw - cgroup cgroup rw,pids
";
        assert_eq!(
            Layout::from_mountinfo(text),
            Some(Layout::V1 {
                hierarchies: vec![hierarchy("/sys/fs/cgroup/memory", &["memory"])]
            })
        );
    }

    #[test]
    fn no_cgroup_mounts() {
        let text = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n";
        assert_eq!(Layout::from_mountinfo(text), None);
    }

    #[test]
    fn octal_escapes_are_decoded() {
        assert_eq!(
            unescape(r"/sys/fs/cgroup/a\040b\134c"),
            r"/sys/fs/cgroup/a b\c"
        );
        assert_eq!(unescape(r"trailing\04"), r"trailing\04");
    }
}
