//! From the model to what the daemon is asked for: names, labels, the config hash that says
//! whether a container is up to date, dependency order, and container create requests.

pub mod container;
pub mod graph;

use sha2::{Digest, Sha256};

use crate::model::{Project, Service};

/// The labels docker compose puts on what it creates, which berth reads and writes the same
/// way so that either tool sees the other's projects.
pub mod labels {
    pub const PROJECT: &str = "com.docker.compose.project";
    pub const SERVICE: &str = "com.docker.compose.service";
    pub const CONTAINER_NUMBER: &str = "com.docker.compose.container-number";
    pub const ONEOFF: &str = "com.docker.compose.oneoff";
    pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
    pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
    pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
    pub const ENVIRONMENT_FILE: &str = "com.docker.compose.project.environment_file";
    pub const VERSION: &str = "com.docker.compose.version";
    pub const IMAGE: &str = "com.docker.compose.image";
    pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
    pub const NETWORK: &str = "com.docker.compose.network";
    pub const VOLUME: &str = "com.docker.compose.volume";
    pub const SLUG: &str = "com.docker.compose.slug";
    pub const REPLACE: &str = "com.docker.compose.replace";
}

/// What berth writes as `com.docker.compose.version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A service's configuration hash: SHA-256 of its model without what does not need a new
/// container (build settings, pull policy, scale, dependencies, profiles).
pub fn config_hash(service: &Service) -> String {
    let mut s = service.clone();
    s.build = None;
    s.pull_policy = None;
    s.scale = None;
    if let Some(d) = &mut s.deploy {
        d.replicas = None;
    }
    s.depends_on.clear();
    s.profiles.clear();
    // Serializing the model cannot fail: every map key is a string.
    let json = serde_json::to_vec(&s).unwrap_or_default();
    hex::encode(Sha256::digest(&json))
}

/// The image a service runs: `image`, else `<project>-<service>` for one that is built.
pub fn image_name(project: &Project, name: &str, service: &Service) -> String {
    service
        .image
        .clone()
        .unwrap_or_else(|| format!("{}-{name}", project.name))
}

/// The name of a service's container number `n`: `container_name`, else
/// `<project>-<service>-<n>`.
pub fn container_name(project: &Project, name: &str, service: &Service, n: u32) -> String {
    match &service.container_name {
        Some(c) => c.clone(),
        None => format!("{}-{name}-{n}", project.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_ignores_what_needs_no_new_container() {
        let base = Service {
            image: Some("busybox".into()),
            ..Service::default()
        };
        let h = config_hash(&base);
        assert_eq!(h.len(), 64);
        let mut scaled = base.clone();
        scaled.scale = Some(3);
        scaled.profiles = vec!["x".into()];
        scaled
            .depends_on
            .insert("db".into(), crate::model::Dependency::started());
        assert_eq!(config_hash(&scaled), h);
        let mut changed = base.clone();
        changed.environment.insert("A".into(), Some("1".into()));
        assert_ne!(config_hash(&changed), h);
    }
}
