//! berth's nftables ruleset as data: the chains of its table, and the rules each network and
//! each published endpoint adds. Every rule carries a comment tag naming its owner, so the
//! owner's rules can be found (and deleted) after a daemon restart without stored handles.
//!
//! ```text
//! table ip berth {
//!   chain prerouting     { type nat hook prerouting priority dstnat; fib daddr type local jump ports }
//!   chain output         { type nat hook output priority dstnat;     fib daddr type local jump ports }
//!   chain ports          { [ip daddr H] meta l4proto P th dport HP dnat to C:CP   # per endpoint }
//!   chain postrouting    { type nat hook postrouting priority srcnat;             # per network:
//!                          ip saddr SUBNET oifname != BR masquerade               #  outbound
//!                          ip saddr 127.0.0.0/8 oifname BR masquerade             #  host loopback
//!                          ip saddr SUBNET oifname BR ct status dnat masquerade } #  hairpin
//!   chain forward        { type filter hook forward priority filter; policy accept;
//!                          iifname BR oifname != BR jump isolation }
//!   chain isolation      { oifname BR drop }
//!   chain prerouting_raw { type filter hook prerouting priority raw;
//!                          iifname BR ip daddr 127.0.0.0/8 drop }
//! }
//! ```

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::expr::{
    Address, CmpOp, Expr, Verdict, ct_status_dnat, daddr_is_local, dnat_to, dport, iifname, ip_in,
    oifname,
};
use crate::addr::Ipv4Cidr;
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

/// The rules of one bridge network.
pub fn network_rules(bridge: &str, subnet: Ipv4Cidr) -> Vec<Rule> {
    let tag = network_tag(bridge);
    let subnet = subnet.network();
    vec![
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
    ]
}

/// One host port forwarded to a container port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortForward {
    /// `None`: every address of the host.
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
    pub protocol: Protocol,
}

/// The DNAT rules of one endpoint's published ports.
pub fn port_rules(endpoint: &str, forwards: &[PortForward]) -> Vec<Rule> {
    let tag = endpoint_tag(endpoint);
    forwards
        .iter()
        .map(|forward| {
            let mut parts = Vec::new();
            if let Some(host_ip) = forward.host_ip {
                let host = Ipv4Cidr::new(host_ip, 32).expect("prefix 32");
                parts.push(ip_in(Address::Destination, host));
            }
            parts.push(dport(forward.protocol, forward.host_port));
            parts.push(dnat_to(forward.container_ip, forward.container_port));
            rule(PORTS, &tag, parts)
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
        let rules = network_rules("br-test", "10.7.0.1/24".parse().unwrap());
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
        let rules = network_rules("br-a", "10.7.0.0/24".parse().unwrap());
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
            host_ip: Some(Ipv4Addr::LOCALHOST),
            host_port: 8080,
            container_ip: Ipv4Addr::new(10, 7, 0, 2),
            container_port: 80,
            protocol: Protocol::Udp,
        };
        let rules = port_rules("veth1234567", std::slice::from_ref(&forward));
        assert_eq!(rules.len(), 1);
        let rule = &rules[0];
        assert_eq!(rule.chain, PORTS);
        assert_eq!(rule.tag, "berth endpoint veth1234567");
        assert_eq!(
            rule.exprs[..2],
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
            rule.exprs[2],
            Expr::Meta {
                key: MetaKey::L4Proto,
                dreg: Register::R1
            }
        );
        assert_eq!(
            rule.exprs[3],
            Expr::Cmp {
                sreg: Register::R1,
                op: CmpOp::Eq,
                data: vec![17]
            }
        );
        assert_eq!(rule.exprs[6..], dnat_to(Ipv4Addr::new(10, 7, 0, 2), 80)[..]);

        let any_ip = PortForward {
            host_ip: None,
            ..forward
        };
        assert_eq!(port_rules("e", &[any_ip])[0].exprs.len(), 7);
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
