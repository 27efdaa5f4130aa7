//! `docker load`: legacy `docker save` archives (`manifest.json`, `<id>/layer.tar`), OCI image
//! layouts (`index.json`, `blobs/`), and the combined layout Docker 25+ writes.
//!
//! The archive is read once: every regular file goes into the content store (files under
//! `blobs/sha256/` must hash to their name), then the manifests are read from the store,
//! bounded, and the layers applied. A failure undoes everything the call added.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::content::Ingested;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::layer::Layer;
use crate::oci::{self, Descriptor, Index, LegacyManifestEntry, Manifest};
use crate::platform;
use crate::reference::{familiar_name, split_tag};
use crate::rollback::Rollback;
use crate::store::ImageStore;

/// Indexes may nest (a tagged entry pointing at a multi-platform index); this deep at most.
const MAX_INDEX_DEPTH: usize = 4;
/// Links between archive files followed at most this many times (legacy archives link
/// duplicate layers to one copy).
const MAX_LINK_HOPS: usize = 8;

/// An image now in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    /// The image id: digest of its config.
    pub id: Digest,
    /// The raw config JSON (also stored as blob `id`).
    pub config: Vec<u8>,
    /// Bottom first.
    pub layers: Vec<Layer>,
    /// Familiar names (`busybox:latest`) the archive gave the image.
    pub repo_tags: Vec<String>,
}

/// One image found in an archive, before its layers are applied.
struct ImageSpec {
    config: Digest,
    layer_blobs: Vec<Digest>,
    repo_tags: Vec<String>,
}

/// The files of an archive, by normalized path, as blobs in the store.
#[derive(Default)]
struct ArchiveFiles {
    files: HashMap<String, Ingested>,
    /// Symlinks and hard links: path -> target path.
    links: HashMap<String, String>,
}

impl ImageStore {
    /// Loads every image in a `docker save` or OCI archive. On any error, every blob and layer
    /// this call added is removed again and nothing that existed before is touched.
    pub fn load(&self, r: impl Read) -> Result<Vec<LoadedImage>> {
        let mut rollback = Rollback::new(self);
        let archive = self.ingest_archive(r, &mut rollback)?;
        let mut images = Vec::new();
        for spec in self.image_specs(&archive)? {
            images.push(self.load_image(spec, &mut rollback)?);
        }
        let kept: HashSet<&Digest> = images
            .iter()
            .flat_map(|i| std::iter::once(&i.id).chain(i.layers.iter().map(|l| &l.blob)))
            .collect();
        rollback.commit(|blob| kept.contains(blob));
        Ok(images)
    }

    fn ingest_archive(&self, r: impl Read, rollback: &mut Rollback<'_>) -> Result<ArchiveFiles> {
        let read_error = |e| Error::io("reading image archive", e);
        let mut archive = tar::Archive::new(r);
        let mut contents = ArchiveFiles::default();
        for entry in archive.entries().map_err(read_error)? {
            let mut entry = entry.map_err(read_error)?;
            let raw_path = entry.path().map_err(read_error)?.into_owned();
            let path = archive_path(Path::new(""), &raw_path);
            let kind = entry.header().entry_type();
            if kind.is_file() || kind.is_contiguous() {
                let blob = self.ingest(&mut entry, None, u64::MAX)?;
                rollback.blob(&blob.digest, blob.created);
                check_layout_name(&path, &blob.digest)?;
                contents.files.insert(path, blob);
            } else if kind.is_symlink() || kind.is_hard_link() {
                let target = entry.link_name().map_err(read_error)?.unwrap_or_default();
                // Symlink targets are relative to the link's directory, hard link targets to
                // the archive root.
                let base = if kind.is_symlink() {
                    raw_path.parent().unwrap_or(Path::new(""))
                } else {
                    Path::new("")
                };
                contents.links.insert(path, archive_path(base, &target));
            }
        }
        Ok(contents)
    }

    fn image_specs(&self, archive: &ArchiveFiles) -> Result<Vec<ImageSpec>> {
        let index = archive.file("index.json");
        let legacy = archive.file("manifest.json");
        if index.is_none() && legacy.is_none() {
            return Err(Error::InvalidArchive(
                "it has neither manifest.json nor index.json".to_owned(),
            ));
        }
        let mut specs: Vec<ImageSpec> = Vec::new();
        let oci_specs = index
            .map(|i| self.oci_images(archive, &i.digest))
            .transpose()?;
        let legacy_specs = legacy
            .map(|m| self.legacy_images(archive, &m.digest))
            .transpose()?;
        for spec in oci_specs.into_iter().chain(legacy_specs).flatten() {
            match specs.iter_mut().find(|s| s.config == spec.config) {
                Some(known) => {
                    for tag in spec.repo_tags {
                        if !known.repo_tags.contains(&tag) {
                            known.repo_tags.push(tag);
                        }
                    }
                }
                None => specs.push(spec),
            }
        }
        if specs.is_empty() {
            return Err(Error::InvalidArchive("it holds no image".to_owned()));
        }
        Ok(specs)
    }

    /// Images of an OCI layout's `index.json`, named by their annotations.
    fn oci_images(&self, archive: &ArchiveFiles, index: &Digest) -> Result<Vec<ImageSpec>> {
        let index: Index = self.read_json(index, "index.json")?;
        let mut specs = Vec::new();
        for descriptor in &index.manifests {
            let manifest = self.resolve_manifest(archive, descriptor, 0)?;
            let manifest: Manifest = self.read_json(&manifest, "image manifest")?;
            specs.push(ImageSpec {
                config: archive.blob(&manifest.config, self)?,
                layer_blobs: manifest
                    .layers
                    .iter()
                    .map(|l| archive.blob(l, self))
                    .collect::<Result<_>>()?,
                repo_tags: oci_repo_tag(descriptor).into_iter().collect(),
            });
        }
        Ok(specs)
    }

    /// The image manifest `descriptor` leads to: itself, or for a (multi-platform) index the
    /// manifest present in the archive for this platform, else the first one present.
    fn resolve_manifest(
        &self,
        archive: &ArchiveFiles,
        descriptor: &Descriptor,
        depth: usize,
    ) -> Result<Digest> {
        if !descriptor.is_index() {
            return archive.blob(descriptor, self);
        }
        if depth == MAX_INDEX_DEPTH {
            return Err(Error::InvalidArchive(format!(
                "index {} is nested too deeply",
                descriptor.digest
            )));
        }
        let digest = archive.blob(descriptor, self)?;
        let index: Index = self.read_json(&digest, "image index")?;
        // Attestations and other non-images have platform unknown/unknown.
        let present: Vec<&Descriptor> = index
            .manifests
            .iter()
            .filter(|d| {
                archive.has(d, self) && d.platform.as_ref().is_none_or(|p| p.os != "unknown")
            })
            .collect();
        let native = present.iter().find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == platform::OS && p.architecture == platform::architecture())
        });
        let chosen = native.or(present.first()).ok_or_else(|| {
            Error::InvalidArchive(format!(
                "index {digest} has none of its manifests in the archive"
            ))
        })?;
        self.resolve_manifest(archive, chosen, depth + 1)
    }

    /// Images of a `docker save` `manifest.json`.
    fn legacy_images(&self, archive: &ArchiveFiles, manifest: &Digest) -> Result<Vec<ImageSpec>> {
        let entries: Vec<LegacyManifestEntry> = self.read_json(manifest, "manifest.json")?;
        let file = |path: &str| {
            archive
                .file(&archive_path(Path::new(""), Path::new(path)))
                .map(|f| f.digest.clone())
                .ok_or_else(|| {
                    Error::InvalidArchive(format!(
                        "manifest.json names {path}, which is not in the archive"
                    ))
                })
        };
        entries
            .into_iter()
            .map(|entry| {
                Ok(ImageSpec {
                    config: file(&entry.config)?,
                    layer_blobs: entry
                        .layers
                        .iter()
                        .map(|l| file(l))
                        .collect::<Result<_>>()?,
                    repo_tags: entry
                        .repo_tags
                        .into_iter()
                        .flatten()
                        .filter(|t| !t.is_empty())
                        .map(|t| familiar_name(&t))
                        .collect(),
                })
            })
            .collect()
    }

    /// Checks the config against the layers and applies them.
    fn load_image(&self, spec: ImageSpec, rollback: &mut Rollback<'_>) -> Result<LoadedImage> {
        let config = self.read_blob(&spec.config, oci::JSON_LIMIT)?;
        let diff_ids = oci::config_diff_ids(&spec.config, &config)?;
        if diff_ids.len() != spec.layer_blobs.len() {
            let reason = format!(
                "its config lists {} layers in rootfs.diff_ids but the manifest has {}",
                diff_ids.len(),
                spec.layer_blobs.len()
            );
            return Err(Error::InvalidImage {
                id: spec.config,
                reason,
            });
        }
        let mut layers: Vec<Layer> = Vec::with_capacity(diff_ids.len());
        for (blob, diff_id) in spec.layer_blobs.iter().zip(&diff_ids) {
            let parent = layers.last().map(|l| &l.chain_id);
            let (layer, created) = self.apply_layer_tracked(parent, blob, Some(diff_id))?;
            rollback.layer(&layer.chain_id, created);
            layers.push(layer);
        }
        Ok(LoadedImage {
            id: spec.config,
            config,
            layers,
            repo_tags: spec.repo_tags,
        })
    }
}

impl ArchiveFiles {
    /// The regular file at `path`, following links between archive files.
    fn file(&self, path: &str) -> Option<&Ingested> {
        let mut path = path;
        for _ in 0..=MAX_LINK_HOPS {
            if let Some(file) = self.files.get(path) {
                return Some(file);
            }
            path = self.links.get(path)?;
        }
        None
    }

    fn has(&self, descriptor: &Descriptor, store: &ImageStore) -> bool {
        self.blob(descriptor, store).is_ok()
    }

    /// The blob a descriptor names: in the archive's `blobs/` (with the size it claims), or
    /// already in the store.
    fn blob(&self, descriptor: &Descriptor, store: &ImageStore) -> Result<Digest> {
        let path = oci::layout_blob_path(&descriptor.digest);
        match self.file(&path) {
            Some(file) if file.size != descriptor.size => Err(Error::InvalidArchive(format!(
                "{path} is {} bytes but its descriptor says {}",
                file.size, descriptor.size
            ))),
            Some(file) => Ok(file.digest.clone()),
            None if store.has_blob(&descriptor.digest) => Ok(descriptor.digest.clone()),
            None => Err(Error::InvalidArchive(format!(
                "blob {} is not in the archive",
                descriptor.digest
            ))),
        }
    }
}

/// A file at `blobs/sha256/<hex>` must hash to `<hex>`.
fn check_layout_name(path: &str, digest: &Digest) -> Result<()> {
    let Some(hex) = path.strip_prefix("blobs/sha256/") else {
        return Ok(());
    };
    let named = Digest::from_hex(hex)
        .map_err(|_| Error::InvalidArchive(format!("{path} is not named by a sha256 digest")))?;
    if named != *digest {
        let what = format!("archive file {path}");
        return Err(Error::DigestMismatch {
            what,
            expected: named,
            actual: digest.clone(),
        });
    }
    Ok(())
}

/// `rel` joined to `base` and normalized lexically, as a lookup key among the archive's files
/// (nothing is written to disk under these names).
fn archive_path(base: &Path, rel: &Path) -> String {
    let mut path = PathBuf::new();
    for component in base.join(rel).components() {
        match component {
            Component::Normal(name) => path.push(name),
            Component::ParentDir => {
                path.pop();
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    path.to_string_lossy().into_owned()
}

/// The familiar `name:tag` an OCI index entry is annotated with, if any.
fn oci_repo_tag(descriptor: &Descriptor) -> Option<String> {
    let annotations = &descriptor.annotations;
    let name = match annotations.get(oci::ANNOTATION_IMAGE_NAME) {
        Some(name) => name,
        // A bare ref name ("latest") is only a tag: it names no repository.
        None => annotations
            .get(oci::ANNOTATION_REF_NAME)
            .filter(|r| r.contains([':', '/']))?,
    };
    if name.contains('@') {
        return None; // a digest reference is not a tag
    }
    let name = familiar_name(name);
    match split_tag(&name) {
        (_, Some(_)) => Some(name),
        (repo, None) => Some(format!("{repo}:latest")),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use serde_json::json;

    use super::*;
    use crate::test_support::{
        TarBuilder, entries, fixture, gzip, image_config, layer_diff, legacy_archive, root_or_skip,
        store, store_contents, two_layers,
    };

    const FIXTURE_ID: &str =
        "sha256:9be02201103b736521b7166e89851d93897383a347dc5e8e54f04c7bf44afbb5";
    const FIXTURE_DIFF_ID: &str =
        "sha256:c6697acbc7ac1146b595054c05dccde65bdac7abe66aa1caf5a152c029a47e4f";

    fn descriptor(media_type: &str, bytes: &[u8]) -> serde_json::Value {
        json!({"mediaType": media_type, "digest": Digest::of(bytes), "size": bytes.len()})
    }

    /// Adds `bytes` under `blobs/sha256/`.
    fn with_blob(tar: TarBuilder, bytes: &[u8]) -> TarBuilder {
        tar.file(&oci::layout_blob_path(&Digest::of(bytes)), 0o644, bytes)
    }

    fn json_bytes(value: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&value).unwrap()
    }

    #[test]
    fn loads_the_skopeo_fixtures_as_one_image() {
        if !root_or_skip() {
            return;
        }
        let (tmp, store) = store();
        let oci = store.load(&fixture("skopeo-oci-archive.tar")[..]).unwrap();
        let legacy = store
            .load(&fixture("skopeo-docker-archive.tar")[..])
            .unwrap();
        for images in [&oci, &legacy] {
            assert_eq!(images.len(), 1);
            assert_eq!(images[0].id.as_str(), FIXTURE_ID);
            assert_eq!(images[0].repo_tags, vec!["fixture:v1"]);
            assert_eq!(images[0].layers.len(), 1);
            assert_eq!(images[0].layers[0].diff_id.as_str(), FIXTURE_DIFF_ID);
        }
        let diff = layer_diff(tmp.path(), &oci[0].layers[0].chain_id);
        assert_eq!(fs::read(diff.join("etc/motd")).unwrap(), b"berth fixture\n");
        assert_eq!(
            fs::read_link(diff.join("bin/ash")).unwrap(),
            Path::new("/bin/sh")
        );
        // One layer, and only the config and the (gzip) layer blob: the second archive's copy of
        // the layer and every index file were dropped.
        assert_eq!(store.list_layers().unwrap().len(), 1);
        let blobs = store.list_blobs().unwrap();
        assert_eq!(blobs.len(), 2, "{blobs:?}");
        assert!(blobs.contains(&oci[0].layers[0].blob) && blobs.contains(&oci[0].id));
    }

    #[test]
    fn loads_a_legacy_archive_with_linked_layers() {
        if !root_or_skip() {
            return;
        }
        let (tmp, store) = store();
        let (bottom, top) = two_layers();
        let config = image_config(&[&bottom, &top]);
        let archive = legacy_archive(
            &config,
            &[&bottom, &top],
            &["docker.io/me/app:1", "app:latest"],
        );
        let images = store.load(&archive[..]).unwrap();
        assert_eq!(images.len(), 1);
        let image = &images[0];
        assert_eq!(
            (image.id.clone(), image.config.clone()),
            (Digest::of(&config), config)
        );
        assert_eq!(image.repo_tags, vec!["me/app:1", "app:latest"]);
        let chains: Vec<_> = image.layers.iter().map(|l| l.chain_id.clone()).collect();
        assert_eq!(chains[0], Digest::of(&bottom));
        assert_eq!(
            chains[1],
            crate::chain_id(Some(&chains[0]), &Digest::of(&top))
        );
        assert_eq!(image.layers[1].parent.as_ref(), Some(&chains[0]));
        assert!(
            layer_diff(tmp.path(), &chains[1])
                .join("etc/motd")
                .is_file()
        );
        let mut kept = vec![
            image.id.hex().to_owned(),
            Digest::of(&bottom).hex().to_owned(),
            Digest::of(&top).hex().to_owned(),
        ];
        kept.sort();
        assert_eq!(
            store_contents(tmp.path()).1,
            kept,
            "manifest.json, VERSION... are not kept"
        );
    }

    #[test]
    fn picks_this_platform_from_a_nested_oci_index() {
        if !root_or_skip() {
            return;
        }
        let (_tmp, store) = store();
        let (layer, _) = two_layers();
        let layer_gz = gzip(&layer);
        let config = image_config(&[&layer]);
        let manifest = json_bytes(json!({
            "schemaVersion": 2,
            "mediaType": oci::MEDIA_TYPE_MANIFEST,
            "config": descriptor(oci::MEDIA_TYPE_CONFIG, &config),
            "layers": [descriptor("application/vnd.oci.image.layer.v1.tar+gzip", &layer_gz)],
        }));
        let absent_manifest = json_bytes(json!({"other": "platform"}));
        let attestation = json_bytes(
            json!({"schemaVersion": 2, "config": descriptor(oci::MEDIA_TYPE_CONFIG, b"{}"), "layers": []}),
        );
        let mut here = descriptor(oci::MEDIA_TYPE_MANIFEST, &manifest);
        here["platform"] = json!({"os": "linux", "architecture": platform::architecture()});
        let mut elsewhere = descriptor(oci::MEDIA_TYPE_MANIFEST, &absent_manifest);
        elsewhere["platform"] = json!({"os": "linux", "architecture": "mips64le"});
        let mut unknown = descriptor(oci::MEDIA_TYPE_MANIFEST, &attestation);
        unknown["platform"] = json!({"os": "unknown", "architecture": "unknown"});
        let nested =
            json_bytes(json!({"schemaVersion": 2, "manifests": [unknown, elsewhere, here]}));
        let mut top = descriptor(oci::MEDIA_TYPE_INDEX, &nested);
        top["annotations"] = json!({oci::ANNOTATION_IMAGE_NAME: "registry.example:5000/team/app:2.0", oci::ANNOTATION_REF_NAME: "2.0"});
        let index = json_bytes(json!({"schemaVersion": 2, "manifests": [top]}));

        let mut tar =
            TarBuilder::new().file("oci-layout", 0o644, br#"{"imageLayoutVersion":"1.0.0"}"#);
        for blob in [
            &config,
            &layer_gz,
            &manifest,
            &attestation,
            &b"{}"[..],
            &nested,
        ] {
            tar = with_blob(tar, blob);
        }
        let archive = tar.file("index.json", 0o644, &index).finish();
        let images = store.load(&archive[..]).unwrap();
        assert_eq!(images.len(), 1);
        assert_eq!(images[0].id, Digest::of(&config));
        assert_eq!(
            images[0].repo_tags,
            vec!["registry.example:5000/team/app:2.0"]
        );
        assert_eq!(images[0].layers[0].blob, Digest::of(&layer_gz));
    }

    #[test]
    fn a_bad_archive_changes_nothing() {
        if !root_or_skip() {
            return;
        }
        let (bottom, top) = two_layers();
        let good_config = image_config(&[&bottom, &top]);
        let evil_layer = TarBuilder::new()
            .file("/etc/cron.d/evil", 0o644, b"x")
            .finish();
        let wrong_diff_config = image_config(&[&bottom, &bottom]);
        let short_config = image_config(&[&bottom]);
        let tampered = {
            let real = Digest::of(&top);
            TarBuilder::new()
                .file(&format!("blobs/sha256/{}", real.hex()), 0o644, &bottom)
                .finish()
        };
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "malicious layer",
                legacy_archive(
                    &image_config(&[&bottom, &evil_layer]),
                    &[&bottom, &evil_layer],
                    &["x:1"],
                ),
            ),
            (
                "diff id mismatch",
                legacy_archive(&wrong_diff_config, &[&bottom, &top], &["x:1"]),
            ),
            (
                "layer count mismatch",
                legacy_archive(&short_config, &[&bottom, &top], &["x:1"]),
            ),
            ("blob not matching its name", tampered),
            (
                "no manifest",
                TarBuilder::new().file("hello", 0o644, b"x").finish(),
            ),
            (
                "not a tar",
                b"this is not a tar archive at all, but it is long enough to be read".repeat(20),
            ),
        ];
        let (tmp, store) = store();
        // A layer and blob that exist before, and that the bad archives also contain.
        let (existing_blob, _) = store.put_blob(&bottom[..], None, u64::MAX).unwrap();
        let existing_layer = store.apply_layer(None, &existing_blob).unwrap();
        let before = store_contents(tmp.path());
        for (case, archive) in cases {
            let err = store.load(&archive[..]).unwrap_err();
            assert_eq!(store_contents(tmp.path()), before, "{case}: {err}");
            assert!(
                entries(&tmp.path().join("content/ingest")).is_empty(),
                "{case}"
            );
            eprintln!("{case}: {err}");
        }
        assert_eq!(
            store.layer(&existing_layer.chain_id).unwrap(),
            Some(existing_layer)
        );
        // And the good archive still loads.
        assert_eq!(
            store
                .load(&legacy_archive(&good_config, &[&bottom, &top], &[])[..])
                .unwrap()
                .len(),
            1
        );
    }
}
