//! Errors of the distribution client. Each names the registry, repository, URL or digest it is
//! about; HTTP failures read as Docker prints them (`Get "https://…/v2/": unauthorized: …`).

use berth_image::Digest;

/// Everything that can go wrong talking to a registry.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A malformed image reference; the message is Docker's.
    #[error("{message}")]
    InvalidReference { reference: String, message: String },

    #[error("invalid platform {platform:?}: {reason}")]
    InvalidPlatform {
        platform: String,
        reason: &'static str,
    },

    /// A bad client setting (an `insecure-registries` entry, ...).
    #[error("invalid registry client configuration: {0}")]
    InvalidConfig(String),

    /// No answer: connection refused, TLS failure, timeout, broken transfer.
    #[error("{method} {url:?}: {source}")]
    Transport {
        method: String,
        url: String,
        source: Box<ureq::Error>,
    },

    /// The registry or its token service refused the credentials (or their absence).
    #[error("{method} {url:?}: {message}")]
    Unauthorized {
        registry: String,
        method: String,
        url: String,
        /// `unauthorized: …`, as the registry worded it.
        message: String,
    },

    /// The tag or digest is not in the repository; worded as Docker's pull error.
    #[error("manifest for {reference} not found: {message}")]
    ManifestUnknown { reference: String, message: String },

    /// Any other error status; `message` is the registry's `errors` list in Docker's wording.
    #[error("{method} {url:?}: {message}")]
    Registry {
        registry: String,
        method: String,
        url: String,
        status: u16,
        message: String,
    },

    /// The token service answered something that is not a token.
    #[error("token service {realm:?} for {registry}: {reason}")]
    Token {
        registry: String,
        realm: String,
        reason: String,
    },

    /// Content that does not hash to the digest it was asked for or announced with.
    #[error(
        "{what} from {registry}/{repository}: content has digest {actual}, expected {expected}"
    )]
    DigestMismatch {
        registry: String,
        repository: String,
        what: String,
        expected: Digest,
        actual: Digest,
    },

    #[error("{what} from {registry}/{repository} is {actual} bytes, expected {expected}")]
    SizeMismatch {
        registry: String,
        repository: String,
        what: String,
        expected: u64,
        actual: u64,
    },

    #[error("{what} from {registry} is larger than the limit of {limit} bytes")]
    TooLarge {
        registry: String,
        what: String,
        limit: u64,
    },

    /// A manifest berth will not use (schema 1, an artifact, a Windows foreign layer, ...).
    #[error("{reference}: {reason}")]
    UnsupportedManifest { reference: String, reason: String },

    /// A manifest, index or image config that does not parse or does not hold together.
    #[error("{reference}: invalid {what}: {reason}")]
    InvalidManifest {
        reference: String,
        what: &'static str,
        reason: String,
    },

    /// The index has no image for the requested platform; worded as Docker's.
    #[error("no matching manifest for {platform} in the manifest list entries ({reference})")]
    NoMatchingPlatform { reference: String, platform: String },

    /// A response that breaks the distribution protocol (a missing `Location`, ...).
    #[error("{method} {url:?}: {reason}")]
    Protocol {
        method: String,
        url: String,
        reason: String,
    },

    /// The content store failed; `what` says which blob or layer.
    #[error("{what}: {source}")]
    Store {
        what: String,
        source: berth_image::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// True when the image, tag, digest or repository does not exist (an API 404).
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::ManifestUnknown { .. } => true,
            Error::Registry { status, .. } => *status == 404,
            _ => false,
        }
    }

    /// True when the registry wants other credentials than those given (an API 401).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Error::Unauthorized { .. })
    }

    pub(crate) fn store(what: impl Into<String>, source: berth_image::Error) -> Error {
        Error::Store {
            what: what.into(),
            source,
        }
    }
}
