use std::io;
use std::path::PathBuf;

use crate::digest::{ChainId, Digest};

/// Everything that can go wrong in the image store. Messages name the digest or path involved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Fs(#[from] berth_fs::Error),

    #[error("invalid digest {0:?}: expected sha256:<64 lowercase hex digits>")]
    InvalidDigest(String),

    #[error("{what}: content has digest {actual}, expected {expected}")]
    DigestMismatch {
        what: String,
        expected: Digest,
        actual: Digest,
    },

    #[error("{what} is larger than the limit of {limit} bytes")]
    TooLarge { what: String, limit: u64 },

    #[error("blob {0} not found")]
    BlobNotFound(Digest),

    #[error("layer {0} not found")]
    LayerNotFound(ChainId),

    /// A layer tar entry that is unsafe or cannot be represented; the layer was not applied.
    #[error("layer {blob}: entry {}: {reason}", path.display())]
    LayerEntry {
        blob: Digest,
        path: PathBuf,
        reason: String,
    },

    #[error("{what} is compressed with {format}, which is not supported")]
    UnsupportedCompression { what: String, format: &'static str },

    #[error("invalid image archive: {0}")]
    InvalidArchive(String),

    #[error("image {id}: {reason}")]
    InvalidImage { id: Digest, reason: String },

    #[error("invalid JSON in {what}: {source}")]
    Json {
        what: String,
        source: serde_json::Error,
    },

    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// True for a blob or layer that does not exist (an API 404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::BlobNotFound(_) | Error::LayerNotFound(_))
    }

    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn fs(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Fs(berth_fs::Error::new(op, path, source))
    }

    pub(crate) fn json(what: impl Into<String>, source: serde_json::Error) -> Error {
        Error::Json {
            what: what.into(),
            source,
        }
    }
}
