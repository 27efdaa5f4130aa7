//! Reclaiming space and telling where it went: container and image prune, `system df`.

use crate::Engine;
use crate::error::Result;
use crate::filters::Filters;
use crate::volumes::Volume;
use serde_json::{Value, json};

fn dir_size(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

impl Engine {
    /// `POST /containers/prune`: every stopped container.
    pub async fn prune_containers(&self, filters: &Filters) -> Result<Value> {
        let mut deleted = Vec::new();
        let mut reclaimed = 0;
        for c in self.container_records()? {
            if c.state.running() || !filters.labels_match(&c.labels()) {
                continue;
            }
            reclaimed += dir_size(&self.container_dir(&c.id).join("upper"));
            self.remove_container(&c.id, false, false).await?;
            deleted.push(c.id);
        }
        Ok(json!({"ContainersDeleted": deleted, "SpaceReclaimed": reclaimed}))
    }

    /// `POST /images/prune`: untagged images no container uses (every unused one with
    /// `dangling=false`).
    pub async fn prune_images(&self, filters: &Filters) -> Result<Value> {
        let only_dangling = !filters
            .get("dangling")
            .iter()
            .any(|v| v == "false" || v == "0");
        let mut deleted = Vec::new();
        let mut reclaimed = 0;
        for image in self.db.images()? {
            let tags = self.db.tags_of(&image.id)?;
            let config = self.image_config(&image.id)?;
            let labels = config["config"]["Labels"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            if (only_dangling && !tags.is_empty())
                || !self.db.containers_using(&image.id)?.is_empty()
                || !filters.labels_match(&labels)
            {
                continue;
            }
            let removed = self.remove_image(&image.id, true).await?;
            reclaimed += image.size;
            deleted.extend(removed);
        }
        Ok(json!({"ImagesDeleted": deleted, "SpaceReclaimed": reclaimed}))
    }

    /// `GET /system/df`.
    pub fn disk_usage(&self) -> Result<Value> {
        let containers = self.container_records()?;
        let mut layers_size = 0;
        let mut images = Vec::new();
        for mut summary in self.list_images(&Filters::default())? {
            let id = summary["Id"].as_str().unwrap_or("").to_string();
            summary["Containers"] = json!(containers.iter().filter(|c| c.image_id == id).count());
            layers_size += summary["Size"].as_u64().unwrap_or(0);
            images.push(summary);
        }
        let container_json: Vec<Value> = self
            .list_containers(true, None, &Filters::default())?
            .into_iter()
            .map(|mut c| {
                let id = c["Id"].as_str().unwrap_or("").to_string();
                c["SizeRw"] = json!(dir_size(&self.container_dir(&id).join("upper")));
                c
            })
            .collect();
        let volumes: Vec<Value> = self
            .db
            .volumes::<Volume>()?
            .into_iter()
            .map(|v| {
                let refs = containers
                    .iter()
                    .filter(|c| {
                        c.mounts
                            .iter()
                            .any(|m| m.volume.as_deref() == Some(v.name.as_str()))
                    })
                    .count();
                let mut j = self.inspect_volume(&v.name).unwrap_or(Value::Null);
                j["UsageData"] =
                    json!({"Size": dir_size(&self.volume_dir(&v.name)), "RefCount": refs});
                j
            })
            .collect();
        let build_cache = self.build_cache_usage()?;
        Ok(
            json!({"LayersSize": layers_size, "Images": images, "Containers": container_json, "Volumes": volumes, "BuildCache": build_cache}),
        )
    }
}
