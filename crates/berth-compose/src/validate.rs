//! Checks across the model that no single key can make: references to services, networks,
//! volumes, secrets and configs exist, dependencies have no cycle, names stay unique.

use std::collections::BTreeMap;

use crate::error::{ConfigError, Error};
use crate::model::{MountType, Project};
use crate::plan::graph;
use crate::yaml::Location;

fn err(key: String, message: String) -> Error {
    Error::Config(ConfigError {
        location: Location::default(),
        key,
        message,
    })
}

pub(crate) fn project(p: &Project) -> Result<(), Error> {
    let mut container_names: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, s) in &p.services {
        let key = |k: &str| format!("services.{name}.{k}");
        if s.image.is_none() && s.build.is_none() {
            return Err(err(
                format!("services.{name}"),
                "has neither an image nor a build context".to_string(),
            ));
        }
        for dep in s.dependencies().keys() {
            if p.service(dep).is_none() {
                return Err(err(key("depends_on"), format!("undefined service {dep:?}")));
            }
        }
        for mode in [&s.network_mode, &s.ipc, &s.pid].into_iter().flatten() {
            if let Some(other) = mode.strip_prefix("service:")
                && p.service(other).is_none()
            {
                return Err(err(
                    key("network_mode"),
                    format!("undefined service {other:?}"),
                ));
            }
        }
        if s.network_mode.is_some() && !s.networks.is_empty() {
            return Err(err(
                key("networks"),
                "cannot be set together with network_mode".to_string(),
            ));
        }
        for net in s.networks.keys() {
            if !p.networks.contains_key(net) {
                return Err(err(key("networks"), format!("undefined network {net:?}")));
            }
        }
        for (i, v) in s.volumes.iter().enumerate() {
            if let (MountType::Volume, Some(src)) = (v.kind, &v.source)
                && !p.volumes.contains_key(src)
            {
                return Err(err(
                    format!("services.{name}.volumes[{i}]"),
                    format!("undefined volume {src:?}: declare it under the top-level volumes"),
                ));
            }
        }
        for (what, refs, defined) in [
            ("secrets", &s.secrets, &p.secrets),
            ("configs", &s.configs, &p.configs),
        ] {
            for r in refs {
                if !defined.contains_key(&r.source) {
                    return Err(err(
                        key(what),
                        format!("undefined {what} entry {:?}", r.source),
                    ));
                }
            }
        }
        if let Some(cn) = &s.container_name {
            if s.replicas() > 1 {
                return Err(err(
                    key("container_name"),
                    format!(
                        "{cn:?} is set, so the service cannot be scaled to {}",
                        s.replicas()
                    ),
                ));
            }
            if let Some(other) = container_names.insert(cn, name) {
                return Err(err(
                    key("container_name"),
                    format!("{cn:?} is also the container name of service {other:?}"),
                ));
            }
        }
    }
    graph::order(p, &[]).map(|_| ())
}
