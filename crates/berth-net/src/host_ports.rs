//! Choosing and holding host ports for published container ports.
//!
//! A published port is a DNAT rule, not a listening process, so nothing would stop another
//! program from binding the same port and silently losing its traffic. As Docker does, berth
//! binds a socket to each published host port (without listening) and keeps it open while
//! the port is published: the port shows up in `ss`, and a second bind fails loudly. The
//! socket that holds a TCP port on `[::]` or `[::1]` also serves the host's `[::1]`, which
//! no DNAT rule can (see `loopback_proxy`).

use std::collections::HashMap;
use std::fs;
use std::io;
use std::mem;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::{Error, Result};
use crate::loopback_proxy::{self, LoopbackProxy};
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
    /// The unspecified address of its family for "every address".
    ip: IpAddr,
    port: u16,
}

impl Key {
    fn of(forward: &PortForward) -> Self {
        Key {
            protocol: forward.protocol,
            ip: host_ip_or_any(forward.host_ip, forward.container_ip),
            port: forward.host_port,
        }
    }
}

/// One family's half of a request: the host address (`None`: all of them) and the container
/// address its traffic goes to.
#[derive(Debug, Clone, Copy)]
struct Target {
    host_ip: Option<IpAddr>,
    container_ip: IpAddr,
}

fn host_ip_or_any(host_ip: Option<IpAddr>, container_ip: IpAddr) -> IpAddr {
    host_ip.unwrap_or(match container_ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    })
}

/// As Docker: no host address publishes on every IPv4 address, and on every IPv6 one when the
/// container has an IPv6 address; an explicit address (`0.0.0.0` and `::` included) publishes
/// on its own family only, which the container must have.
fn targets(request: &PortRequest, ipv4: Ipv4Addr, ipv6: Option<Ipv6Addr>) -> Result<Vec<Target>> {
    let target = |host_ip: IpAddr, container_ip: IpAddr| Target {
        host_ip: (!host_ip.is_unspecified()).then_some(host_ip),
        container_ip,
    };
    match request.host_ip.map(|ip| ip.to_canonical()) {
        None => Ok(std::iter::once(IpAddr::V4(ipv4))
            .chain(ipv6.map(IpAddr::V6))
            .map(|container_ip| Target {
                host_ip: None,
                container_ip,
            })
            .collect()),
        Some(host_ip @ IpAddr::V4(_)) => Ok(vec![target(host_ip, IpAddr::V4(ipv4))]),
        Some(host_ip @ IpAddr::V6(_)) => match ipv6 {
            Some(ip) => Ok(vec![target(host_ip, IpAddr::V6(ip))]),
            None => Err(Error::InvalidArgument(format!(
                "cannot publish port {}/{} on IPv6 host address {host_ip}: the container has no \
                 IPv6 address (its network was not created with --ipv6)",
                request.container_port, request.protocol
            ))),
        },
    }
}

/// The host ports berth holds. Not persisted: on restart berthd holds its containers'
/// published ports again, with [`HostPortAllocator::hold`].
pub struct HostPortAllocator {
    ephemeral: PortRange,
    next: u16,
    held: HashMap<Key, Held>,
}

#[derive(Debug)]
struct Held {
    /// `None` where the protocol cannot be bound here (SCTP without its kernel module).
    socket: Option<OwnedFd>,
    /// The relay for `[::1]`, once started.
    proxy: Option<LoopbackProxy>,
}

impl Held {
    fn new(socket: Option<OwnedFd>) -> Self {
        Held {
            socket,
            proxy: None,
        }
    }
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
    /// asked for, or a free ephemeral one), holds it, and returns the forwards to install: one
    /// per address family the request covers (see `targets`), all on the same host port.
    pub fn reserve(
        &mut self,
        request: &PortRequest,
        ipv4: Ipv4Addr,
        ipv6: Option<Ipv6Addr>,
    ) -> Result<Vec<PortForward>> {
        let targets = targets(request, ipv4, ipv6)?;
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
            let forwards: Vec<PortForward> = targets
                .iter()
                .map(|t| PortForward {
                    host_ip: t.host_ip,
                    host_port: port,
                    container_ip: t.container_ip,
                    container_port: request.container_port,
                    protocol: request.protocol,
                })
                .collect();
            let keys: Vec<Key> = forwards.iter().map(Key::of).collect();
            if keys.iter().any(|key| self.conflicts(*key)) {
                continue;
            }
            match keys
                .iter()
                .map(|key| bind_reservation(key.protocol, SocketAddr::new(key.ip, port)))
                .collect::<io::Result<Vec<_>>>()
            {
                Ok(sockets) => {
                    self.held
                        .extend(keys.into_iter().zip(sockets.into_iter().map(Held::new)));
                    if random {
                        self.next = if port == range.end {
                            range.start
                        } else {
                            port + 1
                        };
                    }
                    return Ok(forwards);
                }
                Err(e) => last_error = Some(e),
            }
        }
        let ip = host_ip_or_any(targets[0].host_ip, targets[0].container_ip);
        let what = match request.host_ports {
            Some(range) if range.count() == 1 => format!(
                "Bind for {} failed: port is already allocated",
                SocketAddr::new(ip, range.start)
            ),
            Some(range) => format!("no free host port in {range} on {ip}"),
            None => format!("no free host port in the ephemeral range {range} on {ip}"),
        };
        Err(Error::io(
            what,
            last_error.unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrInUse)),
        ))
    }

    /// Holds the host port of a forward made before (berthd restarted while it was published).
    pub fn hold(&mut self, forward: &PortForward) -> Result<()> {
        let key = Key::of(forward);
        if self.held.contains_key(&key) {
            return Ok(());
        }
        let addr = SocketAddr::new(key.ip, key.port);
        let socket = bind_reservation(key.protocol, addr)
            .map_err(|e| Error::io(format!("hold published port {addr}"), e))?;
        self.held.insert(key, Held::new(socket));
        Ok(())
    }

    /// Serves the host's `[::1]` for the TCP forwards held on `[::]` or `[::1]`: their held
    /// sockets listen, and relay to the container (needs a tokio runtime). The relay stops
    /// when the port is released.
    pub fn serve_ipv6_loopback(&mut self, forwards: &[PortForward]) -> Result<()> {
        for forward in forwards {
            let key = Key::of(forward);
            let covers_loopback =
                matches!(key.ip, IpAddr::V6(ip) if ip.is_unspecified() || ip.is_loopback());
            if forward.protocol != Protocol::Tcp || !covers_loopback {
                continue;
            }
            let Some(Held {
                socket: Some(socket),
                proxy: proxy @ None,
            }) = self.held.get_mut(&key)
            else {
                continue;
            };
            let target = SocketAddr::new(forward.container_ip, forward.container_port);
            let started = loopback_proxy::start(socket, target).map_err(|e| {
                Error::io(format!("serve [::1]:{} for {target}", forward.host_port), e)
            })?;
            *proxy = Some(started);
        }
        Ok(())
    }

    /// Stops holding a forward's host port.
    pub fn release(&mut self, forward: &PortForward) {
        self.held.remove(&Key::of(forward));
    }

    /// The same port and protocol is taken on the same address, or on every address of the
    /// same family by one side (IPv6 sockets are bound IPv6-only).
    fn conflicts(&self, key: Key) -> bool {
        self.held.keys().any(|held| {
            held.protocol == key.protocol
                && held.port == key.port
                && held.ip.is_ipv4() == key.ip.is_ipv4()
                && (held.ip == key.ip || held.ip.is_unspecified() || key.ip.is_unspecified())
        })
    }
}

impl Default for HostPortAllocator {
    fn default() -> Self {
        Self::new()
    }
}

/// Binds (never listens on) a socket to hold `addr`; an IPv6 one only for IPv6, so that
/// `[::]` and `0.0.0.0` are held apart as Docker holds them.
fn bind_reservation(protocol: Protocol, addr: SocketAddr) -> io::Result<Option<OwnedFd>> {
    let kind = match protocol {
        Protocol::Udp => libc::SOCK_DGRAM,
        Protocol::Tcp | Protocol::Sctp => libc::SOCK_STREAM,
    };
    let domain = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: socket(2) with constant arguments; the result is checked before use.
    let raw = unsafe {
        libc::socket(
            domain,
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
    let rc = match addr {
        SocketAddr::V4(addr) => {
            // SAFETY: an all-zero sockaddr_in is valid; the fields are set below.
            let mut sockaddr: libc::sockaddr_in = unsafe { mem::zeroed() };
            sockaddr.sin_family = libc::AF_INET as libc::sa_family_t;
            sockaddr.sin_port = addr.port().to_be();
            sockaddr.sin_addr.s_addr = u32::from(*addr.ip()).to_be();
            // SAFETY: the address pointer is valid for the length given.
            unsafe {
                libc::bind(
                    socket.as_raw_fd(),
                    (&raw const sockaddr).cast(),
                    mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            }
        }
        SocketAddr::V6(addr) => {
            let one: libc::c_int = 1;
            // SAFETY: the option value points at a c_int of the length given.
            let rc = unsafe {
                libc::setsockopt(
                    socket.as_raw_fd(),
                    libc::IPPROTO_IPV6,
                    libc::IPV6_V6ONLY,
                    (&raw const one).cast(),
                    mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: an all-zero sockaddr_in6 is valid; the fields are set below.
            let mut sockaddr: libc::sockaddr_in6 = unsafe { mem::zeroed() };
            sockaddr.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sockaddr.sin6_port = addr.port().to_be();
            sockaddr.sin6_addr.s6_addr = addr.ip().octets();
            // SAFETY: the address pointer is valid for the length given.
            unsafe {
                libc::bind(
                    socket.as_raw_fd(),
                    (&raw const sockaddr).cast(),
                    mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                )
            }
        }
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

    /// An allocator over a hundred ports of its own (`slot` 0, 1, ...): the tests run in
    /// parallel, and allocators that all start at the bottom of the ephemeral range would
    /// take each other's ports between a release and a check.
    fn allocator(slot: u16) -> HostPortAllocator {
        let start = 50_000 + slot * 100;
        HostPortAllocator::with_range(PortRange {
            start,
            end: start + 99,
        })
    }

    fn request(host_ports: Option<PortRange>, protocol: Protocol) -> PortRequest {
        PortRequest {
            host_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            host_ports,
            container_port: 80,
            protocol,
        }
    }

    const CONTAINER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const CONTAINER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 7, 0, 0, 0, 0, 0, 2);

    fn one(forwards: Vec<PortForward>) -> PortForward {
        assert_eq!(forwards.len(), 1, "{forwards:?}");
        forwards.into_iter().next().unwrap()
    }

    #[test]
    fn random_port_is_held_until_released() {
        let mut ports = allocator(0);
        let forward = one(ports
            .reserve(&request(None, Protocol::Tcp), CONTAINER, None)
            .unwrap());
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
        let mut ports = allocator(1);
        let error = ports
            .reserve(
                &request(Some(PortRange::single(port)), Protocol::Tcp),
                CONTAINER,
                None,
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
                None,
            )
            .unwrap();
    }

    #[test]
    fn range_request_skips_ports_berth_already_holds() {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = probe.local_addr().unwrap().port();
        drop(probe);
        let mut ports = allocator(2);
        let range = PortRange {
            start: base,
            end: base.saturating_add(20),
        };
        let a = one(ports
            .reserve(&request(Some(range), Protocol::Udp), CONTAINER, None)
            .unwrap());
        let b = one(ports
            .reserve(&request(Some(range), Protocol::Udp), CONTAINER, None)
            .unwrap());
        assert_ne!(a.host_port, b.host_port);
        assert!(range.contains(a.host_port) && range.contains(b.host_port));
    }

    #[test]
    fn ipv6_host_ip_needs_an_ipv6_container_address() {
        let mut ports = allocator(3);
        let mut req = request(None, Protocol::Tcp);
        req.host_ip = Some("::1".parse().unwrap());
        let error = ports.reserve(&req, CONTAINER, None).unwrap_err();
        assert!(matches!(error, Error::InvalidArgument(_)), "{error}");
        assert!(error.to_string().contains("no IPv6 address"), "{error}");
        assert!(ports.held.is_empty());
        let forward = one(ports.reserve(&req, CONTAINER, Some(CONTAINER6)).unwrap());
        assert_eq!(forward.container_ip, IpAddr::V6(CONTAINER6));
        assert_eq!(forward.host_ip, req.host_ip);
        assert!(TcpListener::bind(("::1", forward.host_port)).is_err());
    }

    #[test]
    fn no_host_ip_publishes_both_families_on_one_port() {
        let mut ports = allocator(4);
        let mut req = request(None, Protocol::Tcp);
        req.host_ip = None;
        let forwards = ports.reserve(&req, CONTAINER, Some(CONTAINER6)).unwrap();
        assert_eq!(forwards.len(), 2, "{forwards:?}");
        assert_eq!(forwards[0].container_ip, IpAddr::V4(CONTAINER));
        assert_eq!(forwards[1].container_ip, IpAddr::V6(CONTAINER6));
        assert!(forwards.iter().all(|f| f.host_ip.is_none()));
        let port = forwards[0].host_port;
        assert_eq!(forwards[1].host_port, port);
        assert!(TcpListener::bind(("::", port)).is_err());
        assert!(TcpListener::bind(("0.0.0.0", port)).is_err());
        // A container without IPv6 gets the IPv4 forward only.
        assert_eq!(ports.reserve(&req, CONTAINER, None).unwrap().len(), 1);
        // Explicit unspecified addresses keep to their family.
        req.host_ip = Some("::".parse().unwrap());
        let v6 = one(ports.reserve(&req, CONTAINER, Some(CONTAINER6)).unwrap());
        assert_eq!(
            (v6.host_ip, v6.container_ip),
            (None, IpAddr::V6(CONTAINER6))
        );
        req.host_ip = Some("0.0.0.0".parse().unwrap());
        let v4 = one(ports.reserve(&req, CONTAINER, Some(CONTAINER6)).unwrap());
        assert_eq!((v4.host_ip, v4.container_ip), (None, IpAddr::V4(CONTAINER)));
        forwards.iter().for_each(|f| ports.release(f));
        drop(TcpListener::bind(("::", port)).unwrap());
        // Held again after a restart, by the forward alone.
        ports.hold(&forwards[1]).unwrap();
        assert!(TcpListener::bind(("::", port)).is_err());
    }

    #[test]
    fn a_port_taken_on_ipv6_only_is_skipped_for_a_dual_stack_request() {
        let squatter = TcpListener::bind("[::1]:0").unwrap();
        let port = squatter.local_addr().unwrap().port();
        let mut ports = allocator(5);
        let req = PortRequest {
            host_ip: None,
            host_ports: Some(PortRange {
                start: port,
                end: port.saturating_add(20),
            }),
            container_port: 80,
            protocol: Protocol::Tcp,
        };
        let forwards = ports.reserve(&req, CONTAINER, Some(CONTAINER6)).unwrap();
        assert_ne!(forwards[0].host_port, port);
        assert_eq!(forwards[0].host_port, forwards[1].host_port);
        // Nothing of the refused port is held.
        assert!(!ports.held.keys().any(|k| k.port == port));
    }
}
