//! nftables rule expressions as data, and their netlink encoding
//! (`include/uapi/linux/netfilter/nf_tables.h`). A rule is a list of these run in order on a
//! packet: loads into registers, comparisons that stop the rule on mismatch, then an action.
//!
//! berth's table is of the `inet` family, which sees IPv4 and IPv6 packets alike: every match
//! on a network header first checks the packet's family (`meta nfproto`), as `nft` adds itself.

use std::net::{IpAddr, Ipv6Addr};

use crate::addr::{Ipv4Cidr, Ipv6Cidr};
use crate::netlink::message::{MessageBuilder, NLA_F_NESTED};
use crate::port_spec::Protocol;

/// A register; R1 and R2 are 16 bytes wide, the verdict register holds the rule's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Register {
    Verdict = 0,
    R1 = 1,
    R2 = 2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaKey {
    IifName = 6,
    OifName = 7,
    NfProto = 15,
    L4Proto = 16,
}

/// The address family of a packet or of a translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Self::Ipv4,
            IpAddr::V6(_) => Self::Ipv6,
        }
    }

    /// `NFPROTO_IPV4` / `NFPROTO_IPV6`.
    fn nfproto(self) -> u8 {
        match self {
            Self::Ipv4 => 2,
            Self::Ipv6 => 10,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadBase {
    Network = 1,
    Transport = 2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq = 0,
    Neq = 1,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Drop,
    Accept,
    Jump(String),
}

/// One expression of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// Loads packet metadata (interface names, layer 4 protocol).
    Meta { key: MetaKey, dreg: Register },
    /// Loads `len` bytes at `offset` from a header.
    Payload {
        base: PayloadBase,
        offset: u32,
        len: u32,
        dreg: Register,
    },
    /// Stops the rule unless the register compares as asked with `data`.
    Cmp {
        sreg: Register,
        op: CmpOp,
        data: Vec<u8>,
    },
    /// `dreg = (sreg & mask) ^ xor`.
    Bitwise {
        sreg: Register,
        dreg: Register,
        mask: Vec<u8>,
        xor: Vec<u8>,
    },
    /// Loads a constant.
    Immediate { dreg: Register, data: Vec<u8> },
    /// Sets the verdict.
    Verdict(Verdict),
    /// Loads the routing type of the destination address (`fib daddr type`).
    FibDaddrType { dreg: Register },
    /// Loads the connection's conntrack status bits.
    CtStatus { dreg: Register },
    /// Destination NAT to the `family` address in `addr` and the port in `port`.
    Dnat {
        family: Family,
        addr: Register,
        port: Register,
    },
    /// Source NAT to the outgoing interface's address.
    Masquerade,
}

/// `RTN_LOCAL`: an address of this host.
const RTN_LOCAL: u32 = 2;
/// `IPS_DST_NAT`: the connection's destination was translated.
const IPS_DST_NAT: u32 = 1 << 5;
const IFNAMSIZ: usize = 16;

const NFTA_LIST_ELEM: u16 = 1;
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
const NFTA_DATA_VALUE: u16 = 1;
const NFTA_DATA_VERDICT: u16 = 2;
const NFTA_VERDICT_CODE: u16 = 1;
const NFTA_VERDICT_CHAIN: u16 = 2;
const NF_DROP: i32 = 0;
const NF_ACCEPT: i32 = 1;
const NFT_JUMP: i32 = -3;
const NFT_FIB_RESULT_ADDRTYPE: u32 = 3;
const NFTA_FIB_F_DADDR: u32 = 1 << 1;
const NFT_CT_STATUS: u32 = 2;
const NFT_NAT_DNAT: u32 = 1;

impl Expr {
    fn name(&self) -> &'static str {
        match self {
            Self::Meta { .. } => "meta",
            Self::Payload { .. } => "payload",
            Self::Cmp { .. } => "cmp",
            Self::Bitwise { .. } => "bitwise",
            Self::Immediate { .. } | Self::Verdict(_) => "immediate",
            Self::FibDaddrType { .. } => "fib",
            Self::CtStatus { .. } => "ct",
            Self::Dnat { .. } => "nat",
            Self::Masquerade => "masq",
        }
    }

    /// Appends this expression as one element of a rule's expression list.
    pub(crate) fn encode(&self, msg: &mut MessageBuilder) {
        let elem = msg.begin_nested(NFTA_LIST_ELEM | NLA_F_NESTED);
        msg.attr_str(NFTA_EXPR_NAME, self.name());
        let data = msg.begin_nested(NFTA_EXPR_DATA | NLA_F_NESTED);
        let reg = |r: Register| r as u32;
        match self {
            Self::Meta { key, dreg } => {
                msg.attr_u32_be(1, reg(*dreg)).attr_u32_be(2, *key as u32);
            }
            Self::Payload {
                base,
                offset,
                len,
                dreg,
            } => {
                msg.attr_u32_be(1, reg(*dreg))
                    .attr_u32_be(2, *base as u32)
                    .attr_u32_be(3, *offset)
                    .attr_u32_be(4, *len);
            }
            Self::Cmp { sreg, op, data } => {
                msg.attr_u32_be(1, reg(*sreg)).attr_u32_be(2, *op as u32);
                encode_value(msg, 3, data);
            }
            Self::Bitwise {
                sreg,
                dreg,
                mask,
                xor,
            } => {
                let len = u32::try_from(mask.len()).expect("register-sized mask");
                msg.attr_u32_be(1, reg(*sreg))
                    .attr_u32_be(2, reg(*dreg))
                    .attr_u32_be(3, len);
                encode_value(msg, 4, mask);
                encode_value(msg, 5, xor);
            }
            Self::Immediate { dreg, data } => {
                msg.attr_u32_be(1, reg(*dreg));
                encode_value(msg, 2, data);
            }
            Self::Verdict(verdict) => {
                msg.attr_u32_be(1, reg(Register::Verdict));
                let outer = msg.begin_nested(2 | NLA_F_NESTED);
                let inner = msg.begin_nested(NFTA_DATA_VERDICT | NLA_F_NESTED);
                let (code, chain) = match verdict {
                    Verdict::Drop => (NF_DROP, None),
                    Verdict::Accept => (NF_ACCEPT, None),
                    Verdict::Jump(chain) => (NFT_JUMP, Some(chain)),
                };
                msg.attr_u32_be(NFTA_VERDICT_CODE, code as u32);
                if let Some(chain) = chain {
                    msg.attr_str(NFTA_VERDICT_CHAIN, chain);
                }
                msg.end_nested(inner);
                msg.end_nested(outer);
            }
            Self::FibDaddrType { dreg } => {
                msg.attr_u32_be(1, reg(*dreg))
                    .attr_u32_be(2, NFT_FIB_RESULT_ADDRTYPE)
                    .attr_u32_be(3, NFTA_FIB_F_DADDR);
            }
            Self::CtStatus { dreg } => {
                msg.attr_u32_be(1, reg(*dreg)).attr_u32_be(2, NFT_CT_STATUS);
            }
            Self::Dnat { family, addr, port } => {
                msg.attr_u32_be(1, NFT_NAT_DNAT)
                    .attr_u32_be(2, u32::from(family.nfproto()))
                    .attr_u32_be(3, reg(*addr))
                    .attr_u32_be(5, reg(*port));
            }
            Self::Masquerade => {}
        }
        msg.end_nested(data);
        msg.end_nested(elem);
    }
}

fn encode_value(msg: &mut MessageBuilder, attr: u16, value: &[u8]) {
    let nest = msg.begin_nested(attr | NLA_F_NESTED);
    msg.attr(NFTA_DATA_VALUE, value);
    msg.end_nested(nest);
}

/// An interface name as the kernel loads it: padded with NULs to IFNAMSIZ.
fn ifname_bytes(name: &str) -> Vec<u8> {
    let mut bytes = name.as_bytes().to_vec();
    bytes.resize(IFNAMSIZ, 0);
    bytes
}

/// `iifname NAME` / `iifname != NAME`.
pub fn iifname(op: CmpOp, name: &str) -> Vec<Expr> {
    vec![
        Expr::Meta {
            key: MetaKey::IifName,
            dreg: Register::R1,
        },
        Expr::Cmp {
            sreg: Register::R1,
            op,
            data: ifname_bytes(name),
        },
    ]
}

/// `oifname NAME` / `oifname != NAME`.
pub fn oifname(op: CmpOp, name: &str) -> Vec<Expr> {
    vec![
        Expr::Meta {
            key: MetaKey::OifName,
            dreg: Register::R1,
        },
        Expr::Cmp {
            sreg: Register::R1,
            op,
            data: ifname_bytes(name),
        },
    ]
}

/// Which network header address to match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Address {
    Source,
    Destination,
}

/// `meta nfproto ipv4` / `meta nfproto ipv6`.
pub fn nfproto(family: Family) -> Vec<Expr> {
    vec![
        Expr::Meta {
            key: MetaKey::NfProto,
            dreg: Register::R1,
        },
        Expr::Cmp {
            sreg: Register::R1,
            op: CmpOp::Eq,
            data: vec![family.nfproto()],
        },
    ]
}

/// `ip saddr CIDR` / `ip daddr CIDR` (a /32 is an exact compare).
pub fn ip_in(which: Address, cidr: Ipv4Cidr) -> Vec<Expr> {
    let offset = match which {
        Address::Source => 12,
        Address::Destination => 16,
    };
    let network = cidr.network().addr().octets();
    let mask = (cidr.prefix() < 32).then(|| cidr.netmask().octets().to_vec());
    address_match(Family::Ipv4, offset, &network, mask, CmpOp::Eq)
}

/// `ip6 saddr CIDR` / `ip6 daddr CIDR` (a /128 is an exact compare).
pub fn ip6_in(which: Address, cidr: Ipv6Cidr) -> Vec<Expr> {
    let offset = match which {
        Address::Source => 8,
        Address::Destination => 24,
    };
    let network = cidr.network().addr().octets();
    let mask = (cidr.prefix() < 128).then(|| cidr.netmask().octets().to_vec());
    address_match(Family::Ipv6, offset, &network, mask, CmpOp::Eq)
}

/// `ip6 daddr != ADDR`.
pub fn ip6_daddr_is_not(addr: Ipv6Addr) -> Vec<Expr> {
    address_match(Family::Ipv6, 24, &addr.octets(), None, CmpOp::Neq)
}

/// The family check, then the header address at `offset`, masked when `mask` is given,
/// compared with `network` by `op`.
fn address_match(
    family: Family,
    offset: u32,
    network: &[u8],
    mask: Option<Vec<u8>>,
    op: CmpOp,
) -> Vec<Expr> {
    let len = network.len();
    let mut exprs = nfproto(family);
    exprs.push(Expr::Payload {
        base: PayloadBase::Network,
        offset,
        len: u32::try_from(len).expect("an address is 4 or 16 bytes"),
        dreg: Register::R1,
    });
    if let Some(mask) = mask {
        exprs.push(Expr::Bitwise {
            sreg: Register::R1,
            dreg: Register::R1,
            mask,
            xor: vec![0; len],
        });
    }
    exprs.push(Expr::Cmp {
        sreg: Register::R1,
        op,
        data: network.to_vec(),
    });
    exprs
}

/// `meta l4proto P th dport PORT`: TCP, UDP and SCTP keep the destination port at offset 2.
pub fn dport(protocol: Protocol, port: u16) -> Vec<Expr> {
    vec![
        Expr::Meta {
            key: MetaKey::L4Proto,
            dreg: Register::R1,
        },
        Expr::Cmp {
            sreg: Register::R1,
            op: CmpOp::Eq,
            data: vec![protocol.number()],
        },
        Expr::Payload {
            base: PayloadBase::Transport,
            offset: 2,
            len: 2,
            dreg: Register::R1,
        },
        Expr::Cmp {
            sreg: Register::R1,
            op: CmpOp::Eq,
            data: port.to_be_bytes().to_vec(),
        },
    ]
}

/// `fib daddr type local`: the packet is addressed to this host.
pub fn daddr_is_local() -> Vec<Expr> {
    vec![
        Expr::FibDaddrType { dreg: Register::R1 },
        Expr::Cmp {
            sreg: Register::R1,
            op: CmpOp::Eq,
            data: RTN_LOCAL.to_ne_bytes().to_vec(),
        },
    ]
}

/// `ct status dnat`: the connection was destination-NATed.
pub fn ct_status_dnat() -> Vec<Expr> {
    vec![
        Expr::CtStatus { dreg: Register::R1 },
        Expr::Bitwise {
            sreg: Register::R1,
            dreg: Register::R1,
            mask: IPS_DST_NAT.to_ne_bytes().to_vec(),
            xor: vec![0; 4],
        },
        Expr::Cmp {
            sreg: Register::R1,
            op: CmpOp::Neq,
            data: vec![0; 4],
        },
    ]
}

/// `dnat ip to ADDR:PORT` / `dnat ip6 to [ADDR]:PORT`.
pub fn dnat_to(addr: IpAddr, port: u16) -> Vec<Expr> {
    let octets = match addr {
        IpAddr::V4(ip) => ip.octets().to_vec(),
        IpAddr::V6(ip) => ip.octets().to_vec(),
    };
    vec![
        Expr::Immediate {
            dreg: Register::R1,
            data: octets,
        },
        Expr::Immediate {
            dreg: Register::R2,
            data: port.to_be_bytes().to_vec(),
        },
        Expr::Dnat {
            family: Family::of(addr),
            addr: Register::R1,
            port: Register::R2,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::message::Attrs;

    #[test]
    fn subnet_match_masks_then_compares_network() {
        let exprs = ip_in(Address::Source, "172.18.0.9/16".parse().unwrap());
        assert_eq!(exprs[..2], nfproto(Family::Ipv4)[..]);
        assert_eq!(
            exprs[2..],
            vec![
                Expr::Payload {
                    base: PayloadBase::Network,
                    offset: 12,
                    len: 4,
                    dreg: Register::R1
                },
                Expr::Bitwise {
                    sreg: Register::R1,
                    dreg: Register::R1,
                    mask: vec![255, 255, 0, 0],
                    xor: vec![0; 4]
                },
                Expr::Cmp {
                    sreg: Register::R1,
                    op: CmpOp::Eq,
                    data: vec![172, 18, 0, 0]
                },
            ]
        );
        assert_eq!(
            ip_in(Address::Destination, "10.0.0.1/32".parse().unwrap()).len(),
            4
        );
    }

    #[test]
    fn ipv6_subnet_match_checks_the_family_and_loads_16_bytes() {
        let exprs = ip6_in(Address::Source, "fd00:7:1::9/64".parse().unwrap());
        assert_eq!(
            exprs,
            vec![
                Expr::Meta {
                    key: MetaKey::NfProto,
                    dreg: Register::R1
                },
                Expr::Cmp {
                    sreg: Register::R1,
                    op: CmpOp::Eq,
                    data: vec![10]
                },
                Expr::Payload {
                    base: PayloadBase::Network,
                    offset: 8,
                    len: 16,
                    dreg: Register::R1
                },
                Expr::Bitwise {
                    sreg: Register::R1,
                    dreg: Register::R1,
                    mask: [[0xff; 8], [0; 8]].concat(),
                    xor: vec![0; 16]
                },
                Expr::Cmp {
                    sreg: Register::R1,
                    op: CmpOp::Eq,
                    data: "fd00:7:1::"
                        .parse::<std::net::Ipv6Addr>()
                        .unwrap()
                        .octets()
                        .to_vec()
                },
            ]
        );
        let host = ip6_in(Address::Destination, "fd00::1/128".parse().unwrap());
        assert_eq!(host.len(), 4);
        assert_eq!(
            host[2],
            Expr::Payload {
                base: PayloadBase::Network,
                offset: 24,
                len: 16,
                dreg: Register::R1
            }
        );
    }

    #[test]
    fn interface_names_are_padded_to_ifnamsiz() {
        let exprs = oifname(CmpOp::Neq, "br0");
        let Expr::Cmp { data, op, .. } = &exprs[1] else {
            panic!("{exprs:?}")
        };
        assert_eq!(*op, CmpOp::Neq);
        assert_eq!(data.len(), 16);
        assert_eq!(&data[..4], b"br0\0");
    }

    #[test]
    fn jump_verdict_encodes_code_and_chain() {
        let mut msg = MessageBuilder::new(0, 0);
        Expr::Verdict(Verdict::Jump("ports".into())).encode(&mut msg);
        let elem = Attrs::new(msg.payload()).find(NFTA_LIST_ELEM).unwrap();
        let elem = Attrs::new(elem);
        assert_eq!(elem.find(NFTA_EXPR_NAME).unwrap(), b"immediate\0");
        let data = Attrs::new(elem.find(NFTA_EXPR_DATA).unwrap());
        assert_eq!(data.find(1).unwrap(), 0u32.to_be_bytes());
        let verdict = Attrs::new(data.find(2).unwrap())
            .find(NFTA_DATA_VERDICT)
            .unwrap();
        let verdict = Attrs::new(verdict);
        assert_eq!(
            verdict.find(NFTA_VERDICT_CODE).unwrap(),
            (-3i32).to_be_bytes()
        );
        assert_eq!(verdict.find(NFTA_VERDICT_CHAIN).unwrap(), b"ports\0");
    }

    #[test]
    fn dnat_loads_address_and_port_big_endian() {
        let exprs = dnat_to(IpAddr::V4(std::net::Ipv4Addr::new(10, 1, 2, 3)), 8080);
        assert_eq!(
            exprs[..2],
            [
                Expr::Immediate {
                    dreg: Register::R1,
                    data: vec![10, 1, 2, 3]
                },
                Expr::Immediate {
                    dreg: Register::R2,
                    data: vec![0x1f, 0x90]
                },
            ]
        );
        let mut msg = MessageBuilder::new(0, 0);
        exprs[2].encode(&mut msg);
        let elem = Attrs::new(Attrs::new(msg.payload()).find(NFTA_LIST_ELEM).unwrap());
        assert_eq!(elem.find(NFTA_EXPR_NAME).unwrap(), b"nat\0");
        let data = Attrs::new(elem.find(NFTA_EXPR_DATA).unwrap());
        assert_eq!(data.find(1).unwrap(), NFT_NAT_DNAT.to_be_bytes());
        assert_eq!(data.find(2).unwrap(), 2u32.to_be_bytes(), "NFPROTO_IPV4");
        assert_eq!(data.find(3).unwrap(), 1u32.to_be_bytes());
        assert_eq!(data.find(5).unwrap(), 2u32.to_be_bytes());
    }

    #[test]
    fn ipv6_dnat_loads_sixteen_bytes_and_says_its_family() {
        let exprs = dnat_to("fd00:7::2".parse().unwrap(), 80);
        let Expr::Immediate { data, .. } = &exprs[0] else {
            panic!("{exprs:?}")
        };
        assert_eq!(data.len(), 16);
        let mut msg = MessageBuilder::new(0, 0);
        exprs[2].encode(&mut msg);
        let elem = Attrs::new(Attrs::new(msg.payload()).find(NFTA_LIST_ELEM).unwrap());
        let data = Attrs::new(elem.find(NFTA_EXPR_DATA).unwrap());
        assert_eq!(data.find(2).unwrap(), 10u32.to_be_bytes(), "NFPROTO_IPV6");
    }
}
