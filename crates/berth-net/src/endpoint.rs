//! Plugging a container's network namespace into a bridge with a veth pair.

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::addr::MacAddr;
use crate::blocking;
use crate::bridge::Bridge;
use crate::container_side::ContainerInterface;
use crate::error::{Error, Result};
use crate::rtnl::{LinkChange, Rtnl};

/// One container's attachment to one bridge network. Serializable: berthd keeps it with the
/// container so it can detach after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// The host end of the veth pair, `veth` and 7 hex digits; unique on the host, so it also
    /// names the endpoint's firewall rules.
    pub host_ifname: String,
    pub bridge: String,
    /// What `container_side::configure` needs, to be sent to the container's init. Its `name`
    /// is `eth0`; set it to `eth1`, ... for a container's later networks, and clear `gateway`
    /// on all but the network that should carry the default route.
    pub container: ContainerInterface,
}

impl Endpoint {
    pub fn ip(&self) -> Option<Ipv4Addr> {
        self.container.addresses.first().map(|cidr| cidr.addr())
    }

    pub fn mac(&self) -> MacAddr {
        self.container.mac
    }
}

/// Opens a network namespace by path, e.g. `/proc/<pid>/ns/net` or a bind mount of it.
pub fn open_netns(path: &Path) -> Result<OwnedFd> {
    File::open(path)
        .map(OwnedFd::from)
        .map_err(|e| Error::io(format!("open network namespace {}", path.display()), e))
}

/// How many fresh names to try when a random veth name is, improbably, taken.
const NAME_ATTEMPTS: usize = 3;

/// Creates a veth pair whose container end is born inside `netns` (under a temporary name),
/// plugs the host end into the bridge and brings it up. `ip` must be a host address of the
/// bridge's subnet other than the gateway (the caller's IPAM gave it out); `mac` defaults to
/// a random locally administered address.
pub async fn attach(
    bridge: &Bridge,
    netns: BorrowedFd<'_>,
    ip: Ipv4Addr,
    mac: Option<MacAddr>,
) -> Result<Endpoint> {
    let gateway = bridge.gateway();
    if !gateway.contains(ip)
        || ip == gateway.addr()
        || ip == gateway.network().addr()
        || ip == gateway.broadcast()
    {
        return Err(Error::InvalidArgument(format!(
            "address {ip} is not a free host address of {}",
            gateway.network()
        )));
    }
    let netns = netns
        .try_clone_to_owned()
        .map_err(|e| Error::io("duplicate the network namespace descriptor", e))?;
    let bridge_name = bridge.name().to_owned();
    let mtu = bridge.mtu();
    let mac = mac.unwrap_or_else(MacAddr::random);
    blocking::run(move || {
        let mut rtnl = Rtnl::open()?;
        let bridge_index = rtnl.require_link(&bridge_name)?;
        let (host_ifname, temp_name) = create_pair(&mut rtnl, mtu, &netns)?;
        let plugged = rtnl.require_link(&host_ifname).and_then(|index| {
            rtnl.change_link(
                index,
                &LinkChange {
                    master: Some(bridge_index),
                    up: true,
                    ..LinkChange::default()
                },
            )
        });
        if let Err(error) = plugged {
            if let Err(cleanup) = rtnl.delete_link(&host_ifname) {
                tracing::warn!(%host_ifname, %cleanup, "could not delete a half-made veth pair");
            }
            return Err(error);
        }
        Ok(Endpoint {
            host_ifname,
            bridge: bridge_name,
            container: ContainerInterface {
                temp_name,
                name: "eth0".to_owned(),
                mac,
                mtu,
                addresses: vec![gateway.with_addr(ip)],
                gateway: Some(gateway.addr()),
                addresses6: Vec::new(),
                gateway6: None,
            },
        })
    })
    .await
}

/// Seven random hex digits: with a four-letter prefix, a unique and valid interface name.
pub(crate) fn random_suffix() -> String {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).expect("the kernel's random source is available");
    format!("{:07x}", u32::from_be_bytes(bytes) >> 4)
}

fn create_pair(rtnl: &mut Rtnl, mtu: u32, netns: &OwnedFd) -> Result<(String, String)> {
    let mut attempt = 0;
    loop {
        let hex = random_suffix();
        let host = format!("veth{hex}");
        let peer = format!("vpeer{hex}");
        match rtnl.create_veth(&host, &peer, mtu, netns.as_fd()) {
            Err(Error::Netlink(e))
                if e.raw_os_error() == Some(libc::EEXIST) && attempt + 1 < NAME_ATTEMPTS =>
            {
                attempt += 1;
            }
            Err(e) => return Err(e),
            Ok(()) => return Ok((host, peer)),
        }
    }
}

/// Deletes the endpoint's veth pair (the container end goes with it). Detaching an endpoint
/// whose pair is already gone, because the namespace died, is not an error. Published ports
/// are removed separately, with `Firewall::unpublish`.
pub async fn detach(endpoint: &Endpoint) -> Result<()> {
    let name = endpoint.host_ifname.clone();
    blocking::run(move || Rtnl::open()?.delete_link(&name).map(|_| ())).await
}
