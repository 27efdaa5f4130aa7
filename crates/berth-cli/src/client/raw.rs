//! Raw Engine API requests, where bollard's typed client does not fit: output that must be
//! the daemon's JSON exactly as sent (`inspect`: bollard's models drop the keys a daemon
//! sends as null and reorder the rest), and the hijacked connections of attach and exec
//! (bollard's decoder guesses whether a TTY stream is framed, and cannot half-close).

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Bytes;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;

/// A hijacked connection: the process's raw stdin, stdout and stderr.
pub type Connection = TokioIo<Upgraded>;

/// GETs `path` (unversioned) from the daemon at `host`; returns the status and parsed body.
pub async fn get_json(host: &str, path: &str) -> Result<(u16, serde_json::Value), String> {
    let mut sender = handshake(host).await?;
    let request = hyper::Request::get(path)
        .header("Host", "berth")
        .body(Empty::<Bytes>::new().boxed())
        .map_err(|e| e.to_string())?;
    let response = sender.send_request(request).await.map_err(failed)?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(failed)?
        .to_bytes();
    let value = serde_json::from_slice(&body)
        .map_err(|e| format!("invalid JSON from the daemon for {path}: {e}"))?;
    Ok((status, value))
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
