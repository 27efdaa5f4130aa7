//! `/volumes/...` handlers.

use super::http::{Query, Result, empty, json, json_body};
use berth_engine::filters::Filters;
use berth_engine::volumes::{LIST_FILTERS, PRUNE_FILTERS};
use berth_engine::{Engine, Error};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::Map;

pub fn list(engine: &Engine, req: &Request<Incoming>) -> Result {
    let filters = Filters::parse(Query::of(req).get("filters"), LIST_FILTERS)?;
    Ok(json(StatusCode::OK, &engine.list_volumes(&filters)?))
}

pub async fn create(engine: &Engine, req: Request<Incoming>) -> Result {
    let body = json_body(req).await?;
    if !body.is_null() && !body.is_object() {
        return Err(Error::invalid(
            "the volume configuration must be a JSON object",
        ));
    }
    let map = |key: &str| body[key].as_object().cloned().unwrap_or_else(Map::new);
    let volume = engine
        .create_volume(
            body["Name"].as_str(),
            body["Driver"].as_str(),
            &map("DriverOpts"),
            &map("Labels"),
        )
        .await?;
    Ok(json(StatusCode::CREATED, &volume))
}

pub fn inspect(engine: &Engine, name: &str) -> Result {
    Ok(json(StatusCode::OK, &engine.inspect_volume(name)?))
}

pub async fn remove(engine: &Engine, req: &Request<Incoming>, name: &str) -> Result {
    engine
        .remove_volume(name, Query::of(req).flag("force"))
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn prune(engine: &Engine, req: &Request<Incoming>) -> Result {
    let filters = Filters::parse(Query::of(req).get("filters"), PRUNE_FILTERS)?;
    Ok(json(StatusCode::OK, &engine.prune_volumes(&filters).await?))
}
