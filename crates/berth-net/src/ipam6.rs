//! IPv6 addresses inside one dual-stack network's subnet (`network create --ipv6 --subnet
//! fd00:1::/64`). The gateway is reserved, and so is the subnet's own address (the
//! subnet-router anycast address). Plain serializable data, stored with the network as the
//! IPv4 [`crate::ipam::AddressAllocator`] is.

use std::collections::BTreeSet;
use std::net::Ipv6Addr;

use serde::{Deserialize, Serialize};

use crate::addr::Ipv6Cidr;
use crate::ipam::IpamError;

/// How far past the last handed-out address automatic allocation looks for a free one: a /64
/// is never exhausted in practice, and a long scan would only hide a bug.
const MAX_PROBES: u128 = 1 << 16;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ipv6Allocator {
    subnet: Ipv6Cidr,
    gateway: Ipv6Addr,
    allocated: BTreeSet<Ipv6Addr>,
    /// The last address handed out: allocation moves on from there (see the IPv4 allocator).
    last: Option<Ipv6Addr>,
}

impl Ipv6Allocator {
    /// `subnet` must be a network address with a prefix of /126 or shorter; the gateway
    /// defaults to its first address (`::1`), as Docker's does.
    pub fn new(subnet: Ipv6Cidr, gateway: Option<Ipv6Addr>) -> Result<Self, IpamError> {
        if !subnet.is_network() || subnet.prefix() > 126 {
            return Err(IpamError::InvalidSubnet6(subnet));
        }
        let first = Ipv6Addr::from(u128::from(subnet.addr()) + 1);
        let gateway = gateway.unwrap_or(first);
        if !subnet.contains(gateway) || gateway == subnet.addr() {
            return Err(IpamError::GatewayOutsideSubnet6 { gateway, subnet });
        }
        Ok(Self {
            subnet,
            gateway,
            allocated: BTreeSet::new(),
            last: None,
        })
    }

    pub fn subnet(&self) -> Ipv6Cidr {
        self.subnet
    }

    pub fn gateway(&self) -> Ipv6Addr {
        self.gateway
    }

    /// The gateway with the subnet's prefix length, as it goes on the bridge.
    pub fn gateway_cidr(&self) -> Ipv6Cidr {
        self.subnet.with_addr(self.gateway)
    }

    fn usable(&self, ip: Ipv6Addr) -> bool {
        self.subnet.contains(ip)
            && ip != self.subnet.addr()
            && ip != self.gateway
            && !self.allocated.contains(&ip)
    }

    /// The next free address after the last one handed out.
    pub fn allocate(&mut self) -> Result<Ipv6Addr, IpamError> {
        let base = u128::from(self.subnet.addr());
        let size = 1u128
            .checked_shl(128 - u32::from(self.subnet.prefix()))
            .unwrap_or(u128::MAX);
        let start = self.last.map_or(1, |last| u128::from(last) - base + 1);
        let found = (0..MAX_PROBES.min(size))
            .map(|step| Ipv6Addr::from(base + (start + step) % size))
            .find(|ip| self.usable(*ip))
            .ok_or(IpamError::Exhausted6(self.subnet))?;
        self.allocated.insert(found);
        self.last = Some(found);
        Ok(found)
    }

    /// Reserves `ip` (`--ip6`).
    pub fn request(&mut self, ip: Ipv6Addr) -> Result<Ipv6Addr, IpamError> {
        if !self.subnet.contains(ip) || ip == self.subnet.addr() || ip == self.gateway {
            return Err(IpamError::OutsideSubnet6 {
                ip,
                subnet: self.subnet,
            });
        }
        if !self.allocated.insert(ip) {
            return Err(IpamError::InUse6(ip));
        }
        Ok(ip)
    }

    /// Returns `ip` to the pool; false if it was not handed out.
    pub fn release(&mut self, ip: Ipv6Addr) -> bool {
        self.allocated.remove(&ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allocator(subnet: &str) -> Ipv6Allocator {
        Ipv6Allocator::new(subnet.parse().unwrap(), None).unwrap()
    }

    #[test]
    fn addresses_follow_the_gateway_and_are_not_reused_at_once() {
        let mut a = allocator("fd00:1::/64");
        assert_eq!(a.gateway().to_string(), "fd00:1::1");
        let first = a.allocate().unwrap();
        assert_eq!(first.to_string(), "fd00:1::2");
        assert_eq!(a.allocate().unwrap().to_string(), "fd00:1::3");
        assert!(a.release(first));
        assert_eq!(a.allocate().unwrap().to_string(), "fd00:1::4");
        assert_eq!(
            a.request("fd00:1::9".parse().unwrap()).unwrap().to_string(),
            "fd00:1::9"
        );
        assert!(a.request("fd00:1::9".parse().unwrap()).is_err());
        assert!(
            a.request("fd00:1::1".parse().unwrap()).is_err(),
            "the gateway"
        );
        assert!(a.request("fd00:2::9".parse().unwrap()).is_err());
    }

    #[test]
    fn a_small_subnet_runs_out() {
        let mut a = allocator("fd00::/126");
        assert_eq!(a.allocate().unwrap().to_string(), "fd00::2");
        assert_eq!(a.allocate().unwrap().to_string(), "fd00::3");
        assert!(a.allocate().is_err());
    }

    #[test]
    fn bad_subnets_and_gateways_are_refused() {
        assert!(Ipv6Allocator::new("fd00::1/64".parse().unwrap(), None).is_err());
        assert!(Ipv6Allocator::new("fd00::/127".parse().unwrap(), None).is_err());
        let outside = Some("fd01::1".parse().unwrap());
        assert!(Ipv6Allocator::new("fd00::/64".parse().unwrap(), outside).is_err());
    }
}
