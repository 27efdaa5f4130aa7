//! The rows `images` and `history` templates see: docker's image and history context
//! fields, already rendered.

use std::collections::BTreeMap;

use bollard::models::{ImageHistoryResponseItem, ImageSummary};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::containers::{ellipsis, truncate_id};
use super::time::{ago, go_time, rfc3339};
use super::units::human_size;

pub const TABLE: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
pub const TABLE_WITH_DIGESTS: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
pub const HISTORY_TABLE: &str =
    "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
/// `history --human=false` shows dates under their own header.
pub const HISTORY_TABLE_RAW: &str =
    "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";

const NONE: &str = "<none>";

pub fn headers() -> Value {
    json!({
        "ID": "IMAGE ID",
        "Repository": "REPOSITORY",
        "Tag": "TAG",
        "Digest": "DIGEST",
        "CreatedSince": "CREATED",
        "CreatedAt": "CREATED AT",
        "Size": "SIZE",
        "Containers": "CONTAINERS",
        "VirtualSize": "VIRTUAL SIZE",
        "SharedSize": "SHARED SIZE",
        "UniqueSize": "UNIQUE SIZE",
    })
}

pub fn history_headers() -> Value {
    json!({
        "ID": "IMAGE",
        "CreatedSince": "CREATED",
        "CreatedAt": "CREATED AT",
        "CreatedBy": "CREATED BY",
        "Size": "SIZE",
        "Comment": "COMMENT",
    })
}

/// The rows of one image: one per repository and tag (sorted), one per repository known
/// only by digest, or a single `<none>` row for a dangling image.
pub fn rows(image: &ImageSummary, trunc: bool, now: Timestamp) -> Vec<Value> {
    let mut repositories: BTreeMap<&str, (Vec<&str>, Vec<&str>)> = BTreeMap::new();
    for repo_tag in &image.repo_tags {
        if let Some((repository, tag)) = repo_tag.rsplit_once(':')
            && repo_tag != "<none>:<none>"
        {
            repositories.entry(repository).or_default().0.push(tag);
        }
    }
    for repo_digest in &image.repo_digests {
        if let Some((repository, digest)) = repo_digest.split_once('@')
            && repo_digest != "<none>@<none>"
        {
            repositories.entry(repository).or_default().1.push(digest);
        }
    }
    if repositories.is_empty() {
        return vec![row(image, NONE, NONE, NONE, trunc, now)];
    }
    let mut rows = Vec::new();
    for (repository, (mut tags, digests)) in repositories {
        tags.sort_unstable();
        if tags.is_empty() {
            for digest in digests {
                rows.push(row(image, repository, NONE, digest, trunc, now));
            }
            continue;
        }
        let digest = digests.first().copied().unwrap_or(NONE);
        for tag in tags {
            rows.push(row(image, repository, tag, digest, trunc, now));
        }
    }
    rows
}

/// One image row under the given repository, tag and digest.
pub fn row(
    image: &ImageSummary,
    repository: &str,
    tag: &str,
    digest: &str,
    trunc: bool,
    now: Timestamp,
) -> Value {
    let not_available = |n: i64, render: &dyn Fn(i64) -> String| {
        if n < 0 { "N/A".to_string() } else { render(n) }
    };
    json!({
        "ID": if trunc { truncate_id(&image.id) } else { image.id.clone() },
        "Repository": repository,
        "Tag": tag,
        "Digest": digest,
        "CreatedSince": ago(image.created, now),
        "CreatedAt": go_time(image.created),
        "Size": human_size(image.size, 3),
        "Containers": not_available(image.containers, &|n| n.to_string()),
        "VirtualSize": human_size(image.size, 4),
        "SharedSize": not_available(image.shared_size, &|n| human_size(n, 4)),
        "UniqueSize": not_available(image.shared_size, &|shared| human_size(image.size - shared, 4)),
    })
}

/// One layer of `history`; without `human`, dates are RFC 3339 and sizes plain bytes.
pub fn history_row(
    layer: &ImageHistoryResponseItem,
    human: bool,
    trunc: bool,
    now: Timestamp,
) -> Value {
    let created_by = layer.created_by.replace('\t', " ");
    json!({
        "ID": if trunc { truncate_id(&layer.id) } else { layer.id.clone() },
        "CreatedSince": if human { ago(layer.created, now) } else { rfc3339(layer.created) },
        "CreatedAt": rfc3339(layer.created),
        "CreatedBy": if trunc { ellipsis(&created_by, 45) } else { created_by },
        "Size": if human { human_size(layer.size, 3) } else { layer.size.to_string() },
        "Comment": layer.comment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "sha256:b149a3b1eb7d5999e29ca64e728c492ad8bc4b3068ceb09c25cfe6a2519ad531";

    fn now() -> Timestamp {
        Timestamp::from_second(1_700_000_000).unwrap()
    }

    fn image(tags: &[&str], digests: &[&str]) -> ImageSummary {
        ImageSummary {
            id: ID.to_string(),
            repo_tags: tags.iter().map(|s| s.to_string()).collect(),
            repo_digests: digests.iter().map(|s| s.to_string()).collect(),
            created: 1_700_000_000 - 3600,
            size: 1_982_368,
            shared_size: -1,
            containers: -1,
            ..Default::default()
        }
    }

    fn fields(rows: &[Value], key: &str) -> Vec<String> {
        rows.iter()
            .map(|r| r[key].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn one_row_per_tag_sorted() {
        let rows = rows(
            &image(&["busybox:latest", "bb:v2", "bb:v1"], &[]),
            true,
            now(),
        );
        assert_eq!(fields(&rows, "Repository"), ["bb", "bb", "busybox"]);
        assert_eq!(fields(&rows, "Tag"), ["v1", "v2", "latest"]);
        assert_eq!(fields(&rows, "ID"), ["b149a3b1eb7d"; 3]);
        assert_eq!(fields(&rows, "Digest"), ["<none>"; 3]);
    }

    #[test]
    fn dangling_and_digest_only_images() {
        let rows = rows(&image(&[], &[]), false, now());
        assert_eq!(fields(&rows, "Repository"), ["<none>"]);
        assert_eq!(fields(&rows, "Tag"), ["<none>"]);
        assert_eq!(fields(&rows, "ID"), [ID]);
        let digest = "busybox@sha256:abc";
        let rows = super::rows(&image(&[], &[digest]), true, now());
        assert_eq!(fields(&rows, "Tag"), ["<none>"]);
        assert_eq!(fields(&rows, "Digest"), ["sha256:abc"]);
    }

    #[test]
    fn sizes_and_dates() {
        let rows = rows(&image(&["busybox:latest"], &[]), true, now());
        let row = &rows[0];
        assert_eq!(row["Size"], "1.98MB");
        assert_eq!(row["VirtualSize"], "1.982MB");
        assert_eq!(row["CreatedSince"], "About an hour ago");
        assert_eq!(row["Containers"], "N/A");
        assert_eq!(row["SharedSize"], "N/A");
        assert_eq!(row["UniqueSize"], "N/A");
    }

    #[test]
    fn history_rows() {
        let layer = ImageHistoryResponseItem {
            id: ID.to_string(),
            created: 1_700_000_000 - 120,
            created_by: "/bin/sh -c #(nop)\tCMD [\"sh\"] and a long tail of words".to_string(),
            tags: Vec::new(),
            size: 13_300,
            comment: "Imported from -".to_string(),
        };
        let row = history_row(&layer, true, true, now());
        assert_eq!(row["ID"], "b149a3b1eb7d");
        assert_eq!(row["CreatedSince"], "2 minutes ago");
        assert_eq!(
            row["CreatedBy"],
            "/bin/sh -c #(nop) CMD [\"sh\"] and a long tail…"
        );
        assert_eq!(row["Size"], "13.3kB");
        let raw = history_row(&layer, false, false, now());
        assert_eq!(raw["Size"], "13300");
        assert!(
            raw["CreatedSince"]
                .as_str()
                .unwrap()
                .starts_with("2023-11-14T")
        );
        let missing = ImageHistoryResponseItem {
            id: "<missing>".into(),
            ..layer
        };
        assert_eq!(history_row(&missing, true, true, now())["ID"], "<missing>");
    }
}
