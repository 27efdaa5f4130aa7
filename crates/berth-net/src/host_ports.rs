//! Choosing and holding host ports for published container ports.
//!
//! A published port is a DNAT rule, not a listening process, so nothing would stop another
//! program from binding the same port and silently losing its traffic. As Docker does, berth
//! binds a socket to each published host port (without listening) and keeps it open while
//! the port is published: the port shows up in `ss`, and a second bind fails loudly.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::mem;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::{Error, Result};
use crate::nftables::ruleset::PortForward;
use crate::port_spec::{PortRange, PortRequest, Protocol};

/// Where random host ports come from when the kernel's range cannot be read.
const FALLBACK_EPHEMERAL: PortRange = PortRange {
    start: 32768,
    end: 60999,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    protocol: Protocol,
    ip: Ipv4Addr,
    port: u16,
}

/// The host ports berth holds. Not persisted: on restart berthd reserves its containers'
/// published ports again, each by its exact number.
pub struct HostPortAllocator {
    ephemeral: PortRange,
    next: u16,
    /// The held socket, `None` where the protocol cannot be bound here (SCTP without its
    /// kernel module).
    held: HashMap<Key, Option<OwnedFd>>,
}

impl HostPortAllocator {
    /// Random ports come from the kernel's `ip_local_port_range`, as with Docker.
    pub fn new() -> Self {
        let ephemeral = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|text| {
                let mut parts = text.split_whitespace().map(str::parse::<u16>);
                let (start, end) = (parts.next()?.ok()?, parts.next()?.ok()?);
                (0 < start && start <= end).then_some(PortRange { start, end })
            })
            .unwrap_or(FALLBACK_EPHEMERAL);
        Self::with_range(ephemeral)
    }

    pub fn with_range(ephemeral: PortRange) -> Self {
        Self {
            ephemeral,
            next: ephemeral.start,
            held: HashMap::new(),
        }
    }

    /// Picks a host port for `request` (the exact one asked for, a free one in the range
    /// asked for, or a free ephemeral one), holds it, and returns the forward to install.
    pub fn reserve(
        &mut self,
        request: &PortRequest,
        container_ip: Ipv4Addr,
    ) -> Result<PortForward> {
        let host_ip = match request.host_ip {
            None => None,
            Some(IpAddr::V4(ip)) => Some(ip),
            Some(IpAddr::V6(ip)) => {
                return Err(Error::InvalidArgument(format!(
                    "publishing on IPv6 host address {ip}: berth networks are IPv4 only"
                )));
            }
        };
        let ip = host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
        let (range, random) = match request.host_ports {
            Some(range) => (range, false),
            None => (self.ephemeral, true),
        };
        let count = range.count();
        let first = if random && range.contains(self.next) {
            self.next
        } else {
            range.start
        };
        let mut last_error = None;
        for step in 0..count {
            let offset = (usize::from(first - range.start) + step) % count;
            let port = range.start + offset as u16;
            let key = Key {
                protocol: request.protocol,
                ip,
                port,
            };
            if self.conflicts(key) {
                continue;
            }
            match bind_reservation(request.protocol, SocketAddrV4::new(ip, port)) {
                Ok(socket) => {
                    self.held.insert(key, socket);
                    if random {
                        self.next = if port == range.end {
                            range.start
                        } else {
                            port + 1
                        };
                    }
                    return Ok(PortForward {
                        host_ip,
                        host_port: port,
                        container_ip,
                        container_port: request.container_port,
                        protocol: request.protocol,
                    });
                }
                Err(e) => last_error = Some(e),
            }
        }
        let what = match request.host_ports {
            Some(range) if range.count() == 1 => format!(
                "Bind for {ip}:{} failed: port is already allocated",
                range.start
            ),
            Some(range) => format!("no free host port in {range} on {ip}"),
            None => format!("no free host port in the ephemeral range {range} on {ip}"),
        };
        Err(Error::io(
            what,
            last_error.unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrInUse)),
        ))
    }

    /// Stops holding a forward's host port.
    pub fn release(&mut self, forward: &PortForward) {
        self.held.remove(&Key {
            protocol: forward.protocol,
            ip: forward.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
            port: forward.host_port,
        });
    }

    /// The same port and protocol is taken on the same address, or on every address by one
    /// side.
    fn conflicts(&self, key: Key) -> bool {
        self.held.keys().any(|held| {
            held.protocol == key.protocol
                && held.port == key.port
                && (held.ip == key.ip || held.ip.is_unspecified() || key.ip.is_unspecified())
        })
    }
}

impl Default for HostPortAllocator {
    fn default() -> Self {
        Self::new()
    }
}

/// Binds (never listens on) a socket to hold `addr`.
fn bind_reservation(protocol: Protocol, addr: SocketAddrV4) -> io::Result<Option<OwnedFd>> {
    let kind = match protocol {
        Protocol::Udp => libc::SOCK_DGRAM,
        Protocol::Tcp | Protocol::Sctp => libc::SOCK_STREAM,
    };
    // SAFETY: socket(2) with constant arguments; the result is checked before use.
    let raw = unsafe {
        libc::socket(
            libc::AF_INET,
            kind | libc::SOCK_CLOEXEC,
            libc::c_int::from(protocol.number()),
        )
    };
    if raw < 0 {
        let error = io::Error::last_os_error();
        let unsupported = matches!(
            error.raw_os_error(),
            Some(libc::EPROTONOSUPPORT | libc::ESOCKTNOSUPPORT)
        );
        return if protocol == Protocol::Sctp && unsupported {
            Ok(None)
        } else {
            Err(error)
        };
    }
    // SAFETY: `raw` is a descriptor just returned by socket(2) that nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: an all-zero sockaddr_in is valid; the fields are set below.
    let mut sockaddr: libc::sockaddr_in = unsafe { mem::zeroed() };
    sockaddr.sin_family = libc::AF_INET as libc::sa_family_t;
    sockaddr.sin_port = addr.port().to_be();
    sockaddr.sin_addr.s_addr = u32::from(*addr.ip()).to_be();
    // SAFETY: the address pointer is valid for the length given.
    let rc = unsafe {
        libc::bind(
            socket.as_raw_fd(),
            (&raw const sockaddr).cast(),
            mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Some(socket))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn request(host_ports: Option<PortRange>, protocol: Protocol) -> PortRequest {
        PortRequest {
            host_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            host_ports,
            container_port: 80,
            protocol,
        }
    }

    const CONTAINER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    #[test]
    fn random_port_is_held_until_released() {
        let mut ports = HostPortAllocator::new();
        let forward = ports
            .reserve(&request(None, Protocol::Tcp), CONTAINER)
            .unwrap();
        assert_ne!(forward.host_port, 0);
        assert_eq!(forward.container_ip, CONTAINER);
        assert!(TcpListener::bind(("127.0.0.1", forward.host_port)).is_err());
        ports.release(&forward);
        drop(TcpListener::bind(("127.0.0.1", forward.host_port)).unwrap());
    }

    #[test]
    fn exact_port_taken_by_someone_else_fails() {
        let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = squatter.local_addr().unwrap().port();
        let mut ports = HostPortAllocator::new();
        let error = ports
            .reserve(
                &request(Some(PortRange::single(port)), Protocol::Tcp),
                CONTAINER,
            )
            .unwrap_err();
        assert!(
            error.to_string().contains("port is already allocated"),
            "{error}"
        );
        // The same number over UDP is a different port.
        ports
            .reserve(
                &request(Some(PortRange::single(port)), Protocol::Udp),
                CONTAINER,
            )
            .unwrap();
    }

    #[test]
    fn range_request_skips_ports_berth_already_holds() {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = probe.local_addr().unwrap().port();
        drop(probe);
        let mut ports = HostPortAllocator::new();
        let range = PortRange {
            start: base,
            end: base.saturating_add(20),
        };
        let a = ports
            .reserve(&request(Some(range), Protocol::Udp), CONTAINER)
            .unwrap();
        let b = ports
            .reserve(&request(Some(range), Protocol::Udp), CONTAINER)
            .unwrap();
        assert_ne!(a.host_port, b.host_port);
        assert!(range.contains(a.host_port) && range.contains(b.host_port));
    }

    #[test]
    fn ipv6_host_ip_is_refused() {
        let mut ports = HostPortAllocator::new();
        let mut req = request(None, Protocol::Tcp);
        req.host_ip = Some("::1".parse().unwrap());
        assert!(matches!(
            ports.reserve(&req, CONTAINER),
            Err(Error::InvalidArgument(_))
        ));
    }
}
