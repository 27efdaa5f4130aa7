//! `-p/--publish` and `--expose`, read as docker reads them (go-connections' port specs):
//! `[IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]` with port ranges, IPv6 addresses in brackets,
//! and the long form `target=80,published=8080,protocol=udp`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use bollard::models::PortBinding;

use super::parse_uint;

/// The ports a container exposes ("80/tcp") and, for published ones, their bindings on the
/// host, in the order given.
#[derive(Debug, Default, PartialEq)]
pub struct Ports {
    pub exposed: BTreeSet<String>,
    pub bindings: BTreeMap<String, Vec<PortBinding>>,
}

/// Reads the `--publish` entries, then merges in the `--expose` ones.
pub fn ports(publish: &[String], expose: &[String]) -> Result<Ports, String> {
    let mut ports = Ports::default();
    for entry in publish {
        for (port, binding) in publish_spec(&standard_notation(entry)?)? {
            ports.exposed.insert(port.clone());
            ports.bindings.entry(port).or_default().push(binding);
        }
    }
    for entry in expose {
        for port in expose_spec(entry)? {
            ports.exposed.insert(port);
        }
    }
    Ok(ports)
}

/// The long form (`published=8080,target=80,protocol=udp`) as the short one; anything else
/// as it is.
fn standard_notation(entry: &str) -> Result<String, String> {
    if !entry.contains('=') {
        return Ok(entry.to_string());
    }
    let mut params: BTreeMap<&str, &str> = BTreeMap::from([("protocol", "tcp")]);
    for param in entry.split(',') {
        match param.split_once('=') {
            Some((key, value)) if !key.is_empty() => {
                params.insert(key, value);
            }
            _ => {
                return Err(format!(
                    "invalid publish opts format (should be name=value but got '{param}')"
                ));
            }
        }
    }
    let param = |key: &str| params.get(key).copied().unwrap_or_default();
    Ok(format!(
        "{}:{}/{}",
        param("published"),
        param("target"),
        param("protocol")
    ))
}

/// `PORT[/PROTO]` into (protocol, port): tcp by default; nothing for an empty port.
fn split_proto_port(text: &str) -> (&str, &str) {
    let mut parts = text.split('/');
    let port = parts.next().unwrap_or_default();
    if port.is_empty() {
        return ("", "");
    }
    match parts.next() {
        Some(proto) if !proto.is_empty() => (proto, port),
        _ => ("tcp", port),
    }
}

/// `START[-END]` as a range of port numbers.
fn port_range(text: &str) -> Result<(u16, u16), String> {
    if text.is_empty() {
        return Err("empty string specified for ports".to_string());
    }
    let Some((start, rest)) = text.split_once('-') else {
        let port = parse_uint(text, 16)? as u16;
        return Ok((port, port));
    };
    // Like go-connections, only the first two parts of "a-b-c" count.
    let end = rest.split('-').next().unwrap_or_default();
    let start = parse_uint(start, 16)? as u16;
    let end = parse_uint(end, 16)? as u16;
    if end < start {
        return Err(format!("invalid range specified for port: {text}"));
    }
    Ok((start, end))
}

/// One `--publish` entry: a (port, binding) for each container port it covers.
fn publish_spec(raw: &str) -> Result<Vec<(String, PortBinding)>, String> {
    let parts: Vec<&str> = raw.split(':').collect();
    let count = parts.len();
    let (ip, host_port, container) = match count {
        1 => (String::new(), "", parts[0]),
        2 => (String::new(), parts[0], parts[1]),
        _ => (
            parts[..count - 2].join(":"),
            parts[count - 2],
            parts[count - 1],
        ),
    };
    let (proto, container) = split_proto_port(container);
    let ip = host_ip(&ip)?;
    if container.is_empty() {
        return Err(format!("no port specified: {raw}<empty>"));
    }
    let (start, end) =
        port_range(container).map_err(|_| format!("invalid containerPort: {container}"))?;
    let (host_start, host_end) = if host_port.is_empty() {
        (0, 0)
    } else {
        port_range(host_port).map_err(|_| format!("invalid hostPort: {host_port}"))?
    };
    if !host_port.is_empty() && end - start != host_end - host_start && end != start {
        return Err(format!(
            "invalid ranges specified for container and host Ports: {container} and {host_port}"
        ));
    }
    let proto_lower = proto.to_lowercase();
    if !matches!(proto_lower.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    Ok((0..=end - start)
        .map(|offset| {
            let mut host = if host_port.is_empty() {
                String::new()
            } else {
                (u32::from(host_start) + u32::from(offset)).to_string()
            };
            // A single container port with a host range: the daemon picks one from it.
            if start == end && host_start != host_end {
                host = format!("{host}-{host_end}");
            }
            let binding = PortBinding {
                host_ip: Some(ip.clone()),
                host_port: Some(host),
            };
            (format!("{}/{proto_lower}", start + offset), binding)
        })
        .collect())
}

/// The host address of a published port: empty, or an IP address (IPv6 possibly in
/// brackets, which are taken off).
fn host_ip(ip: &str) -> Result<String, String> {
    if ip.is_empty() {
        return Ok(String::new());
    }
    let ip = if let Some(inner) = ip.strip_prefix('[') {
        inner
            .strip_suffix(']')
            .filter(|inner| !inner.contains(['[', ']']))
            .ok_or_else(|| {
                format!("invalid IP address {ip}: address {ip}:: missing ']' in address")
            })?
    } else {
        ip
    };
    match ip.parse::<IpAddr>() {
        Ok(_) => Ok(ip.to_string()),
        Err(_) => Err(format!("invalid IP address: {ip}")),
    }
}

/// One `--expose` entry: a port or range, with an optional protocol.
fn expose_spec(entry: &str) -> Result<Vec<String>, String> {
    if entry.contains(':') {
        return Err(format!("invalid port format for --expose: {entry}"));
    }
    let (proto, port) = split_proto_port(entry);
    let (start, end) = port_range(port)
        .map_err(|e| format!("invalid range format for --expose: {entry}, error: {e}"))?;
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn bindings(publish: &[&str]) -> Vec<(String, String, String)> {
        let ports = ports(&strings(publish), &[]).unwrap();
        ports
            .bindings
            .into_iter()
            .flat_map(|(port, list)| {
                list.into_iter()
                    .map(move |b| (port.clone(), b.host_ip.unwrap(), b.host_port.unwrap()))
            })
            .collect()
    }

    fn binding(port: &str, ip: &str, host: &str) -> (String, String, String) {
        (port.into(), ip.into(), host.into())
    }

    #[test]
    fn publish_forms() {
        assert_eq!(bindings(&["80"]), [binding("80/tcp", "", "")]);
        assert_eq!(bindings(&["8080:80"]), [binding("80/tcp", "", "8080")]);
        assert_eq!(
            bindings(&["127.0.0.1:8080:80/udp"]),
            [binding("80/udp", "127.0.0.1", "8080")]
        );
        assert_eq!(
            bindings(&["127.0.0.1::80"]),
            [binding("80/tcp", "127.0.0.1", "")]
        );
        assert_eq!(bindings(&["[::1]:80:80"]), [binding("80/tcp", "::1", "80")]);
        assert_eq!(bindings(&["::1:80:80"]), [binding("80/tcp", "::1", "80")]);
        assert_eq!(
            bindings(&["8000-8001:80-81/TCP"]),
            [binding("80/tcp", "", "8000"), binding("81/tcp", "", "8001")]
        );
        assert_eq!(
            bindings(&["8000-8010:80"]),
            [binding("80/tcp", "", "8000-8010")]
        );
        assert_eq!(
            bindings(&["target=80,published=8080,protocol=udp"]),
            [binding("80/udp", "", "8080")]
        );
        assert_eq!(bindings(&["target=80"]), [binding("80/tcp", "", "")]);
        // The same port published twice keeps both bindings.
        assert_eq!(
            bindings(&["1000:80", "127.0.0.1:1001:80"]),
            [
                binding("80/tcp", "", "1000"),
                binding("80/tcp", "127.0.0.1", "1001")
            ]
        );
    }

    #[test]
    fn publish_errors_read_like_docker() {
        let error = |entry: &str| ports(&[entry.to_string()], &[]).unwrap_err();
        assert_eq!(error("8080:"), "no port specified: 8080:<empty>");
        assert_eq!(error("x"), "invalid containerPort: x");
        assert_eq!(error("70000"), "invalid containerPort: 70000");
        assert_eq!(error("y:80"), "invalid hostPort: y");
        assert_eq!(
            error("8000-8002:80-81"),
            "invalid ranges specified for container and host Ports: 80-81 and 8000-8002"
        );
        assert_eq!(error("80/icmp"), "invalid proto: icmp");
        assert_eq!(error("1.2.3:80:80"), "invalid IP address: 1.2.3");
        assert_eq!(
            error("target=80,bogus"),
            "invalid publish opts format (should be name=value but got 'bogus')"
        );
        assert_eq!(error("81-80"), "invalid containerPort: 81-80");
    }

    #[test]
    fn expose_adds_ports_without_bindings() {
        let ports = ports(&strings(&["8080:80"]), &strings(&["90-92/udp", "80"])).unwrap();
        assert_eq!(
            ports.exposed.into_iter().collect::<Vec<_>>(),
            ["80/tcp", "90/udp", "91/udp", "92/udp"]
        );
        assert_eq!(ports.bindings.len(), 1);
        let error = |entry: &str| super::ports(&[], &[entry.to_string()]).unwrap_err();
        assert_eq!(
            error("127.0.0.1:80"),
            "invalid port format for --expose: 127.0.0.1:80"
        );
        assert_eq!(
            error("x"),
            "invalid range format for --expose: x, error: strconv.ParseUint: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            error("9-8"),
            "invalid range format for --expose: 9-8, error: invalid range specified for port: 9-8"
        );
    }
}
