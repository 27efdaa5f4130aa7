//! The distribution API: authentication, then routing by path and method to the handlers of
//! [`blobs`], [`uploads`], [`manifests`] and [`lists`]; with token authentication, the token
//! service's endpoint and the scope checks of [`token`].
//!
//! Repository names contain `/`, so an endpoint is recognised by the end of the path
//! (`…/blobs/<digest>`, `…/manifests/<reference>`, …) and everything before it is the name.
//! The path is used as sent, never percent-decoded: a name is checked against the repository
//! grammar, which has no `%`, `.`/`..` components or empty ones.

mod blobs;
mod lists;
mod manifests;
mod token;
mod uploads;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};

use crate::server::access::{Action, REPOSITORY};
use crate::server::auth::Htpasswd;
use crate::server::error::{ApiError, ApiResult, Code};
use crate::server::names::RepoName;
use crate::server::response::{Body, Reply, header};
use crate::server::storage::Storage;
use crate::server::token::{Claims, TokenService};
use crate::server::uploads::Uploads;

/// What every request handler shares.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) storage: Storage,
    pub(crate) uploads: Uploads,
    pub(crate) auth: Option<Auth>,
    /// `http` or `https`, and the address bound: where the token service's realm is when a
    /// request names no `Host`.
    pub(crate) scheme: &'static str,
    pub(crate) addr: SocketAddr,
}

/// How requests are authenticated.
#[derive(Debug)]
pub(crate) enum Auth {
    /// Every request carries Basic credentials of the htpasswd file.
    Basic(Htpasswd),
    /// Requests carry Bearer tokens of the built-in token service.
    Token(TokenService),
}

/// Whom a request comes from, as far as access goes.
#[derive(Debug)]
pub(crate) enum Caller {
    /// No authentication configured, or Basic credentials that passed: anything goes.
    Trusted,
    /// A verified token: what its claims allow.
    Token(Claims),
}

impl Caller {
    pub(crate) fn may(&self, name: &RepoName, action: Action) -> bool {
        match self {
            Caller::Trusted => true,
            Caller::Token(claims) => claims.allows(REPOSITORY, name.as_str(), action.as_str()),
        }
    }
}

/// The endpoint a path names.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    /// `/v2/`
    Base,
    /// `/v2/_catalog`
    Catalog,
    /// `/v1/search`: Docker's search API (`docker search`), answered from the catalog.
    Search,
    Repository(RepoName, Endpoint),
}

/// An endpoint under `/v2/<name>/`.
#[derive(Debug, PartialEq, Eq)]
enum Endpoint {
    /// `tags/list`
    Tags,
    /// `manifests/<reference>`
    Manifest(String),
    /// `blobs/<digest>`
    Blob(String),
    /// `blobs/uploads/`
    Uploads,
    /// `blobs/uploads/<id>`
    Upload(String),
    /// `referrers/<digest>`
    Referrers(String),
}

impl Route {
    fn parse(path: &str) -> ApiResult<Self> {
        let not_found = || {
            ApiError::new(Code::Unsupported, "no such endpoint").with_status(StatusCode::NOT_FOUND)
        };
        let rest = match path {
            "/v2" | "/v2/" => return Ok(Route::Base),
            "/v2/_catalog" => return Ok(Route::Catalog),
            "/v1/search" => return Ok(Route::Search),
            _ => path.strip_prefix("/v2/").ok_or_else(not_found)?,
        };
        let segments: Vec<&str> = rest.split('/').collect();
        let (tail, endpoint) = match segments.as_slice() {
            [.., "blobs", "uploads", ""] => (3, Endpoint::Uploads),
            [.., "blobs", "uploads"] => (2, Endpoint::Uploads),
            [.., "blobs", "uploads", id] => (3, Endpoint::Upload((*id).to_owned())),
            [.., "blobs", digest] => (2, Endpoint::Blob((*digest).to_owned())),
            [.., "manifests", reference] => (2, Endpoint::Manifest((*reference).to_owned())),
            [.., "tags", "list"] => (2, Endpoint::Tags),
            [.., "referrers", digest] => (2, Endpoint::Referrers((*digest).to_owned())),
            _ => return Err(not_found()),
        };
        let name = &segments[..segments.len() - tail];
        if name.is_empty() {
            return Err(not_found());
        }
        Ok(Route::Repository(
            RepoName::parse(&name.join("/"))?,
            endpoint,
        ))
    }
}

/// The query parameters of a request, decoded.
#[derive(Debug, Default)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    fn parse(query: Option<&str>) -> Self {
        let pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes());
        Self(pairs.into_owned().collect())
    }

    /// The first value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.all(key).next()
    }

    /// Every value of `key`, in order.
    pub(crate) fn all(&self, key: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }
}

/// The health check: no authentication, 200 while the storage can be read, else 503.
pub(crate) const HEALTH_PATH: &str = "/health";

/// Answers one request from `peer`, and logs it in the access log (target
/// `berth_registry::access`, level info); every answer carries
/// `Docker-Distribution-API-Version`.
pub(crate) async fn handle(
    state: Arc<State>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let agent = request
        .headers()
        .get(hyper::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let mut response = if path == HEALTH_PATH {
        health(&state).await
    } else {
        dispatch(&state, request)
            .await
            .unwrap_or_else(ApiError::into_response)
    };
    response.headers_mut().insert(
        header::API_VERSION,
        HeaderValue::from_static("registry/2.0"),
    );
    tracing::info!(
        target: "berth_registry::access",
        "{peer} \"{method} {path}\" {} {}ms \"{agent}\"",
        response.status().as_u16(),
        started.elapsed().as_millis()
    );
    Ok(response)
}

/// `GET /health`: whether the storage directory is there to serve from.
async fn health(state: &State) -> Response<Body> {
    match tokio::fs::read_dir(state.storage.root()).await {
        Ok(_) => Reply::json(&serde_json::json!({"status": "ok"})).build(),
        Err(e) => {
            let error = format!("storage: {e}");
            let body = serde_json::json!({"status": "unavailable", "error": error});
            let mut response = Reply::json(&body).build();
            *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            response
        }
    }
}

async fn dispatch(state: &State, request: Request<Incoming>) -> ApiResult<Response<Body>> {
    if let Some(Auth::Basic(htpasswd)) = &state.auth
        && htpasswd
            .authenticate(request.headers().get(AUTHORIZATION))
            .await
            .is_none()
    {
        return Err(ApiError::new(Code::Unauthorized, "authentication required")
            .with_header(WWW_AUTHENTICATE, r#"Basic realm="berth""#));
    }
    let query = Query::parse(request.uri().query());
    let method = request.method().clone();
    if let Some(Auth::Token(service)) = &state.auth
        && request.uri().path() == token::PATH
    {
        return match method {
            Method::GET => Ok(token::issue(service, &query, request.headers())
                .await?
                .build()),
            method => Err(method_not_allowed(&method)),
        };
    }
    let route = Route::parse(request.uri().path())?;
    let caller = match &state.auth {
        Some(Auth::Token(service)) => {
            token::authorize(state, service, &route, &method, request.headers())?
        }
        _ => Caller::Trusted,
    };
    let head = method == Method::HEAD;
    let reply = match (route, method) {
        (Route::Base, Method::GET | Method::HEAD) => Reply::json(&serde_json::json!({})),
        (Route::Catalog, Method::GET) => lists::catalog(state, &caller, &query).await?,
        (Route::Search, Method::GET) => lists::search(state, &caller, &query).await?,
        (Route::Repository(name, endpoint), method) => match (endpoint, method) {
            (Endpoint::Tags, Method::GET) => lists::tags(state, &name, &query).await?,
            (Endpoint::Referrers(digest), Method::GET) => {
                lists::referrers(state, &name, &digest, &query).await?
            }
            (Endpoint::Manifest(reference), Method::GET | Method::HEAD) => {
                manifests::get(state, &name, &reference, head).await?
            }
            (Endpoint::Manifest(reference), Method::PUT) => {
                manifests::put(state, &name, &reference, request).await?
            }
            (Endpoint::Manifest(reference), Method::DELETE) => {
                manifests::delete(state, &name, &reference).await?
            }
            (Endpoint::Blob(digest), Method::GET | Method::HEAD) => {
                blobs::get(state, &name, &digest, request.headers(), head).await?
            }
            (Endpoint::Blob(digest), Method::DELETE) => {
                blobs::delete(state, &name, &digest).await?
            }
            (Endpoint::Uploads, Method::POST) => {
                uploads::post(state, &caller, &name, &query, request).await?
            }
            (Endpoint::Upload(id), Method::GET) => uploads::status(state, &name, &id).await?,
            (Endpoint::Upload(id), Method::PATCH) => {
                uploads::patch(state, &name, &id, request).await?
            }
            (Endpoint::Upload(id), Method::PUT) => {
                uploads::put(state, &name, &id, &query, request).await?
            }
            (Endpoint::Upload(id), Method::DELETE) => uploads::delete(state, &name, &id).await?,
            (_, method) => return Err(method_not_allowed(&method)),
        },
        (_, method) => return Err(method_not_allowed(&method)),
    };
    Ok(reply.build())
}

fn method_not_allowed(method: &Method) -> ApiError {
    ApiError::new(
        Code::Unsupported,
        format!("{method} is not supported on this endpoint"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repository(path: &str) -> (String, Endpoint) {
        match Route::parse(path).unwrap() {
            Route::Repository(name, endpoint) => (name.as_str().to_owned(), endpoint),
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn routes_by_the_end_of_the_path() {
        assert_eq!(Route::parse("/v2/").unwrap(), Route::Base);
        assert_eq!(Route::parse("/v2").unwrap(), Route::Base);
        assert_eq!(Route::parse("/v2/_catalog").unwrap(), Route::Catalog);
        let d = format!("sha256:{}", "a".repeat(64));
        for (path, name, endpoint) in [
            ("/v2/a/b/tags/list", "a/b", Endpoint::Tags),
            (
                "/v2/a/manifests/latest",
                "a",
                Endpoint::Manifest("latest".into()),
            ),
            (&format!("/v2/a/blobs/{d}"), "a", Endpoint::Blob(d.clone())),
            ("/v2/a/blobs/uploads/", "a", Endpoint::Uploads),
            ("/v2/a/blobs/uploads", "a", Endpoint::Uploads),
            (
                "/v2/a/blobs/uploads/x-y",
                "a",
                Endpoint::Upload("x-y".into()),
            ),
            (
                &format!("/v2/a/referrers/{d}"),
                "a",
                Endpoint::Referrers(d.clone()),
            ),
            // Names that contain endpoint words.
            (
                &format!("/v2/x/blobs/blobs/{d}"),
                "x/blobs",
                Endpoint::Blob(d.clone()),
            ),
            ("/v2/tags/list/tags/list", "tags/list", Endpoint::Tags),
            (
                "/v2/manifests/manifests/v1",
                "manifests",
                Endpoint::Manifest("v1".into()),
            ),
            (
                "/v2/blobs/uploads/blobs/uploads/",
                "blobs/uploads",
                Endpoint::Uploads,
            ),
        ] {
            assert_eq!(repository(path), (name.to_owned(), endpoint), "{path}");
        }
    }

    #[test]
    fn refuses_traversal_and_unknown_paths() {
        for (path, code) in [
            ("/v2/../manifests/latest", Code::NameInvalid),
            ("/v2/a/../../manifests/latest", Code::NameInvalid),
            ("/v2/%2e%2e/manifests/latest", Code::NameInvalid),
            ("/v2/a%2f..%2f../manifests/latest", Code::NameInvalid),
            ("/v2//a/manifests/latest", Code::NameInvalid),
            ("/v2/A/tags/list", Code::NameInvalid),
            ("/v2/manifests/latest", Code::Unsupported),
            ("/v2/a/tags/list/", Code::Unsupported),
            ("/v2/a", Code::Unsupported),
            ("/v1/_ping", Code::Unsupported),
            ("/", Code::Unsupported),
        ] {
            assert_eq!(Route::parse(path).unwrap_err().code(), code, "{path}");
        }
    }

    #[test]
    fn query_values_are_decoded() {
        let query = Query::parse(Some("digest=sha256%3Aab&from=a%2Fb&n=1&n=2"));
        assert_eq!(query.get("digest"), Some("sha256:ab"));
        assert_eq!(query.get("from"), Some("a/b"));
        assert_eq!(query.get("n"), Some("1"));
        assert_eq!(query.get("last"), None);
    }
}
