//! Registry authentication: credentials, `WWW-Authenticate` challenges and bearer tokens.

use std::fmt;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;

/// A user name and password (or access token) for one registry, as `docker login` stores them.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl Credentials {
    pub fn new(username: &str, password: &str) -> Self {
        Self {
            username: username.to_owned(),
            password: password.to_owned(),
        }
    }

    /// The value of an `Authorization: Basic` header.
    pub(crate) fn basic_header(&self) -> String {
        let pair = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// How a registry asked to be authenticated (the `WWW-Authenticate` of a 401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    Basic,
    /// Docker's token flow: fetch a token from `realm` for `service`.
    Bearer {
        realm: String,
        service: Option<String>,
        /// The scope the registry said the refused request needed.
        scope: Option<String>,
    },
}

impl Challenge {
    /// The best challenge among `WWW-Authenticate` header values (Bearer over Basic).
    pub(crate) fn from_headers<'a>(values: impl Iterator<Item = &'a str>) -> Option<Self> {
        let mut best = None;
        for (scheme, params) in values.flat_map(parse_header) {
            let param = |name: &str| {
                params
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
            };
            if scheme.eq_ignore_ascii_case("bearer") {
                if let Some(realm) = param("realm") {
                    return Some(Challenge::Bearer {
                        realm,
                        service: param("service"),
                        scope: param("scope"),
                    });
                }
            } else if scheme.eq_ignore_ascii_case("basic") {
                best = Some(Challenge::Basic);
            }
        }
        best
    }
}

/// Splits a `WWW-Authenticate` value into its challenges: scheme and `key=value` parameters
/// (values may be quoted, with backslash escapes, and hold commas).
fn parse_header(value: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut challenges: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut chars = value.chars().peekable();
    let is_token = |c: char| !c.is_whitespace() && !matches!(c, ',' | '=' | '"');
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        let mut word = String::new();
        while let Some(c) = chars.next_if(|c| is_token(*c)) {
            word.push(c);
        }
        if word.is_empty() {
            // End of input, or a stray character to skip.
            if chars.next().is_none() {
                return challenges;
            }
            continue;
        }
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        if chars.next_if_eq(&'=').is_none() {
            challenges.push((word, Vec::new()));
            continue;
        }
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        let mut param_value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => param_value.extend(chars.next()),
                    c => param_value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',' && !c.is_whitespace()) {
                param_value.push(c);
            }
        }
        if let Some((_, params)) = challenges.last_mut() {
            params.push((word, param_value));
        }
    }
}

/// A token service's answer (`token` per Docker's spec, `access_token` per OAuth 2).
#[derive(Debug, Deserialize)]
pub(crate) struct TokenResponse {
    #[serde(default)]
    token: String,
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Tokens without `expires_in` last 60 seconds (Docker's token spec).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

/// A bearer token and when to stop using it.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) value: String,
    refresh_at: Instant,
}

impl Token {
    /// The token in `response`, fetched at `fetched`; `None` if it holds none.
    pub(crate) fn from_response(response: TokenResponse, fetched: Instant) -> Option<Self> {
        let value = if response.token.is_empty() {
            response.access_token
        } else {
            response.token
        };
        if value.is_empty() {
            return None;
        }
        let lifetime = response
            .expires_in
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_TOKEN_LIFETIME);
        // Refresh a little early so that a request does not carry a token expiring in flight.
        Some(Self {
            value,
            refresh_at: fetched + lifetime.mul_f64(0.9),
        })
    }

    pub(crate) fn is_fresh(&self) -> bool {
        Instant::now() < self.refresh_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_and_basic_challenges() {
        let bearer = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#;
        assert_eq!(
            Challenge::from_headers([bearer].into_iter()),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull,push".into()),
            })
        );
        let basic = r#"Basic realm="basic-realm""#;
        assert_eq!(
            Challenge::from_headers([basic].into_iter()),
            Some(Challenge::Basic)
        );
        // Bearer wins over Basic, in one header or several; unquoted values and odd spacing.
        let both = r#"Basic realm="x", Bearer realm=http://h/t , service = "a\"b""#;
        assert_eq!(
            Challenge::from_headers([both].into_iter()),
            Some(Challenge::Bearer {
                realm: "http://h/t".into(),
                service: Some("a\"b".into()),
                scope: None,
            })
        );
        assert_eq!(
            Challenge::from_headers([basic, bearer].into_iter())
                .map(|c| matches!(c, Challenge::Bearer { .. })),
            Some(true)
        );
        assert_eq!(Challenge::from_headers(["Negotiate"].into_iter()), None);
        assert_eq!(
            Challenge::from_headers(["Bearer service=x"].into_iter()),
            None
        );
        assert_eq!(Challenge::from_headers([""].into_iter()), None);
    }

    #[test]
    fn credentials_make_basic_headers_and_hide_passwords() {
        let c = Credentials::new("user", "p@ss:word");
        assert_eq!(c.basic_header(), "Basic dXNlcjpwQHNzOndvcmQ=");
        assert!(!format!("{c:?}").contains("p@ss"));
    }

    #[test]
    fn tokens_take_either_field_and_expire() {
        let now = Instant::now();
        let parse = |json: &str| {
            Token::from_response(serde_json::from_str(json).unwrap(), now).map(|t| t.value)
        };
        assert_eq!(parse(r#"{"token":"a"}"#).as_deref(), Some("a"));
        assert_eq!(parse(r#"{"access_token":"b"}"#).as_deref(), Some("b"));
        assert_eq!(parse(r#"{"token":""}"#), None);
        let token = Token::from_response(
            serde_json::from_str(r#"{"token":"a","expires_in":0}"#).unwrap(),
            now,
        )
        .unwrap();
        assert!(!token.is_fresh());
        let token = Token::from_response(serde_json::from_str(r#"{"token":"a"}"#).unwrap(), now);
        assert!(token.unwrap().is_fresh());
    }
}
