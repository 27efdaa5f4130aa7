//! Containers: create, look up, list, inspect, remove; the lifecycle (start, stop, wait,
//! attach) is in `lifecycle`, logs in `logs`.

mod archive_tree;
mod config;
mod etc_files;
mod exec;
mod filesystem;
mod health;
mod layer_diff;
pub(crate) use layer_diff::{Exclude, write_layer_tar};
mod lifecycle;
mod limits;
mod log_config;
mod log_reader;
mod logs;
pub mod model;
pub mod mounts;
pub mod namespaces;
mod resources;
mod security;
pub mod spec;
mod top;
mod update;
mod user;
mod views;

pub use crate::shim::OutputStream;
pub use exec::ExecTable;
pub use lifecycle::WaitCondition;
pub use log_config::{DRIVERS as LOG_DRIVERS, DefaultLogConfig};
pub use logs::LogOptions;
pub use model::{Container, Status};

use crate::error::{Error, Result};
use crate::filters::Filters;
use crate::{Engine, clock, ids};
use serde_json::Value;

pub const LIST_FILTERS: &[&str] = views::FILTERS;

/// What a new container starts from: an image record, or a build step's layer chain.
pub(crate) struct ContainerSource {
    /// The image as the user named it, shown by `ps`.
    pub name: String,
    /// `sha256:<hex>` of the image config the container starts from.
    pub image_id: String,
    /// Chain ids, bottom first.
    pub layers: Vec<String>,
    /// The image config's `config` section, under the request's settings.
    pub config: Value,
    /// Whether `image_id` is an image record the container pins (false for a build step,
    /// whose image exists only in the build cache; its layers are pinned by the record).
    pub pinned: bool,
}

impl Engine {
    /// Resolves what a user typed (full id, name, unique id prefix) to a container id.
    pub fn resolve_container(&self, name: &str) -> Result<String> {
        let wanted = name.strip_prefix('/').unwrap_or(name);
        let all = self.db.container_names()?;
        if let Some((id, _)) = all.iter().find(|(id, n)| id == wanted || n == wanted) {
            return Ok(id.clone());
        }
        if !wanted.is_empty() {
            let matches: Vec<&String> = all
                .iter()
                .filter(|(id, _)| id.starts_with(wanted))
                .map(|(id, _)| id)
                .collect();
            match matches.as_slice() {
                [one] => return Ok((*one).clone()),
                [] => {}
                _ => {
                    return Err(Error::invalid(format!(
                        "multiple IDs found with provided prefix: {wanted}"
                    )));
                }
            }
        }
        Err(Error::no_such_container(name))
    }

    /// Emits a container event with Docker's attributes (image, name, labels) plus `extra`.
    pub(crate) fn container_event(&self, c: &Container, action: &str, extra: &[(&str, &str)]) {
        let mut attributes = c.labels();
        attributes.extend(crate::events::attrs(&[
            ("image", &c.image_name),
            ("name", &c.name),
        ]));
        attributes.extend(crate::events::attrs(extra));
        self.events.emit("container", action, &c.id, attributes);
    }

    pub(crate) fn container_record(&self, id: &str) -> Result<Container> {
        self.db
            .container(id)?
            .ok_or_else(|| Error::no_such_container(id))
    }

    pub(crate) fn container_records(&self) -> Result<Vec<Container>> {
        self.db.containers()
    }

    fn save_container(&self, c: &Container) -> Result<()> {
        self.db.update_container(&c.id, c)
    }

    /// `POST /containers/create`: returns the new id and warnings.
    pub async fn create_container(
        &self,
        name: Option<&str>,
        body: &Value,
    ) -> Result<(String, Vec<String>)> {
        let image_name = body["Image"].as_str().unwrap_or_default();
        if image_name.is_empty() {
            return Err(Error::invalid(
                "config cannot be empty in order to create a container",
            ));
        }
        let name = name
            .filter(|n| !n.is_empty())
            .map(ids::validate_name)
            .transpose()
            .map_err(Error::invalid)?;
        self.ensure_builtin(image_name).await?;
        // Held so the image cannot be removed between lookup and the record that pins it.
        let _guard = self.image_lock.lock().await;
        let image = self.resolve_image(image_name)?;
        let source = ContainerSource {
            name: image_name.to_string(),
            config: self.image_config(&image.id)?["config"].take(),
            image_id: image.id,
            layers: image.layers,
            pinned: true,
        };
        let id = self.create_from(source, name, body)?;
        Ok((id, Vec::new()))
    }

    /// Creates a container from `source` with the request `body` (Docker's create JSON).
    pub(crate) fn create_from(
        &self,
        source: ContainerSource,
        name: Option<&str>,
        body: &Value,
    ) -> Result<String> {
        let id = ids::new_id();
        let mut resolved = config::resolve(&id, body, &source.config, &source.name)?;
        let log = log_config::merge_defaults(
            &resolved.host_config["LogConfig"],
            &self.config.default_log,
        );
        log_config::validate(&log)?;
        resolved.host_config["LogConfig"] = log;
        limits::validate(&resolved.host_config)?;
        namespaces::validate(&resolved.host_config)?;
        etc_files::NameOptions::of(&resolved.host_config, || self.host_gateway())?;
        resources::from_host_config(&resolved.host_config)?;
        security::validate(&resolved.host_config)?;
        let mounts = self.create_mounts(&resolved.host_config, &resolved.config["Volumes"])?;
        let networks =
            self.initial_attachments(&resolved.host_config, &body["NetworkingConfig"])?;
        let container = Container {
            id: id.clone(),
            name: String::new(),
            created: clock::now(),
            image_name: source.name,
            image_id: source.image_id,
            layers: source.layers,
            path: resolved.path,
            args: resolved.args,
            config: resolved.config,
            host_config: resolved.host_config,
            state: Default::default(),
            restart_count: 0,
            mounts,
            networks,
        };
        // Files first, record second: a crash in between leaves only a directory that startup
        // removes, never a record without its files.
        let dir = self.container_dir(&id);
        for sub in ["upper", "work"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        let inserted = self.insert_with_name(container, name, source.pinned);
        if inserted.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        inserted?;
        if let Ok(c) = self.container_record(&id) {
            self.container_event(&c, "create", &[]);
        }
        Ok(id)
    }

    /// Inserts under the requested name, or a generated one (retrying on a clash).
    /// `pinned`: the record refers to its image record (not so for a build step's container).
    fn insert_with_name(&self, mut c: Container, name: Option<&str>, pinned: bool) -> Result<()> {
        let image_id = c.image_id.clone();
        let image_ref = pinned.then_some(image_id.as_str());
        if let Some(n) = name {
            c.name = n.to_string();
            return self.db.insert_container(&c.id, &c.name, image_ref, &c);
        }
        for attempt in 0..10 {
            c.name = ids::generate_name(attempt);
            match self.db.insert_container(&c.id, &c.name, image_ref, &c) {
                Err(e) if e.kind == crate::ErrorKind::Conflict => continue,
                other => return other,
            }
        }
        Err(Error::internal(
            "could not generate a unique container name",
        ))
    }

    /// `GET /containers/json`.
    pub fn list_containers(
        &self,
        all: bool,
        limit: Option<usize>,
        filters: &Filters,
    ) -> Result<Vec<Value>> {
        let mut list = self.container_records()?;
        list.sort_by(|a, b| b.created.cmp(&a.created));
        let mut out = Vec::new();
        for c in list {
            let shown_by_default = c.state.running();
            if !(all || shown_by_default || !filters.get("status").is_empty()) {
                continue;
            }
            if !views::matches(filters, &c, |name| {
                self.resolve_image(name).ok().map(|r| r.id)
            }) {
                continue;
            }
            out.push(views::summary(&c, &self.related(&c, &[])));
            if limit.is_some_and(|l| out.len() >= l) {
                break;
            }
        }
        Ok(out)
    }

    /// `GET /containers/{id}/json`.
    pub fn inspect_container(&self, name: &str) -> Result<Value> {
        let id = self.resolve_container(name)?;
        let c = self.container_record(&id)?;
        let lower: Vec<String> = c
            .layers
            .iter()
            .rev()
            .map(|l| self.layer_diff_dir(l).display().to_string())
            .collect();
        let exec_ids = self.exec_ids(&id);
        Ok(views::inspect(
            &c,
            &self.container_dir(&id),
            &lower,
            &self.related(&c, &exec_ids),
        ))
    }

    /// Resolves a new container's mounts, creating the volumes they name and the host
    /// directories of `-v` binds that do not exist yet (as Docker does).
    fn create_mounts(
        &self,
        host_config: &Value,
        image_volumes: &Value,
    ) -> Result<Vec<mounts::MountPoint>> {
        let from = |name: &str| -> Result<Vec<mounts::MountPoint>> {
            Ok(self
                .container_record(&self.resolve_container(name)?)?
                .mounts)
        };
        let mut list = mounts::resolve(host_config, image_volumes, from)?;
        for m in &mut list {
            match m.kind {
                mounts::MountKind::Volume => {
                    let (name, labels) = match &m.volume {
                        Some(n) => (n.clone(), serde_json::Map::new()),
                        None => {
                            let mut labels = serde_json::Map::new();
                            labels.insert(
                                "com.docker.volume.anonymous".into(),
                                Value::String(String::new()),
                            );
                            (ids::new_id(), labels)
                        }
                    };
                    self.ensure_volume(&name, serde_json::Map::new(), labels)?;
                    m.volume = Some(name);
                }
                mounts::MountKind::Bind => {
                    if let Some(src) = m.source.as_ref().filter(|s| !s.exists()) {
                        std::fs::create_dir_all(src)?;
                    }
                }
                mounts::MountKind::Tmpfs => {}
            }
        }
        Ok(list)
    }

    /// `DELETE /containers/{id}`; `volumes` also removes its anonymous volumes (`rm -v`).
    pub async fn remove_container(&self, name: &str, force: bool, volumes: bool) -> Result<()> {
        let id = self.resolve_container(name)?;
        let live = self.live.get(&id);
        let c = {
            let _guard = live.lock.lock().await;
            self.container_record(&id)?
        };
        if c.state.running() {
            if !force {
                return Err(Error::conflict(format!(
                    "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
                    c.name
                )));
            }
            self.kill_and_wait(&id, libc::SIGKILL).await?;
        }
        let _guard = live.lock.lock().await;
        if self.db.container::<Container>(&id)?.is_none() {
            return Ok(()); // removed meanwhile (auto-remove after the kill)
        }
        self.forget_container(&id)?;
        self.container_event(&c, "destroy", &[]);
        if volumes {
            self.remove_anonymous_volumes(&c).await;
        }
        Ok(())
    }

    /// Removes the anonymous volumes of a removed container that no other container uses.
    pub(crate) async fn remove_anonymous_volumes(&self, c: &Container) {
        for name in c.mounts.iter().filter_map(|m| m.volume.as_deref()) {
            let anonymous = self
                .db
                .volume::<crate::volumes::Volume>(name)
                .ok()
                .flatten()
                .is_some_and(|v| v.is_anonymous());
            if anonymous && let Err(e) = self.remove_volume(name, false).await {
                tracing::debug!(volume = name, error = %e, "anonymous volume kept");
            }
        }
    }

    /// Deletes the record first, then the files: a crash in between leaves orphan files that
    /// startup removes, never a record without files.
    fn forget_container(&self, id: &str) -> Result<()> {
        self.db.delete_container(id)?;
        self.execs.forget_container(id);
        let _ = std::fs::remove_dir_all(self.exec_dir(id));
        let _ = std::fs::remove_dir_all(self.container_dir(id));
        self.live.remove(id);
        Ok(())
    }

    /// Removes container directories that have no record (a crash between file and record).
    pub(crate) fn remove_orphan_containers(&self) -> Result<()> {
        let known: std::collections::HashSet<String> = self
            .db
            .container_names()?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        for root in [
            self.config.data_root.join("containers"),
            self.config.exec_root.join("containers"),
        ] {
            for entry in std::fs::read_dir(&root)? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if !known.contains(&name) {
                    tracing::info!(container = %name, dir = %entry.path().display(), "removing orphaned container files");
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        Ok(())
    }

    /// Counts for `/info`: (total, running, paused, stopped).
    pub fn container_counts(&self) -> Result<(usize, usize, usize, usize)> {
        let all = self.container_records()?;
        let running = all
            .iter()
            .filter(|c| c.state.status == Status::Running)
            .count();
        let paused = all
            .iter()
            .filter(|c| c.state.status == Status::Paused)
            .count();
        Ok((all.len(), running, paused, all.len() - running - paused))
    }

    /// Where a mount's data comes from on the host (binds and volumes).
    pub(crate) fn mount_source(&self, m: &mounts::MountPoint) -> Option<std::path::PathBuf> {
        match m.kind {
            mounts::MountKind::Bind => m.source.clone(),
            mounts::MountKind::Volume => {
                let v = self
                    .db
                    .volume::<crate::volumes::Volume>(m.volume.as_deref()?)
                    .ok()??;
                Some(self.volume_source(&v))
            }
            mounts::MountKind::Tmpfs => None,
        }
    }

    fn related<'a>(&self, c: &Container, exec_ids: &'a [String]) -> views::Related<'a> {
        let mounts = c
            .mounts
            .iter()
            .map(|m| mounts::inspect_json(m, self.mount_source(m).as_deref()))
            .collect();
        let (network_settings, ports) = self.container_network_json(c);
        views::Related {
            mounts,
            network_settings,
            ports,
            exec_ids,
        }
    }

    pub fn image_count(&self) -> Result<usize> {
        Ok(self.db.images()?.len())
    }
}

/// `--group-add`: the groups every process of the container joins, by name or number.
fn group_add(hc: &serde_json::Value) -> Vec<String> {
    hc["GroupAdd"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_str().map(str::to_string))
        .collect()
}
