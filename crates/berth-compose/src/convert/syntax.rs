//! Short syntaxes: `"127.0.0.1:8080:80/tcp"` ports, `"./src:/app:ro"` volumes. Errors are
//! messages without a location; callers add it.

use crate::model::{BindOptions, MountType, Port, ServiceVolume, VolumeOptions};

/// A short-syntax port: `[[host_ip:][published]:]target[/protocol]`, where `published` and
/// `target` may be ranges (`8000-8010`). A range of targets gives one port per target.
pub fn port(spec: &str) -> Result<Vec<Port>, String> {
    let bad = || format!("invalid port {spec:?}");
    let (addr, protocol) = match spec.rsplit_once('/') {
        Some((a, p)) => (a, p),
        None => (spec, "tcp"),
    };
    if !matches!(protocol, "tcp" | "udp" | "sctp") {
        return Err(format!(
            "invalid port {spec:?}: unknown protocol {protocol:?}"
        ));
    }
    let (host_ip, rest) = match addr.strip_prefix('[') {
        Some(bracketed) => {
            let (ip, after) = bracketed.split_once(']').ok_or_else(bad)?;
            let after = after.strip_prefix(':').ok_or_else(bad)?;
            (Some(ip), after)
        }
        None => (None, addr),
    };
    let mut parts: Vec<&str> = rest.rsplitn(3, ':').collect();
    parts.reverse();
    let (ip, published, target): (Option<&str>, Option<&str>, &str) =
        match (host_ip, parts.as_slice()) {
            (None, [t]) => (None, None, t),
            (Some(ip), [p, t]) => (Some(ip), Some(p), t),
            (None, [ip, p, t]) => (Some(ip), Some(p), t),
            (None, [p, t]) => (None, Some(p), t),
            _ => return Err(bad()),
        };
    if ip.is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_err()) {
        return Err(format!("invalid port {spec:?}: bad host address"));
    }
    let published = published.filter(|p| !p.is_empty());
    let (t_lo, t_hi) = range(target, false).ok_or_else(bad)?;
    let published_range = match published {
        Some(p) => Some(range(p, true).ok_or_else(bad)?),
        None => None,
    };
    let count = t_hi - t_lo;
    let mut ports = Vec::new();
    for i in 0..=count {
        let published = match published_range {
            None => None,
            Some((lo, hi)) if count == 0 => Some(if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }),
            Some((lo, hi)) if hi - lo == count => Some((lo + i).to_string()),
            Some(_) => {
                return Err(format!(
                    "invalid port {spec:?}: the ranges differ in length"
                ));
            }
        };
        ports.push(Port {
            name: None,
            mode: "ingress".to_string(),
            host_ip: ip.map(str::to_string),
            target: t_lo + i,
            published,
            protocol: protocol.to_string(),
            app_protocol: None,
        });
    }
    Ok(ports)
}

/// `80` or `8000-8010`; ports are 1-65535 (published may be 0: any free port).
fn range(s: &str, allow_zero: bool) -> Option<(u16, u16)> {
    let one = |p: &str| -> Option<u16> {
        let n: u16 = p.parse().ok()?;
        (n > 0 || allow_zero).then_some(n)
    };
    match s.split_once('-') {
        Some((lo, hi)) => {
            let (lo, hi) = (one(lo)?, one(hi)?);
            (lo <= hi).then_some((lo, hi))
        }
        None => one(s).map(|p| (p, p)),
    }
}

/// The key two port entries are merged on: same address, ports and protocol.
pub fn port_key(p: &Port) -> String {
    format!(
        "{}:{}:{}/{}",
        p.host_ip.as_deref().unwrap_or(""),
        p.published.as_deref().unwrap_or(""),
        p.target,
        p.protocol
    )
}

/// Whether a short-syntax source is a host path (else it names a volume).
pub fn is_path(source: &str) -> bool {
    source.starts_with('/') || source.starts_with('.') || source.starts_with('~')
}

/// Splits a short-syntax volume into (source, target, mode).
pub fn split_volume(spec: &str) -> (Option<&str>, &str, Option<&str>) {
    let parts: Vec<&str> = spec.splitn(3, ':').collect();
    match parts.as_slice() {
        [t] => (None, t, None),
        [a, b] if !b.starts_with('/') && b.split(',').all(is_volume_mode) => (None, a, Some(b)),
        [s, t] => (Some(s), t, None),
        [s, t, m] => (Some(s), t, Some(m)),
        _ => (None, spec, None),
    }
}

fn is_volume_mode(m: &str) -> bool {
    matches!(
        m,
        "ro" | "rw"
            | "z"
            | "Z"
            | "nocopy"
            | "shared"
            | "rshared"
            | "slave"
            | "rslave"
            | "private"
            | "rprivate"
            | "consistent"
            | "cached"
            | "delegated"
    )
}

/// A short-syntax volume: `target`, `source:target` or `source:target:mode`, where `source`
/// is a host path (already made absolute) or a volume name, and `mode` is a comma list of
/// `ro`, `rw`, `z`, `Z`, `nocopy`, a propagation or a consistency.
pub fn volume(spec: &str) -> Result<ServiceVolume, String> {
    let (source, target, mode) = split_volume(spec);
    if !target.starts_with('/') {
        return Err(format!(
            "invalid volume {spec:?}: the target must be an absolute path"
        ));
    }
    let source = source.filter(|s| !s.is_empty());
    let kind = match source {
        Some(s) if is_path(s) => MountType::Bind,
        _ => MountType::Volume,
    };
    let mut v = ServiceVolume {
        kind,
        source: source.map(str::to_string),
        target: target.to_string(),
        read_only: false,
        consistency: None,
        bind: None,
        volume: None,
        tmpfs: None,
    };
    let mut bind = BindOptions {
        create_host_path: true,
        ..BindOptions::default()
    };
    let mut vol = VolumeOptions::default();
    for m in mode.into_iter().flat_map(|m| m.split(',')) {
        match m {
            "ro" => v.read_only = true,
            "rw" => v.read_only = false,
            "z" | "Z" if kind == MountType::Bind => bind.selinux = Some(m.to_string()),
            "nocopy" if kind == MountType::Volume => vol.nocopy = true,
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate"
                if kind == MountType::Bind =>
            {
                bind.propagation = Some(m.to_string());
            }
            "consistent" | "cached" | "delegated" => v.consistency = Some(m.to_string()),
            other => return Err(format!("invalid volume {spec:?}: unknown mode {other:?}")),
        }
    }
    match kind {
        MountType::Bind => v.bind = Some(bind),
        _ => v.volume = Some(vol),
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<(Option<String>, u16, Option<String>, String)> {
        port(s)
            .unwrap()
            .into_iter()
            .map(|p| (p.host_ip, p.target, p.published, p.protocol))
            .collect()
    }

    #[test]
    fn ports() {
        assert_eq!(p("80"), [(None, 80, None, "tcp".into())]);
        assert_eq!(
            p("8080:80"),
            [(None, 80, Some("8080".into()), "tcp".into())]
        );
        assert_eq!(
            p("127.0.0.1:8080:80/udp"),
            [(
                Some("127.0.0.1".into()),
                80,
                Some("8080".into()),
                "udp".into()
            )]
        );
        assert_eq!(
            p("127.0.0.1::80"),
            [(Some("127.0.0.1".into()), 80, None, "tcp".into())]
        );
        assert_eq!(
            p("[::1]:53:53/udp"),
            [(Some("::1".into()), 53, Some("53".into()), "udp".into())]
        );
        assert_eq!(
            p("::1:53:53"),
            [(Some("::1".into()), 53, Some("53".into()), "tcp".into())]
        );
        assert_eq!(
            p("8000-8010:80"),
            [(None, 80, Some("8000-8010".into()), "tcp".into())]
        );
        assert_eq!(
            p("9000-9001:90-91"),
            [
                (None, 90, Some("9000".into()), "tcp".into()),
                (None, 91, Some("9001".into()), "tcp".into())
            ]
        );
        assert_eq!(p("3000-3001").len(), 2);
        for bad in [
            "x",
            "0",
            "70000",
            "80/xyz",
            "1:2:3:4",
            "9000:90-91",
            "a:80:80",
            "[::1:80",
            ":80:",
        ] {
            assert!(port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn volumes() {
        let v = volume("/srv/data:/data:ro,z").unwrap();
        assert_eq!(v.kind, MountType::Bind);
        assert!(v.read_only);
        assert_eq!(v.bind.unwrap().selinux.as_deref(), Some("z"));
        let v = volume("data:/data:nocopy").unwrap();
        assert_eq!(
            (v.kind, v.source.as_deref()),
            (MountType::Volume, Some("data"))
        );
        assert!(v.volume.unwrap().nocopy);
        let v = volume("/data").unwrap();
        assert_eq!((v.kind, v.source), (MountType::Volume, None));
        let v = volume("/data:ro").unwrap();
        assert_eq!(
            (v.source, v.target.as_str(), v.read_only),
            (None, "/data", true)
        );
        assert!(volume("data").is_err());
        assert!(volume("data:/x:bogus").is_err());
        assert!(volume("data:/x:z").is_err());
    }
}
