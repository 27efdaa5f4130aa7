//! A container's filesystem from outside: what changed (`diff`), all of it (`export`), paths
//! in and out (`cp`, the archive API), and a new image from it (`commit`). A running
//! container is read through /proc/<pid>/root (its live mounts, volumes included); a stopped
//! one through a read-only overlay of its upper dir and image layers, mounted for the
//! duration and never left behind.

use super::archive_tree::append_tree;
use super::layer_diff::{Exclude, is_whiteout, write_layer_tar};
use super::model::Container;
use crate::error::{Error, Result};
use crate::stream::{ByteStream, ChannelWriter};
use crate::{Engine, clock, ids};
use nix::mount::{MntFlags, MsFlags};
use serde_json::{Value, json};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A view of a container's root; unmounts its temporary mount when dropped.
/// A path inside a container, held open; `path` reaches it through the descriptor.
struct Confined {
    path: PathBuf,
    held: Held,
}

enum Held {
    Dir(berth_fs::Dir),
    File(std::fs::File),
}

pub struct RootView {
    root: PathBuf,
    mounted: bool,
    /// A running container is frozen while its files are read, so none of its processes can
    /// swap a directory for a symlink mid-walk (Docker's fix for CVE-2018-15664).
    frozen: Option<berth_cgroups::Cgroup>,
}

impl RootView {
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for RootView {
    fn drop(&mut self) {
        if let Some(cgroup) = self.frozen.take() {
            let _ = cgroup.thaw();
        }
        if self.mounted {
            let _ = nix::mount::umount2(&self.root, MntFlags::MNT_DETACH);
            let _ = std::fs::remove_dir(&self.root);
        }
    }
}

/// Docker's change kinds.
const MODIFIED: u8 = 0;
const ADDED: u8 = 1;
const DELETED: u8 = 2;

impl Engine {
    pub(crate) fn root_view(&self, c: &Container) -> Result<RootView> {
        if c.state.running() && c.state.pid > 0 {
            return Ok(RootView {
                root: PathBuf::from(format!("/proc/{}/root", c.state.pid)),
                mounted: false,
                frozen: None,
            });
        }
        self.overlay_view(c)
    }

    /// The container's own filesystem (its upper dir over the image's layers), without the
    /// mounts it runs with: what `export` writes.
    fn overlay_view(&self, c: &Container) -> Result<RootView> {
        let target = self
            .config
            .data_root
            .join("tmp")
            .join(format!("view-{}", &ids::new_id()[..16]));
        std::fs::create_dir_all(&target)?;
        let lower: Vec<String> = std::iter::once(self.container_dir(&c.id).join("upper"))
            .chain(c.layers.iter().rev().map(|l| self.layer_diff_dir(l)))
            .map(|p| p.display().to_string())
            .collect();
        // With only lower layers, overlayfs mounts read-only and needs no work dir.
        let data = format!("lowerdir={}", lower.join(":"));
        nix::mount::mount(
            Some("overlay"),
            &target,
            Some("overlay"),
            MsFlags::MS_RDONLY,
            Some(data.as_str()),
        )
        .map_err(|e| {
            let _ = std::fs::remove_dir(&target);
            Error::internal(format!("mounting a view of container {}: {e}", c.id))
        })?;
        Ok(RootView {
            root: target,
            mounted: true,
            frozen: None,
        })
    }

    /// A view for reading: a running container is frozen until the view is dropped (unless
    /// it was paused already, then it stays as it is).
    /// `own_files` reads the container's filesystem without its mounts (`export`);
    /// otherwise its live root, volumes included (`cp`).
    fn reading_view(&self, c: &Container, own_files: bool) -> Result<RootView> {
        let mut view = if own_files {
            self.overlay_view(c)?
        } else {
            self.root_view(c)?
        };
        if c.state.status == super::Status::Running {
            let cgroup = self.open_cgroup(c)?;
            cgroup
                .freeze()
                .map_err(|e| Error::internal(format!("freezing {} for the copy: {e}", c.id)))?;
            view.frozen = Some(cgroup);
        }
        Ok(view)
    }

    /// `GET /containers/{id}/changes`.
    pub fn container_changes(&self, name: &str) -> Result<Vec<Value>> {
        let c = self.container_record(&self.resolve_container(name)?)?;
        let upper = self.container_dir(&c.id).join("upper");
        let lowers: Vec<PathBuf> = c
            .layers
            .iter()
            .rev()
            .map(|l| self.layer_diff_dir(l))
            .collect();
        let in_image = |rel: &Path| {
            lowers
                .iter()
                .any(|l| std::fs::symlink_metadata(l.join(rel)).is_ok())
        };
        let mut out = Vec::new();
        let mut stack = vec![PathBuf::new()];
        while let Some(rel) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(upper.join(&rel)) else {
                continue;
            };
            for entry in entries.flatten() {
                let rel = rel.join(entry.file_name());
                let Ok(meta) = entry.metadata() else { continue };
                let kind = if is_whiteout(&meta) {
                    DELETED
                } else if in_image(&rel) {
                    MODIFIED
                } else {
                    ADDED
                };
                if meta.is_dir() {
                    stack.push(rel.clone());
                }
                out.push(json!({"Path": format!("/{}", rel.display()), "Kind": kind}));
            }
        }
        out.sort_by(|a, b| a["Path"].as_str().cmp(&b["Path"].as_str()));
        Ok(out)
    }

    /// `GET /containers/{id}/export`: the whole filesystem as a tar.
    pub fn export_container(&self, name: &str) -> Result<ByteStream> {
        let c = self.container_record(&self.resolve_container(name)?)?;
        let view = self.reading_view(&c, true)?;
        let (writer, rx) = ChannelWriter::new();
        tokio::task::spawn_blocking(move || {
            let mut tar = tar::Builder::new(writer);
            tar.follow_symlinks(false);
            let result = tar
                .append_dir_all(".", view.root())
                .and_then(|()| tar.finish());
            if let Err(e) = result
                && let Ok(w) = tar.into_inner()
            {
                w.fail(e.to_string());
            }
            drop(view);
        });
        Ok(rx)
    }

    /// Opens `path` inside the container's root without ever leaving it, and names it by
    /// the open descriptor: a path string would be read in berthd's own mount namespace (the
    /// host's), never the container's.
    fn open_in_container(view: &RootView, path: &str) -> Result<Confined> {
        if !path.starts_with('/') {
            return Err(Error::invalid(format!(
                "Could not find the file {path} in container: path must be absolute"
            )));
        }
        let missing = |e: berth_fs::Error| {
            Error::not_found(format!("Could not find the file {path} in container: {e}"))
        };
        let root = berth_fs::Root::open(view.root()).map_err(|e| Error::internal(e.to_string()))?;
        let rel = Path::new(path.trim_start_matches('/'));
        let held = match root.open_dir(rel) {
            Ok(dir) => Held::Dir(dir),
            Err(_) => Held::File(
                root.open_file(rel, berth_fs::OFlags::RDONLY, berth_fs::Mode::empty())
                    .map_err(missing)?,
            ),
        };
        let fd = match &held {
            Held::Dir(d) => d.as_fd().as_raw_fd(),
            Held::File(f) => f.as_raw_fd(),
        };
        Ok(Confined {
            path: PathBuf::from(format!("/proc/self/fd/{fd}")),
            held,
        })
    }

    /// Docker's path stat (the `X-Docker-Container-Path-Stat` header, base64 of this JSON).
    fn path_stat(path: &Path, name: &str) -> Result<Value> {
        let meta = std::fs::metadata(path).map_err(|_| {
            Error::not_found(format!("Could not find the file {name} in container"))
        })?;
        let link = if meta.file_type().is_symlink() {
            std::fs::read_link(path)?.display().to_string()
        } else {
            String::new()
        };
        // Go's os.FileMode: permission bits plus type bits in the high bits.
        let mut mode = meta.mode() & 0o777;
        if meta.is_dir() {
            mode |= 1 << 31;
        } else if meta.file_type().is_symlink() {
            mode |= 1 << 27;
        }
        let file_name = archive_name(name);
        let mtime = std::time::UNIX_EPOCH
            + std::time::Duration::new(meta.mtime().max(0) as u64, meta.mtime_nsec() as u32);
        Ok(
            json!({"name": file_name, "size": meta.len(), "mode": mode, "mtime": clock::rfc3339(mtime), "linkTarget": link}),
        )
    }

    /// `HEAD /containers/{id}/archive`.
    pub fn stat_container_path(&self, name: &str, path: &str) -> Result<Value> {
        let c = self.container_record(&self.resolve_container(name)?)?;
        let view = self.root_view(&c)?;
        let target = Self::open_in_container(&view, path)?;
        Self::path_stat(&target.path, path)
    }

    /// `GET /containers/{id}/archive`: the path as a tar, named by its last component.
    pub fn archive_container_path(&self, name: &str, path: &str) -> Result<(Value, ByteStream)> {
        let c = self.container_record(&self.resolve_container(name)?)?;
        let view = self.reading_view(&c, false)?;
        let target = Self::open_in_container(&view, path)?;
        let stat = Self::path_stat(&target.path, path)?;
        let base = stat["name"].as_str().unwrap_or(".").to_string();
        let (writer, rx) = ChannelWriter::new();
        tokio::task::spawn_blocking(move || {
            let mut tar = tar::Builder::new(writer);
            tar.follow_symlinks(false);
            // The fd path is a magic link: a file is archived from its descriptor, and a
            // directory walked from `<fd>/.` so the walk starts inside it.
            let result = match &target.held {
                Held::Dir(_) => append_tree(&mut tar, &base, &target.path.join(".")),
                Held::File(f) => f
                    .try_clone()
                    .and_then(|mut f| tar.append_file(&base, &mut f)),
            }
            .and_then(|()| tar.finish());
            if let Err(e) = result
                && let Ok(w) = tar.into_inner()
            {
                w.fail(e.to_string());
            }
            drop(target);
            drop(view);
        });
        Ok((stat, rx))
    }

    /// `PUT /containers/{id}/archive`: extracts a tar under `path` inside the container. A
    /// stopped container gets the files in its upper directory.
    pub async fn extract_into_container<R>(&self, name: &str, path: &str, body: R) -> Result<()>
    where
        R: tokio::io::AsyncRead + Send + Unpin + 'static,
    {
        let c = self.container_record(&self.resolve_container(name)?)?;
        if c.host_config["ReadonlyRootfs"].as_bool().unwrap_or(false) {
            return Err(Error::forbidden("container rootfs is marked read-only"));
        }
        // A running container takes the files live; a stopped one in its upper directory,
        // which becomes part of what it sees at its next start.
        let running = c.state.running() && c.state.pid > 0;
        let live_view;
        let upper_view;
        let view = if running {
            live_view = self.root_view(&c)?;
            &live_view
        } else {
            upper_view = RootView {
                root: self.container_dir(&c.id).join("upper"),
                mounted: false,
                frozen: None,
            };
            &upper_view
        };
        let merged = self.root_view(&c)?;
        let check = Self::open_in_container(&merged, path)?;
        if !std::fs::metadata(&check.path).is_ok_and(|m| m.is_dir()) {
            return Err(Error::invalid(format!(
                "extraction point is not a directory: {path}"
            )));
        }
        drop(check);
        drop(merged);
        // Every entry is created through descriptors confined to the destination, which is
        // itself opened confined to the container's root: no symlink in the container can send
        // a write to the host.
        let root = berth_fs::Root::open(view.root()).map_err(|e| Error::internal(e.to_string()))?;
        let dest = root
            .create_dir_all(Path::new(path.trim_start_matches('/')), 0o755)
            .map_err(|e| Error::invalid(format!("extracting into {path}: {e}")))?;
        let dest = berth_fs::Root::from_dir(dest);
        let label = berth_image::Digest::of(format!("docker cp into {}:{path}", c.id).as_bytes());
        tokio::task::spawn_blocking(move || {
            berth_image::unpack_plain(tokio_util::io::SyncIoBridge::new(body), &dest, &label)
                .map(drop)
                .map_err(|e| match e {
                    berth_image::Error::LayerEntry { path, reason, .. } => Error::invalid(format!(
                        "refusing archive entry {}: {reason}",
                        path.display()
                    )),
                    other => Error::from(other),
                })
        })
        .await
        .map_err(|e| Error::internal(e.to_string()))?
    }

    /// `POST /commit`: the container's changes as a new layer on its image.
    pub async fn commit_container(
        &self,
        name: &str,
        reference: Option<&str>,
        comment: &str,
        author: &str,
        changes: &[String],
    ) -> Result<String> {
        let c = self.container_record(&self.resolve_container(name)?)?;
        let image = self
            .db
            .image(&c.image_id)?
            .ok_or_else(|| Error::no_such_image(&c.image_id))?;
        let mut config = self.image_config(&image.id)?;
        let mut container_config = serde_json::Map::new();
        for key in [
            "Env",
            "Cmd",
            "Entrypoint",
            "WorkingDir",
            "User",
            "Labels",
            "ExposedPorts",
            "Volumes",
            "StopSignal",
            "Healthcheck",
            "OnBuild",
        ] {
            if !c.config[key].is_null() {
                container_config.insert(key.to_string(), c.config[key].clone());
            }
        }
        crate::images::apply_changes(&mut container_config, changes)?;
        let tag = reference
            .filter(|r| !r.is_empty())
            .map(|r| {
                crate::reference::Reference::parse(r)
                    .map(|r| r.with_default_tag().to_string())
                    .map_err(Error::invalid)
            })
            .transpose()?;
        let upper = self.container_dir(&c.id).join("upper");
        let parent = image
            .layers
            .last()
            .map(|l| l.parse())
            .transpose()
            .map_err(|_| Error::internal("bad layer id"))?;
        let _guard = self.image_lock.lock().await;
        let store = self.store.clone();
        let layer = tokio::task::spawn_blocking(move || -> Result<berth_image::Layer> {
            let tar = write_layer_tar(&upper, &Exclude::Nothing, Vec::new())?;
            let (blob, _) = store.put_blob(std::io::Cursor::new(tar), None, u64::MAX)?;
            Ok(store.apply_layer(parent.as_ref(), &blob)?)
        })
        .await
        .map_err(|e| Error::internal(e.to_string()))??;
        let now = clock::now();
        config["config"] = Value::Object(container_config);
        config["created"] = json!(now);
        config["container"] = json!(c.id);
        if !author.is_empty() {
            config["author"] = json!(author);
        }
        config["rootfs"]["diff_ids"]
            .as_array_mut()
            .ok_or_else(|| Error::internal("image config has no diff_ids"))?
            .push(json!(layer.diff_id.to_string()));
        let mut entry = json!({"created": now, "created_by": format!("{} {}", c.path, c.args.join(" ")).trim()});
        if !comment.is_empty() {
            entry["comment"] = json!(comment);
        }
        if !config["history"].is_array() {
            config["history"] = json!([]);
        }
        config["history"]
            .as_array_mut()
            .expect("made an array")
            .push(entry);
        let bytes = serde_json::to_vec(&config)?;
        let (id, _) = self
            .store
            .put_blob(std::io::Cursor::new(bytes), None, 8 << 20)?;
        let mut layers = image.layers.clone();
        layers.push(layer.chain_id.to_string());
        let row = crate::db::ImageRow {
            id: id.to_string(),
            size: image.size + layer.size,
            layers,
            added: clock::unix_seconds(std::time::SystemTime::now()),
        };
        self.db.put_image(&row, tag.as_slice())?;
        self.container_event(&c, "commit", &[]);
        Ok(row.id)
    }
}

/// The name a path's archive and stat give it, as Docker names it: its last component, `.`
/// for a path ending in `/.` (`docker cp c:/dir/. dest` copies what is in the directory, not
/// the directory), `/` for the root.
fn archive_name(path: &str) -> String {
    if path == "." || path.ends_with("/.") {
        return ".".to_owned();
    }
    Path::new(path)
        .file_name()
        .map_or_else(|| "/".to_owned(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::archive_name;

    #[test]
    fn archives_are_named_as_dockers() {
        assert_eq!(archive_name("/d"), "d");
        assert_eq!(archive_name("/d/"), "d");
        assert_eq!(archive_name("/d/."), ".");
        assert_eq!(archive_name("."), ".");
        assert_eq!(archive_name("/"), "/");
    }
}
