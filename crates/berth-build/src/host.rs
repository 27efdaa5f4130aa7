//! What the builder needs from the engine. berth-build parses, plans and writes COPY/ADD layers
//! itself; pulling images, running RUN steps in containers, storing layers and images, and
//! fetching ADD URLs are the engine's, through [`BuildHost`]. All calls are blocking: the engine
//! runs a build on blocking threads (one per stage under way).

use std::fs::File;
use std::path::Path;

use berth_image::{ChainId, Digest, Layer};

use crate::error::HostError;
pub use crate::run_mount::Sharing;

/// A base image present in the engine's store (pulled first if needed).
#[derive(Debug, Clone)]
pub struct BaseImage {
    /// The image config JSON, exactly as stored: its digest is the image id.
    pub config: Vec<u8>,
    /// Bottom first; they must match the config's `rootfs.diff_ids`.
    pub layers: Vec<Layer>,
}

/// A read-only view of an image's filesystem (an overlay of its layers), unmounted on drop.
pub trait MountedRootfs {
    fn path(&self) -> &Path;
}

/// A directory kept between builds for `RUN --mount=type=cache`, in use until dropped.
pub trait CacheDir {
    fn path(&self) -> &Path;
    /// Whether it was just made (empty): the builder then sets its owner and mode, and
    /// fills it from the mount's `from`.
    fn is_new(&self) -> bool;
}

/// A mount of a RUN step's container, on top of its root filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepMount {
    /// A host file or directory (a cache dir, a stage's files, a secret) at `target`.
    Bind {
        source: std::path::PathBuf,
        target: String,
        read_only: bool,
    },
    /// An empty tmpfs, `size` bytes at most.
    Tmpfs { target: String, size: Option<u64> },
}

impl StepMount {
    /// Where it is mounted (absolute).
    pub fn target(&self) -> &str {
        match self {
            Self::Bind { target, .. } | Self::Tmpfs { target, .. } => target,
        }
    }
}

/// A RUN step, to be run in a container created from `layers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStep {
    /// The id of the image the step starts from (empty for scratch). It may exist only in
    /// the build cache: the container is made from `layers`, this only names it.
    pub image: String,
    /// The image's layers, bottom first.
    pub layers: Vec<ChainId>,
    /// The full argv: a shell-form RUN already has the shell (`/bin/sh -c`) in front.
    pub cmd: Vec<String>,
    /// `KEY=value`: the image's ENV, then the build args in scope.
    pub env: Vec<String>,
    /// `USER` as written (`name`, `uid:gid`, ...), resolved in the container; empty for root.
    pub user: String,
    /// Absolute; empty for `/`.
    pub working_dir: String,
    /// The image's `VOLUME`s: Docker mounts fresh anonymous volumes there during a RUN, so
    /// what the command writes under them is not part of the layer.
    pub volumes: Vec<String>,
    /// The build's `networkmode` (`default`, `host`, `none`, a network name), or the step's
    /// `RUN --network`.
    pub network_mode: String,
    /// `RUN --mount`s (and a here-document script): what is written to them is not part of
    /// the step's layer, nor are the mount points the runtime had to create for them.
    pub mounts: Vec<StepMount>,
    /// Remove the container when the command succeeded (`rm`, or `forcerm`).
    pub remove_on_success: bool,
    /// Remove it when the command failed (`forcerm`).
    pub remove_on_failure: bool,
}

/// How a RUN ended.
#[derive(Debug)]
pub enum RunExit {
    /// Exit status 0. `diff` is the container's filesystem changes as an uncompressed layer tar
    /// (overlay upper dir with whiteouts as `.wh.` entries), positioned at its start; an empty
    /// tar (or empty file) when nothing changed.
    Succeeded { diff: File },
    /// Any other status: the build stops with Docker's "returned a non-zero code" error.
    Failed { code: i64 },
}

/// Where a running step's output goes.
pub trait RunOutput {
    /// The container exists; the builder prints ` ---> Running in <short id>`.
    fn started(&mut self, container_id: &str);
    /// Raw stdout and stderr of the command, in order, as it comes.
    fn output(&mut self, bytes: &[u8]);
}

/// The body of an ADD URL, fetched by the engine (the builder has no HTTP client).
#[derive(Debug)]
pub struct Download {
    /// The response body, positioned at its start.
    pub body: File,
    /// The `Last-Modified` header, if any: the file's mtime in the image.
    pub last_modified: Option<String>,
    /// The `Content-Disposition` header, if any: the file name when the URL has none.
    pub content_disposition: Option<String>,
}

/// The image a build produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    /// The digest of `config`.
    pub id: Digest,
    /// The image config JSON: store it as blob `id`.
    pub config: Vec<u8>,
    /// Bottom first, as in `rootfs.diff_ids`.
    pub layers: Vec<Layer>,
}

/// Receives the build's output text (Docker's `{"stream": ...}` messages).
pub trait Progress {
    fn write(&mut self, text: &str);
}

impl<F: FnMut(&str)> Progress for F {
    fn write(&mut self, text: &str) {
        self(text)
    }
}

/// The engine side of a build. Stages that do not depend on each other are built at the same
/// time, each on a thread of its own, so every call may come from several threads at once.
pub trait BuildHost: Sync {
    /// Finds an image by reference (`busybox`, `busybox:1.36`, `name@sha256:...`, an id),
    /// pulling it when it is missing, or always when `always_pull`. Pull progress may be
    /// written to `progress`.
    fn resolve_image(
        &self,
        reference: &str,
        platform: Option<&str>,
        always_pull: bool,
        progress: &mut dyn Progress,
    ) -> Result<BaseImage, HostError>;

    /// Mounts the filesystem of `layers` (bottom first, never empty) read-only.
    fn mount(&self, layers: &[ChainId]) -> Result<Box<dyn MountedRootfs>, HostError>;

    /// Mounts the filesystem of `layers` (bottom first, never empty) writable; what is
    /// written to it is thrown away when it is dropped (`RUN --mount=type=bind,rw`).
    fn mount_scratch(&self, layers: &[ChainId]) -> Result<Box<dyn MountedRootfs>, HostError>;

    /// The cache directory `id` (`RUN --mount=type=cache`), created empty the first time and
    /// kept between builds; shared with other builds as `sharing` says.
    fn cache_dir(&self, id: &str, sharing: Sharing) -> Result<Box<dyn CacheDir>, HostError>;

    /// Runs a RUN step to its end.
    fn run(&self, step: &RunStep, output: &mut dyn RunOutput) -> Result<RunExit, HostError>;

    /// The build has failed: RUN steps under way in other stages may be stopped now (their
    /// results are not used), and nothing more will be asked but cleanup.
    fn abandon_running_steps(&self) {}

    /// Stores an uncompressed layer tar (read from its current position) on top of `parent`.
    fn add_layer(&self, parent: Option<&ChainId>, tar: &mut File) -> Result<Layer, HostError>;

    /// Fetches an ADD source URL (http or https).
    fn fetch_url(&self, url: &str) -> Result<Download, HostError>;

    /// Stores the built image (its config blob and image record).
    fn store_image(&self, image: &BuiltImage) -> Result<(), HostError>;

    /// Tags a stored image; returns the name as it should be printed (`app:latest`).
    fn tag_image(&self, id: &Digest, reference: &str) -> Result<String, HostError>;
}
