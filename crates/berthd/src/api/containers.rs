//! `/containers/...` handlers.

use super::hijack;
use super::http::{Query, Result, builder, empty, infallible_stream, json, json_body, stream_body};
use berth_engine::containers::{LIST_FILTERS, LogOptions, WaitCondition};
use berth_engine::filters::Filters;
use berth_engine::{Engine, Error};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::json;
use std::sync::Arc;
use std::time::SystemTime;
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
    let q = Query::of(req);
    engine
        .remove_container(id, q.flag("force"), q.flag("v"))
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
        details: q.flag("details"),
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

/// `POST /containers/{id}/attach`.
pub fn attach(engine: &Engine, req: Request<Incoming>, id: &str) -> Result {
    let q = Query::of(&req);
    let (stdout, stderr, stdin) = (q.flag("stdout"), q.flag("stderr"), q.flag("stdin"));
    let (output, tty) = engine.attach_container(id, stdout, stderr, stdin)?;
    if !q.flag("stream") {
        // Without `stream` Docker answers at once (a replay of logs comes with `logs=1`).
        return Ok(builder(StatusCode::OK)
            .header("Content-Type", hijack::content_type(tty))
            .body(super::http::full(Bytes::new()))
            .expect("valid reply"));
    }
    let output = async move {
        output
            .await
            .map_or(hijack::Output::Nothing, hijack::Output::Stream)
    };
    Ok(hijack::serve(req, tty, output, stdin, async {}))
}

fn size(q: &Query) -> Result<(u16, u16)> {
    let dim = |key: &str| -> Result<u16> {
        let v = q.get(key).unwrap_or("0");
        v.parse().map_err(|_| {
            Error::invalid(format!(
                "invalid {key} {v:?}: a terminal dimension is 0 to 65535"
            ))
        })
    };
    Ok((dim("h")?, dim("w")?))
}

/// `POST /containers/{id}/resize`.
pub async fn resize(engine: &Engine, req: &Request<Incoming>, id: &str) -> Result {
    let (h, w) = size(&Query::of(req))?;
    engine.resize_container(id, h, w).await?;
    Ok(empty(StatusCode::OK))
}

pub async fn restart(engine: &Arc<Engine>, req: &Request<Incoming>, id: &str) -> Result {
    let q = Query::of(req);
    engine
        .restart_container(id, q.int("t")?, q.get("signal"))
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `POST /containers/{id}/update`.
pub async fn update(engine: &Engine, req: Request<Incoming>, id: &str) -> Result {
    let body = json_body(req).await?;
    let warnings = engine.update_container(id, &body).await?;
    Ok(json(StatusCode::OK, &json!({"Warnings": warnings})))
}

pub async fn rename(engine: &Engine, req: &Request<Incoming>, id: &str) -> Result {
    let q = Query::of(req);
    let name = q
        .get("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Error::invalid("Neither old nor new names may be empty"))?;
    engine.rename_container(id, name).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn top(engine: &Engine, req: &Request<Incoming>, id: &str) -> Result {
    let q = Query::of(req);
    Ok(json(
        StatusCode::OK,
        &engine.top_container(id, q.get("ps_args")).await?,
    ))
}

/// `POST /containers/{id}/exec`.
pub async fn create_exec(engine: &Engine, req: Request<Incoming>, id: &str) -> Result {
    let body = json_body(req).await?;
    let exec_id = engine.create_exec(id, &body)?;
    Ok(json(StatusCode::CREATED, &json!({"Id": exec_id})))
}

/// `POST /exec/{id}/start`.
pub async fn start_exec(engine: &Arc<Engine>, mut req: Request<Incoming>, exec_id: &str) -> Result {
    // The body arrives before the upgrade; read it without consuming the request.
    let body = {
        use http_body_util::BodyExt;
        let bytes = http_body_util::Limited::new(req.body_mut(), 1 << 20)
            .collect()
            .await
            .map_err(|e| Error::invalid(format!("reading request body: {e}")))?
            .to_bytes();
        if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .map_err(|e| Error::invalid(format!("invalid JSON: {e}")))?
        }
    };
    let detach = body["Detach"].as_bool().unwrap_or(false);
    let tty = body["Tty"].as_bool();
    if detach {
        engine.start_exec(exec_id, true, tty).await?;
        return Ok(empty(StatusCode::OK));
    }
    // Docker upgrades first and starts the process after; a failure to start is written
    // into the stream and the exec's exit code is 126.
    let inspect = engine.inspect_exec(exec_id).await?;
    let shown_tty = tty.unwrap_or(inspect["ProcessConfig"]["tty"].as_bool().unwrap_or(false));
    let stdin = inspect["OpenStdin"].as_bool().unwrap_or(false);
    let (engine, exec_id) = (engine.clone(), exec_id.to_string());
    let starter = (engine.clone(), exec_id.clone());
    let output = async move {
        match starter.0.start_exec(&starter.1, false, tty).await {
            Ok(Some(stream)) => hijack::Output::Stream(stream),
            Ok(None) => hijack::Output::Nothing,
            Err(e) => hijack::Output::Failed(e.message),
        }
    };
    Ok(hijack::serve(req, shown_tty, output, stdin, async move {
        engine.exec_stream_ended(&exec_id).await
    }))
}

pub async fn inspect_exec(engine: &Engine, exec_id: &str) -> Result {
    Ok(json(StatusCode::OK, &engine.inspect_exec(exec_id).await?))
}

pub async fn resize_exec(engine: &Engine, req: &Request<Incoming>, exec_id: &str) -> Result {
    let (h, w) = size(&Query::of(req))?;
    engine.resize_exec(exec_id, h, w).await?;
    Ok(empty(StatusCode::CREATED))
}

pub async fn pause(engine: &Engine, id: &str, pause: bool) -> Result {
    engine.set_paused(id, pause).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GET /containers/{id}/stats`: streams by default, as Docker does.
pub async fn stats(engine: &Arc<Engine>, req: &Request<Incoming>, id: &str) -> Result {
    let q = Query::of(req);
    let stream = q.get("stream").is_none_or(|_| q.flag("stream"));
    let rx = engine.stats_stream(id, stream, q.flag("one-shot")).await?;
    Ok(builder(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(infallible_stream(rx))
        .expect("valid reply"))
}
