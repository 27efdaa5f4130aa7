//! The few sysctls berth sets, written through /proc/sys.

use std::fs;
use std::path::Path;

use crate::error::{Error, Result};
use crate::rtnl::validate_ifname;

/// Turns on IPv4 forwarding, which containers need to reach anything beyond their bridge.
pub(crate) fn enable_ip_forward() -> Result<()> {
    set_if_different(Path::new("/proc/sys/net/ipv4/ip_forward"), "1")
}

/// Turns on IPv6 forwarding, which a dual-stack network's containers need to reach anything
/// beyond their bridge. Set only once such a network exists, as Docker does: on a host that
/// forwards, the kernel stops taking router advertisements on interfaces with `accept_ra=1`.
pub(crate) fn enable_ipv6_forward() -> Result<()> {
    set_if_different(Path::new("/proc/sys/net/ipv6/conf/all/forwarding"), "1")
}

/// Lets packets from the host's 127.0.0.0/8 be routed out of `bridge` (see `Firewall`).
pub(crate) fn enable_route_localnet(bridge: &str) -> Result<()> {
    validate_ifname(bridge)?;
    let path = format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet");
    set_if_different(Path::new(&path), "1")
}

fn set_if_different(path: &Path, value: &str) -> Result<()> {
    let op = || format!("set {}", path.display());
    let current = fs::read_to_string(path).map_err(|e| Error::io(op(), e))?;
    if current.trim() != value {
        fs::write(path, value).map_err(|e| Error::io(op(), e))?;
    }
    Ok(())
}
