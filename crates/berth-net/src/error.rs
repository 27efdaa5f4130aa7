use std::io;

use crate::ipam::IpamError;
use crate::port_spec::PortSpecError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in berth-net.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    #[error("no network interface named {0:?}")]
    LinkNotFound(String),
    #[error("invalid interface name {0:?}: 1 to 15 bytes without '/', ':' or whitespace")]
    InvalidInterfaceName(String),
    #[error("{op}: {source}")]
    Io {
        op: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Ipam(#[from] IpamError),
    #[error(transparent)]
    PortSpec(#[from] PortSpecError),
    /// A request berth-net refuses as given (the API answers it with 400).
    #[error("{0}")]
    InvalidArgument(String),
}

impl Error {
    pub(crate) fn io(op: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            op: op.into(),
            source,
        }
    }
}

/// A netlink request the kernel refused, with the kernel's own explanation when it gave one.
#[derive(Debug, thiserror::Error)]
#[error("netlink {op}: {source}{}", .detail.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
pub struct NetlinkError {
    op: String,
    #[source]
    source: io::Error,
    detail: Option<String>,
}

impl NetlinkError {
    pub(crate) fn new(op: &str, source: io::Error, detail: Option<String>) -> Self {
        Self {
            op: op.to_owned(),
            source,
            detail,
        }
    }

    /// The errno the kernel answered with.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.source.raw_os_error()
    }

    /// What was being done, e.g. `"create bridge berth0"`.
    pub fn op(&self) -> &str {
        &self.op
    }
}

/// A malformed address, prefix or MAC address in text form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {input:?}")]
pub struct AddrParseError {
    pub(crate) what: &'static str,
    pub(crate) input: String,
}
