//! `build`'s flags (the classic builder's, as `DOCKER_BUILDKIT=0 docker build` has them),
//! and `builder` (`build`, `prune`).

use std::path::PathBuf;

use clap::{ArgAction, Args, Subcommand};

use super::PruneArgs;
use crate::opts::parse_label;
use crate::opts::resources::ram_in_bytes;

#[derive(Debug, Subcommand)]
pub enum BuilderCommand {
    /// Build an image from a Dockerfile
    Build(BuildArgs),
    /// Remove build cache
    Prune(BuilderPruneArgs),
}

#[derive(Debug, Args)]
pub struct BuilderPruneArgs {
    /// Remove all unused build cache, not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,

    /// Amount of disk space to keep for cache
    #[arg(long = "keep-storage", value_name = "bytes", value_parser = ram_in_bytes)]
    pub keep_storage: Option<i64>,

    #[command(flatten)]
    pub prune: PruneArgs,
}

#[derive(Debug, Args)]
#[command(override_usage = "berth build [OPTIONS] PATH | -")]
pub struct BuildArgs {
    /// Set build-time variables
    #[arg(long = "build-arg", value_name = "list")]
    pub build_args: Vec<String>,

    /// Name of the Dockerfile (Default is "PATH/Dockerfile")
    #[arg(short = 'f', long = "file", value_name = "string")]
    pub file: Option<String>,

    /// Always remove intermediate containers
    #[arg(long = "force-rm")]
    pub force_rm: bool,

    /// Write the image ID to the file
    #[arg(long, value_name = "string")]
    pub iidfile: Option<PathBuf>,

    /// Set metadata for an image
    #[arg(long = "label", value_name = "list", value_parser = parse_label)]
    pub labels: Vec<String>,

    /// Set the networking mode for the RUN instructions during build
    #[arg(long, value_name = "string", default_value = "default")]
    pub network: String,

    /// Do not use cache when building the image
    #[arg(long = "no-cache")]
    pub no_cache: bool,

    /// Set platform if server is multi-platform capable
    #[arg(long, value_name = "string", env = "DOCKER_DEFAULT_PLATFORM")]
    pub platform: Option<String>,

    /// Always attempt to pull a newer version of the image
    #[arg(long)]
    pub pull: bool,

    /// Secret to expose to the build (format: "id=mysecret[,src=/local/secret]" or
    /// "id=mysecret,env=VAR"; the id alone reads the environment variable of that name)
    #[arg(long = "secret", value_name = "stringArray")]
    pub secrets: Vec<String>,

    /// Suppress the build output and print image ID on success
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Remove intermediate containers after a successful build
    #[arg(
        long,
        value_name = "bool",
        default_value_t = true,
        default_missing_value = "true",
        num_args = 0..=1,
        require_equals = true,
        action = ArgAction::Set
    )]
    pub rm: bool,

    /// Name and optionally a tag in the "name:tag" format
    #[arg(short = 't', long = "tag", value_name = "list")]
    pub tags: Vec<String>,

    /// Set the target build stage to build.
    #[arg(long, value_name = "string")]
    pub target: Option<String>,

    /// The context: a directory, or `-` for a tar archive (or a lone Dockerfile) on stdin
    #[arg(value_name = "PATH | -")]
    pub context: String,
}
