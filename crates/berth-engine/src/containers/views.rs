//! The JSON shapes of containers in the Engine API (API 1.47), and list filtering.

use super::model::{Container, Status};
use crate::clock::{self, ZERO_TIME};
use crate::filters::Filters;
use serde_json::{Value, json};
use std::path::Path;

pub const FILTERS: &[&str] = &["id", "name", "label", "status", "ancestor", "exited"];

/// `ps`'s STATUS column: "Up 3 minutes", "Exited (0) 2 seconds ago", "Created".
pub fn status_text(c: &Container) -> String {
    let ago = |t: &str| {
        clock::parse(t)
            .map(|t| clock::human_duration(clock::since(t)))
            .unwrap_or_default()
    };
    match c.state.status {
        Status::Created => "Created".into(),
        Status::Running => {
            let health = match c.state.health.as_ref().map(|h| h.status.as_str()) {
                Some("starting") => " (health: starting)",
                Some("healthy") => " (healthy)",
                Some("unhealthy") => " (unhealthy)",
                _ => "",
            };
            format!("Up {}{health}", ago(&c.state.started_at))
        }
        Status::Paused => format!("Up {} (Paused)", ago(&c.state.started_at)),
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            c.state.exit_code,
            ago(&c.state.finished_at)
        ),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            c.state.exit_code,
            ago(&c.state.finished_at)
        ),
    }
}

/// What inspect and the list show beside the container record itself.
pub struct Related<'a> {
    pub mounts: Vec<Value>,
    pub network_settings: Value,
    /// The list's `Ports`.
    pub ports: Value,
    pub exec_ids: &'a [String],
}

pub fn summary(c: &Container, related: &Related<'_>) -> Value {
    json!({
        "Id": c.id,
        "Names": [format!("/{}", c.name)],
        "Image": c.image_name,
        "ImageID": c.image_id,
        "Command": c.command_line(),
        "Created": clock::parse(&c.created).map(clock::unix_seconds).unwrap_or(0),
        "Ports": related.ports,
        "Labels": c.labels(),
        "State": c.state.status.as_str(),
        "Status": status_text(c),
        "HostConfig": {"NetworkMode": c.host_config["NetworkMode"]},
        "NetworkSettings": {"Networks": related.network_settings["Networks"]},
        "Mounts": related.mounts
    })
}

/// `lower_dirs` are the image's unpacked layers, top-most first.
pub fn inspect(c: &Container, dir: &Path, lower_dirs: &[String], related: &Related<'_>) -> Value {
    let s = &c.state;
    let path = |name: &str| dir.join(name).display().to_string();
    let started = s.started_at != ZERO_TIME || s.status != Status::Created;
    let mut v = json!({
        "Id": c.id,
        "Created": c.created,
        "Path": c.path,
        "Args": c.args,
        "State": {
            "Status": s.status.as_str(),
            "Running": s.running(),
            "Paused": s.status == Status::Paused,
            "Restarting": s.status == Status::Restarting,
            "OOMKilled": c.state.oom_killed,
            "Dead": s.status == Status::Dead,
            "Pid": s.pid,
            "ExitCode": s.exit_code,
            "Error": s.error,
            "StartedAt": s.started_at,
            "FinishedAt": s.finished_at
        },
        "Image": c.image_id,
        "ResolvConfPath": if started { path("resolv.conf") } else { String::new() },
        "HostnamePath": if started { path("hostname") } else { String::new() },
        "HostsPath": if started { path("hosts") } else { String::new() },
        // Docker shows json-file's path only (the local driver's files are its own business).
        "LogPath": if c.host_config["LogConfig"]["Type"] == "json-file" { path(&format!("{}-json.log", c.id)) } else { String::new() },
        "Name": format!("/{}", c.name),
        "RestartCount": c.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": if related.exec_ids.is_empty() { Value::Null } else { json!(related.exec_ids) },
        "HostConfig": c.host_config,
        "GraphDriver": {
            "Data": {
                "LowerDir": lower_dirs.join(":"),
                "MergedDir": "",
                "UpperDir": path("upper"),
                "WorkDir": path("work")
            },
            "Name": "overlay2"
        },
        "Mounts": related.mounts,
        "Config": c.config,
        "NetworkSettings": related.network_settings
    });
    if let Some(h) = &s.health {
        v["State"]["Health"] = super::health::health_json(h);
    }
    v
}

/// Docker's container filters; `image_id_of` resolves an `ancestor` name to an image id.
pub fn matches(f: &Filters, c: &Container, image_id_of: impl Fn(&str) -> Option<String>) -> bool {
    f.any("id", |v| c.id.starts_with(v))
        && f.any("name", |v| c.name.contains(v.trim_start_matches('/')))
        && f.any("status", |v| v == c.state.status.as_str())
        && f.any("exited", |v| {
            c.state.status == Status::Exited && v.parse() == Ok(c.state.exit_code)
        })
        && f.any("ancestor", |v| {
            v == c.image_name || image_id_of(v).as_deref() == Some(c.image_id.as_str())
        })
        && f.labels_match(&c.labels())
}
