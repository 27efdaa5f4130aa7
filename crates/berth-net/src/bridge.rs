//! The Linux bridge a network's containers are plugged into.

use serde::{Deserialize, Serialize};

use crate::addr::{Ipv4Cidr, Ipv6Cidr, MacAddr};
use crate::blocking;
use crate::error::{Error, Result};
use crate::rtnl::{LinkChange, Rtnl, validate_ifname};

/// A bridge that exists and is up, with the network's gateway address on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bridge {
    name: String,
    gateway: Ipv4Cidr,
    mtu: u32,
}

impl Bridge {
    /// Creates the bridge if it is missing, puts `gateway` (address and the subnet's prefix,
    /// e.g. `172.18.0.1/16`) on it and brings it up. Calling it again, on daemon restart or
    /// for an existing network, changes nothing that is already right.
    pub async fn ensure(name: &str, gateway: Ipv4Cidr, mtu: u32) -> Result<Bridge> {
        validate_ifname(name)?;
        if gateway.is_network() || gateway.addr() == gateway.broadcast() {
            return Err(Error::InvalidArgument(format!(
                "gateway {gateway} is not a host address of its subnet"
            )));
        }
        let bridge = Bridge {
            name: name.to_owned(),
            gateway,
            mtu,
        };
        let name = bridge.name.clone();
        blocking::run(move || {
            let mut rtnl = Rtnl::open()?;
            if rtnl.link_index(&name)?.is_none() {
                // A fixed MAC: otherwise the bridge takes the lowest MAC of its ports and
                // changes it as containers come and go, and neighbours lose it.
                match rtnl.create_bridge(&name, mtu, MacAddr::random()) {
                    Err(Error::Netlink(e)) if e.raw_os_error() == Some(libc::EEXIST) => {}
                    other => other?,
                }
            }
            let index = rtnl.require_link(&name)?;
            if !rtnl.addresses(index)?.contains(&gateway) {
                rtnl.add_address(index, gateway)?;
            }
            rtnl.change_link(
                index,
                &LinkChange {
                    mtu: Some(mtu),
                    up: true,
                    ..LinkChange::default()
                },
            )
        })
        .await?;
        Ok(bridge)
    }

    /// Puts a dual-stack network's IPv6 gateway (`fd00:1::1/64`) on the bridge; an address
    /// already there is left as it is.
    pub async fn add_gateway6(&self, gateway: Ipv6Cidr) -> Result<()> {
        let name = self.name.clone();
        blocking::run(move || {
            let mut rtnl = Rtnl::open()?;
            let index = rtnl.require_link(&name)?;
            rtnl.add_address6(index, gateway)
        })
        .await
    }

    /// Deletes a bridge (its ports are released, not deleted); false if there was none.
    pub async fn delete(name: &str) -> Result<bool> {
        let name = name.to_owned();
        blocking::run(move || Rtnl::open()?.delete_link(&name)).await
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The gateway address with the subnet's prefix length.
    pub fn gateway(&self) -> Ipv4Cidr {
        self.gateway
    }

    pub fn mtu(&self) -> u32 {
        self.mtu
    }
}
