//! Helpers for the root tests: network namespaces held by descriptor, test-unique names and
//! subnets, and guards that clean up whatever a test created even when it fails.

use std::fs::File;
use std::future::Future;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use berth_net::ipam::{AddressPool, allocate_subnet};
use berth_net::{Bridge, Firewall, Ipv4Cidr, MacAddr};
use nix::sched::{CloneFlags, setns, unshare};

/// Whether the test can run: root is needed for namespaces, links and nftables. Skips (with
/// the reason) outside CI; in CI a missing privilege is a failure.
pub fn have_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "berth-net's network tests need root"
    );
    eprintln!("skipped: needs root (namespaces, links, nftables)");
    false
}

/// A network namespace of the test's own, alive while this value (its descriptor) is.
pub struct Netns {
    fd: OwnedFd,
}

impl Netns {
    pub fn new() -> Self {
        let fd = std::thread::spawn(|| {
            unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
            OwnedFd::from(File::open("/proc/thread-self/ns/net").expect("open the new netns"))
        })
        .join()
        .expect("netns thread");
        Self { fd }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Runs `work` on a new thread inside the namespace.
    pub fn spawn<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> JoinHandle<T> {
        let fd = self.fd.try_clone().expect("dup the netns descriptor");
        std::thread::spawn(move || {
            setns(&fd, CloneFlags::CLONE_NEWNET).expect("setns into the test netns");
            work()
        })
    }

    pub fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> T {
        self.spawn(work).join().expect("thread in netns")
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// `bt<pid%10000><n>`: unique per test process and call, short enough for an interface.
pub fn bridge_name() -> String {
    format!(
        "bt{}{}",
        std::process::id() % 10000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn table_name() -> String {
    format!(
        "berth_test_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

static TAKEN_SUBNETS: Mutex<Vec<Ipv4Cidr>> = Mutex::new(Vec::new());

/// A /24 for a test bridge that no route on the host and no other test of this process uses.
pub async fn test_subnet() -> Ipv4Cidr {
    let routed = berth_net::routed_subnets().await.expect("list routes");
    let mut taken = TAKEN_SUBNETS.lock().unwrap();
    let mut in_use = routed;
    in_use.extend(taken.iter().copied());
    let pool = AddressPool {
        base: "10.231.0.0/16".parse().unwrap(),
        size: 24,
    };
    let subnet = allocate_subnet(&[pool], &in_use).expect("a free test subnet");
    taken.push(subnet);
    subnet
}

/// Runs a cleanup future to completion from a destructor, on a runtime of its own.
fn run_detached<F: Future<Output = ()> + Send + 'static>(cleanup: F) {
    let _ = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("cleanup runtime")
            .block_on(cleanup)
    })
    .join();
}

/// Deletes a test bridge when dropped.
pub struct BridgeGuard(pub String);

impl Drop for BridgeGuard {
    fn drop(&mut self) {
        let name = self.0.clone();
        run_detached(async move {
            if let Err(e) = Bridge::delete(&name).await {
                eprintln!("cleanup: delete bridge {name}: {e}");
            }
        });
    }
}

/// Deletes a test nftables table when dropped.
pub struct TableGuard(pub Option<Firewall>);

impl TableGuard {
    pub fn firewall(&self) -> &Firewall {
        self.0.as_ref().expect("firewall")
    }
}

impl Drop for TableGuard {
    fn drop(&mut self) {
        if let Some(firewall) = self.0.take() {
            run_detached(async move {
                if let Err(e) = firewall.destroy().await {
                    eprintln!("cleanup: delete nftables table: {e}");
                }
            });
        }
    }
}

/// Whether the host has a link of this name (the test runs in the host namespace).
pub fn host_link_exists(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

/// Whether the calling thread's namespace has a link of this name.
pub fn link_exists_here(name: &str) -> bool {
    let name = std::ffi::CString::new(name).unwrap();
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    unsafe { libc::if_nametoindex(name.as_ptr()) != 0 }
}

const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Accepts `count` connections, greets each with `greeting` and returns the peers' addresses.
pub fn serve_greetings(
    listener: TcpListener,
    count: usize,
    greeting: &'static str,
) -> Vec<SocketAddr> {
    (0..count)
        .map(|_| {
            let (mut stream, peer) = listener.accept().expect("accept");
            stream.write_all(greeting.as_bytes()).expect("greet");
            peer
        })
        .collect()
}

/// Connects and reads everything the server sends.
pub fn read_greeting(addr: SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(text)
}

/// A DNS query for an A record.
pub fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut out = id.to_be_bytes().to_vec();
    out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.extend_from_slice(&[0, 0, 1, 0, 1]);
    out
}

/// The rcode and the A records of a response to [`dns_query`] (answers compressed to the
/// question's name, as the embedded server and the stub write them).
pub fn dns_answers(response: &[u8]) -> (u8, Vec<Ipv4Addr>) {
    let rcode = response[3] & 0x0f;
    let count = u16::from_be_bytes([response[6], response[7]]) as usize;
    let mut at = 12;
    while response[at] != 0 {
        at += 1 + response[at] as usize;
    }
    at += 5;
    let mut ips = Vec::new();
    for _ in 0..count {
        let rdlength = u16::from_be_bytes([response[at + 10], response[at + 11]]) as usize;
        if rdlength == 4 {
            let d = &response[at + 12..at + 16];
            ips.push(Ipv4Addr::new(d[0], d[1], d[2], d[3]));
        }
        at += 12 + rdlength;
    }
    (rcode, ips)
}

/// The MAC address and MTU of a link in the calling thread's namespace.
pub fn link_mac_and_mtu(name: &str) -> (MacAddr, u32) {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").expect("a socket for ioctls");
    let request = || {
        // SAFETY: ifreq is plain old data; all zeroes is a valid value.
        let mut ifreq: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, src) in ifreq.ifr_name.iter_mut().zip(name.bytes()) {
            *dst = src as libc::c_char;
        }
        ifreq
    };
    let mut hw = request();
    // SAFETY: SIOCGIFHWADDR reads the name from and writes the address into the ifreq.
    let rc = unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFHWADDR, &mut hw) };
    assert_eq!(rc, 0, "SIOCGIFHWADDR {name}");
    let mut mtu = request();
    // SAFETY: SIOCGIFMTU reads the name from and writes the MTU into the ifreq.
    let rc = unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFMTU, &mut mtu) };
    assert_eq!(rc, 0, "SIOCGIFMTU {name}");
    // SAFETY: the ioctls above filled these union members.
    let (data, mtu) = unsafe { (hw.ifr_ifru.ifru_hwaddr.sa_data, mtu.ifr_ifru.ifru_mtu) };
    let mac = MacAddr(std::array::from_fn(|i| data[i] as u8));
    (mac, mtu as u32)
}
