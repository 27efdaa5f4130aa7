//! Image references as Docker reads them: `busybox` is `docker.io/library/busybox:latest`,
//! `host:port/repo` names its registry, and names are shown in their short ("familiar") form.

use std::fmt;

pub const DEFAULT_DOMAIN: &str = "docker.io";
const OFFICIAL_PREFIX: &str = "library/";
const MAX_NAME_LEN: usize = 255;

/// A parsed `[domain/]path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub domain: String,
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Reference {
    /// Parses and normalises a reference; an absent tag stays absent (see [`Self::with_default_tag`]).
    pub fn parse(s: &str) -> Result<Self, String> {
        if is_full_hex_id(s) {
            return Err(format!(
                "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
            ));
        }
        let invalid =
            || format!("invalid reference format: repository name ({s}) must be lowercase");
        let bad = || "invalid reference format".to_string();
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                validate_digest(d).map_err(|_| bad())?;
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A tag is after the last ':' that follows the last '/', so "host:5000/x" has none.
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(rest[i + 1..].to_string())),
            _ => (rest, None),
        };
        if tag.as_deref().is_some_and(|t| !valid_tag(t)) {
            return Err(bad());
        }
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(bad());
        }
        let (domain, path) = split_domain(name);
        if path.is_empty() || !path.split('/').all(valid_path_component) {
            return Err(if name.chars().any(|c| c.is_ascii_uppercase()) {
                invalid()
            } else {
                bad()
            });
        }
        if !valid_domain(&domain) {
            return Err(bad());
        }
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// `latest` when neither tag nor digest was given, as `docker pull busybox` means.
    pub fn with_default_tag(mut self) -> Self {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some("latest".into());
        }
        self
    }

    /// The repository in short form: `busybox`, `user/app`, `localhost:5000/app`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            self.path
                .strip_prefix(OFFICIAL_PREFIX)
                .unwrap_or(&self.path)
                .to_string()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// The full name: `docker.io/library/busybox`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }
}

/// Short form with tag and digest: `busybox:latest`.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.familiar_name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

pub fn is_full_hex_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn split_domain(name: &str) -> (String, String) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_string(), rest.to_string())
        }
        _ if name.contains('/') => (DEFAULT_DOMAIN.into(), name.to_string()),
        _ => (DEFAULT_DOMAIN.into(), format!("{OFFICIAL_PREFIX}{name}")),
    }
}

/// `[a-z0-9]+` runs joined by `.`, `_`, `__` or any number of `-`.
fn valid_path_component(c: &str) -> bool {
    let bytes = c.as_bytes();
    if bytes.is_empty() || !is_alnum(bytes[0]) || !is_alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if is_alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !is_alnum(bytes[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-')) {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    host_ok && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn validate_digest(d: &str) -> Result<(), ()> {
    match d.split_once(':') {
        Some(("sha256", hex)) if is_full_hex_id(hex) => Ok(()),
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        Reference::parse(s).unwrap().with_default_tag().to_string()
    }

    #[test]
    fn normalises_like_docker() {
        assert_eq!(norm("busybox"), "busybox:latest");
        assert_eq!(norm("docker.io/library/busybox:1.36"), "busybox:1.36");
        assert_eq!(norm("user/app"), "user/app:latest");
        assert_eq!(norm("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(norm("localhost/a/b:v1"), "localhost/a/b:v1");
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.full_name(), "docker.io/library/busybox");
    }

    #[test]
    fn refuses_bad_references() {
        for bad in [
            "",
            "Busybox",
            "a:",
            ":tag",
            "a//b",
            "a/-b",
            "a:b c",
            "a@sha256:12",
            "x:-tag",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let id = "a".repeat(64);
        assert!(
            Reference::parse(&id)
                .unwrap_err()
                .contains("64-byte hexadecimal")
        );
        assert!(
            Reference::parse("Upper")
                .unwrap_err()
                .contains("must be lowercase")
        );
    }

    #[test]
    fn digests_are_kept() {
        let d = format!("sha256:{}", "b".repeat(64));
        let r = Reference::parse(&format!("busybox@{d}"))
            .unwrap()
            .with_default_tag();
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
    }
}
