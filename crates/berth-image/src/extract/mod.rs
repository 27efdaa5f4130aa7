//! Unpacking an untrusted layer tar into a directory.
//!
//! Every entry is created through `berth_fs` handles: its parent is resolved with
//! `RESOLVE_IN_ROOT` and the entry itself is made with `*at` calls that never follow its final
//! component, so no earlier entry (a symlink, a hard link) can redirect a later write outside the
//! layer. Paths and link targets are checked lexically first so that a dubious archive is refused
//! with a clear error instead of being silently reinterpreted.

mod entry_path;
mod whiteout;

use std::ffi::OsStr;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use berth_fs::{Dir, FileType, NodeKind, Root};
use tar::EntryType;

use crate::digest::Digest;
use crate::error::{Error, Result};
use whiteout::Whiteout;

/// Ownership, permissions, time and xattrs of one entry.
struct EntryMeta {
    uid: u32,
    gid: u32,
    mode: u32,
    mtime: SystemTime,
    xattrs: Vec<(String, Vec<u8>)>,
}

/// Unpacks the tar stream `tar` (decompressed) of layer `blob` into `root` and returns the
/// number of bytes in regular files. Reads up to the end-of-archive marker only.
pub(crate) fn unpack(tar: &mut impl Read, root: &Root, blob: &Digest) -> Result<u64> {
    unpack_with(tar, root, blob, true)
}

/// Unpacks a plain archive (`docker cp` into a container) with the same confinement as a
/// layer, but `.wh.` names are ordinary files. `label` names the archive in errors.
pub fn unpack_plain(mut tar: impl Read, root: &Root, label: &Digest) -> Result<u64> {
    unpack_with(&mut tar, root, label, false)
}

fn unpack_with(tar: &mut impl Read, root: &Root, blob: &Digest, whiteouts: bool) -> Result<u64> {
    let mut unpacker = Unpacker {
        root,
        blob,
        whiteouts,
        dir_mtimes: Vec::new(),
        unpacked: 0,
    };
    let mut archive = tar::Archive::new(tar);
    let read_error = |e| Error::io(format!("reading layer {blob}"), e);
    for entry in archive.entries().map_err(read_error)? {
        unpacker.entry(&mut entry.map_err(read_error)?)?;
    }
    unpacker.finish()
}

struct Unpacker<'a> {
    root: &'a Root,
    blob: &'a Digest,
    /// Layers turn `.wh.` entries into overlayfs whiteouts; plain archives keep them as files.
    whiteouts: bool,
    /// Set last, deepest first, so creating children does not disturb them.
    dir_mtimes: Vec<(PathBuf, SystemTime)>,
    unpacked: u64,
}

impl Unpacker<'_> {
    fn entry(&mut self, entry: &mut tar::Entry<'_, impl Read>) -> Result<()> {
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            return Ok(());
        }
        let raw = entry.path().map_err(|e| self.read_error(e))?.into_owned();
        let path = entry_path::normalize(&raw).map_err(|reason| self.refuse(&raw, reason))?;
        let meta = self.meta(entry, &path)?;
        let Some(name) = path.file_name() else {
            if !kind.is_dir() {
                return Err(self.refuse(&raw, "only a directory can be the layer root"));
            }
            return self.directory(self.root.as_dir(), OsStr::new("."), &path, &meta);
        };
        let parent = self
            .root
            .create_dir_all(path.parent().unwrap_or(Path::new("")), 0o755)?;
        let whiteout = if self.whiteouts {
            whiteout::classify(name).map_err(|r| self.refuse(&path, r))?
        } else {
            None
        };
        if let Some(whiteout) = whiteout {
            return self.whiteout(&parent, whiteout, &meta);
        }
        if kind.is_dir() {
            return self.directory(&parent, name, &path, &meta);
        }
        parent.remove_all(name)?;
        self.node(entry, &parent, name, &path, &meta)
    }

    fn whiteout(&self, parent: &Dir, whiteout: Whiteout<'_>, meta: &EntryMeta) -> Result<()> {
        match whiteout {
            Whiteout::Opaque => {
                parent.set_xattr(OsStr::new("."), whiteout::OVERLAY_OPAQUE_XATTR, b"y")?;
            }
            Whiteout::Remove(target) => {
                parent.remove_all(target)?;
                parent.mknod(target, NodeKind::CharDevice { major: 0, minor: 0 }, 0)?;
                parent.set_owner(target, meta.uid, meta.gid)?;
            }
            Whiteout::AufsMeta => {}
        }
        Ok(())
    }

    /// Creates (or keeps) a directory; its time is set at the end.
    fn directory(
        &mut self,
        parent: &Dir,
        name: &OsStr,
        path: &Path,
        meta: &EntryMeta,
    ) -> Result<()> {
        if parent.file_type(name)? != Some(FileType::Directory) {
            parent.remove_all(name)?;
            parent.create_dir(name, 0o700)?;
        }
        self.set_attrs(parent, name, meta, EntryType::Directory)?;
        self.dir_mtimes.push((path.to_path_buf(), meta.mtime));
        Ok(())
    }

    /// Creates anything but a directory, where nothing exists now.
    fn node(
        &mut self,
        entry: &mut tar::Entry<'_, impl Read>,
        parent: &Dir,
        name: &OsStr,
        path: &Path,
        meta: &EntryMeta,
    ) -> Result<()> {
        let kind = entry.header().entry_type();
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let mut file = parent.create_file(name, 0o600)?;
                let copied = io::copy(entry, &mut file).map_err(|e| {
                    Error::io(format!("layer {}: entry {}", self.blob, path.display()), e)
                })?;
                self.unpacked += copied;
            }
            EntryType::Symlink => {
                let target = self.link_target(entry, path)?;
                entry_path::check_symlink_target(path, &target)
                    .map_err(|r| self.refuse(path, r))?;
                parent.symlink(name, &target)?;
            }
            EntryType::Link => {
                let raw_target = self.link_target(entry, path)?;
                let target =
                    entry_path::hardlink_target(&raw_target).map_err(|r| self.refuse(path, r))?;
                let (target_dir, target_name) = self.locate(&target)?;
                // The link shares its target's inode, and with it ownership, mode and times.
                return Ok(parent.hard_link(name, &target_dir, target_name)?);
            }
            EntryType::Char | EntryType::Block => {
                let header = entry.header();
                let number = |n: io::Result<Option<u32>>| n.ok().flatten().unwrap_or(0);
                let (major, minor) = (number(header.device_major()), number(header.device_minor()));
                let node = if kind == EntryType::Char {
                    NodeKind::CharDevice { major, minor }
                } else {
                    NodeKind::BlockDevice { major, minor }
                };
                parent.mknod(name, node, meta.mode)?;
            }
            EntryType::Fifo => parent.mknod(name, NodeKind::Fifo, meta.mode)?,
            other => return Err(self.refuse(path, format!("unsupported entry type {other:?}"))),
        }
        self.set_attrs(parent, name, meta, kind)?;
        Ok(parent.set_mtime(name, meta.mtime)?)
    }

    /// Applies the deferred directory times.
    fn finish(self) -> Result<u64> {
        for (path, mtime) in self.dir_mtimes.iter().rev() {
            match self
                .locate(path)
                .and_then(|(dir, name)| Ok(dir.set_mtime(name, *mtime)?))
            {
                Err(Error::Fs(e)) if e.kind() == io::ErrorKind::NotFound => {} // replaced later
                other => other?,
            }
        }
        Ok(self.unpacked)
    }

    /// Owner first (chown clears setuid bits and capabilities), then mode, then xattrs.
    fn set_attrs(&self, dir: &Dir, name: &OsStr, meta: &EntryMeta, kind: EntryType) -> Result<()> {
        dir.set_owner(name, meta.uid, meta.gid)?;
        if kind != EntryType::Symlink {
            dir.set_mode(name, meta.mode)?;
        }
        for (key, value) in &meta.xattrs {
            if key.starts_with(whiteout::OVERLAY_XATTR_PREFIX) {
                tracing::warn!(layer = %self.blob, path = %dir.path().join(name).display(), key, "ignoring overlayfs xattr in layer");
                continue;
            }
            match dir.set_xattr(name, key, value) {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Unsupported | io::ErrorKind::PermissionDenied
                    ) =>
                {
                    tracing::warn!(layer = %self.blob, error = %e, "xattr not supported here, skipped");
                }
                other => other?,
            }
        }
        Ok(())
    }

    /// The directory holding `path` (relative to the root) and its last component; `"."` in the
    /// root itself for the empty path.
    fn locate<'p>(&self, path: &'p Path) -> Result<(Dir, &'p OsStr)> {
        match path.file_name() {
            Some(name) => Ok((
                self.root.open_dir(path.parent().unwrap_or(Path::new("")))?,
                name,
            )),
            None => Ok((self.root.open_dir(Path::new(""))?, OsStr::new("."))),
        }
    }

    fn meta(&self, entry: &mut tar::Entry<'_, impl Read>, path: &Path) -> Result<EntryMeta> {
        let header = entry.header();
        let field = |value: io::Result<u64>| -> Result<u32> {
            let value = value.map_err(|e| self.read_error(e))?;
            u32::try_from(value).map_err(|_| self.refuse(path, "uid, gid or mode out of range"))
        };
        let (uid, gid) = (field(header.uid())?, field(header.gid())?);
        let mode = field(header.mode().map(u64::from))? & 0o7777;
        let mtime = SystemTime::UNIX_EPOCH
            + Duration::from_secs(header.mtime().map_err(|e| self.read_error(e))?);
        let mut xattrs = Vec::new();
        if let Some(extensions) = entry.pax_extensions().map_err(|e| self.read_error(e))? {
            for extension in extensions {
                let extension = extension.map_err(|e| self.read_error(e))?;
                if let Some(key) = extension
                    .key()
                    .ok()
                    .and_then(|k| k.strip_prefix("SCHILY.xattr."))
                {
                    xattrs.push((key.to_owned(), extension.value_bytes().to_vec()));
                }
            }
        }
        Ok(EntryMeta {
            uid,
            gid,
            mode,
            mtime,
            xattrs,
        })
    }

    fn link_target(&self, entry: &tar::Entry<'_, impl Read>, path: &Path) -> Result<PathBuf> {
        match entry.link_name().map_err(|e| self.read_error(e))? {
            Some(target) => Ok(target.into_owned()),
            None => Err(self.refuse(path, "link without a target")),
        }
    }

    fn refuse(&self, path: &Path, reason: impl Into<String>) -> Error {
        Error::LayerEntry {
            blob: self.blob.clone(),
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    fn read_error(&self, e: io::Error) -> Error {
        Error::io(format!("reading layer {}", self.blob), e)
    }
}
