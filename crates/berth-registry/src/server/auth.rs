//! HTTP Basic authentication against an htpasswd file of bcrypt entries (what
//! `htpasswd -B` and distribution's htpasswd auth use): of every request with `--htpasswd`, of
//! token requests with token authentication (see `token.rs`).
//!
//! bcrypt is slow by design and Docker sends the credentials with every request, so a password
//! that verified once is remembered, as a salted SHA-256 keyed by a per-process random salt;
//! a wrong password always pays for a full bcrypt check (an unknown user too, against a fixed
//! hash, so timing does not tell which users exist).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hyper::header::HeaderValue;
use sha2::{Digest as _, Sha256};

use crate::server::error::ServeError;

/// Checked against when the user is unknown, so that costs the same as a wrong password.
const DUMMY_HASH: &str = "$2b$10$wdi0vTzUXDn3ioHMaA4IR.HAjgJZ9BhMkXLl8RaxpsBlq0WcFnYf6";

/// The users of an htpasswd file.
#[derive(Debug, Clone)]
pub(crate) struct Htpasswd {
    users: Arc<HashMap<String, String>>,
    verified: Arc<Mutex<HashMap<String, [u8; 32]>>>,
    salt: [u8; 32],
}

impl Htpasswd {
    /// Reads `user:bcrypt-hash` lines; blank lines and `#` comments are skipped.
    pub(crate) fn load(path: &Path) -> Result<Self, ServeError> {
        let error = |reason: String| ServeError::Htpasswd {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        Self::parse(text.lines().enumerate()).map_err(error)
    }

    /// The users of `lines` (numbered from 0), `user:bcrypt-hash` each; blank lines and `#`
    /// comments are skipped. The error names the line.
    pub(crate) fn parse<'a>(lines: impl Iterator<Item = (usize, &'a str)>) -> Result<Self, String> {
        let mut users = HashMap::new();
        for (number, line) in lines {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((user, hash)) = line.split_once(':') else {
                return Err(format!("line {}: not user:hash", number + 1));
            };
            if !["$2y$", "$2b$", "$2a$"].iter().any(|p| hash.starts_with(p)) {
                return Err(format!(
                    "line {}: user {user:?} has no bcrypt hash (create entries with htpasswd -B)",
                    number + 1
                ));
            }
            users.insert(user.to_owned(), hash.to_owned());
        }
        let mut salt = [0u8; 32];
        getrandom::fill(&mut salt).map_err(|e| format!("random salt: {e}"))?;
        Ok(Self {
            users: Arc::new(users),
            verified: Arc::new(Mutex::new(HashMap::new())),
            salt,
        })
    }

    /// True if the file has a user of that name.
    pub(crate) fn has_user(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }

    /// The user, if `authorization` is `Basic` with a user and password of the file.
    pub(crate) async fn authenticate(&self, authorization: Option<&HeaderValue>) -> Option<String> {
        let (user, password) = authorization.and_then(basic_credentials)?;
        let fingerprint = self.fingerprint(&user, &password);
        if self.remembered().get(&user) == Some(&fingerprint) {
            return Some(user);
        }
        let hash = self.users.get(&user).cloned();
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let verified = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .is_ok_and(|result| result.unwrap_or(false));
        if !(known && verified) {
            return None;
        }
        self.remembered().insert(user.clone(), fingerprint);
        Some(user)
    }

    fn fingerprint(&self, user: &str, password: &str) -> [u8; 32] {
        let mut hasher = Sha256::new_with_prefix(self.salt);
        hasher.update(user.len().to_le_bytes());
        hasher.update(user);
        hasher.update(password);
        hasher.finalize().into()
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, HashMap<String, [u8; 32]>> {
        // Only whole entries are inserted, so a poisoned map is still consistent.
        self.verified
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// `Basic base64(user:password)` split into its parts.
fn basic_credentials(value: &HeaderValue) -> Option<(String, String)> {
    let value = value.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, password: &str) -> HeaderValue {
        let encoded = STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {encoded}")).unwrap()
    }

    #[test]
    fn dummy_hash_is_a_valid_bcrypt_hash() {
        assert!(bcrypt::verify("", DUMMY_HASH).is_ok());
    }

    #[tokio::test]
    async fn checks_bcrypt_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        let hash = bcrypt::hash("s3cret:x", 4).unwrap();
        std::fs::write(&path, format!("# users\n\nalice:{hash}\n")).unwrap();
        let htpasswd = Htpasswd::load(&path).unwrap();
        for _ in 0..2 {
            let user = htpasswd
                .authenticate(Some(&header("alice", "s3cret:x")))
                .await;
            assert_eq!(user.as_deref(), Some("alice"));
        }
        assert!(htpasswd.has_user("alice") && !htpasswd.has_user("bob"));
        let check = async |value: Option<&HeaderValue>| htpasswd.authenticate(value).await;
        assert_eq!(check(Some(&header("alice", "wrong"))).await, None);
        assert_eq!(check(Some(&header("bob", "s3cret:x"))).await, None);
        assert_eq!(check(None).await, None);
        let bearer = HeaderValue::from_static("Bearer abc");
        assert_eq!(check(Some(&bearer)).await, None);
        let garbage = HeaderValue::from_static("Basic !!!");
        assert_eq!(check(Some(&garbage)).await, None);
    }

    #[test]
    fn refuses_entries_it_cannot_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        for bad in [
            "alice:{SHA}abc\n",
            "alice:$apr1$x$y\n",
            "alice\n",
            "bob:plain\n",
        ] {
            std::fs::write(&path, bad).unwrap();
            let err = Htpasswd::load(&path).unwrap_err().to_string();
            assert!(err.contains("line 1"), "{err}");
        }
        assert!(Htpasswd::load(&dir.path().join("missing")).is_err());
    }
}
