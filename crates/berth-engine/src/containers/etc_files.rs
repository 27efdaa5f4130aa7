//! The per-container /etc/hostname, /etc/hosts and /etc/resolv.conf that berthd writes into
//! the container's directory and the runtime binds over the image's.

use std::io;
use std::path::{Path, PathBuf};

pub struct EtcPaths {
    pub hostname: PathBuf,
    pub hosts: PathBuf,
    pub resolv_conf: PathBuf,
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

/// The host's resolver config without loopback nameservers, which mean nothing inside the
/// container's own network namespace.
fn container_resolv_conf(host: &str) -> String {
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

/// Writes the files (kept across restarts of the container, so a user's edit survives a
/// restart, as with Docker).
pub fn write(container_dir: &Path, hostname: &str) -> io::Result<EtcPaths> {
    let p = paths(container_dir);
    std::fs::write(&p.hostname, format!("{hostname}\n"))?;
    if !p.hosts.exists() {
        std::fs::write(&p.hosts, HOSTS)?;
    }
    if !p.resolv_conf.exists() {
        let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        std::fs::write(&p.resolv_conf, container_resolv_conf(&host))?;
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_nameservers_are_dropped() {
        let out = container_resolv_conf("nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch lan\n");
        assert_eq!(out, "nameserver 10.0.0.2\nsearch lan\n");
    }

    #[test]
    fn files_are_written() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "abc").unwrap();
        assert_eq!(std::fs::read_to_string(p.hostname).unwrap(), "abc\n");
        assert!(
            std::fs::read_to_string(p.hosts)
                .unwrap()
                .starts_with("127.0.0.1\tlocalhost\n")
        );
    }
}
