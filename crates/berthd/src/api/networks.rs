//! `/networks/...` handlers.

use super::http::{Query, Result, empty, json, json_body};
use berth_engine::Engine;
use berth_engine::filters::Filters;
use berth_engine::networks::{LIST_FILTERS, PRUNE_FILTERS};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};

pub fn list(engine: &Engine, req: &Request<Incoming>) -> Result {
    let filters = Filters::parse(Query::of(req).get("filters"), LIST_FILTERS)?;
    Ok(json(StatusCode::OK, &engine.list_networks(&filters)?))
}

pub async fn create(engine: &Engine, req: Request<Incoming>) -> Result {
    let body = json_body(req).await?;
    Ok(json(
        StatusCode::CREATED,
        &engine.create_network(&body).await?,
    ))
}

pub fn inspect(engine: &Engine, id: &str) -> Result {
    Ok(json(StatusCode::OK, &engine.inspect_network(id)?))
}

pub async fn remove(engine: &Engine, id: &str) -> Result {
    engine.remove_network(id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn prune(engine: &Engine, req: &Request<Incoming>) -> Result {
    let filters = Filters::parse(Query::of(req).get("filters"), PRUNE_FILTERS)?;
    Ok(json(
        StatusCode::OK,
        &engine.prune_networks(&filters).await?,
    ))
}

/// `POST /networks/{id}/connect` and `/disconnect`.
pub async fn connect(engine: &Engine, req: Request<Incoming>, id: &str, connect: bool) -> Result {
    let body = json_body(req).await?;
    let container = body["Container"].as_str().unwrap_or("").to_string();
    if connect {
        engine
            .connect_network(id, &container, &body["EndpointConfig"])
            .await?;
    } else {
        engine.disconnect_network(id, &container).await?;
    }
    Ok(empty(StatusCode::OK))
}
