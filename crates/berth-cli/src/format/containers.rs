//! The row a `ps` template sees for each container: docker's container context fields,
//! already rendered as docker renders them (quoted commands, "Up 2 minutes", port ranges).

use std::collections::BTreeMap;

use bollard::models::{ContainerSummary, PortSummary};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::template::quote;
use super::time::{ago, go_time};
use super::units::human_size;

pub const TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
pub const TABLE_WITH_SIZE: &str = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}";

/// Column titles, by field.
pub fn headers() -> Value {
    json!({
        "ID": "CONTAINER ID",
        "Image": "IMAGE",
        "Command": "COMMAND",
        "CreatedAt": "CREATED AT",
        "RunningFor": "CREATED",
        "Ports": "PORTS",
        "State": "STATE",
        "Status": "STATUS",
        "Size": "SIZE",
        "Names": "NAMES",
        "Labels": "LABELS",
        "Mounts": "MOUNTS",
        "Networks": "NETWORKS",
        "LocalVolumes": "LOCAL VOLUMES",
        "Platform": "PLATFORM",
    })
}

/// One container's fields; `trunc` shortens IDs, commands and mount names as docker does
/// without `--no-trunc`.
pub fn row(container: &ContainerSummary, trunc: bool, now: Timestamp) -> Value {
    let id = container.id.clone().unwrap_or_default();
    let command = container.command.clone().unwrap_or_default();
    let created = container.created.unwrap_or_default();
    let mounts = container.mounts.as_deref().unwrap_or_default();
    let mount_names: Vec<String> = mounts
        .iter()
        .map(|m| {
            let name = m.name.clone().unwrap_or_default();
            if trunc { ellipsis(&name, 15) } else { name }
        })
        .collect();
    let local_volumes = mounts
        .iter()
        .filter(|m| m.driver.as_deref() == Some("local"))
        .count();
    let labels: BTreeMap<&String, &String> = container.labels.iter().flatten().collect();
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let networks: Vec<&String> = container
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .map(|n| n.keys().collect())
        .unwrap_or_default();
    let mut networks = networks;
    networks.sort();
    let platform = container
        .image_manifest_descriptor
        .as_ref()
        .and_then(|d| d.platform.as_ref())
        .and_then(|p| serde_json::to_value(p).ok())
        .unwrap_or(Value::Null);
    json!({
        "ID": if trunc { truncate_id(&id) } else { id },
        "Image": image(container, trunc),
        "Command": quote(&if trunc { ellipsis(&command, 20) } else { command }),
        "CreatedAt": go_time(created),
        "RunningFor": ago(created, now),
        "Ports": display_ports(container.ports.as_deref().unwrap_or_default()),
        "State": container.state.map(|s| s.to_string()).unwrap_or_default(),
        "Status": container.status.clone().unwrap_or_default(),
        "Size": size(container),
        "Names": names(container.names.as_deref().unwrap_or_default(), trunc),
        "Labels": labels.join(","),
        "Mounts": mount_names.join(","),
        "Networks": networks.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(","),
        "LocalVolumes": local_volumes.to_string(),
        "Platform": platform,
    })
}

/// A short ID: without its algorithm, 12 characters.
pub fn truncate_id(id: &str) -> String {
    let hex = id.split_once(':').map_or(id, |(_, hex)| hex);
    hex.chars().take(12).collect()
}

/// Cuts `text` to `width` characters, the last being "…".
pub fn ellipsis(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn image(container: &ContainerSummary, trunc: bool) -> String {
    let image = container.image.clone().unwrap_or_default();
    if image.is_empty() {
        return "<no image>".to_string();
    }
    if !trunc {
        return image;
    }
    let image_id = container.image_id.as_deref().unwrap_or_default();
    if truncate_id(image_id) == truncate_id(&image) {
        return truncate_id(&image);
    }
    // A digest pinned at run time is noise in the table.
    match image.split_once('@') {
        Some((name, _)) => name.to_string(),
        None => image,
    }
}

fn names(names: &[String], trunc: bool) -> String {
    let names: Vec<&str> = names.iter().map(|n| n.trim_start_matches('/')).collect();
    if trunc && let Some(own) = names.iter().find(|n| !n.contains('/')) {
        // Legacy links add "other/alias" names; the table shows the container's own.
        return own.to_string();
    }
    names.join(",")
}

fn size(container: &ContainerSummary) -> String {
    let writable = human_size(container.size_rw.unwrap_or_default(), 3);
    match container.size_root_fs {
        Some(total) if total > 0 => format!("{writable} (virtual {})", human_size(total, 3)),
        _ => writable,
    }
}

/// Ports as docker lists them: consecutive unpublished ports of one protocol collapse into
/// a range ("9000-9002/udp"), ports published on the same number into
/// "0.0.0.0:80-81->80-81/tcp", and ports published elsewhere are listed one by one.
pub fn display_ports(ports: &[PortSummary]) -> String {
    let mut ports: Vec<&PortSummary> = ports.iter().collect();
    ports.sort_by(|a, b| {
        (a.private_port, a.ip.as_deref(), a.public_port, protocol(a)).cmp(&(
            b.private_port,
            b.ip.as_deref(),
            b.public_port,
            protocol(b),
        ))
    });
    let mut groups: Vec<(String, u16, u16)> = Vec::new();
    let mut open: BTreeMap<String, usize> = BTreeMap::new();
    let mut finished = Vec::new();
    let mut remapped = Vec::new();
    for port in ports {
        let private = port.private_port;
        let ip = port.ip.as_deref().unwrap_or_default();
        let key = if ip.is_empty() {
            protocol(port)
        } else {
            let public = port.public_port.unwrap_or_default();
            if public != private {
                remapped.push(format!(
                    "{}->{private}/{}",
                    host_port(ip, &public.to_string()),
                    protocol(port)
                ));
                continue;
            }
            format!("{ip}/{}", protocol(port))
        };
        match open.get(&key).map(|&i| &mut groups[i]) {
            Some(group) if group.2.checked_add(1) == Some(private) => group.2 = private,
            Some(group) => {
                finished.push(format_group(&group.0, group.1, group.2));
                *group = (key, private, private);
            }
            None => {
                open.insert(key.clone(), groups.len());
                groups.push((key, private, private));
            }
        }
    }
    let mut out = finished;
    out.extend(
        groups
            .iter()
            .map(|(key, first, last)| format_group(key, *first, *last)),
    );
    out.extend(remapped);
    out.join(", ")
}

fn protocol(port: &PortSummary) -> String {
    port.typ.map(|t| t.to_string()).unwrap_or_default()
}

/// `ip:port`, with IPv6 addresses bracketed, as Go's `net.JoinHostPort` writes it.
pub fn host_port(ip: &str, port: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

fn format_group(key: &str, first: u16, last: u16) -> String {
    let range = if first == last {
        first.to_string()
    } else {
        format!("{first}-{last}")
    };
    match key.rsplit_once('/') {
        Some((ip, protocol)) => format!("{}->{range}/{protocol}", host_port(ip, &range)),
        None => format!("{range}/{key}"),
    }
}

#[cfg(test)]
mod tests {
    use bollard::models::PortSummaryTypeEnum;

    use super::*;

    fn port(private: u16, public: Option<u16>, ip: Option<&str>, udp: bool) -> PortSummary {
        PortSummary {
            ip: ip.map(String::from),
            private_port: private,
            public_port: public,
            typ: Some(if udp {
                PortSummaryTypeEnum::UDP
            } else {
                PortSummaryTypeEnum::TCP
            }),
        }
    }

    fn summary() -> ContainerSummary {
        serde_json::from_value(json!({
            "Id": "15f071575ca6500474f7bd01836d89b9f0462395c4e8367622e60c78e313aaa1",
            "Names": ["/web", "/other/alias"],
            "Image": "busybox@sha256:aaaa",
            "ImageID": "sha256:b149a3b1eb7d5999e29ca64e728c492ad8bc4b3068ceb09c25cfe6a2519ad531",
            "Command": "sh -c 'while true; do sleep 1; done'",
            "Created": 1_700_000_000 - 130,
            "Ports": [],
            "Labels": {"b": "2", "a": "1"},
            "State": "running",
            "Status": "Up 2 minutes",
            "NetworkSettings": {"Networks": {"bridge": {}, "alpha": {}}},
            "Mounts": [{"Name": "0123456789abcdef0123", "Driver": "local", "Type": "volume"}],
        }))
        .unwrap()
    }

    fn now() -> Timestamp {
        Timestamp::from_second(1_700_000_000).unwrap()
    }

    #[test]
    fn truncated_row() {
        let row = row(&summary(), true, now());
        assert_eq!(row["ID"], "15f071575ca6");
        assert_eq!(row["Image"], "busybox");
        assert_eq!(row["Command"], "\"sh -c 'while true; …\"");
        assert_eq!(row["RunningFor"], "2 minutes ago");
        assert_eq!(row["Status"], "Up 2 minutes");
        assert_eq!(row["State"], "running");
        assert_eq!(row["Names"], "web");
        assert_eq!(row["Labels"], "a=1,b=2");
        assert_eq!(row["Networks"], "alpha,bridge");
        assert_eq!(row["Mounts"], "0123456789abcd…");
        assert_eq!(row["LocalVolumes"], "1");
        assert_eq!(row["Size"], "0B");
    }

    #[test]
    fn untruncated_row() {
        let row = row(&summary(), false, now());
        assert_eq!(row["ID"].as_str().unwrap().len(), 64);
        assert_eq!(row["Image"], "busybox@sha256:aaaa");
        assert_eq!(row["Command"], "\"sh -c 'while true; do sleep 1; done'\"");
        assert_eq!(row["Names"], "web,other/alias");
    }

    #[test]
    fn image_shown_as_id_when_run_by_id() {
        let mut container = summary();
        container.image =
            Some("sha256:b149a3b1eb7d5999e29ca64e728c492ad8bc4b3068ceb09c25cfe6a2519ad531".into());
        assert_eq!(row(&container, true, now())["Image"], "b149a3b1eb7d");
    }

    #[test]
    fn sizes() {
        let mut container = summary();
        container.size_rw = Some(13_300);
        container.size_root_fs = Some(1_982_368);
        assert_eq!(
            row(&container, true, now())["Size"],
            "13.3kB (virtual 1.98MB)"
        );
    }

    #[test]
    fn ports_collapse_like_docker() {
        assert_eq!(display_ports(&[]), "");
        assert_eq!(display_ports(&[port(80, None, None, false)]), "80/tcp");
        assert_eq!(
            display_ports(&[
                port(9001, None, None, true),
                port(9000, None, None, true),
                port(9002, None, None, true),
                port(80, None, None, false),
            ]),
            "80/tcp, 9000-9002/udp"
        );
        assert_eq!(
            display_ports(&[port(80, Some(8080), Some("0.0.0.0"), false)]),
            "0.0.0.0:8080->80/tcp"
        );
        assert_eq!(
            display_ports(&[
                port(80, Some(80), Some("0.0.0.0"), false),
                port(81, Some(81), Some("0.0.0.0"), false),
                port(80, Some(80), Some("::"), false),
            ]),
            "0.0.0.0:80-81->80-81/tcp, [::]:80->80/tcp"
        );
        assert_eq!(
            display_ports(&[port(80, None, None, false), port(82, None, None, false)]),
            "80/tcp, 82/tcp"
        );
    }

    #[test]
    fn addresses_join_like_go() {
        assert_eq!(host_port("0.0.0.0", "8080"), "0.0.0.0:8080");
        assert_eq!(host_port("::", "8080"), "[::]:8080");
        assert_eq!(host_port("", "80"), ":80");
    }

    #[test]
    fn ellipsis_counts_characters() {
        assert_eq!(ellipsis("short", 20), "short");
        assert_eq!(ellipsis("abcdefghij", 5), "abcd…");
    }
}
