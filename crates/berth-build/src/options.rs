//! What a build request asks for: the `/build` query parameters the builder acts on.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Docker's defaults apply where the request says nothing (see [`BuildOptions::new`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOptions {
    /// `dockerfile`: its path inside the context.
    pub dockerfile: String,
    /// `t`, repeated: names to tag the image with (already validated by the caller).
    pub tags: Vec<String>,
    /// `buildargs`: a `null` value means "not given".
    pub build_args: BTreeMap<String, Option<String>>,
    /// `target`: the stage to stop at.
    pub target: Option<String>,
    /// `nocache`: run every step even when a cached result exists.
    pub no_cache: bool,
    /// `labels`: added to the final image, after everything else.
    pub labels: BTreeMap<String, String>,
    /// `q`: print only the image id (the whole output only if the build fails).
    pub quiet: bool,
    /// `rm`: remove a RUN's container once it succeeded.
    pub remove: bool,
    /// `forcerm`: remove RUN containers even when they failed.
    pub force_remove: bool,
    /// `pull`: pull base images even when present.
    pub pull: bool,
    /// `networkmode` for RUN containers.
    pub network_mode: String,
    /// `platform`: the default for FROM lines without `--platform`.
    pub platform: Option<String>,
    /// Secrets `RUN --mount=type=secret` may use, by id (`berth build --secret`). They are
    /// never printed, stored in a layer, the image config, its history or a cache key.
    pub secrets: Secrets,
    /// Where RUN steps' secret files and here-document scripts are written while the step
    /// runs: best on a tmpfs (the engine's exec root), never in an image.
    pub run_dir: PathBuf,
    /// Where the build keeps its temporary files (the context spool, layer tars): best on the
    /// same filesystem as the image store.
    pub tmp_dir: PathBuf,
}

impl BuildOptions {
    pub fn new(tmp_dir: PathBuf) -> Self {
        Self {
            dockerfile: "Dockerfile".to_owned(),
            tags: Vec::new(),
            build_args: BTreeMap::new(),
            target: None,
            no_cache: false,
            labels: BTreeMap::new(),
            quiet: false,
            remove: true,
            force_remove: false,
            pull: false,
            network_mode: "default".to_owned(),
            platform: None,
            secrets: Secrets::default(),
            run_dir: tmp_dir.clone(),
            tmp_dir,
        }
    }
}

/// Secret values by id; `Debug` shows only the ids.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets(BTreeMap<String, Vec<u8>>);

impl Secrets {
    pub fn insert(&mut self, id: impl Into<String>, value: Vec<u8>) {
        self.0.insert(id.into(), value);
    }

    pub fn get(&self, id: &str) -> Option<&[u8]> {
        self.0.get(id).map(Vec::as_slice)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}
