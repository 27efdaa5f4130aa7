//! Image references under Docker's rules: `busybox` is `docker.io/library/busybox`, a first
//! component with a `.` or `:` (or `localhost`) names a registry, `:tag` and `@sha256:…` follow.

use std::fmt;
use std::str::FromStr;

use berth_image::Digest;

use crate::client::error::{Error, Result};

/// Docker Hub as references name it.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that serves Docker Hub's registry API.
const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";
/// Other names Docker accepts for Docker Hub (`docker login`'s default server address).
const DOCKER_HUB_ALIASES: [&str; 2] = ["index.docker.io", "registry-1.docker.io"];
const OFFICIAL_PREFIX: &str = "library/";
/// The tag meant when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
const NAME_MAX: usize = 255;
const TAG_MAX: usize = 128;

/// A parsed image reference: registry, repository path and tag and/or digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses a reference as `docker pull` does; a missing tag stays missing (operations that
    /// need one use [`DEFAULT_TAG`]). Errors carry Docker's messages.
    pub fn parse(s: &str) -> Result<Self> {
        let fail = |message: String| Error::InvalidReference {
            reference: s.to_owned(),
            message,
        };
        let format = || fail("invalid reference format".to_owned());
        if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(fail(format!(
                "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
            )));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, digest)) => (rest, Some(parse_digest(digest).map_err(fail)?)),
            None => (s, None),
        };
        let (name, tag) = match rest.rfind(':') {
            Some(colon) if !rest[colon..].contains('/') => {
                (&rest[..colon], Some(&rest[colon + 1..]))
            }
            _ => (rest, None),
        };
        if tag.is_some_and(|t| !valid_tag(t)) || name.is_empty() {
            return Err(format());
        }
        let (registry, path) = split_registry(name);
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("{OFFICIAL_PREFIX}{path}")
        } else {
            path.to_owned()
        };
        if repository.to_ascii_lowercase() != repository {
            return Err(fail(format!(
                "invalid reference format: repository name ({repository}) must be lowercase"
            )));
        }
        if !repository.split('/').all(valid_path_component) || !valid_registry(&registry) {
            return Err(format());
        }
        if registry.len() + 1 + repository.len() > NAME_MAX {
            return Err(fail(format!(
                "repository name must not be more than {NAME_MAX} characters"
            )));
        }
        Ok(Self {
            registry,
            repository,
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// The registry as references name it: `docker.io`, `localhost:5000`, `ghcr.io`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path inside the registry: `library/busybox`, `me/app`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The same repository with this tag (and no digest).
    pub fn with_tag(&self, tag: &str) -> Result<Self> {
        if !valid_tag(tag) {
            return Err(Error::InvalidReference {
                reference: format!("{}:{tag}", self.name()),
                message: "invalid reference format".to_owned(),
            });
        }
        Ok(Self {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        })
    }

    /// The same repository pinned to `digest` (no tag): a `RepoDigests` entry.
    pub fn with_digest(&self, digest: Digest) -> Self {
        Self {
            tag: None,
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The full repository name: `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The repository as Docker shows it: `busybox`, `me/app`, `localhost:5000/app`.
    pub fn familiar_name(&self) -> String {
        if self.registry != DOCKER_HUB {
            return self.name();
        }
        match self.repository.strip_prefix(OFFICIAL_PREFIX) {
            Some(official) if !official.contains('/') => official.to_owned(),
            _ => self.repository.clone(),
        }
    }

    /// The reference as Docker shows it: `busybox:latest`, `localhost:5000/app@sha256:…`.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        self.push_suffix(&mut s);
        s
    }

    /// What a manifest request names: the digest if there is one, else the tag, else `latest`.
    pub(crate) fn manifest_reference(&self) -> &str {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.as_str(),
            (None, Some(tag)) => tag,
            (None, None) => DEFAULT_TAG,
        }
    }

    fn push_suffix(&self, s: &mut String) {
        if let Some(tag) = &self.tag {
            s.push(':');
            s.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            s.push('@');
            s.push_str(digest.as_str());
        }
    }
}

impl fmt::Display for Reference {
    /// The full form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.name();
        self.push_suffix(&mut s);
        f.write_str(&s)
    }
}

impl FromStr for Reference {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// The host that serves a registry's API: Docker Hub's is not `docker.io`.
pub(crate) fn api_host(registry: &str) -> &str {
    if registry == DOCKER_HUB {
        DOCKER_HUB_API_HOST
    } else {
        registry
    }
}

/// A registry as `docker login` takes it (`localhost:5000`, `https://index.docker.io/v1/`,
/// `http://host:5000`), reduced to the name references use.
pub fn normalize_registry(server: &str) -> Result<String> {
    let host = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
        .unwrap_or(server);
    let host = host.split('/').next().unwrap_or_default();
    let host = if DOCKER_HUB_ALIASES.contains(&host) {
        DOCKER_HUB
    } else {
        host
    };
    if host.is_empty() || !valid_registry(host) {
        return Err(Error::InvalidReference {
            reference: server.to_owned(),
            message: format!("invalid registry address {server:?}"),
        });
    }
    Ok(host.to_owned())
}

fn parse_digest(s: &str) -> Result<Digest, String> {
    let Some((algorithm, hex)) = s.split_once(':') else {
        return Err("invalid reference format".to_owned());
    };
    if algorithm != "sha256" {
        let known = !algorithm.is_empty()
            && algorithm
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && !hex.is_empty()
            && hex.bytes().all(|b| b.is_ascii_hexdigit());
        return Err(if known {
            "unsupported digest algorithm".to_owned()
        } else {
            "invalid reference format".to_owned()
        });
    }
    s.parse()
        .map_err(|_| "invalid checksum digest format".to_owned())
}

/// Splits `name` into registry and path as Docker does, mapping Docker Hub's aliases.
fn split_registry(name: &str) -> (String, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_ascii_lowercase() != first =>
        {
            let registry = if first == DOCKER_HUB_ALIASES[0] {
                DOCKER_HUB
            } else {
                first
            };
            (registry.to_owned(), rest)
        }
        _ => (DOCKER_HUB.to_owned(), name),
    }
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= TAG_MAX
        && word(bytes[0])
        && bytes[1..]
            .iter()
            .all(|&b| word(b) || b == b'.' || b == b'-')
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_path_component(component: &str) -> bool {
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut rest = component.as_bytes();
    loop {
        let run = rest.iter().take_while(|b| alnum(b)).count();
        if run == 0 {
            return false;
        }
        rest = &rest[run..];
        if rest.is_empty() {
            return true;
        }
        let sep = rest.iter().take_while(|b| !alnum(b)).count();
        let valid_separator =
            matches!(&rest[..sep], b"." | b"_" | b"__") || rest[..sep].iter().all(|&b| b == b'-');
        if !valid_separator {
            return false;
        }
        rest = &rest[sep..];
    }
}

/// A host name, IPv4 address or bracketed IPv6 address, with an optional port.
fn valid_registry(registry: &str) -> bool {
    let (host, port) = match registry.strip_prefix('[') {
        Some(bracketed) => {
            let Some((ip, after)) = bracketed.split_once(']') else {
                return false;
            };
            if ip.is_empty() || !ip.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
                return false;
            }
            match (after, after.strip_prefix(':')) {
                ("", _) => (None, None),
                (_, Some(port)) => (None, Some(port)),
                (_, None) => return false,
            }
        }
        None => match registry.rsplit_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(registry), None),
        },
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let label = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    port_ok && host.is_none_or(|h| h.split('.').all(label))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn parts(s: &str) -> (String, String, Option<String>, Option<String>) {
        let r = Reference::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        (
            r.registry().to_owned(),
            r.repository().to_owned(),
            r.tag().map(str::to_owned),
            r.digest().map(ToString::to_string),
        )
    }

    #[test]
    fn parses_docker_forms() {
        let cases = [
            ("busybox", "docker.io", "library/busybox", None),
            ("busybox:1.36", "docker.io", "library/busybox", Some("1.36")),
            ("me/app:v_1-x.y", "docker.io", "me/app", Some("v_1-x.y")),
            ("docker.io/busybox", "docker.io", "library/busybox", None),
            ("index.docker.io/me/app", "docker.io", "me/app", None),
            ("localhost/app", "localhost", "app", None),
            ("localhost:5000/a/b:t", "localhost:5000", "a/b", Some("t")),
            ("127.0.0.1:5000/app", "127.0.0.1:5000", "app", None),
            ("[::1]:5000/app:x", "[::1]:5000", "app", Some("x")),
            ("ghcr.io/a__b/c-d/e.f", "ghcr.io", "a__b/c-d/e.f", None),
        ];
        for (input, registry, repository, tag) in cases {
            let expected = (
                registry.to_owned(),
                repository.to_owned(),
                tag.map(str::to_owned),
                None,
            );
            assert_eq!(parts(input), expected, "{input}");
        }
        let d = format!("sha256:{HEX}");
        assert_eq!(
            parts(&format!("busybox:1@{d}")),
            (
                "docker.io".into(),
                "library/busybox".into(),
                Some("1".into()),
                Some(d)
            )
        );
    }

    #[test]
    fn shows_full_and_familiar_forms() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/busybox");
        assert_eq!(r.familiar(), "busybox");
        assert_eq!(r.manifest_reference(), "latest");
        let r = r.with_tag("1.36").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/busybox:1.36");
        assert_eq!(r.familiar(), "busybox:1.36");
        let d: Digest = format!("sha256:{HEX}").parse().unwrap();
        let pinned = r.with_digest(d.clone());
        assert_eq!(pinned.familiar(), format!("busybox@{d}"));
        assert_eq!(pinned.manifest_reference(), d.as_str());
        let r = Reference::parse("localhost:5000/me/app:v1").unwrap();
        assert_eq!(r.familiar(), "localhost:5000/me/app:v1");
        assert_eq!(
            Reference::parse("me/app").unwrap().familiar_name(),
            "me/app"
        );
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
        assert_eq!(api_host("localhost:5000"), "localhost:5000");
    }

    #[test]
    fn refuses_with_docker_messages() {
        let message = |s: &str| Reference::parse(s).unwrap_err().to_string();
        assert_eq!(
            message("Busybox"),
            "invalid reference format: repository name (library/Busybox) must be lowercase"
        );
        assert_eq!(
            message(HEX),
            format!("invalid repository name ({HEX}), cannot specify 64-byte hexadecimal strings")
        );
        for bad in [
            "",
            "a:b:c",
            "app:",
            "app:-x",
            "a//b",
            "a/-b",
            "a/b.",
            "host:port/app",
            "bad_host-/x",
            "app@sha256:abc",
            "ghcr.io/o/r@",
            &format!("app:{}", "t".repeat(129)),
        ] {
            assert!(
                message(bad).starts_with("invalid"),
                "{bad:?}: {}",
                message(bad)
            );
        }
        assert_eq!(
            message(&format!("app@sha512:{HEX}")),
            "unsupported digest algorithm"
        );
        let long = format!("x/{}", "a".repeat(260));
        assert!(message(&long).contains("255"), "{}", message(&long));
    }

    #[test]
    fn normalizes_login_server_addresses() {
        for (input, expected) in [
            ("https://index.docker.io/v1/", "docker.io"),
            ("docker.io", "docker.io"),
            ("registry-1.docker.io", "docker.io"),
            ("localhost:5000", "localhost:5000"),
            ("http://127.0.0.1:5000/v2/", "127.0.0.1:5000"),
        ] {
            assert_eq!(normalize_registry(input).unwrap(), expected, "{input}");
        }
        assert!(normalize_registry("https://").is_err());
        assert!(normalize_registry("bad host").is_err());
    }
}
