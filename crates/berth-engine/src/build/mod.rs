//! `POST /build` (Docker's classic builder): berth-build runs the Dockerfile on a blocking
//! thread against this engine ([`host::EngineHost`]) and its database cache
//! ([`cache::DbCache`]); its output comes back as a stream of [`BuildEvent`]s.

mod cache;
pub(crate) mod cache_mounts;
mod download;
mod host;
pub(crate) mod lease;
mod run_step;

use crate::Engine;
use crate::error::{Error, ErrorKind, Result};
use crate::reference::Reference;
use berth_build::BuildError;
pub use berth_build::{BuildOptions, Secrets};
use std::sync::Arc;
use tokio::io::AsyncRead;
use tokio::sync::{mpsc, oneshot};
use tokio_util::io::SyncIoBridge;
use tokio_util::sync::CancellationToken;

/// What a build stream carries, in order.
#[derive(Debug)]
pub enum BuildEvent {
    /// Output text (Docker's `{"stream": ...}`).
    Stream(String),
    /// The built image's id (Docker's `{"aux": {"ID": ...}}`), before the stream ends.
    Built(String),
    /// The build failed; nothing follows.
    Failed(Error),
}

/// Why a build whose client went away failed (berthd logs it; nobody else sees it).
fn cancelled() -> Error {
    Error::internal("the build was cancelled: the client went away")
}

/// The engine's error for a failed build: bad input is the client's (400), a failed step or
/// store is the engine's.
fn build_error(e: BuildError) -> Error {
    match e {
        BuildError::Host(host) => match host.downcast::<Error>() {
            Ok(e) => *e,
            Err(other) => Error::internal(other.to_string()),
        },
        e @ (BuildError::Parse { .. }
        | BuildError::Dockerfile(_)
        | BuildError::Context(_)
        | BuildError::Dockerignore(_)
        | BuildError::Expansion { .. }
        | BuildError::TargetNotFound(_)
        | BuildError::Invalid(_)
        | BuildError::Copy { .. }) => Error::invalid(e.to_string()),
        e => Error::new(ErrorKind::Internal, e.to_string()),
    }
}

impl Engine {
    /// Where builds mount image layers read-only (COPY --from, users for --chown).
    fn build_mounts_dir(&self) -> std::path::PathBuf {
        self.config.exec_root.join("build-mounts")
    }

    /// Where RUN steps' secret files and here-document scripts live while a step runs
    /// (the exec root: a tmpfs, gone with a reboot).
    fn build_run_dir(&self) -> std::path::PathBuf {
        self.config.exec_root.join("build-run")
    }

    /// `RUN --mount=type=cache` directories, kept between builds.
    fn build_cache_mounts_dir(&self) -> std::path::PathBuf {
        self.config.data_root.join("build").join("cache-mounts")
    }

    /// Unmounts and removes what builds that were running when berthd died left mounted,
    /// and the secret files their steps had.
    pub(crate) fn remove_stale_build_mounts(&self) -> Result<()> {
        let run_dir = self.build_run_dir();
        if let Err(e) = std::fs::remove_dir_all(&run_dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %run_dir.display(), error = %e, "stale build files left in place");
        }
        let dir = self.build_mounts_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            let path = entry?.path();
            let _ = nix::mount::umount2(&path, nix::mount::MntFlags::MNT_DETACH);
            if let Err(e) = std::fs::remove_dir(&path) {
                tracing::warn!(dir = %path.display(), error = %e, "stale build mount left in place");
            }
        }
        Ok(())
    }

    /// Builds from `context` (the request body). Tags are checked first, so a bad one is a
    /// plain 400 and nothing runs.
    pub fn build_image<R>(
        self: &Arc<Self>,
        context: R,
        mut options: BuildOptions,
        credentials: Vec<(String, berth_registry::Credentials)>,
    ) -> Result<mpsc::Receiver<BuildEvent>>
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        for tag in &options.tags {
            let r = Reference::parse(tag)
                .map_err(|e| Error::invalid(format!("invalid reference format: {tag}: {e}")))?;
            if r.digest.is_some() {
                return Err(Error::invalid(format!(
                    "invalid reference format: {tag}: a tag may not carry a digest"
                )));
            }
        }
        options.tmp_dir = self.store.tmp_dir().to_path_buf();
        options.run_dir = self.build_run_dir();
        let (tx, rx) = mpsc::channel(64);
        // The builder reports from inside `block_on` too (a RUN's output), where a tokio
        // channel may not block: it writes to a bounded std channel, relayed here. When the
        // client goes away (its reply dropped) the build is cancelled: the steps under way
        // are killed and the build stops.
        let (sync_tx, sync_rx) = std::sync::mpsc::sync_channel::<BuildEvent>(64);
        let cancel = CancellationToken::new();
        let (built_tx, built_rx) = oneshot::channel::<()>();
        let watched = tx.clone();
        let client_gone = cancel.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = watched.closed() => client_gone.cancel(),
                _ = built_rx => {}
            }
        });
        let client_gone = cancel.clone();
        tokio::task::spawn_blocking(move || {
            while let Ok(event) = sync_rx.recv() {
                if tx.blocking_send(event).is_err() {
                    client_gone.cancel();
                    break;
                }
            }
        });
        let tx = sync_tx;
        let engine = self.clone();
        let rt = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let lease = engine.build_leases.acquire();
            let host = host::EngineHost {
                engine: engine.clone(),
                rt,
                lease: lease.id,
                credentials,
                cancel,
            };
            let cache = cache::DbCache {
                db: &engine.db,
                store: &engine.store,
                leases: &engine.build_leases,
                lease: lease.id,
            };
            let mut progress = |text: &str| {
                let _ = tx.send(BuildEvent::Stream(text.to_string()));
            };
            let built = berth_build::build(
                &host,
                &cache,
                SyncIoBridge::new(context),
                &options,
                &mut progress,
            );
            let last = match built {
                Ok(image) => {
                    tracing::info!(image = %image.id, "build finished");
                    BuildEvent::Built(image.id.to_string())
                }
                Err(e) => {
                    let e = build_error(e);
                    tracing::info!(error = %e, "build failed");
                    BuildEvent::Failed(e)
                }
            };
            let _ = tx.send(last);
            drop(built_tx);
        });
        Ok(rx)
    }
}
