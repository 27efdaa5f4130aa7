//! What the host already routes, so a new network's subnet can avoid it.

use crate::addr::Ipv4Cidr;
use crate::blocking;
use crate::error::Result;
use crate::rtnl::Rtnl;

/// The destinations of the host's IPv4 routes (the `local` table and default routes left
/// out): pass them, with existing networks' subnets, to [`crate::ipam::allocate_subnet`].
pub async fn routed_subnets() -> Result<Vec<Ipv4Cidr>> {
    blocking::run(|| Rtnl::open()?.route_destinations()).await
}
