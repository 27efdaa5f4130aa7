//! Storage flags: `--mount` (docker's CSV `key=value` fields), `-v/--volume` (a bind when
//! it names a host path, an anonymous volume when it names only the container path) and
//! `--tmpfs`.

use std::collections::HashMap;
use std::path::Path;

use bollard::models::{
    Mount, MountBindOptions, MountBindOptionsPropagationEnum, MountImageOptions, MountTmpfsOptions,
    MountType, MountVolumeOptions, MountVolumeOptionsDriverConfig,
};

use super::resources::ram_in_bytes;
use super::{csv_fields, parse_bool};

/// One `--mount` value: `type=bind|volume|tmpfs|image` (volume by default) and the keys
/// docker takes, case-insensitively.
pub fn parse_mount(text: &str) -> Result<Mount, String> {
    let mut mount = Mount {
        typ: Some(MountType::VOLUME),
        ..Default::default()
    };
    let mut kind = "volume".to_string();
    let mut bind: Option<MountBindOptions> = None;
    let mut volume: Option<MountVolumeOptions> = None;
    let mut tmpfs: Option<MountTmpfsOptions> = None;
    let mut image: Option<MountImageOptions> = None;
    for field in csv_fields(text)? {
        let (key, value) = match field.split_once('=') {
            Some((key, value)) => (key.to_lowercase(), Some(value)),
            None => (field.to_lowercase(), None),
        };
        let Some(value) = value else {
            match key.as_str() {
                "readonly" | "ro" => mount.read_only = Some(true),
                "volume-nocopy" => volume_entry(&mut volume).no_copy = Some(true),
                "bind-nonrecursive" => {
                    bind.get_or_insert_with(Default::default).non_recursive = Some(true);
                }
                _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
            }
            continue;
        };
        let invalid = || format!("invalid value for {key}: {value}");
        match key.as_str() {
            "type" => kind = value.to_lowercase(),
            "source" | "src" => mount.source = Some(absolute_if_relative(value)),
            "target" | "dst" | "destination" => mount.target = Some(value.to_string()),
            "readonly" | "ro" => mount.read_only = Some(parse_bool(value).ok_or_else(invalid)?),
            "consistency" => mount.consistency = Some(value.to_lowercase()),
            "bind-propagation" => {
                let propagation = value
                    .to_lowercase()
                    .parse::<MountBindOptionsPropagationEnum>()
                    .map_err(|_| format!("invalid propagation mode: {value}"))?;
                bind.get_or_insert_with(Default::default).propagation = Some(propagation);
            }
            "bind-nonrecursive" => {
                bind.get_or_insert_with(Default::default).non_recursive =
                    Some(parse_bool(value).ok_or_else(invalid)?);
            }
            "bind-recursive" => {
                let options = bind.get_or_insert_with(Default::default);
                match value {
                    "enabled" => {}
                    "disabled" => options.non_recursive = Some(true),
                    "writable" => options.read_only_non_recursive = Some(true),
                    "readonly" => options.read_only_force_recursive = Some(true),
                    _ => {
                        return Err(format!(
                            "invalid value for {key}: {value} (must be \"enabled\", \"disabled\", \"writable\", or \"readonly\")"
                        ));
                    }
                }
            }
            "volume-subpath" => volume_entry(&mut volume).subpath = Some(value.to_string()),
            "volume-nocopy" => {
                volume_entry(&mut volume).no_copy = Some(
                    parse_bool(value)
                        .ok_or_else(|| format!("invalid value for volume-nocopy: {value}"))?,
                );
            }
            "volume-label" => insert_pair(
                volume_entry(&mut volume)
                    .labels
                    .get_or_insert_with(HashMap::new),
                value,
            ),
            "volume-driver" => {
                driver_config(volume_entry(&mut volume)).name = Some(value.to_string());
            }
            "volume-opt" => insert_pair(
                driver_config(volume_entry(&mut volume))
                    .options
                    .get_or_insert_with(HashMap::new),
                value,
            ),
            "image-subpath" => {
                image.get_or_insert_with(Default::default).subpath = Some(value.to_string());
            }
            "tmpfs-size" => {
                tmpfs.get_or_insert_with(Default::default).size_bytes =
                    Some(ram_in_bytes(value).map_err(|_| invalid())?);
            }
            "tmpfs-mode" => {
                let mode = u32::from_str_radix(value, 8).map_err(|_| invalid())?;
                tmpfs.get_or_insert_with(Default::default).mode = Some(i64::from(mode));
            }
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    if kind.is_empty() {
        return Err("type is required".to_string());
    }
    if mount.target.as_deref().unwrap_or_default().is_empty() {
        return Err("target is required".to_string());
    }
    mount.typ =
        Some(kind.parse::<MountType>().map_err(|()| {
            format!("invalid mount config for type \"{kind}\": mount type unknown")
        })?);
    for (present, prefix, own) in [
        (volume.is_some(), "volume", MountType::VOLUME),
        (image.is_some(), "image", MountType::IMAGE),
        (bind.is_some(), "bind", MountType::BIND),
        (tmpfs.is_some(), "tmpfs", MountType::TMPFS),
    ] {
        if present && mount.typ != Some(own) {
            return Err(format!(
                "cannot mix '{prefix}-*' options with mount type '{kind}'"
            ));
        }
    }
    if let Some(options) = &bind {
        let read_only = mount.read_only == Some(true);
        if options.read_only_non_recursive == Some(true) && !read_only {
            return Err(
                "option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction"
                    .to_string(),
            );
        }
        if options.read_only_force_recursive == Some(true) {
            if !read_only {
                return Err("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction".to_string());
            }
            if options.propagation != Some(MountBindOptionsPropagationEnum::RPRIVATE) {
                return Err("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction".to_string());
            }
        }
    }
    mount.bind_options = bind;
    mount.volume_options = volume;
    mount.tmpfs_options = tmpfs;
    mount.image_options = image;
    Ok(mount)
}

/// The volume options, created as docker creates them (empty labels and driver settings).
fn volume_entry(volume: &mut Option<MountVolumeOptions>) -> &mut MountVolumeOptions {
    volume.get_or_insert_with(|| MountVolumeOptions {
        labels: Some(HashMap::new()),
        driver_config: Some(MountVolumeOptionsDriverConfig::default()),
        ..Default::default()
    })
}

fn driver_config(volume: &mut MountVolumeOptions) -> &mut MountVolumeOptionsDriverConfig {
    volume.driver_config.get_or_insert_with(Default::default)
}

/// `key=value` into `map`; an entry without a key is ignored.
fn insert_pair(map: &mut HashMap<String, String>, pair: &str) {
    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
    if !key.is_empty() {
        map.insert(key.to_string(), value.to_string());
    }
}

/// A relative host path written as `./x` or `../x`, made absolute as docker makes it.
fn absolute_if_relative(path: &str) -> String {
    if Path::new(path).is_absolute() || !path.starts_with('.') {
        return path.to_string();
    }
    match std::path::absolute(path) {
        Ok(absolute) => crate::gopath::clean(&absolute.to_string_lossy()),
        Err(_) => path.to_string(),
    }
}

/// What `-v` entries become: binds (`HOST:CONTAINER[:OPTIONS]`, passed to the daemon as
/// written, a relative `./` host path made absolute) and anonymous volumes (`CONTAINER`).
#[derive(Debug, Default, PartialEq)]
pub struct Volumes {
    pub binds: Vec<String>,
    pub anonymous: Vec<String>,
}

/// Sorts the `-v` entries as docker does: an entry with a source is a bind (a host path or
/// a named volume), one without is an anonymous volume at that path.
pub fn volumes(entries: &[String]) -> Result<Volumes, String> {
    let mut volumes = Volumes::default();
    for entry in entries {
        let (list, value) = match volume_source(entry)? {
            None => (&mut volumes.anonymous, entry.clone()),
            Some((host, true)) => {
                let target = &entry[host.len() + 1..];
                (
                    &mut volumes.binds,
                    format!("{}:{target}", absolute_if_relative(host)),
                )
            }
            Some((_, false)) => (&mut volumes.binds, entry.clone()),
        };
        if !list.contains(&value) {
            list.push(value);
        }
    }
    Ok(volumes)
}

/// The source of a `-v` spec (none for an anonymous volume) and whether it is a host path,
/// checked as docker's compose loader checks the spec.
fn volume_source(spec: &str) -> Result<Option<(&str, bool)>, String> {
    match spec.chars().count() {
        0 => return Err("invalid empty volume spec".to_string()),
        1 | 2 => return Ok(None),
        _ => {}
    }
    let invalid = |reason: &str| format!("invalid spec: {spec}: {reason}");
    let mut sections: Vec<&str> = Vec::new();
    let mut start = 0;
    for (i, c) in spec.char_indices() {
        // A drive letter ("C:") is not a separator.
        let is_drive = i - start == 1 && spec[start..i].chars().all(|c| c.is_alphabetic());
        if c == ':' && !is_drive {
            sections.push(&spec[start..i]);
            start = i + 1;
        }
    }
    sections.push(&spec[start..]);
    if sections.iter().any(|s| s.is_empty()) {
        return Err(invalid("empty section between colons"));
    }
    match sections.as_slice() {
        [_] => Ok(None),
        [source, _] | [source, _, _] => Ok(Some((source, is_file_path(source)))),
        _ => Err(invalid("too many colons")),
    }
}

/// Whether a `-v` source is a host path rather than a volume name.
fn is_file_path(source: &str) -> bool {
    if source.starts_with(['.', '/', '~']) {
        return true;
    }
    let mut chars = source.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(':')) => first.is_alphabetic(),
        _ => source.starts_with("\\\\"),
    }
}

/// `--tmpfs PATH[:OPTIONS]` entries as the daemon takes them: options by path.
pub fn tmpfs(entries: &[String]) -> Option<HashMap<String, String>> {
    let map: HashMap<String, String> = entries
        .iter()
        .map(|entry| {
            let (path, options) = entry.split_once(':').unwrap_or((entry, ""));
            (path.to_string(), options.to_string())
        })
        .collect();
    (!map.is_empty()).then_some(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_of_each_type() {
        let bind =
            parse_mount("type=bind,source=/srv,target=/data,readonly,bind-propagation=rshared")
                .unwrap();
        assert_eq!(bind.typ, Some(MountType::BIND));
        assert_eq!(bind.source.as_deref(), Some("/srv"));
        assert_eq!(bind.target.as_deref(), Some("/data"));
        assert_eq!(bind.read_only, Some(true));
        assert_eq!(
            bind.bind_options.unwrap().propagation,
            Some(MountBindOptionsPropagationEnum::RSHARED)
        );

        let volume =
            parse_mount("src=cache,dst=/cache,volume-nocopy,volume-opt=type=tmpfs,ro=false")
                .unwrap();
        assert_eq!(volume.typ, Some(MountType::VOLUME));
        assert_eq!(volume.read_only, Some(false));
        let options = volume.volume_options.unwrap();
        assert_eq!(options.no_copy, Some(true));
        assert_eq!(
            options.driver_config.unwrap().options.unwrap()["type"],
            "tmpfs"
        );

        let tmpfs =
            parse_mount("type=tmpfs,destination=/run,tmpfs-size=64m,tmpfs-mode=1770").unwrap();
        let options = tmpfs.tmpfs_options.unwrap();
        assert_eq!(options.size_bytes, Some(64 << 20));
        assert_eq!(options.mode, Some(0o1770));
        // Keys are case-insensitive; quoted fields may hold commas.
        let quoted = parse_mount("Type=volume,\"Target=/a,b\"").unwrap();
        assert_eq!(quoted.target.as_deref(), Some("/a,b"));
    }

    #[test]
    fn mount_errors_read_like_docker() {
        let error = |text: &str| parse_mount(text).unwrap_err();
        assert_eq!(error("type=bind,source=/x"), "target is required");
        assert_eq!(error("type=,target=/x"), "type is required");
        assert_eq!(
            error("target=/x,bogus"),
            "invalid field 'bogus' must be a key=value pair"
        );
        assert_eq!(
            error("target=/x,foo=bar"),
            "unexpected key 'foo' in 'foo=bar'"
        );
        assert_eq!(error("target=/x,ro=maybe"), "invalid value for ro: maybe");
        assert_eq!(
            error("type=bind,target=/x,tmpfs-size=1m"),
            "cannot mix 'tmpfs-*' options with mount type 'bind'"
        );
        assert_eq!(
            error("type=tmpfs,target=/x,volume-nocopy"),
            "cannot mix 'volume-*' options with mount type 'tmpfs'"
        );
        assert_eq!(
            error("type=tmpfs,target=/x,tmpfs-size=lots"),
            "invalid value for tmpfs-size: lots"
        );
        assert_eq!(
            error("type=tmpfs,target=/x,tmpfs-mode=999"),
            "invalid value for tmpfs-mode: 999"
        );
        assert_eq!(
            error("type=bind,target=/x,bind-recursive=writable"),
            "option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction"
        );
        assert_eq!(
            error("type=weird,target=/x"),
            "invalid mount config for type \"weird\": mount type unknown"
        );
        assert_eq!(error(""), "EOF");
        assert_eq!(
            error("target=/x\"y"),
            "parse error on line 1, column 10: bare \" in non-quoted-field"
        );
    }

    #[test]
    fn volume_specs() {
        let parsed = volumes(&[
            "/data".to_string(),
            "/srv:/srv:ro".to_string(),
            "cache:/cache".to_string(),
            "./here:/here".to_string(),
            "/data".to_string(),
        ])
        .unwrap();
        assert_eq!(parsed.anonymous, ["/data"]);
        assert_eq!(parsed.binds[..2], ["/srv:/srv:ro", "cache:/cache"]);
        let here = std::env::current_dir().unwrap().join("here");
        assert_eq!(parsed.binds[2], format!("{}:/here", here.display()));
        let error = |spec: &str| volumes(&[spec.to_string()]).unwrap_err();
        assert_eq!(error(""), "invalid empty volume spec");
        assert_eq!(
            error("/a::/b"),
            "invalid spec: /a::/b: empty section between colons"
        );
        assert_eq!(
            error("/a:/b:ro:x"),
            "invalid spec: /a:/b:ro:x: too many colons"
        );
        assert_eq!(
            tmpfs(&["/run:rw,size=64m".to_string(), "/tmp".to_string()]).unwrap(),
            HashMap::from([
                ("/run".to_string(), "rw,size=64m".to_string()),
                ("/tmp".to_string(), String::new())
            ])
        );
    }
}
