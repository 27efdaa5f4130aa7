//! Networks and containers' attachments to them, as the state database keeps them.

use berth_net::ipam::AddressAllocator;
use berth_net::ipam6::Ipv6Allocator;
use berth_net::{Endpoint, PortForward};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    Bridge,
    Host,
    Null,
    Macvlan,
}

impl Driver {
    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Bridge => "bridge",
            Driver::Host => "host",
            Driver::Null => "null",
            Driver::Macvlan => "macvlan",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Network {
    pub id: String,
    pub name: String,
    pub driver: Driver,
    pub created: String,
    /// The Linux bridge of a bridge network.
    pub bridge: Option<String>,
    /// Addresses of a bridge network (subnet, gateway, what is handed out).
    pub ipam: Option<AddressAllocator>,
    /// IPv6 addresses of a dual-stack network (`--ipv6`).
    #[serde(default)]
    pub ipam6: Option<Ipv6Allocator>,
    pub internal: bool,
    pub attachable: bool,
    pub labels: Map<String, Value>,
    pub options: Map<String, Value>,
    /// `bridge`, `host` and `none`: made by berthd, never removed.
    pub predefined: bool,
    /// A macvlan network's parent interface on the host.
    #[serde(default)]
    pub parent: Option<MacvlanParent>,
}

/// The host interface a macvlan network's containers hang off.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MacvlanParent {
    pub name: String,
    /// A link berthd made (no `-o parent`): made again at start, removed with the network.
    pub dummy: bool,
}

impl Network {
    /// User-defined bridge networks get the embedded DNS server, as in Docker.
    pub fn has_dns(&self) -> bool {
        self.driver == Driver::Bridge && !self.predefined
    }
}

/// One container's membership of one network.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Attachment {
    pub network_id: String,
    pub aliases: Vec<String>,
    /// `--ip`, when the user asked for an address.
    pub requested_ip: Option<String>,
    /// `--mac-address`, when the user asked for one (else a random one per start).
    #[serde(default)]
    pub requested_mac: Option<String>,
    /// `--ip6`, when the user asked for an IPv6 address on a dual-stack network.
    #[serde(default)]
    pub requested_ip6: Option<String>,
    /// Docker's EndpointID: fixed for the attachment's life.
    pub endpoint_id: String,
    /// While running: the address it holds, and the veth pair.
    pub ip: Option<String>,
    /// While running, on a dual-stack network: its IPv6 address.
    #[serde(default)]
    pub ip6: Option<String>,
    pub endpoint: Option<Endpoint>,
    /// While running: the published ports of this attachment.
    #[serde(default)]
    pub ports: Vec<PortForward>,
}
