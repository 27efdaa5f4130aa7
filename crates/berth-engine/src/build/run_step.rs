//! A RUN step: a container made from the step's layer chain (not from an image record: the
//! image a step starts from may exist only in the build cache), started, its output relayed,
//! and its changes taken from the overlay upper dir as a layer tar.

use crate::Engine;
use crate::containers::{ContainerSource, WaitCondition};
use crate::error::{Error, Result};
use berth_build::{RunExit, RunOutput, RunStep, StepMount};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

/// Docker's stream header: stream type, three zero bytes, big-endian payload length.
const FRAME_HEADER: usize = 8;

impl Engine {
    pub(crate) async fn run_build_step(
        self: &Arc<Self>,
        step: &RunStep,
        output: &mut dyn RunOutput,
        cancel: &CancellationToken,
    ) -> Result<RunExit> {
        let id = self.create_step_container(step).await?;
        let mount_points: Vec<std::path::PathBuf> = step
            .mounts
            .iter()
            .map(|m| m.target().trim_start_matches('/').into())
            .collect();
        // A cancelled build's step is abandoned where it is; the removal below kills it.
        let result = tokio::select! {
            result = self.run_step_container(&id, &mount_points, output) => result,
            () = cancel.cancelled() => Err(super::cancelled()),
        };
        let remove = match &result {
            Ok(RunExit::Succeeded { .. }) => step.remove_on_success,
            Ok(RunExit::Failed { .. }) => step.remove_on_failure,
            Err(_) => true,
        };
        // Forced: a container still running (a cancelled step) is killed (SIGKILL) first.
        if remove && let Err(e) = self.remove_container(&id, true, true).await {
            tracing::warn!(container = %id, error = %e, "removing a build step's container");
        }
        result
    }

    async fn create_step_container(&self, step: &RunStep) -> Result<String> {
        let volumes: serde_json::Map<String, Value> = step
            .volumes
            .iter()
            .map(|v| (v.clone(), json!({})))
            .collect();
        let body = json!({
            "Cmd": step.cmd,
            "Env": step.env,
            "User": step.user,
            "WorkingDir": step.working_dir,
            "Volumes": volumes,
            "AttachStdout": true,
            "AttachStderr": true,
            "HostConfig": {"NetworkMode": step.network_mode, "Mounts": step_mounts(step)},
        });
        let short = step.image.strip_prefix("sha256:").unwrap_or(&step.image);
        let source = ContainerSource {
            name: short.chars().take(12).collect(),
            image_id: step.image.clone(),
            layers: step.layers.iter().map(ToString::to_string).collect(),
            // The step's environment, user and working dir are already in the request.
            config: json!({}),
            pinned: false,
        };
        let _guard = self.image_lock.lock().await;
        self.create_from(source, None, &body)
    }

    async fn run_step_container(
        self: &Arc<Self>,
        id: &str,
        mount_points: &[std::path::PathBuf],
        output: &mut dyn RunOutput,
    ) -> Result<RunExit> {
        let exited = self.wait_container(id, WaitCondition::NextExit)?;
        let (attached, _) = self.attach_container(id, true, true, false)?;
        output.started(id);
        self.start_container(id).await?;
        let mut stream = attached
            .await
            .map_err(|_| Error::internal("the build step's output stream was lost"))?;
        let mut header = [0u8; FRAME_HEADER];
        let mut payload = Vec::new();
        while stream.read_exact(&mut header).await.is_ok() {
            let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
            payload.resize(len as usize, 0);
            stream.read_exact(&mut payload).await?;
            output.output(&payload);
        }
        let code = exited.await?;
        if code != 0 {
            return Ok(RunExit::Failed {
                code: i64::from(code),
            });
        }
        let c = self.container_record(id)?;
        let upper = self.container_dir(id).join("upper");
        let lowers: Vec<_> = c
            .layers
            .iter()
            .rev()
            .map(|l| self.layer_diff_dir(l))
            .collect();
        let store = self.store.clone();
        let mount_points = mount_points.to_vec();
        let diff = tokio::task::spawn_blocking(move || -> Result<std::fs::File> {
            let file = tempfile::tempfile_in(store.tmp_dir())?;
            let exclude = crate::containers::Exclude::RuntimeMountPoints {
                lowers: &lowers,
                mount_points: &mount_points,
            };
            let mut file = crate::containers::write_layer_tar(&upper, &exclude, file)?;
            std::io::Seek::rewind(&mut file)?;
            Ok(file)
        })
        .await
        .map_err(|e| Error::internal(e.to_string()))??;
        Ok(RunExit::Succeeded { diff })
    }
}

/// A step's `RUN --mount`s as `HostConfig.Mounts`.
fn step_mounts(step: &RunStep) -> Vec<Value> {
    step.mounts
        .iter()
        .map(|m| match m {
            StepMount::Bind {
                source,
                target,
                read_only,
            } => json!({"Type": "bind", "Source": source, "Target": target, "ReadOnly": read_only}),
            StepMount::Tmpfs { target, size } => json!({
                "Type": "tmpfs",
                "Target": target,
                "TmpfsOptions": {"SizeBytes": size.unwrap_or(0)},
            }),
        })
        .collect()
}
