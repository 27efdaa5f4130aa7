//! `POST /build` (the classic builder: the body is the context tar, the answer a stream of
//! JSON messages) and `POST /build/prune`.

use super::http::{Query, Reply, Result, body_reader, builder, error_reply, json, stream_body};
use berth_engine::build::{BuildEvent, BuildOptions, Secrets};
use berth_engine::filters::Filters;
use berth_engine::{Engine, Error};
use berth_registry::Credentials;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// A JSON object parameter (`buildargs`, `labels`); absent or empty is an empty map.
fn object_param(q: &Query, key: &str) -> Result<serde_json::Map<String, Value>> {
    match q.get(key).filter(|v| !v.is_empty()) {
        None => Ok(serde_json::Map::new()),
        Some(raw) => match serde_json::from_str(raw) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(Value::Null) => Ok(serde_json::Map::new()),
            _ => Err(Error::invalid(format!("invalid {key} parameter: {raw}"))),
        },
    }
}

fn options(q: &Query) -> Result<BuildOptions> {
    if q.get("version") == Some("2") {
        return Err(Error::invalid(
            "BuildKit is not supported by berth: build with DOCKER_BUILDKIT=0",
        ));
    }
    if q.get("remote").is_some_and(|r| !r.is_empty()) {
        return Err(Error::invalid(
            "remote build contexts are not supported by berth: send the context as the body",
        ));
    }
    let string_map = |key: &str| -> Result<BTreeMap<String, Option<String>>> {
        object_param(q, key)?
            .into_iter()
            .map(|(k, v)| match v {
                Value::Null => Ok((k, None)),
                Value::String(s) => Ok((k, Some(s))),
                other => Err(Error::invalid(format!(
                    "invalid {key} parameter: {k} is {other}, not a string"
                ))),
            })
            .collect()
    };
    // The temporary directory is the engine's to choose.
    let mut o = BuildOptions::new(Default::default());
    if let Some(d) = q.get("dockerfile").filter(|d| !d.is_empty()) {
        o.dockerfile = d.to_string();
    }
    o.tags = q.all("t").into_iter().filter(|t| !t.is_empty()).collect();
    o.build_args = string_map("buildargs")?;
    o.labels = string_map("labels")?
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect();
    o.target = q
        .get("target")
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    o.no_cache = q.flag("nocache");
    o.pull = q.flag("pull");
    o.quiet = q.flag("q");
    o.force_remove = q.flag("forcerm");
    // Docker removes intermediate containers unless `rm` is given and false.
    o.remove = o.force_remove || q.get("rm").is_none_or(|v| v.is_empty()) || q.flag("rm");
    if let Some(m) = q.get("networkmode").filter(|m| !m.is_empty()) {
        o.network_mode = m.to_string();
    }
    o.platform = q
        .get("platform")
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    Ok(o)
}

/// `X-Registry-Config`: base64url JSON `{"<registry>": {"username", "password"}, ...}`.
fn registry_config(req: &Request<Incoming>) -> Vec<(String, Credentials)> {
    use base64::Engine as _;
    let Some(raw) = req
        .headers()
        .get("X-Registry-Config")
        .and_then(|v| v.to_str().ok())
    else {
        return Vec::new();
    };
    let engines = [
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let Some(Value::Object(map)) = engines
        .iter()
        .find_map(|e| e.decode(raw.trim()).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
    else {
        return Vec::new();
    };
    map.into_iter()
        .filter_map(|(registry, auth)| {
            let user = auth["username"].as_str().filter(|u| !u.is_empty())?;
            let password = auth["password"].as_str().unwrap_or("");
            Some((registry, Credentials::new(user, password)))
        })
        .collect()
}

/// `X-Berth-Build-Secrets` (berth's own extension; the classic `/build` API has no secrets):
/// base64 of a JSON object mapping each secret id to its value in base64. `berth build
/// --secret` sends it over the local socket (the only one berthd listens on); Docker's CLI
/// never does. The values are never logged.
pub(crate) const SECRETS_HEADER: &str = "X-Berth-Build-Secrets";

fn secrets(req: &Request<Incoming>) -> Result<Secrets> {
    use base64::Engine as _;
    let mut secrets = Secrets::default();
    let Some(raw) = req.headers().get(SECRETS_HEADER) else {
        return Ok(secrets);
    };
    let invalid = || Error::invalid(format!("invalid {SECRETS_HEADER} header"));
    let b64 = base64::engine::general_purpose::STANDARD;
    let json = b64
        .decode(raw.as_bytes().trim_ascii())
        .map_err(|_| invalid())?;
    let map: BTreeMap<String, String> = serde_json::from_slice(&json).map_err(|_| invalid())?;
    for (id, value) in map {
        secrets.insert(id, b64.decode(value).map_err(|_| invalid())?);
    }
    Ok(secrets)
}

fn message(v: Value) -> Bytes {
    Bytes::from(v.to_string() + "\r\n")
}

fn event_message(event: BuildEvent) -> Bytes {
    match event {
        BuildEvent::Stream(text) => message(json!({ "stream": text })),
        BuildEvent::Built(id) => message(json!({"aux": {"ID": id}})),
        BuildEvent::Failed(e) => {
            message(json!({"errorDetail": {"message": e.message}, "error": e.message}))
        }
    }
}

pub async fn build(engine: &Arc<Engine>, req: Request<Incoming>) -> Result {
    let mut options = options(&Query::of(&req))?;
    options.secrets = secrets(&req)?;
    let credentials = registry_config(&req);
    let mut rx = engine.build_image(body_reader(req), options, credentials)?;
    // A build that fails before its first line (a bad context or Dockerfile) is an HTTP error.
    let first = match rx.recv().await {
        Some(BuildEvent::Failed(e)) => return Ok(error_reply(&e)),
        Some(event) => event_message(event),
        None => return Err(Error::internal("the build ended without a result")),
    };
    let (tx, out) = mpsc::channel::<std::result::Result<Bytes, std::io::Error>>(64);
    // Ends (dropping `rx`, which cancels the build) as soon as the client is gone, even
    // while the build is silent (a long RUN).
    tokio::spawn(async move {
        if tx.send(Ok(first)).await.is_err() {
            return;
        }
        loop {
            let event = tokio::select! {
                event = rx.recv() => event,
                () = tx.closed() => return,
            };
            let Some(event) = event else { return };
            if tx.send(Ok(event_message(event))).await.is_err() {
                return;
            }
        }
    });
    Ok(builder(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(stream_body(out))
        .expect("valid reply"))
}

/// `POST /build/prune`: `all` changes nothing (no cached step is ever in use between builds).
pub async fn prune(engine: &Engine, req: &Request<Incoming>) -> Result<Reply> {
    let q = Query::of(req);
    let filters = Filters::parse(q.get("filters"), &["until", "unused-for", "label"])?;
    let keep = q
        .int("keep-storage")?
        .or(q.int("reserved-space")?)
        .unwrap_or(0);
    let keep =
        u64::try_from(keep).map_err(|_| Error::invalid("keep-storage must not be negative"))?;
    Ok(json(
        StatusCode::OK,
        &engine.prune_build_cache(&filters, keep).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(q: &str) -> Query {
        Query::of(&hyper::Request::get(format!("/build?{q}")).body(()).unwrap())
    }

    #[test]
    fn docker_cli_parameters_become_options() {
        let o = options(&query(
            "t=a&t=b%3A1&dockerfile=sub%2FDf&buildargs=%7B%22X%22%3A%221%22%2C%22Y%22%3Anull%7D&nocache=1&rm=0&q=1",
        ))
        .unwrap();
        assert_eq!(o.tags, ["a", "b:1"]);
        assert_eq!(o.dockerfile, "sub/Df");
        assert_eq!(o.build_args["X"].as_deref(), Some("1"));
        assert_eq!(o.build_args["Y"], None);
        assert!(o.no_cache && o.quiet && !o.remove);
        assert!(options(&query("")).unwrap().remove);
        assert!(options(&query("buildargs=%5B1%5D")).is_err());
        assert!(options(&query("version=2")).is_err());
    }
}
