//! What a network's DNS server knows of its containers: each one's name and aliases, and the
//! upstream servers of those started with `--dns`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, PoisonError, RwLock};

/// The containers of one network by address, shared between berthd's network service (which
/// updates it as containers connect and disconnect) and the network's DNS server.
#[derive(Debug, Clone, Default)]
pub struct DnsRecords {
    by_ip: Arc<RwLock<BTreeMap<Ipv4Addr, Vec<String>>>>,
    /// `--dns` of a container: where its queries for other names go, instead of the
    /// network's upstreams (Docker's "external servers" of the embedded resolver).
    upstreams: Arc<RwLock<BTreeMap<Ipv4Addr, Vec<SocketAddr>>>>,
    /// On a dual-stack network: the IPv6 address of the container at an IPv4 address, for
    /// AAAA answers.
    ipv6: Arc<RwLock<BTreeMap<Ipv4Addr, Ipv6Addr>>>,
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl DnsRecords {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the names of the container at `ip`: its name first (the answer to a reverse
    /// lookup), then its aliases. Names match case-insensitively.
    pub fn insert<S: AsRef<str>>(&self, ip: Ipv4Addr, names: impl IntoIterator<Item = S>) {
        let names: Vec<String> = names
            .into_iter()
            .map(|n| normalize(n.as_ref()))
            .filter(|n| !n.is_empty())
            .collect();
        let mut by_ip = self.by_ip.write().unwrap_or_else(PoisonError::into_inner);
        if names.is_empty() {
            by_ip.remove(&ip);
        } else {
            by_ip.insert(ip, names);
        }
    }

    /// Forgets the container at `ip`.
    pub fn remove(&self, ip: Ipv4Addr) {
        self.by_ip
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&ip);
        self.set_upstreams(ip, Vec::new());
        self.set_ipv6(ip, None);
    }

    /// Sets (or clears) the IPv6 address of the container at `ip`.
    pub fn set_ipv6(&self, ip: Ipv4Addr, ipv6: Option<Ipv6Addr>) {
        let mut map = self.ipv6.write().unwrap_or_else(PoisonError::into_inner);
        match ipv6 {
            Some(ipv6) => map.insert(ip, ipv6),
            None => map.remove(&ip),
        };
    }

    /// The IPv6 addresses of every container that carries `name`.
    pub fn lookup_ipv6(&self, name: &str) -> Vec<Ipv6Addr> {
        let map = self.ipv6.read().unwrap_or_else(PoisonError::into_inner);
        self.lookup(name)
            .iter()
            .filter_map(|ip| map.get(ip).copied())
            .collect()
    }

    /// Sets the container's own upstream servers; none means the network's.
    pub fn set_upstreams(&self, ip: Ipv4Addr, servers: Vec<SocketAddr>) {
        let mut upstreams = self
            .upstreams
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if servers.is_empty() {
            upstreams.remove(&ip);
        } else {
            upstreams.insert(ip, servers);
        }
    }

    /// The upstream servers of the container at `ip`, if it has its own.
    pub fn upstreams_of(&self, ip: Ipv4Addr) -> Option<Vec<SocketAddr>> {
        self.upstreams
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&ip)
            .cloned()
    }

    /// Every address that carries `name` (several containers may share an alias).
    pub fn lookup(&self, name: &str) -> Vec<Ipv4Addr> {
        let name = normalize(name);
        self.by_ip
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, names)| names.contains(&name))
            .map(|(ip, _)| *ip)
            .collect()
    }

    /// The primary name of the container at `ip`.
    pub fn reverse(&self, ip: Ipv4Addr) -> Option<String> {
        self.by_ip
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&ip)
            .and_then(|names| names.first().cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_aliases_and_removal() {
        let records = DnsRecords::new();
        let a = Ipv4Addr::new(10, 0, 0, 2);
        let b = Ipv4Addr::new(10, 0, 0, 3);
        records.insert(a, ["Web-1", "web"]);
        records.insert(b, ["web-2", "web."]);
        assert_eq!(records.lookup("web-1."), vec![a]);
        assert_eq!(records.lookup("WEB"), vec![a, b]);
        assert_eq!(records.reverse(a).as_deref(), Some("web-1"));
        records.remove(a);
        assert_eq!(records.lookup("web"), vec![b]);
        records.insert(b, Vec::<String>::new());
        assert!(records.lookup("web").is_empty());
    }

    #[test]
    fn a_container_may_have_its_own_upstreams() {
        let records = DnsRecords::new();
        let a = Ipv4Addr::new(10, 0, 0, 2);
        let server: SocketAddr = "127.0.0.1:5353".parse().unwrap();
        assert_eq!(records.upstreams_of(a), None);
        records.set_upstreams(a, vec![server]);
        assert_eq!(records.upstreams_of(a), Some(vec![server]));
        records.remove(a);
        assert_eq!(records.upstreams_of(a), None);
    }

    #[test]
    fn dual_stack_containers_have_ipv6_answers() {
        let records = DnsRecords::new();
        let a = Ipv4Addr::new(10, 0, 0, 2);
        records.insert(a, ["web"]);
        assert!(records.lookup_ipv6("web").is_empty());
        let v6: Ipv6Addr = "fd00:1::2".parse().unwrap();
        records.set_ipv6(a, Some(v6));
        assert_eq!(records.lookup_ipv6("WEB."), vec![v6]);
        records.remove(a);
        assert!(records.lookup_ipv6("web").is_empty());
    }
}
