//! The layer tars the builder writes itself (COPY, ADD, WORKDIR): entries collected by path,
//! parents before children, and every directory on the way listed with the metadata it has in
//! the image (a directory a layer lists replaces the one below it, so `/tmp` must stay 1777).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::ops::Bound;
use std::path::{Path, PathBuf};

use crate::error::{BuildError, Result};
use crate::tree::{FileData, Kind, Node, Tree};

#[derive(Debug, Clone)]
pub(crate) enum EntryKind<'a> {
    Dir,
    File(FileData<'a>),
    Symlink(PathBuf),
    Fifo,
    Char { major: u32, minor: u32 },
    Block { major: u32, minor: u32 },
}

#[derive(Debug, Clone)]
pub(crate) struct TarEntry<'a> {
    pub(crate) kind: EntryKind<'a>,
    pub(crate) mode: u32,
    pub(crate) uid: u64,
    pub(crate) gid: u64,
    pub(crate) mtime: u64,
    /// Bytes of a regular file.
    pub(crate) size: u64,
}

impl<'a> TarEntry<'a> {
    pub(crate) fn dir(mode: u32, (uid, gid): (u64, u64), mtime: u64) -> Self {
        Self {
            kind: EntryKind::Dir,
            mode,
            uid,
            gid,
            mtime,
            size: 0,
        }
    }

    /// An entry like `node`; `data` is required for a regular file.
    pub(crate) fn like(node: &Node, data: Option<FileData<'a>>) -> Result<Self> {
        let kind = match (&node.kind, data) {
            (Kind::File, Some(data)) => EntryKind::File(data),
            (Kind::File, None) => {
                return Err(BuildError::invalid("a regular file entry needs its data"));
            }
            (Kind::Dir, _) => EntryKind::Dir,
            (Kind::Symlink(target), _) => EntryKind::Symlink(target.clone()),
            (Kind::Fifo, _) => EntryKind::Fifo,
            (Kind::Char { major, minor }, _) => EntryKind::Char {
                major: *major,
                minor: *minor,
            },
            (Kind::Block { major, minor }, _) => EntryKind::Block {
                major: *major,
                minor: *minor,
            },
        };
        Ok(Self {
            kind,
            mode: node.mode,
            uid: node.uid,
            gid: node.gid,
            mtime: node.mtime,
            size: node.size,
        })
    }

    fn is_dir(&self) -> bool {
        matches!(self.kind, EntryKind::Dir)
    }
}

const WHITEOUT_PREFIX: &str = ".wh.";

#[derive(Default)]
pub(crate) struct LayerEntries<'a> {
    entries: BTreeMap<PathBuf, TarEntry<'a>>,
}

impl<'a> LayerEntries<'a> {
    /// Adds (or replaces) an entry. The root itself is never written: its metadata stays.
    /// Its parents must have been added first (see [`Self::ensure_dir`]).
    pub(crate) fn insert(&mut self, path: PathBuf, entry: TarEntry<'a>) -> Result<()> {
        if path.as_os_str().is_empty() {
            return Ok(());
        }
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(WHITEOUT_PREFIX))
        {
            return Err(BuildError::invalid(format!(
                "{}: file names starting with {WHITEOUT_PREFIX} are reserved for layer whiteouts",
                path.display()
            )));
        }
        let replaces_dir = self.entries.get(&path).is_some_and(TarEntry::is_dir);
        if replaces_dir && !entry.is_dir() {
            let below: Vec<PathBuf> = self
                .entries
                .range::<Path, _>((Bound::Excluded(path.as_path()), Bound::Unbounded))
                .take_while(|(p, _)| p.starts_with(&path))
                .map(|(p, _)| p.clone())
                .collect();
            for p in below {
                self.entries.remove(&p);
            }
        }
        self.entries.insert(path, entry);
        Ok(())
    }

    /// Makes `dir` and every directory above it part of the layer: as they are in `tree` when
    /// they exist there, else as `new` makes them.
    pub(crate) fn ensure_dir(
        &mut self,
        tree: &dyn Tree,
        dir: &Path,
        new: &dyn Fn() -> TarEntry<'a>,
    ) -> Result<()> {
        let mut chain: Vec<&Path> = dir.ancestors().collect();
        chain.reverse();
        for path in chain {
            if path.as_os_str().is_empty() {
                continue;
            }
            if let Some(existing) = self.entries.get(path) {
                if existing.is_dir() {
                    continue;
                }
                return Err(not_a_directory(path));
            }
            let entry = match tree.lstat(path)? {
                Some(node) if node.is_dir() => TarEntry::like(&node, None)?,
                Some(_) => return Err(not_a_directory(path)),
                None => new(),
            };
            self.entries.insert(path.to_path_buf(), entry);
        }
        Ok(())
    }

    /// Writes the layer tar to `out` and rewinds it.
    pub(crate) fn write(&self, out: &mut File) -> Result<()> {
        let write_err = |e: io::Error| BuildError::io("write a layer", e);
        let mut builder = tar::Builder::new(BufWriter::new(&mut *out));
        for (path, entry) in &self.entries {
            let mut header = tar::Header::new_gnu();
            header.set_mode(entry.mode);
            header.set_uid(entry.uid);
            header.set_gid(entry.gid);
            header.set_mtime(entry.mtime);
            header.set_size(0);
            let result = match &entry.kind {
                EntryKind::Dir => {
                    header.set_entry_type(tar::EntryType::Directory);
                    builder.append_data(&mut header, path, io::empty())
                }
                EntryKind::File(data) => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(entry.size);
                    let reader = data.open().map_err(|e| {
                        BuildError::io(format!("read {} for a layer", path.display()), e)
                    })?;
                    let exact = ExactReader {
                        inner: reader,
                        remaining: entry.size,
                    };
                    builder.append_data(&mut header, path, exact)
                }
                EntryKind::Symlink(target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    builder.append_link(&mut header, path, target)
                }
                EntryKind::Fifo => {
                    header.set_entry_type(tar::EntryType::Fifo);
                    builder.append_data(&mut header, path, io::empty())
                }
                EntryKind::Char { major, minor } | EntryKind::Block { major, minor } => {
                    header.set_entry_type(if matches!(entry.kind, EntryKind::Char { .. }) {
                        tar::EntryType::Char
                    } else {
                        tar::EntryType::Block
                    });
                    header.set_device_major(*major).map_err(write_err)?;
                    header.set_device_minor(*minor).map_err(write_err)?;
                    builder.append_data(&mut header, path, io::empty())
                }
            };
            result
                .map_err(|e| BuildError::io(format!("write {} to a layer", path.display()), e))?;
        }
        let mut buffered = builder.into_inner().map_err(write_err)?;
        buffered.flush().map_err(write_err)?;
        drop(buffered);
        out.seek(SeekFrom::Start(0)).map_err(write_err)?;
        Ok(())
    }
}

fn not_a_directory(path: &Path) -> BuildError {
    BuildError::invalid(format!("/{} is not a directory", path.display()))
}

/// Exactly `remaining` bytes: a source that ends early (a file that shrank) is an error rather
/// than a corrupt archive.
struct ExactReader<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file changed size while it was copied",
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{e, entries};
    use crate::tree::RootfsTree;

    fn read_back(layer: &LayerEntries<'_>) -> Vec<crate::testing::TarEntry> {
        let mut file = tempfile::tempfile().unwrap();
        layer.write(&mut file).unwrap();
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).unwrap();
        entries(&bytes)
    }

    #[test]
    fn parents_come_first_and_keep_their_metadata() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("tmp")).unwrap();
        std::fs::set_permissions(
            root.path().join("tmp"),
            std::fs::Permissions::from_mode(0o1777),
        )
        .unwrap();
        let tree = RootfsTree::new(root.path());
        let spool = tempfile::tempfile().unwrap();
        std::os::unix::fs::FileExt::write_all_at(&spool, b"data", 0).unwrap();
        let mut layer = LayerEntries::default();
        layer
            .ensure_dir(&tree, Path::new("tmp/new/deep"), &|| {
                TarEntry::dir(0o755, (7, 8), 0)
            })
            .unwrap();
        let file = TarEntry {
            kind: EntryKind::File(FileData::Spool {
                file: &spool,
                offset: 0,
                len: 4,
            }),
            mode: 0o640,
            uid: 1,
            gid: 2,
            mtime: 5,
            size: 4,
        };
        layer.insert("tmp/new/deep/f".into(), file).unwrap();
        let uid = u64::from(owner_of(root.path()));
        let got = read_back(&layer);
        assert_eq!(
            got,
            [
                e("tmp", 'd', 0o1777, uid, got[0].gid, ""),
                e("tmp/new", 'd', 0o755, 7, 8, ""),
                e("tmp/new/deep", 'd', 0o755, 7, 8, ""),
                e("tmp/new/deep/f", 'f', 0o640, 1, 2, "data"),
            ]
        );
    }

    fn owner_of(path: &Path) -> u32 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).unwrap().uid()
    }

    #[test]
    fn whiteout_names_and_files_as_parents_are_refused() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("file"), b"x").unwrap();
        let tree = RootfsTree::new(root.path());
        let mut layer = LayerEntries::default();
        let err = layer
            .ensure_dir(&tree, Path::new("file/sub"), &|| {
                TarEntry::dir(0o755, (0, 0), 0)
            })
            .unwrap_err();
        assert_eq!(err.to_string(), "/file is not a directory");
        let err = layer
            .insert(".wh.x".into(), TarEntry::dir(0o755, (0, 0), 0))
            .unwrap_err();
        assert!(err.to_string().contains("reserved for layer whiteouts"));
        assert!(read_back(&layer).is_empty());
    }
}
