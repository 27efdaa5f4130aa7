//! `/images/...` handlers.

use super::http::{Query, Reply, Result, body_reader, builder, json, stream_body};
use berth_engine::filters::Filters;
use berth_engine::images::views::FILTERS;
use berth_engine::{Engine, Error};
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde_json::json;

pub fn list(engine: &Engine, req: &Request<Incoming>) -> Result {
    let q = Query::of(req);
    let filters = Filters::parse(q.get("filters"), FILTERS)?;
    Ok(json(StatusCode::OK, &engine.list_images(&filters)?))
}

/// A JSON-lines progress stream, as Docker answers load and import.
fn json_lines(lines: &[serde_json::Value]) -> Reply {
    let mut body = Vec::new();
    for l in lines {
        serde_json::to_writer(&mut body, l).expect("serializable");
        body.push(b'\n');
    }
    builder(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(super::http::full(body))
        .expect("valid reply")
}

pub async fn load(engine: &Engine, req: Request<Incoming>) -> Result {
    let lines = engine.load_images(body_reader(req)).await?;
    let out: Vec<_> = lines
        .iter()
        .map(|l| json!({"stream": format!("{l}\n")}))
        .collect();
    Ok(json_lines(&out))
}

/// `GET /images/get?names=...` or `GET /images/{name}/get`.
pub async fn save(engine: &Engine, req: &Request<Incoming>, name: Option<&str>) -> Result {
    let names = match name {
        Some(n) => vec![n.to_string()],
        None => Query::of(req).all("names"),
    };
    if names.is_empty() {
        return Err(Error::invalid("no images named"));
    }
    let rx = engine.save_images(&names).await?;
    Ok(builder(StatusCode::OK)
        .header("Content-Type", "application/x-tar")
        .body(stream_body(rx))
        .expect("valid reply"))
}

/// `POST /images/create`: `fromSrc=-` imports the body; `fromImage` would pull.
pub async fn create(engine: &Engine, req: Request<Incoming>) -> Result {
    let q = Query::of(&req);
    if let Some(src) = q.get("fromSrc") {
        if src != "-" {
            return Err(Error::invalid(
                "importing from a URL is refused: berthd fetches nothing from the network; pipe the archive instead (fromSrc=-)",
            ));
        }
        let repo = q.get("repo").unwrap_or("").to_string();
        let reference = match q.get("tag").filter(|t| !t.is_empty()) {
            Some(tag) if !repo.is_empty() => format!("{repo}:{tag}"),
            _ => repo,
        };
        let changes = q.all("changes");
        let message = q.get("message").unwrap_or("").to_string();
        let id = engine
            .import_image(body_reader(req), Some(&reference), &changes, &message)
            .await?;
        return Ok(json_lines(&[json!({"status": id})]));
    }
    Err(Error::invalid("fromImage or fromSrc is required"))
}

/// Routes under `/images/{name}`, where the name itself may contain slashes.
pub async fn by_name(
    engine: &Engine,
    req: Request<Incoming>,
    method: &Method,
    rest: &str,
) -> Result {
    let action = |suffix: &str| rest.strip_suffix(suffix).filter(|n| !n.is_empty());
    match *method {
        Method::GET => {
            if let Some(name) = action("/json") {
                Ok(json(StatusCode::OK, &engine.inspect_image(name)?))
            } else if let Some(name) = action("/history") {
                Ok(json(StatusCode::OK, &engine.image_history(name)?))
            } else if let Some(name) = action("/get") {
                save(engine, &req, Some(name)).await
            } else {
                Err(Error::not_found(format!(
                    "page not found: GET /images/{rest}"
                )))
            }
        }
        Method::POST => match action("/tag") {
            Some(name) => {
                let q = Query::of(&req);
                let repo = q.get("repo").filter(|r| !r.is_empty()).ok_or_else(|| {
                    Error::invalid("repository name must have at least one component")
                })?;
                engine.tag_image(name, repo, q.get("tag")).await?;
                Ok(super::http::empty(StatusCode::CREATED))
            }
            None => Err(Error::not_found(format!(
                "page not found: POST /images/{rest}"
            ))),
        },
        Method::DELETE => {
            let q = Query::of(&req);
            Ok(json(
                StatusCode::OK,
                &engine.remove_image(rest, q.flag("force")).await?,
            ))
        }
        _ => Err(Error::not_found(format!(
            "page not found: {method} /images/{rest}"
        ))),
    }
}
