//! docker's `-p` / `--publish` syntax: `[ip:][hostPort[-end]:]containerPort[-end][/proto]`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortSpecError {
    #[error("no port specified: {0}<empty>")]
    NoPort(String),
    #[error("invalid proto: {0}")]
    Protocol(String),
    #[error("invalid IP address: {0}")]
    HostIp(String),
    #[error("invalid containerPort: {0}")]
    ContainerPort(String),
    #[error("invalid hostPort: {0}")]
    HostPort(String),
    #[error("invalid ranges specified for container and host Ports: {container} and {host}")]
    RangeMismatch { container: String, host: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Self::Tcp => 6,
            Self::Udp => 17,
            Self::Sctp => 132,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Sctp => "sctp",
        })
    }
}

impl FromStr for Protocol {
    type Err = PortSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Self::Tcp),
            "udp" => Ok(Self::Udp),
            "sctp" => Ok(Self::Sctp),
            _ => Err(PortSpecError::Protocol(s.to_owned())),
        }
    }
}

/// An inclusive range of ports; a single port is a range of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl PortRange {
    pub fn single(port: u16) -> Self {
        Self {
            start: port,
            end: port,
        }
    }

    /// How many ports the range holds (at least one).
    pub fn count(&self) -> usize {
        usize::from(self.end - self.start) + 1
    }

    pub fn contains(&self, port: u16) -> bool {
        (self.start..=self.end).contains(&port)
    }

    pub fn iter(&self) -> impl Iterator<Item = u16> {
        self.start..=self.end
    }

    /// `80` or `8000-8010`; a reversed range is an error.
    fn parse(text: &str) -> Option<Self> {
        let port = |s: &str| {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u16>().ok())
                .flatten()
        };
        let (start, end) = match text.split_once('-') {
            Some((a, b)) => (port(a)?, port(b)?),
            None => (port(text)?, port(text)?),
        };
        (start <= end).then_some(Self { start, end })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// One parsed `-p` argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortSpec {
    /// `None` for every address (docker's empty or `0.0.0.0`).
    pub host_ip: Option<IpAddr>,
    /// `None` when the host port was left out or given as `0`: any free port.
    pub host_ports: Option<PortRange>,
    pub container_ports: PortRange,
    pub protocol: Protocol,
}

/// One container port to publish, before a host port was chosen for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortRequest {
    pub host_ip: Option<IpAddr>,
    /// Where the host port may be: `None` for any free port, a range of one for exactly that
    /// port, a longer range for any free port inside it.
    pub host_ports: Option<PortRange>,
    pub container_port: u16,
    pub protocol: Protocol,
}

impl PortSpec {
    /// One request per container port. Equal-length ranges pair up port by port; a host range
    /// with a single container port means "any free port in the host range".
    pub fn requests(&self) -> Vec<PortRequest> {
        self.container_ports
            .iter()
            .enumerate()
            .map(|(i, container_port)| PortRequest {
                host_ip: self.host_ip,
                host_ports: self.host_ports.map(|host| {
                    if host.count() == self.container_ports.count() {
                        PortRange::single(host.start + i as u16)
                    } else {
                        host
                    }
                }),
                container_port,
                protocol: self.protocol,
            })
            .collect()
    }
}

impl FromStr for PortSpec {
    type Err = PortSpecError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let (ports, protocol) = match raw.rsplit_once('/') {
            Some((ports, proto)) if !proto.is_empty() => (ports, proto.parse()?),
            Some((ports, _)) => (ports, Protocol::Tcp),
            None => (raw, Protocol::Tcp),
        };
        let parts: Vec<&str> = ports.split(':').collect();
        let n = parts.len();
        let container = parts[n - 1];
        let (ip, host) = match n {
            1 => ("", ""),
            2 => ("", parts[0]),
            3 => (parts[0], parts[1]),
            // An IPv6 host address written without brackets.
            _ => (
                &ports[..ports.len() - container.len() - parts[n - 2].len() - 2],
                parts[n - 2],
            ),
        };
        if container.is_empty() {
            return Err(PortSpecError::NoPort(raw.to_owned()));
        }
        let ip = ip
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or(ip);
        let host_ip = match ip {
            "" => None,
            ip => match ip.parse::<IpAddr>() {
                Ok(addr) if addr.is_unspecified() => None,
                Ok(addr) => Some(addr),
                Err(_) => return Err(PortSpecError::HostIp(ip.to_owned())),
            },
        };
        let container_ports = PortRange::parse(container)
            .filter(|range| range.start > 0)
            .ok_or_else(|| PortSpecError::ContainerPort(container.to_owned()))?;
        let host_ports = match host {
            "" | "0" => None,
            host => Some(
                PortRange::parse(host)
                    .filter(|range| range.start > 0)
                    .ok_or_else(|| PortSpecError::HostPort(host.to_owned()))?,
            ),
        };
        if let Some(host_range) = host_ports
            && host_range.count() != container_ports.count()
            && container_ports.count() != 1
        {
            return Err(PortSpecError::RangeMismatch {
                container: container_ports.to_string(),
                host: host_range.to_string(),
            });
        }
        Ok(Self {
            host_ip,
            host_ports,
            container_ports,
            protocol,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> PortSpec {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn container_port_only() {
        assert_eq!(
            spec("80"),
            PortSpec {
                host_ip: None,
                host_ports: None,
                container_ports: PortRange::single(80),
                protocol: Protocol::Tcp,
            }
        );
        assert_eq!(spec("53/udp").protocol, Protocol::Udp);
        assert_eq!(spec("80/").protocol, Protocol::Tcp);
    }

    #[test]
    fn host_and_container_port() {
        let s = spec("8080:80");
        assert_eq!(s.host_ports, Some(PortRange::single(8080)));
        assert_eq!(s.container_ports, PortRange::single(80));
        assert_eq!(s.host_ip, None);
        assert_eq!(spec("0:80").host_ports, None);
    }

    #[test]
    fn ip_host_container_and_protocol() {
        let s = spec("127.0.0.1:8080:80/udp");
        assert_eq!(s.host_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(s.host_ports, Some(PortRange::single(8080)));
        assert_eq!(s.protocol, Protocol::Udp);
        assert_eq!(spec("0.0.0.0:8080:80").host_ip, None);
        assert_eq!(spec("1.2.3.4:8080:80/SCTP").protocol, Protocol::Sctp);
    }

    #[test]
    fn ip_with_random_host_port() {
        let s = spec("127.0.0.1::80");
        assert_eq!(s.host_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(s.host_ports, None);
        let request = &s.requests()[0];
        assert_eq!(request.host_ports, None);
        assert_eq!(request.container_port, 80);
    }

    #[test]
    fn ipv6_host_addresses() {
        assert_eq!(spec("[::1]:8080:80").host_ip, Some("::1".parse().unwrap()));
        assert_eq!(spec("::1:8080:80").host_ip, Some("::1".parse().unwrap()));
        assert_eq!(spec("[::]:8080:80").host_ip, None);
    }

    #[test]
    fn ranges_pair_port_by_port() {
        let s = spec("8000-8001:80-81");
        let requests = s.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].host_ports, Some(PortRange::single(8000)));
        assert_eq!(requests[0].container_port, 80);
        assert_eq!(requests[1].host_ports, Some(PortRange::single(8001)));
        assert_eq!(requests[1].container_port, 81);
        // A container range alone publishes each port on a random host port.
        assert!(
            spec("80-82")
                .requests()
                .iter()
                .all(|r| r.host_ports.is_none())
        );
    }

    #[test]
    fn host_range_for_one_container_port_picks_within() {
        let requests = spec("8000-8010:80").requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(
            requests[0].host_ports,
            Some(PortRange {
                start: 8000,
                end: 8010
            })
        );
    }

    #[test]
    fn errors() {
        let err = |s: &str| s.parse::<PortSpec>().unwrap_err();
        assert_eq!(err(""), PortSpecError::NoPort(String::new()));
        assert_eq!(err("8080:"), PortSpecError::NoPort("8080:".into()));
        assert_eq!(err("80/icmp"), PortSpecError::Protocol("icmp".into()));
        assert_eq!(
            err("localhost:80:80"),
            PortSpecError::HostIp("localhost".into())
        );
        assert_eq!(err("abc"), PortSpecError::ContainerPort("abc".into()));
        assert_eq!(err("0"), PortSpecError::ContainerPort("0".into()));
        assert_eq!(err("65536"), PortSpecError::ContainerPort("65536".into()));
        assert_eq!(err("81-80"), PortSpecError::ContainerPort("81-80".into()));
        assert_eq!(err("+80"), PortSpecError::ContainerPort("+80".into()));
        assert_eq!(err("x:80"), PortSpecError::HostPort("x".into()));
        assert_eq!(
            err("8000-8002:80-81"),
            PortSpecError::RangeMismatch {
                container: "80-81".into(),
                host: "8000-8002".into()
            }
        );
        assert_eq!(
            err("8080:80-81").to_string(),
            "invalid ranges specified for container and host Ports: 80-81 and 8080"
        );
    }
}
