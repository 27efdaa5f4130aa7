//! Route netlink (links, addresses, routes) over a blocking socket, in the namespace of the
//! thread that opened it (`man 7 rtnetlink`).

use std::net::{Ipv4Addr, Ipv6Addr};
#[cfg(feature = "host")]
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::addr::{Ipv4Cidr, Ipv6Cidr, MacAddr};
use crate::error::{Error, Result};
#[cfg(feature = "host")]
use crate::netlink::message::{Attrs, NLM_F_EXCL, parse_u32_ne};
use crate::netlink::message::{MessageBuilder, NLM_F_CREATE, NLM_F_REPLACE};
use crate::netlink::socket::{NETLINK_ROUTE, NetlinkSocket};

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
#[cfg(feature = "host")]
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;
#[cfg(feature = "host")]
const RTM_GETROUTE: u16 = 26;

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
#[cfg(feature = "host")]
const IFLA_MASTER: u16 = 10;
#[cfg(feature = "host")]
const IFLA_LINKINFO: u16 = 18;
#[cfg(feature = "host")]
const IFLA_NET_NS_FD: u16 = 28;
#[cfg(feature = "host")]
const IFLA_INFO_KIND: u16 = 1;
#[cfg(feature = "host")]
const IFLA_INFO_DATA: u16 = 2;
#[cfg(feature = "host")]
const VETH_INFO_PEER: u16 = 1;
#[cfg(feature = "host")]
const IFLA_LINK: u16 = 5;
#[cfg(feature = "host")]
const IFLA_MACVLAN_MODE: u16 = 1;
/// Children of one parent reach each other directly (Docker's default macvlan mode).
#[cfg(feature = "host")]
const MACVLAN_MODE_BRIDGE: u32 = 4;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
/// `ifa_flags`: no duplicate address detection.
const IFA_F_NODAD: u8 = 0x02;

#[cfg(feature = "host")]
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
#[cfg(feature = "host")]
const RTA_TABLE: u16 = 15;
const RT_TABLE_MAIN: u8 = 254;
#[cfg(feature = "host")]
const RT_TABLE_LOCAL: u32 = 255;
const RTPROT_BOOT: u8 = 3;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RTN_UNICAST: u8 = 1;

const IFF_UP: u32 = libc::IFF_UP as u32;
/// `IFNAMSIZ - 1`.
const MAX_IFNAME: usize = 15;

/// What to change on an existing link; `None` leaves a property as it is.
#[derive(Debug, Default)]
pub(crate) struct LinkChange<'a> {
    pub(crate) name: Option<&'a str>,
    pub(crate) mac: Option<MacAddr>,
    pub(crate) mtu: Option<u32>,
    #[cfg(feature = "host")]
    pub(crate) master: Option<u32>,
    pub(crate) up: bool,
}

/// Checks a name the kernel would accept for an interface (`dev_valid_name`).
pub(crate) fn validate_ifname(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= MAX_IFNAME
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0);
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidInterfaceName(name.to_owned()))
    }
}

fn ifinfomsg(index: u32, flags: u32, change: u32) -> [u8; 16] {
    let mut msg = [0u8; 16];
    msg[0] = libc::AF_UNSPEC as u8;
    msg[4..8].copy_from_slice(&index.to_ne_bytes());
    msg[8..12].copy_from_slice(&flags.to_ne_bytes());
    msg[12..16].copy_from_slice(&change.to_ne_bytes());
    msg
}

fn ifaddrmsg(prefix: u8, index: u32) -> [u8; 8] {
    ifaddrmsg_of(libc::AF_INET, prefix, 0, index)
}

fn ifaddrmsg_of(family: libc::c_int, prefix: u8, flags: u8, index: u32) -> [u8; 8] {
    let mut msg = [0u8; 8];
    msg[0] = family as u8;
    msg[1] = prefix;
    msg[2] = flags;
    msg[3] = RT_SCOPE_UNIVERSE;
    msg[4..8].copy_from_slice(&index.to_ne_bytes());
    msg
}

/// `sizeof(struct rtmsg)`.
const RTMSG_LEN: usize = 12;

/// An IPv4 `rtmsg` for a default route (or a dump request, all zero but the family).
fn rtmsg(table: u8, protocol: u8, route_type: u8) -> [u8; RTMSG_LEN] {
    rtmsg_of(libc::AF_INET, table, protocol, route_type)
}

fn rtmsg_of(family: libc::c_int, table: u8, protocol: u8, route_type: u8) -> [u8; RTMSG_LEN] {
    let mut msg = [0u8; RTMSG_LEN];
    msg[0] = family as u8;
    msg[4] = table;
    msg[5] = protocol;
    msg[6] = RT_SCOPE_UNIVERSE;
    msg[7] = route_type;
    msg
}

pub(crate) struct Rtnl {
    socket: NetlinkSocket,
}

impl Rtnl {
    /// A route netlink socket in the calling thread's network namespace.
    pub(crate) fn open() -> Result<Self> {
        let socket = NetlinkSocket::open(NETLINK_ROUTE)
            .map_err(|e| Error::io("open a route netlink socket", e))?;
        Ok(Self { socket })
    }

    /// The index of the link called `name`, or `None` if there is none.
    pub(crate) fn link_index(&mut self, name: &str) -> Result<Option<u32>> {
        validate_ifname(name)?;
        let mut msg = MessageBuilder::new(RTM_GETLINK, 0);
        msg.fixed(&ifinfomsg(0, 0, 0)).attr_str(IFLA_IFNAME, name);
        match self.socket.request(msg, &format!("look up link {name}")) {
            Ok(replies) => Ok(replies.first().and_then(|reply| {
                reply
                    .get(4..8)
                    .map(|b| u32::from_ne_bytes(b.try_into().expect("4 bytes")))
            })),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) fn require_link(&mut self, name: &str) -> Result<u32> {
        self.link_index(name)?
            .ok_or_else(|| Error::LinkNotFound(name.to_owned()))
    }

    /// Deletes a link by name; returns false if there was none.
    pub(crate) fn delete_link(&mut self, name: &str) -> Result<bool> {
        validate_ifname(name)?;
        let mut msg = MessageBuilder::new(RTM_DELLINK, 0);
        msg.fixed(&ifinfomsg(0, 0, 0)).attr_str(IFLA_IFNAME, name);
        match self.socket.request(msg, &format!("delete link {name}")) {
            Ok(_) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Renames, re-addresses, resizes, enslaves and/or brings up a link in one request.
    pub(crate) fn change_link(&mut self, index: u32, change: &LinkChange<'_>) -> Result<()> {
        let up = if change.up { IFF_UP } else { 0 };
        let mut msg = MessageBuilder::new(RTM_NEWLINK, 0);
        msg.fixed(&ifinfomsg(index, up, up));
        if let Some(name) = change.name {
            validate_ifname(name)?;
            msg.attr_str(IFLA_IFNAME, name);
        }
        if let Some(mac) = change.mac {
            msg.attr(IFLA_ADDRESS, &mac.octets());
        }
        if let Some(mtu) = change.mtu {
            msg.attr_u32(IFLA_MTU, mtu);
        }
        #[cfg(feature = "host")]
        if let Some(master) = change.master {
            msg.attr_u32(IFLA_MASTER, master);
        }
        self.socket.request(msg, &format!("change link #{index}"))?;
        Ok(())
    }

    /// Adds `addr` to a link; an address that is already there is left as it is.
    pub(crate) fn add_address(&mut self, index: u32, addr: Ipv4Cidr) -> Result<()> {
        let mut msg = MessageBuilder::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
        msg.fixed(&ifaddrmsg(addr.prefix(), index))
            .attr(IFA_LOCAL, &addr.addr().octets())
            .attr(IFA_ADDRESS, &addr.addr().octets());
        if addr.prefix() < 31 {
            msg.attr(IFA_BROADCAST, &addr.broadcast().octets());
        }
        self.socket
            .request(msg, &format!("add address {addr} to link #{index}"))?;
        Ok(())
    }

    /// Adds an IPv6 `addr` to a link, usable at once: without duplicate address detection,
    /// which would hold it "tentative" for a second or more (the subnet is berth's own, its
    /// addresses handed out by its IPAM).
    pub(crate) fn add_address6(&mut self, index: u32, addr: Ipv6Cidr) -> Result<()> {
        let mut msg = MessageBuilder::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
        msg.fixed(&ifaddrmsg_of(
            libc::AF_INET6,
            addr.prefix(),
            IFA_F_NODAD,
            index,
        ))
        .attr(IFA_LOCAL, &addr.addr().octets())
        .attr(IFA_ADDRESS, &addr.addr().octets());
        self.socket
            .request(msg, &format!("add address {addr} to link #{index}"))?;
        Ok(())
    }

    /// Sets the IPv6 default route via `gateway` on link `index`, replacing any.
    pub(crate) fn set_default_route6(&mut self, gateway: Ipv6Addr, index: u32) -> Result<()> {
        let rtmsg = rtmsg_of(libc::AF_INET6, RT_TABLE_MAIN, RTPROT_BOOT, RTN_UNICAST);
        let mut msg = MessageBuilder::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
        msg.fixed(&rtmsg)
            .attr(RTA_GATEWAY, &gateway.octets())
            .attr_u32(RTA_OIF, index);
        self.socket
            .request(msg, &format!("add IPv6 default route via {gateway}"))?;
        Ok(())
    }

    /// Sets the default route (main table) via `gateway` on link `index`, replacing any.
    pub(crate) fn set_default_route(&mut self, gateway: Ipv4Addr, index: u32) -> Result<()> {
        let rtmsg = rtmsg(RT_TABLE_MAIN, RTPROT_BOOT, RTN_UNICAST);
        let mut msg = MessageBuilder::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
        msg.fixed(&rtmsg)
            .attr(RTA_GATEWAY, &gateway.octets())
            .attr_u32(RTA_OIF, index);
        self.socket
            .request(msg, &format!("add default route via {gateway}"))?;
        Ok(())
    }
}

#[cfg(feature = "host")]
impl Rtnl {
    /// Creates a bridge, down, failing with EEXIST if the name is taken.
    pub(crate) fn create_bridge(&mut self, name: &str, mtu: u32, mac: MacAddr) -> Result<()> {
        validate_ifname(name)?;
        let mut msg = MessageBuilder::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        msg.fixed(&ifinfomsg(0, 0, 0))
            .attr_str(IFLA_IFNAME, name)
            .attr_u32(IFLA_MTU, mtu)
            .attr(IFLA_ADDRESS, &mac.octets());
        let info = msg.begin_nested(IFLA_LINKINFO);
        msg.attr_str(IFLA_INFO_KIND, "bridge");
        msg.end_nested(info);
        self.socket.request(msg, &format!("create bridge {name}"))?;
        Ok(())
    }

    /// Creates a veth pair whose peer is born inside the namespace `peer_netns`.
    pub(crate) fn create_veth(
        &mut self,
        host_name: &str,
        peer_name: &str,
        mtu: u32,
        peer_netns: BorrowedFd<'_>,
    ) -> Result<()> {
        validate_ifname(host_name)?;
        validate_ifname(peer_name)?;
        let netns_fd = u32::try_from(peer_netns.as_raw_fd()).expect("descriptors are not negative");
        let mut msg = MessageBuilder::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        msg.fixed(&ifinfomsg(0, 0, 0))
            .attr_str(IFLA_IFNAME, host_name)
            .attr_u32(IFLA_MTU, mtu);
        let info = msg.begin_nested(IFLA_LINKINFO);
        msg.attr_str(IFLA_INFO_KIND, "veth");
        let data = msg.begin_nested(IFLA_INFO_DATA);
        let peer = msg.begin_nested(VETH_INFO_PEER);
        msg.fixed(&ifinfomsg(0, 0, 0))
            .attr_str(IFLA_IFNAME, peer_name)
            .attr_u32(IFLA_MTU, mtu)
            .attr_u32(IFLA_NET_NS_FD, netns_fd);
        msg.end_nested(peer);
        msg.end_nested(data);
        msg.end_nested(info);
        self.socket
            .request(msg, &format!("create veth pair {host_name}"))?;
        Ok(())
    }

    /// Creates a macvlan link on the parent `parent_index` (bridge mode), born inside
    /// `netns` as `name`, with the parent's MTU.
    pub(crate) fn create_macvlan(
        &mut self,
        name: &str,
        parent_index: u32,
        netns: BorrowedFd<'_>,
    ) -> Result<()> {
        validate_ifname(name)?;
        let netns_fd = u32::try_from(netns.as_raw_fd()).expect("descriptors are not negative");
        let mut msg = MessageBuilder::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        msg.fixed(&ifinfomsg(0, 0, 0))
            .attr_str(IFLA_IFNAME, name)
            .attr_u32(IFLA_LINK, parent_index)
            .attr_u32(IFLA_NET_NS_FD, netns_fd);
        let info = msg.begin_nested(IFLA_LINKINFO);
        msg.attr_str(IFLA_INFO_KIND, "macvlan");
        let data = msg.begin_nested(IFLA_INFO_DATA);
        msg.attr_u32(IFLA_MACVLAN_MODE, MACVLAN_MODE_BRIDGE);
        msg.end_nested(data);
        msg.end_nested(info);
        self.socket
            .request(msg, &format!("create macvlan link {name}"))?;
        Ok(())
    }

    /// The IPv4 addresses on link `index`.
    pub(crate) fn addresses(&mut self, index: u32) -> Result<Vec<Ipv4Cidr>> {
        let mut msg = MessageBuilder::new(RTM_GETADDR, 0);
        msg.fixed(&ifaddrmsg(0, 0));
        let replies = self.socket.dump(msg, "list addresses")?;
        Ok(replies
            .iter()
            .filter(|reply| reply.len() >= 8 && reply[0] == libc::AF_INET as u8)
            .filter(|reply| parse_u32_ne(&reply[4..8]) == Some(index))
            .filter_map(|reply| {
                let attrs = Attrs::new(&reply[8..]);
                let ip = attrs.find(IFA_LOCAL).or_else(|| attrs.find(IFA_ADDRESS))?;
                let ip: [u8; 4] = ip.try_into().ok()?;
                Ipv4Cidr::new(Ipv4Addr::from(ip), reply[1]).ok()
            })
            .collect())
    }

    /// The destinations of every IPv4 route outside the `local` table, default routes excluded.
    pub(crate) fn route_destinations(&mut self) -> Result<Vec<Ipv4Cidr>> {
        let mut msg = MessageBuilder::new(RTM_GETROUTE, 0);
        msg.fixed(&rtmsg(0, 0, 0));
        let replies = self.socket.dump(msg, "list routes")?;
        Ok(replies
            .iter()
            .filter(|reply| reply.len() >= RTMSG_LEN && reply[1] > 0)
            .filter_map(|reply| {
                let attrs = Attrs::new(&reply[RTMSG_LEN..]);
                let table = attrs
                    .find(RTA_TABLE)
                    .and_then(parse_u32_ne)
                    .unwrap_or(u32::from(reply[4]));
                if table == RT_TABLE_LOCAL {
                    return None;
                }
                let dst: [u8; 4] = attrs.find(RTA_DST)?.try_into().ok()?;
                Ipv4Cidr::new(Ipv4Addr::from(dst), reply[1]).ok()
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_follow_the_kernel_rules() {
        for good in [
            "eth0",
            "veth1a2b3c4",
            "berth0",
            "a.b-c_d",
            "123456789012345",
        ] {
            validate_ifname(good).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "a:b", "a b", "1234567890123456"] {
            assert!(validate_ifname(bad).is_err(), "{bad:?}");
        }
    }
}
