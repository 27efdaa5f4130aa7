//! `extends`: a service starts from another one, in the same file or another, and merges its
//! own keys onto it. Chains are followed; cycles are refused.

use std::path::{Path, PathBuf};

use super::file::Loader;
use super::merge::merge_service;
use crate::convert::{entries, string, unknown};
use crate::error::{Error, invalid};
use crate::keypath;
use crate::yaml::{Node, Value};

/// Replaces every service of `tree` (loaded from `file`) that has `extends` with the merge.
pub(crate) fn apply(l: &mut Loader<'_>, tree: &mut Node, file: &Path) -> Result<(), Error> {
    let names: Vec<String> = match tree.get("services").map(|s| &s.value) {
        Some(Value::Map(services)) => services
            .iter()
            .filter(|(_, s)| s.get("extends").is_some())
            .map(|(k, _)| k.name.clone())
            .collect(),
        _ => return Ok(()),
    };
    let snapshot = tree.clone();
    for name in names {
        let resolved = resolve(l, &snapshot, file, &name, &mut Vec::new())?;
        if let Some(services) = tree.get_mut("services") {
            services.set(&name, resolved);
        }
    }
    Ok(())
}

/// The service `name` of `tree` with its `extends` chain applied.
fn resolve(
    l: &mut Loader<'_>,
    tree: &Node,
    file: &Path,
    name: &str,
    stack: &mut Vec<(PathBuf, String)>,
) -> Result<Node, Error> {
    let path = keypath("services", name);
    let Some(service) = tree.get("services").and_then(|s| s.get(name)) else {
        return Err(Error::Failed(format!(
            "cannot extend service {name:?}: no such service in {}",
            file.display()
        )));
    };
    let Some(ext) = service.get("extends") else {
        return Ok(service.clone());
    };
    let ep = keypath(&path, "extends");
    let (other_file, base_name) = match &ext.value {
        Value::Str(s, _) => (None, s.clone()),
        _ => {
            let (mut f, mut s) = (None, None);
            for (k, v) in entries(ext, &ep)? {
                match k.name.as_str() {
                    "file" => f = Some(PathBuf::from(string(v, &keypath(&ep, "file"))?)),
                    "service" => s = Some(string(v, &keypath(&ep, "service"))?),
                    other => return Err(unknown(k, &ep, other)),
                }
            }
            let s = s.ok_or_else(|| invalid(&ext.loc, &ep, "needs a service"))?;
            (f, s)
        }
    };
    let here = (file.to_path_buf(), name.to_string());
    if stack.contains(&here) {
        let chain: Vec<String> = stack
            .iter()
            .chain(std::iter::once(&here))
            .map(|(_, s)| s.clone())
            .collect();
        return Err(invalid(
            &ext.loc,
            &ep,
            format!("circular extends: {}", chain.join(" -> ")),
        ));
    }
    stack.push(here);
    let base = match other_file {
        None => resolve(l, tree, file, &base_name, stack)?,
        Some(other) => {
            let mut other_tree = l.read_tree(&other)?;
            let dir = other.parent().unwrap_or(Path::new("/")).to_path_buf();
            let home = l.env.get("HOME").cloned();
            super::paths::resolve(&mut other_tree, &dir, home.as_deref());
            super::paths::default_build_context(&mut other_tree, &dir);
            resolve(l, &other_tree, &other, &base_name, stack)?
        }
    };
    stack.pop();
    let mut own = service.clone();
    own.remove("extends");
    let mut base = base;
    base.remove("extends");
    Ok(merge_service(name, base, own))
}
