//! Networking end to end through the real docker CLI: the default bridge, published ports
//! reached from the host's loopback, user networks with DNS, isolation, host/none/container
//! modes. Traffic goes only to loopback and the test daemon's own bridges.

use berth_testkit::{Daemon, Requirement::*, ok, require, stderr};
use std::io::Read;
use std::time::{Duration, Instant};

fn daemon() -> Option<Daemon> {
    require(&[Root, Busybox, DockerCli]).then(|| {
        let d = Daemon::start();
        d.load_busybox();
        d
    })
}

/// Reads what a TCP server at `addr` sends, retrying while it comes up (5 s at most).
fn read_from(addr: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(addr) {
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            if !out.is_empty() {
                return out;
            }
        }
        assert!(Instant::now() < deadline, "nothing from {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The host port of a container's first mapping of port 80.
fn first_host_port(d: &Daemon, container: &str) -> String {
    let mapping = ok(&d.docker(&["port", container, "80"]));
    let first = mapping.lines().next().expect("a mapping");
    first.rsplit_once(':').expect("host:port").1.to_string()
}

const SERVE: &str = "while true; do echo served-by-$(hostname) | nc -l -p 80; done";

/// A shell command that prints what `SERVE` at `target` says. The server may not listen yet,
/// and busybox nc may end at its own stdin's end before the answer arrives: either way it
/// asks again until it gets one.
fn fetch(target: &str) -> String {
    format!("until out=$(nc {target} 80) && [ -n \"$out\" ]; do sleep 0.1; done; echo \"$out\"")
}

#[test]
fn default_bridge_gives_an_address_and_publishes_ports() {
    let Some(d) = daemon() else { return };
    let gateway = d.gateway();
    let subnet_prefix = gateway.rsplit_once('.').unwrap().0.to_string();
    let out = ok(&d.docker(&[
        "run", "--rm", "busybox", "ip", "-4", "-o", "addr", "show", "eth0",
    ]));
    assert!(out.contains(&format!("inet {subnet_prefix}.")), "{out}");
    let route = ok(&d.docker(&["run", "--rm", "busybox", "ip", "route"]));
    assert!(route.contains(&format!("default via {gateway}")), "{route}");

    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "--hostname",
        "webhost",
        "-p",
        "127.0.0.1::80",
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]));
    let mapping = ok(&d.docker(&["port", "web", "80"]));
    let host_addr = mapping.lines().next().unwrap().trim().to_string();
    assert!(host_addr.starts_with("127.0.0.1:"), "{mapping}");
    assert_eq!(read_from(&host_addr), "served-by-webhost\n");
    let ip = ok(&d.docker(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web"]));
    assert!(ip.starts_with(&subnet_prefix), "{ip}");
    assert_eq!(
        read_from(&format!("{}:80", ip.trim())),
        "served-by-webhost\n",
        "the container is reachable on the bridge"
    );
    let ps = ok(&d.docker(&["ps", "--format", "{{.Ports}}"]));
    assert!(ps.contains("->80/tcp"), "{ps}");

    // Published on every address: reached through the host's own (non-loopback) address on
    // the bridge, and through loopback.
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "everywhere",
        "--hostname",
        "allhost",
        "-p",
        "80",
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]));
    let port = first_host_port(&d, "everywhere");
    assert_eq!(
        read_from(&format!("{gateway}:{port}")),
        "served-by-allhost\n"
    );
    assert_eq!(
        read_from(&format!("127.0.0.1:{port}")),
        "served-by-allhost\n"
    );
    ok(&d.docker(&["rm", "-f", "web", "everywhere"]));
    assert!(
        std::net::TcpStream::connect(&host_addr).is_err(),
        "the port is closed after the container went"
    );
}

#[test]
fn user_networks_resolve_names_and_are_isolated() {
    let Some(d) = daemon() else { return };
    ok(&d.docker(&["network", "create", "--label", "team=a", "front"]));
    ok(&d.docker(&["network", "create", "back"]));
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "api",
        "--network",
        "front",
        "--network-alias",
        "svc",
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]));
    let resolv = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "front",
        "busybox",
        "cat",
        "/etc/resolv.conf",
    ]));
    let gateway = ok(&d.docker(&[
        "network",
        "inspect",
        "-f",
        "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
        "front",
    ]));
    assert!(
        resolv.starts_with(&format!("nameserver {}", gateway.trim())),
        "{resolv}"
    );
    let got = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "front",
        "busybox",
        "sh",
        "-c",
        &format!("{}; {}", fetch("api"), fetch("svc")),
    ]));
    let hostname = hostname_of(&d, "api");
    assert_eq!(
        got,
        format!("served-by-{hostname}\nserved-by-{hostname}\n"),
        "by name and by alias"
    );
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "back",
        "busybox",
        "sh",
        "-c",
        &format!("nc -w 1 {} 80", ip_of(&d, "api")),
    ]);
    assert!(out.stdout.is_empty(), "another network cannot reach it");
    let members = ok(&d.docker(&[
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}}{{end}}",
        "front",
    ]));
    assert_eq!(members.trim(), "api");
    let out = d.docker(&["network", "rm", "front"]);
    assert!(!out.status.success(), "a network in use stays");
    let out = d.docker(&["network", "rm", "bridge"]);
    assert!(
        stderr(&out).contains("pre-defined network"),
        "{}",
        stderr(&out)
    );
    ok(&d.docker(&["rm", "-f", "api"]));
    ok(&d.docker(&["network", "rm", "front"]));
    let pruned = ok(&d.docker(&["network", "prune", "-f"]));
    assert!(pruned.contains("back"), "{pruned}");
    let names = ok(&d.docker(&["network", "ls", "--format", "{{.Name}}"]));
    assert_eq!(
        names.lines().collect::<Vec<_>>(),
        ["bridge", "host", "none"]
    );
}

fn ip_of(d: &Daemon, name: &str) -> String {
    ok(&d.docker(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        name,
    ]))
    .trim()
    .to_string()
}

fn hostname_of(d: &Daemon, name: &str) -> String {
    ok(&d.docker(&["inspect", "-f", "{{.Config.Hostname}}", name]))
        .trim()
        .to_string()
}

#[test]
fn none_host_and_container_modes() {
    let Some(d) = daemon() else { return };
    let links = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "ls /sys/class/net",
    ]));
    assert_eq!(links.split_whitespace().collect::<Vec<_>>(), ["lo"]);
    let up = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "ip -o link show lo",
    ]));
    assert!(up.contains("UP"), "{up}");
    // On the host's network the container's init is in the host's network namespace.
    let host_ns = std::fs::read_link("/proc/self/ns/net").unwrap();
    let theirs = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "host",
        "busybox",
        "readlink",
        "/proc/1/ns/net",
    ]));
    assert_eq!(theirs.trim(), host_ns.to_string_lossy());
    ok(&d.docker(&["run", "-d", "--name", "owner", "busybox", "sleep", "60"]));
    let theirs = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "container:owner",
        "busybox",
        "sh",
        "-c",
        "ip -4 -o addr show eth0",
    ]));
    assert!(theirs.contains(&ip_of(&d, "owner")), "{theirs}");
    ok(&d.docker(&["rm", "-f", "owner"]));
}

#[test]
fn connect_and_disconnect_a_running_container() {
    let Some(d) = daemon() else { return };
    ok(&d.docker(&["network", "create", "extra"]));
    ok(&d.docker(&[
        "run", "-d", "--name", "roamer", "busybox", "sh", "-c", SERVE,
    ]));
    ok(&d.docker(&[
        "network", "connect", "--alias", "wanderer", "extra", "roamer",
    ]));
    let addrs = ok(&d.docker(&["exec", "roamer", "ip", "-4", "-o", "addr"]));
    assert!(addrs.contains("eth0") && addrs.contains("eth1"), "{addrs}");
    let hostname = hostname_of(&d, "roamer");
    let got = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "extra",
        "busybox",
        "sh",
        "-c",
        &fetch("wanderer"),
    ]));
    assert_eq!(
        got,
        format!("served-by-{hostname}\n"),
        "reached by its alias on the new network"
    );
    let out = d.docker(&["network", "connect", "extra", "roamer"]);
    assert!(!out.status.success(), "already connected");
    ok(&d.docker(&["network", "disconnect", "extra", "roamer"]));
    let addrs = ok(&d.docker(&["exec", "roamer", "ip", "-4", "-o", "addr"]));
    assert!(!addrs.contains("eth1"), "{addrs}");
    ok(&d.docker(&["rm", "-f", "roamer"]));
    ok(&d.docker(&["network", "rm", "extra"]));
}

#[test]
fn dns_flags_and_extra_hosts_shape_the_containers_files() {
    let Some(d) = daemon() else { return };
    let files = ok(&d.docker(&[
        "run",
        "--rm",
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.org",
        "--dns-option",
        "ndots:2",
        "--add-host",
        "db:192.0.2.9",
        "--add-host",
        "gw:host-gateway",
        "busybox",
        "sh",
        "-c",
        "cat /etc/resolv.conf; echo ---; cat /etc/hosts",
    ]));
    let (resolv, hosts) = files.split_once("---\n").unwrap();
    assert_eq!(
        resolv,
        "nameserver 192.0.2.53\nsearch example.org\noptions ndots:2\n"
    );
    let gateway = ok(&d.docker(&[
        "network",
        "inspect",
        "-f",
        "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
        "bridge",
    ]));
    assert!(hosts.contains("192.0.2.9\tdb\n"), "{hosts}");
    assert!(
        hosts.contains(&format!("{}\tgw\n", gateway.trim())),
        "{hosts}"
    );
    let bad = d.docker(&["run", "--rm", "--add-host", "db:nowhere", "busybox", "true"]);
    assert!(
        stderr(&bad).contains("invalid IP address in add-host"),
        "{}",
        stderr(&bad)
    );
}

/// A DNS server on `addr` (UDP) that answers every query with one A record, `answer`.
fn stub_dns_server(addr: &str, answer: [u8; 4]) -> std::net::UdpSocket {
    let socket = std::net::UdpSocket::bind(addr).expect("bind the stub DNS server");
    let serving = socket.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((len, from)) = serving.recv_from(&mut buf) {
            if len < 12 {
                continue;
            }
            let mut reply = buf[..len].to_vec();
            reply[2] |= 0x80; // a response
            reply[3] = 0x80; // recursion available, no error
            reply[6..8].copy_from_slice(&1u16.to_be_bytes()); // one answer
            reply[8..12].fill(0); // no authority or additional records
            // The question's name (a pointer to offset 12), A, IN, a TTL of 60, 4 bytes.
            reply.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
            reply.extend_from_slice(&answer);
            let _ = serving.send_to(&reply, from);
        }
    });
    socket
}

#[test]
fn dns_servers_of_a_container_on_a_user_network_answer_its_other_names() {
    let Some(d) = daemon() else { return };
    // A loopback address of its own, on port 53 as --dns implies; berthd forwards from the host.
    let _stub = stub_dns_server("127.0.0.77:53", [192, 0, 2, 77]);
    ok(&d.docker(&["network", "create", "named"]));
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "peer",
        "--network",
        "named",
        "busybox",
        "sleep",
        "60",
    ]));
    let looked_up = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "named",
        "--dns",
        "127.0.0.77",
        "busybox",
        "sh",
        "-c",
        "nslookup example.test; nslookup peer",
    ]));
    assert!(
        looked_up.contains("192.0.2.77"),
        "forwarded to its own server: {looked_up}"
    );
    assert!(
        looked_up.contains(ip_of(&d, "peer").trim()),
        "its network's names still answer: {looked_up}"
    );
    let resolv = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "named",
        "--dns",
        "127.0.0.77",
        "busybox",
        "cat",
        "/etc/resolv.conf",
    ]));
    assert!(
        !resolv.contains("127.0.0.77"),
        "the embedded server stays the nameserver: {resolv}"
    );
    ok(&d.docker(&["rm", "-f", "peer"]));
}

#[test]
fn a_requested_mac_address_is_the_containers() {
    let Some(d) = daemon() else { return };
    let mac = "02:42:ac:11:00:99";
    assert_eq!(
        ok(&d.docker(&[
            "run",
            "--rm",
            "--mac-address",
            mac,
            "busybox",
            "cat",
            "/sys/class/net/eth0/address"
        ])),
        format!("{mac}\n")
    );
    ok(&d.berth(&[
        "run",
        "-d",
        "--name",
        "macd",
        "--mac-address",
        "02:42:ac:11:00:9a",
        "busybox",
        "sleep",
        "60",
    ]));
    assert_eq!(
        ok(&d.docker(&["inspect", "-f", "{{.NetworkSettings.MacAddress}}", "macd"])),
        "02:42:ac:11:00:9a\n"
    );
    let multicast = d.docker(&["create", "--mac-address", "01:00:5e:00:00:01", "busybox"]);
    assert!(
        stderr(&multicast).contains("multicast"),
        "{}",
        stderr(&multicast)
    );
    ok(&d.docker(&["rm", "-f", "macd"]));
}

/// A veth pair on the host, one end the parent of a test's macvlan network (the `dummy`
/// module is not in every kernel); deleted on drop.
struct ParentLink(String);

impl ParentLink {
    fn new() -> Self {
        let name = format!("btmv{}", std::process::id() % 100_000);
        let peer = format!("{name}p");
        let ip = |args: &[&str]| {
            let status = std::process::Command::new("ip")
                .args(args)
                .status()
                .unwrap();
            assert!(status.success(), "ip {args:?}");
        };
        ip(&["link", "add", &name, "type", "veth", "peer", "name", &peer]);
        ip(&["link", "set", &name, "up"]);
        ip(&["link", "set", &peer, "up"]);
        ParentLink(name)
    }
}

impl Drop for ParentLink {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.0])
            .status();
    }
}

fn host_link_exists(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

#[test]
fn macvlan_networks_put_containers_on_the_parents_segment() {
    let Some(d) = daemon() else { return };
    let parent = ParentLink::new();
    let parent_option = format!("parent={}", parent.0);
    ok(&d.docker(&[
        "network",
        "create",
        "-d",
        "macvlan",
        "--subnet",
        "10.231.5.0/24",
        "-o",
        &parent_option,
        "mv",
    ]));
    assert_eq!(
        ok(&d.docker(&[
            "network",
            "inspect",
            "-f",
            "{{.Driver}} {{.Options.parent}}",
            "mv"
        ])),
        format!("macvlan {}\n", parent.0)
    );
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "server",
        "--network",
        "mv",
        "busybox",
        "sh",
        "-c",
        "while true; do echo over-macvlan | nc -l -p 80; done",
    ]));
    let server_ip = ip_of(&d, "server");
    assert!(server_ip.starts_with("10.231.5."), "{server_ip}");
    let got = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "mv",
        "busybox",
        "sh",
        "-c",
        &fetch(&server_ip),
    ]));
    assert_eq!(got, "over-macvlan\n");
    // A running container joins and leaves the macvlan network.
    ok(&d.docker(&["run", "-d", "--name", "roamer", "busybox", "sleep", "60"]));
    ok(&d.docker(&["network", "connect", "mv", "roamer"]));
    let joined = ok(&d.docker(&[
        "exec",
        "roamer",
        "sh",
        "-c",
        &format!("ip -4 -o addr show eth1; {}", fetch(&server_ip)),
    ]));
    assert!(
        joined.contains("inet 10.231.5.") && joined.ends_with("over-macvlan\n"),
        "{joined}"
    );
    ok(&d.docker(&["network", "disconnect", "mv", "roamer"]));
    let left = d.docker(&["exec", "roamer", "ls", "/sys/class/net/eth1"]);
    assert!(!left.status.success(), "eth1 is gone");
    ok(&d.docker(&["rm", "-f", "roamer"]));
    let bad = d.docker(&[
        "network",
        "create",
        "-d",
        "macvlan",
        "-o",
        "parent=nosuch0",
        "mv-bad",
    ]);
    assert!(
        stderr(&bad).contains("parent interface was not found on the host: nosuch0"),
        "{}",
        stderr(&bad)
    );
    ok(&d.docker(&["rm", "-f", "server"]));
    ok(&d.docker(&["network", "rm", "mv"]));
    assert!(host_link_exists(&parent.0), "a parent the user gave stays");

    // Without a parent: a link of the network's own, removed with it.
    let id = ok(&d.docker(&[
        "network",
        "create",
        "-d",
        "macvlan",
        "--subnet",
        "10.231.6.0/24",
        "internal-mv",
    ]));
    let dummy = format!("dm-{}", &id.trim()[..12]);
    assert!(host_link_exists(&dummy), "{dummy}");
    ok(&d.docker(&["network", "rm", "internal-mv"]));
    assert!(!host_link_exists(&dummy), "{dummy} removed");
}

#[test]
fn dual_stack_networks_give_containers_ipv6_addresses() {
    let Some(d) = daemon() else { return };
    ok(&d.docker(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "10.232.7.0/24",
        "--subnet",
        "fd00:b17:1::/64",
        "dual",
    ]));
    assert_eq!(
        ok(&d.docker(&[
            "network",
            "inspect",
            "-f",
            "{{.EnableIPv6}}{{range .IPAM.Config}} {{.Subnet}}/{{.Gateway}}{{end}}",
            "dual",
        ])),
        "true 10.232.7.0/24/10.232.7.1 fd00:b17:1::/64/fd00:b17:1::1\n"
    );
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "six",
        "--network",
        "dual",
        "--ip6",
        "fd00:b17:1::66",
        "--hostname",
        "sixhost",
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]));
    assert_eq!(
        ok(&d.docker(&[
            "inspect", "-f",
            "{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}/{{.GlobalIPv6PrefixLen}} via {{.IPv6Gateway}}{{end}}",
            "six",
        ])),
        "fd00:b17:1::66/64 via fd00:b17:1::1\n"
    );
    // Container to container, and the host (the bridge's gateway) to the container, over IPv6.
    let got = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "dual",
        "busybox",
        "sh",
        "-c",
        &format!(
            "ip -6 route | grep -o 'default via fd00:b17:1::1'; {}",
            fetch("fd00:b17:1::66")
        ),
    ]));
    assert_eq!(got, "default via fd00:b17:1::1\nserved-by-sixhost\n");
    // The embedded DNS server answers AAAA for a dual-stack container's name.
    let aaaa = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "dual",
        "busybox",
        "nslookup",
        "-type=aaaa",
        "six",
    ]));
    assert!(aaaa.contains("fd00:b17:1::66"), "{aaaa}");
    assert_eq!(read_from("[fd00:b17:1::66]:80"), "served-by-sixhost\n");

    // Without a subnet: a unique local /64 of its own.
    ok(&d.docker(&["network", "create", "--ipv6", "ula"]));
    let subnets = ok(&d.docker(&[
        "network",
        "inspect",
        "-f",
        "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
        "ula",
    ]));
    assert!(
        subnets
            .trim_end()
            .split(' ')
            .any(|s| s.starts_with("fd") && s.ends_with("::/64")),
        "{subnets}"
    );
    let refused = d.docker(&[
        "run",
        "--rm",
        "--network",
        "ula",
        "--ip6",
        "fd00:dead::1",
        "busybox",
        "true",
    ]);
    assert!(!refused.status.success());
    let v4_only = d.docker(&[
        "network",
        "create",
        "--subnet",
        "fd00:b17:2::/64",
        "v6-without-flag",
    ]);
    assert!(stderr(&v4_only).contains("--ipv6"), "{}", stderr(&v4_only));
    ok(&d.docker(&["rm", "-f", "six"]));
    ok(&d.docker(&["network", "rm", "dual", "ula"]));
}

/// A unique local /64 for this test process (`fdbf:PID:PID:n::/64`), as its prefix text.
fn subnet6_prefix(n: u16) -> String {
    let pid = std::process::id();
    format!("fdbf:{:x}:{:x}:{n:x}", pid >> 16, pid & 0xffff)
}

/// A namespace on the far end of a veth pair: an IPv6 host outside every berth network, with
/// no route back to them. Deleted on drop.
struct OutsideHost {
    netns: String,
    link: String,
}

impl OutsideHost {
    /// The host end gets `PREFIX::1/64`, the namespace end `PREFIX::2/64`.
    fn new(prefix: &str) -> Self {
        let id = std::process::id() % 100_000;
        let host = OutsideHost {
            netns: format!("bt6ns{id}"),
            link: format!("bt6h{id}"),
        };
        let peer = format!("bt6p{id}");
        let ip = |args: &[&str]| {
            let status = std::process::Command::new("ip")
                .args(args)
                .status()
                .unwrap();
            assert!(status.success(), "ip {args:?}");
        };
        ip(&["netns", "add", &host.netns]);
        ip(&[
            "link", "add", &host.link, "type", "veth", "peer", "name", &peer,
        ]);
        ip(&["link", "set", &peer, "netns", &host.netns]);
        let host_addr = format!("{prefix}::1/64");
        ip(&["addr", "add", &host_addr, "dev", &host.link, "nodad"]);
        ip(&["link", "set", &host.link, "up"]);
        let peer_addr = format!("{prefix}::2/64");
        ip(&[
            "-n",
            &host.netns,
            "addr",
            "add",
            &peer_addr,
            "dev",
            &peer,
            "nodad",
        ]);
        ip(&["-n", &host.netns, "link", "set", &peer, "up"]);
        host
    }

    /// Listens on `addr` inside the namespace, answers one connection with `greeting` and
    /// returns who connected.
    fn serve_once(
        &self,
        addr: std::net::SocketAddr,
        greeting: &'static str,
    ) -> std::thread::JoinHandle<std::net::SocketAddr> {
        use std::io::Write;
        use std::os::fd::AsRawFd;
        let path = format!("/run/netns/{}", self.netns);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            let ns = std::fs::File::open(&path).unwrap();
            // SAFETY: setns on this thread alone, with a descriptor of a network namespace.
            let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}");
            let listener = std::net::TcpListener::bind(addr).unwrap();
            ready_tx.send(()).unwrap();
            let (mut stream, peer) = listener.accept().unwrap();
            stream.write_all(greeting.as_bytes()).unwrap();
            peer
        });
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("listening");
        handle
    }
}

impl Drop for OutsideHost {
    fn drop(&mut self) {
        for args in [
            vec!["link", "del", &self.link],
            vec!["netns", "del", &self.netns],
        ] {
            let _ = std::process::Command::new("ip").args(&args).status();
        }
    }
}

/// The rules of the daemon's table owned by `tag` (`berth network br-…`, `berth endpoint …`).
fn rules_tagged(d: &Daemon, tag: &str) -> usize {
    let out = std::process::Command::new("nft")
        .args(["list", "table", "inet", &d.nft_table()])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| line.contains(&format!("comment \"{tag}")))
        .count()
}

#[test]
fn dual_stack_containers_publish_ports_and_reach_out_over_ipv6() {
    let Some(d) = daemon() else { return };
    let prefix = subnet6_prefix(1);
    let subnet = format!("{prefix}::/64");
    let gateway6 = format!("{prefix}::1");
    ok(&d.docker(&["network", "create", "--ipv6", "--subnet", &subnet, "v6pub"]));
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/forwarding")
            .unwrap()
            .trim(),
        "1"
    );
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "web6",
        "--network",
        "v6pub",
        "--hostname",
        "web6host",
        "-p",
        "80",
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]));
    // One host port, on 0.0.0.0 and on ::, as Docker 1.47 shows them.
    let mapping = ok(&d.docker(&["port", "web6", "80"]));
    let lines: Vec<&str> = mapping.lines().collect();
    assert_eq!(lines.len(), 2, "{mapping}");
    let port = lines[0].strip_prefix("0.0.0.0:").expect("IPv4 first");
    assert_eq!(lines[1], format!("[::]:{port}"), "{mapping}");
    assert_eq!(
        ok(&d.berth(&["port", "web6", "80"])),
        mapping,
        "berth's CLI agrees"
    );
    let ps = ok(&d.docker(&["ps", "--filter", "name=web6", "--format", "{{.Ports}}"]));
    assert_eq!(
        ps.trim(),
        format!("0.0.0.0:{port}->80/tcp, [::]:{port}->80/tcp")
    );
    let ports = ok(&d.docker(&["inspect", "-f", "{{json .NetworkSettings.Ports}}", "web6"]));
    assert_eq!(
        ports.trim(),
        format!(
            r#"{{"80/tcp":[{{"HostIp":"0.0.0.0","HostPort":"{port}"}},{{"HostIp":"::","HostPort":"{port}"}}]}}"#
        )
    );
    // Over IPv6 on the bridge's gateway address, on the host's [::1] (relayed: no DNAT can
    // take a loopback source into the bridge), and still over IPv4 on loopback.
    assert_eq!(
        read_from(&format!("[{gateway6}]:{port}")),
        "served-by-web6host\n"
    );
    assert_eq!(read_from(&format!("[::1]:{port}")), "served-by-web6host\n");
    assert_eq!(
        read_from(&format!("127.0.0.1:{port}")),
        "served-by-web6host\n"
    );

    // An IPv6 host address publishes on that address only.
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "pinned6",
        "--network",
        "v6pub",
        "--hostname",
        "pinnedhost",
        "-p",
        &format!("[{gateway6}]::80"),
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]));
    let mapping = ok(&d.docker(&["port", "pinned6", "80"]));
    let pinned = mapping.trim().to_string();
    assert!(
        pinned.starts_with(&format!("[{gateway6}]:")) && mapping.lines().count() == 1,
        "{mapping}"
    );
    assert_eq!(read_from(&pinned), "served-by-pinnedhost\n");
    // On [::1] alone: served by the relay, with no DNAT rule at all.
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "local6",
        "--network",
        "v6pub",
        "--hostname",
        "localhost6",
        "-p",
        "[::1]::80",
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]));
    let local = ok(&d.docker(&["port", "local6", "80"])).trim().to_string();
    assert!(local.starts_with("[::1]:"), "{local}");
    assert_eq!(read_from(&local), "served-by-localhost6\n");
    ok(&d.docker(&["rm", "-f", "local6"]));
    let port6 = local.rsplit(':').next().unwrap();
    assert!(
        std::net::TcpStream::connect(format!("[::1]:{port6}")).is_err(),
        "the relay stops with the container"
    );

    // Outbound: a host outside the network, with no route back, sees the host's address.
    let outside_prefix = subnet6_prefix(2);
    let outside = OutsideHost::new(&outside_prefix);
    let peer_addr: std::net::SocketAddr = format!("[{outside_prefix}::2]:7000").parse().unwrap();
    let server = outside.serve_once(peer_addr, "from-outside");
    let peer_host = format!("{outside_prefix}::2");
    let got = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "v6pub",
        "busybox",
        "nc",
        "-w",
        "5",
        &peer_host,
        "7000",
    ]));
    assert_eq!(got, "from-outside");
    assert_eq!(
        server.join().unwrap().ip().to_string(),
        format!("{outside_prefix}::1"),
        "masqueraded to the outgoing interface's address"
    );

    // Everything goes with the containers and the network.
    let bridge = format!(
        "br-{}",
        &ok(&d.docker(&["network", "inspect", "-f", "{{.Id}}", "v6pub"])).trim()[..12]
    );
    assert!(rules_tagged(&d, &format!("berth network {bridge}")) > 0);
    ok(&d.docker(&["rm", "-f", "web6", "pinned6"]));
    assert_eq!(rules_tagged(&d, "berth endpoint"), 0);
    assert!(
        std::net::TcpStream::connect(&pinned).is_err(),
        "nothing answers once the container went"
    );
    // Their veth pairs go too (in the background, off the path of `rm`).
    let veths = || {
        let out = std::process::Command::new("ip")
            .args(["-o", "link", "show", "master", &bridge])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while veths() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(veths(), 0, "veth pairs left on {bridge}");
    ok(&d.docker(&["network", "rm", "v6pub"]));
    assert_eq!(rules_tagged(&d, &format!("berth network {bridge}")), 0);
}

#[test]
fn ipv6_host_addresses_need_an_ipv6_container_address() {
    let Some(d) = daemon() else { return };
    // The CLI refuses an address that is not one.
    let bad = d.docker(&["run", "--rm", "-p", "[zz::1]:80:80", "busybox", "true"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("invalid IP address"),
        "{}",
        stderr(&bad)
    );
    // So does the API.
    let created = d.api_json(
        "POST",
        "/containers/create?name=badip",
        &serde_json::json!({
            "Image": "busybox", "Cmd": ["true"],
            "HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "zz::1", "HostPort": "80"}]}}
        }),
    );
    let started = d.api_json("POST", "/containers/badip/start", &serde_json::json!({}));
    let refused = if created.status == 201 {
        &started
    } else {
        &created
    };
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert!(refused.text().contains("zz::1"), "{}", refused.text());

    // An IPv6 host address on the default bridge, which has no IPv6: a clear error at start,
    // and nothing of it stays in the firewall.
    let out = d.docker(&[
        "run",
        "-d",
        "--name",
        "nov6",
        "-p",
        "[fd00:dead:beef::1]::80",
        "busybox",
        "sleep",
        "60",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no IPv6 address"), "{}", stderr(&out));
    assert_eq!(rules_tagged(&d, "berth endpoint"), 0);
    // Without an IPv6 host address the same container publishes on IPv4 only.
    ok(&d.docker(&["rm", "-f", "nov6"]));
    ok(&d.docker(&[
        "run", "-d", "--name", "v4only", "-p", "80", "busybox", "sleep", "60",
    ]));
    let mapping = ok(&d.docker(&["port", "v4only", "80"]));
    assert_eq!(mapping.lines().count(), 1, "{mapping}");
    assert!(mapping.starts_with("0.0.0.0:"), "{mapping}");
    ok(&d.docker(&["rm", "-f", "v4only", "badip"]));
}

#[test]
fn a_restart_over_an_earlier_berths_ip_table_publishes_the_ports_again() {
    let Some(mut d) = daemon() else { return };
    let prefix = subnet6_prefix(3);
    let subnet = format!("{prefix}::/64");
    ok(&d.docker(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        &subnet,
        "v6restart",
    ]));
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "kept",
        "--network",
        "v6restart",
        "--hostname",
        "kepthost",
        "-p",
        "80",
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]));
    let port = first_host_port(&d, "kept");
    // berthd dies while the container runs, and its table is found as a berth before IPv6
    // support left it: an `ip` table of the same name, the `inet` one missing.
    d.kill9();
    let table = d.nft_table();
    let nft = |args: &[&str]| {
        let status = std::process::Command::new("nft")
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "nft {args:?}");
    };
    nft(&["delete", "table", "inet", &table]);
    nft(&["add", "table", "ip", &table]);
    d.restart();
    let listed = std::process::Command::new("nft")
        .args(["list", "table", "ip", &table])
        .status()
        .unwrap();
    assert!(!listed.success(), "the legacy table was deleted");
    assert_eq!(
        read_from(&format!("[{prefix}::1]:{port}")),
        "served-by-kepthost\n"
    );
    assert_eq!(
        read_from(&format!("127.0.0.1:{port}")),
        "served-by-kepthost\n"
    );
    // The host port is held again: the daemon refuses it to another container.
    let taken = d.docker(&[
        "run",
        "-d",
        "--name",
        "squatter",
        "-p",
        &format!("{port}:80"),
        "busybox",
        "sleep",
        "60",
    ]);
    assert!(!taken.status.success());
    assert!(
        stderr(&taken).contains("already allocated"),
        "{}",
        stderr(&taken)
    );
    ok(&d.docker(&["rm", "-f", "kept", "squatter"]));
    ok(&d.docker(&["network", "rm", "v6restart"]));
}
