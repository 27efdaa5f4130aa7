//! The JSON shapes of images in the Engine API (API 1.47).

use crate::clock::ZERO_TIME;
use crate::db::ImageRow;
use crate::filters::{Filters, glob_match};
use serde_json::{Value, json};

pub const FILTERS: &[&str] = &["dangling", "label", "reference"];

fn created_unix(config: &Value) -> i64 {
    config["created"]
        .as_str()
        .and_then(crate::clock::parse)
        .map(crate::clock::unix_seconds)
        .unwrap_or(0)
}

/// Docker's image Config with every key, from the image config's `config` object.
pub fn container_config(c: &Value) -> Value {
    let get = |k: &str, default: Value| {
        if c[k].is_null() {
            default
        } else {
            c[k].clone()
        }
    };
    let mut out = json!({
        "Hostname": "", "Domainname": "", "User": get("User", json!("")),
        "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
        "Tty": false, "OpenStdin": false, "StdinOnce": false,
        "Env": get("Env", Value::Null), "Cmd": get("Cmd", Value::Null), "Image": "",
        "Volumes": get("Volumes", Value::Null), "WorkingDir": get("WorkingDir", json!("")),
        "Entrypoint": get("Entrypoint", Value::Null), "OnBuild": get("OnBuild", Value::Null),
        "Labels": get("Labels", Value::Null)
    });
    for key in [
        "ExposedPorts",
        "StopSignal",
        "Healthcheck",
        "Shell",
        "ArgsEscaped",
    ] {
        if !c[key].is_null() {
            out[key] = c[key].clone();
        }
    }
    out
}

pub fn summary(row: &ImageRow, repo_tags: Vec<String>, config: &Value, containers: usize) -> Value {
    json!({
        "Containers": containers,
        "Created": created_unix(config),
        "Id": row.id,
        "Labels": config["config"]["Labels"].as_object().cloned().unwrap_or_default(),
        "ParentId": "",
        "RepoDigests": [],
        "RepoTags": repo_tags,
        "SharedSize": -1,
        "Size": row.size
    })
}

/// Whether the tag `t` (`repo:tag`) matches a `reference` filter pattern, by itself or by
/// its repository.
fn tag_matches(pat: &str, t: &str) -> bool {
    let repo = t.rsplit_once(':').map_or(t, |(r, _)| r);
    glob_match(pat, t) || glob_match(pat, repo)
}

/// The tags a `reference` filter lets through: Docker lists an image under the matching
/// ones only.
pub fn matching_tags(f: &Filters, tags: Vec<String>) -> Vec<String> {
    tags.into_iter()
        .filter(|t| f.any("reference", |pat| tag_matches(pat, t)))
        .collect()
}

pub fn image_matches(f: &Filters, tags: &[String], config: &Value) -> bool {
    let dangling = tags.is_empty();
    f.any("dangling", |v| (v == "true" || v == "1") == dangling)
        && f.any("reference", |pat| tags.iter().any(|t| tag_matches(pat, t)))
        && f.labels_match(
            &config["config"]["Labels"]
                .as_object()
                .cloned()
                .unwrap_or_default(),
        )
}

/// `layer_dirs` are the unpacked layers, top-most first.
pub fn inspect(
    row: &ImageRow,
    repo_tags: Vec<String>,
    config: &Value,
    layer_dirs: &[String],
) -> Value {
    let (upper, lower) = layer_dirs
        .split_first()
        .map_or(("", &[][..]), |(u, l)| (u.as_str(), l));
    let mut data = json!({"MergedDir": "", "UpperDir": upper, "WorkDir": ""});
    if !lower.is_empty() {
        data["LowerDir"] = json!(lower.join(":"));
    }
    json!({
        "Id": row.id,
        "RepoTags": repo_tags,
        "RepoDigests": [],
        "Parent": "",
        "Comment": config["comment"].as_str().unwrap_or_else(|| {
            config["history"].as_array().and_then(|h| h.last()).and_then(|h| h["comment"].as_str()).unwrap_or("")
        }),
        "Created": config["created"].as_str().unwrap_or(ZERO_TIME),
        "DockerVersion": config["docker_version"].as_str().unwrap_or(""),
        "Author": config["author"].as_str().unwrap_or(""),
        "Config": container_config(&config["config"]),
        "Architecture": config["architecture"].as_str().unwrap_or(""),
        "Os": config["os"].as_str().unwrap_or("linux"),
        "Size": row.size,
        "GraphDriver": {"Data": data, "Name": "overlay2"},
        "RootFS": {"Type": "layers", "Layers": config["rootfs"]["diff_ids"].clone()},
        "Metadata": {"LastTagTime": ZERO_TIME}
    })
}

/// Newest first; each non-empty history entry owns the next layer's size.
pub fn history(
    row: &ImageRow,
    tags: Vec<String>,
    config: &Value,
    layer_sizes: &[u64],
) -> Vec<Value> {
    let entries = config["history"].as_array().cloned().unwrap_or_default();
    let mut sizes = layer_sizes.iter();
    let mut out: Vec<Value> = entries
        .iter()
        .map(|h| {
            let empty = h["empty_layer"].as_bool().unwrap_or(false);
            let size = if empty { 0 } else { sizes.next().copied().unwrap_or(0) };
            json!({
                "Id": "<missing>",
                "Created": h["created"].as_str().and_then(crate::clock::parse).map(crate::clock::unix_seconds).unwrap_or(0),
                "CreatedBy": h["created_by"].as_str().unwrap_or(""),
                "Tags": null,
                "Size": size,
                "Comment": h["comment"].as_str().unwrap_or("")
            })
        })
        .collect();
    out.reverse();
    if let Some(top) = out.first_mut() {
        top["Id"] = json!(row.id);
        top["Tags"] = json!(tags);
    }
    out
}
