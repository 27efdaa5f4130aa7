//! Runs a [`RootfsPlan`] against a [`Kernel`]: the overlay, the spec's mounts, `/dev`,
//! `pivot_root`, then masked and read-only paths.

use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;

use crate::cgroup_mounts;
use crate::devices::{Device, DeviceKind};
use crate::error::SetupError;
use crate::kernel::{FileKind, Kernel};
use crate::rootfs_plan::{RootfsPlan, Step};

pub(crate) fn run(kernel: &mut impl Kernel, plan: &RootfsPlan) -> Result<(), SetupError> {
    kernel
        .mount(None, Path::new(""), None, plan.root_propagation, None)
        .map_err(|e| SetupError::sys("make / private", e))?;
    let overlay = &plan.overlay;
    kernel
        .mount_overlay(overlay)
        .map_err(|e| SetupError::path("mount overlay on", &overlay.target, e))?;
    kernel
        .enter_rootfs(&overlay.target)
        .map_err(|e| SetupError::path("open", &overlay.target, e))?;
    run_steps(kernel, &plan.before_pivot)?;
    kernel
        .pivot_root()
        .map_err(|e| SetupError::sys("pivot_root", e))?;
    run_steps(kernel, &plan.after_pivot)
}

fn run_steps(kernel: &mut impl Kernel, steps: &[Step]) -> Result<(), SetupError> {
    steps.iter().try_for_each(|step| run_step(kernel, step))
}

fn run_step(kernel: &mut impl Kernel, step: &Step) -> Result<(), SetupError> {
    match step {
        Step::Filesystem {
            target,
            fstype,
            source,
            flags,
            data,
        } => {
            kernel.create_dir_all(target).map_err(at("mkdir", target))?;
            kernel
                .mount(
                    Some(Path::new(source)),
                    target,
                    Some(fstype),
                    *flags,
                    data.as_deref(),
                )
                .map_err(at("mount", target))
        }
        Step::Bind {
            source,
            target,
            recursive,
            flags,
        } => {
            let kind = kernel
                .source_kind(source)
                .map_err(|e| SetupError::path("stat", source, e))?;
            match kind {
                FileKind::Dir => kernel.create_dir_all(target),
                FileKind::NotDir => kernel.create_file(target),
            }
            .map_err(at("create mount point", target))?;
            let rec = if *recursive {
                MsFlags::MS_REC
            } else {
                MsFlags::empty()
            };
            kernel
                .mount(Some(source), target, None, MsFlags::MS_BIND | rec, None)
                .map_err(at("bind mount", target))?;
            if !flags.is_empty() {
                kernel
                    .remount(target, *flags)
                    .map_err(at("remount", target))?;
            }
            Ok(())
        }
        Step::Remount { target, flags } => kernel
            .remount(target, *flags)
            .map_err(at("remount", target)),
        Step::Propagation { target, flags } => kernel
            .mount(None, target, None, *flags, None)
            .map_err(at("set propagation of", target)),
        Step::Cgroups {
            target,
            flags,
            private_namespace,
        } => {
            let mut read = |path: &str| {
                kernel
                    .read_source_file(Path::new(path))
                    .map_err(|e| SetupError::path("read", path, e))
            };
            let mountinfo = read("/proc/self/mountinfo")?;
            let own = read("/proc/self/cgroup")?;
            let steps = cgroup_mounts::plan(
                target,
                *flags,
                *private_namespace,
                &cgroup_mounts::host_hierarchies(&mountinfo),
                &cgroup_mounts::own_cgroups(&own),
            );
            run_steps(kernel, &steps)
        }
        Step::Device(device) => create_device(kernel, device),
        Step::Symlink { link, points_to } => match kernel.symlink(link, points_to) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            other => other.map_err(at("symlink", link)),
        },
        Step::Dir(path) => kernel.create_dir_all(path).map_err(at("mkdir", path)),
        Step::WriteFile { path, contents } => kernel
            .write_file(path, contents.as_bytes())
            .map_err(at("write", path)),
        Step::Mask(path) => match kernel.kind(path).map_err(at("stat", path))? {
            None => Ok(()),
            Some(FileKind::Dir) => kernel
                .mount(
                    Some(Path::new("tmpfs")),
                    path,
                    Some("tmpfs"),
                    MsFlags::MS_RDONLY,
                    None,
                )
                .map_err(at("mask", path)),
            Some(FileKind::NotDir) => kernel
                .mount(
                    Some(Path::new("/dev/null")),
                    path,
                    None,
                    MsFlags::MS_BIND,
                    None,
                )
                .map_err(at("mask", path)),
        },
        Step::ReadOnly(path) => {
            if kernel.kind(path).map_err(at("stat", path))?.is_none() {
                return Ok(());
            }
            let source = absolute(path);
            kernel
                .mount(
                    Some(&source),
                    path,
                    None,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None,
                )
                .map_err(at("bind mount", path))?;
            kernel
                .remount(path, MsFlags::MS_RDONLY)
                .map_err(at("remount", path))
        }
        Step::ReadOnlyRoot => kernel
            .remount(Path::new(""), MsFlags::MS_RDONLY)
            .map_err(at("remount read-only", Path::new(""))),
    }
}

/// `mknod`, or where that is not allowed (no `CAP_MKNOD`), a bind of the host's node.
fn create_device(kernel: &mut impl Kernel, device: &Device) -> Result<(), SetupError> {
    let path = &device.path;
    match kernel.mknod(device) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
        Err(e) if is_denied(&e) && device.kind != DeviceKind::Fifo => {
            kernel.create_file(path).map_err(at("create", path))?;
            kernel
                .mount(Some(&absolute(path)), path, None, MsFlags::MS_BIND, None)
                .map_err(at("bind device", path))
        }
        Err(e) => Err(at("mknod", path)(e)),
    }
}

fn is_denied(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error().map(Errno::from_raw),
        Some(Errno::EPERM | Errno::EACCES)
    )
}

/// A path relative to the current root, as the container will see it.
fn absolute(path: &Path) -> PathBuf {
    Path::new("/").join(path)
}

fn at(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> SetupError {
    let path = absolute(path);
    move |e| SetupError::path(op, path, e)
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::rootfs_plan::OverlayStep;

    /// Records every call as a line; fails the operations it was told to fail.
    #[derive(Default)]
    struct FakeKernel {
        calls: Vec<String>,
        deny_mknod: bool,
        existing: HashMap<PathBuf, FileKind>,
        source_dirs: HashSet<PathBuf>,
        files: HashMap<PathBuf, String>,
    }

    fn names(flags: MsFlags) -> String {
        let names: Vec<&str> = flags.iter_names().map(|(name, _)| name).collect();
        if names.is_empty() {
            "-".into()
        } else {
            names.join("|")
        }
    }

    impl FakeKernel {
        fn log(&mut self, line: String) -> io::Result<()> {
            self.calls.push(line);
            Ok(())
        }
    }

    impl Kernel for FakeKernel {
        fn mount(
            &mut self,
            source: Option<&Path>,
            target: &Path,
            fstype: Option<&str>,
            flags: MsFlags,
            data: Option<&str>,
        ) -> io::Result<()> {
            let source = source
                .map(|s| s.display().to_string())
                .unwrap_or("-".into());
            self.log(format!(
                "mount {source} /{} {} {} {}",
                target.display(),
                fstype.unwrap_or("-"),
                names(flags),
                data.unwrap_or("-")
            ))
        }
        fn remount(&mut self, target: &Path, flags: MsFlags) -> io::Result<()> {
            self.log(format!("remount /{} {}", target.display(), names(flags)))
        }
        fn create_dir_all(&mut self, path: &Path) -> io::Result<()> {
            self.log(format!("mkdir /{}", path.display()))
        }
        fn create_file(&mut self, path: &Path) -> io::Result<()> {
            self.log(format!("touch /{}", path.display()))
        }
        fn mknod(&mut self, device: &Device) -> io::Result<()> {
            if self.deny_mknod {
                return Err(io::Error::from_raw_os_error(libc::EPERM));
            }
            self.log(format!("mknod /{}", device.path.display()))
        }
        fn symlink(&mut self, link: &Path, points_to: &Path) -> io::Result<()> {
            self.log(format!(
                "symlink /{} -> {}",
                link.display(),
                points_to.display()
            ))
        }
        fn write_file(&mut self, path: &Path, contents: &[u8]) -> io::Result<()> {
            let text = String::from_utf8_lossy(contents);
            self.log(format!("write /{} {text}", path.display()))
        }
        fn kind(&mut self, path: &Path) -> io::Result<Option<FileKind>> {
            Ok(self.existing.get(path).copied())
        }
        fn source_kind(&mut self, path: &Path) -> io::Result<FileKind> {
            Ok(if self.source_dirs.contains(path) {
                FileKind::Dir
            } else {
                FileKind::NotDir
            })
        }
        fn read_source_file(&mut self, path: &Path) -> io::Result<String> {
            self.files
                .get(path)
                .cloned()
                .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))
        }
        fn mount_overlay(&mut self, overlay: &OverlayStep) -> io::Result<()> {
            self.log(format!(
                "overlay {} {} {}",
                overlay.layers_root.display(),
                overlay.target.display(),
                overlay.data
            ))
        }
        fn enter_rootfs(&mut self, path: &Path) -> io::Result<()> {
            self.log(format!("enter {}", path.display()))
        }
        fn pivot_root(&mut self) -> io::Result<()> {
            self.log("pivot_root".into())
        }
    }

    fn plan(before_pivot: Vec<Step>, after_pivot: Vec<Step>) -> RootfsPlan {
        RootfsPlan {
            root_propagation: MsFlags::MS_PRIVATE | MsFlags::MS_REC,
            overlay: OverlayStep {
                layers_root: "/layers".into(),
                target: "/run/c/rootfs".into(),
                data: "lowerdir=l/A,upperdir=/u,workdir=/w".into(),
            },
            before_pivot,
            after_pivot,
        }
    }

    #[test]
    fn overlay_then_mounts_then_pivot_then_paths() {
        let mut kernel = FakeKernel::default();
        kernel
            .existing
            .insert("proc/kcore".into(), FileKind::NotDir);
        kernel.existing.insert("sys/firmware".into(), FileKind::Dir);
        kernel.existing.insert("proc/sys".into(), FileKind::Dir);
        kernel.source_dirs.insert("/host/data".into());
        let plan = plan(
            vec![
                Step::Filesystem {
                    target: "proc".into(),
                    fstype: "proc".into(),
                    source: "proc".into(),
                    flags: MsFlags::empty(),
                    data: None,
                },
                Step::Bind {
                    source: "/host/hostname".into(),
                    target: "etc/hostname".into(),
                    recursive: true,
                    flags: MsFlags::MS_RDONLY,
                },
                Step::Bind {
                    source: "/host/data".into(),
                    target: "data".into(),
                    recursive: false,
                    flags: MsFlags::empty(),
                },
                Step::Propagation {
                    target: "data".into(),
                    flags: MsFlags::MS_PRIVATE,
                },
            ],
            vec![
                Step::ReadOnly("proc/sys".into()),
                Step::ReadOnly("proc/missing".into()),
                Step::Mask("proc/kcore".into()),
                Step::Mask("sys/firmware".into()),
                Step::Mask("proc/missing".into()),
                Step::ReadOnlyRoot,
            ],
        );
        run(&mut kernel, &plan).unwrap();
        assert_eq!(
            kernel.calls,
            [
                "mount - / - MS_REC|MS_PRIVATE -",
                "overlay /layers /run/c/rootfs lowerdir=l/A,upperdir=/u,workdir=/w",
                "enter /run/c/rootfs",
                "mkdir /proc",
                "mount proc /proc proc - -",
                "touch /etc/hostname",
                "mount /host/hostname /etc/hostname - MS_BIND|MS_REC -",
                "remount /etc/hostname MS_RDONLY",
                "mkdir /data",
                "mount /host/data /data - MS_BIND -",
                "mount - /data - MS_PRIVATE -",
                "pivot_root",
                "mount /proc/sys /proc/sys - MS_BIND|MS_REC -",
                "remount /proc/sys MS_RDONLY",
                "mount /dev/null /proc/kcore - MS_BIND -",
                "mount tmpfs /sys/firmware tmpfs MS_RDONLY -",
                "remount / MS_RDONLY",
            ]
        );
    }

    #[test]
    fn devices_fall_back_to_binding_the_host_node() {
        let mut kernel = FakeKernel {
            deny_mknod: true,
            ..Default::default()
        };
        let null = crate::devices::defaults().remove(0);
        run_steps(&mut kernel, &[Step::Device(null)]).unwrap();
        assert_eq!(
            kernel.calls,
            ["touch /dev/null", "mount /dev/null /dev/null - MS_BIND -"]
        );
    }

    #[test]
    fn cgroups_are_planned_from_the_hosts_mountinfo() {
        let mut kernel = FakeKernel::default();
        kernel.files.insert(
            "/proc/self/mountinfo".into(),
            "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n".into(),
        );
        kernel
            .files
            .insert("/proc/self/cgroup".into(), "0::/\n".into());
        let step = Step::Cgroups {
            target: "sys/fs/cgroup".into(),
            flags: MsFlags::MS_RDONLY,
            private_namespace: true,
        };
        run_steps(&mut kernel, &[step]).unwrap();
        assert_eq!(
            kernel.calls,
            [
                "mkdir /sys/fs/cgroup",
                "mount cgroup2 /sys/fs/cgroup cgroup2 MS_RDONLY -"
            ]
        );
    }

    #[test]
    fn errors_name_the_container_path() {
        let mut kernel = FakeKernel::default();
        let step = Step::Cgroups {
            target: "sys/fs/cgroup".into(),
            flags: MsFlags::empty(),
            private_namespace: true,
        };
        let err = run_steps(&mut kernel, &[step]).unwrap_err();
        assert!(
            err.to_string().starts_with("read /proc/self/mountinfo: "),
            "{err}"
        );
    }
}
