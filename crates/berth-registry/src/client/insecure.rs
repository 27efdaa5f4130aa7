//! Which registries are spoken to over plain HTTP: Docker's `insecure-registries`, whose
//! default is the loopback network (and `localhost`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::client::error::{Error, Result};

/// Networks and registries allowed without TLS.
#[derive(Debug, Clone)]
pub(crate) struct InsecureRegistries {
    networks: Vec<(IpAddr, u8)>,
    /// `host` or `host:port`, as written.
    registries: Vec<String>,
}

impl InsecureRegistries {
    /// Parses `insecure-registries` entries (`10.0.0.0/8`, `myhost:5000`, `http://myhost`); the
    /// loopback networks are always included, as in Docker.
    pub(crate) fn new(entries: &[String]) -> Result<Self> {
        let mut insecure = Self {
            networks: vec![
                (IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8),
                (IpAddr::V6(Ipv6Addr::LOCALHOST), 128),
            ],
            registries: Vec::new(),
        };
        for entry in entries {
            let entry = entry
                .strip_prefix("http://")
                .or_else(|| entry.strip_prefix("https://"))
                .unwrap_or(entry)
                .trim_end_matches('/');
            match entry.split_once('/') {
                Some((ip, prefix)) => {
                    let invalid = || {
                        Error::InvalidConfig(format!(
                            "insecure registry network {entry:?} is not a CIDR"
                        ))
                    };
                    let ip: IpAddr = ip.parse().map_err(|_| invalid())?;
                    let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
                    let max = if ip.is_ipv4() { 32 } else { 128 };
                    if prefix > max {
                        return Err(invalid());
                    }
                    insecure.networks.push((ip, prefix));
                }
                None if !entry.is_empty() => insecure.registries.push(entry.to_owned()),
                None => return Err(Error::InvalidConfig("empty insecure registry".to_owned())),
            }
        }
        Ok(insecure)
    }

    /// True if `registry` (`host[:port]`) may be reached over plain HTTP.
    pub(crate) fn allows(&self, registry: &str) -> bool {
        let host = host_of(registry);
        if host == "localhost" || self.registries.iter().any(|r| r == registry || r == host) {
            return true;
        }
        match host.parse::<IpAddr>() {
            Ok(ip) => self
                .networks
                .iter()
                .any(|(network, prefix)| contains(*network, *prefix, ip)),
            Err(_) => false,
        }
    }
}

/// The host of `host[:port]` or `[v6]:port`, without brackets or port.
fn host_of(registry: &str) -> &str {
    if let Some(bracketed) = registry.strip_prefix('[') {
        return bracketed.split(']').next().unwrap_or_default();
    }
    registry.split(':').next().unwrap_or_default()
}

fn contains(network: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    match (network, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_localhost_by_default() {
        let insecure = InsecureRegistries::new(&[]).unwrap();
        for allowed in [
            "127.0.0.1:5000",
            "127.1.2.3",
            "localhost",
            "localhost:5000",
            "[::1]:5000",
        ] {
            assert!(insecure.allows(allowed), "{allowed}");
        }
        for refused in [
            "docker.io",
            "10.0.0.1:5000",
            "[::2]:5000",
            "localhost.example.com",
        ] {
            assert!(!insecure.allows(refused), "{refused}");
        }
    }

    #[test]
    fn configured_networks_and_hosts() {
        let entries = ["10.0.0.0/8", "myreg:5000", "http://other/", "fd00::/8"];
        let entries: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
        let insecure = InsecureRegistries::new(&entries).unwrap();
        for allowed in [
            "10.1.2.3:5000",
            "myreg:5000",
            "other",
            "other:443",
            "[fd12::1]:5000",
        ] {
            assert!(insecure.allows(allowed), "{allowed}");
        }
        for refused in ["11.0.0.1", "myreg:5001", "myreg"] {
            assert!(!insecure.allows(refused), "{refused}");
        }
        let everything = InsecureRegistries::new(&["0.0.0.0/0".to_owned()]).unwrap();
        assert!(everything.allows("192.0.2.1"));
        for bad in ["10.0.0.0/33", "x/8", "", "10.0.0.0/x"] {
            assert!(InsecureRegistries::new(&[bad.to_owned()]).is_err(), "{bad}");
        }
    }
}
