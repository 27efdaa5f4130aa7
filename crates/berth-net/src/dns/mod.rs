//! The embedded DNS server of user-defined networks: container names and aliases of the
//! network answered locally, everything else forwarded to the host's resolvers.

mod records;
mod server;
pub(crate) mod wire;

pub use records::DnsRecords;
pub use server::{DnsConfig, DnsServer, upstreams_from_resolv_conf};
