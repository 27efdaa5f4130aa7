//! Building replies: JSON, errors in Docker's `{"message": ...}` shape, streamed bodies, and
//! the headers every Engine API reply carries.

use super::API_VERSION;
use berth_engine::{Error, ErrorKind};
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::Frame;
use hyper::{Response, StatusCode};
use serde::Serialize;
use tokio::sync::mpsc;

pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;
pub type Reply = Response<Body>;
pub type Result<T = Reply> = std::result::Result<T, Error>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A reply with berthd's standard headers.
pub fn builder(status: StatusCode) -> hyper::http::response::Builder {
    Response::builder()
        .status(status)
        .header("Api-Version", API_VERSION)
        .header("Docker-Experimental", "false")
        .header("Ostype", "linux")
        .header(
            "Server",
            concat!("berth/", env!("CARGO_PKG_VERSION"), " (linux)"),
        )
}

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Reply {
    let body = serde_json::to_vec(value).expect("replies serialize");
    builder(status)
        .header("Content-Type", "application/json")
        .body(full(body))
        .expect("valid reply")
}

pub fn empty(status: StatusCode) -> Reply {
    builder(status)
        .body(full(Bytes::new()))
        .expect("valid reply")
}

pub fn error_reply(e: &Error) -> Reply {
    let status = match e.kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::InvalidArgument => StatusCode::BAD_REQUEST,
        ErrorKind::NotModified => return empty(StatusCode::NOT_MODIFIED),
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::warn!(error = %e.message, "request failed");
    }
    json(status, &serde_json::json!({ "message": e.message }))
}

/// A streamed body from a channel of chunks.
pub fn stream_body<E>(rx: mpsc::Receiver<std::result::Result<Bytes, E>>) -> Body
where
    E: Into<std::io::Error> + Send + 'static,
{
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|item| (item.map(Frame::data).map_err(Into::into), rx))
    });
    BodyExt::boxed_unsync(StreamBody::new(stream))
}

/// A streamed body from a channel of chunks that cannot fail.
pub fn infallible_stream(rx: mpsc::Receiver<Bytes>) -> Body {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::io::Error>(Frame::data(b)), rx))
    });
    BodyExt::boxed_unsync(StreamBody::new(stream))
}

/// The query string of a request.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn of<B>(req: &hyper::Request<B>) -> Self {
        let q = req.uri().query().unwrap_or("");
        Query(form_urlencoded::parse(q.as_bytes()).into_owned().collect())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Docker's boolean parameters: `1`/`true`/`True` are true, anything else false.
    pub fn flag(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|v| matches!(v, "1" | "true" | "True" | "TRUE"))
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse()
                    .map_err(|_| Error::invalid(format!("invalid value for {key}: {v:?}")))
            })
            .transpose()
    }
}

/// Reads a whole JSON request body, bounded.
pub async fn json_body(req: hyper::Request<hyper::body::Incoming>) -> Result<serde_json::Value> {
    const MAX: usize = 4 << 20;
    let body = http_body_util::Limited::new(req.into_body(), MAX)
        .collect()
        .await
        .map_err(|e| Error::invalid(format!("reading request body: {e}")))?
        .to_bytes();
    if body.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_slice(&body).map_err(|e| Error::invalid(format!("invalid JSON: {e}")))
}

/// The request body as an async reader, for large uploads (image archives).
pub fn body_reader(
    req: hyper::Request<hyper::body::Incoming>,
) -> impl tokio::io::AsyncRead + Send + Unpin + 'static {
    let stream = http_body_util::BodyStream::new(req.into_body()).filter_map(|frame| async move {
        match frame {
            Ok(f) => f.into_data().ok().map(Ok),
            Err(e) => Some(Err(std::io::Error::other(e))),
        }
    });
    tokio_util::io::StreamReader::new(Box::pin(stream))
}
