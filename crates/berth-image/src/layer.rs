//! Unpacked layers: `layers/<chain-id hex>/{diff/,layer.json}`.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use berth_fs::{Dir, Root};
use berth_shim_proto::OverlayMount;
use serde::{Deserialize, Serialize};

use crate::compression;
use crate::digest::{ChainId, Digest, HashingReader, chain_id};
use crate::error::{Error, Result};
use crate::extract;
use crate::store::{ImageStore, LAYER_STAGING_PREFIX, LAYER_TRASH_PREFIX};

const METADATA_FILE: &str = "layer.json";
const DIFF_DIR: &str = "diff";
/// `layer.json` is a few hundred bytes; anything much larger is not ours.
const METADATA_LIMIT: u64 = 64 * 1024;

/// A layer unpacked in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layer {
    pub chain_id: ChainId,
    /// Digest of the uncompressed tar.
    pub diff_id: Digest,
    pub parent: Option<ChainId>,
    /// The blob it was unpacked from.
    pub blob: Digest,
    /// OCI media type of that blob (tar, tar+gzip or tar+zstd).
    pub blob_media_type: String,
    /// Bytes in regular files once unpacked.
    pub size: u64,
    /// Bytes of the uncompressed tar.
    pub tar_size: u64,
}

impl ImageStore {
    /// Unpacks layer `blob` (gzip, zstd or plain tar) on top of `parent` and returns it; if the
    /// same layer is already unpacked, returns that one.
    pub fn apply_layer(&self, parent: Option<&ChainId>, blob: &Digest) -> Result<Layer> {
        self.apply_layer_tracked(parent, blob, None)
            .map(|(layer, _)| layer)
    }

    /// The layer with this chain id, if present.
    pub fn layer(&self, chain: &ChainId) -> Result<Option<Layer>> {
        let path = self.layer_dir(chain).join(METADATA_FILE);
        let file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::fs("open", path, e)),
        };
        let mut bytes = Vec::new();
        file.take(METADATA_LIMIT)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::fs("read", &path, e))?;
        let layer: Layer = serde_json::from_slice(&bytes)
            .map_err(|e| Error::json(path.display().to_string(), e))?;
        if layer.chain_id != *chain {
            return Err(Error::InvalidImage {
                id: chain.clone(),
                reason: format!("{} names layer {}", path.display(), layer.chain_id),
            });
        }
        Ok(Some(layer))
    }

    /// Removes a layer: renamed out of sight first, so it is either complete or gone.
    pub fn remove_layer(&self, chain: &ChainId) -> Result<()> {
        let trash = tempfile::Builder::new()
            .prefix(LAYER_TRASH_PREFIX)
            .tempdir_in(&self.layers_dir)
            .map_err(|e| Error::fs("create temp dir in", &self.layers_dir, e))?;
        let from = self.layer_dir(chain);
        fs::rename(&from, trash.path().join(chain.hex())).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::LayerNotFound(chain.clone()),
            _ => Error::fs("rename", from, e),
        })?;
        let trash_path = trash.path().to_path_buf();
        trash
            .close()
            .map_err(|e| Error::fs("remove", trash_path, e))
    }

    /// Every layer in the store, sorted.
    pub fn list_layers(&self) -> Result<Vec<ChainId>> {
        let dir = &self.layers_dir;
        let mut layers = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| Error::fs("read", dir, e))? {
            let name = entry.map_err(|e| Error::fs("read", dir, e))?.file_name();
            if let Some(chain) = name.to_str().and_then(|hex| Digest::from_hex(hex).ok()) {
                layers.push(chain);
            }
        }
        layers.sort();
        Ok(layers)
    }

    /// The overlay mount for a container whose image has `layers` (bottom first): lower dirs
    /// relative to `<root>/layers`, top-most first, to keep the mount options short.
    pub fn overlay_mount(&self, layers: &[ChainId], upper: PathBuf, work: PathBuf) -> OverlayMount {
        OverlayMount {
            layers_root: self.layers_dir.clone(),
            lowerdirs: layers
                .iter()
                .rev()
                .map(|chain| Path::new(chain.hex()).join(DIFF_DIR))
                .collect(),
            upperdir: upper,
            workdir: work,
        }
    }

    /// [`ImageStore::apply_layer`], checking the uncompressed digest against `expected_diff`
    /// when known, and telling whether the layer is new.
    pub(crate) fn apply_layer_tracked(
        &self,
        parent: Option<&ChainId>,
        blob: &Digest,
        expected_diff: Option<&Digest>,
    ) -> Result<(Layer, bool)> {
        if let Some(parent) = parent.filter(|p| !self.layer_dir(p).is_dir()) {
            return Err(Error::LayerNotFound(parent.clone()));
        }
        let existing = match expected_diff {
            Some(diff) => self.layer(&chain_id(parent, diff))?,
            None => self.find_layer(parent, blob)?,
        };
        if let Some(layer) = existing {
            return Ok((layer, false));
        }
        let staged = self.unpack_layer(parent, blob)?;
        if let Some(expected) = expected_diff.filter(|d| **d != staged.layer.diff_id) {
            let what = format!("uncompressed content of layer {blob}");
            return Err(Error::DigestMismatch {
                what,
                expected: expected.clone(),
                actual: staged.layer.diff_id,
            });
        }
        self.publish(staged)
    }

    /// Unpacks `blob` into a staging directory under `layers/`.
    fn unpack_layer(&self, parent: Option<&ChainId>, blob: &Digest) -> Result<StagedLayer> {
        let dir = tempfile::Builder::new()
            .prefix(LAYER_STAGING_PREFIX)
            .tempdir_in(&self.layers_dir)
            .map_err(|e| Error::fs("create temp dir in", &self.layers_dir, e))?;
        let staging = Dir::open(dir.path())?;
        staging.create_dir(OsStr::new(DIFF_DIR), 0o755)?;
        let root = Root::open(&dir.path().join(DIFF_DIR))?;

        let what = format!("layer {blob}");
        let (compression, tar) =
            compression::decompress(BufReader::new(self.open_blob(blob)?), &what)?;
        let mut tar = HashingReader::new(tar);
        let size = extract::unpack(&mut tar, &root, blob)?;
        compression::drain(&mut tar, &what)?;
        let (diff_id, tar_size) = tar.finish();

        let layer = Layer {
            chain_id: chain_id(parent, &diff_id),
            diff_id,
            parent: parent.cloned(),
            blob: blob.clone(),
            blob_media_type: compression.layer_media_type().to_owned(),
            size,
            tar_size,
        };
        let json = serde_json::to_vec_pretty(&layer)
            .map_err(|e| Error::json(format!("metadata of layer {}", layer.chain_id), e))?;
        berth_fs::atomic_write(&dir.path().join(METADATA_FILE), &json)?;
        Ok(StagedLayer { dir, layer })
    }

    /// Makes a staged layer visible under its chain id (unless an identical one won the race).
    fn publish(&self, staged: StagedLayer) -> Result<(Layer, bool)> {
        let StagedLayer { dir, layer } = staged;
        Dir::open(dir.path())?.sync_filesystem()?;
        let target = self.layer_dir(&layer.chain_id);
        match fs::rename(dir.path(), &target) {
            Ok(()) => {
                let _renamed_away = dir.keep(); // nothing left at the staging path to delete
                Dir::open(&self.layers_dir)?.sync()?;
                Ok((layer, true))
            }
            Err(e) if target.is_dir() => {
                tracing::debug!(layer = %layer.chain_id, error = %e, "layer appeared while unpacking");
                let existing = self
                    .layer(&layer.chain_id)?
                    .ok_or_else(|| Error::LayerNotFound(layer.chain_id.clone()))?;
                Ok((existing, false))
            }
            Err(e) => Err(Error::fs("rename into", target, e)),
        }
    }

    /// A layer already unpacked from `blob` on `parent`.
    fn find_layer(&self, parent: Option<&ChainId>, blob: &Digest) -> Result<Option<Layer>> {
        for chain in self.list_layers()? {
            if let Some(layer) = self
                .layer(&chain)?
                .filter(|l| l.blob == *blob && l.parent.as_ref() == parent)
            {
                return Ok(Some(layer));
            }
        }
        Ok(None)
    }

    fn layer_dir(&self, chain: &ChainId) -> PathBuf {
        self.layers_dir.join(chain.hex())
    }
}

/// A fully unpacked layer with its `layer.json`, not yet visible; removed if dropped.
struct StagedLayer {
    dir: tempfile::TempDir,
    layer: Layer,
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    use super::*;
    use crate::test_support::{
        GID, MTIME, TarBuilder, UID, entries, gzip, layer_diff, root_or_skip, store, store_contents,
    };

    fn put(store: &ImageStore, bytes: &[u8]) -> Digest {
        store.put_blob(bytes, None, u64::MAX).unwrap().0
    }

    fn base_tar() -> Vec<u8> {
        TarBuilder::new()
            .dir("./", 0o755)
            .dir("bin/", 0o755)
            .file("bin/busybox", 0o755, b"#!busybox")
            .symlink("bin/sh", "/bin/busybox")
            .hardlink("bin/ls", "bin/busybox")
            .symlink("usr/lib/rel", "../../bin/busybox")
            .xattr("user.berth", "tagged")
            .file("bin/su", 0o4755, b"setuid")
            .file("etc/shadow", 0o640, b"secret")
            .dir("var/empty/", 0o555)
            .char_device("dev/null", 1, 3)
            .entry(tar::EntryType::Fifo, "run/fifo", "", 0o620, b"")
            .finish()
    }

    #[test]
    fn applies_files_links_modes_owners_and_devices() {
        if !root_or_skip() {
            return;
        }
        let (tmp, store) = store();
        let tar = base_tar();
        let blob = put(&store, &tar);
        let layer = store.apply_layer(None, &blob).unwrap();
        assert_eq!(layer.diff_id, Digest::of(&tar));
        assert_eq!(layer.chain_id, layer.diff_id);
        assert_eq!((layer.tar_size, layer.size), (tar.len() as u64, 9 + 6 + 6));
        assert_eq!(
            layer.blob_media_type,
            "application/vnd.oci.image.layer.v1.tar"
        );

        let diff = layer_diff(tmp.path(), &layer.chain_id);
        let meta = |p: &str| fs::symlink_metadata(diff.join(p)).unwrap();
        assert_eq!(meta("bin/busybox").mode() & 0o7777, 0o755);
        assert_eq!(
            meta("bin/su").mode() & 0o7777,
            0o4755,
            "setuid survives chown"
        );
        assert_eq!(
            (meta("etc/shadow").uid(), meta("etc/shadow").gid()),
            (UID as u32, GID as u32)
        );
        assert_eq!(meta("etc/shadow").mtime(), MTIME as i64);
        assert_eq!(meta("var/empty").mode() & 0o7777, 0o555);
        assert_eq!(
            meta("var/empty").mtime(),
            MTIME as i64,
            "directory times are set last"
        );
        assert_eq!(meta("").mtime(), MTIME as i64);
        assert_eq!(
            fs::read_link(diff.join("bin/sh")).unwrap(),
            Path::new("/bin/busybox")
        );
        assert_eq!(
            fs::read_link(diff.join("usr/lib/rel")).unwrap(),
            Path::new("../../bin/busybox")
        );
        assert_eq!(meta("bin/ls").ino(), meta("bin/busybox").ino());
        assert!(meta("dev/null").file_type().is_char_device());
        assert_eq!(meta("dev/null").rdev(), rustix::fs::makedev(1, 3));
        assert!(meta("run/fifo").file_type().is_fifo());
        assert_eq!(meta("run/fifo").mode() & 0o7777, 0o620);
        let mut value = [0u8; 16];
        let n = rustix::fs::lgetxattr(diff.join("bin/su"), "user.berth", &mut value).unwrap();
        assert_eq!(&value[..n], b"tagged");

        assert_eq!(store.layer(&layer.chain_id).unwrap(), Some(layer.clone()));
        assert_eq!(store.list_layers().unwrap(), vec![layer.chain_id.clone()]);
        assert_eq!(
            store.apply_layer(None, &blob).unwrap(),
            layer,
            "applied once"
        );
        // The same content gzipped is the same layer.
        let gz = put(&store, &gzip(&tar));
        assert_eq!(
            store.apply_layer(None, &gz).unwrap().chain_id,
            layer.chain_id
        );
        assert_eq!(
            entries(&tmp.path().join("layers")),
            vec![layer.chain_id.hex().to_owned()]
        );
    }

    #[test]
    fn whiteouts_become_overlay_whiteouts_on_a_chained_layer() {
        if !root_or_skip() {
            return;
        }
        let (tmp, store) = store();
        let base = store
            .apply_layer(
                None,
                &put(
                    &store,
                    &TarBuilder::new()
                        .file("a/x", 0o644, b"x")
                        .file("b", 0o644, b"b")
                        .finish(),
                ),
            )
            .unwrap();
        let upper_tar = TarBuilder::new()
            .dir("a/", 0o755)
            .file("a/.wh..wh..opq", 0o644, b"")
            .file(".wh.b", 0o644, b"")
            .file(".wh..wh.plnk", 0o644, b"")
            .finish();
        let upper = store
            .apply_layer(
                Some(&base.chain_id),
                &put(&store, &zstd::encode_all(&upper_tar[..], 1).unwrap()),
            )
            .unwrap();
        assert_eq!(upper.parent.as_ref(), Some(&base.chain_id));
        assert_eq!(
            upper.chain_id,
            chain_id(Some(&base.chain_id), &Digest::of(&upper_tar))
        );
        assert_eq!(
            upper.blob_media_type,
            "application/vnd.oci.image.layer.v1.tar+zstd"
        );

        let diff = layer_diff(tmp.path(), &upper.chain_id);
        let b = fs::symlink_metadata(diff.join("b")).unwrap();
        assert!(b.file_type().is_char_device());
        assert_eq!(b.rdev(), 0);
        let mut value = [0u8; 4];
        let n =
            rustix::fs::lgetxattr(diff.join("a"), "trusted.overlay.opaque", &mut value).unwrap();
        assert_eq!(&value[..n], b"y");
        assert_eq!(entries(&diff), vec!["a", "b"]);
        assert!(entries(&diff.join("a")).is_empty());
    }

    #[test]
    fn malicious_entries_are_refused_and_leave_no_layer() {
        if !root_or_skip() {
            return;
        }
        let outside = tempfile::tempdir().unwrap();
        let escape = format!(
            "../../../../../../../..{}",
            outside.path().join("pwned").display()
        );
        type Case<'a> = (&'a str, Box<dyn Fn(TarBuilder) -> TarBuilder + 'a>);
        let cases: Vec<Case<'_>> = vec![
            (
                "absolute path",
                Box::new(|t| t.file("/etc/evil", 0o644, b"x")),
            ),
            ("dot-dot path", Box::new(|t| t.file(&escape, 0o644, b"x"))),
            (
                "inner dot-dot",
                Box::new(|t| t.dir("a/", 0o755).file("a/../../evil", 0o644, b"x")),
            ),
            (
                "absolute hard link",
                Box::new(|t| t.hardlink("passwd", "/etc/passwd")),
            ),
            (
                "climbing hard link",
                Box::new(|t| t.hardlink("l", "a/../../x")),
            ),
            (
                "climbing symlink",
                Box::new(|t| t.symlink("usr/l", &escape)),
            ),
            (
                "nameless whiteout",
                Box::new(|t| t.file("a/.wh.", 0o644, b"")),
            ),
        ];
        let (tmp, store) = store();
        for (case, malicious) in cases {
            // A harmless entry first, so there is something to clean up.
            let tar = malicious(TarBuilder::new().file("ok", 0o644, b"fine")).finish();
            let blob = put(&store, &tar);
            let err = store.apply_layer(None, &blob).unwrap_err();
            assert!(matches!(err, Error::LayerEntry { .. }), "{case}: {err}");
            assert!(err.to_string().contains(blob.as_str()), "{case}: {err}");
            assert!(
                entries(&tmp.path().join("layers")).is_empty(),
                "{case}: a layer directory was left"
            );
            store.remove_blob(&blob).unwrap();
        }
        assert!(entries(outside.path()).is_empty());
        assert_eq!(store_contents(tmp.path()), (vec![], vec![]));
    }

    #[test]
    fn writes_through_symlinks_stay_inside_the_layer() {
        if !root_or_skip() {
            return;
        }
        let (tmp, store) = store();
        let outside = tempfile::tempdir().unwrap();
        let host_dir = outside.path().to_str().unwrap();
        let tar = TarBuilder::new()
            .symlink("abs", host_dir)
            .file("abs/pwned", 0o644, b"x")
            .symlink("rel", "abs")
            .hardlink("rel/linked", "abs/pwned")
            .finish();
        let layer = store.apply_layer(None, &put(&store, &tar)).unwrap();
        assert!(
            entries(outside.path()).is_empty(),
            "nothing written on the host"
        );
        let inside = layer_diff(tmp.path(), &layer.chain_id).join(host_dir.trim_start_matches('/'));
        assert_eq!(entries(&inside), vec!["linked", "pwned"]);
    }

    #[test]
    fn unknown_parent_and_unsupported_compression_fail_cleanly() {
        let (tmp, store) = store();
        let blob = put(&store, b"BZh91AY&SY not really");
        let missing = Digest::of(b"no such layer");
        assert!(matches!(
            store.apply_layer(Some(&missing), &blob),
            Err(Error::LayerNotFound(_))
        ));
        let err = store.apply_layer(None, &blob).unwrap_err();
        assert!(
            matches!(
                err,
                Error::UnsupportedCompression {
                    format: "bzip2",
                    ..
                }
            ),
            "{err}"
        );
        assert!(entries(&tmp.path().join("layers")).is_empty());
    }

    #[test]
    fn remove_and_overlay_mount() {
        if !root_or_skip() {
            return;
        }
        let (tmp, store) = store();
        let bottom = store
            .apply_layer(
                None,
                &put(&store, &TarBuilder::new().file("a", 0o644, b"a").finish()),
            )
            .unwrap();
        let top = store
            .apply_layer(
                Some(&bottom.chain_id),
                &put(&store, &TarBuilder::new().file("b", 0o644, b"b").finish()),
            )
            .unwrap();
        let mount = store.overlay_mount(
            &[bottom.chain_id.clone(), top.chain_id.clone()],
            "/u".into(),
            "/w".into(),
        );
        assert_eq!(mount.layers_root, tmp.path().join("layers"));
        let lower = |l: &Layer| PathBuf::from(format!("{}/diff", l.chain_id.hex()));
        assert_eq!(mount.lowerdirs, vec![lower(&top), lower(&bottom)]);
        assert_eq!(
            (mount.upperdir, mount.workdir),
            (PathBuf::from("/u"), PathBuf::from("/w"))
        );

        store.remove_layer(&top.chain_id).unwrap();
        assert_eq!(store.list_layers().unwrap(), vec![bottom.chain_id.clone()]);
        assert_eq!(
            entries(&tmp.path().join("layers")),
            vec![bottom.chain_id.hex().to_owned()]
        );
        assert!(
            store
                .remove_layer(&top.chain_id)
                .unwrap_err()
                .is_not_found()
        );
        assert_eq!(store.layer(&top.chain_id).unwrap(), None);
    }
}
