//! Real networking, as root: namespaces of the tests' own, a test bridge and nftables table
//! per test, traffic only between them and the host's loopback.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;
use std::time::Duration;

use berth_net::container_side::{self, ContainerInterface};
use berth_net::dns::{DnsConfig, DnsRecords, DnsServer};
use berth_net::ipam::AddressAllocator;
use berth_net::ipam6::Ipv6Allocator;
use berth_net::port_spec::PortSpec;
use berth_net::{Bridge, Firewall, HostPortAllocator, Ipv6Cidr, attach, detach, open_netns};
use common::*;

const MTU: u32 = 1500;

async fn firewall() -> TableGuard {
    TableGuard(Some(
        Firewall::init(&table_name())
            .await
            .expect("create the test table"),
    ))
}

/// A bridge on a fresh test subnet, with its address allocator.
async fn network() -> (Bridge, BridgeGuard, AddressAllocator) {
    let name = bridge_name();
    let guard = BridgeGuard(name.clone());
    let ipam = AddressAllocator::new(test_subnet().await, None, None).unwrap();
    let bridge = Bridge::ensure(&name, ipam.gateway_cidr(), MTU)
        .await
        .expect("create the test bridge");
    (bridge, guard, ipam)
}

/// A unique local /64 of this test process (`fdbe:PID:PID:n::/64`), never routed elsewhere.
fn test_subnet6(n: u16) -> Ipv6Cidr {
    let pid = std::process::id();
    let addr = Ipv6Addr::new(0xfdbe, (pid >> 16) as u16, pid as u16, n, 0, 0, 0, 0);
    Ipv6Cidr::new(addr, 64).unwrap()
}

/// A network with an IPv6 gateway on its bridge too.
async fn dual_stack_network(n: u16) -> (Bridge, BridgeGuard, AddressAllocator, Ipv6Allocator) {
    let (bridge, guard, ipam) = network().await;
    let ipam6 = Ipv6Allocator::new(test_subnet6(n), None).unwrap();
    bridge.add_gateway6(ipam6.gateway_cidr()).await.unwrap();
    (bridge, guard, ipam, ipam6)
}

/// Plugs a namespace into a bridge with an IPv4 and an IPv6 address; `routed`: with default
/// routes through the bridge's gateways.
async fn attach_dual(
    bridge: &Bridge,
    netns: &Netns,
    ipam: &mut AddressAllocator,
    ipam6: &mut Ipv6Allocator,
    routed: bool,
) -> (berth_net::Endpoint, Ipv4Addr, Ipv6Addr) {
    let (ip, ip6) = (ipam.allocate().unwrap(), ipam6.allocate().unwrap());
    let mut endpoint = attach(bridge, netns.fd(), ip, None).await.unwrap();
    endpoint.container.addresses6 = vec![ipam6.subnet().with_addr(ip6)];
    endpoint.container.gateway6 = Some(ipam6.gateway());
    if !routed {
        endpoint.container.gateway = None;
        endpoint.container.gateway6 = None;
    }
    configure_in(netns, &endpoint.container);
    (endpoint, ip, ip6)
}

fn configure_in(netns: &Netns, interface: &ContainerInterface) {
    let interface = interface.clone();
    netns
        .run(move || container_side::configure(&interface))
        .expect("configure the container side");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_on_a_bridge_talk_and_publish_ports() {
    if !have_root() {
        return;
    }
    let table = firewall().await;
    let firewall = table.firewall();
    // A restarted daemon initializes the same table again: nothing is duplicated.
    let again = Firewall::init(firewall.table()).await.unwrap();
    let static_rules = again.rules().await.unwrap();
    assert_eq!(
        static_rules
            .iter()
            .filter(|r| r.tag.as_deref() == Some("berth"))
            .count(),
        2,
        "{static_rules:#?}"
    );
    let (bridge, _bridge_guard, mut ipam) = network().await;
    // Ensuring again changes nothing and does not fail.
    Bridge::ensure(bridge.name(), bridge.gateway(), MTU)
        .await
        .unwrap();
    let subnet = ipam.subnet();
    assert!(berth_net::routed_subnets().await.unwrap().contains(&subnet));
    firewall
        .add_network(bridge.name(), subnet, None)
        .await
        .unwrap();
    let gateway = ipam.gateway();

    let (ns_a, ns_b) = (Netns::new(), Netns::new());
    let (ip_a, ip_b) = (ipam.allocate().unwrap(), ipam.allocate().unwrap());
    let a = attach(&bridge, ns_a.fd(), ip_a, None).await.unwrap();
    let b = attach(&bridge, ns_b.fd(), ip_b, None).await.unwrap();
    assert!(a.host_ifname.starts_with("veth") && a.host_ifname.len() == 11);
    assert!(host_link_exists(&a.host_ifname) && host_link_exists(&b.host_ifname));
    assert_eq!(a.container.gateway, Some(gateway));
    assert_eq!(a.ip(), Some(ip_a));

    // The interface description travels to the container's init as JSON.
    let sent: ContainerInterface =
        serde_json::from_str(&serde_json::to_string(&a.container).unwrap()).unwrap();
    configure_in(&ns_a, &sent);
    configure_in(&ns_a, &sent); // a second run finds eth0 already configured
    configure_in(&ns_b, &b.container);
    let temp_name = a.container.temp_name.clone();
    assert!(ns_a.run(move || link_exists_here("eth0") && !link_exists_here(&temp_name)));
    assert_eq!(ns_a.run(|| link_mac_and_mtu("eth0")), (a.mac(), MTU));

    // Each container holds its own address: binding to it only works where it is assigned.
    let listener_b = ns_b.run(move || TcpListener::bind((ip_b, 7000)).expect("ip_b is on eth0"));
    assert!(ns_a.run(move || TcpListener::bind((ip_b, 7001)).is_err()));

    // TCP across the bridge, in both directions.
    let server_b = ns_b.spawn(move || serve_greetings(listener_b, 1, "hello from b"));
    let got = ns_a.run(move || read_greeting(SocketAddr::from((ip_b, 7000))));
    assert_eq!(got.unwrap(), "hello from b");
    assert_eq!(server_b.join().unwrap()[0].ip(), IpAddr::V4(ip_a));
    let listener_a = ns_a.run(move || TcpListener::bind((ip_a, 7000)).unwrap());
    let server_a = ns_a.spawn(move || serve_greetings(listener_a, 1, "hello from a"));
    let got = ns_b.run(move || read_greeting(SocketAddr::from((ip_a, 7000))));
    assert_eq!(got.unwrap(), "hello from a");
    server_a.join().unwrap();

    // Publish container a's port 80 on a random host port (`-p 80`).
    let mut host_ports = HostPortAllocator::new();
    let spec: PortSpec = "80".parse().unwrap();
    let forward = host_ports
        .reserve(&spec.requests()[0], ip_a, None)
        .unwrap()
        .remove(0);
    firewall
        .publish(&a.host_ifname, std::slice::from_ref(&forward))
        .await
        .unwrap();
    let web = ns_a.run(|| TcpListener::bind("0.0.0.0:80").unwrap());
    let web_server = ns_a.spawn(move || serve_greetings(web, 2, "web"));
    let host_port = forward.host_port;
    let via_loopback = tokio::task::spawn_blocking(move || {
        (
            read_greeting(SocketAddr::from((Ipv4Addr::LOCALHOST, host_port))),
            read_greeting(SocketAddr::from((gateway, host_port))),
        )
    })
    .await
    .unwrap();
    assert_eq!(
        via_loopback
            .0
            .expect("127.0.0.1:hostPort reaches the container"),
        "web"
    );
    assert_eq!(
        via_loopback
            .1
            .expect("gateway:hostPort reaches the container"),
        "web"
    );
    // Both arrive from the gateway: loopback traffic is masqueraded onto the bridge.
    let peers = web_server.join().unwrap();
    assert!(
        peers.iter().all(|p| p.ip() == IpAddr::V4(gateway)),
        "{peers:?}"
    );

    let rules = firewall.rules().await.unwrap();
    let network_tag = format!("berth network {}", bridge.name());
    let endpoint_tag = format!("berth endpoint {}", a.host_ifname);
    let masquerade = rules.iter().find(|r| {
        r.chain == "postrouting"
            && r.tag.as_deref() == Some(network_tag.as_str())
            && r.expressions.last().map(String::as_str) == Some("masq")
    });
    assert!(masquerade.is_some(), "{rules:#?}");
    assert!(rules.iter().any(|r| r.chain == "ports"
        && r.tag.as_deref() == Some(endpoint_tag.as_str())
        && r.expressions.last().map(String::as_str) == Some("nat")));

    // Detach: the ports and the veth pair go.
    firewall.unpublish(&a.host_ifname).await.unwrap();
    host_ports.release(&forward);
    detach(&a).await.unwrap();
    detach(&a).await.unwrap(); // already gone: fine
    assert!(!host_link_exists(&a.host_ifname));
    assert!(!ns_a.run(|| link_exists_here("eth0")));
    let rules = firewall.rules().await.unwrap();
    assert!(
        !rules
            .iter()
            .any(|r| r.tag.as_deref() == Some(endpoint_tag.as_str()))
    );
    let refused = tokio::task::spawn_blocking(move || {
        read_greeting(SocketAddr::from((Ipv4Addr::LOCALHOST, host_port)))
    })
    .await
    .unwrap();
    assert!(refused.is_err(), "nothing answers once unpublished");

    firewall.remove_network(bridge.name()).await.unwrap();
    let rules = firewall.rules().await.unwrap();
    assert!(
        !rules
            .iter()
            .any(|r| r.tag.as_deref() == Some(network_tag.as_str()))
    );
    detach(&b).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn networks_are_isolated_from_each_other() {
    if !have_root() {
        return;
    }
    let table = firewall().await;
    let firewall = table.firewall();
    let (bridge_1, _guard_1, mut ipam_1) = network().await;
    let (bridge_2, _guard_2, mut ipam_2) = network().await;
    let (ns_1, ns_2) = (Netns::new(), Netns::new());
    let ip_1 = ipam_1.allocate().unwrap();
    let ip_2 = ipam_2.allocate().unwrap();
    let e1 = attach(&bridge_1, ns_1.fd(), ip_1, None).await.unwrap();
    let e2 = attach(&bridge_2, ns_2.fd(), ip_2, None).await.unwrap();
    configure_in(&ns_1, &e1.container);
    configure_in(&ns_2, &e2.container);

    let listener = ns_2.run(move || TcpListener::bind((ip_2, 7000)).unwrap());
    // Without berth's rules the host routes between the two bridges (Firewall::init turned
    // forwarding on); another firewall on the host may already drop it, so this is informative.
    let before = ns_1.run(move || {
        std::net::TcpStream::connect_timeout(
            &SocketAddr::from((ip_2, 7000)),
            Duration::from_secs(1),
        )
        .is_ok()
    });
    if !before {
        eprintln!("note: the host already drops forwarding between the test bridges");
    }

    firewall
        .add_network(bridge_1.name(), ipam_1.subnet(), None)
        .await
        .unwrap();
    firewall
        .add_network(bridge_2.name(), ipam_2.subnet(), None)
        .await
        .unwrap();
    let after = ns_1.run(move || {
        std::net::TcpStream::connect_timeout(
            &SocketAddr::from((ip_2, 7000)),
            Duration::from_secs(1),
        )
        .is_ok()
    });
    assert!(!after, "traffic between networks is dropped");
    // Each container still reaches its own gateway.
    let gateway_2 = ipam_2.gateway();
    let probe = TcpListener::bind((gateway_2, 0)).unwrap();
    let port = probe.local_addr().unwrap().port();
    assert!(ns_2.run(move || {
        std::net::TcpStream::connect_timeout(
            &SocketAddr::from((gateway_2, port)),
            Duration::from_secs(2),
        )
        .is_ok()
    }));
    drop(listener);
    detach(&e1).await.unwrap();
    detach(&e2).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_answers_container_names_and_forwards_the_rest() {
    if !have_root() {
        return;
    }
    let (bridge, _guard, mut ipam) = network().await;
    let ns = Netns::new();
    let ip = ipam.allocate().unwrap();
    // berthd names a container's namespace by path (/proc/<pid>/ns/net).
    let by_path = open_netns(Path::new(&format!("/proc/self/fd/{}", ns.fd().as_raw_fd()))).unwrap();
    let endpoint = attach(&bridge, by_path.as_fd(), ip, None).await.unwrap();
    drop(by_path);
    configure_in(&ns, &endpoint.container);

    // A stub upstream on the host's loopback answering every A query with 203.0.113.7.
    let upstream = UdpSocket::bind("127.0.0.1:0").unwrap();
    let upstream_addr = upstream.local_addr().unwrap();
    upstream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let stub = std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        let (len, client) = upstream.recv_from(&mut buf).expect("a forwarded query");
        let mut reply = buf[..len].to_vec();
        reply[2] |= 0x80; // QR
        reply[3] = 0x80; // RA, NOERROR
        reply[7] = 1; // one answer
        reply.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 7]);
        upstream.send_to(&reply, client).unwrap();
    });

    let records = DnsRecords::new();
    records.insert(ip, ["web", "frontend"]);
    let gateway = ipam.gateway();
    let server = DnsServer::start(
        DnsConfig {
            listen: SocketAddr::from((gateway, 53)),
            upstreams: vec![upstream_addr],
            upstream_timeout: Duration::from_secs(2),
        },
        records,
    )
    .await
    .expect("listen on the gateway, port 53");
    let dns = server.local_addr();

    let answers = ns.run(move || {
        let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let ask = |id, name: &str| {
            socket.send_to(&dns_query(id, name), dns).unwrap();
            let mut buf = [0u8; 512];
            let (len, _) = socket.recv_from(&mut buf).expect("a DNS answer");
            assert_eq!(u16::from_be_bytes([buf[0], buf[1]]), id);
            dns_answers(&buf[..len])
        };
        (ask(1, "Frontend"), ask(2, "example.test"))
    });
    assert_eq!(answers.0, (0, vec![ip]), "a container alias");
    assert_eq!(
        answers.1,
        (0, vec![Ipv4Addr::new(203, 0, 113, 7)]),
        "forwarded"
    );
    stub.join().unwrap();
    drop(server);
    detach(&endpoint).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dual_stack_networks_publish_and_masquerade_over_ipv6() {
    if !have_root() {
        return;
    }
    let table = firewall().await;
    let firewall = table.firewall();
    let (bridge, _guard, mut ipam, mut ipam6) = dual_stack_network(1).await;
    firewall
        .add_network(bridge.name(), ipam.subnet(), Some(ipam6.subnet()))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/forwarding")
            .unwrap()
            .trim(),
        "1",
        "a dual-stack network turns IPv6 forwarding on"
    );
    let container = Netns::new();
    let (endpoint, ip, ip6) = attach_dual(&bridge, &container, &mut ipam, &mut ipam6, true).await;

    // `-p 80`: one host port, published on 0.0.0.0 and on ::.
    let mut host_ports = HostPortAllocator::new();
    let spec: PortSpec = "80".parse().unwrap();
    let forwards = host_ports
        .reserve(&spec.requests()[0], ip, Some(ip6))
        .unwrap();
    assert_eq!(forwards.len(), 2, "{forwards:?}");
    firewall
        .publish(&endpoint.host_ifname, &forwards)
        .await
        .unwrap();
    let web = container.run(|| TcpListener::bind("[::]:80").unwrap());
    let web_server = container.spawn(move || serve_greetings(web, 2, "web6"));
    let (port, gateway, gateway6) = (forwards[0].host_port, ipam.gateway(), ipam6.gateway());
    let got = tokio::task::spawn_blocking(move || {
        (
            read_greeting(SocketAddr::from((gateway6, port))),
            read_greeting(SocketAddr::from((gateway, port))),
        )
    })
    .await
    .unwrap();
    assert_eq!(
        got.0.expect("[gateway6]:hostPort reaches the container"),
        "web6"
    );
    assert_eq!(got.1.expect("gateway:hostPort still reaches it"), "web6");
    let peers = web_server.join().unwrap();
    assert_eq!(peers[0].ip(), IpAddr::V6(gateway6), "{peers:?}");

    // An outside host: a plain bridge (not one of berth's networks) with a namespace on it.
    let (outside, _outside_guard, mut outside_ipam, mut outside_ipam6) =
        dual_stack_network(2).await;
    let peer = Netns::new();
    let (peer_endpoint, _, peer_ip6) = attach_dual(
        &outside,
        &peer,
        &mut outside_ipam,
        &mut outside_ipam6,
        false,
    )
    .await;
    let listener = peer.run(move || TcpListener::bind((peer_ip6, 7000)).unwrap());
    let peer_server = peer.spawn(move || serve_greetings(listener, 1, "outside"));
    let got = container.run(move || read_greeting(SocketAddr::from((peer_ip6, 7000))));
    assert_eq!(
        got.expect("the container reaches the outside over IPv6"),
        "outside"
    );
    // The peer has no route back to the container's subnet: it sees, and answers, the host.
    assert_eq!(
        peer_server.join().unwrap()[0].ip(),
        IpAddr::V6(outside_ipam6.gateway()),
        "masqueraded to the outgoing interface's address"
    );

    // Unpublished and removed: no rule of the endpoint or network stays.
    firewall.unpublish(&endpoint.host_ifname).await.unwrap();
    forwards.iter().for_each(|f| host_ports.release(f));
    firewall.remove_network(bridge.name()).await.unwrap();
    let rules = firewall.rules().await.unwrap();
    assert!(
        rules.iter().all(|r| r.tag.as_deref() == Some("berth")),
        "{rules:#?}"
    );
    detach(&endpoint).await.unwrap();
    detach(&peer_endpoint).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_replaces_an_earlier_berths_ip_table() {
    if !have_root() {
        return;
    }
    let name = table_name();
    let nft = |args: &[&str]| {
        let status = std::process::Command::new("nft").args(args).status();
        status.is_ok_and(|s| s.success())
    };
    if !nft(&["add", "table", "ip", &name]) {
        eprintln!("skipped: no nft tool to make a legacy table with");
        return;
    }
    let table = TableGuard(Some(Firewall::init(&name).await.unwrap()));
    assert!(table.firewall().migrated());
    assert!(
        !nft(&["list", "table", "ip", &name]),
        "the ip table is gone"
    );
    assert!(nft(&["list", "table", "inet", &name]));
    let again = Firewall::init(&name).await.unwrap();
    assert!(!again.migrated(), "nothing to migrate the second time");
}
