//! Dockerfile builds, as Docker's classic builder (`DOCKER_BUILDKIT=0`, the `/build` API)
//! does them: the same instructions, variable expansion, `.dockerignore` rules, image config,
//! history lines, output lines and layer cache.
//!
//! The engine calls [`build`] with the request body (the context), [`BuildOptions`] from the
//! query parameters, its [`BuildHost`] (pull, mount, run, store) and [`BuildCache`] (its
//! database), and a [`Progress`] sink for the `{"stream": ...}` messages. Parsing, expansion,
//! COPY/ADD (their layer tars included) and the cache logic live here; nothing here runs a
//! container or touches the image store directly. [`Dockerignore`] is public for clients that
//! leave ignored files out of the context they send, with the same rules.
mod abs_path;
mod archive;
mod args;
mod builder;
mod cache;
mod compression;
mod config;
mod context;
mod copy;
mod dockerignore;
mod download;
mod error;
mod expansion;
mod gofmt;
mod heredoc;
mod host;
mod instructions;
mod layer_tar;
mod one_file;
mod options;
mod parser;
mod pattern;
mod progress;
mod run_mount;
#[cfg(test)]
mod testing;
mod tree;
mod users;

pub use builder::build;
pub use cache::{BuildCache, CacheKey, CachedStep};
pub use dockerignore::Dockerignore;
pub use error::{BuildError, HostError, Result};
pub use host::{
    BaseImage, BuildHost, BuiltImage, CacheDir, Download, MountedRootfs, Progress, RunExit,
    RunOutput, RunStep, Sharing, StepMount,
};
pub use options::{BuildOptions, Secrets};
