//! `GET /events`: past events since `since`, then live ones until `until` or the client goes.

use super::http::{Query, Result, builder, infallible_stream};
use berth_engine::events::FILTERS;
use berth_engine::filters::Filters;
use berth_engine::{Engine, Error};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Docker's `since`/`until`: seconds since the epoch, with an optional fraction.
fn nanos(q: &Query, key: &str) -> Result<Option<i128>> {
    let Some(v) = q.get(key).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let secs: f64 = v
        .parse()
        .map_err(|_| Error::invalid(format!("invalid value for {key}: {v:?}")))?;
    Ok(Some((secs * 1e9) as i128))
}

pub fn stream(engine: &Engine, req: &Request<Incoming>) -> Result {
    let q = Query::of(req);
    let filters = Filters::parse(q.get("filters"), FILTERS)?;
    let (since, until) = (nanos(&q, "since")?, nanos(&q, "until")?);
    let (past, mut live) = engine.events.subscribe(since);
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        let line =
            |e: &berth_engine::events::Event| bytes::Bytes::from(e.to_json().to_string() + "\n");
        for e in past
            .iter()
            .filter(|e| e.matches(&filters) && until.is_none_or(|u| e.time_nano <= u))
        {
            if tx.send(line(e)).await.is_err() {
                return;
            }
        }
        let deadline = until.map(|u| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as i128)
                .unwrap_or(0);
            Duration::from_nanos((u - now).max(0) as u64)
        });
        let forward = async {
            loop {
                match live.recv().await {
                    Ok(e) if e.matches(&filters) => {
                        if tx.send(line(&e)).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return,
                }
            }
        };
        match deadline {
            Some(d) => {
                let _ = tokio::time::timeout(d, forward).await;
            }
            None => forward.await,
        }
    });
    Ok(builder(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(infallible_stream(rx))
        .expect("valid reply"))
}
