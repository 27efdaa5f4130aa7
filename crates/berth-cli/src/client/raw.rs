//! Raw Engine API requests, where bollard's typed client does not fit: output that must be
//! the daemon's JSON exactly as sent (`inspect`: bollard's models drop the keys a daemon
//! sends as null and reorder the rest; `events --format`), answers bollard reads in a newer
//! shape than daemons send (`system df`), response headers bollard does not hand out (`cp`'s
//! path stat), repeated query parameters (`commit -c`, `build -t`), and the hijacked
//! connections of attach and exec (bollard's decoder guesses whether a TTY stream is framed,
//! and cannot half-close).

use futures_util::{Stream, TryStreamExt};
use http_body_util::{BodyExt, BodyStream, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::upgrade::Upgraded;
use hyper::{HeaderMap, Method};
use hyper_util::rt::TokioIo;

/// A hijacked connection: the process's raw stdin, stdout and stderr.
pub type Connection = TokioIo<Upgraded>;

/// A daemon's answer, its body not read yet.
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    body: Incoming,
}

impl Response {
    /// The whole body.
    pub async fn bytes(self) -> Result<Bytes, String> {
        Ok(self.body.collect().await.map_err(failed)?.to_bytes())
    }

    /// The body as it comes.
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
        BodyStream::new(self.body)
            .try_filter_map(|frame| async move { Ok(frame.into_data().ok()) })
            .map_err(std::io::Error::other)
    }

    /// Docker's message for a failed request: "Error response from daemon: " and the
    /// daemon's own message (its JSON `message`, else its text).
    pub async fn error_message(self) -> String {
        let status = self.status;
        match self.bytes().await {
            Ok(body) => daemon_error(status, &body),
            Err(error) => error,
        }
    }
}

/// The daemon's message for a failed request, worded as docker words it.
pub fn daemon_error(status: u16, body: &[u8]) -> String {
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|json| json["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
    if message.is_empty() {
        format!("Error response from daemon: request returned status {status}")
    } else {
        format!("Error response from daemon: {message}")
    }
}

/// Sends `method path` (unversioned, with `body` as JSON if any) to the daemon at `host`.
pub async fn request(
    host: &str,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<Response, String> {
    request_with_headers(host, method, path, &[], body).await
}

/// `request`, with extra headers (`X-Registry-Auth` for a pull or push).
pub async fn request_with_headers(
    host: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<serde_json::Value>,
) -> Result<Response, String> {
    let (content_type, body) = match body {
        Some(json) => (
            Some("application/json"),
            Full::new(Bytes::from(json.to_string())).boxed(),
        ),
        None => (None, Empty::<Bytes>::new().boxed()),
    };
    send(host, method, path, headers, content_type, body).await
}

/// POSTs a tar archive (a build context) to `path`.
pub async fn post_archive(
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    archive: Bytes,
) -> Result<Response, String> {
    let body = Full::new(archive).boxed();
    send(
        host,
        Method::POST,
        path,
        headers,
        Some("application/x-tar"),
        body,
    )
    .await
}

async fn send(
    host: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    content_type: Option<&str>,
    body: Body,
) -> Result<Response, String> {
    let mut sender = handshake(host).await?;
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("Host", "berth");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    let request = request.body(body).map_err(|e| e.to_string())?;
    let response = sender.send_request(request).await.map_err(failed)?;
    let (parts, body) = response.into_parts();
    Ok(Response {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    })
}

/// GETs `path` (unversioned) from the daemon at `host`: its JSON answer, or docker's message
/// for its failure.
pub async fn get_json<T: serde::de::DeserializeOwned>(host: &str, path: &str) -> Result<T, String> {
    let response = request(host, Method::GET, path, None).await?;
    let status = response.status;
    let body = response.bytes().await?;
    if status != 200 {
        return Err(daemon_error(status, &body));
    }
    parse_json(path, &body)
}

/// A JSON answer to `path`.
pub fn parse_json<T: serde::de::DeserializeOwned>(path: &str, body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body)
        .map_err(|e| format!("invalid JSON from the daemon for {path}: {e}"))
}

/// A query string from `pairs`, each key as often as it is given.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        serializer.append_pair(key, value);
    }
    serializer.finish()
}

/// POSTs `path` (unversioned, with `body` as JSON if any) asking to take the connection
/// over, as `attach` and exec `start` do, and returns the connection once the daemon has
/// switched protocols.
pub async fn hijack(
    host: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<Connection, String> {
    let mut sender = handshake(host).await?;
    let mut request = hyper::Request::post(path)
        .header("Host", "berth")
        .header("Connection", "Upgrade")
        .header("Upgrade", "tcp");
    if body.is_some() {
        request = request.header("Content-Type", "application/json");
    }
    let body = match body {
        Some(json) => Full::new(Bytes::from(json.to_string())).boxed(),
        None => Empty::<Bytes>::new().boxed(),
    };
    let request = request.body(body).map_err(|e| e.to_string())?;
    let response = sender.send_request(request).await.map_err(failed)?;
    let status = response.status();
    if status != hyper::StatusCode::SWITCHING_PROTOCOLS {
        return Err(format!(
            "unable to upgrade to tcp, received {}",
            status.as_u16()
        ));
    }
    let upgraded = hyper::upgrade::on(response).await.map_err(failed)?;
    Ok(TokioIo::new(upgraded))
}

type Body = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;
type Sender = hyper::client::conn::http1::SendRequest<Body>;

/// Connects to `host` and speaks HTTP/1.1 on the connection.
async fn handshake(host: &str) -> Result<Sender, String> {
    let io_error = |e: std::io::Error| format!("error during connect: {e}");
    if let Some(socket) = host.strip_prefix("unix://") {
        let stream = tokio::net::UnixStream::connect(socket)
            .await
            .map_err(io_error)?;
        speak_http(TokioIo::new(stream)).await
    } else {
        let addr = host
            .trim_start_matches("tcp://")
            .trim_start_matches("http://");
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(io_error)?;
        speak_http(TokioIo::new(stream)).await
    }
}

/// Drives HTTP/1.1 on `io` in the background (upgrades allowed) and returns its sender.
async fn speak_http<T>(io: T) -> Result<Sender, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(failed)?;
    tokio::spawn(connection.with_upgrades());
    Ok(sender)
}

fn failed(error: hyper::Error) -> String {
    format!("error during connect: {error}")
}
