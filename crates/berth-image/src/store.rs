use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use berth_fs::Dir;

use crate::error::{Error, Result};

/// Prefix of a layer being unpacked (`layers/tmp-*`); never visible as a layer.
pub(crate) const LAYER_STAGING_PREFIX: &str = "tmp-";
/// Prefix of a layer being deleted (`layers/trash-*`).
pub(crate) const LAYER_TRASH_PREFIX: &str = "trash-";

/// Blobs, unpacked layers and image archives under one data root:
///
/// ```text
/// content/blobs/sha256/<hex>      every blob, named by its verified digest
/// content/ingest/                 blobs being written
/// layers/<chain-id hex>/diff/     an unpacked layer
/// layers/<chain-id hex>/layer.json
/// tmp/                            scratch space
/// ```
///
/// Anything half-done (an ingest, a staged or trashed layer, scratch files) is invisible under
/// its final name and removed by [`ImageStore::open`]. Image and tag metadata live elsewhere (the
/// engine's database); this is files only.
#[derive(Debug)]
pub struct ImageStore {
    pub(crate) blobs_dir: PathBuf,
    pub(crate) ingest_dir: PathBuf,
    pub(crate) layers_dir: PathBuf,
    tmp_dir: PathBuf,
}

impl ImageStore {
    /// Opens (creating if needed) the store under `root` and removes leftovers of interrupted
    /// work. Only one process may use a root at a time.
    pub fn open(root: &Path) -> Result<Self> {
        let store = Self {
            blobs_dir: root.join("content/blobs/sha256"),
            ingest_dir: root.join("content/ingest"),
            layers_dir: root.join("layers"),
            tmp_dir: root.join("tmp"),
        };
        for dir in [
            &store.blobs_dir,
            &store.ingest_dir,
            &store.layers_dir,
            &store.tmp_dir,
        ] {
            fs::create_dir_all(dir).map_err(|e| Error::fs("create", dir, e))?;
        }
        remove_entries(&store.ingest_dir, |_| true)?;
        remove_entries(&store.tmp_dir, |_| true)?;
        remove_entries(&store.layers_dir, |name| {
            let name = name.to_string_lossy();
            name.starts_with(LAYER_STAGING_PREFIX) || name.starts_with(LAYER_TRASH_PREFIX)
        })?;
        Ok(store)
    }

    /// Scratch space on the same filesystem as the store, emptied on [`ImageStore::open`].
    pub fn tmp_dir(&self) -> &Path {
        &self.tmp_dir
    }
}

/// Removes the entries of `dir` whose names satisfy `select`, never following symlinks.
fn remove_entries(dir: &Path, select: impl Fn(&OsStr) -> bool) -> Result<()> {
    let handle = Dir::open(dir)?;
    for entry in fs::read_dir(dir).map_err(|e| Error::fs("read", dir, e))? {
        let name = entry.map_err(|e| Error::fs("read", dir, e))?.file_name();
        if select(&name) {
            handle.remove_all(&name)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_creates_the_layout_and_cleans_leftovers() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        ImageStore::open(root).unwrap();
        fs::write(root.join("content/ingest/half"), b"x").unwrap();
        fs::create_dir_all(root.join("layers/tmp-123/diff")).unwrap();
        fs::create_dir_all(root.join("layers/trash-456")).unwrap();
        fs::create_dir_all(root.join("layers").join("a".repeat(64))).unwrap();
        fs::write(root.join("tmp/scratch"), b"x").unwrap();
        ImageStore::open(root).unwrap();
        let names = |d: &str| -> Vec<String> {
            fs::read_dir(root.join(d))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        };
        assert!(names("content/ingest").is_empty());
        assert!(names("tmp").is_empty());
        assert_eq!(names("layers"), vec!["a".repeat(64)]);
        assert!(root.join("content/blobs/sha256").is_dir());
    }
}
