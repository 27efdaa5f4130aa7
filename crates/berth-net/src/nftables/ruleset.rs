//! berth's nftables ruleset as data: the chains of its table, and the rules each network and
//! each published endpoint adds. Every rule carries a comment tag naming its owner, so the
//! owner's rules can be found (and deleted) after a daemon restart without stored handles.
//!
//! One `inet` table serves both address families: the interface rules (isolation) hold for
//! IPv4 and IPv6 alike, and an address rule names its family. A dual-stack network adds the
//! `ip6` twins of its masquerade and hairpin rules, and a container with an IPv6 address gets
//! `ip6` port forwards next to its `ip` ones.
//!
//! ```text
//! table inet berth {
//!   chain prerouting     { type nat hook prerouting priority dstnat; fib daddr type local jump ports }
//!   chain output         { type nat hook output priority dstnat;     fib daddr type local jump ports }
//!   chain ports          { meta nfproto F [ip(6) daddr H] meta l4proto P th dport HP
//!                            dnat ip(6) to C:CP                                    # per endpoint }
//!   chain postrouting    { type nat hook postrouting priority srcnat;             # per network:
//!                          ip saddr SUBNET oifname != BR masquerade               #  outbound
//!                          ip saddr 127.0.0.0/8 oifname BR masquerade             #  host loopback
//!                          ip saddr SUBNET oifname BR ct status dnat masquerade   #  hairpin
//!                          ip6 saddr SUBNET6 oifname != BR masquerade             #  (dual stack)
//!                          ip6 saddr SUBNET6 oifname BR ct status dnat masquerade }
//!   chain forward        { type filter hook forward priority filter; policy accept;
//!                          iifname BR oifname != BR jump isolation }
//!   chain isolation      { oifname BR drop }
//!   chain prerouting_raw { type filter hook prerouting priority raw;
//!                          iifname BR ip daddr 127.0.0.0/8 drop }
//! }
//! ```
//!
//! The host's `::1` has no counterpart of `route_localnet`: the kernel never routes a packet
//! with a loopback IPv6 source out of another interface. The IPv6 forwards leave `::1` alone,
//! and the socket holding the port there relays it (`loopback_proxy`), as Docker's userland
//! proxy does.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use super::expr::{
    Address, CmpOp, Expr, Family, Verdict, ct_status_dnat, daddr_is_local, dnat_to, dport, iifname,
    ip_in, ip6_daddr_is_not, ip6_in, nfproto, oifname,
};
use crate::addr::{Ipv4Cidr, Ipv6Cidr};
use crate::port_spec::Protocol;

pub const PREROUTING: &str = "prerouting";
pub const OUTPUT: &str = "output";
pub const PORTS: &str = "ports";
pub const POSTROUTING: &str = "postrouting";
pub const FORWARD: &str = "forward";
pub const ISOLATION: &str = "isolation";
pub const PREROUTING_RAW: &str = "prerouting_raw";

/// Netfilter hook numbers (`enum nf_inet_hooks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    Prerouting = 0,
    Forward = 2,
    Output = 3,
    Postrouting = 4,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainType {
    Filter,
    Nat,
}

impl ChainType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Filter => "filter",
            Self::Nat => "nat",
        }
    }
}

/// A chain of the table; base chains are attached to a hook, regular ones are jumped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub name: &'static str,
    pub base: Option<(ChainType, Hook, i32)>,
}

/// Every chain of berth's table, in creation order (jump targets before their callers).
pub fn chains() -> Vec<Chain> {
    const RAW: i32 = -300;
    const DSTNAT: i32 = -100;
    const FILTER: i32 = 0;
    const SRCNAT: i32 = 100;
    vec![
        Chain {
            name: PORTS,
            base: None,
        },
        Chain {
            name: ISOLATION,
            base: None,
        },
        Chain {
            name: PREROUTING,
            base: Some((ChainType::Nat, Hook::Prerouting, DSTNAT)),
        },
        Chain {
            name: OUTPUT,
            base: Some((ChainType::Nat, Hook::Output, DSTNAT)),
        },
        Chain {
            name: POSTROUTING,
            base: Some((ChainType::Nat, Hook::Postrouting, SRCNAT)),
        },
        Chain {
            name: FORWARD,
            base: Some((ChainType::Filter, Hook::Forward, FILTER)),
        },
        Chain {
            name: PREROUTING_RAW,
            base: Some((ChainType::Filter, Hook::Prerouting, RAW)),
        },
    ]
}

/// A rule to append to `chain`, tagged with its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub chain: &'static str,
    pub tag: String,
    pub exprs: Vec<Expr>,
}

/// The owner tag of the table's own rules.
pub const STATIC_TAG: &str = "berth";

pub fn network_tag(bridge: &str) -> String {
    format!("berth network {bridge}")
}

pub fn endpoint_tag(endpoint: &str) -> String {
    format!("berth endpoint {endpoint}")
}

fn rule(chain: &'static str, tag: &str, parts: Vec<Vec<Expr>>) -> Rule {
    Rule {
        chain,
        tag: tag.to_owned(),
        exprs: parts.into_iter().flatten().collect(),
    }
}

fn loopback() -> Ipv4Cidr {
    Ipv4Cidr::new(Ipv4Addr::new(127, 0, 0, 0), 8).expect("prefix 8")
}

/// Traffic addressed to this host, from outside (prerouting) or from the host itself (output),
/// goes through the published ports.
pub fn static_rules() -> Vec<Rule> {
    [PREROUTING, OUTPUT]
        .into_iter()
        .map(|chain| {
            rule(
                chain,
                STATIC_TAG,
                vec![
                    daddr_is_local(),
                    vec![Expr::Verdict(Verdict::Jump(PORTS.into()))],
                ],
            )
        })
        .collect()
}

/// The rules of one bridge network; `subnet6` for a dual-stack one.
pub fn network_rules(bridge: &str, subnet: Ipv4Cidr, subnet6: Option<Ipv6Cidr>) -> Vec<Rule> {
    let tag = network_tag(bridge);
    let subnet = subnet.network();
    let mut rules = vec![
        // Containers reach the outside world with the host's address.
        rule(
            POSTROUTING,
            &tag,
            vec![
                ip_in(Address::Source, subnet),
                oifname(CmpOp::Neq, bridge),
                vec![Expr::Masquerade],
            ],
        ),
        // Published ports reached from the host's 127.0.0.1: the container must see a source
        // it can answer (the gateway), not its own loopback.
        rule(
            POSTROUTING,
            &tag,
            vec![
                ip_in(Address::Source, loopback()),
                oifname(CmpOp::Eq, bridge),
                vec![Expr::Masquerade],
            ],
        ),
        // A container reaching a published port of its own network through the host: without
        // this the answer would go straight back over the bridge, skipping the un-DNAT.
        rule(
            POSTROUTING,
            &tag,
            vec![
                ip_in(Address::Source, subnet),
                oifname(CmpOp::Eq, bridge),
                ct_status_dnat(),
                vec![Expr::Masquerade],
            ],
        ),
        // Isolation between networks: leaving this bridge for another berth bridge is dropped.
        rule(
            FORWARD,
            &tag,
            vec![
                iifname(CmpOp::Eq, bridge),
                oifname(CmpOp::Neq, bridge),
                vec![Expr::Verdict(Verdict::Jump(ISOLATION.into()))],
            ],
        ),
        rule(
            ISOLATION,
            &tag,
            vec![
                oifname(CmpOp::Eq, bridge),
                vec![Expr::Verdict(Verdict::Drop)],
            ],
        ),
        // route_localnet is on for the bridge (so the host's 127.0.0.1 can be DNATed into it);
        // never let a container use that to reach the host's loopback services.
        rule(
            PREROUTING_RAW,
            &tag,
            vec![
                iifname(CmpOp::Eq, bridge),
                ip_in(Address::Destination, loopback()),
                vec![Expr::Verdict(Verdict::Drop)],
            ],
        ),
    ];
    if let Some(subnet6) = subnet6 {
        let subnet6 = subnet6.network();
        // The IPv6 twins of the outbound and hairpin rules (no loopback one: see above).
        rules.push(rule(
            POSTROUTING,
            &tag,
            vec![
                ip6_in(Address::Source, subnet6),
                oifname(CmpOp::Neq, bridge),
                vec![Expr::Masquerade],
            ],
        ));
        rules.push(rule(
            POSTROUTING,
            &tag,
            vec![
                ip6_in(Address::Source, subnet6),
                oifname(CmpOp::Eq, bridge),
                ct_status_dnat(),
                vec![Expr::Masquerade],
            ],
        ));
    }
    rules
}

/// One host port forwarded to a container port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortForward {
    /// `None`: every address of the host of the container address's family.
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    /// IPv4 or IPv6: the forward is of that family, and so is `host_ip`.
    pub container_ip: IpAddr,
    pub container_port: u16,
    pub protocol: Protocol,
}

/// The DNAT rules of one endpoint's published ports. The host's `[::1]` is left to the
/// loopback proxy (a loopback source cannot be NATed into a bridge): an IPv6 forward on every
/// address skips it, and one on `[::1]` alone has no rule.
pub fn port_rules(endpoint: &str, forwards: &[PortForward]) -> Vec<Rule> {
    let tag = endpoint_tag(endpoint);
    forwards
        .iter()
        .filter_map(|forward| {
            let mut parts = Vec::new();
            match (forward.host_ip, forward.container_ip) {
                (Some(IpAddr::V6(ip)), _) if ip.is_loopback() => return None,
                (Some(IpAddr::V4(ip)), _) => parts.push(ip_in(
                    Address::Destination,
                    Ipv4Cidr::new(ip, 32).expect("prefix 32"),
                )),
                (Some(IpAddr::V6(ip)), _) => parts.push(ip6_in(
                    Address::Destination,
                    Ipv6Cidr::new(ip, 128).expect("prefix 128"),
                )),
                (None, IpAddr::V6(_)) => parts.push(ip6_daddr_is_not(Ipv6Addr::LOCALHOST)),
                (None, container_ip) => parts.push(nfproto(Family::of(container_ip))),
            }
            parts.push(dport(forward.protocol, forward.host_port));
            parts.push(dnat_to(forward.container_ip, forward.container_port));
            Some(rule(PORTS, &tag, parts))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nftables::expr::{MetaKey, PayloadBase, Register};

    #[test]
    fn jump_targets_are_created_before_base_chains() {
        let names: Vec<_> = chains().iter().map(|c| c.name).collect();
        let position = |n| names.iter().position(|&x| x == n).unwrap();
        assert!(position(PORTS) < position(PREROUTING));
        assert!(position(ISOLATION) < position(FORWARD));
        assert!(chains().iter().all(|c| c.name.len() < 32));
    }

    #[test]
    fn outbound_masquerade_rule() {
        let rules = network_rules("br-test", "10.7.0.1/24".parse().unwrap(), None);
        assert_eq!(rules.len(), 6);
        assert!(rules.iter().all(|r| r.tag == "berth network br-test"));
        let masq = &rules[0];
        assert_eq!(masq.chain, POSTROUTING);
        let mut expected = ip_in(Address::Source, "10.7.0.0/24".parse().unwrap());
        expected.extend(oifname(CmpOp::Neq, "br-test"));
        expected.push(Expr::Masquerade);
        assert_eq!(masq.exprs, expected);
    }

    #[test]
    fn isolation_pairs_a_jump_with_a_drop() {
        let rules = network_rules("br-a", "10.7.0.0/24".parse().unwrap(), None);
        let forward = rules.iter().find(|r| r.chain == FORWARD).unwrap();
        assert_eq!(
            forward.exprs.last(),
            Some(&Expr::Verdict(Verdict::Jump(ISOLATION.into())))
        );
        let drop = rules.iter().find(|r| r.chain == ISOLATION).unwrap();
        assert_eq!(
            drop.exprs,
            [
                oifname(CmpOp::Eq, "br-a"),
                vec![Expr::Verdict(Verdict::Drop)]
            ]
            .concat()
        );
        let guard = rules.iter().find(|r| r.chain == PREROUTING_RAW).unwrap();
        assert_eq!(guard.exprs.last(), Some(&Expr::Verdict(Verdict::Drop)));
    }

    #[test]
    fn published_port_with_host_ip() {
        let forward = PortForward {
            host_ip: Some(Ipv4Addr::LOCALHOST.into()),
            host_port: 8080,
            container_ip: Ipv4Addr::new(10, 7, 0, 2).into(),
            container_port: 80,
            protocol: Protocol::Udp,
        };
        let rules = port_rules("veth1234567", std::slice::from_ref(&forward));
        assert_eq!(rules.len(), 1);
        let rule = &rules[0];
        assert_eq!(rule.chain, PORTS);
        assert_eq!(rule.tag, "berth endpoint veth1234567");
        assert_eq!(rule.exprs[..2], nfproto(Family::Ipv4)[..]);
        assert_eq!(
            rule.exprs[2..4],
            [
                Expr::Payload {
                    base: PayloadBase::Network,
                    offset: 16,
                    len: 4,
                    dreg: Register::R1
                },
                Expr::Cmp {
                    sreg: Register::R1,
                    op: CmpOp::Eq,
                    data: vec![127, 0, 0, 1]
                },
            ]
        );
        assert_eq!(
            rule.exprs[4],
            Expr::Meta {
                key: MetaKey::L4Proto,
                dreg: Register::R1
            }
        );
        assert_eq!(
            rule.exprs[5],
            Expr::Cmp {
                sreg: Register::R1,
                op: CmpOp::Eq,
                data: vec![17]
            }
        );
        assert_eq!(
            rule.exprs[8..],
            dnat_to(Ipv4Addr::new(10, 7, 0, 2).into(), 80)[..]
        );

        // On every address: the family check alone.
        let any_ip = PortForward {
            host_ip: None,
            ..forward
        };
        let exprs = &port_rules("e", &[any_ip])[0].exprs;
        assert_eq!(exprs.len(), 9);
        assert_eq!(exprs[..2], nfproto(Family::Ipv4)[..]);
    }

    #[test]
    fn dual_stack_network_masquerades_its_ipv6_subnet_too() {
        let subnet6: Ipv6Cidr = "fd00:7:1::/64".parse().unwrap();
        let rules = network_rules("br-6", "10.7.0.0/24".parse().unwrap(), Some(subnet6));
        assert_eq!(rules.len(), 8);
        let v4_only = network_rules("br-6", "10.7.0.0/24".parse().unwrap(), None);
        assert_eq!(rules[..6], v4_only[..], "the IPv4 rules stay as they are");
        let outbound = &rules[6];
        assert_eq!(outbound.chain, POSTROUTING);
        assert_eq!(outbound.tag, "berth network br-6");
        assert_eq!(
            outbound.exprs,
            [
                ip6_in(Address::Source, subnet6),
                oifname(CmpOp::Neq, "br-6"),
                vec![Expr::Masquerade]
            ]
            .concat()
        );
        let hairpin = &rules[7];
        assert_eq!(
            hairpin.exprs,
            [
                ip6_in(Address::Source, subnet6),
                oifname(CmpOp::Eq, "br-6"),
                ct_status_dnat(),
                vec![Expr::Masquerade]
            ]
            .concat()
        );
        // Isolation is by interface: one pair of rules covers both families, with no family
        // check in it.
        let isolation: Vec<_> = rules
            .iter()
            .filter(|r| r.chain == ISOLATION || r.chain == FORWARD)
            .collect();
        assert_eq!(isolation.len(), 2);
        let family_check = Expr::Meta {
            key: MetaKey::NfProto,
            dreg: Register::R1,
        };
        assert!(isolation.iter().all(|r| !r.exprs.contains(&family_check)));
    }

    #[test]
    fn ipv6_published_ports() {
        let container_ip: IpAddr = "fd00:7:1::2".parse().unwrap();
        let everywhere = PortForward {
            host_ip: None,
            host_port: 8080,
            container_ip,
            container_port: 80,
            protocol: Protocol::Tcp,
        };
        // Every address but ::1, which the loopback proxy serves.
        let exprs = &port_rules("veth7654321", std::slice::from_ref(&everywhere))[0].exprs;
        assert_eq!(
            *exprs,
            [
                ip6_daddr_is_not(Ipv6Addr::LOCALHOST),
                dport(Protocol::Tcp, 8080),
                dnat_to(container_ip, 80)
            ]
            .concat()
        );
        assert_eq!(
            exprs[3].clone(),
            Expr::Cmp {
                sreg: Register::R1,
                op: CmpOp::Neq,
                data: Ipv6Addr::LOCALHOST.octets().to_vec(),
            }
        );
        let on_loopback = PortForward {
            host_ip: Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            ..everywhere
        };
        assert!(port_rules("veth7654321", &[on_loopback]).is_empty());
        let on_gateway = PortForward {
            host_ip: Some("fd00:7:1::1".parse().unwrap()),
            ..everywhere
        };
        let exprs = &port_rules("veth7654321", &[on_gateway])[0].exprs;
        assert_eq!(
            exprs[..4],
            ip6_in(Address::Destination, "fd00:7:1::1/128".parse().unwrap())[..]
        );
        assert_eq!(
            exprs[4..],
            [dport(Protocol::Tcp, 8080), dnat_to(container_ip, 80)].concat()[..]
        );
    }

    #[test]
    fn static_rules_jump_to_ports_for_local_destinations() {
        let rules = static_rules();
        assert_eq!(
            rules.iter().map(|r| r.chain).collect::<Vec<_>>(),
            [PREROUTING, OUTPUT]
        );
        for rule in rules {
            assert_eq!(rule.exprs[..2], daddr_is_local()[..]);
            assert_eq!(rule.exprs[2], Expr::Verdict(Verdict::Jump(PORTS.into())));
        }
    }
}
