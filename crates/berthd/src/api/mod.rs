//! The Engine API over HTTP/1.1 on a unix socket. Handlers only translate between HTTP and
//! engine calls; the engine decides.

mod build;
mod containers;
mod events;
mod filesystem;
mod hijack;
mod http;
mod images;
mod networks;
mod prune;
mod registry;
mod system;
mod volumes;

use anyhow::{Context, Result};
use berth_engine::Engine;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use tokio::net::UnixListener;

use http::Query;
pub use http::{Reply, error_reply};

/// The API version berthd speaks, and the oldest it still answers.
pub const API_VERSION: &str = "1.47";
pub const MIN_API_VERSION: &str = "1.24";

pub fn bind(socket: &Path) -> Result<UnixListener> {
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // A socket file left by a berthd that died is stale; one that answers is another daemon.
    if std::os::unix::net::UnixStream::connect(socket).is_ok() {
        anyhow::bail!("another daemon is listening on {}", socket.display());
    }
    let _ = std::fs::remove_file(socket);
    let listener =
        UnixListener::bind(socket).with_context(|| format!("binding {}", socket.display()))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o660))?;
    Ok(listener)
}

pub async fn serve(listener: UnixListener, engine: Arc<Engine>) -> Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let engine = engine.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let engine = engine.clone();
                async move { Ok::<_, std::convert::Infallible>(route(engine, req).await) }
            });
            let conn = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}

/// Splits `/v1.47/containers/json` into the version and the rest; refuses versions out of range.
fn strip_version(path: &str) -> Result<&str, berth_engine::Error> {
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok(path);
    };
    let (version, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let parse = |v: &str| -> Option<(u32, u32)> {
        let (major, minor) = v.split_once('.')?;
        Some((major.parse().ok()?, minor.parse().ok()?))
    };
    let Some(requested) = parse(version) else {
        return Ok(path);
    };
    let max = parse(API_VERSION).expect("valid constant");
    let min = parse(MIN_API_VERSION).expect("valid constant");
    if requested > max {
        return Err(berth_engine::Error::invalid(format!(
            "client version {version} is too new. Maximum supported API version is {API_VERSION}"
        )));
    }
    if requested < min {
        return Err(berth_engine::Error::invalid(format!(
            "client version {version} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
        )));
    }
    Ok(if tail.is_empty() { "/" } else { tail })
}

async fn route(engine: Arc<Engine>, req: Request<Incoming>) -> Reply {
    let method = req.method().clone();
    let full_path = req.uri().path().to_string();
    let path = match strip_version(&full_path) {
        Ok(p) => p.to_string(),
        Err(e) => return error_reply(&e),
    };
    tracing::debug!(%method, path = %full_path, "request");
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let result = match (&method, segments.as_slice()) {
        (&Method::GET | &Method::HEAD, ["_ping"]) => Ok(system::ping(&method)),
        (&Method::GET, ["version"]) => system::version().await,
        (&Method::GET, ["info"]) => system::info(&engine),

        (&Method::POST, ["build"]) => build::build(&engine, req).await,
        (&Method::POST, ["build", "prune"]) => build::prune(&engine, &req).await,

        (&Method::GET, ["images", "json"]) => images::list(&engine, &req),
        (&Method::GET, ["images", "search"]) => registry::search(&engine, &req).await,
        (&Method::POST, ["images", "load"]) => images::load(&engine, req).await,
        (&Method::GET, ["images", "get"]) => images::save(&engine, &req, None).await,
        (&Method::POST, ["images", "create"]) => {
            match Query::of(&req).get("fromImage").map(str::to_string) {
                Some(image) if !image.is_empty() => registry::pull(&engine, &req, &image).await,
                _ => images::create(&engine, req).await,
            }
        }
        (&Method::POST, ["auth"]) => registry::login(&engine, req).await,
        (&Method::POST, ["images", "prune"]) => prune::images(&engine, &req).await,
        (&Method::POST, ["images", ..]) if path.ends_with("/push") => {
            let name = path["/images/".len()..path.len() - "/push".len()].to_string();
            registry::push(&engine, &req, &name).await
        }
        (_, ["images", rest @ ..]) if !rest.is_empty() => {
            images::by_name(&engine, req, &method, &path["/images/".len()..]).await
        }

        (&Method::POST, ["containers", "create"]) => containers::create(&engine, req).await,
        (&Method::GET, ["containers", "json"]) => containers::list(&engine, &req),
        (&Method::DELETE, ["containers", id]) => containers::remove(&engine, &req, id).await,
        (&Method::GET, ["containers", id, "json"]) => containers::inspect(&engine, id),
        (&Method::GET, ["containers", id, "logs"]) => containers::logs(&engine, &req, id),
        (&Method::POST, ["containers", id, "start"]) => containers::start(&engine, id).await,
        (&Method::POST, ["containers", id, "stop"]) => containers::stop(&engine, &req, id).await,
        (&Method::POST, ["containers", id, "kill"]) => containers::kill(&engine, &req, id).await,
        (&Method::POST, ["containers", id, "wait"]) => containers::wait(&engine, &req, id),
        (&Method::POST, ["containers", id, "attach"]) => containers::attach(&engine, req, id),
        (&Method::POST, ["containers", id, "resize"]) => {
            containers::resize(&engine, &req, id).await
        }
        (&Method::POST, ["containers", id, "restart"]) => {
            containers::restart(&engine, &req, id).await
        }
        (&Method::POST, ["containers", id, "update"]) => containers::update(&engine, req, id).await,
        (&Method::POST, ["containers", id, "rename"]) => {
            containers::rename(&engine, &req, id).await
        }
        (&Method::GET, ["containers", id, "top"]) => containers::top(&engine, &req, id).await,
        (&Method::POST, ["containers", id, "pause"]) => containers::pause(&engine, id, true).await,
        (&Method::POST, ["containers", id, "unpause"]) => {
            containers::pause(&engine, id, false).await
        }
        (&Method::GET, ["containers", id, "stats"]) => containers::stats(&engine, &req, id).await,
        (&Method::GET, ["events"]) => events::stream(&engine, &req),
        (&Method::POST, ["containers", id, "exec"]) => {
            containers::create_exec(&engine, req, id).await
        }
        (&Method::POST, ["exec", id, "start"]) => containers::start_exec(&engine, req, id).await,
        (&Method::GET, ["exec", id, "json"]) => containers::inspect_exec(&engine, id).await,
        (&Method::POST, ["exec", id, "resize"]) => containers::resize_exec(&engine, &req, id).await,
        (&Method::GET, ["containers", id, "changes"]) => filesystem::changes(&engine, id),
        (&Method::GET, ["containers", id, "export"]) => filesystem::export(&engine, id),
        (&Method::GET | &Method::HEAD | &Method::PUT, ["containers", id, "archive"]) => {
            let id = id.to_string();
            filesystem::archive(&engine, &method, req, &id).await
        }
        (&Method::POST, ["commit"]) => filesystem::commit(&engine, &req).await,
        (&Method::POST, ["containers", "prune"]) => prune::containers(&engine, &req).await,
        (&Method::GET, ["system", "df"]) => prune::system_df(&engine),
        (&Method::GET, ["networks"]) => networks::list(&engine, &req),
        (&Method::POST, ["networks", "create"]) => networks::create(&engine, req).await,
        (&Method::POST, ["networks", "prune"]) => networks::prune(&engine, &req).await,
        (&Method::GET, ["networks", id]) => networks::inspect(&engine, id),
        (&Method::DELETE, ["networks", id]) => networks::remove(&engine, id).await,
        (&Method::POST, ["networks", id, "connect"]) => {
            let id = id.to_string();
            networks::connect(&engine, req, &id, true).await
        }
        (&Method::POST, ["networks", id, "disconnect"]) => {
            let id = id.to_string();
            networks::connect(&engine, req, &id, false).await
        }
        (&Method::GET, ["volumes"]) => volumes::list(&engine, &req),
        (&Method::POST, ["volumes", "create"]) => volumes::create(&engine, req).await,
        (&Method::POST, ["volumes", "prune"]) => volumes::prune(&engine, &req).await,
        (&Method::GET, ["volumes", name]) => volumes::inspect(&engine, name),
        (&Method::DELETE, ["volumes", name]) => volumes::remove(&engine, &req, name).await,
        _ => Err(berth_engine::Error::not_found(format!(
            "page not found: {method} {full_path}"
        ))),
    };
    result.unwrap_or_else(|e| error_reply(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_negotiated() {
        assert_eq!(
            strip_version("/v1.47/containers/json").unwrap(),
            "/containers/json"
        );
        assert_eq!(strip_version("/v1.24/_ping").unwrap(), "/_ping");
        assert_eq!(
            strip_version("/containers/json").unwrap(),
            "/containers/json"
        );
        let e = strip_version("/v1.50/version").unwrap_err();
        assert_eq!(
            e.message,
            "client version 1.50 is too new. Maximum supported API version is 1.47"
        );
        assert!(
            strip_version("/v1.12/version")
                .unwrap_err()
                .message
                .contains("too old")
        );
    }
}
