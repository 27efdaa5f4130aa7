use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid, XattrFlags};
use rustix::io::Errno;

use crate::error::{Error, Result};

/// What [`Dir::mknod`] creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    CharDevice { major: u32, minor: u32 },
    BlockDevice { major: u32, minor: u32 },
    Fifo,
}

/// An open directory. Every method takes a single path component (`name`: no `/`, not `..`)
/// and never follows a symlink in that final component, so nothing done through a `Dir` can
/// land outside it.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    /// Only for error messages.
    path: PathBuf,
}

impl AsFd for Dir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Dir {
    pub(crate) fn from_fd(fd: OwnedFd, path: PathBuf) -> Self {
        Self { fd, path }
    }

    /// Opens the directory at `path` (a trusted path, followed normally).
    pub fn open(path: &Path) -> Result<Self> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::open(path, flags, Mode::empty())
            .map_err(|e| Error::new("open", path, e))?;
        Ok(Self::from_fd(fd, path.to_path_buf()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the subdirectory `name`; a symlink there is an error, not followed.
    pub fn open_subdir(&self, name: &OsStr) -> Result<Dir> {
        let name = self.checked("open", name)?;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(self, name, flags, Mode::empty())
            .map_err(|e| self.error("open", name, e))?;
        Ok(Self::from_fd(fd, self.path.join(name)))
    }

    /// Creates the directory `name` with exactly `mode` (the umask does not apply).
    pub fn create_dir(&self, name: &OsStr, mode: u32) -> Result<()> {
        let name = self.checked("mkdir", name)?;
        rustix::fs::mkdirat(self, name, Mode::from_raw_mode(mode & 0o7777))
            .map_err(|e| self.error("mkdir", name, e))?;
        self.set_mode(name, mode)
    }

    /// Creates the regular file `name` (which must not exist) with exactly `mode`, open for
    /// writing.
    pub fn create_file(&self, name: &OsStr, mode: u32) -> Result<File> {
        let name = self.checked("create", name)?;
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mode = Mode::from_raw_mode(mode & 0o7777);
        let fd = rustix::fs::openat(self, name, flags, mode)
            .map_err(|e| self.error("create", name, e))?;
        rustix::fs::fchmod(&fd, mode).map_err(|e| self.error("chmod", name, e))?;
        Ok(File::from(fd))
    }

    /// Creates the symlink `name` pointing at `target` (stored as is, never resolved here).
    pub fn symlink(&self, name: &OsStr, target: &Path) -> Result<()> {
        let name = self.checked("symlink", name)?;
        rustix::fs::symlinkat(target, self, name).map_err(|e| self.error("symlink", name, e))
    }

    /// Creates `name` as a hard link to `src_name` in `src_dir` (a symlink is linked itself).
    pub fn hard_link(&self, name: &OsStr, src_dir: &Dir, src_name: &OsStr) -> Result<()> {
        let name = self.checked("link", name)?;
        let src_name = src_dir.checked("link", src_name)?;
        rustix::fs::linkat(src_dir, src_name, self, name, AtFlags::empty())
            .map_err(|e| self.error("link", name, e))
    }

    /// Creates a device node or fifo with exactly `mode`.
    pub fn mknod(&self, name: &OsStr, kind: NodeKind, mode: u32) -> Result<()> {
        let name = self.checked("mknod", name)?;
        let (file_type, dev) = match kind {
            NodeKind::CharDevice { major, minor } => {
                (FileType::CharacterDevice, rustix::fs::makedev(major, minor))
            }
            NodeKind::BlockDevice { major, minor } => {
                (FileType::BlockDevice, rustix::fs::makedev(major, minor))
            }
            NodeKind::Fifo => (FileType::Fifo, 0),
        };
        rustix::fs::mknodat(
            self,
            name,
            file_type,
            Mode::from_raw_mode(mode & 0o7777),
            dev,
        )
        .map_err(|e| self.error("mknod", name, e))?;
        self.set_mode(name, mode)
    }

    /// The target of the symlink `name`.
    pub fn read_link(&self, name: &OsStr) -> Result<PathBuf> {
        let name = self.checked("readlink", name)?;
        let target = rustix::fs::readlinkat(self, name, Vec::new())
            .map_err(|e| self.error("readlink", name, e))?;
        Ok(PathBuf::from(OsString::from_vec(target.into_bytes())))
    }

    /// The type of `name` (not following a symlink), or `None` if it does not exist.
    pub fn file_type(&self, name: &OsStr) -> Result<Option<FileType>> {
        let name = self.checked("stat", name)?;
        match rustix::fs::statat(self, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(Some(FileType::from_raw_mode(stat.st_mode))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(self.error("stat", name, e)),
        }
    }

    /// Removes `name` and, if it is a directory, everything below it; symlinks are removed,
    /// never followed. Succeeds if `name` does not exist.
    pub fn remove_all(&self, name: &OsStr) -> Result<()> {
        let name = self.checked("remove", name)?;
        let flags = match self.file_type(name)? {
            None => return Ok(()),
            Some(FileType::Directory) => {
                self.open_subdir(name)?.remove_contents()?;
                AtFlags::REMOVEDIR
            }
            Some(_) => AtFlags::empty(),
        };
        rustix::fs::unlinkat(self, name, flags).map_err(|e| self.error("remove", name, e))
    }

    /// Changes the owner of `name` (a symlink itself, not its target). Do this before
    /// [`Dir::set_mode`] and [`Dir::set_xattr`]: the kernel drops setuid bits and file
    /// capabilities on chown.
    pub fn set_owner(&self, name: &OsStr, uid: u32, gid: u32) -> Result<()> {
        let name = self.checked("chown", name)?;
        if uid == u32::MAX || gid == u32::MAX {
            let err = io::Error::new(io::ErrorKind::InvalidInput, "uid/gid -1 is not an owner");
            return Err(self.error("chown", name, err));
        }
        let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
        rustix::fs::chownat(self, name, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| self.error("chown", name, e))
    }

    /// Sets the permission bits (including setuid/setgid/sticky) of `name`, which must not be a
    /// symlink (Linux has no symlink modes).
    pub fn set_mode(&self, name: &OsStr, mode: u32) -> Result<()> {
        let name = self.checked("chmod", name)?;
        let node = self.open_node(name)?;
        rustix::fs::chmodat(
            rustix::fs::CWD,
            proc_fd_path(&node),
            Mode::from_raw_mode(mode & 0o7777),
            AtFlags::empty(),
        )
        .map_err(|e| self.error("chmod", name, e))
    }

    /// Sets the extended attribute `key` on `name` (a symlink itself, not its target).
    pub fn set_xattr(&self, name: &OsStr, key: &str, value: &[u8]) -> Result<()> {
        let name = self.checked("setxattr", name)?;
        let node = self.open_node(name)?;
        rustix::fs::setxattr(proc_fd_path(&node), key, value, XattrFlags::empty())
            .map_err(|e| self.error("setxattr", name, e))
    }

    /// Sets the access and modification times of `name` (a symlink itself) to `mtime`.
    pub fn set_mtime(&self, name: &OsStr, mtime: SystemTime) -> Result<()> {
        let name = self.checked("utimes", name)?;
        let time = timespec(mtime);
        let times = Timestamps {
            last_access: time,
            last_modification: time,
        };
        rustix::fs::utimensat(self, name, &times, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| self.error("utimes", name, e))
    }

    /// Flushes this directory's entries to disk (after creating or renaming something in it).
    pub fn sync(&self) -> Result<()> {
        rustix::fs::fsync(self).map_err(|e| Error::new("fsync", &self.path, e))
    }

    /// Flushes the whole filesystem this directory lives on (`syncfs`), so that everything
    /// written below it is durable before it is published by a rename.
    pub fn sync_filesystem(&self) -> Result<()> {
        rustix::fs::syncfs(self).map_err(|e| Error::new("syncfs", &self.path, e))
    }

    fn remove_contents(&self) -> Result<()> {
        let mut entries =
            rustix::fs::Dir::read_from(self).map_err(|e| Error::new("readdir", &self.path, e))?;
        let mut names = Vec::new();
        while let Some(entry) = entries.read() {
            let entry = entry.map_err(|e| Error::new("readdir", &self.path, e))?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(OsStr::from_bytes(name).to_os_string());
            }
        }
        names.iter().try_for_each(|name| self.remove_all(name))
    }

    /// An `O_PATH` handle on `name` itself, usable through `/proc/self/fd` without following it.
    fn open_node(&self, name: &OsStr) -> Result<OwnedFd> {
        let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        rustix::fs::openat(self, name, flags, Mode::empty())
            .map_err(|e| self.error("open", name, e))
    }

    fn checked<'n>(&self, op: &'static str, name: &'n OsStr) -> Result<&'n OsStr> {
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes == b".." || bytes.contains(&b'/') {
            let err = io::Error::new(io::ErrorKind::InvalidInput, "not a single path component");
            return Err(self.error(op, name, err));
        }
        Ok(name)
    }

    fn error(&self, op: &'static str, name: &OsStr, err: impl Into<io::Error>) -> Error {
        Error::new(op, self.path.join(name), err)
    }
}

/// `/proc/self/fd/<fd>`: a magic link that reaches exactly the inode `fd` refers to.
pub(crate) fn proc_fd_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

fn timespec(time: SystemTime) -> Timespec {
    let (sign, delta) = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => (1, after),
        Err(before) => (-1, before.duration()),
    };
    let secs = i64::try_from(delta.as_secs()).unwrap_or(i64::MAX);
    let nanos = i64::from(delta.subsec_nanos());
    if sign < 0 && nanos > 0 {
        Timespec {
            tv_sec: -secs - 1,
            tv_nsec: 1_000_000_000 - nanos,
        }
    } else {
        Timespec {
            tv_sec: sign * secs,
            tv_nsec: nanos,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    use super::*;

    fn scratch() -> (tempfile::TempDir, Dir) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open(tmp.path()).unwrap();
        (tmp, dir)
    }

    fn os(name: &str) -> &OsStr {
        OsStr::new(name)
    }

    #[test]
    fn names_must_be_single_components() {
        let (_tmp, dir) = scratch();
        for bad in ["", "..", "a/b", "/etc"] {
            let err = dir.create_file(os(bad), 0o644).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
        }
    }

    #[test]
    fn modes_are_exact_whatever_the_umask() {
        let (tmp, dir) = scratch();
        dir.create_file(os("f"), 0o4751).unwrap();
        dir.create_dir(os("d"), 0o1777).unwrap();
        dir.mknod(os("p"), NodeKind::Fifo, 0o666).unwrap();
        let mode = |n: &str| {
            std::fs::symlink_metadata(tmp.path().join(n))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!((mode("f"), mode("d"), mode("p")), (0o4751, 0o1777, 0o666));
        assert_eq!(dir.file_type(os("p")).unwrap(), Some(FileType::Fifo));
        assert_eq!(dir.file_type(os("missing")).unwrap(), None);
    }

    #[test]
    fn create_file_does_not_follow_a_planted_symlink() {
        let (tmp, dir) = scratch();
        let victim = tmp.path().join("victim");
        symlink(&victim, tmp.path().join("link")).unwrap();
        let err = dir.create_file(os("link"), 0o644).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(!victim.exists());
        assert!(err.to_string().contains("/link"), "{err}");
    }

    #[test]
    fn attributes_apply_to_a_symlink_not_its_target() {
        let (tmp, dir) = scratch();
        dir.create_file(os("target"), 0o600).unwrap();
        dir.symlink(os("link"), Path::new("target")).unwrap();
        let old = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        dir.set_mtime(os("link"), old).unwrap();
        assert_eq!(
            std::fs::symlink_metadata(tmp.path().join("link"))
                .unwrap()
                .mtime(),
            1_000_000
        );
        assert_ne!(
            std::fs::metadata(tmp.path().join("target"))
                .unwrap()
                .mtime(),
            1_000_000
        );
        assert!(dir.set_mode(os("link"), 0o777).is_err());
        assert_eq!(
            std::fs::metadata(tmp.path().join("target"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }

    #[test]
    fn xattrs_are_set_on_the_node() {
        let (tmp, dir) = scratch();
        dir.create_file(os("f"), 0o644).unwrap();
        dir.set_xattr(os("f"), "user.berth.test", b"yes").unwrap();
        let mut buf = [0u8; 8];
        let n = rustix::fs::getxattr(tmp.path().join("f"), "user.berth.test", &mut buf).unwrap();
        assert_eq!(&buf[..n], b"yes");
    }

    #[test]
    fn remove_all_removes_links_not_what_they_point_to() {
        let (tmp, dir) = scratch();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep"), b"x").unwrap();
        dir.create_dir(os("tree"), 0o755).unwrap();
        let tree = dir.open_subdir(os("tree")).unwrap();
        tree.symlink(os("out"), outside.path()).unwrap();
        tree.create_dir(os("sub"), 0o500).unwrap();
        tree.open_subdir(os("sub"))
            .unwrap()
            .create_file(os("f"), 0o400)
            .unwrap();
        dir.remove_all(os("tree")).unwrap();
        assert!(!tmp.path().join("tree").exists());
        assert!(outside.path().join("keep").exists());
        dir.remove_all(os("tree")).unwrap();
    }

    #[test]
    fn hard_links_share_the_inode() {
        let (tmp, dir) = scratch();
        dir.create_file(os("a"), 0o644).unwrap();
        dir.hard_link(os("b"), &dir, os("a")).unwrap();
        let ino = |n: &str| std::fs::metadata(tmp.path().join(n)).unwrap().ino();
        assert_eq!(ino("a"), ino("b"));
    }

    #[test]
    fn times_before_the_epoch_round_trip() {
        let t = SystemTime::UNIX_EPOCH - std::time::Duration::from_millis(1500);
        let ts = timespec(t);
        assert_eq!((ts.tv_sec, ts.tv_nsec), (-2, 500_000_000));
    }
}
