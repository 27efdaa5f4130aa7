//! Docker's hijacked streams (`attach`, `exec start`): after `101 UPGRADED` the connection
//! carries the process's output to the client and, with stdin, the client's input back.
//! Clients that do not ask for the upgrade get the output as a streamed body.

use super::http::{Body, Reply, builder, full, stream_body};
use berth_engine::containers::OutputStream;
use berth_shim_proto::{STREAM_STDOUT, frame_header};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use std::future::Future;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

pub fn content_type(tty: bool) -> &'static str {
    if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    }
}

/// What a hijacked stream carries: the process's output, a failure to start it (written
/// into the stream, as Docker writes it), or nothing (the client is just closed).
pub enum Output {
    Stream(OutputStream),
    Failed(String),
    Nothing,
}

/// A start failure as stdout bytes of the stream: framed unless the process has a terminal.
fn failure_bytes(message: &str, tty: bool) -> Bytes {
    let text = format!("{message}\r\n");
    let mut out = Vec::with_capacity(text.len() + 8);
    if !tty {
        out.extend_from_slice(&frame_header(STREAM_STDOUT, text.len() as u32));
    }
    out.extend_from_slice(text.as_bytes());
    Bytes::from(out)
}

/// Connects the client to `output` once it arrives. `stdin` forwards the client's bytes to
/// the process (its end of input is passed on as a half-close); `on_end` runs after the
/// output has ended.
pub fn serve<F, E>(
    mut req: Request<Incoming>,
    tty: bool,
    output: F,
    stdin: bool,
    on_end: E,
) -> Reply
where
    F: Future<Output = Output> + Send + 'static,
    E: Future<Output = ()> + Send + 'static,
{
    if req.headers().get(header::UPGRADE).is_none() {
        let body = output_body(output, on_end, tty);
        return builder(StatusCode::OK)
            .header("Content-Type", content_type(tty))
            .body(body)
            .expect("valid reply");
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let (mut client_in, mut client_out) = tokio::io::split(TokioIo::new(upgraded));
        match output.await {
            Output::Stream(stream) => {
                let (mut from_process, mut to_process) = tokio::io::split(stream);
                let input = tokio::spawn(async move {
                    if stdin {
                        let _ = tokio::io::copy(&mut client_in, &mut to_process).await;
                        let _ = to_process.shutdown().await;
                    }
                });
                let _ = tokio::io::copy(&mut from_process, &mut client_out).await;
                input.abort();
            }
            Output::Failed(message) => {
                let _ = client_out.write_all(&failure_bytes(&message, tty)).await;
            }
            Output::Nothing => {}
        }
        let _ = client_out.shutdown().await;
        on_end.await;
    });
    builder(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "tcp")
        .header("Content-Type", content_type(tty))
        .body(full(Bytes::new()))
        .expect("valid reply")
}

fn output_body<F, E>(output: F, on_end: E, tty: bool) -> Body
where
    F: Future<Output = Output> + Send + 'static,
    E: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        match output.await {
            Output::Stream(mut stream) => {
                let mut buf = vec![0u8; 32 * 1024];
                while let Ok(n @ 1..) = stream.read(&mut buf).await {
                    if tx
                        .send(Ok(Bytes::copy_from_slice(&buf[..n])))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
            Output::Failed(message) => {
                let _ = tx.send(Ok(failure_bytes(&message, tty))).await;
            }
            Output::Nothing => {}
        }
        on_end.await;
    });
    stream_body(rx)
}
