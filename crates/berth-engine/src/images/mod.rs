//! Images: lookup by name or id, listing, inspect, history, tag, remove, load, save, import,
//! the built-in hello-world, and collection of layers and blobs nothing refers to.

mod changes;
pub(crate) use changes::apply as apply_changes;
pub mod registry;
pub mod views;

use crate::Engine;
use crate::clock;
use crate::db::ImageRow;
use crate::error::{Error, Result};
use crate::reference::Reference;
use berth_image::{Digest, LoadedImage, SaveImage};
use bytes::Bytes;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::SystemTime;
use tokio::io::AsyncRead;
use tokio::sync::mpsc;
use tokio_util::io::SyncIoBridge;

/// Image configs are small JSON documents; anything larger is refused.
const MAX_CONFIG: u64 = 8 << 20;

pub const HELLO_WORLD: &str = "hello-world:latest";

impl Engine {
    /// Finds an image by reference (`busybox`, `busybox:1`), full id or unique id prefix.
    pub fn resolve_image(&self, name: &str) -> Result<ImageRow> {
        if let Ok(r) = Reference::parse(name)
            && let Some(id) = self.db.tag_target(&r.with_default_tag().to_string())?
        {
            return self
                .db
                .image(&id)?
                .ok_or_else(|| Error::no_such_image(name));
        }
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        if !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut ids = self.db.image_ids_with_prefix(&hex.to_ascii_lowercase())?;
            if ids.len() == 1 {
                return self
                    .db
                    .image(&ids.remove(0))?
                    .ok_or_else(|| Error::no_such_image(name));
            }
        }
        let shown = Reference::parse(name).map(|r| r.with_default_tag().to_string());
        Err(Error::no_such_image(shown.as_deref().unwrap_or(name)))
    }

    /// The image's config document (OCI/Docker image config JSON).
    pub(crate) fn image_config(&self, id: &str) -> Result<Value> {
        let digest: Digest = id
            .parse()
            .map_err(|_| Error::internal(format!("bad image id {id}")))?;
        let bytes = self.store.read_blob(&digest, MAX_CONFIG)?;
        Ok(serde_json::from_slice(&bytes)?)
    }

    /// Every image (berth keeps no intermediate images yet, so `all` changes nothing).
    pub fn list_images(&self, filters: &crate::filters::Filters) -> Result<Vec<Value>> {
        let tags = self.db.tags()?;
        let mut out = Vec::new();
        for row in self.db.images()? {
            let repo_tags: Vec<String> = tags
                .iter()
                .filter(|(_, id)| *id == row.id)
                .map(|(t, _)| t.clone())
                .collect();
            let config = self.image_config(&row.id)?;
            if !views::image_matches(filters, &repo_tags, &config) {
                continue;
            }
            let mut summary = views::summary(
                &row,
                views::matching_tags(filters, repo_tags),
                &config,
                self.db.containers_using(&row.id)?.len(),
            );
            summary["RepoDigests"] = serde_json::json!(registry::repo_digests(self, &row.id));
            out.push(summary);
        }
        Ok(out)
    }

    pub fn inspect_image(&self, name: &str) -> Result<Value> {
        let row = self.resolve_image(name)?;
        let config = self.image_config(&row.id)?;
        let layer_dirs: Vec<String> = row
            .layers
            .iter()
            .rev()
            .map(|c| self.layer_diff_dir(c).display().to_string())
            .collect();
        let mut v = views::inspect(&row, self.db.tags_of(&row.id)?, &config, &layer_dirs);
        v["RepoDigests"] = serde_json::json!(registry::repo_digests(self, &row.id));
        Ok(v)
    }

    pub fn image_history(&self, name: &str) -> Result<Vec<Value>> {
        let row = self.resolve_image(name)?;
        let config = self.image_config(&row.id)?;
        let mut sizes = Vec::new();
        for chain in &row.layers {
            let chain: Digest = chain.parse().map_err(|_| Error::internal("bad chain id"))?;
            sizes.push(self.store.layer(&chain)?.map_or(0, |l| l.size));
        }
        Ok(views::history(
            &row,
            self.db.tags_of(&row.id)?,
            &config,
            &sizes,
        ))
    }

    pub(crate) fn layer_diff_dir(&self, chain: &str) -> std::path::PathBuf {
        let hex = chain.strip_prefix("sha256:").unwrap_or(chain);
        self.config.data_root.join("layers").join(hex).join("diff")
    }

    /// `docker tag SOURCE REPO[:TAG]`.
    pub async fn tag_image(&self, source: &str, repo: &str, tag: Option<&str>) -> Result<()> {
        let _guard = self.image_lock.lock().await;
        let row = self.resolve_image(source)?;
        let target = match tag.filter(|t| !t.is_empty()) {
            Some(t) => format!("{repo}:{t}"),
            None => repo.to_string(),
        };
        let r = Reference::parse(&target).map_err(Error::invalid)?;
        if r.digest.is_some() {
            return Err(Error::invalid(
                "refusing to create a tag with a digest reference",
            ));
        }
        self.db.set_tag(&r.with_default_tag().to_string(), &row.id)
    }

    /// `docker rmi`: untag, and delete the image when no tag and no container is left.
    pub async fn remove_image(&self, name: &str, force: bool) -> Result<Vec<Value>> {
        let _guard = self.image_lock.lock().await;
        let row = self.resolve_image(name)?;
        let short = &row.id[7..19];
        let tags = self.db.tags_of(&row.id)?;
        let users = self.db.containers_using(&row.id)?;
        let by_tag = Reference::parse(name)
            .ok()
            .map(|r| r.with_default_tag().to_string())
            .filter(|t| tags.contains(t));
        let mut out = Vec::new();

        if let Some(tag) = &by_tag {
            if tags.len() > 1 || (!users.is_empty() && force) {
                self.db.delete_tag(tag)?;
                out.push(json!({"Untagged": tag}));
                return Ok(out);
            }
            if let Some(user) = users.first() {
                return Err(Error::conflict(format!(
                    "conflict: unable to remove repository reference \"{name}\" (must force) - \
                     container {} is using its referenced image {short}",
                    &user[..12]
                )));
            }
        } else {
            if tags.len() > 1 && !force {
                return Err(Error::conflict(format!(
                    "conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories"
                )));
            }
            if let Some(user) = users.first() {
                let running = self.container_record(user)?.state.running();
                let how = if running {
                    "cannot be forced"
                } else {
                    "must be forced"
                };
                let kind = if running { "running" } else { "stopped" };
                if running || !force {
                    return Err(Error::conflict(format!(
                        "conflict: unable to delete {short} ({how}) - image is being used by {kind} container {}",
                        &user[..12]
                    )));
                }
            }
        }
        for tag in &tags {
            out.push(json!({"Untagged": tag}));
        }
        if users.is_empty() {
            self.db.delete_image(&row.id)?;
            out.push(json!({"Deleted": row.id}));
            for chain in self.collect_garbage_locked()? {
                out.push(json!({"Deleted": chain}));
            }
        } else {
            for tag in &tags {
                self.db.delete_tag(tag)?;
            }
        }
        Ok(out)
    }

    /// Records images the store has written, with their tags; returns the "Loaded image" lines.
    fn record_loaded(&self, images: &[LoadedImage]) -> Result<Vec<String>> {
        let mut lines = Vec::new();
        for img in images {
            let tags: Vec<String> = img
                .repo_tags
                .iter()
                .map(|t| {
                    Reference::parse(t)
                        .map(|r| r.with_default_tag().to_string())
                        .map_err(Error::invalid)
                })
                .collect::<Result<_>>()?;
            let row = ImageRow {
                id: img.id.to_string(),
                layers: img.layers.iter().map(|l| l.chain_id.to_string()).collect(),
                size: img.layers.iter().map(|l| l.size).sum(),
                added: clock::unix_seconds(SystemTime::now()),
            };
            self.db.put_image(&row, &tags)?;
            if tags.is_empty() {
                lines.push(format!("Loaded image ID: {}", row.id));
            }
            lines.extend(tags.iter().map(|t| format!("Loaded image: {t}")));
        }
        Ok(lines)
    }

    /// `docker load`: reads an image archive from `body`.
    pub async fn load_images<R>(&self, body: R) -> Result<Vec<String>>
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        let _guard = self.image_lock.lock().await;
        let store = self.store.clone();
        let loaded = tokio::task::spawn_blocking(move || store.load(SyncIoBridge::new(body)))
            .await
            .map_err(|e| Error::internal(e.to_string()))??;
        if loaded.is_empty() {
            return Err(Error::invalid("no images found in the archive"));
        }
        self.record_loaded(&loaded)
    }

    /// `docker import`: a rootfs tar becomes a one-layer image.
    pub async fn import_image<R>(
        &self,
        body: R,
        reference: Option<&str>,
        changes: &[String],
        message: &str,
    ) -> Result<String>
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        let tag = reference
            .filter(|r| !r.is_empty())
            .map(|r| {
                Reference::parse(r)
                    .map(|r| r.with_default_tag().to_string())
                    .map_err(Error::invalid)
            })
            .transpose()?;
        let mut config = serde_json::Map::new();
        changes::apply(&mut config, changes)?;
        let _guard = self.image_lock.lock().await;
        let store = self.store.clone();
        // Docker's history comment for an import without a message.
        let message = if message.is_empty() {
            "Imported from -".to_string()
        } else {
            message.to_string()
        };
        let mut image = tokio::task::spawn_blocking(move || {
            store.import(
                SyncIoBridge::new(body),
                Value::Object(config),
                SystemTime::now(),
                &message,
            )
        })
        .await
        .map_err(|e| Error::internal(e.to_string()))??;
        image.repo_tags = tag.into_iter().collect();
        self.record_loaded(std::slice::from_ref(&image))?;
        Ok(image.id.to_string())
    }

    /// `docker save`: resolves every name first (so a bad one is a clean 404), then streams.
    pub async fn save_images(
        &self,
        names: &[String],
    ) -> Result<mpsc::Receiver<std::io::Result<Bytes>>> {
        let mut images: Vec<SaveImage> = Vec::new();
        for name in names {
            let row = self.resolve_image(name)?;
            let tag = Reference::parse(name)
                .ok()
                .map(|r| r.with_default_tag().to_string())
                .filter(|t| {
                    self.db.tag_target(t).ok().flatten().as_deref() == Some(row.id.as_str())
                });
            // A name that is a tag saves that tag; an id saves every tag of the image.
            let repo_tags = match tag {
                Some(t) => vec![t],
                None => self.db.tags_of(&row.id)?,
            };
            let id: Digest = row
                .id
                .parse()
                .map_err(|_| Error::internal("bad image id"))?;
            let layers = row.layers.iter().filter_map(|c| c.parse().ok()).collect();
            match images.iter_mut().find(|i| i.id == id) {
                Some(existing) => existing.repo_tags.extend(repo_tags),
                None => images.push(SaveImage {
                    id,
                    repo_tags,
                    layers,
                }),
            }
        }
        let (mut writer, rx) = crate::stream::ChannelWriter::new();
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = store.save(&images, &mut writer) {
                writer.fail(e.to_string());
            }
        });
        Ok(rx)
    }

    /// Puts hello-world back when it is missing, as a pull would.
    pub(crate) async fn seed_builtin_images(&self) -> Result<()> {
        if self.db.tag_target(HELLO_WORLD)?.is_some() {
            return Ok(());
        }
        let _guard = self.image_lock.lock().await;
        let store = self.store.clone();
        let mut image = tokio::task::spawn_blocking(move || {
            store.import(
                std::io::Cursor::new(berth_image::hello_world_rootfs()),
                berth_image::hello_world_config(),
                berth_image::hello_world_created(),
                "",
            )
        })
        .await
        .map_err(|e| Error::internal(e.to_string()))??;
        image.repo_tags = vec![HELLO_WORLD.into()];
        self.record_loaded(&[image])?;
        Ok(())
    }

    /// Hello-world seeding for `run`/`create` of a missing `hello-world`, the one image that
    /// needs no registry.
    pub async fn ensure_builtin(&self, name: &str) -> Result<()> {
        let is_hello =
            Reference::parse(name).is_ok_and(|r| r.with_default_tag().to_string() == HELLO_WORLD);
        if is_hello {
            self.seed_builtin_images().await
        } else {
            Ok(())
        }
    }

    pub(crate) async fn collect_garbage(&self) -> Result<Vec<String>> {
        let _guard = self.image_lock.lock().await;
        self.collect_garbage_locked()
    }

    /// Removes layers and blobs no image or container refers to (what a crash or an rmi left),
    /// returning the removed layers' chain ids. Call with `image_lock` held.
    pub(crate) fn collect_garbage_locked(&self) -> Result<Vec<String>> {
        let mut keep_layers: HashSet<String> = HashSet::new();
        let mut keep_blobs: HashSet<String> = HashSet::new();
        for row in self.db.images()? {
            keep_blobs.insert(row.id.clone());
            keep_layers.extend(row.layers);
        }
        for c in self.container_records()? {
            keep_layers.extend(c.layers);
        }
        for entry in self.db.build_cache_entries()? {
            keep_layers.extend(entry.layers);
        }
        keep_layers.extend(self.build_leases.all());
        let mut removed = Vec::new();
        for chain in self.store.list_layers()? {
            if keep_layers.contains(&chain.to_string()) {
                if let Some(layer) = self.store.layer(&chain)? {
                    keep_blobs.insert(layer.blob.to_string());
                }
            } else {
                self.store.remove_layer(&chain)?;
                removed.push(chain.to_string());
            }
        }
        for blob in self.store.list_blobs()? {
            if !keep_blobs.contains(&blob.to_string()) {
                self.store.remove_blob(&blob)?;
            }
        }
        Ok(removed)
    }
}
