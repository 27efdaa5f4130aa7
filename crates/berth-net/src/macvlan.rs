//! Plugging a container's network namespace into a host interface with a macvlan link (bridge
//! mode): the container appears on the parent's network with its own MAC address, and
//! containers of one parent reach each other directly. The host itself cannot reach them
//! through the parent: that is how macvlan works, as in Docker.

use std::net::Ipv4Addr;
use std::os::fd::BorrowedFd;

use crate::addr::{Ipv4Cidr, MacAddr};
use crate::blocking;
use crate::container_side::ContainerInterface;
use crate::endpoint::{Endpoint, random_suffix};
use crate::error::{Error, Result};
use crate::rtnl::{LinkChange, Rtnl};

/// The MTU of an internal parent: Ethernet's.
const DEFAULT_MTU: u32 = 1500;

/// Whether the host has a link called `name`.
pub async fn link_exists(name: &str) -> Result<bool> {
    let name = name.to_owned();
    blocking::run(move || Ok(Rtnl::open()?.link_index(&name)?.is_some())).await
}

/// Creates the parent of a macvlan network given none: a bridge with nothing plugged in, up,
/// so its containers reach only each other. (Docker makes a dummy link; a bridge serves the
/// same and needs no `dummy` kernel module, which some kernels lack.)
pub async fn create_internal_parent(name: &str) -> Result<()> {
    let name = name.to_owned();
    blocking::run(move || {
        let mut rtnl = Rtnl::open()?;
        rtnl.create_bridge(&name, DEFAULT_MTU, MacAddr::random())?;
        let index = rtnl.require_link(&name)?;
        rtnl.change_link(
            index,
            &LinkChange {
                up: true,
                ..LinkChange::default()
            },
        )
    })
    .await
}

/// Deletes a link the network owns (an internal parent); false if there was none.
pub async fn delete_parent(name: &str) -> Result<bool> {
    let name = name.to_owned();
    blocking::run(move || Rtnl::open()?.delete_link(&name)).await
}

/// Creates a macvlan link on `parent` inside `netns`. `subnet` is the network's gateway
/// address with the subnet's prefix (`10.77.0.1/24`), `ip` the container's address in it.
/// The endpoint's `host_ifname` is the name the link was born with: there is no host end to
/// delete, the link goes with the namespace.
pub async fn attach_macvlan(
    parent: &str,
    netns: BorrowedFd<'_>,
    subnet: Ipv4Cidr,
    ip: Ipv4Addr,
    gateway: Option<Ipv4Addr>,
    mac: Option<MacAddr>,
) -> Result<Endpoint> {
    if !subnet.contains(ip) || ip == subnet.addr() {
        return Err(Error::InvalidArgument(format!(
            "address {ip} is not a free host address of {}",
            subnet.network()
        )));
    }
    let mtu = parent_mtu(parent)?;
    let netns = netns
        .try_clone_to_owned()
        .map_err(|e| Error::io("duplicate the network namespace descriptor", e))?;
    let parent = parent.to_owned();
    let mac = mac.unwrap_or_else(MacAddr::random);
    blocking::run(move || {
        use std::os::fd::AsFd;
        let mut rtnl = Rtnl::open()?;
        let parent_index = rtnl.require_link(&parent)?;
        let temp_name = format!("mvl{}", random_suffix());
        rtnl.create_macvlan(&temp_name, parent_index, netns.as_fd())?;
        Ok(Endpoint {
            host_ifname: temp_name.clone(),
            bridge: parent,
            container: ContainerInterface {
                temp_name,
                name: "eth0".to_owned(),
                mac,
                mtu,
                addresses: vec![subnet.with_addr(ip)],
                gateway,
                addresses6: Vec::new(),
                gateway6: None,
            },
        })
    })
    .await
}

/// A macvlan link cannot be larger than its parent.
fn parent_mtu(parent: &str) -> Result<u32> {
    crate::rtnl::validate_ifname(parent)?;
    let path = format!("/sys/class/net/{parent}/mtu");
    let text =
        std::fs::read_to_string(&path).map_err(|_| Error::LinkNotFound(parent.to_owned()))?;
    text.trim()
        .parse()
        .map_err(|_| Error::InvalidArgument(format!("{path} holds {text:?}, not an MTU")))
}
