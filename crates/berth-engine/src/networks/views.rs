//! The JSON shape of networks in the Engine API.

use super::{Attachment, Network};
use crate::containers::Container;
use serde_json::{Map, Value, json};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Docker's network object; `members` fill `Containers` (inspect only).
pub fn network_json(n: &Network, members: &[(Container, Attachment)]) -> Value {
    let ipam_config: Vec<Value> =
        n.ipam
            .iter()
            .map(|i| json!({"Subnet": i.subnet().to_string(), "Gateway": i.gateway().to_string()}))
            .chain(n.ipam6.iter().map(
                |i| json!({"Subnet": i.subnet().to_string(), "Gateway": i.gateway().to_string()}),
            ))
            .collect();
    let prefix6 = n.ipam6.as_ref().map_or(128, |i| i.subnet().prefix());
    let mut options = n.options.clone();
    if let (Some(bridge), true) = (&n.bridge, n.predefined) {
        options.insert("com.docker.network.bridge.name".into(), json!(bridge));
    }
    let containers: Map<String, Value> = members
        .iter()
        .map(|(c, a)| {
            let prefix = n.ipam.as_ref().map_or(32, |i| i.subnet().prefix());
            (
                c.id.clone(),
                json!({
                    "Name": c.name,
                    "EndpointID": a.endpoint_id,
                    "MacAddress": a.endpoint.as_ref().map(|e| e.mac().to_string()).unwrap_or_default(),
                    "IPv4Address": a.ip.as_ref().map(|ip| format!("{ip}/{prefix}")).unwrap_or_default(),
                    "IPv6Address": a.ip6.as_ref().map(|ip| format!("{ip}/{prefix6}")).unwrap_or_default()
                }),
            )
        })
        .collect();
    json!({
        "Name": n.name,
        "Id": n.id,
        "Created": n.created,
        "Scope": "local",
        "Driver": n.driver.as_str(),
        "EnableIPv6": n.ipam6.is_some(),
        "IPAM": {"Driver": "default", "Options": null, "Config": ipam_config},
        "Internal": n.internal,
        "Attachable": n.attachable,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": containers,
        "Options": options,
        "Labels": n.labels
    })
}

/// The addresses the container asked for (`--ip`, `--ip6`), only those given; null for none.
fn ipam_request_json(a: &Attachment) -> Value {
    let mut requested = Map::new();
    if let Some(ip) = &a.requested_ip {
        requested.insert("IPv4Address".into(), json!(ip));
    }
    if let Some(ip) = &a.requested_ip6 {
        requested.insert("IPv6Address".into(), json!(ip));
    }
    if requested.is_empty() {
        Value::Null
    } else {
        Value::Object(requested)
    }
}

/// One attachment in a container's NetworkSettings.Networks.
pub fn endpoint_json(n: Option<&Network>, a: &Attachment) -> Value {
    let ipam = n.and_then(|n| n.ipam.as_ref());
    let ipam6 = n.and_then(|n| n.ipam6.as_ref());
    let running = a.ip.is_some();
    json!({
        "IPAMConfig": ipam_request_json(a),
        "Links": null,
        "Aliases": if a.aliases.is_empty() { Value::Null } else { json!(a.aliases) },
        "MacAddress": a.endpoint.as_ref().map(|e| e.mac().to_string()).unwrap_or_default(),
        "DriverOpts": null,
        "NetworkID": n.map(|n| n.id.as_str()).unwrap_or_default(),
        "EndpointID": if running { a.endpoint_id.as_str() } else { "" },
        "Gateway": ipam.filter(|_| running).map(|i| i.gateway().to_string()).unwrap_or_default(),
        "IPAddress": a.ip.clone().unwrap_or_default(),
        "IPPrefixLen": ipam.filter(|_| running).map_or(0, |i| i.subnet().prefix()),
        "IPv6Gateway": ipam6.filter(|_| running).map(|i| i.gateway().to_string()).unwrap_or_default(),
        "GlobalIPv6Address": a.ip6.clone().unwrap_or_default(),
        "GlobalIPv6PrefixLen": ipam6.filter(|_| running).map_or(0, |i| i.subnet().prefix()),
        "DNSNames": null
    })
}

/// A forward's host address as Docker shows it: `0.0.0.0` or `::` for every address of its
/// family.
fn host_ip_text(f: &berth_net::PortForward) -> String {
    let any = match f.container_ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    f.host_ip.unwrap_or(any).to_string()
}

/// `Ports` of inspect: every exposed or published port, with its bindings or null.
pub fn ports_json(c: &Container) -> Value {
    let mut ports = Map::new();
    for key in c.config["ExposedPorts"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.keys())
    {
        ports.insert(key.clone(), Value::Null);
    }
    for a in c.networks.values() {
        for f in &a.ports {
            let key = format!("{}/{}", f.container_port, f.protocol);
            let host_ip = host_ip_text(f);
            let entry = ports.entry(key).or_insert_with(|| json!([]));
            if !entry.is_array() {
                *entry = json!([]);
            }
            entry
                .as_array_mut()
                .expect("made an array")
                .push(json!({"HostIp": host_ip, "HostPort": f.host_port.to_string()}));
        }
    }
    Value::Object(ports)
}

/// `Ports` of the container list: published ports, then exposed ones without a binding.
pub fn ports_summary(c: &Container) -> Value {
    let mut out: Vec<Value> = Vec::new();
    for a in c.networks.values() {
        for f in &a.ports {
            let ip = host_ip_text(f);
            out.push(json!({"IP": ip, "PrivatePort": f.container_port, "PublicPort": f.host_port, "Type": f.protocol.to_string()}));
        }
    }
    for key in c.config["ExposedPorts"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.keys())
    {
        let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        let port: u16 = port.parse().unwrap_or(0);
        if !out
            .iter()
            .any(|p| p["PrivatePort"] == port && p["Type"] == proto)
        {
            out.push(json!({"PrivatePort": port, "Type": proto}));
        }
    }
    Value::Array(out)
}
