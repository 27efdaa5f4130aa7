//! The server's two kinds of error: [`ServeError`], why `serve` could not start or went down,
//! and [`ApiError`], a refused request in the distribution spec's JSON form
//! (`{"errors":[{"code":"BLOB_UNKNOWN","message":…,"detail":…}]}`).

use std::io;
use std::path::PathBuf;

use bytes::Bytes;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};

use crate::server::response::{Body, full};

/// Why the registry server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: io::Error,
    },

    #[error("registry storage {}: {source}", path.display())]
    Storage { path: PathBuf, source: io::Error },

    /// The htpasswd file could not be read or has an entry berth cannot check.
    #[error("htpasswd file {}: {reason}", path.display())]
    Htpasswd { path: PathBuf, reason: String },

    /// The token service's access file could not be read or has an entry berth cannot follow.
    #[error("token auth file {}: {reason}", path.display())]
    Access { path: PathBuf, reason: String },

    /// Settings that do not go together.
    #[error("{0}")]
    Config(String),

    /// The TLS certificate or key could not be loaded.
    #[error("TLS {}: {reason}", path.display())]
    Tls { path: PathBuf, reason: String },

    /// The SIGINT/SIGTERM handlers that stop [`serve`](crate::server::serve) gracefully.
    #[error("install signal handlers: {0}")]
    Signals(io::Error),
}

/// The error codes of the distribution spec that berth answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    Denied,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    /// distribution's code for a bad `n` in a tag list or catalog request.
    PaginationNumberInvalid,
    /// Not in the spec's table (which has none for a download range); distribution-style name.
    RangeInvalid,
    SizeInvalid,
    TagInvalid,
    Unauthorized,
    Unsupported,
    /// distribution's code for a server-side failure.
    Unknown,
}

impl Code {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Code::BlobUnknown => "BLOB_UNKNOWN",
            Code::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            Code::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Code::Denied => "DENIED",
            Code::DigestInvalid => "DIGEST_INVALID",
            Code::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Code::ManifestInvalid => "MANIFEST_INVALID",
            Code::ManifestUnknown => "MANIFEST_UNKNOWN",
            Code::NameInvalid => "NAME_INVALID",
            Code::NameUnknown => "NAME_UNKNOWN",
            Code::PaginationNumberInvalid => "PAGINATION_NUMBER_INVALID",
            Code::RangeInvalid => "RANGE_INVALID",
            Code::SizeInvalid => "SIZE_INVALID",
            Code::TagInvalid => "TAG_INVALID",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Unsupported => "UNSUPPORTED",
            Code::Unknown => "UNKNOWN",
        }
    }

    /// The status a code is sent with unless the error says otherwise.
    fn status(self) -> StatusCode {
        match self {
            Code::BlobUnknown
            | Code::BlobUploadUnknown
            | Code::ManifestUnknown
            | Code::NameUnknown => StatusCode::NOT_FOUND,
            Code::RangeInvalid => StatusCode::RANGE_NOT_SATISFIABLE,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::Denied => StatusCode::FORBIDDEN,
            Code::Unsupported => StatusCode::METHOD_NOT_ALLOWED,
            Code::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
            Code::BlobUploadInvalid
            | Code::DigestInvalid
            | Code::ManifestBlobUnknown
            | Code::ManifestInvalid
            | Code::NameInvalid
            | Code::PaginationNumberInvalid
            | Code::SizeInvalid
            | Code::TagInvalid => StatusCode::BAD_REQUEST,
        }
    }
}

/// A refused request: status, spec error code, message, optional detail and extra headers
/// (boxed: errors are rare, and every `Result` of a handler stays small).
#[derive(Debug)]
pub(crate) struct ApiError(Box<Refusal>);

#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    code: Code,
    message: String,
    detail: Option<Value>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Self {
        Self(Box::new(Refusal {
            status: code.status(),
            code,
            message: message.into(),
            detail: None,
            headers: Vec::new(),
        }))
    }

    #[cfg(test)]
    pub(crate) fn code(&self) -> Code {
        self.0.code
    }

    pub(crate) fn with_status(mut self, status: StatusCode) -> Self {
        self.0.status = status;
        self
    }

    pub(crate) fn with_detail(mut self, detail: Value) -> Self {
        self.0.detail = Some(detail);
        self
    }

    /// Adds a header; like [`Reply::header`](crate::server::response::Reply::header), a value
    /// that is not a valid header value is logged and left out.
    pub(crate) fn with_header(mut self, name: HeaderName, value: impl AsRef<str>) -> Self {
        match HeaderValue::from_str(value.as_ref()) {
            Ok(value) => self.0.headers.push((name, value)),
            Err(_) => tracing::error!("registry: invalid {name} header {:?}", value.as_ref()),
        }
        self
    }

    pub(crate) fn blob_unknown(digest: &impl ToString) -> Self {
        Self::new(Code::BlobUnknown, "blob unknown to registry")
            .with_detail(json!({ "digest": digest.to_string() }))
    }

    pub(crate) fn manifest_unknown(reference: &impl ToString) -> Self {
        Self::new(Code::ManifestUnknown, "manifest unknown")
            .with_detail(json!({ "reference": reference.to_string() }))
    }

    pub(crate) fn name_unknown(name: &impl ToString) -> Self {
        Self::new(Code::NameUnknown, "repository name not known to registry")
            .with_detail(json!({ "name": name.to_string() }))
    }

    pub(crate) fn upload_unknown() -> Self {
        Self::new(Code::BlobUploadUnknown, "blob upload unknown to registry")
    }

    /// A storage failure: logged in full, answered as a 500 that names no path.
    pub(crate) fn internal(context: &str, error: impl std::fmt::Display) -> Self {
        tracing::error!("registry: {context}: {error}");
        Self::new(Code::Unknown, format!("internal error: {context}"))
    }

    pub(crate) fn into_response(self) -> Response<Body> {
        let refusal = *self.0;
        let mut error = json!({ "code": refusal.code.as_str(), "message": refusal.message });
        if let Some(detail) = refusal.detail {
            error["detail"] = detail;
        }
        let body = Bytes::from(json!({ "errors": [error] }).to_string());
        let mut response = Response::new(full(body.clone()));
        *response.status_mut() = refusal.status;
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        for (name, value) in refusal.headers {
            headers.insert(name, value);
        }
        response
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.0.code.as_str(), self.0.message)
    }
}

impl From<io::Error> for ApiError {
    fn from(error: io::Error) -> Self {
        ApiError::internal("storage", error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn renders_the_spec_json_form() {
        let response = ApiError::blob_unknown(&"sha256:abc")
            .with_header(HeaderName::from_static("range"), "0-0")
            .into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()["range"], "0-0");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            value,
            json!({"errors": [{
                "code": "BLOB_UNKNOWN",
                "message": "blob unknown to registry",
                "detail": {"digest": "sha256:abc"},
            }]})
        );
    }
}
