//! The seam between the rootfs logic and the kernel: the handful of operations
//! [`crate::rootfs_setup`] needs. [`crate::linux::LinuxKernel`] makes the real system calls;
//! tests substitute a recording fake, so ordering and fallbacks are checked without root.

use std::io;
use std::path::Path;

use nix::mount::MsFlags;

use crate::devices::Device;
use crate::rootfs_plan::OverlayStep;

/// What a path is, as far as mounting on it is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Dir,
    /// Anything that is not a directory: a bind target for it must be a file.
    NotDir,
}

/// Paths named `target`, `path` or `link` are relative to the *current root*: the host's `/`
/// at first, the rootfs after [`Kernel::enter_rootfs`], the container's `/` after
/// [`Kernel::pivot_root`]. They are resolved inside that root: no `..` or symlink leads out.
/// Bind and mount sources are used as they are (host paths before `pivot_root`).
pub(crate) trait Kernel {
    fn mount(
        &mut self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> io::Result<()>;

    /// Adds `flags` (`MS_RDONLY`, `MS_NOSUID`...) to those of the mount at `target`.
    fn remount(&mut self, target: &Path, flags: MsFlags) -> io::Result<()>;

    fn create_dir_all(&mut self, path: &Path) -> io::Result<()>;

    /// Creates an empty file (and missing parents); an existing node is left alone.
    fn create_file(&mut self, path: &Path) -> io::Result<()>;

    /// Creates the device node (and missing parents).
    fn mknod(&mut self, device: &Device) -> io::Result<()>;

    /// Creates the symlink `link` (and missing parents).
    fn symlink(&mut self, link: &Path, points_to: &Path) -> io::Result<()>;

    fn write_file(&mut self, path: &Path, contents: &[u8]) -> io::Result<()>;

    /// What `path` is, or `None` if it does not exist.
    fn kind(&mut self, path: &Path) -> io::Result<Option<FileKind>>;

    /// What the mount source `path` is (followed as given).
    fn source_kind(&mut self, path: &Path) -> io::Result<FileKind>;

    /// Reads a file by its path as given (`/proc/self/mountinfo` before `pivot_root`).
    fn read_source_file(&mut self, path: &Path) -> io::Result<String>;

    /// Mounts the overlay from inside its layers directory, creating the mount point if needed.
    fn mount_overlay(&mut self, overlay: &OverlayStep) -> io::Result<()>;

    /// Makes `path` (a host path, normally the overlay just mounted) the current root.
    fn enter_rootfs(&mut self, path: &Path) -> io::Result<()>;

    /// Makes the current root the process's `/` and detaches the old one.
    fn pivot_root(&mut self) -> io::Result<()>;
}
