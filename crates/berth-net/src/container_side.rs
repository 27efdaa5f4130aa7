//! The part of an attachment that runs inside the container's network namespace.
//!
//! berthd never enters a container's namespace. It creates the veth pair with the container's
//! end already inside the namespace (under a temporary name) and hands a [`ContainerInterface`]
//! to the container's init as JSON; init, single-threaded and before exec, calls [`configure`].
//! This module is plain blocking netlink: no async runtime, no threads, no processes.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::addr::{Ipv4Cidr, Ipv6Cidr, MacAddr};
use crate::error::Result;
use crate::rtnl::{LinkChange, Rtnl};

/// The container end of one network attachment, as berthd left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerInterface {
    /// The name the link has after it was moved into the namespace.
    pub temp_name: String,
    /// The name to give it: `eth0` for the first network, `eth1`, ... for later ones.
    pub name: String,
    pub mac: MacAddr,
    pub mtu: u32,
    pub addresses: Vec<Ipv4Cidr>,
    /// The default route's next hop; `None` for an internal network or a second attachment
    /// that must not take over the default route.
    pub gateway: Option<Ipv4Addr>,
    /// On a dual-stack network: its IPv6 addresses, and the IPv6 default route's next hop.
    #[serde(default)]
    pub addresses6: Vec<Ipv6Cidr>,
    #[serde(default)]
    pub gateway6: Option<Ipv6Addr>,
}

/// Renames the link to its final name, sets its MAC and MTU, adds its addresses, brings it
/// and `lo` up and sets the default route. Runs in the namespace of the calling thread.
/// Calling it again on an interface already configured is harmless.
pub fn configure(interface: &ContainerInterface) -> Result<()> {
    let mut rtnl = Rtnl::open()?;
    let index = match rtnl.link_index(&interface.temp_name)? {
        Some(index) => index,
        None => rtnl.require_link(&interface.name)?,
    };
    rtnl.change_link(
        index,
        &LinkChange {
            name: Some(&interface.name),
            mac: Some(interface.mac),
            mtu: Some(interface.mtu),
            ..LinkChange::default()
        },
    )?;
    for addr in &interface.addresses {
        rtnl.add_address(index, *addr)?;
    }
    for addr in &interface.addresses6 {
        rtnl.add_address6(index, *addr)?;
    }
    let up = LinkChange {
        up: true,
        ..LinkChange::default()
    };
    rtnl.change_link(index, &up)?;
    loopback_up_with(&mut rtnl)?;
    if let Some(gateway) = interface.gateway {
        rtnl.set_default_route(gateway, index)?;
    }
    if let Some(gateway) = interface.gateway6 {
        rtnl.set_default_route6(gateway, index)?;
    }
    Ok(())
}

/// Deletes the interface `name` of the calling thread's namespace; one already gone is fine.
pub fn remove(name: &str) -> Result<()> {
    Rtnl::open()?.delete_link(name).map(drop)
}

/// Brings `lo` up: a container's network namespace starts with it down, and every network
/// mode but `host` needs it (`none` has nothing else).
pub fn loopback_up() -> Result<()> {
    loopback_up_with(&mut Rtnl::open()?)
}

fn loopback_up_with(rtnl: &mut Rtnl) -> Result<()> {
    let lo = rtnl.require_link("lo")?;
    rtnl.change_link(
        lo,
        &LinkChange {
            up: true,
            ..LinkChange::default()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_travels_as_json() {
        let interface = ContainerInterface {
            temp_name: "vp1a2b3c4".into(),
            name: "eth0".into(),
            mac: "02:42:ac:12:00:02".parse().unwrap(),
            mtu: 1500,
            addresses: vec!["172.18.0.2/16".parse().unwrap()],
            gateway: Some(Ipv4Addr::new(172, 18, 0, 1)),
            addresses6: vec!["fd00:1::2/64".parse().unwrap()],
            gateway6: Some("fd00:1::1".parse().unwrap()),
        };
        let json = serde_json::to_value(&interface).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "tempName": "vp1a2b3c4",
                "name": "eth0",
                "mac": "02:42:ac:12:00:02",
                "mtu": 1500,
                "addresses": ["172.18.0.2/16"],
                "gateway": "172.18.0.1",
                "addresses6": ["fd00:1::2/64"],
                "gateway6": "fd00:1::1",
            })
        );
        let back: ContainerInterface = serde_json::from_value(json).unwrap();
        assert_eq!(back, interface);
        // What an older berthd sent (no IPv6 fields) still reads.
        let old = serde_json::json!({"tempName": "vp1", "name": "eth0", "mac": "02:42:ac:12:00:02",
            "mtu": 1500, "addresses": [], "gateway": null});
        let old: ContainerInterface = serde_json::from_value(old).unwrap();
        assert!(old.addresses6.is_empty() && old.gateway6.is_none());
    }
}
