//! File trees a build reads: the build context and image root filesystems. Paths in them are
//! relative (`""` is the root) and are resolved here, symlink by symlink, so that nothing is
//! ever read from outside the tree: in the context a symlink or `..` that leads out is an error;
//! in an image a symlink is resolved inside the image root, as the container would see it.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::error::{BuildError, Result};

/// How many symlinks one resolution may follow (Linux's limit).
const MAX_SYMLINK_HOPS: usize = 40;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    Symlink(PathBuf),
    Fifo,
    Char { major: u32, minor: u32 },
    Block { major: u32, minor: u32 },
}

/// What `lstat` says about an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    pub(crate) kind: Kind,
    /// Permission bits with setuid, setgid and sticky (`0o7777`).
    pub(crate) mode: u32,
    pub(crate) uid: u64,
    pub(crate) gid: u64,
    /// Seconds since the epoch.
    pub(crate) mtime: u64,
    pub(crate) size: u64,
}

impl Node {
    pub(crate) fn is_dir(&self) -> bool {
        self.kind == Kind::Dir
    }
}

/// Where a regular file's bytes are.
#[derive(Debug, Clone)]
pub(crate) enum FileData<'a> {
    /// A range of a spool file.
    Spool {
        file: &'a File,
        offset: u64,
        len: u64,
    },
    /// A file in a mounted image root (already resolved, never a symlink).
    Path(PathBuf),
}

impl FileData<'_> {
    pub(crate) fn open(&self) -> io::Result<Box<dyn Read + '_>> {
        match self {
            FileData::Spool { file, offset, len } => Ok(Box::new(SpoolReader {
                file,
                offset: *offset,
                remaining: *len,
            })),
            // The image filesystem is a read-only mount and the path was resolved without
            // symlinks; O_NOFOLLOW makes sure the last component still is not one.
            FileData::Path(path) => Ok(Box::new(
                fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(path)?,
            )),
        }
    }
}

/// Reads a range of a file with `pread`, so many readers can share it.
pub(crate) struct SpoolReader<'a> {
    file: &'a File,
    offset: u64,
    remaining: u64,
}

impl Read for SpoolReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.offset)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "spool file is shorter than recorded",
            ));
        }
        self.offset += n as u64;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// What to do with a symlink or `..` that leads above the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escape {
    /// The build context: that is an error.
    Refuse,
    /// An image root: stay at the root, as path resolution in a container does.
    Clamp,
}

pub(crate) trait Tree {
    /// The entry at a resolved path, not following a final symlink.
    fn lstat(&self, path: &Path) -> Result<Option<Node>>;

    /// Everything below a directory, parents before children, names sorted.
    fn walk(&self, dir: &Path) -> Result<Vec<(PathBuf, Node)>>;

    /// The bytes of a regular file.
    fn data(&self, path: &Path) -> Result<FileData<'_>>;

    /// The sha256 of a regular file's bytes, hex.
    fn content_digest(&self, path: &Path) -> Result<String>;

    fn escape(&self) -> Escape;
}

/// A path resolved in a tree: every directory on the way is real, and the final component
/// was followed if it was a symlink and following was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub(crate) path: PathBuf,
    /// `None` when nothing is there (the path is where it would be created).
    pub(crate) node: Option<Node>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResolveError {
    /// A symlink or `..` leads out of a tree that refuses that.
    Escapes,
    TooManyLinks,
    /// A component before the last is not a directory.
    NotADirectory(PathBuf),
    Io(String),
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Escapes => f.write_str("the path leads outside its root"),
            Self::TooManyLinks => f.write_str("too many levels of symbolic links"),
            Self::NotADirectory(p) => write!(f, "/{} is not a directory", p.display()),
            Self::Io(message) => f.write_str(message),
        }
    }
}

impl From<BuildError> for ResolveError {
    fn from(e: BuildError) -> Self {
        Self::Io(e.to_string())
    }
}

/// Resolves `path` (relative or absolute, both taken from the tree's root).
pub(crate) fn resolve(
    tree: &dyn Tree,
    path: &Path,
    follow_last: bool,
) -> std::result::Result<Resolved, ResolveError> {
    let mut pending: VecDeque<OsString> = VecDeque::new();
    push_components(&mut pending, path, false);
    let mut done = PathBuf::new();
    let mut node = Some(root_node(tree)?);
    let mut hops = 0;
    while let Some(part) = pending.pop_front() {
        if node.as_ref().is_some_and(|n| !n.is_dir()) {
            return Err(ResolveError::NotADirectory(done));
        }
        if part == ".." {
            if !done.pop() && tree.escape() == Escape::Refuse {
                return Err(ResolveError::Escapes);
            }
            node = tree.lstat(&done)?;
            continue;
        }
        let candidate = done.join(&part);
        let found = match node {
            // Below a missing directory nothing exists.
            None => None,
            Some(_) => tree.lstat(&candidate)?,
        };
        match found {
            Some(Node {
                kind: Kind::Symlink(target),
                ..
            }) if follow_last || !pending.is_empty() => {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(ResolveError::TooManyLinks);
                }
                if target.is_absolute() {
                    if tree.escape() == Escape::Refuse {
                        return Err(ResolveError::Escapes);
                    }
                    done = PathBuf::new();
                    node = Some(root_node(tree)?);
                }
                push_components(&mut pending, &target, true);
            }
            found => {
                done = candidate;
                node = found;
            }
        }
    }
    Ok(Resolved { path: done, node })
}

fn root_node(tree: &dyn Tree) -> Result<Node, ResolveError> {
    tree.lstat(Path::new(""))?
        .ok_or_else(|| ResolveError::Io("the tree has no root directory".to_owned()))
}

/// Queues the components of `path` (`.` and `/` dropped), in front when `front`.
fn push_components(pending: &mut VecDeque<OsString>, path: &Path, front: bool) {
    let parts: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(p.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect();
    if front {
        for part in parts.into_iter().rev() {
            pending.push_front(part);
        }
    } else {
        pending.extend(parts);
    }
}

/// A mounted image root, read through plain paths that [`resolve`] made free of symlinks.
pub(crate) struct RootfsTree {
    root: PathBuf,
}

impl RootfsTree {
    pub(crate) fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    fn full(&self, path: &Path) -> PathBuf {
        self.root.join(path)
    }

    fn node(&self, path: &Path, meta: &fs::Metadata) -> Result<Node> {
        let ft = meta.file_type();
        let (major, minor) = (dev_major(meta.rdev()), dev_minor(meta.rdev()));
        let kind = if ft.is_dir() {
            Kind::Dir
        } else if ft.is_file() {
            Kind::File
        } else if ft.is_symlink() {
            let full = self.full(path);
            Kind::Symlink(
                fs::read_link(&full)
                    .map_err(|e| BuildError::io(format!("readlink {}", full.display()), e))?,
            )
        } else if ft.is_fifo() {
            Kind::Fifo
        } else if ft.is_char_device() {
            Kind::Char { major, minor }
        } else if ft.is_block_device() {
            Kind::Block { major, minor }
        } else {
            return Err(BuildError::invalid(format!(
                "{}: sockets cannot be copied",
                self.full(path).display()
            )));
        };
        Ok(Node {
            kind,
            mode: meta.mode() & 0o7777,
            uid: u64::from(meta.uid()),
            gid: u64::from(meta.gid()),
            mtime: u64::try_from(meta.mtime()).unwrap_or(0),
            size: if ft.is_file() { meta.size() } else { 0 },
        })
    }

    fn walk_into(&self, dir: &Path, out: &mut Vec<(PathBuf, Node)>) -> Result<()> {
        let full = self.full(dir);
        let read_err = |e| BuildError::io(format!("read directory {}", full.display()), e);
        let mut names: Vec<OsString> = fs::read_dir(&full)
            .map_err(read_err)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()
            .map_err(read_err)?;
        names.sort();
        for name in names {
            let path = dir.join(name);
            let Some(node) = self.lstat(&path)? else {
                continue;
            };
            let is_dir = node.is_dir();
            out.push((path.clone(), node));
            if is_dir {
                self.walk_into(&path, out)?;
            }
        }
        Ok(())
    }
}

impl Tree for RootfsTree {
    fn lstat(&self, path: &Path) -> Result<Option<Node>> {
        let full = self.full(path);
        match fs::symlink_metadata(&full) {
            Ok(meta) => self.node(path, &meta).map(Some),
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    || e.kind() == io::ErrorKind::NotADirectory =>
            {
                Ok(None)
            }
            Err(e) => Err(BuildError::io(format!("lstat {}", full.display()), e)),
        }
    }

    fn walk(&self, dir: &Path) -> Result<Vec<(PathBuf, Node)>> {
        let mut out = Vec::new();
        self.walk_into(dir, &mut out)?;
        Ok(out)
    }

    fn data(&self, path: &Path) -> Result<FileData<'_>> {
        Ok(FileData::Path(self.full(path)))
    }

    fn content_digest(&self, path: &Path) -> Result<String> {
        let full = self.full(path);
        let mut file =
            File::open(&full).map_err(|e| BuildError::io(format!("open {}", full.display()), e))?;
        let mut hasher = Sha256::new();
        io::copy(&mut file, &mut hasher)
            .map_err(|e| BuildError::io(format!("read {}", full.display()), e))?;
        Ok(hex::encode(hasher.finalize()))
    }

    fn escape(&self) -> Escape {
        Escape::Clamp
    }
}

fn dev_major(dev: u64) -> u32 {
    (((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff)) as u32
}

fn dev_minor(dev: u64) -> u32 {
    (((dev >> 12) & 0xffff_ff00) | (dev & 0xff)) as u32
}
