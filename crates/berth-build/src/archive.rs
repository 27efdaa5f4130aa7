//! ADD's unpacking of local archives (tar, optionally gzip, bzip2, xz or zstd compressed):
//! entries keep their modes, owners and times and land below the destination. An archive is
//! untrusted: an entry that would climb out of the destination, or be written through a
//! symlink the archive itself made, is an error.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};

use crate::compression::{self, BLOCK};
use crate::error::{BuildError, Result};
use crate::layer_tar::{EntryKind, LayerEntries, TarEntry};
use crate::tree::{FileData, Tree};

/// Whether a file is a tar archive (compressed or not) that has at least one entry. Anything
/// that fails to decompress is just a file, as in Docker.
pub(crate) fn is_archive(data: &FileData<'_>) -> bool {
    let Ok(reader) = data.open() else {
        return false;
    };
    let Ok(mut reader) = compression::decompress(reader) else {
        return false;
    };
    let mut block = [0u8; BLOCK];
    matches!(compression::read_up_to(&mut reader, &mut block), Ok(BLOCK))
        && compression::is_tar_header(&block)
}

/// Unpacked file contents, appended to one temporary file.
pub(crate) struct Spool<'a> {
    file: &'a File,
    len: u64,
}

impl<'a> Spool<'a> {
    pub(crate) fn new(file: &'a File) -> Self {
        Self { file, len: 0 }
    }

    fn append(&mut self, r: &mut impl Read) -> io::Result<(u64, u64)> {
        let start = self.len;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.file.write_all_at(&buf[..n], self.len)?;
            self.len += n as u64;
        }
        Ok((start, self.len - start))
    }
}

/// Adds the archive's entries below `dest` (already part of the layer).
pub(crate) fn unpack<'a>(
    data: &FileData<'_>,
    name: &str,
    dest: &Path,
    spool: &mut Spool<'a>,
    layer: &mut LayerEntries<'a>,
    dest_tree: &dyn Tree,
    now: u64,
) -> Result<()> {
    let bad = |e: io::Error| BuildError::invalid(format!("unpack {name}: {e}"));
    let reader = compression::decompress(data.open().map_err(bad)?).map_err(bad)?;
    let mut archive = tar::Archive::new(reader);
    let mut symlinks: HashSet<PathBuf> = HashSet::new();
    let mut files: HashMap<PathBuf, TarEntry<'a>> = HashMap::new();
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            continue;
        }
        let raw = entry.path().map_err(bad)?.into_owned();
        let refuse = |reason: &str| {
            BuildError::invalid(format!("unpack {name}: entry {}: {reason}", raw.display()))
        };
        let rel = relative(&raw).ok_or_else(|| refuse("it leads outside the destination"))?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        if rel.ancestors().skip(1).any(|a| symlinks.contains(a)) {
            return Err(refuse("it would be written through a symlink"));
        }
        let header = entry.header();
        let field = |v: io::Result<u64>| v.map_err(|e| refuse(&e.to_string()));
        let mut tar_entry = TarEntry {
            kind: EntryKind::Dir,
            mode: u32::try_from(field(header.mode().map(u64::from))? & 0o7777).unwrap_or(0),
            uid: field(header.uid())?,
            gid: field(header.gid())?,
            mtime: field(header.mtime())?,
            size: 0,
        };
        let device = (
            header.device_major().ok().flatten().unwrap_or(0),
            header.device_minor().ok().flatten().unwrap_or(0),
        );
        tar_entry.kind = match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let (offset, len) = spool.append(&mut entry).map_err(bad)?;
                tar_entry.size = len;
                EntryKind::File(FileData::Spool {
                    file: spool.file,
                    offset,
                    len,
                })
            }
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(bad)?
                    .ok_or_else(|| refuse("symlink without a target"))?;
                symlinks.insert(rel.clone());
                EntryKind::Symlink(target.into_owned())
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(bad)?
                    .ok_or_else(|| refuse("hard link without a target"))?;
                let target = relative(&target)
                    .ok_or_else(|| refuse("its link leads outside the destination"))?;
                let linked = files.get(&target).ok_or_else(|| {
                    refuse("hard link to a file that is not in the archive before it")
                })?;
                tar_entry = linked.clone();
                tar_entry.kind.clone()
            }
            tar::EntryType::Fifo => EntryKind::Fifo,
            tar::EntryType::Char => EntryKind::Char {
                major: device.0,
                minor: device.1,
            },
            tar::EntryType::Block => EntryKind::Block {
                major: device.0,
                minor: device.1,
            },
            other => {
                return Err(refuse(&format!(
                    "unsupported entry type {:?}",
                    other.as_byte() as char
                )));
            }
        };
        symlinks.retain(|p| *p != rel || matches!(tar_entry.kind, EntryKind::Symlink(_)));
        let full = dest.join(&rel);
        if let Some(parent) = full.parent() {
            layer.ensure_dir(dest_tree, parent, &|| TarEntry::dir(0o755, (0, 0), now))?;
        }
        if matches!(tar_entry.kind, EntryKind::File(_)) {
            files.insert(rel, tar_entry.clone());
        }
        layer.insert(full, tar_entry)?;
    }
    Ok(())
}

/// An archive path as a clean relative path, `None` if it climbs out.
fn relative(raw: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in raw.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, Write};

    use super::*;
    use crate::testing::{TarBuilder, e, entries};
    use crate::tree::RootfsTree;

    fn spooled(bytes: &[u8]) -> File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f.rewind().unwrap();
        f
    }

    fn data(file: &File) -> FileData<'_> {
        FileData::Spool {
            file,
            offset: 0,
            len: file.metadata().unwrap().len(),
        }
    }

    fn unpack_to_entries(archive: &[u8]) -> Result<Vec<crate::testing::TarEntry>> {
        let root = tempfile::tempdir().unwrap();
        let tree = RootfsTree::new(root.path());
        let source = spooled(archive);
        let spool_file = tempfile::tempfile().unwrap();
        let mut spool = Spool::new(&spool_file);
        let mut layer = LayerEntries::default();
        let dest = Path::new("opt/x");
        layer.ensure_dir(&tree, dest, &|| TarEntry::dir(0o755, (0, 0), 0))?;
        unpack(
            &data(&source),
            "a.tar",
            dest,
            &mut spool,
            &mut layer,
            &tree,
            0,
        )?;
        let mut out = tempfile::tempfile().unwrap();
        layer.write(&mut out).unwrap();
        let mut bytes = Vec::new();
        out.read_to_end(&mut bytes).unwrap();
        Ok(entries(&bytes))
    }

    #[test]
    fn recognizes_archives_by_content() {
        let tar = TarBuilder::new().file("a", 0o644, b"x").finish();
        assert!(is_archive(&data(&spooled(&tar))));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        assert!(is_archive(&data(&spooled(&gz.finish().unwrap()))));
        assert!(!is_archive(&data(&spooled(b"just text"))));
        assert!(!is_archive(&data(&spooled(&[0u8; 1024]))));
        assert!(!is_archive(&data(&spooled(&[0x1f, 0x8b, 0, 1, 2]))));
    }

    #[test]
    fn unpacks_below_the_destination_keeping_metadata() {
        let tar = TarBuilder::new()
            .dir("./bin", 0o750)
            .file_owned("bin/tool", 0o4755, 10, 20, b"#!/bin/sh")
            .symlink("bin/alias", "tool")
            .hardlink("bin/copy", "bin/tool")
            .file("etc/conf", 0o600, b"k=v")
            .finish();
        let got = unpack_to_entries(&tar).unwrap();
        assert_eq!(
            got,
            [
                e("opt", 'd', 0o755, 0, 0, ""),
                e("opt/x", 'd', 0o755, 0, 0, ""),
                e("opt/x/bin", 'd', 0o750, 0, 0, ""),
                e("opt/x/bin/alias", 'l', 0o777, 0, 0, "tool"),
                e("opt/x/bin/copy", 'f', 0o4755, 10, 20, "#!/bin/sh"),
                e("opt/x/bin/tool", 'f', 0o4755, 10, 20, "#!/bin/sh"),
                e("opt/x/etc", 'd', 0o755, 0, 0, ""),
                e("opt/x/etc/conf", 'f', 0o600, 0, 0, "k=v"),
            ]
        );
    }

    #[test]
    fn hostile_archives_are_refused() {
        let climb = TarBuilder::new()
            .file("../../etc/passwd", 0o644, b"x")
            .finish();
        assert_eq!(
            unpack_to_entries(&climb).unwrap_err().to_string(),
            "unpack a.tar: entry ../../etc/passwd: it leads outside the destination"
        );
        let through_link = TarBuilder::new()
            .symlink("link", "/etc")
            .file("link/passwd", 0o644, b"x")
            .finish();
        assert_eq!(
            unpack_to_entries(&through_link).unwrap_err().to_string(),
            "unpack a.tar: entry link/passwd: it would be written through a symlink"
        );
        let whiteout = TarBuilder::new().file(".wh.gone", 0o644, b"").finish();
        assert!(
            unpack_to_entries(&whiteout)
                .unwrap_err()
                .to_string()
                .contains("reserved for layer whiteouts")
        );
    }
}
