//! Registry endpoints: pull (`/images/create?fromImage`), push, and `/auth`.

use super::http::{Query, Reply, Result, builder, error_reply, json, json_body, stream_body};
use berth_engine::images::registry::Transfer;
use berth_engine::{Engine, Error};
use berth_registry::Credentials;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::json;
use std::sync::Arc;
use tokio::sync::mpsc;

/// `X-Registry-Auth`: base64url JSON `{"username", "password", "serveraddress"}`.
fn credentials(req: &Request<Incoming>) -> Option<Credentials> {
    use base64::Engine as _;
    let raw = req.headers().get("X-Registry-Auth")?.to_str().ok()?.trim();
    let engines = [
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::STANDARD,
    ];
    let bytes = engines
        .iter()
        .find_map(|e| e.decode(raw).ok())
        .or_else(|| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(raw)
                .ok()
        })?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let username = v["username"].as_str().filter(|u| !u.is_empty())?;
    Some(Credentials::new(
        username,
        v["password"].as_str().unwrap_or(""),
    ))
}

/// Streams a transfer's JSON lines; a failure before the first line is the HTTP error.
async fn transfer_reply(mut rx: mpsc::Receiver<Transfer>) -> Reply {
    let first = match rx.recv().await {
        Some(Transfer::Failed(e)) => return error_reply(&e),
        Some(Transfer::Line(b)) => b,
        None => Bytes::new(),
    };
    let (tx, out) = mpsc::channel::<std::result::Result<Bytes, std::io::Error>>(64);
    tokio::spawn(async move {
        if tx.send(Ok(first)).await.is_err() {
            return;
        }
        while let Some(item) = rx.recv().await {
            let bytes = match item {
                Transfer::Line(b) => b,
                Transfer::Failed(e) => Bytes::from(
                    json!({"errorDetail": {"message": e.message}, "error": e.message}).to_string()
                        + "\r\n",
                ),
            };
            if tx.send(Ok(bytes)).await.is_err() {
                return;
            }
        }
    });
    builder(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(stream_body(out))
        .expect("valid reply")
}

pub async fn pull(engine: &Arc<Engine>, req: &Request<Incoming>, image: &str) -> Result {
    let q = Query::of(req);
    // No tag (or an empty one) with an untagged name means every tag, as in Docker: the
    // docker CLI's `pull -a` sends none.
    let tag = q.get("tag").unwrap_or_default();
    let rx = engine.pull_image(image, Some(tag), q.get("platform"), credentials(req))?;
    Ok(transfer_reply(rx).await)
}

pub async fn push(engine: &Arc<Engine>, req: &Request<Incoming>, name: &str) -> Result {
    let q = Query::of(req);
    let rx = engine.push_image(name, q.get("tag"), credentials(req))?;
    Ok(transfer_reply(rx).await)
}

/// `GET /images/search`.
pub async fn search(engine: &Engine, req: &Request<Incoming>) -> Result {
    let q = Query::of(req);
    let term = q.get("term").unwrap_or_default();
    if term.is_empty() {
        return Err(Error::invalid("a search term is required"));
    }
    let filters = berth_engine::filters::Filters::parse(
        q.get("filters"),
        berth_engine::images::registry::SEARCH_FILTERS,
    )?;
    let limit = match q.get("limit").filter(|l| !l.is_empty()) {
        Some(l) => Some(
            l.parse()
                .map_err(|_| Error::invalid(format!("invalid limit {l}")))?,
        ),
        None => None,
    };
    let found = engine
        .search_images(term, limit, &filters, credentials(req))
        .await?;
    Ok(json(StatusCode::OK, &serde_json::Value::Array(found)))
}

/// `POST /auth`.
pub async fn login(engine: &Engine, req: Request<Incoming>) -> Result {
    let body = json_body(req).await?;
    let username = body["username"].as_str().unwrap_or("");
    if username.is_empty() {
        return Err(Error::invalid("username is required"));
    }
    let creds = Credentials::new(username, body["password"].as_str().unwrap_or(""));
    engine
        .login(body["serveraddress"].as_str().unwrap_or(""), creds)
        .await?;
    Ok(json(
        StatusCode::OK,
        &json!({"Status": "Login Succeeded", "IdentityToken": ""}),
    ))
}
