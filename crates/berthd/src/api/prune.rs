//! `/containers/prune`, `/images/prune` and `/system/df`.

use super::http::{Query, Result, json};
use berth_engine::Engine;
use berth_engine::filters::Filters;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};

pub async fn containers(engine: &Engine, req: &Request<Incoming>) -> Result {
    let filters = Filters::parse(Query::of(req).get("filters"), &["label", "until"])?;
    Ok(json(
        StatusCode::OK,
        &engine.prune_containers(&filters).await?,
    ))
}

pub async fn images(engine: &Engine, req: &Request<Incoming>) -> Result {
    let filters = Filters::parse(
        Query::of(req).get("filters"),
        &["dangling", "label", "until"],
    )?;
    Ok(json(StatusCode::OK, &engine.prune_images(&filters).await?))
}

pub fn system_df(engine: &Engine) -> Result {
    Ok(json(StatusCode::OK, &engine.disk_usage()?))
}
