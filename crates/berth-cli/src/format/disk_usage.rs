//! `system df`: the daemon's disk usage report, and the rows docker makes of it (a summary
//! by type, or with `-v` one table per type).

use bollard::models::{
    BuildCache, ContainerSummary, ContainerSummaryStateEnum, ImageSummary, Volume,
};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::containers::{self, truncate_id};
use super::images;
use super::objects::volume_row;
use super::time::{ago, go_time_rfc3339};
use super::units::human_size;
use crate::reference::Reference;

pub const SUMMARY_TABLE: &str =
    "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";
pub const IMAGES_TABLE: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}";
pub const CONTAINERS_TABLE: &str = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}";
pub const VOLUMES_TABLE: &str = "table {{.Name}}\t{{.Links}}\t{{.Size}}";
pub const BUILD_CACHE_TABLE: &str = "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}";

/// `GET /system/df` as daemons up to API 1.51 answer it (bollard's model is the newer
/// shape).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiskUsage {
    #[serde(default)]
    pub layers_size: Option<i64>,
    #[serde(default)]
    pub images: Option<Vec<ImageSummary>>,
    #[serde(default)]
    pub containers: Option<Vec<ContainerSummary>>,
    #[serde(default)]
    pub volumes: Option<Vec<Volume>>,
    #[serde(default)]
    pub build_cache: Option<Vec<BuildCache>>,
}

impl DiskUsage {
    fn images(&self) -> &[ImageSummary] {
        self.images.as_deref().unwrap_or_default()
    }

    fn containers(&self) -> &[ContainerSummary] {
        self.containers.as_deref().unwrap_or_default()
    }

    fn volumes(&self) -> &[Volume] {
        self.volumes.as_deref().unwrap_or_default()
    }

    fn build_cache(&self) -> &[BuildCache] {
        self.build_cache.as_deref().unwrap_or_default()
    }

    /// The build cache's size: what is not shared with other records.
    pub fn builder_size(&self) -> i64 {
        self.build_cache()
            .iter()
            .filter(|record| record.shared != Some(true))
            .map(|record| record.size.unwrap_or_default())
            .sum()
    }
}

pub fn summary_headers() -> Value {
    json!({
        "Type": "TYPE",
        "TotalCount": "TOTAL",
        "Active": "ACTIVE",
        "Size": "SIZE",
        "Reclaimable": "RECLAIMABLE",
    })
}

/// A size and the share of `total` it is, as docker prints what can be reclaimed.
fn reclaimable(size: i64, total: i64) -> String {
    if total > 0 {
        format!("{} ({}%)", human_size(size, 4), size * 100 / total)
    } else {
        human_size(size, 4)
    }
}

fn summary_row(kind: &str, total: usize, active: usize, size: i64, reclaimable: String) -> Value {
    json!({
        "Type": kind,
        "TotalCount": total.to_string(),
        "Active": active.to_string(),
        "Size": human_size(size, 4),
        "Reclaimable": reclaimable,
    })
}

/// Whether a container counts as using its space.
fn is_active(container: &ContainerSummary) -> bool {
    matches!(
        container.state,
        Some(
            ContainerSummaryStateEnum::RUNNING
                | ContainerSummaryStateEnum::PAUSED
                | ContainerSummaryStateEnum::RESTARTING
        )
    )
}

/// One row per type: images, containers, local volumes, build cache.
pub fn summary_rows(usage: &DiskUsage) -> Vec<Value> {
    let images = usage.images();
    let layers = usage.layers_size.unwrap_or_default();
    let used_by_images: i64 = images
        .iter()
        .filter(|i| i.containers != 0 && i.size != -1 && i.shared_size != -1)
        .map(|i| i.size - i.shared_size)
        .sum();
    let containers = usage.containers();
    let size_rw = |c: &ContainerSummary| c.size_rw.unwrap_or_default();
    let containers_size: i64 = containers.iter().map(size_rw).sum();
    let idle_containers: i64 = containers
        .iter()
        .filter(|c| !is_active(c))
        .map(size_rw)
        .sum();
    let volumes = usage.volumes();
    let volume_usage = |v: &Volume| v.usage_data.clone().unwrap_or_default();
    let known: Vec<_> = volumes
        .iter()
        .map(volume_usage)
        .filter(|u| u.size != -1)
        .collect();
    let volumes_size: i64 = known.iter().map(|u| u.size).sum();
    let unused_volumes: i64 = known
        .iter()
        .filter(|u| u.ref_count == 0)
        .map(|u| u.size)
        .sum();
    let cache = usage.build_cache();
    let builder = usage.builder_size();
    let cache_in_use: i64 = cache
        .iter()
        .filter(|r| r.in_use == Some(true) && r.shared != Some(true))
        .map(|r| r.size.unwrap_or_default())
        .sum();
    vec![
        summary_row(
            "Images",
            images.len(),
            images.iter().filter(|i| i.containers > 0).count(),
            layers,
            reclaimable(layers - used_by_images, layers),
        ),
        summary_row(
            "Containers",
            containers.len(),
            containers.iter().filter(|c| is_active(c)).count(),
            containers_size,
            reclaimable(idle_containers, containers_size),
        ),
        summary_row(
            "Local Volumes",
            volumes.len(),
            volumes
                .iter()
                .filter(|v| volume_usage(v).ref_count > 0)
                .count(),
            volumes_size,
            reclaimable(unused_volumes, volumes_size),
        ),
        summary_row(
            "Build Cache",
            cache.len(),
            cache.iter().filter(|r| r.in_use == Some(true)).count(),
            builder,
            human_size(builder - cache_in_use, 4),
        ),
    ]
}

/// `-v`'s image rows: one per image, named by its first tag.
pub fn image_rows(usage: &DiskUsage, trunc: bool, now: Timestamp) -> Vec<Value> {
    usage
        .images()
        .iter()
        .map(|image| {
            let dangling = image.repo_tags.is_empty()
                || image
                    .repo_tags
                    .first()
                    .is_some_and(|t| t == "<none>:<none>");
            let (repository, tag) = image
                .repo_tags
                .first()
                .filter(|_| !dangling)
                .and_then(|first| Reference::parse(first).ok())
                .and_then(|reference| Some((reference.name, reference.tag?)))
                .unwrap_or_else(|| ("<none>".to_string(), "<none>".to_string()));
            images::row(image, &repository, &tag, "<none>", trunc, now)
        })
        .collect()
}

/// `-v`'s container rows: sizes without the image's.
pub fn container_rows(usage: &DiskUsage, trunc: bool, now: Timestamp) -> Vec<Value> {
    usage
        .containers()
        .iter()
        .map(|container| {
            let mut container = container.clone();
            container.size_root_fs = None;
            containers::row(&container, trunc, now)
        })
        .collect()
}

pub fn volume_rows(usage: &DiskUsage) -> Vec<Value> {
    usage.volumes().iter().map(volume_row).collect()
}

pub fn build_cache_headers() -> Value {
    json!({
        "ID": "CACHE ID",
        "Parent": "PARENT",
        "CacheType": "CACHE TYPE",
        "Size": "SIZE",
        "CreatedSince": "CREATED",
        "LastUsedSince": "LAST USED",
        "UsageCount": "USAGE",
        "InUse": "IN USE",
        "Shared": "SHARED",
        "Description": "DESCRIPTION",
    })
}

/// `-v`'s build cache rows, least recently used first (never used ones before all).
pub fn build_cache_rows(usage: &DiskUsage, trunc: bool, now: Timestamp) -> Vec<Value> {
    let mut records: Vec<&BuildCache> = usage.build_cache().iter().collect();
    let last_used = |r: &BuildCache| {
        r.last_used_at
            .as_deref()
            .and_then(|t| t.parse::<Timestamp>().ok())
    };
    records.sort_by(|a, b| {
        last_used(a)
            .cmp(&last_used(b))
            .then_with(|| a.id.cmp(&b.id))
    });
    let since = |time: Option<Timestamp>| time.map(|t| ago(t.as_second(), now)).unwrap_or_default();
    records
        .into_iter()
        .map(|record| {
            let id = record.id.clone().unwrap_or_default();
            let mut id = if trunc { truncate_id(&id) } else { id };
            if record.in_use == Some(true) {
                id.push('*');
            }
            let parent = record.parents.as_deref().unwrap_or_default().join(", ");
            let created = record.created_at.as_deref();
            json!({
                "ID": id,
                "Parent": if trunc { truncate_id(&parent) } else { parent },
                "CacheType": record.typ.map(|t| t.to_string()).unwrap_or_default(),
                "Description": record.description.clone().unwrap_or_default(),
                "Size": human_size(record.size.unwrap_or_default(), 3),
                "CreatedAt": created.map(go_time_rfc3339).unwrap_or_default(),
                "CreatedSince": since(created.and_then(|t| t.parse().ok())),
                "LastUsedAt": record.last_used_at.as_deref().map(go_time_rfc3339).unwrap_or_default(),
                "LastUsedSince": since(last_used(record)),
                "UsageCount": record.usage_count.unwrap_or_default().to_string(),
                "InUse": (record.in_use == Some(true)).to_string(),
                "Shared": (record.shared == Some(true)).to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage() -> DiskUsage {
        serde_json::from_value(json!({
            "LayersSize": 10_000_000,
            "Images": [
                {"Id": "sha256:aaaa", "ParentId": "", "RepoTags": ["busybox:latest"], "RepoDigests": [],
                 "Created": 1_700_000_000 - 3600, "Size": 4_000_000, "SharedSize": 1_000_000,
                 "Labels": null, "Containers": 2},
                {"Id": "sha256:bbbb", "ParentId": "", "RepoTags": [], "RepoDigests": [],
                 "Created": 1_700_000_000 - 7200, "Size": 6_000_000, "SharedSize": 0,
                 "Labels": null, "Containers": 0},
            ],
            "Containers": [
                {"Id": "c1", "Names": ["/web"], "State": "running", "SizeRw": 300},
                {"Id": "c2", "Names": ["/old"], "State": "exited", "SizeRw": 100},
            ],
            "Volumes": [
                {"Name": "data", "Driver": "local", "Mountpoint": "/m", "Labels": null, "Scope": "local",
                 "Options": null, "UsageData": {"Size": 2_000, "RefCount": 1}},
                {"Name": "anon", "Driver": "local", "Mountpoint": "/n", "Labels": null, "Scope": "local",
                 "Options": null, "UsageData": {"Size": 6_000, "RefCount": 0}},
                {"Name": "remote", "Driver": "nfs", "Mountpoint": "/o", "Labels": null, "Scope": "local",
                 "Options": null, "UsageData": {"Size": -1, "RefCount": 0}},
            ],
            "BuildCache": [],
        }))
        .unwrap()
    }

    fn field(rows: &[Value], key: &str) -> Vec<String> {
        rows.iter()
            .map(|r| r[key].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn summary_like_docker() {
        let rows = summary_rows(&usage());
        assert_eq!(
            field(&rows, "Type"),
            ["Images", "Containers", "Local Volumes", "Build Cache"]
        );
        assert_eq!(field(&rows, "TotalCount"), ["2", "2", "3", "0"]);
        assert_eq!(field(&rows, "Active"), ["1", "1", "1", "0"]);
        assert_eq!(field(&rows, "Size"), ["10MB", "400B", "8kB", "0B"]);
        // Images: 10MB of layers, 3MB of them unique to an image in use.
        assert_eq!(
            field(&rows, "Reclaimable"),
            ["7MB (70%)", "100B (25%)", "6kB (75%)", "0B"]
        );
        let empty = summary_rows(&DiskUsage::default());
        assert_eq!(field(&empty, "Reclaimable"), ["0B", "0B", "0B", "0B"]);
    }

    #[test]
    fn verbose_rows() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let images = image_rows(&usage(), true, now);
        assert_eq!(field(&images, "Repository"), ["busybox", "<none>"]);
        assert_eq!(field(&images, "Tag"), ["latest", "<none>"]);
        assert_eq!(field(&images, "SharedSize"), ["1MB", "0B"]);
        assert_eq!(field(&images, "UniqueSize"), ["3MB", "6MB"]);
        assert_eq!(field(&images, "Containers"), ["2", "0"]);
        let containers = container_rows(&usage(), true, now);
        assert_eq!(field(&containers, "Size"), ["300B", "100B"]);
        let volumes = volume_rows(&usage());
        assert_eq!(field(&volumes, "Links"), ["1", "0", "0"]);
        assert_eq!(field(&volumes, "Size"), ["2kB", "6kB", "-1B"]);
    }

    #[test]
    fn build_cache_rows_in_use_order() {
        let usage: DiskUsage = serde_json::from_value(json!({
            "BuildCache": [
                {"ID": "zzzzzzzzzzzzzzzz", "Type": "regular", "Description": "b", "InUse": true,
                 "Shared": false, "Size": 2_000, "CreatedAt": "2023-11-14T22:00:00Z",
                 "LastUsedAt": "2023-11-14T22:10:00Z", "UsageCount": 3},
                {"ID": "aaaaaaaaaaaaaaaa", "Type": "source.local", "Description": "a", "InUse": false,
                 "Shared": true, "Size": 5_000, "CreatedAt": "2023-11-14T21:00:00Z", "UsageCount": 1},
            ],
        }))
        .unwrap();
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let rows = build_cache_rows(&usage, true, now);
        assert_eq!(field(&rows, "ID"), ["aaaaaaaaaaaa", "zzzzzzzzzzzz*"]);
        assert_eq!(field(&rows, "LastUsedSince"), ["", "3 minutes ago"]);
        assert_eq!(field(&rows, "Shared"), ["true", "false"]);
        assert_eq!(usage.builder_size(), 2_000);
        let summary = summary_rows(&usage);
        assert_eq!(summary[3]["Reclaimable"], "0B");
        assert_eq!(summary[3]["Active"], "1");
    }
}
