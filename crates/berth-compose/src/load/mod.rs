//! Loading a project: finding the compose files, the environment (`.env`, `--env-file`, the
//! process), the project name, then reading each file (interpolated, paths made absolute,
//! `include` and `extends` applied), merging them in order, and converting, filtering by
//! profiles and validating the result.

mod extends;
mod file;
mod include;
pub(crate) mod merge;
pub(crate) mod paths;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::{Error, invalid};
use crate::interpolate::Environment;
use crate::model::{Network, Project};
use crate::yaml::{Location, Node, Value};
use crate::{convert, profiles, validate};

/// The names `docker compose` looks for, in order of preference.
pub const DEFAULT_FILES: &[&str] = &[
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

/// The override files merged after a discovered file, when present.
const OVERRIDE_FILES: &[&str] = &[
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
];

/// What `docker compose`'s global flags say about the project.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-f`, in merge order; `-` reads standard input. Empty: `COMPOSE_FILE`, else the first
    /// of [`DEFAULT_FILES`] found in the working directory or a parent (with its override).
    pub files: Vec<PathBuf>,
    /// `-p`. Else `COMPOSE_PROJECT_NAME`, else `name:`, else the project directory's name.
    pub project_name: Option<String>,
    /// `--project-directory`. Else the first file's directory.
    pub project_directory: Option<PathBuf>,
    /// `--env-file`, replacing the project directory's `.env`.
    pub env_files: Vec<PathBuf>,
    /// `--profile`. Empty: `COMPOSE_PROFILES` (comma-separated).
    pub profiles: Vec<String>,
    /// Services named on the command line: enabled whatever their profiles, with what they
    /// depend on.
    pub services: Vec<String>,
    /// Where relative paths of `files` and the discovery start. `None`: the current directory.
    pub working_dir: Option<PathBuf>,
    /// The process environment. `None`: this process's.
    pub os_env: Option<Environment>,
}

/// Loads, merges, resolves and validates a project.
pub fn load(opts: &LoadOptions) -> Result<Project, Error> {
    let cwd = match &opts.working_dir {
        Some(d) => d.clone(),
        None => std::env::current_dir().map_err(|e| Error::io(".", e))?,
    };
    let os_env: Environment = opts
        .os_env
        .clone()
        .unwrap_or_else(|| std::env::vars().collect());
    let explicit_dir = opts
        .project_directory
        .as_ref()
        .map(|d| paths::clean(&cwd.join(d)));

    // The environment first comes from the working (or given) directory: it may name the files.
    let env_dir = explicit_dir.clone().unwrap_or_else(|| cwd.clone());
    let (mut env, mut env_files) = environment(opts, &cwd, &env_dir, &os_env)?;

    let files = compose_files(opts, &cwd, &env)?;
    let project_dir = match (&explicit_dir, files.first()) {
        (Some(d), _) => d.clone(),
        (None, Some(f)) if f.as_os_str() != "-" => {
            f.parent().map_or_else(|| cwd.clone(), Path::to_path_buf)
        }
        _ => cwd.clone(),
    };
    if project_dir != env_dir && opts.env_files.is_empty() {
        (env, env_files) = environment(opts, &cwd, &project_dir, &os_env)?;
    }

    let (mut merged, mut warnings) = read_files(&files, &env, &project_dir)?;
    let name = project_name(opts, &env, &merged, &project_dir)?;
    // The project name is exposed to interpolation and to `environment` as
    // COMPOSE_PROJECT_NAME; when it was not already set, the files are read again with it.
    if env.get(PROJECT_NAME_VAR) != Some(&name) {
        env.insert(PROJECT_NAME_VAR.to_string(), name.clone());
        (merged, warnings) = read_files(&files, &env, &project_dir)?;
    }

    paths::default_build_context(&mut merged, &project_dir);
    let mut cx = convert::Context {
        project: &name,
        env: &env,
        warnings: &mut warnings,
    };
    let mut project = convert::project(&merged, &mut cx)?;
    project.working_dir = project_dir;
    project.config_files = files;
    project.env_files = env_files;

    let active = if opts.profiles.is_empty() {
        env.get("COMPOSE_PROFILES")
            .map(|p| {
                p.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    } else {
        opts.profiles.clone()
    };
    profiles::apply(&mut project, &active, &opts.services)?;
    add_default_network(&mut project);
    validate::project(&project)?;
    project.warnings = warnings.into_iter().collect();
    Ok(project)
}

/// The variable that holds the project name, both as input and for interpolation.
const PROJECT_NAME_VAR: &str = "COMPOSE_PROJECT_NAME";

/// Reads each file (interpolated, `include` and `extends` applied), checks it, and merges
/// them in order.
fn read_files(
    files: &[PathBuf],
    env: &Environment,
    project_dir: &Path,
) -> Result<(Node, BTreeSet<String>), Error> {
    let mut warnings = BTreeSet::new();
    let mut merged = Node::map(Vec::new(), Location::default());
    for f in files {
        let mut loader = file::Loader::new(env.clone(), &mut warnings);
        let tree = loader.load(f, project_dir)?;
        // Each file must be well-formed on its own (keys, types), as the specification's
        // schema requires, so that merging only ever sees values of the right shape.
        convert::project(
            &tree,
            &mut convert::Context {
                project: "check",
                env,
                warnings: &mut warnings,
            },
        )?;
        merged = merge::merge(merged, tree);
    }
    Ok((merged, warnings))
}

/// The interpolation environment: the env files (`--env-file`, else `dir/.env`) under the
/// process environment, which wins.
fn environment(
    opts: &LoadOptions,
    cwd: &Path,
    dir: &Path,
    os_env: &Environment,
) -> Result<(Environment, Vec<PathBuf>), Error> {
    let files: Vec<PathBuf> = if opts.env_files.is_empty() {
        let dotenv = dir.join(".env");
        if dotenv.is_file() {
            vec![dotenv]
        } else {
            Vec::new()
        }
    } else {
        opts.env_files
            .iter()
            .map(|f| paths::clean(&cwd.join(f)))
            .collect()
    };
    let mut env = Environment::new();
    for f in &files {
        let mut scope = env.clone();
        scope.extend(os_env.clone());
        for (k, v) in crate::dotenv::read(f, &scope)? {
            if let Some(v) = v {
                env.insert(k, v);
            }
        }
    }
    env.extend(os_env.clone());
    Ok((env, files))
}

fn compose_files(opts: &LoadOptions, cwd: &Path, env: &Environment) -> Result<Vec<PathBuf>, Error> {
    let absolute = |f: &Path| {
        if f.as_os_str() == "-" {
            f.to_path_buf()
        } else {
            paths::clean(&cwd.join(f))
        }
    };
    if !opts.files.is_empty() {
        return Ok(opts.files.iter().map(|f| absolute(f)).collect());
    }
    if let Some(list) = env.get("COMPOSE_FILE").filter(|l| !l.is_empty()) {
        let sep = env
            .get("COMPOSE_PATH_SEPARATOR")
            .and_then(|s| s.chars().next())
            .unwrap_or(':');
        return Ok(list
            .split(sep)
            .filter(|f| !f.is_empty())
            .map(|f| absolute(Path::new(f)))
            .collect());
    }
    discover(cwd)
}

/// The first directory from `start` upwards that holds one of [`DEFAULT_FILES`]: that file,
/// then its override file if there is one.
pub fn discover(start: &Path) -> Result<Vec<PathBuf>, Error> {
    for dir in start.ancestors() {
        if let Some(main) = DEFAULT_FILES
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.is_file())
        {
            let mut files = vec![main];
            if let Some(o) = OVERRIDE_FILES
                .iter()
                .map(|f| dir.join(f))
                .find(|p| p.is_file())
            {
                files.push(o);
            }
            return Ok(files);
        }
    }
    Err(Error::Failed(format!(
        "no configuration file provided: none of {} found in {} or its parents",
        DEFAULT_FILES.join(", "),
        start.display()
    )))
}

fn project_name(
    opts: &LoadOptions,
    env: &Environment,
    merged: &Node,
    project_dir: &Path,
) -> Result<String, Error> {
    let given = opts
        .project_name
        .clone()
        .or_else(|| env.get(PROJECT_NAME_VAR).filter(|n| !n.is_empty()).cloned());
    if let Some(name) = given {
        check_project_name(&name).map_err(Error::Failed)?;
        return Ok(name);
    }
    if let Some(node) = merged.get("name") {
        let name = node.as_str().unwrap_or_default();
        check_project_name(name).map_err(|m| invalid(&node.loc, "name", m))?;
        return Ok(name.to_string());
    }
    let dir = project_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = normalize_project_name(&dir);
    check_project_name(&name).map_err(|m| {
        Error::Failed(format!(
            "{m} (from the directory {}); set one with -p or `name:`",
            project_dir.display()
        ))
    })?;
    Ok(name)
}

/// A directory name made into a project name: lowercase, only `a-z0-9_-`, starting with a
/// letter or digit.
pub fn normalize_project_name(s: &str) -> String {
    let lower: String = s
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'))
        .collect();
    lower.trim_start_matches(['_', '-']).to_string()
}

/// Project names are lowercase letters, digits, `_` and `-`, starting with a letter or digit.
pub fn check_project_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'));
    if ok {
        Ok(())
    } else if name.is_empty() {
        Err("the project name is empty".to_string())
    } else {
        Err(format!(
            "invalid project name {name:?}: use lowercase letters, digits, '_' and '-', starting with a letter or digit"
        ))
    }
}

/// Services with neither `networks` nor `network_mode` join the `default` network, which
/// exists as `<project>_default` unless the file declares it.
fn add_default_network(p: &mut Project) {
    let mut used = false;
    for s in p.services.values_mut() {
        if s.network_mode.is_none() && s.networks.is_empty() {
            s.networks.insert("default".to_string(), None);
        }
        used |= s.networks.contains_key("default");
    }
    if used && !p.networks.contains_key("default") {
        p.networks.insert(
            "default".to_string(),
            Network {
                name: format!("{}_default", p.name),
                ..Network::default()
            },
        );
    }
}

/// Whether a tree's root is a mapping with something in it.
fn check_root(tree: &Node, file: &Path) -> Result<(), Error> {
    match &tree.value {
        Value::Map(entries) if !entries.is_empty() => Ok(()),
        Value::Map(_) | Value::Null => Err(invalid(
            &tree.loc,
            "",
            format!("{} is empty", file.display()),
        )),
        _ => Err(invalid(
            &tree.loc,
            "",
            "the top level of a compose file must be a mapping",
        )),
    }
}
