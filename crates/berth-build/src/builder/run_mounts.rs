//! `RUN --mount`: first planned (options expanded and checked, secrets looked up, what each
//! mount's content is identified by, for the cache key), then, only when the step really runs,
//! prepared as host paths the container binds: a context or stage directory, a cache
//! directory kept between builds, a tmpfs, a secret file. Nothing a mount holds becomes part
//! of the step's layer.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use crate::archive::Spool;
use crate::cache::BuildCache;
use crate::copy::{self, Placement};
use crate::error::{BuildError, Result};
use crate::expansion::{self, Vars};
use crate::host::{BuildHost, CacheDir, StepMount};
use crate::layer_tar::LayerEntries;
use crate::run_mount::{self, MountType, RunMount, Sharing};
use crate::tree::{self, RootfsTree};

use super::{Builder, ImageState, Mount, StageState};

/// Where a bind's (or a cache's base) files come from.
enum Origin {
    Context,
    Image(Box<ImageState>),
}

enum Planned {
    Bind {
        target: String,
        origin: Origin,
        source: PathBuf,
        read_only: bool,
    },
    Cache {
        target: String,
        id: String,
        sharing: Sharing,
        read_only: bool,
        owner: (u32, u32),
        mode: u32,
        base: Option<(Origin, PathBuf)>,
    },
    Tmpfs {
        target: String,
        size: Option<u64>,
    },
    Secret {
        target: String,
        value: Vec<u8>,
        owner: (u32, u32),
        mode: u32,
    },
}

/// A RUN's mounts before anything is mounted.
pub(super) struct MountPlan {
    mounts: Vec<Planned>,
    /// Secrets given as environment variables (`KEY=value`).
    pub(super) env: Vec<String>,
    /// What the mounts add to the step's cache key.
    pub(super) key: String,
}

impl MountPlan {
    pub(super) fn has_secrets(&self) -> bool {
        !self.env.is_empty()
            || self
                .mounts
                .iter()
                .any(|m| matches!(m, Planned::Secret { .. }))
    }
}

/// A `#!` here-document RUN executes as a file.
pub(super) struct Script {
    pub(super) target: String,
    pub(super) body: String,
}

/// What a running step's mounts hold: unmounted, released and removed on drop.
pub(super) struct Prepared {
    pub(super) mounts: Vec<StepMount>,
    _roots: Vec<Mount>,
    _caches: Vec<Box<dyn CacheDir>>,
    _files: Option<tempfile::TempDir>,
}

impl<H: BuildHost + ?Sized, C: BuildCache + ?Sized> Builder<'_, H, C> {
    /// Expands and checks a RUN's `--mount`s. Errors name the Dockerfile line.
    pub(super) fn plan_mounts(
        &mut self,
        state: &StageState,
        raw: &[String],
        line: usize,
    ) -> Result<MountPlan> {
        let at_line = |message: String| BuildError::parse(line, message);
        let env = self.env(state);
        let vars = Vars::new(env.iter().map(String::as_str));
        let escape = self.escape;
        let expand = |v: &str| expansion::expand(v, escape, &vars).map_err(|e| e.to_string());
        let workdir = state.image.config.config.working_dir.clone();
        let mut plan = MountPlan {
            mounts: Vec::new(),
            env: Vec::new(),
            key: String::new(),
        };
        for raw in raw {
            let mount = run_mount::parse(raw, &expand).map_err(at_line)?;
            let describe = mount.describe(&workdir);
            let target = mount.target_path(&workdir);
            if target.as_deref() == Some("/") {
                return Err(at_line("invalid mount target \"/\"".to_owned()));
            }
            let target = target.unwrap_or_default();
            let (planned, identity) = match mount.kind {
                MountType::Bind => {
                    let source = inside(mount.source.as_deref().unwrap_or(""))
                        .ok_or_else(|| at_line(escapes(&mount)))?;
                    let (origin, identity) = self.mount_origin(state, &mount, &source, line)?;
                    let planned = Planned::Bind {
                        target,
                        origin,
                        source,
                        read_only: mount.read_only,
                    };
                    (Some(planned), identity)
                }
                MountType::Cache => {
                    let (base, identity) = match mount.from {
                        Some(_) => {
                            let source = inside(mount.source.as_deref().unwrap_or(""))
                                .ok_or_else(|| at_line(escapes(&mount)))?;
                            let (origin, identity) =
                                self.mount_origin(state, &mount, &source, line)?;
                            (Some((origin, source)), identity)
                        }
                        None => (None, String::new()),
                    };
                    let planned = Planned::Cache {
                        id: mount.id.clone().unwrap_or_else(|| target.clone()),
                        target,
                        sharing: mount.sharing,
                        read_only: mount.read_only,
                        owner: (mount.uid.unwrap_or(0), mount.gid.unwrap_or(0)),
                        mode: mount.mode.unwrap_or(0o755),
                        base,
                    };
                    (Some(planned), identity)
                }
                MountType::Tmpfs => (
                    Some(Planned::Tmpfs {
                        target,
                        size: mount.size,
                    }),
                    String::new(),
                ),
                MountType::Secret => {
                    let id = mount.secret_id();
                    match self.options.secrets.get(&id) {
                        None if mount.required => {
                            return Err(at_line(format!(
                                "secret {id} is required but was not given (berth build --secret id={id},src=...)"
                            )));
                        }
                        None => (None, String::new()),
                        Some(value) => {
                            if let Some(var) = &mount.env {
                                let value = String::from_utf8_lossy(value);
                                plan.env.push(format!("{var}={value}"));
                            }
                            let planned = (!target.is_empty()).then(|| Planned::Secret {
                                target,
                                value: value.to_vec(),
                                owner: (mount.uid.unwrap_or(0), mount.gid.unwrap_or(0)),
                                mode: mount.mode.unwrap_or(0o400),
                            });
                            (planned, String::new())
                        }
                    }
                }
            };
            plan.key.push_str(&describe);
            if !identity.is_empty() {
                plan.key.push_str(&format!("@{identity}"));
            }
            plan.key.push('\n');
            plan.mounts.extend(planned);
        }
        Ok(plan)
    }

    /// Where a bind's files come from (`from=`: a stage, else an image; the context when
    /// absent), and what identifies its content for the cache key.
    fn mount_origin(
        &mut self,
        state: &StageState,
        mount: &RunMount,
        source: &Path,
        line: usize,
    ) -> Result<(Origin, String)> {
        match &mount.from {
            Some(from) => {
                let image = self.copy_source_image(state, from)?;
                let identity = format!("image:{}", image.id_str());
                Ok((Origin::Image(Box::new(image)), identity))
            }
            None => {
                let found = copy::collect(self.context, &source.to_string_lossy())
                    .map_err(|m| BuildError::parse(line, format!("mount source: {m}")))?;
                let hashes = found
                    .iter()
                    .map(|s| copy::source_hash(s, true))
                    .collect::<Result<Vec<_>>>()?;
                Ok((Origin::Context, copy::combined_hash(&hashes)))
            }
        }
    }

    /// Mounts what the plan needs, right before the step runs.
    pub(super) fn prepare_mounts(
        &mut self,
        plan: &MountPlan,
        script: Option<&Script>,
    ) -> Result<Prepared> {
        let mut prepared = Prepared {
            mounts: Vec::new(),
            _roots: Vec::new(),
            _caches: Vec::new(),
            _files: None,
        };
        for planned in &plan.mounts {
            let mount = match planned {
                Planned::Bind {
                    target,
                    origin,
                    source,
                    read_only,
                } => {
                    let path = self.origin_path(origin, source, !read_only, &mut prepared)?;
                    StepMount::Bind {
                        source: path,
                        target: target.clone(),
                        read_only: *read_only,
                    }
                }
                Planned::Cache {
                    target,
                    id,
                    sharing,
                    read_only,
                    owner,
                    mode,
                    base,
                } => {
                    let dir = self
                        .host
                        .cache_dir(id, *sharing)
                        .map_err(BuildError::Host)?;
                    let path = dir.path().to_path_buf();
                    if dir.is_new() {
                        if let Some((origin, source)) = base {
                            let from = self.origin_path(origin, source, false, &mut prepared)?;
                            fill(&from, &path)?;
                        }
                        set_owner_and_mode(&path, *owner, *mode)?;
                    }
                    prepared._caches.push(dir);
                    StepMount::Bind {
                        source: path,
                        target: target.clone(),
                        read_only: *read_only,
                    }
                }
                Planned::Tmpfs { target, size } => StepMount::Tmpfs {
                    target: target.clone(),
                    size: *size,
                },
                Planned::Secret {
                    target,
                    value,
                    owner,
                    mode,
                } => {
                    let path = self.step_file(&mut prepared, value, *owner, *mode)?;
                    StepMount::Bind {
                        source: path,
                        target: target.clone(),
                        read_only: true,
                    }
                }
            };
            prepared.mounts.push(mount);
        }
        if let Some(script) = script {
            let path = self.step_file(&mut prepared, script.body.as_bytes(), (0, 0), 0o755)?;
            prepared.mounts.push(StepMount::Bind {
                source: path,
                target: script.target.clone(),
                read_only: true,
            });
        }
        Ok(prepared)
    }

    /// The host path of `source` in a bind's origin, mounted for as long as `prepared` lives.
    fn origin_path(
        &mut self,
        origin: &Origin,
        source: &Path,
        writable: bool,
        prepared: &mut Prepared,
    ) -> Result<PathBuf> {
        let not_found = || {
            BuildError::invalid(format!(
                "failed to mount {}: not found",
                Path::new("/").join(source).display()
            ))
        };
        match origin {
            Origin::Image(image) => {
                let mount = self.mount_layers(&image.layers, writable)?;
                let root = mount.path().to_path_buf();
                let resolved = tree::resolve(&RootfsTree::new(&root), source, true)
                    .map_err(|e| BuildError::invalid(format!("failed to mount: {e}")))?;
                resolved.node.ok_or_else(not_found)?;
                prepared._roots.push(mount);
                Ok(root.join(resolved.path))
            }
            Origin::Context => {
                // The context is never unpacked on the host: the source becomes a layer of its
                // own (below `ctx/`), mounted like a stage's.
                let found = copy::collect(self.context, &source.to_string_lossy())
                    .map_err(|_| not_found())?;
                let empty = tempfile::tempdir_in(&self.options.tmp_dir)
                    .map_err(|e| BuildError::io("create a temporary directory", e))?;
                let dest_tree = RootfsTree::new(empty.path());
                let spool_file = self.temp_file()?;
                let mut spool = Spool::new(&spool_file);
                let mut layer = LayerEntries::default();
                let placement = Placement {
                    owner: None,
                    chmod: None,
                    now: 0,
                    unpack: false,
                };
                let single_file = found.len() == 1 && !found[0].node.is_dir();
                for s in &found {
                    copy::place(&mut layer, &dest_tree, "/ctx/", s, &placement, &mut spool)?;
                }
                let mut tar = self.temp_file()?;
                layer.write(&mut tar)?;
                let stored = self
                    .host
                    .add_layer(None, &mut tar)
                    .map_err(BuildError::Host)?;
                let mount = self.mount_layers(&[stored], writable)?;
                let mut path = mount.path().join("ctx");
                if single_file && let Some(s) = found.first() {
                    path.push(&s.name);
                }
                prepared._roots.push(mount);
                Ok(path)
            }
        }
    }

    /// A file only this step's container sees (a secret, a script), in the build's run dir.
    fn step_file(
        &self,
        prepared: &mut Prepared,
        content: &[u8],
        owner: (u32, u32),
        mode: u32,
    ) -> Result<PathBuf> {
        if prepared._files.is_none() {
            let run_dir = &self.options.run_dir;
            fs::create_dir_all(run_dir)
                .map_err(|e| BuildError::io(format!("create {}", run_dir.display()), e))?;
            let dir = tempfile::Builder::new()
                .prefix("step-")
                .tempdir_in(run_dir)
                .map_err(|e| {
                    BuildError::io(format!("create a directory in {}", run_dir.display()), e)
                })?;
            prepared._files = Some(dir);
        }
        let dir = prepared
            ._files
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .unwrap_or_default();
        let path = dir.join(format!("file-{}", prepared.mounts.len()));
        let io = |e| BuildError::io(format!("write {}", path.display()), e);
        fs::write(&path, content).map_err(io)?;
        set_owner_and_mode(&path, owner, mode)?;
        Ok(path)
    }
}

/// `source` as a path relative to its root, or `None` when `..` leads above the root.
fn inside(source: &str) -> Option<PathBuf> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in Path::new(source).components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Some(parts.iter().collect())
}

fn escapes(mount: &RunMount) -> String {
    let what = if mount.from.is_some() {
        "its stage or image"
    } else {
        "the build context"
    };
    format!(
        "mount source {} leads outside {what}",
        mount.source.as_deref().unwrap_or_default()
    )
}

fn set_owner_and_mode(path: &Path, (uid, gid): (u32, u32), mode: u32) -> Result<()> {
    let io = |e| BuildError::io(format!("set the owner and mode of {}", path.display()), e);
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(io)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io)
}

/// Copies the tree at `from` into the empty directory `to`: directories, files and symlinks
/// (never followed), with their owners and modes; other kinds are left out.
fn fill(from: &Path, to: &Path) -> Result<()> {
    let io = |what: &Path| {
        let what = what.display().to_string();
        move |e| BuildError::io(format!("fill a cache mount from {what}"), e)
    };
    let meta = fs::symlink_metadata(from).map_err(io(from))?;
    if !meta.is_dir() {
        return Err(BuildError::invalid(format!(
            "the base of a cache mount must be a directory: {}",
            from.display()
        )));
    }
    for entry in fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let meta = fs::symlink_metadata(&src).map_err(io(&src))?;
        let kind = meta.file_type();
        if kind.is_dir() {
            fs::create_dir(&dst).map_err(io(&dst))?;
            fill(&src, &dst)?;
        } else if kind.is_file() {
            fs::copy(&src, &dst).map_err(io(&dst))?;
        } else if kind.is_symlink() {
            let target = fs::read_link(&src).map_err(io(&src))?;
            std::os::unix::fs::symlink(target, &dst).map_err(io(&dst))?;
        } else {
            continue;
        }
        use std::os::unix::fs::MetadataExt;
        std::os::unix::fs::lchown(&dst, Some(meta.uid()), Some(meta.gid())).map_err(io(&dst))?;
        if !kind.is_symlink() {
            fs::set_permissions(&dst, fs::Permissions::from_mode(meta.mode() & 0o7777))
                .map_err(io(&dst))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_stay_inside_their_root() {
        assert_eq!(inside("/a/b/../c"), Some(PathBuf::from("a/c")));
        assert_eq!(inside("./x"), Some(PathBuf::from("x")));
        assert_eq!(inside(""), Some(PathBuf::new()));
        assert_eq!(inside("../etc"), None);
        assert_eq!(inside("a/../../b"), None);
    }

    #[test]
    fn a_cache_base_is_copied_with_links_kept() {
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        fs::create_dir(from.path().join("d")).unwrap();
        fs::write(from.path().join("d/f"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", from.path().join("l")).unwrap();
        fill(from.path(), to.path()).unwrap();
        assert_eq!(fs::read_to_string(to.path().join("d/f")).unwrap(), "x");
        assert_eq!(
            fs::read_link(to.path().join("l")).unwrap(),
            Path::new("/etc/passwd")
        );
    }
}
