//! Running a build: the context and Dockerfile are read and checked first, then the stages the
//! target needs are built, each step by step as Docker's classic builder does (stages that do
//! not depend on each other at the same time, see [`schedule`]), each step either taken from
//! the cache or executed and committed as a new image state (config, history entry, maybe a
//! layer).

mod console;
mod dispatch;
mod files;
mod graph;
mod in_flight;
mod run;
mod run_mounts;
mod schedule;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use berth_image::{ChainId, Digest, Layer, chain_id};

use crate::args::{BuildArgs, StageArgs};
use crate::cache::{BuildCache, CacheKey, CachedStep};
use crate::compression::{self, BLOCK};
use crate::config::{ContainerConfig, History, ImageConfig, rfc3339};
use crate::context::{BuildContext, MAX_DOCKERFILE};
use crate::dockerignore::Dockerignore;
use crate::error::{BuildError, Result};
use crate::expansion::{self, Vars};
use crate::host::{BuildHost, BuiltImage, MountedRootfs, Progress};
use crate::instructions::{Dockerfile, Instruction, KeyValue, Stage, Step, parse_dockerfile};
use crate::options::BuildOptions;
use crate::progress::Output;

use self::console::StageOutput;
use self::graph::StageGraph;
use self::in_flight::InFlight;
use self::schedule::{Plan, StageResult};

/// Docker's PATH for images that have none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Builds the image described by the context's Dockerfile, stores and tags it through `host`,
/// and returns it. `context` is the `/build` request body: a tar archive (plain or
/// compressed) or a lone Dockerfile. Output goes to `progress` line by line, as Docker's
/// `{"stream": ...}` messages; on error the caller reports the error after it.
pub fn build<H, C>(
    host: &H,
    cache: &C,
    context: impl Read,
    options: &BuildOptions,
    progress: &mut dyn Progress,
) -> Result<BuiltImage>
where
    H: BuildHost + ?Sized,
    C: BuildCache + ?Sized,
{
    let mut out = Output::new(progress, options.quiet);
    match run(host, cache, context, options, &mut out) {
        Ok(image) => {
            out.succeeded(image.id.as_str());
            Ok(image)
        }
        Err(e) => {
            out.failed();
            Err(e)
        }
    }
}

fn run<H, C>(
    host: &H,
    cache: &C,
    context: impl Read,
    options: &BuildOptions,
    out: &mut Output<'_>,
) -> Result<BuiltImage>
where
    H: BuildHost + ?Sized,
    C: BuildCache + ?Sized,
{
    let mut context = BuildContext::load(context, &options.dockerfile, &options.tmp_dir)?;
    let text = read_dockerfile(&context, &options.dockerfile)?;
    if let Some(ignore) = context.read_file(".dockerignore", MAX_DOCKERFILE)? {
        let rules = Dockerignore::parse(&String::from_utf8_lossy(&ignore))
            .map_err(BuildError::Dockerignore)?;
        context.apply_dockerignore(&rules);
    }
    let mut dockerfile = parse_dockerfile(&text)?;
    if let Some(target) = &options.target {
        let wanted = target.to_ascii_lowercase();
        let index = dockerfile
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(wanted.as_str()))
            .ok_or_else(|| BuildError::TargetNotFound(target.clone()))?;
        dockerfile.stages.truncate(index + 1);
    }
    add_label_options(&mut dockerfile, options);
    for warning in &dockerfile.warnings {
        out.line(warning);
    }
    let escape = dockerfile.escape;
    let mut args = BuildArgs::new(&options.build_args);
    let mut declared = 0;
    let meta = dockerfile.meta_args.iter().try_for_each(|step| {
        declared += 1;
        declare_meta_arg(step, escape, &mut args)
    });
    let plan = if meta.is_ok() {
        plan(&dockerfile, &args)
    } else {
        None
    };
    let total = plan.as_ref().map_or_else(
        || {
            // Only shown before a bad meta ARG's error.
            dockerfile.meta_args.len()
                + dockerfile
                    .stages
                    .iter()
                    .map(|s| 1 + s.steps.len())
                    .sum::<usize>()
        },
        |p| p.total,
    );
    for (n, step) in dockerfile.meta_args[..declared].iter().enumerate() {
        out.line(&format!("Step {}/{total} : {}", n + 1, step.original));
    }
    meta?;
    let Some(plan) = plan else {
        return Err(BuildError::Dockerfile(
            "no build stage in current context".to_owned(),
        ));
    };
    let shared = schedule::Shared {
        host,
        cache,
        context: &context,
        options,
        escape,
        args: &args,
        stages: &dockerfile.stages,
    };
    let (last, declared_by_stages) = schedule::build_stages(&shared, &plan, out)?;
    for declared in declared_by_stages {
        args.merge_declared(declared);
    }
    let unused = args.unused();
    if !unused.is_empty() {
        out.line(&format!(
            "[Warning] One or more build-args [{}] were not consumed",
            unused.join(" ")
        ));
    }
    let id = last.id.ok_or_else(|| {
        BuildError::Dockerfile("No image was generated. Is your Dockerfile empty?".to_owned())
    })?;
    let image = BuiltImage {
        id,
        config: last.bytes,
        layers: last.layers,
    };
    host.store_image(&image).map_err(BuildError::Host)?;
    out.line(&format!("Successfully built {}", short(&image.id)));
    for tag in &options.tags {
        let name = host.tag_image(&image.id, tag).map_err(BuildError::Host)?;
        out.line(&format!("Successfully tagged {name}"));
    }
    Ok(image)
}

fn read_dockerfile(context: &BuildContext, name: &str) -> Result<String> {
    let mut bytes = context.read_file(name, MAX_DOCKERFILE)?;
    if bytes.is_none() && name == "Dockerfile" {
        bytes = context.read_file("dockerfile", MAX_DOCKERFILE)?;
    }
    let bytes = bytes.ok_or_else(|| {
        BuildError::Dockerfile(format!("Cannot locate specified Dockerfile: {name}"))
    })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// An `ARG` before the first FROM: declared with its default expanded.
fn declare_meta_arg(step: &Step, escape: char, args: &mut BuildArgs<'_>) -> Result<()> {
    if let Instruction::Arg(pairs) = &step.instruction {
        for (key, default) in pairs {
            let env = args.meta_env();
            let vars = Vars::new(env.iter().map(String::as_str));
            let key = expansion::expand(key, escape, &vars)?;
            let default = default
                .as_deref()
                .map(|d| expansion::expand(d, escape, &vars))
                .transpose()?;
            args.declare_meta(&key, default);
        }
    }
    Ok(())
}

/// The stages the last one (the target) needs, what they wait for and their step numbers;
/// `None` for a Dockerfile without stages.
fn plan(dockerfile: &Dockerfile, args: &BuildArgs<'_>) -> Option<Plan> {
    let target = dockerfile.stages.len().checked_sub(1)?;
    let env = args.meta_env();
    let vars = Vars::new(env.iter().map(String::as_str));
    let from_images: Vec<Option<String>> = dockerfile
        .stages
        .iter()
        .map(|stage| match &stage.from.instruction {
            Instruction::From { image, .. } => {
                expansion::expand(image, dockerfile.escape, &vars).ok()
            }
            _ => None,
        })
        .collect();
    let graph = StageGraph::new(&dockerfile.stages, &from_images);
    let needed = graph.closure(target);
    let mut first_steps = vec![0; dockerfile.stages.len()];
    let mut step = dockerfile.meta_args.len();
    for &stage in &needed {
        first_steps[stage] = step;
        step += 1 + dockerfile.stages[stage].steps.len();
    }
    Some(Plan {
        graph,
        needed,
        first_steps,
        total: step,
    })
}

/// The build's `labels` become LABEL steps at the end of the last stage, sorted by key.
fn add_label_options(dockerfile: &mut Dockerfile, options: &BuildOptions) {
    let Some(last) = dockerfile.stages.last_mut() else {
        return;
    };
    for (key, value) in &options.labels {
        last.steps.push(Step {
            instruction: Instruction::Label {
                pairs: vec![KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                }],
                expand: false,
            },
            original: format!("LABEL {key}={value}"),
            line: 0,
        });
    }
}

fn short(id: &Digest) -> String {
    id.hex()[..12].to_owned()
}

/// An image as the build sees it between steps.
#[derive(Debug, Clone)]
struct ImageState {
    config: ImageConfig,
    /// The config as stored (its digest is `id`); empty for scratch.
    bytes: Vec<u8>,
    id: Option<Digest>,
    layers: Vec<Layer>,
}

impl ImageState {
    fn scratch() -> Self {
        Self {
            config: ImageConfig::scratch(),
            bytes: Vec::new(),
            id: None,
            layers: Vec::new(),
        }
    }

    /// An image from its stored config and layers, checking that they belong together.
    fn stored(bytes: Vec<u8>, layers: Vec<Layer>, what: &str) -> Result<Self> {
        let config = ImageConfig::from_bytes(&bytes, what)?;
        let mismatch =
            || BuildError::Contract(format!("the layers of {what} do not match its config"));
        if config.rootfs.diff_ids.len() != layers.len() {
            return Err(mismatch());
        }
        let mut parent: Option<&ChainId> = None;
        for (layer, diff_id) in layers.iter().zip(&config.rootfs.diff_ids) {
            if layer.diff_id != *diff_id
                || layer.parent.as_ref() != parent
                || layer.chain_id != chain_id(parent, diff_id)
            {
                return Err(mismatch());
            }
            parent = Some(&layer.chain_id);
        }
        Ok(Self {
            id: Some(Digest::of(&bytes)),
            config,
            bytes,
            layers,
        })
    }

    fn id_str(&self) -> &str {
        self.id.as_ref().map_or("", Digest::as_str)
    }

    fn short_id(&self) -> String {
        self.id.as_ref().map(short).unwrap_or_default()
    }

    fn chain(&self) -> Vec<ChainId> {
        self.layers.iter().map(|l| l.chain_id.clone()).collect()
    }
}

/// The stage being built.
struct StageState {
    name: Option<String>,
    image: ImageState,
    args: StageArgs,
    /// Whether CMD was set in this stage (ENTRYPOINT then keeps it).
    cmd_set: bool,
    /// MAINTAINER: the author of every image committed after it.
    maintainer: String,
}

/// A mounted image filesystem, or an empty directory for an image without layers.
enum Mount {
    Host(Box<dyn MountedRootfs>),
    Empty(tempfile::TempDir),
}

impl Mount {
    fn path(&self) -> &Path {
        match self {
            Mount::Host(m) => m.path(),
            Mount::Empty(dir) => dir.path(),
        }
    }
}

/// Builds one stage, on a thread of its own.
struct Builder<'b, H: ?Sized, C: ?Sized> {
    host: &'b H,
    cache: &'b C,
    context: &'b BuildContext,
    options: &'b BuildOptions,
    out: StageOutput<StageResult>,
    escape: char,
    args: BuildArgs<'b>,
    /// The stages before this one: name, and final image if built.
    earlier: Vec<(Option<String>, Option<ImageState>)>,
    step: usize,
    total: usize,
    /// Set when another stage failed: this one stops before its next step.
    stop: &'b AtomicBool,
    in_flight: &'b InFlight,
}

impl<'b, H: BuildHost + ?Sized, C: BuildCache + ?Sized> Builder<'b, H, C> {
    /// Builds `stage` and reports the result (its image and the ARGs it declared).
    fn run_stage(mut self, stage: &Stage) {
        let result = self.build_stage(stage);
        let Self { out, args, .. } = self;
        out.finish(result.map(|image| (image, args.into_declared())));
    }
}

impl<H: BuildHost + ?Sized, C: BuildCache + ?Sized> Builder<'_, H, C> {
    fn build_stage(&mut self, stage: &Stage) -> Result<ImageState> {
        self.print_step(&stage.from.original);
        let mut state = self.begin_stage(stage)?;
        self.print_id(&state);
        for step in &stage.steps {
            if self.stop.load(Ordering::Relaxed) {
                return Err(BuildError::Stopped);
            }
            self.print_step(&step.original);
            self.dispatch(&mut state, step)?;
            self.print_id(&state);
        }
        Ok(state.image)
    }

    /// An earlier stage's image, by the name given (case-insensitive).
    fn earlier_stage(&self, name: &str) -> Option<Result<ImageState>> {
        let lower = name.to_ascii_lowercase();
        let index = self
            .earlier
            .iter()
            .position(|(n, _)| n.as_deref() == Some(lower.as_str()))?;
        Some(self.earlier_stage_at(index, name))
    }

    /// The image of stage `index` (before this one), built before this stage started.
    fn earlier_stage_at(&self, index: usize, name: &str) -> Result<ImageState> {
        match self.earlier.get(index) {
            Some((_, Some(image))) => Ok(image.clone()),
            _ => Err(BuildError::invalid(format!(
                "invalid from flag value {name}: stage {index} is not built before this one"
            ))),
        }
    }

    fn print_step(&mut self, original: &str) {
        self.step += 1;
        self.out
            .line(&format!("Step {}/{} : {original}", self.step, self.total));
    }

    fn print_id(&mut self, state: &StageState) {
        self.out.line(&format!(" ---> {}", state.image.short_id()));
        self.out.step_done();
    }

    fn begin_stage(&mut self, stage: &Stage) -> Result<StageState> {
        let Instruction::From {
            image, platform, ..
        } = &stage.from.instruction
        else {
            return Err(BuildError::invalid("a stage must start with FROM"));
        };
        let env = self.args.meta_env();
        let vars = Vars::new(env.iter().map(String::as_str));
        let name = expansion::expand(image, self.escape, &vars)?;
        let platform = match platform {
            Some(p) => Some(expansion::expand(p, self.escape, &vars)?),
            None => self.options.platform.clone(),
        };
        let lower = name.to_ascii_lowercase();
        let image = if name == "scratch" {
            ImageState::scratch()
        } else if let Some(built) = self.earlier_stage(&lower) {
            built?
        } else {
            self.pull(&name, platform.as_deref())?
        };
        let mut state = StageState {
            name: stage.name.clone(),
            image,
            args: StageArgs::default(),
            cmd_set: false,
            maintainer: String::new(),
        };
        let config = &mut state.image.config.config;
        config.open_stdin = false;
        config.stdin_once = false;
        if !config.has_env("PATH") {
            config.set_env("PATH", DEFAULT_PATH);
        }
        let triggers = config.on_build.take().unwrap_or_default();
        if !triggers.is_empty() {
            let plural = if triggers.len() > 1 { "s" } else { "" };
            self.out.line(&format!(
                "# Executing {} build trigger{plural}",
                triggers.len()
            ));
            for trigger in &triggers {
                let step = crate::instructions::parse_trigger(trigger, self.escape)?;
                self.dispatch(&mut state, &step)?;
            }
        }
        Ok(state)
    }

    fn pull(&mut self, name: &str, platform: Option<&str>) -> Result<ImageState> {
        let base = self
            .host
            .resolve_image(name, platform, self.options.pull, &mut self.out)
            .map_err(BuildError::Host)?;
        ImageState::stored(base.config, base.layers, name)
    }

    /// Records a step: from the cache when an earlier build made the same step from the same
    /// image, else by running `produce` (which may make a layer) and committing the result.
    fn commit(
        &mut self,
        state: &mut StageState,
        created_by: String,
        config: ContainerConfig,
        produce: impl FnOnce(&mut Self, &StageState) -> Result<Option<Layer>>,
    ) -> Result<()> {
        self.commit_keyed(state, created_by, "", config, produce)
    }

    /// [`Self::commit`] for a step whose result also depends on `key_extra` (see
    /// [`CacheKey::new`]).
    fn commit_keyed(
        &mut self,
        state: &mut StageState,
        created_by: String,
        key_extra: &str,
        mut config: ContainerConfig,
        produce: impl FnOnce(&mut Self, &StageState) -> Result<Option<Layer>>,
    ) -> Result<()> {
        let parent = state.image.id_str().to_owned();
        config.image = parent.clone();
        let config_json = serde_json::to_string(&config).unwrap_or_default();
        let key = CacheKey::new(&parent, &created_by, &config_json, key_extra);
        // Held until the step is in the cache, so a stage making the same step waits for it.
        let _claim = (!self.options.no_cache).then(|| self.in_flight.claim(&key));
        if !self.options.no_cache
            && let Some(hit) = self.cache.get(&key).map_err(BuildError::Host)?
            && let Some(image) = cached_image(&state.image, hit)
        {
            self.out.line(" ---> Using cache");
            state.image = image;
            return Ok(());
        }
        let layer = produce(self, state)?;
        let created = rfc3339(SystemTime::now());
        let mut image = state.image.clone();
        image.config.config = config;
        image.config.created = Some(created.clone());
        image.config.author = state.maintainer.clone();
        image.config.history.push(History {
            author: state.maintainer.clone(),
            comment: String::new(),
            created,
            created_by,
            empty_layer: layer.is_none(),
        });
        if let Some(layer) = layer {
            image.config.rootfs.diff_ids.push(layer.diff_id.clone());
            image.layers.push(layer);
        }
        image.bytes = image.config.to_bytes();
        image.id = Some(Digest::of(&image.bytes));
        let cached = CachedStep {
            config: String::from_utf8_lossy(&image.bytes).into_owned(),
            layers: image.layers.clone(),
        };
        self.cache.put(&key, &cached).map_err(BuildError::Host)?;
        state.image = image;
        Ok(())
    }

    fn mount(&mut self, layers: &[Layer]) -> Result<Mount> {
        self.mount_layers(layers, false)
    }

    /// Mounts `layers` read-only, or `writable` with the writes thrown away afterwards.
    fn mount_layers(&mut self, layers: &[Layer], writable: bool) -> Result<Mount> {
        if layers.is_empty() {
            let dir = tempfile::tempdir_in(&self.options.tmp_dir)
                .map_err(|e| BuildError::io("create a temporary directory", e))?;
            return Ok(Mount::Empty(dir));
        }
        let chain: Vec<ChainId> = layers.iter().map(|l| l.chain_id.clone()).collect();
        let mounted = if writable {
            self.host.mount_scratch(&chain)
        } else {
            self.host.mount(&chain)
        };
        mounted.map(Mount::Host).map_err(BuildError::Host)
    }

    /// Stores a layer tar on top of the stage's image, checking what the engine made of it.
    fn add_layer(&mut self, state: &StageState, tar: &mut File) -> Result<Layer> {
        let parent = state.image.layers.last().map(|l| &l.chain_id);
        let layer = self.host.add_layer(parent, tar).map_err(BuildError::Host)?;
        if layer.parent.as_ref() != parent || layer.chain_id != chain_id(parent, &layer.diff_id) {
            return Err(BuildError::Contract(format!(
                "layer {} was not stored on top of the image's layers",
                layer.chain_id
            )));
        }
        Ok(layer)
    }

    /// A RUN's changes: no layer when the diff is empty, as in Docker.
    fn layer_from_diff(&mut self, state: &StageState, mut diff: File) -> Result<Option<Layer>> {
        let io_err = |e| BuildError::io("read the changes of a RUN step", e);
        diff.seek(SeekFrom::Start(0)).map_err(io_err)?;
        let mut head = [0u8; BLOCK];
        let n = compression::read_up_to(&mut diff, &mut head).map_err(io_err)?;
        if n < BLOCK || head.iter().all(|b| *b == 0) {
            return Ok(None);
        }
        diff.seek(SeekFrom::Start(0)).map_err(io_err)?;
        self.add_layer(state, &mut diff).map(Some)
    }

    /// What instructions expand `$VARS` with: the image's ENV and the build args in scope.
    fn env(&self, state: &StageState) -> Vec<String> {
        let config_env = state.image.config.config.env();
        let mut env = config_env.to_vec();
        env.extend(self.args.in_scope(&state.args, config_env));
        env
    }
}

/// A cache hit, if it continues the image the step starts from.
fn cached_image(current: &ImageState, hit: CachedStep) -> Option<ImageState> {
    let image = ImageState::stored(hit.config.into_bytes(), hit.layers, "a cached step").ok()?;
    let continues = image.layers.len() >= current.layers.len()
        && image
            .layers
            .iter()
            .zip(&current.layers)
            .all(|(a, b)| a.chain_id == b.chain_id);
    continues.then_some(image)
}

#[cfg(test)]
mod tests;
