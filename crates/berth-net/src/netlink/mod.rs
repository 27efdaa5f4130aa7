//! Plain blocking netlink: message encoding and a request/acknowledge socket. Used directly by
//! `container_side` (inside a container's init, no async runtime) and, through
//! `spawn_blocking`, by the host-side operations.

// Without the `host` feature only container_side's few requests are built: the rest of the
// toolkit (nesting, big-endian attributes, dumps, the netfilter protocol) is unused there.
#![cfg_attr(not(feature = "host"), allow(dead_code))]

pub(crate) mod message;
pub(crate) mod socket;
