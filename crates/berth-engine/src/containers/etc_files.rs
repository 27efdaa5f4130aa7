//! The per-container /etc/hostname, /etc/hosts and /etc/resolv.conf that berthd writes into
//! the container's directory and the runtime binds over the image's. Written at every start,
//! as Docker does, since the container's address can change.

use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};

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

/// What `--dns`, `--dns-search`, `--dns-option` and `--add-host` ask for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NameOptions {
    /// Nameservers in place of the host's (for the embedded server: its upstreams instead,
    /// see the network's DNS records).
    pub dns: Vec<String>,
    /// Search domains in place of the host's; `.` alone means none.
    pub search: Vec<String>,
    /// Resolver options in place of the host's.
    pub options: Vec<String>,
    /// Extra /etc/hosts entries, as (address, name).
    pub extra_hosts: Vec<(String, String)>,
}

/// Docker's stand-in for the host's address in `--add-host name:host-gateway`.
const HOST_GATEWAY: &str = "host-gateway";

/// One `--add-host` entry, `name:address` (the API's form; an IPv6 address keeps its
/// colons), as (name, address); the address may be `host-gateway`.
pub fn parse_extra_host(entry: &str) -> Result<(String, String)> {
    let invalid = || Error::invalid(format!("invalid IP address in add-host: \"{entry}\""));
    let (name, address) = entry.split_once(':').ok_or_else(invalid)?;
    let valid_name = !name.is_empty() && !name.contains(char::is_whitespace);
    let valid_address = address == HOST_GATEWAY || address.parse::<IpAddr>().is_ok();
    if !(valid_name && valid_address) {
        return Err(invalid());
    }
    Ok((name.to_string(), address.to_string()))
}

impl NameOptions {
    /// The options of a HostConfig; `host_gateway` finds what `host-gateway` stands for (the
    /// default bridge's gateway, as in Docker), asked only when an entry names it.
    pub fn of(hc: &Value, host_gateway: impl Fn() -> Option<IpAddr>) -> Result<Self> {
        let strings = |field: &str| -> Vec<String> {
            hc[field]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        let dns = strings("Dns");
        if let Some(bad) = dns.iter().find(|d| d.parse::<IpAddr>().is_err()) {
            return Err(Error::invalid(format!("{bad} is not an ip address")));
        }
        // Each is written as a line of resolv.conf: one word, no control characters.
        let one_word = |field: &str, what: &str| -> Result<Vec<String>> {
            let values = strings(field);
            match values
                .iter()
                .find(|v| v.is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control()))
            {
                Some(bad) => Err(Error::invalid(format!("invalid {what}: {bad:?}"))),
                None => Ok(values),
            }
        };
        let search = one_word("DnsSearch", "DNS search domain")?;
        let options = one_word("DnsOptions", "DNS option")?;
        let mut extra_hosts = Vec::new();
        for entry in strings("ExtraHosts") {
            let (name, address) = parse_extra_host(&entry)?;
            let address = if address == HOST_GATEWAY {
                host_gateway()
                    .ok_or_else(|| {
                        Error::invalid("unable to derive the IP value for host-gateway")
                    })?
                    .to_string()
            } else {
                address
            };
            extra_hosts.push((address, name));
        }
        Ok(Self {
            dns,
            search,
            options,
            extra_hosts,
        })
    }
}

/// The resolv.conf the container gets: the resolver's base, then the `--dns*` flags, each
/// replacing its kind of line as in Docker.
fn resolv_conf(base: &str, resolver: &Resolver, names: &NameOptions) -> String {
    let lines_of = |kind: &str| -> Vec<&str> {
        base.lines()
            .filter(|l| l.split_whitespace().next() == Some(kind))
            .collect()
    };
    let nameservers: Vec<String> = match resolver {
        Resolver::Embedded(_) => lines_of("nameserver")
            .iter()
            .map(|l| l.to_string())
            .collect(),
        _ if !names.dns.is_empty() => names
            .dns
            .iter()
            .map(|d| format!("nameserver {d}"))
            .collect(),
        _ => lines_of("nameserver")
            .iter()
            .map(|l| l.to_string())
            .collect(),
    };
    let search = match names.search.as_slice() {
        [] => lines_of("search").iter().map(|l| l.to_string()).collect(),
        [dot] if dot == "." => Vec::new(),
        domains => vec![format!("search {}", domains.join(" "))],
    };
    let options = match names.options.as_slice() {
        [] => lines_of("options").iter().map(|l| l.to_string()).collect(),
        options => vec![format!("options {}", options.join(" "))],
    };
    nameservers
        .into_iter()
        .chain(search)
        .chain(options)
        .map(|l| l + "\n")
        .collect()
}

/// Writes the three files. `address` is the container's IP on its first network, listed in
/// /etc/hosts under its hostname as Docker does, after the `--add-host` entries.
pub fn write(
    container_dir: &Path,
    hostname: &str,
    address: Option<&str>,
    resolver: &Resolver,
    names: &NameOptions,
) -> io::Result<EtcPaths> {
    let p = paths(container_dir);
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    std::fs::write(&p.hostname, format!("{hostname}\n"))?;
    let mut hosts = match resolver {
        Resolver::Host => std::fs::read_to_string("/etc/hosts").unwrap_or_else(|_| HOSTS.into()),
        _ => HOSTS.to_string(),
    };
    for (ip, name) in &names.extra_hosts {
        hosts.push_str(&format!("{ip}\t{name}\n"));
    }
    if let (false, Some(ip)) = (matches!(resolver, Resolver::Host), address) {
        hosts.push_str(&format!("{ip}\t{hostname}\n"));
    }
    std::fs::write(&p.hosts, hosts)?;
    let base = match resolver {
        Resolver::Host => host_resolv,
        Resolver::HostFiltered => without_loopback_nameservers(&host_resolv),
        Resolver::Embedded(dns) => embedded(&host_resolv, *dns),
    };
    std::fs::write(&p.resolv_conf, resolv_conf(&base, resolver, names))?;
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
    fn dns_flags_replace_their_kind_of_line() {
        let host = "nameserver 10.0.0.2\nsearch lan\noptions edns0\n";
        let flags = NameOptions {
            dns: vec!["192.0.2.53".into()],
            search: vec!["example.org".into(), "corp".into()],
            options: vec!["ndots:2".into()],
            ..Default::default()
        };
        assert_eq!(
            resolv_conf(host, &Resolver::HostFiltered, &flags),
            "nameserver 192.0.2.53\nsearch example.org corp\noptions ndots:2\n"
        );
        // Behind the embedded server, --dns are its upstreams: the nameserver stays.
        let embedded_base = "nameserver 10.59.0.1\nsearch lan\n";
        assert_eq!(
            resolv_conf(
                embedded_base,
                &Resolver::Embedded("10.59.0.1".parse().unwrap()),
                &flags
            ),
            "nameserver 10.59.0.1\nsearch example.org corp\noptions ndots:2\n"
        );
        let no_search = NameOptions {
            search: vec![".".into()],
            ..Default::default()
        };
        assert_eq!(
            resolv_conf(host, &Resolver::HostFiltered, &no_search),
            "nameserver 10.0.0.2\noptions edns0\n"
        );
        assert_eq!(
            resolv_conf(host, &Resolver::HostFiltered, &NameOptions::default()),
            host
        );
    }

    #[test]
    fn add_host_entries_and_dns_servers_are_checked() {
        use serde_json::json;
        let gateway: IpAddr = "10.58.0.1".parse().unwrap();
        let hc = json!({"Dns": ["192.0.2.53"], "ExtraHosts": ["db:192.0.2.9", "v6:::1", "host.docker.internal:host-gateway"]});
        let names = NameOptions::of(&hc, || Some(gateway)).unwrap();
        assert_eq!(
            names.extra_hosts,
            [
                ("192.0.2.9".to_string(), "db".to_string()),
                ("::1".into(), "v6".into()),
                ("10.58.0.1".into(), "host.docker.internal".into())
            ]
        );
        for bad in ["nocolon", ":192.0.2.1", "db:notanip", "db:300.1.1.1"] {
            let hc = json!({"ExtraHosts": [bad]});
            assert!(NameOptions::of(&hc, || Some(gateway)).is_err(), "{bad}");
        }
        assert!(NameOptions::of(&json!({"Dns": ["resolver.lan"]}), || None).is_err());
        for bad in [
            json!({"DnsSearch": ["a\nnameserver 1.2.3.4"]}),
            json!({"DnsOptions": [""]}),
        ] {
            assert!(NameOptions::of(&bad, || None).is_err(), "{bad}");
        }
    }

    #[test]
    fn files_are_written() {
        let d = tempfile::tempdir().unwrap();
        let names = NameOptions {
            extra_hosts: vec![("192.0.2.9".into(), "db".into())],
            ..Default::default()
        };
        let p = write(
            d.path(),
            "abc",
            Some("10.58.0.2"),
            &Resolver::HostFiltered,
            &names,
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(p.hostname).unwrap(), "abc\n");
        let hosts = std::fs::read_to_string(p.hosts).unwrap();
        assert!(
            hosts.starts_with("127.0.0.1\tlocalhost\n")
                && hosts.ends_with("192.0.2.9\tdb\n10.58.0.2\tabc\n"),
            "{hosts}"
        );
    }
}
