//! Response bodies and a small builder for the registry's replies.

use std::io;

use bytes::Bytes;
use futures_util::TryStreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::Frame;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

/// Every response body: bytes in memory or a file streamed from storage.
pub(crate) type Body = BoxBody<Bytes, io::Error>;

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// `len` bytes of `file` from its current position, read as the client takes them.
fn file(file: tokio::fs::File, len: u64) -> Body {
    let stream = ReaderStream::with_capacity(file.take(len), 64 * 1024).map_ok(Frame::data);
    StreamBody::new(stream).boxed()
}

/// A response under construction.
pub(crate) struct Reply(Response<Body>);

impl Reply {
    /// An empty reply (`Content-Length: 0`).
    pub(crate) fn new(status: StatusCode) -> Self {
        let mut response = Response::new(empty());
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(0));
        Self(response)
    }

    /// A `200 OK` carrying `bytes` of type `content_type`.
    pub(crate) fn document(content_type: &str, bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        Self::new(StatusCode::OK)
            .header(CONTENT_TYPE, content_type)
            .length(bytes.len() as u64)
            .body(full(bytes))
    }

    /// A JSON document.
    pub(crate) fn json(value: &serde_json::Value) -> Self {
        Self::document("application/json; charset=utf-8", value.to_string())
    }

    /// Streams `len` bytes of `source` (HEAD replies send none, but announce `len`).
    pub(crate) fn file(self, source: Option<tokio::fs::File>, len: u64) -> Self {
        let reply = self.length(len);
        match source {
            Some(source) => reply.body(file(source, len)),
            None => reply,
        }
    }

    pub(crate) fn length(mut self, len: u64) -> Self {
        self.0
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(len));
        self
    }

    /// Adds a header. Values are built from validated names, digests and numbers; one that is
    /// still not a valid header value is left out and logged rather than sent garbled.
    pub(crate) fn header(mut self, name: HeaderName, value: impl AsRef<str>) -> Self {
        match HeaderValue::from_str(value.as_ref()) {
            Ok(value) => {
                self.0.headers_mut().insert(name, value);
            }
            Err(_) => tracing::error!("registry: invalid {name} header {:?}", value.as_ref()),
        }
        self
    }

    fn body(mut self, body: Body) -> Self {
        *self.0.body_mut() = body;
        self
    }

    pub(crate) fn build(self) -> Response<Body> {
        self.0
    }
}

/// Header names of the distribution protocol.
pub(crate) mod header {
    use hyper::header::HeaderName;

    pub(crate) const API_VERSION: HeaderName =
        HeaderName::from_static("docker-distribution-api-version");
    pub(crate) const CONTENT_DIGEST: HeaderName = HeaderName::from_static("docker-content-digest");
    pub(crate) const UPLOAD_UUID: HeaderName = HeaderName::from_static("docker-upload-uuid");
    pub(crate) const OCI_SUBJECT: HeaderName = HeaderName::from_static("oci-subject");
    pub(crate) const OCI_FILTERS_APPLIED: HeaderName =
        HeaderName::from_static("oci-filters-applied");
}
