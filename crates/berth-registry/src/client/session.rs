//! One operation's conversation with one registry: its base URL, credentials and the scopes it
//! needs, the challenge the registry answered with and the token that satisfies it.

use std::io::Read;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use serde::Deserialize;
use ureq::http::{self, Method, Response, StatusCode};
use ureq::{Body, SendBody};

use crate::client::Client;
use crate::client::auth::{Challenge, Credentials, Token, TokenResponse};
use crate::client::error::{Error, Result};
use crate::client::reference::api_host;

/// Error bodies and token answers are small; more is not read.
const SMALL_BODY_LIMIT: u64 = 64 * 1024;

/// What a request sends.
pub(crate) enum Payload<'a> {
    Empty,
    /// Sent with its length; can be sent again after a challenge.
    Bytes(&'a [u8]),
    /// Streamed (chunked); sent once, so the session must be authenticated beforehand.
    Stream(&'a mut dyn Read),
}

/// A request to the registry.
pub(crate) struct Call<'a> {
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Payload<'a>,
}

impl<'a> Call<'a> {
    pub(crate) fn new(method: Method, url: String) -> Self {
        Self {
            method,
            url,
            headers: Vec::new(),
            body: Payload::Empty,
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn body(mut self, body: Payload<'a>) -> Self {
        self.body = body;
        self
    }
}

#[derive(Default)]
struct AuthState {
    challenge: Option<Challenge>,
    token: Option<Token>,
}

pub(crate) struct Session<'c> {
    client: &'c Client,
    /// The registry as references name it (`docker.io`, `localhost:5000`).
    pub(crate) registry: String,
    /// `scheme://host` of its API.
    origin: String,
    credentials: Option<&'c Credentials>,
    /// Token scopes the operation needs (`repository:library/busybox:pull`).
    scopes: Vec<String>,
    auth: Mutex<AuthState>,
}

impl<'c> Session<'c> {
    pub(crate) fn new(
        client: &'c Client,
        registry: &str,
        credentials: Option<&'c Credentials>,
        scopes: Vec<String>,
    ) -> Self {
        let host = api_host(registry);
        let scheme = if client.insecure.allows(host) {
            "http"
        } else {
            "https"
        };
        Self::at_origin(
            client,
            registry,
            format!("{scheme}://{host}"),
            credentials,
            scopes,
        )
    }

    /// A session with the API at `origin` (`scheme://host[:port]`), such as a mirror of
    /// Docker Hub, named `registry` in errors.
    pub(crate) fn at_origin(
        client: &'c Client,
        registry: &str,
        origin: String,
        credentials: Option<&'c Credentials>,
        scopes: Vec<String>,
    ) -> Self {
        Self {
            client,
            registry: registry.to_owned(),
            origin,
            credentials,
            scopes,
            auth: Mutex::new(AuthState::default()),
        }
    }

    /// The URL of an API path (`/v2/...`).
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// Resolves a `Location` or `Link` target, absolute or relative to the registry.
    pub(crate) fn resolve(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_owned()
        } else if location.starts_with('/') {
            self.url(location)
        } else {
            format!("{}/{location}", self.origin)
        }
    }

    /// Sends `call`, authenticating as the registry asks: after a 401 with a challenge the
    /// request is sent again with Basic credentials or a bearer token for the session's scopes.
    /// Credentials only go to the registry's own origin. Any status is returned; a 401 that
    /// authentication did not cure is an [`Error::Unauthorized`].
    pub(crate) fn send(&self, mut call: Call<'_>) -> Result<Response<Body>> {
        let own_origin = call
            .url
            .strip_prefix(&self.origin)
            .is_some_and(|rest| rest.starts_with('/'));
        let authorization = match own_origin {
            true => self.authorization()?,
            false => None,
        };
        let response = self.dispatch(&mut call, authorization.as_deref())?;
        if response.status() != StatusCode::UNAUTHORIZED || !own_origin {
            return Ok(response);
        }
        let challenge = Challenge::from_headers(
            response
                .headers()
                .get_all(http::header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        );
        let can_retry = match &challenge {
            // Credentials already sent and refused, or none to send.
            Some(Challenge::Basic) => authorization.is_none() && self.credentials.is_some(),
            // A missing, expired or too narrow token: fetch one for the challenge.
            Some(Challenge::Bearer { .. }) => true,
            None => false,
        };
        if !can_retry || matches!(call.body, Payload::Stream(_)) {
            return Err(self.error(&call.method, &call.url, response));
        }
        {
            let mut state = self.auth.lock().unwrap_or_else(PoisonError::into_inner);
            state.challenge = challenge;
            state.token = None;
        }
        let authorization = self.authorization()?;
        let response = self.dispatch(&mut call, authorization.as_deref())?;
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(self.error(&call.method, &call.url, response));
        }
        Ok(response)
    }

    /// The error a failed response stands for, with the registry's own message.
    pub(crate) fn error(&self, method: &Method, url: &str, mut response: Response<Body>) -> Error {
        let status = response.status();
        let body = read_small(&mut response);
        let message = registry_message(&body, status);
        let method = go_method(method);
        let url = url.to_owned();
        let registry = self.registry.clone();
        if status == StatusCode::UNAUTHORIZED {
            Error::Unauthorized {
                registry,
                method,
                url,
                message,
            }
        } else {
            Error::Registry {
                registry,
                method,
                url,
                status: status.as_u16(),
                message,
            }
        }
    }

    /// The `Authorization` header the known challenge calls for, fetching a token if needed.
    fn authorization(&self) -> Result<Option<String>> {
        // Held while a token is fetched, so that parallel downloads fetch it once.
        let mut state = self.auth.lock().unwrap_or_else(PoisonError::into_inner);
        match &state.challenge {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(self.credentials.map(Credentials::basic_header)),
            Some(Challenge::Bearer {
                realm,
                service,
                scope,
            }) => {
                if let Some(token) = state.token.as_ref().filter(|t| t.is_fresh()) {
                    return Ok(Some(format!("Bearer {}", token.value)));
                }
                let token = self.fetch_token(realm, service.as_deref(), scope.as_deref())?;
                let header = format!("Bearer {}", token.value);
                state.token = Some(token);
                Ok(Some(header))
            }
        }
    }

    /// Docker's token flow: `GET realm?service=…&scope=…`, with Basic credentials if any.
    fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: Option<&str>,
    ) -> Result<Token> {
        let token_error = |reason: String| Error::Token {
            registry: self.registry.clone(),
            realm: realm.to_owned(),
            reason,
        };
        if !realm.starts_with("https://") && !realm.starts_with("http://") {
            return Err(token_error("the realm is not an http(s) URL".to_owned()));
        }
        // A registry reached over TLS does not get to send credentials over plain HTTP.
        if realm.starts_with("http://") && self.origin.starts_with("https://") {
            return Err(token_error(
                "refusing a plain-HTTP realm for a TLS registry".to_owned(),
            ));
        }
        let mut params: Vec<(&str, &str)> = Vec::new();
        if let Some(service) = service {
            params.push(("service", service));
        }
        for s in &self.scopes {
            params.push(("scope", s));
        }
        if let Some(extra) = scope.filter(|s| !self.scopes.iter().any(|own| own == s)) {
            params.push(("scope", extra));
        }
        if let Some(credentials) = self.credentials {
            params.push(("account", &credentials.username));
        }
        let mut url = realm.to_owned();
        for (i, (key, value)) in params.iter().enumerate() {
            let separator = match (i, realm.contains('?')) {
                (0, false) => '?',
                _ => '&',
            };
            url.push(separator);
            url.push_str(key);
            url.push('=');
            url.push_str(&query_escape(value));
        }
        let mut call = Call::new(Method::GET, url);
        let basic = self.credentials.map(Credentials::basic_header);
        let fetched = Instant::now();
        let mut response = self.dispatch(&mut call, basic.as_deref())?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let message = registry_message(&read_small(&mut response), StatusCode::UNAUTHORIZED);
            return Err(Error::Unauthorized {
                registry: self.registry.clone(),
                method: go_method(&call.method),
                url: call.url,
                message,
            });
        }
        if !status.is_success() {
            return Err(token_error(format!("answered {status}")));
        }
        let body = read_small(&mut response);
        let answer: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| token_error(format!("invalid token response: {e}")))?;
        Token::from_response(answer, fetched)
            .ok_or_else(|| token_error("the response holds no token".to_owned()))
    }

    /// Sends one request as it is, following redirects (ureq drops `Authorization` when a
    /// redirect leaves the host).
    fn dispatch(&self, call: &mut Call<'_>, authorization: Option<&str>) -> Result<Response<Body>> {
        let mut builder = http::Request::builder()
            .method(call.method.clone())
            .uri(&call.url);
        for (name, value) in &call.headers {
            builder = builder.header(*name, value);
        }
        if let Some(authorization) = authorization {
            builder = builder.header(http::header::AUTHORIZATION, authorization);
        }
        let agent = self.client.agent_with_certs(&call.url)?;
        let invalid = |e: http::Error| Error::Protocol {
            method: go_method(&call.method),
            url: call.url.clone(),
            reason: format!("invalid request: {e}"),
        };
        let sent = match &mut call.body {
            Payload::Empty => agent.run(builder.body(()).map_err(invalid)?),
            Payload::Bytes(bytes) => agent.run(builder.body(*bytes).map_err(invalid)?),
            Payload::Stream(reader) => {
                let body = SendBody::from_reader(&mut **reader);
                agent.run(builder.body(body).map_err(invalid)?)
            }
        };
        match sent {
            Ok(response) => {
                tracing::debug!(method = %call.method, url = %call.url, status = %response.status(), "registry request");
                Ok(response)
            }
            Err(e) => {
                tracing::debug!(method = %call.method, url = %call.url, error = %e, "registry request failed");
                Err(Error::Transport {
                    method: go_method(&call.method),
                    url: call.url.clone(),
                    source: Box::new(e),
                })
            }
        }
    }
}

/// A registry's `errors` list in Docker's wording (`manifest unknown: manifest unknown`).
pub(crate) fn registry_message(body: &[u8], status: StatusCode) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        #[serde(default)]
        errors: Vec<ErrorItem>,
        /// Docker Hub's token service says `{"details": "incorrect username or password"}`.
        #[serde(default)]
        details: String,
    }
    #[derive(Deserialize)]
    struct ErrorItem {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let unauthorized = status == StatusCode::UNAUTHORIZED;
    match parsed {
        Some(b) if !b.errors.is_empty() => b
            .errors
            .iter()
            .map(|e| {
                let code = e.code.to_lowercase().replace('_', " ");
                match (code.is_empty(), e.message.is_empty()) {
                    (true, _) => e.message.clone(),
                    (false, true) => code,
                    (false, false) => format!("{code}: {}", e.message),
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
        Some(b) if !b.details.is_empty() && unauthorized => format!("unauthorized: {}", b.details),
        Some(b) if !b.details.is_empty() => b.details,
        _ if unauthorized => "unauthorized: authentication required".to_owned(),
        _ => format!("received unexpected HTTP status: {status}"),
    }
}

/// Reads at most [`SMALL_BODY_LIMIT`] bytes of a body, ignoring failures (it only feeds a
/// message).
fn read_small(response: &mut Response<Body>) -> Vec<u8> {
    let mut bytes = Vec::new();
    let _ = response
        .body_mut()
        .as_reader()
        .take(SMALL_BODY_LIMIT)
        .read_to_end(&mut bytes);
    bytes
}

/// `GET` as Go prints it in errors: `Get`.
pub(crate) fn go_method(method: &Method) -> String {
    let name = method.as_str();
    let mut out = name[..1].to_owned();
    out.push_str(&name[1..].to_ascii_lowercase());
    out
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved characters).
pub(crate) fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The scope to read a repository.
pub(crate) fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

/// The scope to read and write a repository.
pub(crate) fn push_scope(repository: &str) -> String {
    format!("repository:{repository}:pull,push")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_registry_errors_as_docker() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#;
        assert_eq!(
            registry_message(body, StatusCode::NOT_FOUND),
            "manifest unknown: manifest unknown"
        );
        let two = br#"{"errors":[{"code":"DENIED","message":"no"},{"code":"UNSUPPORTED"}]}"#;
        assert_eq!(
            registry_message(two, StatusCode::FORBIDDEN),
            "denied: no, unsupported"
        );
        let hub = br#"{"details":"incorrect username or password"}"#;
        assert_eq!(
            registry_message(hub, StatusCode::UNAUTHORIZED),
            "unauthorized: incorrect username or password"
        );
        assert_eq!(
            registry_message(b"", StatusCode::UNAUTHORIZED),
            "unauthorized: authentication required"
        );
        assert_eq!(
            registry_message(b"<html>", StatusCode::BAD_GATEWAY),
            "received unexpected HTTP status: 502 Bad Gateway"
        );
    }

    #[test]
    fn escapes_and_names_like_go() {
        assert_eq!(
            query_escape("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
        assert_eq!(go_method(&Method::HEAD), "Head");
        assert_eq!(go_method(&Method::PATCH), "Patch");
    }
}
