//! Address types shared by every part of the crate: IPv4 and IPv6 addresses with their prefix
//! length (`172.18.0.1/16`, `fd00:1::1/64`) and a MAC address. They serialize as the text form
//! docker uses.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::AddrParseError;

/// An IPv4 address and prefix length. The address may be a host inside the subnet (an
/// interface address such as `172.18.0.1/16`) or the network itself (`172.18.0.0/16`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv4Cidr {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Cidr {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self, AddrParseError> {
        if prefix > 32 {
            return Err(AddrParseError {
                what: "IPv4 prefix length",
                input: prefix.to_string(),
            });
        }
        Ok(Self { addr, prefix })
    }

    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(mask(self.prefix))
    }

    /// The subnet this address is in, with host bits cleared.
    pub fn network(&self) -> Ipv4Cidr {
        Self {
            addr: Ipv4Addr::from(u32::from(self.addr) & mask(self.prefix)),
            prefix: self.prefix,
        }
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !mask(self.prefix))
    }

    /// Whether the address has no host bits set, i.e. names a subnet.
    pub fn is_network(&self) -> bool {
        self.network().addr == self.addr
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.network().addr)
    }

    pub fn overlaps(&self, other: &Ipv4Cidr) -> bool {
        self.contains(other.network().addr) || other.contains(self.network().addr)
    }

    /// Whether `other` lies wholly inside this subnet.
    pub fn covers(&self, other: &Ipv4Cidr) -> bool {
        other.prefix >= self.prefix && self.contains(other.addr)
    }

    /// The same subnet with another address in it.
    pub fn with_addr(&self, addr: Ipv4Addr) -> Ipv4Cidr {
        Self {
            addr,
            prefix: self.prefix,
        }
    }
}

fn mask(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p)),
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = AddrParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || AddrParseError {
            what: "IPv4 CIDR",
            input: s.to_owned(),
        };
        let (addr, prefix) = s.split_once('/').ok_or_else(invalid)?;
        let addr = addr.parse().map_err(|_| invalid())?;
        if prefix.is_empty() || prefix.len() > 2 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let prefix = prefix.parse().map_err(|_| invalid())?;
        Self::new(addr, prefix).map_err(|_| invalid())
    }
}

/// An IPv6 address and prefix length (`fd00:1::1/64`), host or network, as [`Ipv4Cidr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv6Cidr {
    addr: Ipv6Addr,
    prefix: u8,
}

impl Ipv6Cidr {
    pub fn new(addr: Ipv6Addr, prefix: u8) -> Result<Self, AddrParseError> {
        if prefix > 128 {
            return Err(AddrParseError {
                what: "IPv6 prefix length",
                input: prefix.to_string(),
            });
        }
        Ok(Self { addr, prefix })
    }

    pub fn addr(&self) -> Ipv6Addr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    fn mask(&self) -> u128 {
        u128::MAX
            .checked_shl(128 - u32::from(self.prefix))
            .unwrap_or(0)
    }

    /// The prefix as an address mask (`ffff:ffff:ffff:ffff::` for a /64).
    pub fn netmask(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.mask())
    }

    /// The network itself: the address with its host bits cleared.
    pub fn network(&self) -> Self {
        Self {
            addr: Ipv6Addr::from(u128::from(self.addr) & self.mask()),
            prefix: self.prefix,
        }
    }

    pub fn is_network(&self) -> bool {
        self.network().addr == self.addr
    }

    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        u128::from(ip) & self.mask() == u128::from(self.addr) & self.mask()
    }

    pub fn overlaps(&self, other: &Self) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }

    /// `ip` with this prefix length.
    pub fn with_addr(&self, ip: Ipv6Addr) -> Self {
        Self {
            addr: ip,
            prefix: self.prefix,
        }
    }
}

impl fmt::Display for Ipv6Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Ipv6Cidr {
    type Err = AddrParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || AddrParseError {
            what: "IPv6 CIDR",
            input: s.to_owned(),
        };
        let (addr, prefix) = s.split_once('/').ok_or_else(invalid)?;
        let addr = addr.parse().map_err(|_| invalid())?;
        if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let prefix = prefix.parse().map_err(|_| invalid())?;
        Self::new(addr, prefix).map_err(|_| invalid())
    }
}

/// A 48-bit Ethernet address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// A random unicast, locally administered address (what Docker gives containers since 26.0;
    /// addresses derived from the IP made neighbours keep stale ARP entries when IPs were reused).
    #[cfg(feature = "host")]
    pub fn random() -> Self {
        let mut bytes = [0u8; 6];
        getrandom::fill(&mut bytes).expect("the kernel's random source is available");
        bytes[0] = (bytes[0] & 0xfe) | 0x02;
        Self(bytes)
    }

    pub fn octets(&self) -> [u8; 6] {
        self.0
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl FromStr for MacAddr {
    type Err = AddrParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || AddrParseError {
            what: "MAC address",
            input: s.to_owned(),
        };
        let mut bytes = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for byte in &mut bytes {
            let part = parts.next().ok_or_else(invalid)?;
            if part.len() != 2 {
                return Err(invalid());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| invalid())?;
        }
        if parts.next().is_some() {
            return Err(invalid());
        }
        Ok(Self(bytes))
    }
}

macro_rules! serde_as_string {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

serde_as_string!(Ipv4Cidr);
serde_as_string!(Ipv6Cidr);
serde_as_string!(MacAddr);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parts() {
        let gw: Ipv4Cidr = "172.18.0.1/16".parse().unwrap();
        assert_eq!(gw.network().to_string(), "172.18.0.0/16");
        assert_eq!(gw.broadcast(), Ipv4Addr::new(172, 18, 255, 255));
        assert_eq!(gw.netmask(), Ipv4Addr::new(255, 255, 0, 0));
        assert!(!gw.is_network());
        assert!(gw.contains(Ipv4Addr::new(172, 18, 3, 4)));
        assert!(!gw.contains(Ipv4Addr::new(172, 19, 0, 1)));
        let all: Ipv4Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(Ipv4Addr::new(8, 8, 8, 8)));
        assert!(all.overlaps(&gw));
        assert!(all.covers(&gw) && !gw.covers(&all));
    }

    #[test]
    fn ipv6_cidr_parts() {
        let gw: Ipv6Cidr = "fd00:db8:1::1/64".parse().unwrap();
        assert_eq!(gw.network().to_string(), "fd00:db8:1::/64");
        assert!(!gw.is_network() && gw.network().is_network());
        assert!(gw.contains("fd00:db8:1::ffff".parse().unwrap()));
        assert!(!gw.contains("fd00:db8:2::1".parse().unwrap()));
        let all: Ipv6Cidr = "::/0".parse().unwrap();
        assert!(all.overlaps(&gw));
        for bad in ["fd00::", "fd00::/129", "fd00::/", "x/64", "10.0.0.0/8"] {
            assert!(bad.parse::<Ipv6Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn cidr_rejects_garbage() {
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0/8",
            "10.0.0.0/+8",
            "x/8",
        ] {
            assert!(bad.parse::<Ipv4Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn overlap_is_symmetric_and_exact() {
        let a: Ipv4Cidr = "10.1.0.0/16".parse().unwrap();
        let b: Ipv4Cidr = "10.1.200.0/24".parse().unwrap();
        let c: Ipv4Cidr = "10.2.0.0/16".parse().unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c) && !c.overlaps(&a));
    }

    #[test]
    fn mac_round_trip_and_serde() {
        let mac: MacAddr = "02:42:AC:11:00:02".parse().unwrap();
        assert_eq!(mac.to_string(), "02:42:ac:11:00:02");
        assert!("02:42:ac:11:00".parse::<MacAddr>().is_err());
        assert!("02:42:ac:11:00:02:03".parse::<MacAddr>().is_err());
        let json = serde_json::to_string(&mac).unwrap();
        assert_eq!(json, "\"02:42:ac:11:00:02\"");
        assert_eq!(serde_json::from_str::<MacAddr>(&json).unwrap(), mac);
    }

    #[cfg(feature = "host")]
    #[test]
    fn random_mac_is_local_unicast() {
        let mac = MacAddr::random();
        assert_eq!(mac.0[0] & 0x03, 0x02);
    }
}
