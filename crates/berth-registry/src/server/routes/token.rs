//! Token authentication at the edge: `GET /token` (the token service's endpoint) and the check
//! of every other request's Bearer token against the scope its route needs.
//!
//! A request without a valid token gets `401 UNAUTHORIZED` and a `Bearer` challenge naming the
//! scope it needs. One whose token lacks that scope gets the same when the token is anonymous
//! (logging in may help), `403 DENIED` when a user's (it will not).

use std::time::SystemTime;

use hyper::header::{AUTHORIZATION, HOST, HeaderMap, WWW_AUTHENTICATE};
use hyper::{Method, StatusCode};
use serde_json::json;

use crate::server::access::{Action, CATALOG, REGISTRY, REPOSITORY, Scope};
use crate::server::error::{ApiError, ApiResult, Code};
use crate::server::response::Reply;
use crate::server::routes::{Caller, Endpoint, Query, Route, State};
use crate::server::token::{SERVICE, TokenService};

/// Where the token service answers, on the registry's own address.
pub(super) const PATH: &str = "/token";

/// `GET /token?service=…&scope=…[&scope=…]`, with Basic credentials or anonymous.
pub(super) async fn issue(
    service: &TokenService,
    query: &Query,
    headers: &HeaderMap,
) -> ApiResult<Reply> {
    if let Some(requested) = query.get("service")
        && requested != SERVICE
    {
        return Err(ApiError::new(
            Code::Unsupported,
            format!("this token service is for {SERVICE:?}, not {requested:?}"),
        )
        .with_status(StatusCode::BAD_REQUEST));
    }
    // Scopes come as repeated parameters, or several in one separated by spaces.
    let scopes: Vec<Scope> = query
        .all("scope")
        .flat_map(str::split_whitespace)
        .filter_map(Scope::parse)
        .collect();
    let issued = service
        .issue(headers.get(AUTHORIZATION), &scopes)
        .await
        .ok_or_else(|| ApiError::new(Code::Unauthorized, "invalid username or password"))?;
    Ok(Reply::json(&json!({
        "token": issued.token,
        "access_token": issued.token,
        "expires_in": issued.expires_in,
    })))
}

/// What a request needs its token to allow.
struct Needed {
    resource_type: &'static str,
    name: String,
    action: &'static str,
    /// The scope to name in a challenge.
    scope: Scope,
}

/// The access `route` needs for `method`; `None` for the base endpoint, which only needs a
/// valid token (it is how clients check their login).
fn needed(route: &Route, method: &Method) -> Option<Needed> {
    let (name, endpoint) = match route {
        Route::Base => return None,
        Route::Catalog | Route::Search => {
            return Some(Needed {
                resource_type: REGISTRY,
                name: CATALOG.to_owned(),
                action: "*",
                scope: Scope::catalog(),
            });
        }
        Route::Repository(name, endpoint) => (name, endpoint),
    };
    let action = match (endpoint, method) {
        // Every step of an upload, its status included, is part of a push.
        (Endpoint::Uploads | Endpoint::Upload(_), _) => Action::Push,
        (_, &Method::GET | &Method::HEAD) => Action::Pull,
        (_, &Method::DELETE) => Action::Delete,
        _ => Action::Push,
    };
    // A push also reads (which blobs exist, the manifest it replaces): ask for both, as
    // distribution's challenges do.
    let scope = match action {
        Action::Push => Scope::repository(name, &[Action::Pull, Action::Push]),
        action => Scope::repository(name, &[action]),
    };
    Some(Needed {
        resource_type: REPOSITORY,
        name: name.as_str().to_owned(),
        action: action.as_str(),
        scope,
    })
}

/// Checks the request's Bearer token for what `route` needs.
pub(super) fn authorize(
    state: &State,
    service: &TokenService,
    route: &Route,
    method: &Method,
    headers: &HeaderMap,
) -> ApiResult<Caller> {
    let needed = needed(route, method);
    let scope = needed.as_ref().map(|needed| &needed.scope);
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let Some(bearer) = bearer else {
        return Err(unauthorized(state, headers, scope, None));
    };
    let Some(claims) = service.verify(bearer, SystemTime::now()) else {
        return Err(unauthorized(state, headers, scope, Some("invalid_token")));
    };
    if let Some(needed) = &needed
        && !claims.allows(needed.resource_type, &needed.name, needed.action)
    {
        if claims.user().is_none() {
            return Err(unauthorized(
                state,
                headers,
                scope,
                Some("insufficient_scope"),
            ));
        }
        return Err(
            ApiError::new(Code::Denied, "requested access to the resource is denied").with_detail(
                json!([{
                    "Type": needed.resource_type,
                    "Name": needed.name,
                    "Action": needed.action,
                }]),
            ),
        );
    }
    Ok(Caller::Token(claims))
}

fn unauthorized(
    state: &State,
    headers: &HeaderMap,
    scope: Option<&Scope>,
    error: Option<&str>,
) -> ApiError {
    let mut challenge = format!(
        "Bearer realm=\"{}://{}{PATH}\",service=\"{SERVICE}\"",
        state.scheme,
        host(state, headers)
    );
    if let Some(scope) = scope {
        challenge.push_str(&format!(",scope=\"{scope}\""));
    }
    if let Some(error) = error {
        challenge.push_str(&format!(",error=\"{error}\""));
    }
    ApiError::new(Code::Unauthorized, "authentication required")
        .with_header(WWW_AUTHENTICATE, challenge)
}

/// The host the client reached the registry by, so that the realm is on the same address; the
/// bound address if the `Host` header is missing or holds more than a host and port.
fn host(state: &State, headers: &HeaderMap) -> String {
    headers
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| {
            !host.is_empty()
                && host.len() <= 261
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .map_or_else(|| state.addr.to_string(), str::to_owned)
}
