//! The per-container /etc/hostname, /etc/hosts and /etc/resolv.conf that berthd writes into
//! the container's directory and the runtime binds over the image's. Written at every start,
//! as Docker does, since the container's address can change.

use std::io;
use std::path::{Path, PathBuf};

pub struct EtcPaths {
    pub hostname: PathBuf,
    pub hosts: PathBuf,
    pub resolv_conf: PathBuf,
}

/// Where the container's name resolution comes from.
pub enum Resolver {
    /// The host's resolv.conf without loopback nameservers (they mean nothing in the
    /// container's own network namespace): the default bridge and `none`.
    HostFiltered,
    /// The host's files as they are: `--network host` shares the host's namespace.
    Host,
    /// The embedded DNS server of a user-defined network, at its gateway.
    Embedded(std::net::Ipv4Addr),
}

const HOSTS: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

pub fn paths(container_dir: &Path) -> EtcPaths {
    EtcPaths {
        hostname: container_dir.join("hostname"),
        hosts: container_dir.join("hosts"),
        resolv_conf: container_dir.join("resolv.conf"),
    }
}

fn without_loopback_nameservers(host: &str) -> String {
    host.lines()
        .filter(|l| {
            let mut words = l.split_whitespace();
            !(words.next() == Some("nameserver")
                && words
                    .next()
                    .is_some_and(|ip| ip.starts_with("127.") || ip == "::1"))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The search and options lines of the host's resolv.conf, under our own nameserver.
fn embedded(host: &str, dns: std::net::Ipv4Addr) -> String {
    let mut out = format!("nameserver {dns}\n");
    for l in host
        .lines()
        .filter(|l| l.starts_with("search") || l.starts_with("options"))
    {
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// Writes the three files. `address` is the container's IP on its first network, listed in
/// /etc/hosts under its hostname as Docker does.
pub fn write(
    container_dir: &Path,
    hostname: &str,
    address: Option<&str>,
    resolver: &Resolver,
) -> io::Result<EtcPaths> {
    let p = paths(container_dir);
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    std::fs::write(&p.hostname, format!("{hostname}\n"))?;
    let hosts = match (resolver, address) {
        (Resolver::Host, _) => {
            std::fs::read_to_string("/etc/hosts").unwrap_or_else(|_| HOSTS.into())
        }
        (_, Some(ip)) => format!("{HOSTS}{ip}\t{hostname}\n"),
        (_, None) => HOSTS.to_string(),
    };
    std::fs::write(&p.hosts, hosts)?;
    let resolv = match resolver {
        Resolver::Host => host_resolv,
        Resolver::HostFiltered => without_loopback_nameservers(&host_resolv),
        Resolver::Embedded(dns) => embedded(&host_resolv, *dns),
    };
    std::fs::write(&p.resolv_conf, resolv)?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_nameservers_are_dropped() {
        let out = without_loopback_nameservers(
            "nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch lan\n",
        );
        assert_eq!(out, "nameserver 10.0.0.2\nsearch lan\n");
        let out = embedded(
            "nameserver 127.0.0.53\nsearch lan\noptions edns0\n",
            "10.59.0.1".parse().unwrap(),
        );
        assert_eq!(out, "nameserver 10.59.0.1\nsearch lan\noptions edns0\n");
    }

    #[test]
    fn files_are_written() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "abc", Some("10.58.0.2"), &Resolver::HostFiltered).unwrap();
        assert_eq!(std::fs::read_to_string(p.hostname).unwrap(), "abc\n");
        let hosts = std::fs::read_to_string(p.hosts).unwrap();
        assert!(
            hosts.starts_with("127.0.0.1\tlocalhost\n") && hosts.ends_with("10.58.0.2\tabc\n"),
            "{hosts}"
        );
    }
}
