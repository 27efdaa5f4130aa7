//! Single-host container networking for berth, on netlink alone (no `ip`, `iptables` or `nft`
//! processes).
//!
//! berthd works from the host network namespace and never enters a container's:
//! - [`Bridge::ensure`] makes a network's bridge, [`ipam`] hands out its addresses and
//!   subnets, [`attach`] / [`detach`] plug a container's namespace (by descriptor) into it;
//! - [`Firewall`] owns berth's nftables table: masquerade, isolation between networks and
//!   published ports (`-p`, parsed by [`port_spec`], host ports held by [`HostPortAllocator`]);
//! - [`dns`] is the embedded DNS server of user-defined networks.
//!
//! The container's end is configured from inside its namespace by the container's init with
//! [`container_side::configure`], which is all this crate is without its `host` feature.

mod addr;
pub mod container_side;
mod error;
pub mod ipam;
pub mod ipam6;
mod netlink;
pub mod port_spec;
mod rtnl;

#[cfg(feature = "host")]
mod blocking;
#[cfg(feature = "host")]
mod bridge;
#[cfg(feature = "host")]
pub mod dns;
#[cfg(feature = "host")]
mod endpoint;
#[cfg(feature = "host")]
mod firewall;
#[cfg(feature = "host")]
mod host_ports;
#[cfg(feature = "host")]
mod host_routes;
#[cfg(feature = "host")]
mod loopback_proxy;
#[cfg(feature = "host")]
pub mod macvlan;
#[cfg(feature = "host")]
pub mod nftables;
#[cfg(feature = "host")]
mod sysctl;

pub use addr::{Ipv4Cidr, Ipv6Cidr, MacAddr};
pub use error::{AddrParseError, Error, NetlinkError, Result};

#[cfg(feature = "host")]
pub use bridge::Bridge;
#[cfg(feature = "host")]
pub use endpoint::{Endpoint, attach, detach, open_netns};
#[cfg(feature = "host")]
pub use firewall::Firewall;
#[cfg(feature = "host")]
pub use host_ports::HostPortAllocator;
#[cfg(feature = "host")]
pub use host_routes::routed_subnets;
#[cfg(feature = "host")]
pub use nftables::ruleset::PortForward;
