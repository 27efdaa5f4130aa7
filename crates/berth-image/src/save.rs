//! `docker save`: the combined layout Docker 25+ writes, readable both as an OCI image layout
//! (`oci-layout`, `index.json`, `blobs/sha256/`) and as a legacy archive (`manifest.json`,
//! `repositories`). Layers are written uncompressed, named by their diff id.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, BufReader, Read, Write};

use crate::compression;
use crate::digest::{ChainId, Digest, VerifyingReader};
use crate::error::{Error, Result};
use crate::layer::Layer;
use crate::oci::{self, Descriptor, Index, LegacyManifestEntry, Manifest};
use crate::reference::{full_name, split_tag};
use crate::store::ImageStore;

const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// An image to write with [`ImageStore::save`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveImage {
    /// Config digest.
    pub id: Digest,
    /// Familiar names (`busybox:latest`); may be empty.
    pub repo_tags: Vec<String>,
    /// Bottom first; must match the config's `rootfs.diff_ids`.
    pub layers: Vec<ChainId>,
}

/// An image checked and ready to write.
struct Prepared<'a> {
    image: &'a SaveImage,
    config: Vec<u8>,
    layers: Vec<Layer>,
}

impl ImageStore {
    /// Writes `images` as a tar archive to `w`. Everything is checked before the first byte is
    /// written; if a blob turns out corrupt while streaming, the writer fails and the archive is
    /// left unterminated (never a well-formed but wrong archive).
    pub fn save(&self, images: &[SaveImage], w: impl Write) -> Result<()> {
        let prepared = images
            .iter()
            .map(|image| self.prepare_save(image))
            .collect::<Result<Vec<_>>>()?;
        let mut out = ArchiveWriter::new(w);
        let result = self.write_archive(&prepared, &mut out);
        out.finish(result)
    }

    fn prepare_save<'a>(&self, image: &'a SaveImage) -> Result<Prepared<'a>> {
        let config = self.read_blob(&image.id, oci::JSON_LIMIT)?;
        let diff_ids = oci::config_diff_ids(&image.id, &config)?;
        let layers = image
            .layers
            .iter()
            .map(|chain| {
                self.layer(chain)?
                    .ok_or_else(|| Error::LayerNotFound(chain.clone()))
            })
            .collect::<Result<Vec<_>>>()?;
        if !layers.iter().map(|l| &l.diff_id).eq(&diff_ids) {
            let reason = "the layers given do not match the config's rootfs.diff_ids".to_owned();
            return Err(Error::InvalidImage {
                id: image.id.clone(),
                reason,
            });
        }
        Ok(Prepared {
            image,
            config,
            layers,
        })
    }

    fn write_archive(
        &self,
        images: &[Prepared<'_>],
        out: &mut ArchiveWriter<impl Write>,
    ) -> Result<()> {
        out.directory("blobs/")?;
        out.directory("blobs/sha256/")?;
        let mut index = Vec::new();
        let mut legacy = Vec::new();
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for Prepared {
            image,
            config,
            layers,
        } in images
        {
            out.blob(&image.id, config)?;
            for layer in layers {
                self.write_layer(out, layer)?;
            }
            let manifest = image_manifest(&image.id, config.len() as u64, layers);
            let manifest =
                serde_json::to_vec(&manifest).map_err(|e| Error::json("image manifest", e))?;
            let manifest_digest = Digest::of(&manifest);
            out.blob(&manifest_digest, &manifest)?;
            let descriptor = Descriptor::new(
                oci::MEDIA_TYPE_MANIFEST,
                manifest_digest,
                manifest.len() as u64,
            );
            if image.repo_tags.is_empty() {
                index.push(descriptor.clone());
            }
            for repo_tag in &image.repo_tags {
                let (repo, tag) = split_tag(repo_tag);
                let tag = tag.unwrap_or("latest");
                let mut named = descriptor.clone();
                named.annotations.insert(
                    oci::ANNOTATION_IMAGE_NAME.to_owned(),
                    full_name(&format!("{repo}:{tag}")),
                );
                named
                    .annotations
                    .insert(oci::ANNOTATION_REF_NAME.to_owned(), tag.to_owned());
                index.push(named);
                if let Some(top) = layers.last() {
                    repositories
                        .entry(repo.to_owned())
                        .or_default()
                        .insert(tag.to_owned(), top.diff_id.hex().to_owned());
                }
            }
            legacy.push(LegacyManifestEntry {
                config: oci::layout_blob_path(&image.id),
                repo_tags: Some(image.repo_tags.clone()),
                layers: layers
                    .iter()
                    .map(|l| oci::layout_blob_path(&l.diff_id))
                    .collect(),
            });
        }
        let index = Index {
            schema_version: 2,
            media_type: Some(oci::MEDIA_TYPE_INDEX.to_owned()),
            manifests: index,
        };
        out.json("index.json", &index)?;
        out.json("manifest.json", &legacy)?;
        out.file("oci-layout", OCI_LAYOUT)?;
        if !repositories.is_empty() {
            out.json("repositories", &repositories)?;
        }
        Ok(())
    }

    /// Writes a layer as its uncompressed tar, checked against its diff id while streaming.
    fn write_layer(&self, out: &mut ArchiveWriter<impl Write>, layer: &Layer) -> Result<()> {
        if !out.first_time(&layer.diff_id) {
            return Ok(());
        }
        let what = format!("layer {}", layer.blob);
        let (_, tar) =
            compression::decompress(BufReader::new(self.open_blob(&layer.blob)?), &what)?;
        let tar = VerifyingReader::new(tar, layer.diff_id.clone(), layer.tar_size);
        out.append(&oci::layout_blob_path(&layer.diff_id), layer.tar_size, tar)
    }
}

fn image_manifest(config: &Digest, config_size: u64, layers: &[Layer]) -> Manifest {
    Manifest {
        schema_version: 2,
        media_type: Some(oci::MEDIA_TYPE_MANIFEST.to_owned()),
        config: Descriptor::new(oci::MEDIA_TYPE_CONFIG, config.clone(), config_size),
        layers: layers
            .iter()
            .map(|l| Descriptor::new(oci::MEDIA_TYPE_LAYER_TAR, l.diff_id.clone(), l.tar_size))
            .collect(),
    }
}

/// A tar writer with fixed, root-owned, zero-time headers that writes each blob once.
struct ArchiveWriter<W: Write> {
    tar: tar::Builder<Fuse<W>>,
    written: HashSet<Digest>,
}

impl<W: Write> ArchiveWriter<W> {
    fn new(w: W) -> Self {
        Self {
            tar: tar::Builder::new(Fuse {
                inner: w,
                blown: false,
            }),
            written: HashSet::new(),
        }
    }

    /// True the first time a blob is offered: it must be written now.
    fn first_time(&mut self, digest: &Digest) -> bool {
        self.written.insert(digest.clone())
    }

    fn blob(&mut self, digest: &Digest, bytes: &[u8]) -> Result<()> {
        if !self.first_time(digest) {
            return Ok(());
        }
        self.file(&oci::layout_blob_path(digest), bytes)
    }

    fn json(&mut self, path: &str, value: &impl serde::Serialize) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|e| Error::json(path, e))?;
        self.file(path, &bytes)
    }

    fn file(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        self.append(path, bytes.len() as u64, bytes)
    }

    fn directory(&mut self, path: &str) -> Result<()> {
        let mut header = header(tar::EntryType::Directory, 0, 0o755);
        self.tar
            .append_data(&mut header, path, io::empty())
            .map_err(|e| write_error(path, e))
    }

    fn append(&mut self, path: &str, size: u64, data: impl Read) -> Result<()> {
        let mut header = header(tar::EntryType::Regular, size, 0o644);
        self.tar
            .append_data(&mut header, path, data)
            .map_err(|e| write_error(path, e))
    }

    /// Terminates the archive if `result` is Ok; otherwise makes sure it stays unterminated.
    fn finish(mut self, result: Result<()>) -> Result<()> {
        if result.is_err() {
            self.tar.get_mut().blown = true;
            return result;
        }
        let mut inner = self
            .tar
            .into_inner()
            .map_err(|e| write_error("end of archive", e))?;
        inner.flush().map_err(|e| write_error("end of archive", e))
    }
}

fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header
}

fn write_error(path: &str, e: io::Error) -> Error {
    Error::io(format!("writing {path} to the image archive"), e)
}

/// A writer that refuses every write once blown, so the tar builder's drop cannot append an
/// end-of-archive marker after a failure.
struct Fuse<W> {
    inner: W,
    blown: bool,
}

impl<W: Write> Write for Fuse<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.blown {
            return Err(io::Error::other("image archive abandoned after an error"));
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::test_support::{
        fixture, image_config, legacy_archive, root_or_skip, store, two_layers,
    };
    use crate::{LoadedImage, hello_world_config, hello_world_created, hello_world_rootfs};

    fn to_save(image: &LoadedImage, tags: &[&str]) -> SaveImage {
        SaveImage {
            id: image.id.clone(),
            repo_tags: tags.iter().map(|t| t.to_string()).collect(),
            layers: image.layers.iter().map(|l| l.chain_id.clone()).collect(),
        }
    }

    /// The archive's regular files by path.
    fn files(archive: &[u8]) -> HashMap<String, Vec<u8>> {
        let mut files = HashMap::new();
        for entry in tar::Archive::new(archive).entries().unwrap() {
            let mut entry = entry.unwrap();
            if entry.header().entry_type().is_file() {
                let path = entry.path().unwrap().to_string_lossy().into_owned();
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).unwrap();
                files.insert(path, bytes);
            }
        }
        files
    }

    #[test]
    fn save_then_load_gives_the_same_images() {
        if !root_or_skip() {
            return;
        }
        let (_tmp, store) = store();
        let hello = store
            .import(
                &hello_world_rootfs()[..],
                hello_world_config(),
                hello_world_created(),
                "",
            )
            .unwrap();
        let (bottom, top) = two_layers();
        let app = store
            .load(&legacy_archive(&image_config(&[&bottom, &top]), &[&bottom, &top], &[])[..])
            .unwrap();
        // Stored gzip-compressed; saved uncompressed.
        let fixture = store.load(&fixture("skopeo-oci-archive.tar")[..]).unwrap();
        let images = [
            to_save(&hello, &["hello-world:latest"]),
            to_save(&app[0], &["me/app:1", "me/app:2"]),
            to_save(&fixture[0], &[]),
        ];
        let mut archive = Vec::new();
        store.save(&images, &mut archive).unwrap();

        let files = files(&archive);
        assert_eq!(files["oci-layout"], OCI_LAYOUT);
        let index: serde_json::Value = serde_json::from_slice(&files["index.json"]).unwrap();
        let annotations = &index["manifests"][0]["annotations"];
        assert_eq!(
            annotations[oci::ANNOTATION_IMAGE_NAME],
            "docker.io/library/hello-world:latest"
        );
        assert_eq!(annotations[oci::ANNOTATION_REF_NAME], "latest");
        assert_eq!(
            index["manifests"].as_array().unwrap().len(),
            4,
            "one entry per tag, one untagged"
        );
        let legacy: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
        assert_eq!(
            legacy[1]["Config"],
            format!("blobs/sha256/{}", app[0].id.hex())
        );
        assert_eq!(
            legacy[1]["RepoTags"],
            serde_json::json!(["me/app:1", "me/app:2"])
        );
        let repositories: serde_json::Value =
            serde_json::from_slice(&files["repositories"]).unwrap();
        assert_eq!(repositories["me/app"]["2"], app[0].layers[1].diff_id.hex());
        let fixture_layer = &fixture[0].layers[0];
        let saved_layer = &files[&format!("blobs/sha256/{}", fixture_layer.diff_id.hex())];
        assert_eq!(
            Digest::of(saved_layer),
            fixture_layer.diff_id,
            "layers are saved uncompressed"
        );

        let (_other_tmp, other) = crate::test_support::store();
        let reloaded = other.load(&archive[..]).unwrap();
        let summary = |i: &LoadedImage| {
            (
                i.id.clone(),
                i.repo_tags.clone(),
                i.layers
                    .iter()
                    .map(|l| l.chain_id.clone())
                    .collect::<Vec<_>>(),
            )
        };
        let expected: Vec<_> = [
            (&hello, &images[0]),
            (&app[0], &images[1]),
            (&fixture[0], &images[2]),
        ]
        .iter()
        .map(|(i, s)| (i.id.clone(), s.repo_tags.clone(), s.layers.clone()))
        .collect();
        assert_eq!(reloaded.iter().map(summary).collect::<Vec<_>>(), expected);
    }

    #[test]
    fn refuses_layers_that_do_not_match_the_config() {
        if !root_or_skip() {
            return;
        }
        let (_tmp, store) = store();
        let hello = store
            .import(
                &hello_world_rootfs()[..],
                hello_world_config(),
                hello_world_created(),
                "",
            )
            .unwrap();
        let mut image = to_save(&hello, &[]);
        image.layers.clear();
        let mut out = Vec::new();
        assert!(matches!(
            store.save(&[image], &mut out),
            Err(Error::InvalidImage { .. })
        ));
        assert!(out.is_empty(), "nothing written before the check");
    }

    #[test]
    fn a_corrupt_layer_fails_the_save_without_terminating_the_archive() {
        if !root_or_skip() {
            return;
        }
        let (_tmp, store) = store();
        let hello = store
            .import(
                &hello_world_rootfs()[..],
                hello_world_config(),
                hello_world_created(),
                "",
            )
            .unwrap();
        let blob = store.blob_path(&hello.layers[0].blob);
        let mut bytes = std::fs::read(&blob).unwrap();
        let last = bytes.len() - 2000;
        bytes[last] ^= 0xff;
        std::fs::write(&blob, bytes).unwrap();
        let mut out = Vec::new();
        let err = store.save(&[to_save(&hello, &[])], &mut out).unwrap_err();
        assert!(
            err.to_string().contains(hello.layers[0].diff_id.as_str()),
            "{err}"
        );
        assert!(
            !out.windows(10).any(|w| w == b"index.json"),
            "the archive stops at the failure"
        );
    }

    #[test]
    fn an_abandoned_archive_gets_no_end_marker() {
        let write = |result: Result<()>| {
            let mut out = Vec::new();
            let mut writer = ArchiveWriter::new(&mut out);
            writer.file("f", b"data").unwrap();
            let _ = writer.finish(result);
            out.len()
        };
        assert_eq!(write(Ok(())), 512 + 512 + 1024);
        assert_eq!(write(Err(Error::InvalidArchive("test".into()))), 512 + 512);
    }
}
