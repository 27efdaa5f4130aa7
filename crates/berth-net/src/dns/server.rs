//! The per-network DNS server.
//!
//! Docker answers on 127.0.0.11 inside each container, which needs a socket and NAT rules in
//! every container's namespace. berth instead runs one server per user-defined network in
//! berthd, in the host namespace, on the bridge's gateway address, port 53; the container's
//! resolv.conf names the gateway. Nothing runs or is set up inside the container, one socket
//! serves the whole network, and forwarding happens from the host, so the host's own
//! resolvers, including loopback ones such as systemd-resolved's 127.0.0.53, work as upstreams.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::records::DnsRecords;
use super::wire::{
    self, Query, RCODE_NOERROR, RCODE_SERVFAIL, Rdata, Rejection, TYPE_A, TYPE_AAAA, TYPE_PTR,
    UDP_LIMIT,
};
use crate::error::{Error, Result};

/// Queries answered at once; past this new queries are dropped and clients retry.
const MAX_IN_FLIGHT: usize = 256;
/// EDNS clients may get upstream answers this large over UDP.
const MAX_DATAGRAM: usize = 4096;

#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// Where to listen: the network's gateway address, port 53.
    pub listen: SocketAddr,
    /// Where names that are not containers of the network go, tried in order.
    pub upstreams: Vec<SocketAddr>,
    /// How long to wait for one upstream before trying the next.
    pub upstream_timeout: Duration,
}

/// A running server; stops when dropped.
pub struct DnsServer {
    local_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl DnsServer {
    /// Binds the UDP socket and starts answering.
    pub async fn start(config: DnsConfig, records: DnsRecords) -> Result<Self> {
        let socket = UdpSocket::bind(config.listen)
            .await
            .map_err(|e| Error::io(format!("listen for DNS on {}", config.listen), e))?;
        let local_addr = socket
            .local_addr()
            .map_err(|e| Error::io("read the DNS socket's address", e))?;
        let task = tokio::spawn(serve(Arc::new(socket), Arc::new(config), records));
        Ok(Self { local_addr, task })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(socket: Arc<UdpSocket>, config: Arc<DnsConfig>, records: DnsRecords) {
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (len, client) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(error) => {
                // ICMP errors from earlier replies surface here on Linux; keep serving.
                tracing::debug!(%error, "DNS receive");
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            continue;
        };
        let packet = buf[..len].to_vec();
        let (socket, config, records) = (Arc::clone(&socket), Arc::clone(&config), records.clone());
        tokio::spawn(async move {
            if let Some(reply) = answer(&packet, client, &config, &records).await
                && let Err(error) = socket.send_to(&reply, client).await
            {
                tracing::debug!(%error, %client, "DNS reply");
            }
            drop(permit);
        });
    }
}

/// The reply to one datagram from `client`, or `None` to stay silent.
async fn answer(
    packet: &[u8],
    client: SocketAddr,
    config: &DnsConfig,
    records: &DnsRecords,
) -> Option<Vec<u8>> {
    let query = match wire::parse_query(packet) {
        Ok(query) => query,
        Err(Rejection::Drop) => return None,
        Err(Rejection::Error { id, flags, rcode }) => {
            return Some(wire::error_response(id, flags, rcode));
        }
    };
    if let Some(reply) = answer_locally(&query, records) {
        return Some(reply);
    }
    let own = match client.ip() {
        IpAddr::V4(ip) => records.upstreams_of(ip),
        IpAddr::V6(_) => None,
    };
    let upstreams = own.as_deref().unwrap_or(&config.upstreams);
    Some(
        match forward(packet, upstreams, config.upstream_timeout).await {
            Some(reply) => reply,
            None => wire::response(&query, RCODE_SERVFAIL, &[], UDP_LIMIT),
        },
    )
}

/// Answers for the network's containers: A records for names, PTR for their addresses, and
/// an empty answer (not a forward) for other types of a container's name.
fn answer_locally(query: &Query<'_>, records: &DnsRecords) -> Option<Vec<u8>> {
    if !query.is_class_in() {
        return None;
    }
    if query.qtype == TYPE_PTR {
        let ip = wire::reverse_ipv4(&query.name)?;
        let name = records.reverse(ip)?;
        return Some(wire::response(
            query,
            RCODE_NOERROR,
            &[Rdata::Ptr(name)],
            UDP_LIMIT,
        ));
    }
    let ips = records.lookup(&query.name);
    if ips.is_empty() {
        return None;
    }
    // A container's name answers A and, on a dual-stack network, AAAA; any other type is
    // NODATA (the name exists, not with that type), never forwarded.
    let answers: Vec<Rdata> = match query.qtype {
        TYPE_A => ips.into_iter().map(Rdata::A).collect(),
        TYPE_AAAA => records
            .lookup_ipv6(&query.name)
            .into_iter()
            .map(Rdata::Aaaa)
            .collect(),
        _ => Vec::new(),
    };
    Some(wire::response(query, RCODE_NOERROR, &answers, UDP_LIMIT))
}

/// Sends the query as it came to each upstream in turn, from a fresh socket (a random source
/// port per query), and returns the first matching response.
async fn forward(packet: &[u8], upstreams: &[SocketAddr], wait: Duration) -> Option<Vec<u8>> {
    let id = wire::message_id(packet)?;
    for upstream in upstreams {
        match ask(packet, *upstream, wait).await {
            Ok(reply) if wire::is_response(&reply) && wire::message_id(&reply) == Some(id) => {
                return Some(reply);
            }
            Ok(_) => tracing::debug!(%upstream, "DNS upstream sent a mismatched reply"),
            Err(error) => tracing::debug!(%upstream, %error, "DNS upstream"),
        }
    }
    None
}

async fn ask(packet: &[u8], upstream: SocketAddr, wait: Duration) -> std::io::Result<Vec<u8>> {
    let any: IpAddr = match upstream {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = UdpSocket::bind((any, 0)).await?;
    socket.connect(upstream).await?;
    socket.send(packet).await?;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let len = tokio::time::timeout(wait, socket.recv(&mut buf))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    buf.truncate(len);
    Ok(buf)
}

/// The `nameserver` entries of a resolv.conf, as upstreams on port 53.
pub fn upstreams_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next()? == "nameserver").then_some(())?;
            // An IPv6 address may carry a zone ("fe80::1%eth0"), which a SocketAddr cannot.
            let ip: IpAddr = words.next()?.parse().ok()?;
            Some(SocketAddr::new(ip, 53))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::wire::build_query;

    #[test]
    fn resolv_conf_nameservers() {
        let text = "# generated\nsearch example.org\nnameserver 127.0.0.53\nnameserver ::1\n\
                    nameserver fe80::1%eth0\noptions edns0\n nameserver 10.0.0.1\n";
        let expected: Vec<SocketAddr> = vec![
            "127.0.0.53:53".parse().unwrap(),
            "[::1]:53".parse().unwrap(),
            "10.0.0.1:53".parse().unwrap(),
        ];
        assert_eq!(upstreams_from_resolv_conf(text), expected);
    }

    #[test]
    fn local_answers() {
        let records = DnsRecords::new();
        records.insert(Ipv4Addr::new(10, 0, 0, 2), ["web", "frontend"]);
        let a = build_query(1, "frontend", TYPE_A);
        let reply = answer_locally(&wire::parse_query(&a).unwrap(), &records).unwrap();
        assert_eq!(&reply[reply.len() - 4..], &[10, 0, 0, 2]);
        let aaaa = build_query(2, "web", TYPE_AAAA);
        let reply = answer_locally(&wire::parse_query(&aaaa).unwrap(), &records).unwrap();
        assert_eq!(
            u16::from_be_bytes([reply[6], reply[7]]),
            0,
            "NODATA, not forwarded"
        );
        let other = build_query(3, "example.com", TYPE_A);
        assert!(answer_locally(&wire::parse_query(&other).unwrap(), &records).is_none());
        let ptr = build_query(4, "2.0.0.10.in-addr.arpa", TYPE_PTR);
        assert!(answer_locally(&wire::parse_query(&ptr).unwrap(), &records).is_some());
        let unknown_ptr = build_query(5, "9.0.0.10.in-addr.arpa", TYPE_PTR);
        assert!(answer_locally(&wire::parse_query(&unknown_ptr).unwrap(), &records).is_none());
    }

    #[tokio::test]
    async fn unanswerable_names_get_servfail_without_upstreams() {
        let config = DnsConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            upstreams: Vec::new(),
            upstream_timeout: Duration::from_millis(100),
        };
        let query = build_query(77, "nowhere.test", TYPE_A);
        let client: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let reply = answer(&query, client, &config, &DnsRecords::new())
            .await
            .unwrap();
        assert_eq!(wire::message_id(&reply), Some(77));
        assert_eq!(reply[3] & 0x0f, RCODE_SERVFAIL);
    }

    /// A stub upstream on loopback that answers every A query with `ip`.
    async fn stub_upstream(ip: Ipv4Addr) -> SocketAddr {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((len, from)) = socket.recv_from(&mut buf).await {
                let query = wire::parse_query(&buf[..len]).unwrap();
                let reply = wire::response(&query, RCODE_NOERROR, &[Rdata::A(ip)], UDP_LIMIT);
                let _ = socket.send_to(&reply, from).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_container_with_its_own_servers_is_forwarded_to_them() {
        let network_upstream = stub_upstream(Ipv4Addr::new(192, 0, 2, 1)).await;
        let own_upstream = stub_upstream(Ipv4Addr::new(192, 0, 2, 2)).await;
        let config = DnsConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            upstreams: vec![network_upstream],
            upstream_timeout: Duration::from_secs(2),
        };
        let records = DnsRecords::new();
        let with_dns = Ipv4Addr::new(10, 0, 0, 2);
        records.set_upstreams(with_dns, vec![own_upstream]);
        let query = build_query(9, "example.test", TYPE_A);
        let answer_for = |ip: Ipv4Addr| {
            let (query, config, records) = (query.clone(), config.clone(), records.clone());
            async move {
                let reply = answer(&query, (ip, 5000).into(), &config, &records)
                    .await
                    .unwrap();
                reply[reply.len() - 4..].to_vec()
            }
        };
        assert_eq!(answer_for(with_dns).await, [192, 0, 2, 2]);
        assert_eq!(answer_for(Ipv4Addr::new(10, 0, 0, 3)).await, [192, 0, 2, 1]);
    }
}
