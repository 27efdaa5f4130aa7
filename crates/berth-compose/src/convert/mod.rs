//! From the merged YAML tree to the typed model: each key is read into its field with its
//! type checked, short syntaxes expanded, unknown keys refused (except `x-*` extensions), and
//! every error names its key and position.

mod service;
pub(crate) mod syntax;

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use crate::error::{Error, invalid};
use crate::interpolate::Environment;
use crate::keypath;
use crate::model::{FileObject, Ipam, IpamPool, Network, Project, Volume};
use crate::units::{ByteSize, Duration};
use crate::yaml::{Key, Location, Node, Value};

pub(crate) use service::service;

/// What a conversion needs from the load besides the tree.
pub(crate) struct Context<'a> {
    pub project: &'a str,
    pub env: &'a Environment,
    pub warnings: &'a mut BTreeSet<String>,
}

/// Converts the merged tree. The result has every service, before profiles are applied.
pub(crate) fn project(root: &Node, cx: &mut Context<'_>) -> Result<Project, Error> {
    let mut p = Project {
        environment: cx.env.clone(),
        ..Project::named(cx.project)
    };
    for (k, v) in entries(root, "")? {
        let path = k.name.as_str();
        match path {
            "version" => {
                cx.warnings
                    .insert("the top-level `version` is obsolete and ignored".to_string());
            }
            "name" | "include" => {}
            "models" => {
                return Err(invalid(&k.loc, path, "is not supported by berth"));
            }
            "services" => {
                for (name, node) in entries_or_empty(v, path)? {
                    check_name(name, "services", "service")?;
                    let sp = keypath(path, &name.name);
                    p.services
                        .insert(name.name.clone(), service(node, &sp, cx)?);
                }
            }
            "networks" => {
                for (name, node) in entries_or_empty(v, path)? {
                    check_name(name, path, "network")?;
                    let np = keypath(path, &name.name);
                    p.networks
                        .insert(name.name.clone(), network(&name.name, node, &np, cx)?);
                }
            }
            "volumes" => {
                for (name, node) in entries_or_empty(v, path)? {
                    check_name(name, path, "volume")?;
                    let vp = keypath(path, &name.name);
                    p.volumes
                        .insert(name.name.clone(), volume(&name.name, node, &vp, cx)?);
                }
            }
            "secrets" | "configs" => {
                for (name, node) in entries_or_empty(v, path)? {
                    check_name(name, path, "name")?;
                    let op = keypath(path, &name.name);
                    let object = file_object(&name.name, node, &op, path == "configs", cx)?;
                    if path == "secrets" {
                        p.secrets.insert(name.name.clone(), object);
                    } else {
                        p.configs.insert(name.name.clone(), object);
                    }
                }
            }
            x if x.starts_with("x-") => {
                p.extensions.insert(k.name.clone(), v.to_json());
            }
            other => return Err(unknown(k, "", other)),
        }
    }
    Ok(p)
}

fn check_name(k: &Key, path: &str, what: &str) -> Result<(), Error> {
    let ok = !k.name.is_empty()
        && k.name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            &k.loc,
            path,
            format!(
                "invalid {what} name {:?}: use letters, digits, '.', '_' and '-'",
                k.name
            ),
        ))
    }
}

fn network(key: &str, v: &Node, path: &str, cx: &mut Context<'_>) -> Result<Network, Error> {
    let mut n = Network::default();
    let mut name = None;
    for (k, v) in entries_or_empty(v, path)? {
        let p = keypath(path, &k.name);
        if v.value == Value::Null {
            continue;
        }
        match k.name.as_str() {
            "name" => name = Some(string(v, &p)?),
            "driver" => n.driver = Some(string(v, &p)?),
            "driver_opts" => n.driver_opts = string_map(v, &p)?,
            "external" => n.external = external(v, &p, &mut name)?,
            "internal" => n.internal = boolean(v, &p)?,
            "attachable" => n.attachable = boolean(v, &p)?,
            "enable_ipv6" => n.enable_ipv6 = Some(boolean(v, &p)?),
            "labels" => n.labels = string_map(v, &p)?,
            "ipam" => n.ipam = Some(ipam(v, &p)?),
            "enable_ipv4" => {
                cx.warnings.insert(format!("{p} is ignored"));
            }
            x if x.starts_with("x-") => {}
            other => return Err(unknown(k, path, other)),
        }
    }
    n.name = resource_name(name, key, n.external, cx.project);
    Ok(n)
}

fn ipam(v: &Node, path: &str) -> Result<Ipam, Error> {
    let mut ipam = Ipam::default();
    for (k, v) in entries(v, path)? {
        let p = keypath(path, &k.name);
        if v.value == Value::Null {
            continue;
        }
        match k.name.as_str() {
            "driver" => ipam.driver = Some(string(v, &p)?),
            "options" => ipam.options = string_map(v, &p)?,
            "config" => {
                for (i, pool) in seq(v, &p)?.iter().enumerate() {
                    let pp = format!("{p}[{i}]");
                    let mut out = IpamPool::default();
                    for (k, v) in entries(pool, &pp)? {
                        let kp = keypath(&pp, &k.name);
                        match k.name.as_str() {
                            "subnet" => out.subnet = Some(string(v, &kp)?),
                            "ip_range" => out.ip_range = Some(string(v, &kp)?),
                            "gateway" => out.gateway = Some(string(v, &kp)?),
                            "aux_addresses" => out.aux_addresses = string_map(v, &kp)?,
                            x if x.starts_with("x-") => {}
                            other => return Err(unknown(k, &pp, other)),
                        }
                    }
                    ipam.config.push(out);
                }
            }
            x if x.starts_with("x-") => {}
            other => return Err(unknown(k, path, other)),
        }
    }
    Ok(ipam)
}

fn volume(key: &str, v: &Node, path: &str, cx: &mut Context<'_>) -> Result<Volume, Error> {
    let mut vol = Volume::default();
    let mut name = None;
    for (k, v) in entries_or_empty(v, path)? {
        let p = keypath(path, &k.name);
        if v.value == Value::Null {
            continue;
        }
        match k.name.as_str() {
            "name" => name = Some(string(v, &p)?),
            "driver" => vol.driver = Some(string(v, &p)?),
            "driver_opts" => vol.driver_opts = string_map(v, &p)?,
            "external" => vol.external = external(v, &p, &mut name)?,
            "labels" => vol.labels = string_map(v, &p)?,
            x if x.starts_with("x-") => {}
            other => return Err(unknown(k, path, other)),
        }
    }
    vol.name = resource_name(name, key, vol.external, cx.project);
    Ok(vol)
}

fn file_object(
    key: &str,
    v: &Node,
    path: &str,
    is_config: bool,
    cx: &mut Context<'_>,
) -> Result<FileObject, Error> {
    let mut o = FileObject::default();
    let mut name = None;
    for (k, v) in entries(v, path)? {
        let p = keypath(path, &k.name);
        if v.value == Value::Null {
            continue;
        }
        match k.name.as_str() {
            "name" => name = Some(string(v, &p)?),
            "file" => o.file = Some(string(v, &p)?),
            "environment" => o.environment = Some(string(v, &p)?),
            "content" if is_config => o.content = Some(string(v, &p)?),
            "external" => o.external = external(v, &p, &mut name)?,
            "labels" | "driver" | "driver_opts" | "template_driver" => {
                cx.warnings.insert(format!("{p} is ignored (swarm only)"));
            }
            x if x.starts_with("x-") => {}
            other => return Err(unknown(k, path, other)),
        }
    }
    let sources = [&o.file, &o.environment, &o.content]
        .iter()
        .filter(|s| s.is_some())
        .count();
    if o.external && sources > 0 {
        return Err(invalid(
            &v.loc,
            path,
            "an external one has no file, environment or content",
        ));
    }
    if !o.external && sources != 1 {
        let what = if is_config {
            "one of file, environment or content"
        } else {
            "one of file or environment"
        };
        return Err(invalid(&v.loc, path, format!("needs exactly {what}")));
    }
    o.name = resource_name(name, key, o.external, cx.project);
    Ok(o)
}

/// `external: true`, or the legacy `external: {name: x}` (which also names the resource).
fn external(v: &Node, path: &str, name: &mut Option<String>) -> Result<bool, Error> {
    if let Value::Map(_) = v.value {
        for (k, ev) in entries(v, path)? {
            match k.name.as_str() {
                "name" => *name = Some(string(ev, &keypath(path, "name"))?),
                other => return Err(unknown(k, path, other)),
            }
        }
        return Ok(true);
    }
    boolean(v, path)
}

fn resource_name(name: Option<String>, key: &str, external: bool, project: &str) -> String {
    match name {
        Some(n) => n,
        None if external => key.to_string(),
        None => format!("{project}_{key}"),
    }
}

// ---- typed readers over nodes ----

pub(crate) fn unknown(k: &Key, path: &str, name: &str) -> Error {
    invalid(&k.loc, path, format!("unknown key {name:?}"))
}

fn type_error(v: &Node, path: &str, want: &str) -> Error {
    invalid(&v.loc, path, format!("must be {want}, not {}", v.kind()))
}

pub(crate) fn entries<'a>(v: &'a Node, path: &str) -> Result<&'a [(Key, Node)], Error> {
    match &v.value {
        Value::Map(e) => Ok(e),
        _ => Err(type_error(v, path, "a mapping")),
    }
}

/// A mapping, or null read as an empty one (`networks:` with nothing under it).
pub(crate) fn entries_or_empty<'a>(v: &'a Node, path: &str) -> Result<&'a [(Key, Node)], Error> {
    match &v.value {
        Value::Null => Ok(&[]),
        _ => entries(v, path),
    }
}

pub(crate) fn seq<'a>(v: &'a Node, path: &str) -> Result<&'a [Node], Error> {
    match &v.value {
        Value::Seq(items) => Ok(items),
        _ => Err(type_error(v, path, "a sequence")),
    }
}

pub(crate) fn string(v: &Node, path: &str) -> Result<String, Error> {
    match &v.value {
        Value::Str(s, _) => Ok(s.clone()),
        _ => Err(type_error(v, path, "a string")),
    }
}

pub(crate) fn boolean(v: &Node, path: &str) -> Result<bool, Error> {
    let s = string(v, path)?;
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "y" => Ok(true),
        "false" | "no" | "off" | "n" => Ok(false),
        _ => Err(invalid(
            &v.loc,
            path,
            format!("must be a boolean, not {s:?}"),
        )),
    }
}

/// An integer of type `T`, written as a number or a numeric string.
pub(crate) fn integer<T: TryFrom<i64>>(v: &Node, path: &str) -> Result<T, Error> {
    let s = string(v, path)?;
    let n = i64::from_str(s.trim())
        .map_err(|_| invalid(&v.loc, path, format!("must be an integer, not {s:?}")))?;
    T::try_from(n).map_err(|_| invalid(&v.loc, path, format!("{n} is out of range")))
}

pub(crate) fn float(v: &Node, path: &str) -> Result<f64, Error> {
    let s = string(v, path)?;
    match f64::from_str(s.trim()) {
        Ok(f) if f.is_finite() && f >= 0.0 => Ok(f),
        _ => Err(invalid(
            &v.loc,
            path,
            format!("must be a non-negative number, not {s:?}"),
        )),
    }
}

pub(crate) fn duration(v: &Node, path: &str) -> Result<Duration, Error> {
    let s = string(v, path)?;
    Duration::parse(s.trim()).map_err(|m| invalid(&v.loc, path, m))
}

pub(crate) fn byte_size(v: &Node, path: &str) -> Result<ByteSize, Error> {
    let s = string(v, path)?;
    ByteSize::parse(&s).map_err(|m| invalid(&v.loc, path, m))
}

/// A sequence of strings.
pub(crate) fn string_list(v: &Node, path: &str) -> Result<Vec<String>, Error> {
    seq(v, path)?
        .iter()
        .enumerate()
        .map(|(i, item)| string(item, &format!("{path}[{i}]")))
        .collect()
}

/// One string or a sequence of them.
pub(crate) fn string_or_list(v: &Node, path: &str) -> Result<Vec<String>, Error> {
    match &v.value {
        Value::Str(s, _) => Ok(vec![s.clone()]),
        _ => string_list(v, path),
    }
}

/// A mapping of scalars, or a sequence of `key=value` (or bare `key`) strings. Returns the
/// entries in order with where each came from; `None` is a key without a value.
pub(crate) fn dict(
    v: &Node,
    path: &str,
    sep: char,
) -> Result<Vec<(String, Option<String>, Location)>, Error> {
    match &v.value {
        Value::Map(entries) => entries
            .iter()
            .map(|(k, val)| {
                let p = keypath(path, &k.name);
                let value = match &val.value {
                    Value::Null => None,
                    Value::Str(s, _) => Some(s.clone()),
                    _ => return Err(type_error(val, &p, "a string")),
                };
                Ok((k.name.clone(), value, k.loc.clone()))
            })
            .collect(),
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let s = string(item, &format!("{path}[{i}]"))?;
                Ok(match s.split_once(sep) {
                    Some((k, val)) => (k.to_string(), Some(val.to_string()), item.loc.clone()),
                    None => (s, None, item.loc.clone()),
                })
            })
            .collect(),
        _ => Err(type_error(v, path, "a mapping or a sequence")),
    }
}

/// A `dict` whose keys without a value mean an empty string (labels, options).
pub(crate) fn string_map(v: &Node, path: &str) -> Result<BTreeMap<String, String>, Error> {
    Ok(dict(v, path, '=')?
        .into_iter()
        .map(|(k, v, _)| (k, v.unwrap_or_default()))
        .collect())
}
