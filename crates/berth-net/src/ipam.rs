//! IP address management: addresses inside one network's subnet, and subnets for new networks
//! carved out of docker's `default-address-pools`.
//!
//! The state is plain data that serializes with serde: berthd stores an [`AddressAllocator`]
//! with its network record (in the same transaction as the container that got the address)
//! and loads it back on start.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::addr::{Ipv4Cidr, Ipv6Cidr};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    #[error("invalid subnet {0}: it must be a network address with a prefix of /30 or shorter")]
    InvalidSubnet(Ipv4Cidr),
    #[error("no matching subnet for gateway {gateway}: it is not a host address of {subnet}")]
    GatewayOutsideSubnet { gateway: Ipv4Addr, subnet: Ipv4Cidr },
    #[error("invalid ip-range {range}: it must lie inside subnet {subnet}")]
    RangeOutsideSubnet { range: Ipv4Cidr, subnet: Ipv4Cidr },
    #[error("no available IPv4 addresses on this network's address pools: {0}")]
    Exhausted(Ipv4Cidr),
    #[error("invalid address {ip}: it does not belong to any of this network's subnets ({subnet})")]
    OutsideSubnet { ip: Ipv4Addr, subnet: Ipv4Cidr },
    #[error("invalid address {ip}: the network or broadcast address of {subnet}")]
    Reserved { ip: Ipv4Addr, subnet: Ipv4Cidr },
    #[error("Address already in use")]
    InUse(Ipv4Addr),
    #[error(
        "invalid address pool {base} with size {size}: the size must be from the base's prefix to 30"
    )]
    InvalidPool { base: Ipv4Cidr, size: u8 },
    #[error("all predefined address pools have been fully subnetted")]
    PoolsExhausted,
    #[error(
        "invalid subnet {0}: it must be an IPv6 network address with a prefix of /126 or shorter"
    )]
    InvalidSubnet6(Ipv6Cidr),
    #[error("no matching subnet for gateway {gateway}: it is not a host address of {subnet}")]
    GatewayOutsideSubnet6 { gateway: Ipv6Addr, subnet: Ipv6Cidr },
    #[error("no available IPv6 addresses on this network's address pools: {0}")]
    Exhausted6(Ipv6Cidr),
    #[error("invalid address {ip}: it does not belong to any of this network's subnets ({subnet})")]
    OutsideSubnet6 { ip: Ipv6Addr, subnet: Ipv6Cidr },
    #[error("Address already in use")]
    InUse6(Ipv6Addr),
}

/// The addresses handed out in one network's subnet. The gateway is reserved; so are the
/// network and broadcast addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressAllocator {
    subnet: Ipv4Cidr,
    gateway: Ipv4Addr,
    /// docker's `--ip-range`: where automatic allocation picks from (requests may be anywhere
    /// in the subnet).
    ip_range: Option<Ipv4Cidr>,
    allocated: BTreeSet<Ipv4Addr>,
    /// The last address handed out: allocation goes round the range from there, so a released
    /// address is not reused at once (a peer may still have it in its ARP cache).
    last: Option<Ipv4Addr>,
}

impl AddressAllocator {
    /// A network's allocator. `gateway` defaults to the first host address, as docker does.
    pub fn new(
        subnet: Ipv4Cidr,
        gateway: Option<Ipv4Addr>,
        ip_range: Option<Ipv4Cidr>,
    ) -> Result<Self, IpamError> {
        if !subnet.is_network() || subnet.prefix() > 30 {
            return Err(IpamError::InvalidSubnet(subnet));
        }
        let gateway = gateway.unwrap_or_else(|| Ipv4Addr::from(u32::from(subnet.addr()) + 1));
        if !subnet.contains(gateway) || is_reserved(subnet, gateway) {
            return Err(IpamError::GatewayOutsideSubnet { gateway, subnet });
        }
        if let Some(range) = ip_range
            && (!range.is_network() || !subnet.covers(&range))
        {
            return Err(IpamError::RangeOutsideSubnet { range, subnet });
        }
        Ok(Self {
            subnet,
            gateway,
            ip_range,
            allocated: BTreeSet::new(),
            last: None,
        })
    }

    pub fn subnet(&self) -> Ipv4Cidr {
        self.subnet
    }

    pub fn gateway(&self) -> Ipv4Addr {
        self.gateway
    }

    /// The gateway with the subnet's prefix, as it goes on the bridge.
    pub fn gateway_cidr(&self) -> Ipv4Cidr {
        self.subnet.with_addr(self.gateway)
    }

    pub fn ip_range(&self) -> Option<Ipv4Cidr> {
        self.ip_range
    }

    pub fn is_allocated(&self, ip: Ipv4Addr) -> bool {
        self.allocated.contains(&ip)
    }

    pub fn allocated(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.allocated.iter().copied()
    }

    /// The next free address of the range, going round from the last one handed out.
    pub fn allocate(&mut self) -> Result<Ipv4Addr, IpamError> {
        let range = self.ip_range.unwrap_or(self.subnet);
        let first = u32::from(range.network().addr());
        let last = u32::from(range.broadcast());
        let start = match self.last {
            Some(ip) if range.contains(ip) => u32::from(ip),
            _ => last,
        };
        let mut candidate = start;
        loop {
            candidate = if candidate == last {
                first
            } else {
                candidate + 1
            };
            let ip = Ipv4Addr::from(candidate);
            if ip != self.gateway && !is_reserved(self.subnet, ip) && !self.allocated.contains(&ip)
            {
                self.allocated.insert(ip);
                self.last = Some(ip);
                return Ok(ip);
            }
            if candidate == start {
                return Err(IpamError::Exhausted(range));
            }
        }
    }

    /// Takes a specific address (`--ip`).
    pub fn request(&mut self, ip: Ipv4Addr) -> Result<Ipv4Addr, IpamError> {
        if !self.subnet.contains(ip) {
            return Err(IpamError::OutsideSubnet {
                ip,
                subnet: self.subnet,
            });
        }
        if is_reserved(self.subnet, ip) {
            return Err(IpamError::Reserved {
                ip,
                subnet: self.subnet,
            });
        }
        if ip == self.gateway || !self.allocated.insert(ip) {
            return Err(IpamError::InUse(ip));
        }
        Ok(ip)
    }

    /// Gives an address back; returns whether it was allocated.
    pub fn release(&mut self, ip: Ipv4Addr) -> bool {
        self.allocated.remove(&ip)
    }
}

/// The network and broadcast addresses of a subnet (a /31 or /32 has neither; they are
/// refused as network subnets anyway).
fn is_reserved(subnet: Ipv4Cidr, ip: Ipv4Addr) -> bool {
    ip == subnet.network().addr() || ip == subnet.broadcast()
}

/// One entry of docker's `default-address-pools`: cut `base` into subnets of prefix `size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressPool {
    pub base: Ipv4Cidr,
    pub size: u8,
}

/// Docker's built-in pools: 172.17.0.0/16 to 172.31.0.0/16 as /16s, then 192.168.0.0/16 as
/// /20s. Subnets already routed on the host (a running docker0, a VPN) are skipped by
/// [`allocate_subnet`], so berth and Docker can share the host.
pub fn default_address_pools() -> Vec<AddressPool> {
    let mut pools: Vec<AddressPool> = (17..=31)
        .map(|second| AddressPool {
            base: Ipv4Cidr::new(Ipv4Addr::new(172, second, 0, 0), 16).expect("prefix 16"),
            size: 16,
        })
        .collect();
    pools.push(AddressPool {
        base: Ipv4Cidr::new(Ipv4Addr::new(192, 168, 0, 0), 16).expect("prefix 16"),
        size: 20,
    });
    pools
}

/// The first subnet of the pools, in order, that overlaps none of `in_use` (the subnets of
/// existing networks plus the host's route destinations).
pub fn allocate_subnet(pools: &[AddressPool], in_use: &[Ipv4Cidr]) -> Result<Ipv4Cidr, IpamError> {
    for pool in pools {
        let base = pool.base.network();
        if pool.size < base.prefix() || pool.size > 30 {
            return Err(IpamError::InvalidPool {
                base: pool.base,
                size: pool.size,
            });
        }
        let step = 1u64 << (32 - u32::from(pool.size));
        let count = 1u64 << (pool.size - base.prefix());
        let mut index = 0;
        while index < count {
            let addr = u64::from(u32::from(base.addr())) + index * step;
            let candidate =
                Ipv4Cidr::new(Ipv4Addr::from(addr as u32), pool.size).expect("size checked above");
            match in_use.iter().find(|used| used.overlaps(&candidate)) {
                None => return Ok(candidate),
                // Skip every candidate the blocking subnet covers, not just this one.
                Some(used) => {
                    let used_end = u64::from(u32::from(used.broadcast()));
                    let next = (used_end + 1).saturating_sub(u64::from(u32::from(base.addr())));
                    index = (index + 1).max(next.div_ceil(step));
                }
            }
        }
    }
    Err(IpamError::PoolsExhausted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Ipv4Cidr {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn allocates_in_order_skipping_gateway_and_goes_round() {
        let mut ipam = AddressAllocator::new(cidr("10.9.0.0/29"), None, None).unwrap();
        assert_eq!(ipam.gateway(), ip("10.9.0.1"));
        assert_eq!(ipam.gateway_cidr().to_string(), "10.9.0.1/29");
        let got: Vec<_> = (0..5).map(|_| ipam.allocate().unwrap()).collect();
        assert_eq!(
            got,
            ["10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"].map(ip)
        );
        assert_eq!(
            ipam.allocate(),
            Err(IpamError::Exhausted(cidr("10.9.0.0/29")))
        );
        assert!(ipam.release(ip("10.9.0.3")));
        assert!(!ipam.release(ip("10.9.0.3")));
        assert_eq!(ipam.allocate().unwrap(), ip("10.9.0.3"));
    }

    #[test]
    fn released_address_is_not_reused_at_once() {
        let mut ipam = AddressAllocator::new(cidr("10.9.0.0/24"), None, None).unwrap();
        let a = ipam.allocate().unwrap();
        ipam.release(a);
        assert_ne!(ipam.allocate().unwrap(), a);
    }

    #[test]
    fn custom_gateway_and_ip_range() {
        let mut ipam = AddressAllocator::new(
            cidr("10.9.0.0/24"),
            Some(ip("10.9.0.254")),
            Some(cidr("10.9.0.128/30")),
        )
        .unwrap();
        let got: Vec<_> = (0..4).map(|_| ipam.allocate().unwrap()).collect();
        assert_eq!(
            got,
            ["10.9.0.128", "10.9.0.129", "10.9.0.130", "10.9.0.131"].map(ip)
        );
        assert!(ipam.allocate().is_err());
        // Requests may still be anywhere in the subnet.
        assert_eq!(ipam.request(ip("10.9.0.7")).unwrap(), ip("10.9.0.7"));
    }

    #[test]
    fn constructor_validates() {
        assert_eq!(
            AddressAllocator::new(cidr("10.9.0.1/24"), None, None),
            Err(IpamError::InvalidSubnet(cidr("10.9.0.1/24")))
        );
        assert!(AddressAllocator::new(cidr("10.9.0.0/31"), None, None).is_err());
        assert!(AddressAllocator::new(cidr("10.9.0.0/24"), Some(ip("10.9.1.1")), None).is_err());
        assert!(AddressAllocator::new(cidr("10.9.0.0/24"), Some(ip("10.9.0.255")), None).is_err());
        assert!(
            AddressAllocator::new(cidr("10.9.0.0/24"), None, Some(cidr("10.9.0.0/23"))).is_err()
        );
    }

    #[test]
    fn requested_addresses_are_validated() {
        let mut ipam = AddressAllocator::new(cidr("10.9.0.0/24"), None, None).unwrap();
        assert!(matches!(
            ipam.request(ip("10.8.0.5")),
            Err(IpamError::OutsideSubnet { .. })
        ));
        assert!(matches!(
            ipam.request(ip("10.9.0.0")),
            Err(IpamError::Reserved { .. })
        ));
        assert!(matches!(
            ipam.request(ip("10.9.0.255")),
            Err(IpamError::Reserved { .. })
        ));
        assert_eq!(
            ipam.request(ip("10.9.0.1")),
            Err(IpamError::InUse(ip("10.9.0.1")))
        );
        assert_eq!(ipam.request(ip("10.9.0.2")).unwrap(), ip("10.9.0.2"));
        assert_eq!(
            ipam.request(ip("10.9.0.2")),
            Err(IpamError::InUse(ip("10.9.0.2")))
        );
        // Automatic allocation steps over a requested address.
        assert_eq!(ipam.allocate().unwrap(), ip("10.9.0.3"));
    }

    #[test]
    fn state_round_trips_through_json() {
        let mut ipam = AddressAllocator::new(cidr("10.9.0.0/24"), None, None).unwrap();
        ipam.allocate().unwrap();
        ipam.request(ip("10.9.0.77")).unwrap();
        let json = serde_json::to_string(&ipam).unwrap();
        let mut back: AddressAllocator = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ipam);
        assert_eq!(back.allocate().unwrap(), ip("10.9.0.3"));
        assert!(back.is_allocated(ip("10.9.0.77")));
    }

    #[test]
    fn subnet_allocation_avoids_routes_and_networks() {
        let pools = default_address_pools();
        assert_eq!(allocate_subnet(&pools, &[]).unwrap(), cidr("172.17.0.0/16"));
        let in_use = [
            cidr("172.17.0.0/16"),
            cidr("172.18.5.0/24"),
            cidr("172.16.0.0/12"),
        ];
        // 172.16.0.0/12 covers every 172.x pool: the 192.168 pool comes next.
        assert_eq!(
            allocate_subnet(&pools, &in_use).unwrap(),
            cidr("192.168.0.0/20")
        );
        let in_use = [cidr("172.17.0.0/16"), cidr("172.18.5.0/24")];
        assert_eq!(
            allocate_subnet(&pools, &in_use).unwrap(),
            cidr("172.19.0.0/16")
        );
    }

    #[test]
    fn subnet_allocation_skips_past_a_large_blocker() {
        let pools = [AddressPool {
            base: cidr("10.0.0.0/8"),
            size: 24,
        }];
        let in_use = [cidr("10.0.0.0/9")];
        assert_eq!(
            allocate_subnet(&pools, &in_use).unwrap(),
            cidr("10.128.0.0/24")
        );
        let in_use = [cidr("10.0.0.0/8")];
        assert_eq!(
            allocate_subnet(&pools, &in_use),
            Err(IpamError::PoolsExhausted)
        );
        let bad = [AddressPool {
            base: cidr("10.0.0.0/16"),
            size: 8,
        }];
        assert!(matches!(
            allocate_subnet(&bad, &[]),
            Err(IpamError::InvalidPool { .. })
        ));
    }

    #[test]
    fn pools_deserialize_from_daemon_json() {
        let pools: Vec<AddressPool> =
            serde_json::from_str(r#"[{"base":"10.10.0.0/16","size":24}]"#).unwrap();
        assert_eq!(allocate_subnet(&pools, &[]).unwrap(), cidr("10.10.0.0/24"));
    }
}
