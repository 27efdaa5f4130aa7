//! Named volumes with Docker's local driver: directories under `volumes/<name>/_data`, or a
//! mount described by driver options (`type`, `device`, `o`), mounted while containers use it;
//! and volumes of volume plugins (see [`plugin`]), which the plugin mounts for each container.

mod copy_up;
pub(crate) mod host_mount;
pub mod plugin;

pub use copy_up::copy_image_content;
pub(crate) use copy_up::is_opaque;

use crate::error::{Error, Result};
use crate::filters::Filters;
use crate::{Engine, clock, ids};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::path::PathBuf;

pub const LIST_FILTERS: &[&str] = &["dangling", "driver", "label", "name"];
pub const PRUNE_FILTERS: &[&str] = &["all", "label"];
/// The label Docker 23+ puts on anonymous volumes (prune removes only those unless `all`).
const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";
const LOCAL_OPTIONS: &[&str] = &["type", "device", "o", "size"];

/// Docker's built-in driver.
const LOCAL_DRIVER: &str = "local";

fn local_driver() -> String {
    LOCAL_DRIVER.to_string()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Volume {
    pub name: String,
    pub created: String,
    pub labels: Map<String, Value>,
    pub options: Map<String, Value>,
    /// `local`, or the name of the volume plugin that holds it.
    #[serde(default = "local_driver")]
    pub driver: String,
    /// A plugin volume's host path while mounted for a container, as its plugin said.
    #[serde(default)]
    pub mountpoint: Option<PathBuf>,
}

impl Volume {
    fn option(&self, key: &str) -> &str {
        self.options.get(key).and_then(Value::as_str).unwrap_or("")
    }

    pub fn is_anonymous(&self) -> bool {
        self.labels.contains_key(ANONYMOUS_LABEL)
    }

    /// A `type=none o=bind device=/path` volume is a bind of that path, mounted by nobody.
    pub fn bind_device(&self) -> Option<PathBuf> {
        let binds = self
            .option("o")
            .split(',')
            .any(|o| o == "bind" || o == "rbind");
        binds
            .then(|| PathBuf::from(self.option("device")))
            .filter(|p| p.is_absolute())
    }

    /// True when the data lives in a mount made from the driver options.
    pub fn needs_host_mount(&self) -> bool {
        self.is_local() && !self.option("type").is_empty() && self.bind_device().is_none()
    }

    pub fn is_local(&self) -> bool {
        self.driver == LOCAL_DRIVER
    }
}

/// Docker's rule for volume names.
pub fn validate_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest = chars.clone().next().is_some()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first && rest {
        Ok(())
    } else if name.len() < 2 && first {
        Err(Error::invalid(
            "volume name is too short, names should be at least two alphanumeric characters",
        ))
    } else {
        Err(Error::invalid(format!(
            "\"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )))
    }
}

impl Engine {
    pub(crate) fn volume_dir(&self, name: &str) -> PathBuf {
        self.config.data_root.join("volumes").join(name)
    }

    /// Where containers see the volume's data come from.
    pub(crate) fn volume_source(&self, v: &Volume) -> PathBuf {
        if !v.is_local() {
            return v.mountpoint.clone().unwrap_or_default();
        }
        v.bind_device()
            .unwrap_or_else(|| self.volume_dir(&v.name).join("_data"))
    }

    fn volume_json(&self, v: &Volume) -> Value {
        json!({
            "CreatedAt": v.created,
            "Driver": v.driver,
            "Labels": v.labels,
            "Mountpoint": self.volume_source(v),
            "Name": v.name,
            "Options": if v.options.is_empty() { Value::Null } else { Value::Object(v.options.clone()) },
            "Scope": "local"
        })
    }

    fn volume_record(&self, name: &str) -> Result<Volume> {
        self.db
            .volume(name)?
            .ok_or_else(|| Error::not_found(format!("get {name}: no such volume")))
    }

    /// `POST /volumes/create`; an existing volume of that name is returned as it is.
    pub async fn create_volume(
        &self,
        name: Option<&str>,
        driver: Option<&str>,
        options: &Map<String, Value>,
        labels: &Map<String, Value>,
    ) -> Result<Value> {
        if let Some(d) = driver.filter(|d| !d.is_empty() && *d != LOCAL_DRIVER) {
            return self.create_plugin_volume(name, d, options, labels).await;
        }
        for key in options.keys() {
            if !LOCAL_OPTIONS.contains(&key.as_str()) {
                return Err(Error::invalid(format!("invalid option key: \"{key}\"")));
            }
        }
        let v = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                validate_name(n)?;
                self.ensure_volume(n, options.clone(), labels.clone())?
            }
            None => {
                let mut labels = labels.clone();
                labels.insert(ANONYMOUS_LABEL.into(), json!(""));
                self.ensure_volume(&ids::new_id(), options.clone(), labels)?
            }
        };
        Ok(self.volume_json(&v))
    }

    /// Creates the volume unless it exists. Directory first, record second: a crash in
    /// between leaves an empty directory, never a record without its data.
    pub(crate) fn ensure_volume(
        &self,
        name: &str,
        options: Map<String, Value>,
        labels: Map<String, Value>,
    ) -> Result<Volume> {
        if let Some(v) = self.db.volume(name)? {
            return Ok(v);
        }
        std::fs::create_dir_all(self.volume_dir(name).join("_data"))?;
        let v = Volume {
            name: name.to_string(),
            created: clock::now(),
            labels,
            options,
            driver: local_driver(),
            mountpoint: None,
        };
        if !self.db.insert_volume(name, &v)? {
            return self.volume_record(name);
        }
        Ok(v)
    }

    /// A volume of the plugin `driver`: the plugin creates it, then berth records it.
    async fn create_plugin_volume(
        &self,
        name: Option<&str>,
        driver: &str,
        options: &Map<String, Value>,
        labels: &Map<String, Value>,
    ) -> Result<Value> {
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                validate_name(n)?;
                n.to_string()
            }
            None => ids::new_id(),
        };
        if let Some(existing) = self.db.volume::<Volume>(&name)? {
            if existing.driver != driver {
                return Err(Error::conflict(format!(
                    "volume {name} already exists with driver {}",
                    existing.driver
                )));
            }
            return Ok(self.volume_json(&existing));
        }
        let plugin = plugin::VolumePlugin::find(driver, &self.config.plugin_dirs).await?;
        plugin.create(&name, options).await?;
        let v = Volume {
            name: name.clone(),
            created: clock::now(),
            labels: labels.clone(),
            options: options.clone(),
            driver: driver.to_string(),
            mountpoint: None,
        };
        if !self.db.insert_volume(&name, &v)? {
            return Ok(self.volume_json(&self.volume_record(&name)?));
        }
        Ok(self.volume_json(&v))
    }

    /// Has their plugins mount the plugin volumes of the container `id` (before it starts).
    pub(crate) async fn mount_plugin_volumes(&self, id: &str, names: &[String]) -> Result<()> {
        for name in names {
            let mut v = self.volume_record(name)?;
            if v.is_local() {
                continue;
            }
            let plugin = plugin::VolumePlugin::find(&v.driver, &self.config.plugin_dirs).await?;
            v.mountpoint = Some(plugin.mount(name, id).await?);
            self.db.update_volume(name, &v)?;
        }
        Ok(())
    }

    /// Has their plugins unmount the plugin volumes of the container `id` (after it stopped).
    pub(crate) async fn unmount_plugin_volumes(&self, id: &str, names: &[String]) {
        for name in names {
            let Ok(v) = self.volume_record(name) else {
                continue;
            };
            if v.is_local() {
                continue;
            }
            let unmounted =
                match plugin::VolumePlugin::find(&v.driver, &self.config.plugin_dirs).await {
                    Ok(plugin) => plugin.unmount(name, id).await,
                    Err(e) => Err(e),
                };
            if let Err(e) = unmounted {
                tracing::warn!(volume = %name, container = %id, error = %e, "unmounting a plugin volume");
            }
        }
    }

    pub fn inspect_volume(&self, name: &str) -> Result<Value> {
        Ok(self.volume_json(&self.volume_record(name)?))
    }

    /// Containers (ids) whose mounts use the volume.
    fn volume_users(&self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .container_records()?
            .into_iter()
            .filter(|c| c.mounts.iter().any(|m| m.volume.as_deref() == Some(name)))
            .map(|c| c.id)
            .collect())
    }

    pub fn list_volumes(&self, filters: &Filters) -> Result<Value> {
        let mut out = Vec::new();
        for v in self.db.volumes::<Volume>()? {
            let dangling = self.volume_users(&v.name)?.is_empty();
            let keep = filters.any("dangling", |d| (d == "true" || d == "1") == dangling)
                && filters.any("driver", |d| d == v.driver)
                && filters.any("name", |n| v.name.contains(n))
                && filters.labels_match(&v.labels);
            if keep {
                out.push(self.volume_json(&v));
            }
        }
        Ok(json!({"Volumes": out, "Warnings": null}))
    }

    /// `DELETE /volumes/{name}`.
    pub async fn remove_volume(&self, name: &str, force: bool) -> Result<()> {
        let _guard = self.image_lock.lock().await;
        let v = match self.volume_record(name) {
            Err(e) if force && e.kind == crate::ErrorKind::NotFound => return Ok(()),
            other => other?,
        };
        let users = self.volume_users(name)?;
        if !users.is_empty() {
            return Err(Error::conflict(format!(
                "remove {name}: volume is in use - [{}]",
                users.join(", ")
            )));
        }
        if !v.is_local() {
            let plugin = plugin::VolumePlugin::find(&v.driver, &self.config.plugin_dirs).await?;
            plugin.remove(&v.name).await?;
        }
        self.delete_volume(&v)
    }

    /// Record first, then data: a crash in between leaves a directory startup can remove.
    fn delete_volume(&self, v: &Volume) -> Result<()> {
        self.db.delete_volume(&v.name)?;
        if !v.is_local() {
            return Ok(()); // its data is the plugin's
        }
        host_mount::unmount_if_mounted(&self.volume_dir(&v.name).join("_data"));
        std::fs::remove_dir_all(self.volume_dir(&v.name))?;
        Ok(())
    }

    /// `POST /volumes/prune`: unused anonymous volumes, or every unused one with `all=true`.
    pub async fn prune_volumes(&self, filters: &Filters) -> Result<Value> {
        let _guard = self.image_lock.lock().await;
        let all = filters.get("all").iter().any(|v| v == "true" || v == "1");
        let mut deleted = Vec::new();
        let mut reclaimed = 0u64;
        for v in self.db.volumes::<Volume>()? {
            if !(all || v.is_anonymous())
                || !filters.labels_match(&v.labels)
                || !self.volume_users(&v.name)?.is_empty()
            {
                continue;
            }
            reclaimed += copy_up::disk_usage(&self.volume_dir(&v.name));
            self.delete_volume(&v)?;
            deleted.push(v.name);
        }
        Ok(json!({"VolumesDeleted": deleted, "SpaceReclaimed": reclaimed}))
    }

    /// Mounts volumes made from driver options before a container that uses them starts.
    pub(crate) fn mount_volumes(&self, names: &[String]) -> Result<()> {
        for name in names {
            let v = self.volume_record(name)?;
            if v.needs_host_mount() {
                let target = self.volume_dir(name).join("_data");
                host_mount::mount_once(
                    &target,
                    v.option("device"),
                    v.option("type"),
                    v.option("o"),
                )
                .map_err(|e| {
                    Error::internal(format!(
                        "error while mounting volume '{}': {e}",
                        target.display()
                    ))
                })?;
            }
        }
        Ok(())
    }

    /// Unmounts option-made volumes no running container uses any more.
    pub(crate) fn release_volumes(&self) -> Result<()> {
        let running: Vec<_> = self
            .container_records()?
            .into_iter()
            .filter(|c| c.state.running())
            .collect();
        for v in self.db.volumes::<Volume>()? {
            let used = running.iter().any(|c| {
                c.mounts
                    .iter()
                    .any(|m| m.volume.as_deref() == Some(v.name.as_str()))
            });
            if v.needs_host_mount() && !used {
                host_mount::unmount_if_mounted(&self.volume_dir(&v.name).join("_data"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_docker_rules() {
        assert!(validate_name("data").is_ok());
        assert!(validate_name("my_vol.1-x").is_ok());
        assert!(
            validate_name("a")
                .unwrap_err()
                .message
                .contains("too short")
        );
        assert!(
            validate_name("bad/name")
                .unwrap_err()
                .message
                .contains("invalid characters")
        );
        assert!(validate_name("_x").is_err());
    }

    #[test]
    fn bind_volumes_need_no_mount() {
        let mut options = Map::new();
        options.insert("type".into(), json!("none"));
        options.insert("o".into(), json!("bind"));
        options.insert("device".into(), json!("/srv/data"));
        let v = Volume {
            name: "b".into(),
            created: String::new(),
            labels: Map::new(),
            options,
            driver: local_driver(),
            mountpoint: None,
        };
        assert_eq!(v.bind_device(), Some(PathBuf::from("/srv/data")));
        assert!(!v.needs_host_mount());
    }
}
