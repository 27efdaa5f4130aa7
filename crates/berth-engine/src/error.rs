//! Engine errors carry a kind that survives the wire: berthd maps each kind to Docker's status
//! code, and the message is the one Docker users know.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 404: no such container, image, ...
    NotFound,
    /// 409: a name in use, a running container that must be stopped first, ...
    Conflict,
    /// 400: a malformed parameter or body.
    InvalidArgument,
    /// 304: the operation had nothing to do (start of a running container).
    NotModified,
    /// 403: not allowed on this object (removing a predefined network).
    Forbidden,
    /// 401: a registry refused the credentials.
    Unauthorized,
    /// 500: anything else.
    Internal,
}

#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    pub fn no_such_container(name: &str) -> Self {
        Self::not_found(format!("No such container: {name}"))
    }
    pub fn no_such_image(name: &str) -> Self {
        Self::not_found(format!("No such image: {name}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::internal(format!("state database: {e}"))
    }
}

impl From<berth_image::Error> for Error {
    fn from(e: berth_image::Error) -> Self {
        use berth_image::Error as E;
        // What the store refuses about the input it was handed (a bad archive, a digest
        // mismatch, an escaping path, a truncated stream) is the client's 400; trouble with our
        // own files is a 500.
        match e {
            E::Fs(_) | E::BlobNotFound(_) | E::LayerNotFound(_) => Error::internal(e.to_string()),
            _ => Error::invalid(e.to_string()),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::internal(e.to_string())
    }
}

impl From<berth_net::Error> for Error {
    fn from(e: berth_net::Error) -> Self {
        match e {
            berth_net::Error::PortSpec(_)
            | berth_net::Error::InvalidArgument(_)
            | berth_net::Error::Ipam(_) => Error::invalid(e.to_string()),
            _ => Error::internal(e.to_string()),
        }
    }
}

impl From<berth_net::ipam::IpamError> for Error {
    fn from(e: berth_net::ipam::IpamError) -> Self {
        Error::invalid(e.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::invalid(e.to_string())
    }
}
