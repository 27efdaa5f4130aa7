//! [`Kernel`] for real: paths are resolved inside the current root with `openat2`
//! (`berth_fs::Root`) and mounts target the resulting descriptor through `/proc/self/fd`, so a
//! symlink planted in an image cannot redirect a mount to the host.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

use berth_fs::{Dir, Mode, NodeKind, OFlags, Root};
use nix::mount::{MntFlags, MsFlags};
use nix::sys::statvfs::FsFlags;

use crate::devices::{Device, DeviceKind};
use crate::kernel::{FileKind, Kernel};
use crate::rootfs_plan::OverlayStep;

/// Mode of directories created as mount points and of the missing working directory.
const DIR_MODE: u32 = 0o755;
/// Mode of files created as bind mount points.
const FILE_MODE: u32 = 0o644;

pub(crate) struct LinuxKernel {
    root: Root,
}

impl LinuxKernel {
    /// Starts with the host's `/` as the current root.
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Self {
            root: Root::open(Path::new("/"))?,
        })
    }

    /// `path` opened with `O_PATH` inside the root, and the `/proc/self/fd` name that reaches
    /// exactly it. The file must stay open while the name is used.
    fn pin(&self, path: &Path) -> io::Result<(File, String)> {
        let file = self.root.open_file(path, OFlags::PATH, Mode::empty())?;
        let name = format!("/proc/self/fd/{}", file.as_raw_fd());
        Ok((file, name))
    }

    /// The parent directory of `path` (created if missing) and the final component.
    fn parent_of<'p>(&self, path: &'p Path) -> io::Result<(Dir, &'p OsStr)> {
        let name = path.file_name().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "path has no final component")
        })?;
        let parent = self
            .root
            .create_dir_all(path.parent().unwrap_or(Path::new("")), DIR_MODE)?;
        Ok((parent, name))
    }
}

impl Kernel for LinuxKernel {
    fn mount(
        &mut self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> io::Result<()> {
        let (_pinned, target) = self.pin(target)?;
        nix::mount::mount(source, target.as_str(), fstype, flags, data)?;
        Ok(())
    }

    fn remount(&mut self, target: &Path, flags: MsFlags) -> io::Result<()> {
        let (_pinned, target) = self.pin(target)?;
        // A bind remount replaces the per-mount flags: keep the ones already there.
        let current = mount_flags(nix::sys::statvfs::statvfs(target.as_str())?.flags());
        let flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | current | flags;
        nix::mount::mount(
            None::<&str>,
            target.as_str(),
            None::<&str>,
            flags,
            None::<&str>,
        )?;
        Ok(())
    }

    fn create_dir_all(&mut self, path: &Path) -> io::Result<()> {
        self.root.create_dir_all(path, DIR_MODE)?;
        Ok(())
    }

    fn create_file(&mut self, path: &Path) -> io::Result<()> {
        if self.pin(path).is_ok() {
            return Ok(());
        }
        let (parent, name) = self.parent_of(path)?;
        match parent.create_file(name, FILE_MODE) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            other => other.map(drop).map_err(io::Error::from),
        }
    }

    fn mknod(&mut self, device: &Device) -> io::Result<()> {
        let (parent, name) = self.parent_of(&device.path)?;
        let (major, minor) = (device.major, device.minor);
        let kind = match device.kind {
            DeviceKind::Char => NodeKind::CharDevice { major, minor },
            DeviceKind::Block => NodeKind::BlockDevice { major, minor },
            DeviceKind::Fifo => NodeKind::Fifo,
        };
        parent.mknod(name, kind, device.mode)?;
        if (device.uid, device.gid) != (0, 0) {
            parent.set_owner(name, device.uid, device.gid)?;
        }
        Ok(())
    }

    fn symlink(&mut self, link: &Path, points_to: &Path) -> io::Result<()> {
        let (parent, name) = self.parent_of(link)?;
        parent.symlink(name, points_to)?;
        Ok(())
    }

    fn write_file(&mut self, path: &Path, contents: &[u8]) -> io::Result<()> {
        let mut file = self.root.open_file(path, OFlags::WRONLY, Mode::empty())?;
        file.write_all(contents)
    }

    fn kind(&mut self, path: &Path) -> io::Result<Option<FileKind>> {
        match self.pin(path) {
            Ok((file, _)) => Ok(Some(kind_of(&file.metadata()?))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn source_kind(&mut self, path: &Path) -> io::Result<FileKind> {
        Ok(kind_of(&std::fs::metadata(path)?))
    }

    fn read_source_file(&mut self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn mount_overlay(&mut self, overlay: &OverlayStep) -> io::Result<()> {
        match std::fs::create_dir(&overlay.target) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        // The lower directories are relative to the layers directory.
        rustix::process::chdir(&overlay.layers_root)?;
        nix::mount::mount(
            Some("overlay"),
            &overlay.target,
            Some("overlay"),
            MsFlags::empty(),
            Some(overlay.data.as_str()),
        )?;
        Ok(())
    }

    fn enter_rootfs(&mut self, path: &Path) -> io::Result<()> {
        self.root = Root::open(path)?;
        Ok(())
    }

    fn pivot_root(&mut self) -> io::Result<()> {
        // pivot_root(".", ".") stacks the old root on top of the new one; it is then detached
        // (after making sure the unmount cannot propagate anywhere).
        rustix::process::fchdir(self.root.as_dir())?;
        rustix::process::pivot_root(".", ".")?;
        nix::mount::mount(
            None::<&str>,
            ".",
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        )?;
        nix::mount::umount2(".", MntFlags::MNT_DETACH)?;
        rustix::process::chdir("/")?;
        self.root = Root::open(Path::new("/"))?;
        Ok(())
    }
}

fn kind_of(meta: &std::fs::Metadata) -> FileKind {
    if meta.is_dir() {
        FileKind::Dir
    } else {
        FileKind::NotDir
    }
}

/// The `MS_*` flags that correspond to a mount's `statvfs` flags.
fn mount_flags(current: FsFlags) -> MsFlags {
    [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_SYNCHRONOUS, MsFlags::MS_SYNCHRONOUS),
        (FsFlags::ST_MANDLOCK, MsFlags::MS_MANDLOCK),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ]
    .into_iter()
    .filter(|(st, _)| current.contains(*st))
    .fold(MsFlags::empty(), |acc, (_, ms)| acc | ms)
}
