//! The built-in token service of Docker's token authentication: the registry answers an
//! unauthenticated request with `401` and `WWW-Authenticate: Bearer realm=…,service=…,scope=…`;
//! the client asks the realm (`GET /token?service=…&scope=…`, with Basic credentials or
//! none) for a token, and sends it back as `Authorization: Bearer`.
//!
//! Tokens are JWTs signed with HMAC-SHA256 under a key drawn at startup (so a restart logs
//! every client out; they fetch a new token on the next `401`, as they do when one expires).
//! The `access` claim lists what the access file (`access.rs`) grants the user of the requested
//! scopes; an anonymous request gets what `anonymous` is granted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use hyper::header::HeaderValue;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::server::access::{AccessFile, Scope};
use crate::server::error::ServeError;

/// The `service` this registry names in its challenges and expects in token requests.
pub(crate) const SERVICE: &str = "berth-registry";
/// How long a token lasts (Docker Hub's lifetime).
pub(crate) const TOKEN_LIFETIME: Duration = Duration::from_secs(300);
const ISSUER: &str = "berth-registry-token-service";
/// `{"alg":"HS256","typ":"JWT"}`, encoded once.
const HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// A token's claims (JWT registered claims and Docker's `access`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    iss: String,
    /// The user; empty for an anonymous token.
    sub: String,
    aud: String,
    exp: u64,
    nbf: u64,
    iat: u64,
    jti: String,
    pub(crate) access: Vec<Scope>,
}

impl Claims {
    /// The user the token was issued to; `None` if anonymous.
    pub(crate) fn user(&self) -> Option<&str> {
        Some(self.sub.as_str()).filter(|sub| !sub.is_empty())
    }

    pub(crate) fn allows(&self, resource_type: &str, name: &str, action: &str) -> bool {
        self.access
            .iter()
            .any(|scope| scope.allows(resource_type, name, action))
    }
}

/// A token issued.
#[derive(Debug)]
pub(crate) struct Issued {
    pub(crate) token: String,
    pub(crate) expires_in: u64,
}

/// Issues and verifies tokens for the users and grants of an access file.
#[derive(Debug)]
pub(crate) struct TokenService {
    pub(crate) access: AccessFile,
    key: [u8; 32],
    /// Numbers the tokens issued (`jti`, unique per key).
    issued: AtomicU64,
}

impl TokenService {
    pub(crate) fn load(access_file: &std::path::Path) -> Result<Self, ServeError> {
        let access = AccessFile::load(access_file)?;
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| ServeError::Access {
            path: access_file.to_owned(),
            reason: format!("random signing key: {e}"),
        })?;
        Ok(Self {
            access,
            key,
            issued: AtomicU64::new(0),
        })
    }

    /// A token for the bearer of `authorization` (Basic credentials of the access file, or
    /// none: anonymous) with what it is granted of `scopes`; `None` if the credentials are
    /// wrong.
    pub(crate) async fn issue(
        &self,
        authorization: Option<&HeaderValue>,
        scopes: &[Scope],
    ) -> Option<Issued> {
        let user = match authorization {
            Some(authorization) => Some(self.access.users.authenticate(Some(authorization)).await?),
            None => None,
        };
        let now = unix_time(SystemTime::now());
        let claims = Claims {
            iss: ISSUER.to_owned(),
            sub: user.clone().unwrap_or_default(),
            aud: SERVICE.to_owned(),
            exp: now + TOKEN_LIFETIME.as_secs(),
            nbf: now,
            iat: now,
            jti: self.issued.fetch_add(1, Ordering::Relaxed).to_string(),
            access: self.access.grant(user.as_deref(), scopes),
        };
        Some(Issued {
            token: self.sign(&claims),
            expires_in: TOKEN_LIFETIME.as_secs(),
        })
    }

    fn sign(&self, claims: &Claims) -> String {
        // Claims always serialise: strings, numbers and vectors of them.
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signed = format!("{HEADER}.{payload}");
        let signature = URL_SAFE_NO_PAD.encode(self.mac(&signed).finalize().into_bytes());
        format!("{signed}.{signature}")
    }

    /// The claims of `token` if this service signed it, for this service, and it is valid at
    /// `now`.
    pub(crate) fn verify(&self, token: &str, now: SystemTime) -> Option<Claims> {
        let (signed, signature) = token.rsplit_once('.')?;
        let (header, payload) = signed.split_once('.')?;
        if header != HEADER {
            return None;
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        self.mac(signed).verify_slice(&signature).ok()?;
        let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        let now = unix_time(now);
        (claims.aud == SERVICE && claims.nbf <= now && now < claims.exp).then_some(claims)
    }

    fn mac(&self, signed: &str) -> Hmac<Sha256> {
        // HMAC takes a key of any length.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts any key");
        mac.update(signed.as_bytes());
        mac
    }
}

fn unix_time(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::access::{CATALOG, REGISTRY, REPOSITORY};

    fn service() -> (tempfile::TempDir, TokenService) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access");
        let hash = bcrypt::hash("pw", 4).unwrap();
        let grants = "grant app alice pull,push\ngrant public anonymous pull\n";
        std::fs::write(&path, format!("alice:{hash}\n{grants}")).unwrap();
        let service = TokenService::load(&path).unwrap();
        (dir, service)
    }

    fn basic(user: &str, password: &str) -> HeaderValue {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {encoded}")).unwrap()
    }

    fn scopes(texts: &[&str]) -> Vec<Scope> {
        texts.iter().map(|t| Scope::parse(t).unwrap()).collect()
    }

    #[test]
    fn header_is_hs256_jwt() {
        let header = URL_SAFE_NO_PAD.decode(HEADER).unwrap();
        assert_eq!(header, br#"{"alg":"HS256","typ":"JWT"}"#);
    }

    #[tokio::test]
    async fn tokens_carry_what_was_granted_and_verify() {
        let (_dir, service) = service();
        let requested = scopes(&[
            "repository:app:pull,push,delete",
            "repository:public:pull",
            "registry:catalog:*",
        ]);
        let issued = service
            .issue(Some(&basic("alice", "pw")), &requested)
            .await
            .unwrap();
        assert_eq!(issued.expires_in, 300);
        let claims = service.verify(&issued.token, SystemTime::now()).unwrap();
        assert_eq!(claims.user(), Some("alice"));
        assert!(claims.allows(REPOSITORY, "app", "push"));
        assert!(!claims.allows(REPOSITORY, "app", "delete"));
        assert!(claims.allows(REPOSITORY, "public", "pull"));
        assert!(claims.allows(REGISTRY, CATALOG, "*"));

        let anonymous = service.issue(None, &requested).await.unwrap();
        let claims = service.verify(&anonymous.token, SystemTime::now()).unwrap();
        assert_eq!(claims.user(), None);
        assert_eq!(claims.access, scopes(&["repository:public:pull"]));

        assert!(
            service
                .issue(Some(&basic("alice", "nope")), &requested)
                .await
                .is_none()
        );
    }

    #[tokio::test]
    async fn forged_altered_and_expired_tokens_fail() {
        let (_dir, service) = service();
        let (_other_dir, other) = self::service();
        let token = service
            .issue(None, &scopes(&["repository:public:pull"]))
            .await
            .unwrap()
            .token;
        let now = SystemTime::now();
        assert!(service.verify(&token, now).is_some());
        // Another key (another server, or this one restarted).
        assert!(other.verify(&token, now).is_none());
        // The same signature over other claims.
        let (_, rest) = token.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let mut claims = service.verify(&token, now).unwrap();
        claims.access = scopes(&["repository:app:push"]);
        let forged = service.sign(&claims);
        let (forged_signed, _) = forged.rsplit_once('.').unwrap();
        assert!(
            service
                .verify(&format!("{forged_signed}.{signature}"), now)
                .is_none()
        );
        // Too late, too early, garbage.
        assert!(
            service
                .verify(&token, now + TOKEN_LIFETIME + Duration::from_secs(1))
                .is_none()
        );
        assert!(
            service
                .verify(&token, now - Duration::from_secs(60))
                .is_none()
        );
        for garbage in ["", "a.b", "a.b.c", &format!("{HEADER}..")] {
            assert!(service.verify(garbage, now).is_none(), "{garbage}");
        }
    }
}
