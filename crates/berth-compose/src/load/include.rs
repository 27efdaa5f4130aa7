//! `include`: other compose projects loaded on their own (own directory, own `.env`) and
//! added to this one. A resource defined both here and in an included project is an error.

use std::path::{Path, PathBuf};

use super::file::Loader;
use super::merge::merge;
use super::paths;
use crate::convert::{entries, seq, string, string_or_list, unknown};
use crate::error::{Error, invalid};
use crate::interpolate::Environment;
use crate::yaml::{Location, Node, Value};

const SECTIONS: &[&str] = &["services", "networks", "volumes", "secrets", "configs"];

pub(crate) fn apply(l: &mut Loader<'_>, tree: &mut Node, file_dir: &Path) -> Result<(), Error> {
    let Some(include) = tree.remove("include") else {
        return Ok(());
    };
    if include.value == Value::Null {
        return Ok(());
    }
    let home = l.env.get("HOME").cloned();
    let abs = |p: &str| PathBuf::from(paths::absolute(file_dir, p, home.as_deref()));
    let mut imported = Node::map(Vec::new(), Location::default());
    for (i, item) in seq(&include, "include")?.iter().enumerate() {
        let ip = format!("include[{i}]");
        let (files, project_dir, env_files) = match &item.value {
            Value::Str(s, _) => (vec![abs(s)], None, Vec::new()),
            _ => {
                let (mut files, mut dir, mut envs) = (Vec::new(), None, Vec::new());
                for (k, v) in entries(item, &ip)? {
                    let kp = format!("{ip}.{}", k.name);
                    match k.name.as_str() {
                        "path" => files = string_or_list(v, &kp)?.iter().map(|p| abs(p)).collect(),
                        "project_directory" => dir = Some(abs(&string(v, &kp)?)),
                        "env_file" => {
                            envs = string_or_list(v, &kp)?.iter().map(|p| abs(p)).collect()
                        }
                        other => return Err(unknown(k, &ip, other)),
                    }
                }
                (files, dir, envs)
            }
        };
        let Some(first) = files.first() else {
            return Err(invalid(&item.loc, &ip, "needs a path"));
        };
        let project_dir =
            project_dir.unwrap_or_else(|| first.parent().unwrap_or(Path::new("/")).to_path_buf());
        let env = included_env(&l.env, &project_dir, env_files)?;
        let mut nested = l.nested(env);
        let mut sub = Node::map(Vec::new(), Location::default());
        for f in &files {
            let t = nested.load(f, &project_dir)?;
            sub = merge(sub, t);
        }
        sub.remove("name");
        paths::default_build_context(&mut sub, &project_dir);
        imported = merge(imported, sub);
    }
    for section in SECTIONS {
        let (Some(Value::Map(ours)), Some(Value::Map(theirs))) = (
            tree.get(section).map(|n| &n.value),
            imported.get(section).map(|n| &n.value),
        ) else {
            continue;
        };
        if let Some((k, _)) = ours
            .iter()
            .find(|(k, _)| theirs.iter().any(|(t, _)| t.name == k.name))
        {
            return Err(invalid(
                &k.loc,
                &format!("{section}.{}", k.name),
                "conflicts with a definition imported by include",
            ));
        }
    }
    *tree = merge(
        imported,
        std::mem::replace(tree, Node::map(Vec::new(), Location::default())),
    );
    Ok(())
}

/// An included project's variables: its env files (default: `.env` in its directory), under
/// the including project's, which win.
fn included_env(
    parent: &Environment,
    project_dir: &Path,
    env_files: Vec<PathBuf>,
) -> Result<Environment, Error> {
    let files = if env_files.is_empty() {
        let dotenv = project_dir.join(".env");
        if dotenv.is_file() {
            vec![dotenv]
        } else {
            Vec::new()
        }
    } else {
        env_files
    };
    let mut env = Environment::new();
    for f in files {
        let mut scope = env.clone();
        scope.extend(parent.clone());
        for (k, v) in crate::dotenv::read(&f, &scope)? {
            if let Some(v) = v {
                env.insert(k, v);
            }
        }
    }
    env.extend(parent.clone());
    Ok(env)
}
