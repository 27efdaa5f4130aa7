//! `/containers/...` handlers.

use super::http::{
    Body, Query, Result, builder, empty, infallible_stream, json, json_body, stream_body,
};
use berth_engine::containers::{LIST_FILTERS, LogOptions, WaitCondition};
use berth_engine::filters::Filters;
use berth_engine::{Engine, Error};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

pub async fn create(engine: &Engine, req: Request<Incoming>) -> Result {
    let name = Query::of(&req).get("name").map(str::to_string);
    let body = json_body(req).await?;
    let (id, warnings) = engine.create_container(name.as_deref(), &body).await?;
    Ok(json(
        StatusCode::CREATED,
        &json!({"Id": id, "Warnings": warnings}),
    ))
}

pub fn list(engine: &Engine, req: &Request<Incoming>) -> Result {
    let q = Query::of(req);
    let filters = Filters::parse(q.get("filters"), LIST_FILTERS)?;
    let limit = q.int("limit")?.filter(|l| *l > 0).map(|l| l as usize);
    Ok(json(
        StatusCode::OK,
        &engine.list_containers(q.flag("all"), limit, &filters)?,
    ))
}

pub fn inspect(engine: &Engine, id: &str) -> Result {
    Ok(json(StatusCode::OK, &engine.inspect_container(id)?))
}

pub async fn start(engine: &Arc<Engine>, id: &str) -> Result {
    engine.start_container(id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn stop(engine: &Engine, req: &Request<Incoming>, id: &str) -> Result {
    let q = Query::of(req);
    engine
        .stop_container(id, q.int("t")?, q.get("signal"))
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn kill(engine: &Engine, req: &Request<Incoming>, id: &str) -> Result {
    engine
        .kill_container(id, Query::of(req).get("signal"))
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn remove(engine: &Engine, req: &Request<Incoming>, id: &str) -> Result {
    engine
        .remove_container(id, Query::of(req).flag("force"))
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// Sends the headers at once and the status when the condition is met, as Docker does, so a
/// client knows its wait is registered before it starts the container.
pub fn wait(engine: &Engine, req: &Request<Incoming>, id: &str) -> Result {
    let condition = WaitCondition::parse(Query::of(req).get("condition"))?;
    let done = engine.wait_container(id, condition)?;
    let (tx, rx) = mpsc::channel::<std::result::Result<Bytes, std::io::Error>>(1);
    tokio::spawn(async move {
        let body = match done.await {
            Ok(code) => json!({"StatusCode": code, "Error": null}),
            Err(e) => json!({"StatusCode": -1, "Error": {"Message": e.message}}),
        };
        let _ = tx.send(Ok(Bytes::from(body.to_string() + "\n"))).await;
    });
    Ok(builder(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(stream_body(rx))
        .expect("valid reply"))
}

fn parse_time(q: &Query, key: &str) -> Result<Option<SystemTime>> {
    let Some(v) = q.get(key).filter(|v| !v.is_empty() && *v != "0") else {
        return Ok(None);
    };
    // Docker sends seconds since the epoch, with an optional fraction.
    let secs: f64 = v
        .parse()
        .map_err(|_| Error::invalid(format!("invalid value for {key}: {v:?}")))?;
    Ok(Some(
        SystemTime::UNIX_EPOCH + std::time::Duration::from_secs_f64(secs.max(0.0)),
    ))
}

pub fn logs(engine: &Engine, req: &Request<Incoming>, id: &str) -> Result {
    let q = Query::of(req);
    let (stdout, stderr) = (q.flag("stdout"), q.flag("stderr"));
    if !stdout && !stderr {
        return Err(Error::invalid(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let tail = match q.get("tail") {
        None | Some("all") | Some("") => None,
        Some(n) => Some(
            n.parse::<usize>()
                .map_err(|_| Error::invalid(format!("invalid tail value {n:?}")))?,
        ),
    };
    let opts = LogOptions {
        stdout,
        stderr,
        follow: q.flag("follow"),
        timestamps: q.flag("timestamps"),
        tail,
        since: parse_time(&q, "since")?,
        until: parse_time(&q, "until")?,
    };
    let rx = engine.container_logs(id, opts)?;
    Ok(builder(StatusCode::OK)
        .header("Content-Type", "application/vnd.docker.multiplexed-stream")
        .body(infallible_stream(rx))
        .expect("valid reply"))
}

/// `POST /containers/{id}/attach`: output streams over the hijacked connection (`Upgrade:
/// tcp`), or as a plain streamed body for clients that do not upgrade.
pub fn attach(engine: &Engine, mut req: Request<Incoming>, id: &str) -> Result {
    let q = Query::of(&req);
    let (stdout, stderr) = (q.flag("stdout"), q.flag("stderr"));
    let output = engine.attach_container(id, stdout, stderr)?;
    let content_type = "application/vnd.docker.multiplexed-stream";
    let upgrade = req.headers().get(header::UPGRADE).is_some();
    if !q.flag("stream") {
        // Without `stream` Docker returns at once (logs replay comes with `logs=1`).
        return Ok(builder(StatusCode::OK)
            .header("Content-Type", content_type)
            .body(super::http::full(Bytes::new()))
            .expect("valid reply"));
    }
    if upgrade {
        let on_upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            let mut client = TokioIo::new(upgraded);
            if let Ok(mut shim_output) = output.await {
                let _ = tokio::io::copy(&mut shim_output, &mut client).await;
            }
            let _ = client.shutdown().await;
        });
        return Ok(builder(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "Upgrade")
            .header(header::UPGRADE, "tcp")
            .header("Content-Type", content_type)
            .body(super::http::full(Bytes::new()))
            .expect("valid reply"));
    }
    Ok(builder(StatusCode::OK)
        .header("Content-Type", content_type)
        .body(output_body(output))
        .expect("valid reply"))
}

fn output_body(
    output: tokio::sync::oneshot::Receiver<berth_engine::containers::OutputStream>,
) -> Body {
    let (tx, rx) = mpsc::channel::<std::result::Result<Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        let Ok(mut stream) = output.await else { return };
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx
                        .send(Ok(Bytes::copy_from_slice(&buf[..n])))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
    stream_body(rx)
}
