//! Image references as docker reads them: `[registry/]path[:tag][@digest]`, shortened to
//! the familiar form (`busybox`, not `docker.io/library/busybox`).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The familiar repository name: `busybox`, `example.com:5000/team/app`.
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

const DEFAULT_TAG: &str = "latest";

impl Reference {
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = || "invalid reference format".to_string();
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                let (algorithm, hex) = digest.split_once(':').ok_or_else(invalid)?;
                if algorithm.is_empty()
                    || hex.len() < 32
                    || !hex.bytes().all(|b| b.is_ascii_hexdigit())
                {
                    return Err(invalid());
                }
                (rest, Some(digest.to_string()))
            }
            None => (text, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(colon) => {
                let colon = last_slash + colon;
                (&rest[..colon], Some(rest[colon + 1..].to_string()))
            }
            None => (rest, None),
        };
        if let Some(tag) = &tag {
            let valid_tag = tag.len() <= 128
                && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                && tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !valid_tag {
                return Err(invalid());
            }
        }
        let name = familiar_name(name);
        validate_name(&name)?;
        Ok(Reference { name, tag, digest })
    }

    /// The tag, or `latest` when there is neither tag nor digest.
    pub fn tag_or_default(&self) -> Option<&str> {
        match (&self.tag, &self.digest) {
            (Some(tag), _) => Some(tag),
            (None, None) => Some(DEFAULT_TAG),
            (None, Some(_)) => None,
        }
    }

    /// The reference with the default tag filled in: `busybox` is `busybox:latest`.
    pub fn with_default_tag(&self) -> String {
        let mut out = self.name.clone();
        if let Some(tag) = self.tag_or_default() {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
        out
    }
}

impl Reference {
    /// The fully qualified repository name: `busybox` is `docker.io/library/busybox`.
    pub fn canonical_name(&self) -> String {
        match self.name.split_once('/') {
            Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => {
                self.name.clone()
            }
            Some(_) => format!("docker.io/{}", self.name),
            None => format!("docker.io/library/{}", self.name),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Drops Docker Hub's implicit parts: `docker.io/library/busybox` is `busybox`.
fn familiar_name(name: &str) -> String {
    let path = ["docker.io/", "index.docker.io/"]
        .iter()
        .find_map(|hub| name.strip_prefix(hub))
        .unwrap_or(name);
    match path.strip_prefix("library/") {
        Some(official) if !official.contains('/') => official.to_string(),
        _ => path.to_string(),
    }
}

fn validate_name(name: &str) -> Result<(), String> {
    let invalid = || "invalid reference format".to_string();
    let mut components = name.split('/').peekable();
    let mut has_registry = false;
    // The first component is a registry when it looks like a host.
    if let Some(first) = components.peek()
        && name.contains('/')
        && (first.contains(['.', ':'])
            || *first == "localhost"
            || first.chars().any(|c| c.is_ascii_uppercase()))
    {
        let host_ok = first
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
        if !host_ok || first.is_empty() {
            return Err(invalid());
        }
        components.next();
        has_registry = true;
    }
    let path: Vec<&str> = components.collect();
    if path.is_empty() || name.len() > 255 {
        return Err(invalid());
    }
    for component in &path {
        if component.chars().any(|c| c.is_ascii_uppercase()) {
            let official = if has_registry || path.len() > 1 {
                ""
            } else {
                "library/"
            };
            return Err(format!(
                "invalid reference format: repository name ({official}{}) must be lowercase",
                path.join("/")
            ));
        }
        let mut chars = component.chars();
        let starts_alnum = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
        let ends_alnum = component
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        let allowed = component
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if !(starts_alnum && ends_alnum && allowed) {
            return Err(invalid());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Reference {
        Reference::parse(text).unwrap()
    }

    #[test]
    fn default_tag_is_latest() {
        assert_eq!(parse("busybox").with_default_tag(), "busybox:latest");
        assert_eq!(parse("busybox:1.36").with_default_tag(), "busybox:1.36");
        let digest = format!("busybox@sha256:{}", "a".repeat(64));
        assert_eq!(parse(&digest).with_default_tag(), digest);
    }

    #[test]
    fn hub_names_become_familiar() {
        assert_eq!(parse("docker.io/library/busybox:latest").name, "busybox");
        assert_eq!(parse("docker.io/someone/app").name, "someone/app");
        assert_eq!(
            parse("example.com:5000/team/app:v1").name,
            "example.com:5000/team/app"
        );
        assert_eq!(
            parse("example.com:5000/team/app:v1").tag.as_deref(),
            Some("v1")
        );
        assert_eq!(parse("localhost:5000/app").tag, None);
    }

    #[test]
    fn canonical_names() {
        assert_eq!(
            parse("busybox").canonical_name(),
            "docker.io/library/busybox"
        );
        assert_eq!(parse("a/b").canonical_name(), "docker.io/a/b");
        assert_eq!(
            parse("localhost:5000/a").canonical_name(),
            "localhost:5000/a"
        );
    }

    #[test]
    fn invalid_references() {
        assert_eq!(
            Reference::parse("Busybox").unwrap_err(),
            "invalid reference format: repository name (library/Busybox) must be lowercase"
        );
        for bad in [
            "",
            "busybox:",
            "bad name",
            "-x",
            "x@sha256:zz",
            "busybox:t@g",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }
}
