//! A container's mounts, from `HostConfig.Binds` (`-v`), `HostConfig.Mounts` (`--mount`),
//! `HostConfig.Tmpfs` (`--tmpfs`), `HostConfig.VolumesFrom` and the image's `VOLUME`s, as
//! Docker resolves them at create; and the OCI mounts they become at start.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Bind,
    Volume,
    Tmpfs,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountPoint {
    pub kind: MountKind,
    /// The volume's name (volume mounts only).
    pub volume: Option<String>,
    /// The host path of a bind (volumes resolve theirs at start).
    pub source: Option<PathBuf>,
    pub destination: String,
    pub rw: bool,
    /// Docker's Mode string (`z`, `ro`, ...), shown by inspect.
    pub mode: String,
    pub propagation: String,
    /// Do not fill a new volume with the image's content (`nocopy`).
    pub nocopy: bool,
    /// Mount options of a tmpfs (`size=...`, `mode=...`).
    pub tmpfs_options: Vec<String>,
}

/// A volume a mount needs: (name, anonymous).
pub struct VolumeNeed {
    pub name: String,
    pub anonymous: bool,
}

const PROPAGATIONS: &[&str] = &[
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];

fn invalid_spec(spec: &str, why: &str) -> Error {
    Error::invalid(format!(
        "invalid mount config for type \"bind\": invalid specification: {why}: {spec}"
    ))
}

fn check_destination(dst: &str, spec: &str) -> Result<()> {
    if !dst.starts_with('/') {
        return Err(Error::invalid(format!(
            "invalid mount config: invalid mount path: '{dst}' mount path must be absolute"
        )));
    }
    if dst.trim_end_matches('/').is_empty() {
        return Err(invalid_spec(spec, "destination can't be '/'"));
    }
    Ok(())
}

/// One `-v` entry: `name:/dst[:opts]`, `/host:/dst[:opts]` or `/dst` (anonymous volume).
fn parse_bind(spec: &str) -> Result<MountPoint> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, dst, opts) = match parts.as_slice() {
        [dst] => (None, *dst, ""),
        [src, dst] => (Some(*src), *dst, ""),
        [src, dst, opts] => (Some(*src), *dst, *opts),
        _ => {
            return Err(Error::invalid(format!(
                "invalid volume specification: '{spec}'"
            )));
        }
    };
    check_destination(dst, spec)?;
    let mut rw = true;
    let mut nocopy = false;
    let mut propagation = String::new();
    let mut mode = Vec::new();
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => rw = false,
            "rw" => rw = true,
            "nocopy" => nocopy = true,
            "z" | "Z" => {}
            p if PROPAGATIONS.contains(&p) => propagation = p.to_string(),
            _ => return Err(Error::invalid(format!("invalid mode: {o}"))),
        }
        mode.push(o);
    }
    let (kind, volume, source) = match source {
        None => (MountKind::Volume, None, None),
        Some(s) if s.starts_with('/') => (MountKind::Bind, None, Some(PathBuf::from(s))),
        Some(name) => {
            crate::volumes::validate_name(name)?;
            (MountKind::Volume, Some(name.to_string()), None)
        }
    };
    if kind == MountKind::Bind && propagation.is_empty() {
        propagation = "rprivate".into();
    }
    Ok(MountPoint {
        kind,
        volume,
        source,
        destination: dst.to_string(),
        rw,
        mode: mode.join(","),
        propagation,
        nocopy,
        tmpfs_options: vec![],
    })
}

/// One `--mount` object of the API.
fn parse_mount(m: &Value) -> Result<MountPoint> {
    let target = m["Target"].as_str().unwrap_or("");
    let kind = m["Type"].as_str().unwrap_or("");
    check_destination(target, target)?;
    let source = m["Source"].as_str().unwrap_or("");
    let rw = !m["ReadOnly"].as_bool().unwrap_or(false);
    let base = MountPoint {
        kind: MountKind::Bind,
        volume: None,
        source: None,
        destination: target.to_string(),
        rw,
        mode: String::new(),
        propagation: String::new(),
        nocopy: false,
        tmpfs_options: vec![],
    };
    match kind {
        "bind" => {
            if !source.starts_with('/') {
                return Err(Error::invalid(format!(
                    "invalid mount config for type \"bind\": invalid mount path: '{source}' mount path must be absolute"
                )));
            }
            if !std::path::Path::new(source).exists() {
                return Err(Error::invalid(format!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {source}"
                )));
            }
            let propagation = m["BindOptions"]["Propagation"]
                .as_str()
                .filter(|p| !p.is_empty())
                .unwrap_or("rprivate");
            if !PROPAGATIONS.contains(&propagation) {
                return Err(Error::invalid(format!(
                    "invalid propagation mode: {propagation}"
                )));
            }
            Ok(MountPoint {
                source: Some(source.into()),
                propagation: propagation.into(),
                ..base
            })
        }
        "volume" => {
            let volume = if source.is_empty() {
                None
            } else {
                crate::volumes::validate_name(source)?;
                Some(source.to_string())
            };
            let nocopy = m["VolumeOptions"]["NoCopy"].as_bool().unwrap_or(false);
            Ok(MountPoint {
                kind: MountKind::Volume,
                volume,
                nocopy,
                mode: "z".into(),
                ..base
            })
        }
        "tmpfs" => {
            if !source.is_empty() {
                return Err(Error::invalid(
                    "invalid mount config for type \"tmpfs\": source must not be specified",
                ));
            }
            let mut opts = Vec::new();
            if let Some(size) = m["TmpfsOptions"]["SizeBytes"].as_i64().filter(|s| *s > 0) {
                opts.push(format!("size={size}"));
            }
            if let Some(mode) = m["TmpfsOptions"]["Mode"].as_u64().filter(|m| *m > 0) {
                opts.push(format!("mode={mode:o}"));
            }
            Ok(MountPoint {
                kind: MountKind::Tmpfs,
                tmpfs_options: opts,
                ..base
            })
        }
        other => Err(Error::invalid(format!("mount type unknown: \"{other}\""))),
    }
}

/// Every mount of a new container. `volumes_from` gives the mounts of a container named in
/// `HostConfig.VolumesFrom`.
pub fn resolve(
    host_config: &Value,
    image_volumes: &Value,
    volumes_from: impl Fn(&str) -> Result<Vec<MountPoint>>,
) -> Result<Vec<MountPoint>> {
    fn add(m: MountPoint, mounts: &mut Vec<MountPoint>) -> Result<()> {
        if mounts
            .iter()
            .any(|x| x.destination.trim_end_matches('/') == m.destination.trim_end_matches('/'))
        {
            return Err(Error::invalid(format!(
                "Duplicate mount point: {}",
                m.destination
            )));
        }
        mounts.push(m);
        Ok(())
    }
    let mut mounts: Vec<MountPoint> = Vec::new();
    for spec in host_config["Binds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        add(parse_bind(spec)?, &mut mounts)?;
    }
    for m in host_config["Mounts"].as_array().into_iter().flatten() {
        add(parse_mount(m)?, &mut mounts)?;
    }
    if let Some(tmpfs) = host_config["Tmpfs"].as_object() {
        for (dst, opts) in tmpfs {
            check_destination(dst, dst)?;
            let options = opts
                .as_str()
                .unwrap_or("")
                .split(',')
                .filter(|o| !o.is_empty())
                .map(str::to_string)
                .collect();
            let m = MountPoint {
                kind: MountKind::Tmpfs,
                volume: None,
                source: None,
                destination: dst.clone(),
                rw: true,
                mode: String::new(),
                propagation: String::new(),
                nocopy: false,
                tmpfs_options: options,
            };
            add(m, &mut mounts)?;
        }
    }
    for entry in host_config["VolumesFrom"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let (name, mode) = entry.split_once(':').unwrap_or((entry, ""));
        let read_only = match mode {
            "" | "rw" => None,
            "ro" => Some(true),
            _ => {
                return Err(Error::invalid(format!(
                    "invalid mode for volumes-from: {mode}"
                )));
            }
        };
        for mut m in volumes_from(name)?
            .into_iter()
            .filter(|m| m.kind != MountKind::Tmpfs)
        {
            if mounts.iter().any(|x| x.destination == m.destination) {
                continue;
            }
            if let Some(ro) = read_only {
                m.rw = !ro;
            }
            mounts.push(m);
        }
    }
    // The image's VOLUMEs not otherwise mounted become anonymous volumes.
    for dst in image_volumes.as_object().into_iter().flat_map(|v| v.keys()) {
        if !mounts
            .iter()
            .any(|m| m.destination.trim_end_matches('/') == dst.trim_end_matches('/'))
        {
            mounts.push(MountPoint {
                kind: MountKind::Volume,
                volume: None,
                source: None,
                destination: dst.clone(),
                rw: true,
                mode: String::new(),
                propagation: String::new(),
                nocopy: false,
                tmpfs_options: vec![],
            });
        }
    }
    Ok(mounts)
}

/// The OCI mount for a mount point whose host source is `source` (binds and volumes).
pub fn oci_mount(m: &MountPoint, source: Option<&std::path::Path>) -> Value {
    match m.kind {
        MountKind::Tmpfs => {
            let mut options = vec![
                "nosuid".to_string(),
                "nodev".to_string(),
                "noexec".to_string(),
            ];
            options.extend(m.tmpfs_options.iter().cloned());
            if !m.rw {
                options.push("ro".into());
            }
            json!({"destination": m.destination, "type": "tmpfs", "source": "tmpfs", "options": options})
        }
        MountKind::Bind | MountKind::Volume => {
            let propagation = if m.propagation.is_empty() {
                "rprivate"
            } else {
                m.propagation.as_str()
            };
            let mut options = vec!["rbind".to_string(), propagation.to_string()];
            if !m.rw {
                options.push("ro".into());
            }
            json!({"destination": m.destination, "type": "bind", "source": source, "options": options})
        }
    }
}

/// Inspect's view of a mount point.
pub fn inspect_json(m: &MountPoint, source: Option<&std::path::Path>) -> Value {
    let mut v = json!({
        "Type": m.kind,
        "Source": source.map(|s| s.display().to_string()).unwrap_or_default(),
        "Destination": m.destination,
        "Mode": m.mode,
        "RW": m.rw,
        "Propagation": m.propagation
    });
    if let Some(name) = &m.volume {
        v["Name"] = json!(name);
        v["Driver"] = json!("local");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Result<Vec<MountPoint>> {
        Ok(vec![])
    }

    #[test]
    fn binds_volumes_and_tmpfs() {
        let hc = json!({
            "Binds": ["/srv:/srv:ro", "data:/data", "/anon"],
            "Mounts": [{"Type": "tmpfs", "Target": "/run", "TmpfsOptions": {"SizeBytes": 1024}}],
            "Tmpfs": {"/scratch": "size=1m"}
        });
        let m = resolve(&hc, &json!({"/cache": {}, "/data": {}}), none).unwrap();
        let kinds: Vec<_> = m
            .iter()
            .map(|m| (m.kind, m.destination.as_str(), m.rw))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (MountKind::Bind, "/srv", false),
                (MountKind::Volume, "/data", true),
                (MountKind::Volume, "/anon", true),
                (MountKind::Tmpfs, "/run", true),
                (MountKind::Tmpfs, "/scratch", true),
                (MountKind::Volume, "/cache", true),
            ]
        );
        assert_eq!(m[1].volume.as_deref(), Some("data"));
        assert_eq!(m[3].tmpfs_options, vec!["size=1024"]);
        let oci = oci_mount(&m[0], m[0].source.as_deref());
        assert_eq!(oci["options"], json!(["rbind", "rprivate", "ro"]));
    }

    #[test]
    fn bad_specs_are_refused() {
        for bad in [
            json!({"Binds": ["/a:/"]}),
            json!({"Binds": ["/a:rel"]}),
            json!({"Binds": ["/a:/b:bogus"]}),
            json!({"Binds": ["/a:/b", "/c:/b"]}),
            json!({"Binds": ["bad$name:/b"]}),
            json!({"Mounts": [{"Type": "bind", "Source": "/no/such/dir", "Target": "/x"}]}),
            json!({"Mounts": [{"Type": "weird", "Target": "/x"}]}),
        ] {
            assert!(resolve(&bad, &json!(null), none).is_err(), "{bad}");
        }
        let e = resolve(
            &json!({"Mounts": [{"Type": "bind", "Source": "/no/such/dir", "Target": "/x"}]}),
            &json!(null),
            none,
        )
        .unwrap_err();
        assert!(e.message.contains("bind source path does not exist"));
    }
}
