//! The steps whose layers the builder writes itself: COPY, ADD and WORKDIR.

use std::path::Path;
use std::time::SystemTime;

use berth_image::Layer;

use crate::abs_path::clean;
use crate::archive::Spool;
use crate::cache::BuildCache;
use crate::copy::{self, Placement, Source};
use crate::download;
use crate::error::{BuildError, Result};
use crate::expansion::{self, Vars};
use crate::host::BuildHost;
use crate::instructions::CopyArgs;
use crate::layer_tar::{LayerEntries, TarEntry};
use crate::one_file::OneFileTree;
use crate::tree::{self, ResolveError, RootfsTree, Tree};
use crate::users;

use super::{Builder, ImageState, StageState};

impl<H: BuildHost + ?Sized, C: BuildCache + ?Sized> Builder<'_, H, C> {
    pub(super) fn copy(
        &mut self,
        state: &mut StageState,
        args: &CopyArgs,
        add: bool,
    ) -> Result<()> {
        let instruction = if add { "ADD" } else { "COPY" };
        let fail = |message: String| BuildError::Copy {
            instruction,
            message,
        };
        let env = self.env(state);
        let vars = Vars::new(env.iter().map(String::as_str));
        let expand = |word: &str| expansion::expand(word, self.escape, &vars);
        let sources: Vec<String> = args
            .sources
            .iter()
            .map(|s| expand(s))
            .collect::<Result<_>>()?;
        let dest = normalize_dest(&state.image.config.config.working_dir, &expand(&args.dest)?);
        let chown = args.chown.as_deref().map(expand).transpose()?;
        let chmod_text = args.chmod.as_deref().map(expand).transpose()?;
        let chmod = chmod_text.as_deref().map(parse_chmod).transpose()?;

        let from_mount = match &args.from {
            Some(from) => {
                let image = self.copy_source_image(state, from)?;
                Some(self.mount(&image.layers)?)
            }
            None => None,
        };
        let from_tree = from_mount.as_ref().map(|m| RootfsTree::new(m.path()));
        let context = self.context;
        let tree: &dyn Tree = match &from_tree {
            Some(t) => t,
            None => context,
        };

        let mut downloads = Vec::new();
        for source in sources.iter().filter(|s| add && download::is_url(s)) {
            let body = self.host.fetch_url(source).map_err(BuildError::Host)?;
            downloads.push(download::tree(source, body)?);
        }
        let inline = args
            .inline
            .iter()
            .map(|doc| {
                let body = doc.body();
                let text = if doc.expand {
                    expansion::expand_heredoc(&body, self.escape, &vars)?
                } else {
                    body
                };
                self.inline_file(&doc.name, text.as_bytes())
            })
            .collect::<Result<Vec<_>>>()?;
        let mut found: Vec<(Source<'_>, bool)> =
            inline.iter().map(|t| (one_file_source(t), false)).collect();
        let mut fetched = downloads.iter();
        // `--parents`: the source argument each found source came from.
        let mut parents: Vec<Option<String>> = vec![None; found.len()];
        for source in &sources {
            let fetched = if add && download::is_url(source) {
                fetched.next()
            } else {
                None
            };
            match fetched {
                Some(d) => {
                    if d.name().is_empty() && copy::ends_as_directory(&dest) {
                        return Err(fail(format!(
                            "cannot determine filename from url: {source}"
                        )));
                    }
                    found.push((one_file_source(d), false));
                    parents.resize(found.len(), None);
                }
                None => {
                    for s in copy::collect(tree, source).map_err(fail)? {
                        let unpack = add;
                        found.push((s, unpack));
                    }
                    parents.resize(found.len(), args.parents.then(|| source.clone()));
                }
            }
        }
        if found.is_empty() {
            return Err(fail("no source files were specified".to_owned()));
        }
        parents.resize(found.len(), None);
        if found.len() > 1 && !dest.ends_with('/') && !args.parents {
            return Err(BuildError::invalid(format!(
                "When using {instruction} with more than one source file, the destination must be a directory and end with a /"
            )));
        }

        let keep_owner = args.from.is_some() && chown.is_none();
        let hashes = found
            .iter()
            .zip(&parents)
            .map(|((s, _), parent_of)| {
                let hash = copy::source_hash(s, keep_owner)?;
                // With --parents where a source came from is part of the result.
                Ok(match parent_of {
                    Some(raw) => format!("{hash}@{}", copy::with_parents("/", raw, s)),
                    None => hash,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // Docker's history line, down to the missing space after --chown.
        let mut flags = String::new();
        if let Some(c) = &chown {
            flags.push_str(&format!("--chown={c}"));
        }
        if let Some(m) = &chmod_text {
            flags.push_str(&format!("--chmod={m}"));
        }
        if args.parents {
            flags.push_str("--parents ");
        }
        let hash = copy::combined_hash(&hashes);
        let config = state.image.config.config.clone();
        let created_by = format!(
            "{} #(nop) {instruction} {flags}{hash} in {dest} ",
            config.shell().join(" ")
        );
        self.commit(state, created_by, config, |b, state| {
            let mount = b.mount(&state.image.layers)?;
            let dest_tree = RootfsTree::new(mount.path());
            let owner = match &chown {
                Some(spec) => {
                    Some(users::resolve_chown(spec, &dest_tree).map_err(|e| fail(e.to_string()))?)
                }
                None if keep_owner => None,
                None => Some((0, 0)),
            };
            let spool_file = b.temp_file()?;
            let mut spool = Spool::new(&spool_file);
            let mut layer = LayerEntries::default();
            for ((source, unpack), parent_of) in found.iter().zip(&parents) {
                let placement = Placement {
                    owner,
                    chmod,
                    now: now(),
                    unpack: *unpack,
                };
                let dest = match parent_of {
                    Some(raw) => copy::with_parents(&dest, raw, source),
                    None => dest.clone(),
                };
                copy::place(
                    &mut layer, &dest_tree, &dest, source, &placement, &mut spool,
                )
                .map_err(|e| match e {
                    BuildError::Invalid(message) => fail(message),
                    other => other,
                })?;
            }
            b.write_layer(state, &layer).map(Some)
        })
    }

    /// WORKDIR: sets the directory and creates it (a layer) when the image lacks it.
    pub(super) fn workdir(&mut self, state: &mut StageState, path: &str) -> Result<()> {
        let mut config = state.image.config.config.clone();
        let dir = if path.starts_with('/') {
            clean(path)
        } else {
            clean(&format!("/{}/{path}", config.working_dir))
        };
        config.working_dir = dir.clone();
        let created_by = format!("{} #(nop) WORKDIR {dir}", config.shell().join(" "));
        self.commit(state, created_by, config, |b, state| {
            let mount = b.mount(&state.image.layers)?;
            let tree = RootfsTree::new(mount.path());
            let not_dir = || BuildError::invalid(format!("mkdir {dir}: not a directory"));
            let resolved = match tree::resolve(&tree, Path::new(&dir), true) {
                Ok(r) => r,
                Err(ResolveError::NotADirectory(_)) => return Err(not_dir()),
                Err(e) => return Err(BuildError::invalid(format!("mkdir {dir}: {e}"))),
            };
            match &resolved.node {
                Some(node) if node.is_dir() => Ok(None),
                Some(_) => Err(not_dir()),
                None => {
                    let mut layer = LayerEntries::default();
                    let now = now();
                    layer
                        .ensure_dir(&tree, &resolved.path, &|| TarEntry::dir(0o755, (0, 0), now))?;
                    b.write_layer(state, &layer).map(Some)
                }
            }
        })
    }

    /// `--from=`: an earlier stage by name or index, else an image.
    pub(super) fn copy_source_image(
        &mut self,
        state: &StageState,
        from: &str,
    ) -> Result<ImageState> {
        let lower = from.to_ascii_lowercase();
        if state.name.as_deref() == Some(lower.as_str()) {
            return Err(BuildError::invalid(format!(
                "invalid from flag value {from}: a stage cannot copy from itself"
            )));
        }
        if let Some(image) = self.earlier_stage(&lower) {
            return image;
        }
        if let Ok(index) = from.parse::<usize>() {
            return self.earlier_stage_at(index, from);
        }
        self.pull(from, None)
    }

    /// A COPY here-document as a file named after it, mode 0644.
    fn inline_file(&self, name: &str, content: &[u8]) -> Result<OneFileTree> {
        let mut file = self.temp_file()?;
        let io = |e| BuildError::io(format!("write the here-document {name}"), e);
        std::io::Write::write_all(&mut file, content).map_err(io)?;
        OneFileTree::new(file, name, 0o644, now()).map_err(io)
    }

    pub(super) fn temp_file(&self) -> Result<std::fs::File> {
        tempfile::tempfile_in(&self.options.tmp_dir).map_err(|e| {
            BuildError::io(
                format!("create a file in {}", self.options.tmp_dir.display()),
                e,
            )
        })
    }

    fn write_layer(&mut self, state: &StageState, layer: &LayerEntries<'_>) -> Result<Layer> {
        let mut file = self.temp_file()?;
        layer.write(&mut file)?;
        self.add_layer(state, &mut file)
    }
}

fn one_file_source(tree: &OneFileTree) -> Source<'_> {
    Source {
        tree,
        path: tree.path(),
        node: tree.node().clone(),
        name: tree.name().clone(),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn parse_chmod(text: &str) -> Result<u32> {
    u32::from_str_radix(text, 8)
        .ok()
        .filter(|mode| *mode <= 0o7777)
        .ok_or_else(|| BuildError::invalid(format!("invalid chmod parameter: {text}")))
}

/// A COPY destination: relative ones are below WORKDIR; a trailing slash is kept (it means
/// "a directory").
fn normalize_dest(workdir: &str, requested: &str) -> String {
    if requested.starts_with('/') {
        return requested.to_owned();
    }
    let mut dest = clean(&format!("/{workdir}/{requested}"));
    if requested.ends_with('/') && !dest.ends_with('/') {
        dest.push('/');
    }
    dest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_and_workdirs() {
        assert_eq!(normalize_dest("", "app"), "/app");
        assert_eq!(normalize_dest("/srv", "app/"), "/srv/app/");
        assert_eq!(normalize_dest("/srv", "."), "/srv");
        assert_eq!(normalize_dest("/srv", "./"), "/srv/");
        assert_eq!(normalize_dest("/srv", "/abs/x/"), "/abs/x/");
    }

    #[test]
    fn chmod_values() {
        assert_eq!(parse_chmod("755").unwrap(), 0o755);
        assert_eq!(parse_chmod("4755").unwrap(), 0o4755);
        assert!(parse_chmod("u+x").is_err());
        assert!(parse_chmod("17777").is_err());
    }
}
