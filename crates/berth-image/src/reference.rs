//! Image names as Docker shows them (`busybox:latest`) and in full
//! (`docker.io/library/busybox:latest`).

const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";

/// Splits `name:tag` into repository and tag (`None` if untagged); a `:` before the last `/`
/// belongs to a registry port.
pub(crate) fn split_tag(name: &str) -> (&str, Option<&str>) {
    match name.rfind(':') {
        Some(colon) if !name[colon..].contains('/') => (&name[..colon], Some(&name[colon + 1..])),
        _ => (name, None),
    }
}

/// `busybox:latest` -> `docker.io/library/busybox:latest`; names with a registry are kept.
pub(crate) fn full_name(name: &str) -> String {
    let first = name.split('/').next().unwrap_or_default();
    let has_domain = name.contains('/') && (first.contains(['.', ':']) || first == "localhost");
    match (has_domain, name.contains('/')) {
        (true, _) => name.to_owned(),
        (false, true) => format!("{DEFAULT_DOMAIN}/{name}"),
        (false, false) => format!("{DEFAULT_DOMAIN}/{OFFICIAL_REPO_PREFIX}{name}"),
    }
}

/// `docker.io/library/busybox:latest` -> `busybox:latest`, the form of Docker's `RepoTags`.
pub(crate) fn familiar_name(name: &str) -> String {
    let remote = [DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN]
        .iter()
        .find_map(|domain| {
            name.strip_prefix(domain)
                .and_then(|rest| rest.strip_prefix('/'))
        });
    match remote {
        Some(path) => match path.strip_prefix(OFFICIAL_REPO_PREFIX) {
            Some(official) if !official.contains('/') => official.to_owned(),
            _ => path.to_owned(),
        },
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (familiar, full) in [
            ("busybox:latest", "docker.io/library/busybox:latest"),
            ("me/app:1.0", "docker.io/me/app:1.0"),
            ("ghcr.io/me/app:1.0", "ghcr.io/me/app:1.0"),
            ("localhost:5000/app:x", "localhost:5000/app:x"),
            ("localhost/app:x", "localhost/app:x"),
        ] {
            assert_eq!(full_name(familiar), full);
            assert_eq!(familiar_name(full), familiar);
        }
        assert_eq!(
            familiar_name("index.docker.io/library/busybox:1"),
            "busybox:1"
        );
    }

    #[test]
    fn splits_tags_not_ports() {
        assert_eq!(split_tag("busybox:latest"), ("busybox", Some("latest")));
        assert_eq!(
            split_tag("localhost:5000/app"),
            ("localhost:5000/app", None)
        );
        assert_eq!(
            split_tag("localhost:5000/app:v1"),
            ("localhost:5000/app", Some("v1"))
        );
    }
}
