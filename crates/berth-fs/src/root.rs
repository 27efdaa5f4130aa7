use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::dir::{Dir, proc_fd_path};
use crate::error::{Error, Result};

/// Symlinks `create_dir_all` follows by itself before giving up with `ELOOP` (as the kernel).
const MAX_SYMLINKS: usize = 40;
/// `openat2` is allowed to fail with `EAGAIN` when a rename raced with the lookup.
const OPENAT2_ATTEMPTS: usize = 16;

/// A directory that relative paths are resolved inside, as if it were `/`.
///
/// `..` stops at the root and symlinks (absolute or relative) are followed within it, so no
/// path and no symlink planted under the root can reach anything outside.
#[derive(Debug)]
pub struct Root {
    dir: Dir,
}

impl Root {
    /// Opens `path` (a trusted path, followed normally) as a root.
    pub fn open(path: &Path) -> Result<Self> {
        Dir::open(path).map(|dir| Self { dir })
    }

    /// A directory already opened confined (e.g. through another root) as a root of its own.
    pub fn from_dir(dir: Dir) -> Self {
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The root itself as a [`Dir`].
    pub fn as_dir(&self) -> &Dir {
        &self.dir
    }

    /// Opens `rel` inside the root with `flags` (`O_CLOEXEC` is always added).
    pub fn open_file(&self, rel: &Path, flags: OFlags, mode: Mode) -> Result<File> {
        self.openat2(rel, flags, mode).map(File::from)
    }

    /// Opens the directory `rel` inside the root.
    pub fn open_dir(&self, rel: &Path) -> Result<Dir> {
        let fd = self.openat2(rel, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())?;
        Ok(Dir::from_fd(fd, self.display_path(rel)))
    }

    /// Opens the directory `rel` inside the root, creating it and any missing parents with
    /// `mode`. Symlinks on the way are followed inside the root, dangling ones included: what
    /// they point to is created (as `mkdir -p` does through a symlink).
    pub fn create_dir_all(&self, rel: &Path, mode: u32) -> Result<Dir> {
        let mut symlinks_left = MAX_SYMLINKS;
        self.create_dir_all_counting(rel, mode, &mut symlinks_left)
    }

    fn create_dir_all_counting(
        &self,
        rel: &Path,
        mode: u32,
        symlinks_left: &mut usize,
    ) -> Result<Dir> {
        match self.open_dir(rel) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            other => return other,
        }
        let parent_rel = rel.parent().unwrap_or(Path::new(""));
        let name = match rel.components().next_back() {
            Some(Component::Normal(name)) => name,
            Some(Component::ParentDir) => {
                self.create_dir_all_counting(parent_rel, mode, symlinks_left)?;
                return self.open_dir(rel);
            }
            _ => return Err(Error::new("mkdir", self.display_path(rel), Errno::NOENT)),
        };
        let parent = self.create_dir_all_counting(parent_rel, mode, symlinks_left)?;
        match parent.create_dir(name, mode) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if parent.file_type(name)? == Some(FileType::Symlink) {
                    *symlinks_left = symlinks_left
                        .checked_sub(1)
                        .ok_or_else(|| Error::new("mkdir", self.display_path(rel), Errno::LOOP))?;
                    // Absolute targets are relative to the root: openat2 treats it as `/`.
                    let target = parent_rel.join(parent.read_link(name)?);
                    self.create_dir_all_counting(&target, mode, symlinks_left)?;
                }
            }
            other => other?,
        }
        self.open_dir(rel)
    }

    /// Where `rel` resolves to on the host right now. Prefer the fd-based calls: the answer can
    /// be stale by the time it is used if someone else can write under the root.
    pub fn resolve(&self, rel: &Path) -> Result<PathBuf> {
        let fd = self.openat2(rel, OFlags::PATH, Mode::empty())?;
        rustix::fs::readlink(proc_fd_path(&fd), Vec::new())
            .map(|target| PathBuf::from(OsString::from_vec(target.into_bytes())))
            .map_err(|e| Error::new("resolve", self.display_path(rel), e))
    }

    fn openat2(&self, rel: &Path, flags: OFlags, mode: Mode) -> Result<rustix::fd::OwnedFd> {
        let rel = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        let mut attempt = 0;
        loop {
            match rustix::fs::openat2(&self.dir, rel, flags | OFlags::CLOEXEC, mode, resolve) {
                Err(Errno::AGAIN) if attempt + 1 < OPENAT2_ATTEMPTS => attempt += 1,
                other => return other.map_err(|e| Error::new("open", self.display_path(rel), e)),
            }
        }
    }

    fn display_path(&self, rel: &Path) -> PathBuf {
        self.path().join(rel.strip_prefix("/").unwrap_or(rel))
    }
}

/// Where `rel` resolves to when `root` is treated as `/` (see [`Root::resolve`]).
pub fn resolve_in_root(root: &Path, rel: &Path) -> Result<PathBuf> {
    Root::open(root)?.resolve(rel)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn root_with_traps() -> (tempfile::TempDir, Root) {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("root");
        std::fs::create_dir_all(base.join("etc")).unwrap();
        symlink("/etc", base.join("abs")).unwrap();
        symlink("../../../../..", base.join("up")).unwrap();
        symlink("/proc/self/root", base.join("magic")).unwrap();
        let root = Root::open(&base).unwrap();
        (tmp, root)
    }

    #[test]
    fn symlinks_and_dotdot_stay_inside() {
        let (_tmp, root) = root_with_traps();
        let inside = std::fs::canonicalize(root.path()).unwrap();
        assert_eq!(root.resolve(Path::new("abs")).unwrap(), inside.join("etc"));
        assert_eq!(root.resolve(Path::new("up")).unwrap(), inside);
        assert_eq!(root.resolve(Path::new("../../..")).unwrap(), inside);
        assert_eq!(
            root.resolve(Path::new("/up/etc")).unwrap(),
            inside.join("etc")
        );
        assert_eq!(
            resolve_in_root(root.path(), Path::new("up/abs")).unwrap(),
            inside.join("etc")
        );
    }

    #[test]
    fn absolute_symlink_to_missing_target_is_not_found_not_the_host() {
        let (_tmp, root) = root_with_traps();
        // /etc/passwd exists on the host but not under the root.
        let err = root
            .open_file(Path::new("abs/passwd"), OFlags::RDONLY, Mode::empty())
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("abs/passwd"), "{err}");
    }

    #[test]
    fn magic_links_are_refused() {
        // With the host's / as the root, /proc is reachable; its magic links must still not be
        // followed.
        let host = Root::open(Path::new("/")).unwrap();
        let err = host.open_dir(Path::new("proc/self/root")).unwrap_err();
        assert_eq!(
            err.io_error().raw_os_error(),
            Some(Errno::LOOP.raw_os_error()),
            "{err}"
        );
    }

    #[test]
    fn create_dir_all_follows_symlinks_inside_the_root() {
        let (_tmp, root) = root_with_traps();
        root.create_dir_all(Path::new("abs/new/deeper"), 0o750)
            .unwrap();
        assert!(root.path().join("etc/new/deeper").is_dir());
        root.create_dir_all(Path::new("up/top"), 0o755).unwrap();
        assert!(root.path().join("top").is_dir());
    }

    #[test]
    fn create_dir_all_creates_what_dangling_symlinks_point_to() {
        let (_tmp, root) = root_with_traps();
        symlink("/made/here", root.path().join("dangling")).unwrap();
        symlink("../elsewhere", root.path().join("etc/rel")).unwrap();
        root.create_dir_all(Path::new("dangling/sub"), 0o755)
            .unwrap();
        root.create_dir_all(Path::new("etc/rel/sub"), 0o755)
            .unwrap();
        assert!(root.path().join("made/here/sub").is_dir());
        assert!(root.path().join("elsewhere/sub").is_dir());
        symlink("loop", root.path().join("loop")).unwrap();
        let err = root.create_dir_all(Path::new("loop/x"), 0o755).unwrap_err();
        assert_eq!(
            err.io_error().raw_os_error(),
            Some(Errno::LOOP.raw_os_error()),
            "{err}"
        );
    }
}
