//! The rows `volume ls` and `network ls` templates see: docker's volume and network
//! context fields, already rendered.

use std::collections::HashMap;

use bollard::models::{Network, Volume};
use serde_json::{Value, json};

use super::containers::truncate_id;
use super::time::go_time_rfc3339;
use super::units::human_size;

pub const VOLUME_TABLE: &str = "table {{.Driver}}\t{{.Name}}";
pub const VOLUME_QUIET: &str = "{{.Name}}";
pub const NETWORK_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";
pub const NETWORK_QUIET: &str = "{{.ID}}";

const NOT_AVAILABLE: &str = "N/A";

pub fn volume_headers() -> Value {
    json!({
        "Name": "VOLUME NAME",
        "Driver": "DRIVER",
        "Scope": "SCOPE",
        "Mountpoint": "MOUNTPOINT",
        "Labels": "LABELS",
        "Links": "LINKS",
        "Size": "SIZE",
        "Group": "GROUP",
        "Availability": "AVAILABILITY",
        "Status": "STATUS",
    })
}

/// One volume's fields. Usage (links, size) is only known from `system df`.
pub fn volume_row(volume: &Volume) -> Value {
    let usage = volume.usage_data.as_ref();
    let cluster = volume.cluster_volume.as_ref();
    let spec = cluster.and_then(|c| c.spec.as_ref());
    let group = spec.and_then(|s| s.group.clone());
    let availability = spec
        .and_then(|s| s.access_mode.as_ref())
        .and_then(|a| a.availability)
        .map(|a| a.to_string());
    let status = cluster.map(|cluster| {
        let created = cluster
            .info
            .as_ref()
            .and_then(|i| i.volume_id.as_deref())
            .is_some_and(|id| !id.is_empty());
        match cluster.publish_status.as_deref().unwrap_or_default().len() {
            _ if !created => "pending creation".to_string(),
            0 => "created".to_string(),
            1 => "in use (1 node)".to_string(),
            nodes => format!("in use ({nodes} nodes)"),
        }
    });
    // Group, availability and status only describe swarm cluster volumes.
    let cluster_field = |value: Option<String>| match cluster {
        Some(_) => value.unwrap_or_default(),
        None => NOT_AVAILABLE.to_string(),
    };
    json!({
        "Name": volume.name,
        "Driver": volume.driver,
        "Scope": volume.scope.map(|s| s.to_string()).unwrap_or_default(),
        "Mountpoint": volume.mountpoint,
        "Labels": labels(&volume.labels),
        "Links": usage.map_or(NOT_AVAILABLE.to_string(), |u| u.ref_count.to_string()),
        "Size": usage.map_or(NOT_AVAILABLE.to_string(), |u| human_size(u.size, 4)),
        "Group": cluster_field(group),
        "Availability": cluster_field(availability),
        "Status": cluster_field(status),
    })
}

pub fn network_headers() -> Value {
    json!({
        "ID": "NETWORK ID",
        "Name": "NAME",
        "Driver": "DRIVER",
        "Scope": "SCOPE",
        "IPv4": "IPV4",
        "IPv6": "IPV6",
        "Internal": "INTERNAL",
        "Labels": "LABELS",
        "CreatedAt": "CREATED AT",
    })
}

/// One network's fields; `trunc` shortens the ID.
pub fn network_row(network: &Network, trunc: bool) -> Value {
    let id = network.id.clone().unwrap_or_default();
    let flag = |value: Option<bool>| value.unwrap_or(false).to_string();
    json!({
        "ID": if trunc { truncate_id(&id) } else { id },
        "Name": network.name.clone().unwrap_or_default(),
        "Driver": network.driver.clone().unwrap_or_default(),
        "Scope": network.scope.clone().unwrap_or_default(),
        "IPv4": flag(network.enable_ipv4),
        "IPv6": flag(network.enable_ipv6),
        "Internal": flag(network.internal),
        "Labels": labels(network.labels.as_ref().unwrap_or(&HashMap::new())),
        "CreatedAt": network.created.as_deref().map(go_time_rfc3339).unwrap_or_default(),
    })
}

/// `k=v` pairs joined by commas, in key order (docker's order is a Go map's, random).
fn labels(labels: &HashMap<String, String>) -> String {
    let mut pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    pairs.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_fields() {
        let volume: Volume = serde_json::from_value(json!({
            "Name": "cache", "Driver": "local", "Mountpoint": "/var/lib/berth/volumes/cache/_data",
            "Labels": {"b": "2", "a": "1"}, "Scope": "local", "Options": null,
        }))
        .unwrap();
        let row = volume_row(&volume);
        assert_eq!(row["Name"], "cache");
        assert_eq!(row["Scope"], "local");
        assert_eq!(row["Labels"], "a=1,b=2");
        assert_eq!(row["Links"], "N/A");
        assert_eq!(row["Size"], "N/A");
        assert_eq!(row["Group"], "N/A");
        assert_eq!(row["Status"], "N/A");
        let used: Volume = serde_json::from_value(json!({
            "Name": "v", "Driver": "local", "Mountpoint": "/m", "Labels": null, "Scope": "local",
            "Options": null, "UsageData": {"Size": 1_234_567, "RefCount": 2},
        }))
        .unwrap();
        let row = volume_row(&used);
        assert_eq!(row["Links"], "2");
        assert_eq!(row["Size"], "1.235MB");
        assert_eq!(row["Labels"], "");
    }

    #[test]
    fn network_fields() {
        let network: Network = serde_json::from_value(json!({
            "Name": "bridge",
            "Id": "664581212b8e6e1a0c5d0f2f1e3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d",
            "Created": "2026-11-28T09:06:04.460825034Z",
            "Scope": "local", "Driver": "bridge", "EnableIPv6": false, "Internal": true,
            "Labels": {},
        }))
        .unwrap();
        let row = network_row(&network, true);
        assert_eq!(row["ID"], "664581212b8e");
        assert_eq!(row["IPv4"], "false");
        assert_eq!(row["Internal"], "true");
        assert_eq!(row["CreatedAt"], "2026-11-28 09:06:04.460825034 +0000 UTC");
        assert_eq!(
            network_row(&network, false)["ID"].as_str().unwrap().len(),
            64
        );
    }
}
