//! Raw Engine API requests for output that must be the daemon's JSON exactly as sent
//! (`inspect`): bollard's typed models drop the keys a daemon sends as null and reorder the
//! rest.

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// GETs `path` (unversioned) from the daemon at `host`; returns the status and parsed body.
pub async fn get_json(host: &str, path: &str) -> Result<(u16, serde_json::Value), String> {
    let io_error = |e: std::io::Error| format!("error during connect: {e}");
    let (status, body) = if let Some(socket) = host.strip_prefix("unix://") {
        let stream = tokio::net::UnixStream::connect(socket)
            .await
            .map_err(io_error)?;
        exchange(TokioIo::new(stream), path).await?
    } else {
        let addr = host
            .trim_start_matches("tcp://")
            .trim_start_matches("http://");
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(io_error)?;
        exchange(TokioIo::new(stream), path).await?
    };
    let value = serde_json::from_slice(&body)
        .map_err(|e| format!("invalid JSON from the daemon for {path}: {e}"))?;
    Ok((status, value))
}

async fn exchange<T>(io: T, path: &str) -> Result<(u16, Bytes), String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let failed = |e: hyper::Error| format!("error during connect: {e}");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(failed)?;
    tokio::spawn(conn);
    let request = hyper::Request::get(path)
        .header("Host", "berth")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = sender.send_request(request).await.map_err(failed)?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(failed)?
        .to_bytes();
    Ok((status, body))
}
