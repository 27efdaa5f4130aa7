//! Container filesystem handlers: `/changes`, `/export`, `/archive` (docker cp), `/commit`.

use super::http::{Query, Result, body_reader, builder, empty, json, stream_body};
use berth_engine::{Engine, Error};
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde_json::json;

/// `X-Docker-Container-Path-Stat`: the path's stat as base64 JSON.
fn stat_header(stat: &serde_json::Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(stat.to_string())
}

pub fn changes(engine: &Engine, id: &str) -> Result {
    Ok(json(StatusCode::OK, &engine.container_changes(id)?))
}

pub fn export(engine: &Engine, id: &str) -> Result {
    let rx = engine.export_container(id)?;
    Ok(builder(StatusCode::OK)
        .header("Content-Type", "application/x-tar")
        .body(stream_body(rx))
        .expect("valid reply"))
}

pub async fn archive(engine: &Engine, method: &Method, req: Request<Incoming>, id: &str) -> Result {
    let q = Query::of(&req);
    let path = q
        .get("path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Error::invalid("path is required"))?
        .to_string();
    match *method {
        Method::HEAD => {
            let stat = engine.stat_container_path(id, &path)?;
            Ok(builder(StatusCode::OK)
                .header("X-Docker-Container-Path-Stat", stat_header(&stat))
                .body(super::http::full(""))
                .expect("valid reply"))
        }
        Method::GET => {
            let (stat, rx) = engine.archive_container_path(id, &path)?;
            Ok(builder(StatusCode::OK)
                .header("Content-Type", "application/x-tar")
                .header("X-Docker-Container-Path-Stat", stat_header(&stat))
                .body(stream_body(rx))
                .expect("valid reply"))
        }
        _ => {
            engine
                .extract_into_container(id, &path, body_reader(req))
                .await?;
            Ok(empty(StatusCode::OK))
        }
    }
}

/// `POST /commit?container=&repo=&tag=&comment=&author=&changes=`.
pub async fn commit(engine: &Engine, req: &Request<Incoming>) -> Result {
    let q = Query::of(req);
    let container = q
        .get("container")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Error::invalid("container is required"))?;
    let repo = q.get("repo").unwrap_or("");
    let reference = match q.get("tag").filter(|t| !t.is_empty()) {
        Some(tag) if !repo.is_empty() => format!("{repo}:{tag}"),
        _ => repo.to_string(),
    };
    let id = engine
        .commit_container(
            container,
            Some(&reference),
            q.get("comment").unwrap_or(""),
            q.get("author").unwrap_or(""),
            &q.all("changes"),
        )
        .await?;
    Ok(json(StatusCode::CREATED, &json!({"Id": id})))
}
