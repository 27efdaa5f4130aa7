//! The container's filesystem as a list of steps. The plan is pure data computed from the spec
//! in the caller, before anything is cloned, so every ordering and option decision is unit
//! tested; [`crate::rootfs_setup`] runs it inside the container's mount namespace.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use berth_shim_proto::OverlayMount;
use nix::mount::MsFlags;
use oci_spec::runtime::{LinuxNamespaceType, Mount, Spec};

use crate::devices::{self, Device};
use crate::error::SpecError;
use crate::mount_options::{self, Bind};
use crate::namespaces::NamespacePlan;

/// One thing done to the container's filesystem. Paths are relative to the current root: the
/// rootfs before `pivot_root`, the container's `/` after. Bind sources are host paths before
/// `pivot_root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Mounts a filesystem (`proc`, `tmpfs`...) on a directory, created if missing.
    Filesystem {
        target: PathBuf,
        fstype: String,
        source: String,
        flags: MsFlags,
        data: Option<String>,
    },
    /// Binds `source` on `target` (created as a file or a directory, like the source), then
    /// remounts it with `flags` if there are any.
    Bind {
        source: PathBuf,
        target: PathBuf,
        recursive: bool,
        flags: MsFlags,
    },
    /// Adds `flags` (`MS_RDONLY`...) to the mount at `target`.
    Remount {
        target: PathBuf,
        flags: MsFlags,
    },
    /// Changes the propagation of the mount at `target`.
    Propagation {
        target: PathBuf,
        flags: MsFlags,
    },
    /// The host's cgroup hierarchies under `target` (see [`crate::cgroup_mounts`]).
    Cgroups {
        target: PathBuf,
        flags: MsFlags,
        private_namespace: bool,
    },
    /// A device node; bound from the host's node of the same path if `mknod` is not allowed.
    Device(Device),
    Symlink {
        link: PathBuf,
        points_to: PathBuf,
    },
    Dir(PathBuf),
    WriteFile {
        path: PathBuf,
        contents: String,
    },
    /// Hides a file (binds `/dev/null` on it) or a directory (read-only empty tmpfs); skipped
    /// if the path does not exist.
    Mask(PathBuf),
    /// Binds a path on itself read-only; skipped if the path does not exist.
    ReadOnly(PathBuf),
    /// Makes the container's `/` read-only.
    ReadOnlyRoot,
}

/// The overlay that becomes the container's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OverlayStep {
    /// The directory the lower layers are relative to; the mounter `chdir`s there.
    pub layers_root: PathBuf,
    /// The host path the overlay is mounted on (`spec.root.path`).
    pub target: PathBuf,
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RootfsPlan {
    /// Applied to `/` first, so nothing the container mounts propagates to the host.
    pub root_propagation: MsFlags,
    pub overlay: OverlayStep,
    pub before_pivot: Vec<Step>,
    pub after_pivot: Vec<Step>,
}

impl RootfsPlan {
    pub(crate) fn new(
        spec: &Spec,
        rootfs: &OverlayMount,
        namespaces: &NamespacePlan,
    ) -> Result<Self, SpecError> {
        let root = spec.root().as_ref().ok_or(SpecError::Missing("root"))?;
        if !root.path().is_absolute() {
            return Err(SpecError::RelativePath(root.path().clone()));
        }
        let linux = spec.linux().as_ref();
        let root_propagation =
            mount_options::root_propagation(linux.and_then(|l| l.rootfs_propagation().as_deref()))
                .map_err(SpecError::Unsupported)?;

        let mounts = spec.mounts().as_deref().unwrap_or_default();
        let private_cgroups = namespaces.creates(LinuxNamespaceType::Cgroup);
        let mut before_pivot = Vec::new();
        for mount in mounts {
            before_pivot.extend(mount_steps(mount, private_cgroups)?);
        }
        let dev_is_bound = before_pivot
            .iter()
            .any(|s| matches!(s, Step::Bind { target, .. } if target == Path::new("dev")));
        let spec_devices = linux
            .and_then(|l| l.devices().as_deref())
            .unwrap_or_default()
            .iter()
            .map(devices::from_spec)
            .collect::<Result<Vec<_>, _>>()?;
        if dev_is_bound {
            before_pivot.extend(spec_devices.into_iter().map(Step::Device));
        } else {
            let has_devpts = before_pivot.iter().any(
                |s| matches!(s, Step::Filesystem { target, fstype, .. } if fstype == "devpts" && target == Path::new("dev/pts")),
            );
            before_pivot.extend(dev_setup(spec_devices, has_devpts));
        }
        if let Some(process) = spec.process() {
            // Docker creates a missing working directory (owned by root, 0755).
            let cwd = in_root_allowing_root(process.cwd())?;
            if !cwd.as_os_str().is_empty() {
                before_pivot.push(Step::Dir(cwd));
            }
        }

        let mut after_pivot = Vec::new();
        let sysctl: BTreeMap<_, _> = linux
            .and_then(|l| l.sysctl().as_ref())
            .map(|m| m.iter().collect())
            .unwrap_or_default();
        for (key, value) in sysctl {
            after_pivot.push(Step::WriteFile {
                path: sysctl_path(key, namespaces)?,
                contents: value.clone(),
            });
        }
        for path in linux
            .and_then(|l| l.readonly_paths().as_deref())
            .unwrap_or_default()
        {
            after_pivot.push(Step::ReadOnly(in_root(Path::new(path))?));
        }
        for path in linux
            .and_then(|l| l.masked_paths().as_deref())
            .unwrap_or_default()
        {
            after_pivot.push(Step::Mask(in_root(Path::new(path))?));
        }
        if root.readonly() == Some(true) {
            after_pivot.push(Step::ReadOnlyRoot);
        }

        Ok(Self {
            root_propagation,
            overlay: OverlayStep {
                layers_root: rootfs.layers_root.clone(),
                target: root.path().clone(),
                data: overlay_data(rootfs)?,
            },
            before_pivot,
            after_pivot,
        })
    }
}

/// The steps for one `spec.mounts` entry.
fn mount_steps(mount: &Mount, private_cgroups: bool) -> Result<Vec<Step>, SpecError> {
    let target = in_root(mount.destination())?;
    let invalid = |reason: String| SpecError::Mount {
        destination: mount.destination().clone(),
        reason,
    };
    let options =
        mount_options::parse(mount.options().as_deref().unwrap_or_default()).map_err(invalid)?;
    let fstype = mount.typ().as_deref().unwrap_or("");
    let bind = match (options.bind, fstype) {
        (Some(bind), _) => Some(bind),
        (None, "bind") => Some(Bind::Plain),
        (None, _) => None,
    };
    let mut steps = Vec::new();
    if let Some(bind) = bind {
        let source = mount
            .source()
            .clone()
            .ok_or_else(|| invalid("a bind mount needs a source".into()))?;
        if !source.is_absolute() {
            return Err(invalid(
                "the source of a bind mount must be an absolute path".into(),
            ));
        }
        steps.push(Step::Bind {
            source,
            target: target.clone(),
            recursive: bind == Bind::Recursive,
            flags: options.flags,
        });
    } else if fstype == "cgroup" {
        steps.push(Step::Cgroups {
            target: target.clone(),
            flags: options.flags,
            private_namespace: private_cgroups,
        });
    } else if fstype.is_empty() {
        return Err(invalid("the mount has no type".into()));
    } else {
        let source = match mount.source() {
            Some(source) => source
                .to_str()
                .ok_or_else(|| invalid("the source is not UTF-8".into()))?
                .to_string(),
            None => fstype.to_string(),
        };
        steps.push(Step::Filesystem {
            target: target.clone(),
            fstype: fstype.to_string(),
            source,
            flags: options.flags,
            data: options.data,
        });
    }
    if let Some(flags) = options.propagation {
        steps.push(Step::Propagation { target, flags });
    }
    Ok(steps)
}

/// Device nodes and the conventional `/dev` symlinks, for a `/dev` that is not the host's.
/// With a devpts of its own, `/dev/ptmx` is its multiplexer (a link to `pts/ptmx`), as in runc,
/// even when the spec lists the host's node (a privileged container lists every host device).
fn dev_setup(mut spec_devices: Vec<Device>, has_devpts: bool) -> Vec<Step> {
    if has_devpts {
        spec_devices.retain(|d| d.path != Path::new("dev/ptmx"));
    }
    let mut steps: Vec<Step> = devices::merge(spec_devices)
        .into_iter()
        .map(Step::Device)
        .collect();
    let links = [
        ("dev/fd", "/proc/self/fd"),
        ("dev/stdin", "/proc/self/fd/0"),
        ("dev/stdout", "/proc/self/fd/1"),
        ("dev/stderr", "/proc/self/fd/2"),
        ("dev/core", "/proc/kcore"),
    ];
    steps.extend(links.into_iter().map(|(link, points_to)| Step::Symlink {
        link: link.into(),
        points_to: points_to.into(),
    }));
    if has_devpts {
        steps.push(Step::Symlink {
            link: "dev/ptmx".into(),
            points_to: "pts/ptmx".into(),
        });
    }
    steps
}

/// `lowerdir=a:b,upperdir=...,workdir=...` with `\`, `,` and `:` escaped in every path.
fn overlay_data(rootfs: &OverlayMount) -> Result<String, SpecError> {
    if rootfs.lowerdirs.is_empty() {
        return Err(SpecError::Missing("an overlay lower directory"));
    }
    let escape = |path: &Path| -> Result<String, SpecError> {
        let text = path.to_str().ok_or(SpecError::Unsupported(format!(
            "overlay path {} that is not UTF-8",
            path.display()
        )))?;
        if text.contains('\0') {
            return Err(SpecError::NulByte {
                what: "an overlay path",
            });
        }
        Ok(text
            .chars()
            .fold(String::with_capacity(text.len()), |mut out, c| {
                if matches!(c, '\\' | ',' | ':') {
                    out.push('\\');
                }
                out.push(c);
                out
            }))
    };
    let lower = rootfs
        .lowerdirs
        .iter()
        .map(|p| escape(p))
        .collect::<Result<Vec<_>, _>>()?
        .join(":");
    let data = format!(
        "lowerdir={lower},upperdir={},workdir={}",
        escape(&rootfs.upperdir)?,
        escape(&rootfs.workdir)?
    );
    let max = rustix::param::page_size() - 1;
    if data.len() > max {
        return Err(SpecError::OverlayOptionsTooLong {
            len: data.len(),
            max,
        });
    }
    Ok(data)
}

/// The System V IPC sysctls, which the IPC namespace isolates (with `fs.mqueue.*`).
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// The file of a sysctl the container may set: one its own namespaces isolate (`net.*` its
/// network namespace, the IPC ones its IPC namespace), so setting it leaves the host's alone.
/// `net.ipv4.ip_forward` -> `proc/sys/net/ipv4/ip_forward`; a key written with `/` keeps its
/// dots (`net/ipv4/conf/eth0.100/forwarding`, an interface name with a dot).
fn sysctl_path(key: &str, namespaces: &NamespacePlan) -> Result<PathBuf, SpecError> {
    let refuse = |reason| SpecError::Sysctl {
        key: key.to_string(),
        reason,
    };
    let (path, dotted) = if key.contains('/') {
        (key.to_string(), key.replace('/', "."))
    } else {
        (key.replace('.', "/"), key.to_string())
    };
    if path
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(refuse("is not a valid sysctl name"));
    }
    let namespace = if dotted.starts_with("net.") {
        LinuxNamespaceType::Network
    } else if IPC_SYSCTLS.contains(&dotted.as_str()) || dotted.starts_with("fs.mqueue.") {
        LinuxNamespaceType::Ipc
    } else {
        return Err(refuse("is not in a separate kernel namespace"));
    };
    if !namespaces.has_own(namespace) {
        return Err(refuse(match namespace {
            LinuxNamespaceType::Network => "needs a network namespace of the container's own",
            _ => "needs an IPC namespace of the container's own",
        }));
    }
    Ok(Path::new("proc/sys").join(path))
}

/// An absolute container path made relative to the container's root, with `.` and `..`
/// resolved lexically (`..` stops at the root). The root itself is refused.
pub(crate) fn in_root(path: &Path) -> Result<PathBuf, SpecError> {
    let rel = in_root_allowing_root(path)?;
    if rel.as_os_str().is_empty() {
        return Err(SpecError::Mount {
            destination: path.to_path_buf(),
            reason: "the container's / cannot be the target".into(),
        });
    }
    Ok(rel)
}

fn in_root_allowing_root(path: &Path) -> Result<PathBuf, SpecError> {
    if !path.is_absolute() {
        return Err(SpecError::RelativePath(path.to_path_buf()));
    }
    let mut rel = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => rel.push(part),
            Component::ParentDir => {
                rel.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok(rel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxBuilder, LinuxDeviceBuilder, LinuxDeviceType, LinuxNamespaceBuilder, MountBuilder,
        RootBuilder,
    };

    fn overlay() -> OverlayMount {
        OverlayMount {
            layers_root: "/var/lib/berth/layers".into(),
            lowerdirs: vec!["l/B".into(), "l/A".into()],
            upperdir: "/var/lib/berth/containers/c/upper".into(),
            workdir: "/var/lib/berth/containers/c/work".into(),
        }
    }

    fn spec_with_root() -> Spec {
        let mut spec = Spec::default();
        spec.set_root(Some(
            RootBuilder::default()
                .path("/run/berth/c/rootfs")
                .readonly(false)
                .build()
                .unwrap(),
        ));
        spec
    }

    fn plan(spec: &Spec) -> Result<RootfsPlan, SpecError> {
        let namespaces = NamespacePlan::new(spec)?;
        RootfsPlan::new(spec, &overlay(), &namespaces)
    }

    fn targets(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match s {
                Step::Filesystem { target, fstype, .. } => format!("{fstype} {}", target.display()),
                Step::Bind { source, target, .. } => {
                    format!("bind {} {}", source.display(), target.display())
                }
                Step::Remount { target, .. } => format!("remount {}", target.display()),
                Step::Propagation { target, .. } => format!("propagation {}", target.display()),
                Step::Cgroups { target, .. } => format!("cgroups {}", target.display()),
                Step::Device(d) => format!("device {}", d.path.display()),
                Step::Symlink { link, .. } => format!("symlink {}", link.display()),
                Step::Dir(p) => format!("dir {}", p.display()),
                Step::WriteFile { path, .. } => format!("write {}", path.display()),
                Step::Mask(p) => format!("mask {}", p.display()),
                Step::ReadOnly(p) => format!("readonly {}", p.display()),
                Step::ReadOnlyRoot => "readonly-root".into(),
            })
            .collect()
    }

    #[test]
    fn default_spec_mounts_in_order_then_dev_then_cwd() {
        let plan = plan(&spec_with_root()).unwrap();
        assert_eq!(plan.root_propagation, MsFlags::MS_PRIVATE | MsFlags::MS_REC);
        assert_eq!(
            targets(&plan.before_pivot),
            [
                "proc proc",
                "tmpfs dev",
                "devpts dev/pts",
                "tmpfs dev/shm",
                "mqueue dev/mqueue",
                "sysfs sys",
                "cgroups sys/fs/cgroup",
                "device dev/null",
                "device dev/zero",
                "device dev/full",
                "device dev/random",
                "device dev/urandom",
                "device dev/tty",
                "symlink dev/fd",
                "symlink dev/stdin",
                "symlink dev/stdout",
                "symlink dev/stderr",
                "symlink dev/core",
                "symlink dev/ptmx",
            ]
        );
        let Step::Filesystem { flags, data, .. } = &plan.before_pivot[1] else {
            panic!("tmpfs /dev")
        };
        assert_eq!(*flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(data.as_deref(), Some("mode=755,size=65536k"));
        let Step::Filesystem { flags, .. } = &plan.before_pivot[5] else {
            panic!("sysfs")
        };
        assert!(flags.contains(MsFlags::MS_RDONLY));
        assert_eq!(
            plan.before_pivot[6],
            Step::Cgroups {
                target: "sys/fs/cgroup".into(),
                flags: MsFlags::MS_NOSUID
                    | MsFlags::MS_NOEXEC
                    | MsFlags::MS_NODEV
                    | MsFlags::MS_RELATIME
                    | MsFlags::MS_RDONLY,
                private_namespace: true,
            }
        );
    }

    #[test]
    fn readonly_then_masked_paths_then_readonly_root_after_pivot() {
        let mut spec = spec_with_root();
        spec.root_mut().as_mut().unwrap().set_readonly(Some(true));
        let linux = spec.linux_mut().as_mut().unwrap();
        linux.set_sysctl(Some(
            [("net.ipv4.ip_forward".to_string(), "1".to_string())].into(),
        ));
        linux.set_readonly_paths(Some(vec!["/proc/sys".into()]));
        linux.set_masked_paths(Some(vec!["/proc/kcore".into(), "/sys/firmware".into()]));
        let plan = plan(&spec).unwrap();
        assert_eq!(
            targets(&plan.after_pivot),
            [
                "write proc/sys/net/ipv4/ip_forward",
                "readonly proc/sys",
                "mask proc/kcore",
                "mask sys/firmware",
                "readonly-root"
            ]
        );
    }

    #[test]
    fn docker_style_bind_mounts_keep_options_and_propagation() {
        let mut spec = spec_with_root();
        let hosts = MountBuilder::default()
            .destination("/etc/hosts")
            .typ("bind")
            .source("/var/lib/berth/containers/c/hosts")
            .options(vec![
                "rbind".into(),
                "ro".into(),
                "nosuid".into(),
                "rprivate".into(),
            ])
            .build()
            .unwrap();
        spec.set_mounts(Some(vec![hosts]));
        spec.process_mut()
            .as_mut()
            .unwrap()
            .set_cwd("/work/../app".into());
        let plan = plan(&spec).unwrap();
        assert_eq!(
            plan.before_pivot[..2],
            [
                Step::Bind {
                    source: "/var/lib/berth/containers/c/hosts".into(),
                    target: "etc/hosts".into(),
                    recursive: true,
                    flags: MsFlags::MS_RDONLY | MsFlags::MS_NOSUID,
                },
                Step::Propagation {
                    target: "etc/hosts".into(),
                    flags: MsFlags::MS_PRIVATE | MsFlags::MS_REC,
                },
            ]
        );
        // No /dev mount of its own and no devpts: devices still, no /dev/ptmx link.
        assert!(!targets(&plan.before_pivot).contains(&"symlink dev/ptmx".to_string()));
        assert!(targets(&plan.before_pivot).contains(&"device dev/null".to_string()));
        assert_eq!(
            plan.before_pivot.last(),
            Some(&Step::Dir("app".into())),
            "the cwd, last"
        );
    }

    #[test]
    fn a_host_dev_bind_gets_no_default_devices() {
        let mut spec = spec_with_root();
        let dev = MountBuilder::default()
            .destination("/dev")
            .typ("bind")
            .source("/dev")
            .options(vec!["rbind".into()])
            .build()
            .unwrap();
        spec.set_mounts(Some(vec![dev]));
        assert_eq!(
            targets(&plan(&spec).unwrap().before_pivot),
            ["bind /dev dev"]
        );
    }

    #[test]
    fn only_sysctls_the_containers_namespaces_isolate_are_set() {
        let with = |key: &str, namespaces: Vec<LinuxNamespaceType>| {
            let mut spec = spec_with_root();
            let linux = spec.linux_mut().as_mut().unwrap();
            linux.set_sysctl(Some([(key.to_string(), "1".to_string())].into()));
            let namespaces = namespaces
                .into_iter()
                .map(|typ| LinuxNamespaceBuilder::default().typ(typ).build().unwrap())
                .collect();
            linux.set_namespaces(Some(namespaces));
            spec.set_hostname(None);
            plan(&spec).map(|p| match &p.after_pivot[0] {
                Step::WriteFile { path, .. } => path.clone(),
                other => panic!("{other:?}"),
            })
        };
        use LinuxNamespaceType::{Ipc, Mount, Network};
        let all = || vec![Mount, Network, Ipc];
        for (key, path) in [
            ("net.ipv4.ip_forward", "proc/sys/net/ipv4/ip_forward"),
            (
                "net/ipv4/conf/eth0.100/forwarding",
                "proc/sys/net/ipv4/conf/eth0.100/forwarding",
            ),
            ("kernel.shmmax", "proc/sys/kernel/shmmax"),
            ("kernel.sem", "proc/sys/kernel/sem"),
            ("fs.mqueue.msg_max", "proc/sys/fs/mqueue/msg_max"),
        ] {
            assert_eq!(with(key, all()), Ok(PathBuf::from(path)), "{key}");
        }
        for key in [
            "kernel.hostname",
            "vm.swappiness",
            "kernel.shm_next",
            "net..x",
            "net/../x",
        ] {
            assert!(
                matches!(with(key, all()), Err(SpecError::Sysctl { .. })),
                "{key}"
            );
        }
        let err = with("net.ipv4.ip_forward", vec![Mount, Ipc]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "sysctl \"net.ipv4.ip_forward\" needs a network namespace of the container's own"
        );
        assert!(with("kernel.msgmax", vec![Mount, Network]).is_err());
    }

    #[test]
    fn every_host_device_becomes_a_node_but_ptmx_stays_the_containers() {
        let mut spec = spec_with_root();
        let device = |path: &str, typ, major, minor| {
            LinuxDeviceBuilder::default()
                .path(path)
                .typ(typ)
                .major(major)
                .minor(minor)
                .build()
                .unwrap()
        };
        spec.linux_mut().as_mut().unwrap().set_devices(Some(vec![
            device("/dev/ptmx", LinuxDeviceType::C, 5, 2),
            device("/dev/sda", LinuxDeviceType::B, 8, 0),
            device("/dev/dri/card0", LinuxDeviceType::C, 226, 0),
            device("/dev/null", LinuxDeviceType::C, 1, 3),
        ]));
        let targets = targets(&plan(&spec).unwrap().before_pivot);
        for step in ["device dev/sda", "device dev/dri/card0", "symlink dev/ptmx"] {
            assert!(targets.iter().any(|t| t == step), "{step}: {targets:?}");
        }
        assert!(
            !targets.iter().any(|t| t == "device dev/ptmx"),
            "{targets:?}"
        );
        assert_eq!(
            targets.iter().filter(|t| *t == "device dev/null").count(),
            1
        );
    }

    #[test]
    fn destinations_are_cleaned_and_must_be_absolute() {
        assert_eq!(
            in_root(Path::new("/a/./b/../../../etc")).unwrap(),
            Path::new("etc")
        );
        assert!(matches!(
            in_root(Path::new("etc")),
            Err(SpecError::RelativePath(_))
        ));
        assert!(matches!(
            in_root(Path::new("/..")),
            Err(SpecError::Mount { .. })
        ));
    }

    #[test]
    fn overlay_options_are_escaped_and_bounded() {
        let mut rootfs = overlay();
        assert_eq!(
            overlay_data(&rootfs).unwrap(),
            "lowerdir=l/B:l/A,upperdir=/var/lib/berth/containers/c/upper,\
             workdir=/var/lib/berth/containers/c/work"
        );
        rootfs.lowerdirs = vec!["a:b,c\\d".into()];
        assert!(
            overlay_data(&rootfs)
                .unwrap()
                .starts_with(r"lowerdir=a\:b\,c\\d,")
        );
        rootfs.lowerdirs = vec![PathBuf::from("x".repeat(5000))];
        assert!(matches!(
            overlay_data(&rootfs),
            Err(SpecError::OverlayOptionsTooLong { .. })
        ));
        rootfs.lowerdirs.clear();
        assert!(overlay_data(&rootfs).is_err());
    }

    #[test]
    fn bad_mounts_are_refused_before_anything_runs() {
        let mut spec = spec_with_root();
        let no_source = MountBuilder::default()
            .destination("/data")
            .typ("bind")
            .build()
            .unwrap();
        spec.set_mounts(Some(vec![no_source]));
        assert!(matches!(plan(&spec), Err(SpecError::Mount { .. })));

        let mut spec = spec_with_root();
        spec.set_linux(Some(
            LinuxBuilder::default()
                .sysctl([("../../etc".to_string(), "x".to_string())])
                .namespaces(oci_spec::runtime::get_default_namespaces())
                .build()
                .unwrap(),
        ));
        assert!(plan(&spec).is_err());

        let mut spec = spec_with_root();
        spec.root_mut().as_mut().unwrap().set_path("rootfs".into());
        assert!(matches!(plan(&spec), Err(SpecError::RelativePath(_))));
    }
}
