//! The engine side of a build ([`BuildHost`]): images from the store (pulled when missing),
//! read-only mounts of layer stacks, RUN steps in containers, layers and images stored.
//! Calls come from the build's blocking threads (one per stage under way, at the same time);
//! async engine calls go through `rt`.

use super::lease::Leases;
use crate::Engine;
use crate::error::Error;
use crate::images::registry::Transfer;
use crate::reference::Reference;
use berth_build::{
    BaseImage, BuildHost, BuiltImage, CacheDir, Download, HostError, MountedRootfs, Progress,
    RunExit, RunOutput, RunStep, Sharing,
};
use berth_image::{ChainId, Digest, Layer};
use nix::mount::{MntFlags, MsFlags};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;
use tokio_util::sync::CancellationToken;

/// Image configs are small JSON documents; anything larger is refused.
const MAX_CONFIG: u64 = 8 << 20;

pub(crate) struct EngineHost {
    pub engine: Arc<Engine>,
    pub rt: tokio::runtime::Handle,
    pub lease: u64,
    /// `X-Registry-Config`: credentials by registry, as the client keyed them.
    pub credentials: Vec<(String, berth_registry::Credentials)>,
    /// Cancelled when the client went away, or when a stage failed: running steps are killed,
    /// the build stops.
    pub cancel: CancellationToken,
}

/// A registry as `X-Registry-Config` may key it (`https://index.docker.io/v1/`,
/// `localhost:5000`) in the form references name it (`docker.io`, `localhost:5000`).
fn registry_host(key: &str) -> &str {
    let host = key.split_once("://").map_or(key, |(_, rest)| rest);
    let host = host.split('/').next().unwrap_or(host);
    match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io",
        h => h,
    }
}

impl EngineHost {
    /// Refuses to go on once the client is gone, so a cancelled build stores nothing more.
    fn go_on(&self) -> Result<(), Error> {
        if self.cancel.is_cancelled() {
            return Err(super::cancelled());
        }
        Ok(())
    }

    fn leases(&self) -> &Leases {
        &self.engine.build_leases
    }

    /// The image `reference` names, if stored, its layers leased; under the image lock, so
    /// an `rmi` cannot take them between the lookup and the lease.
    fn leased_image(&self, reference: &str) -> Result<Option<BaseImage>, HostError> {
        let _guard = self.engine.image_lock.blocking_lock();
        let row = match self.engine.resolve_image(reference) {
            Ok(row) => row,
            Err(e) if e.kind == crate::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        self.leases().add(self.lease, row.layers.iter().cloned());
        let digest: Digest = row
            .id
            .parse()
            .map_err(|_| Error::internal("bad image id"))?;
        let config = self.engine.store.read_blob(&digest, MAX_CONFIG)?;
        let mut layers = Vec::new();
        for chain in &row.layers {
            let chain: ChainId = chain.parse().map_err(|_| Error::internal("bad chain id"))?;
            let layer = self
                .engine
                .store
                .layer(&chain)?
                .ok_or_else(|| Error::internal(format!("layer {chain} is missing")))?;
            layers.push(layer);
        }
        Ok(Some(BaseImage { config, layers }))
    }

    /// Pulls `reference`, writing the registry's status lines as build output.
    fn pull(
        &self,
        reference: &str,
        platform: Option<&str>,
        progress: &mut dyn Progress,
    ) -> Result<(), HostError> {
        let engine = self.engine.clone();
        let registry = berth_registry::Reference::parse(reference)
            .map_err(|e| Error::invalid(e.to_string()))?;
        let credentials = self
            .credentials
            .iter()
            .find(|(key, _)| registry_host(key) == registry.registry())
            .map(|(_, c)| c.clone());
        self.rt.block_on(async move {
            let mut rx = engine.pull_image(reference, None, platform, credentials)?;
            while let Some(t) = rx.recv().await {
                match t {
                    Transfer::Line(bytes) => {
                        let v: serde_json::Value =
                            serde_json::from_slice(&bytes).unwrap_or_default();
                        let status = v["status"].as_str().unwrap_or_default();
                        if v["progressDetail"]["total"].is_null() && !status.is_empty() {
                            match v["id"].as_str() {
                                Some(id) => progress.write(&format!("{id}: {status}\n")),
                                None => progress.write(&format!("{status}\n")),
                            }
                        }
                    }
                    Transfer::Failed(e) => return Err(e),
                }
            }
            Ok::<_, Error>(())
        })?;
        Ok(())
    }
}

/// An overlay of layers, read-only or with a throwaway upper dir, unmounted and removed on
/// drop.
struct LayersMount {
    target: PathBuf,
    /// overlayfs needs two lower dirs when it has no upper one: an empty one at the bottom.
    empty: PathBuf,
    /// The upper and work dirs of a writable mount, removed after the unmount.
    scratch: Option<tempfile::TempDir>,
}

impl MountedRootfs for LayersMount {
    fn path(&self) -> &Path {
        &self.target
    }
}

impl Drop for LayersMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.target, MntFlags::MNT_DETACH);
        let _ = std::fs::remove_dir(&self.target);
        let _ = std::fs::remove_dir(&self.empty);
    }
}

impl EngineHost {
    /// Mounts an overlay of `layers`; with `scratch` (a directory holding `upper` and
    /// `work`) it is writable.
    fn mount_layers(
        &self,
        layers: &[ChainId],
        scratch: Option<tempfile::TempDir>,
    ) -> Result<Box<dyn MountedRootfs>, HostError> {
        let base = self.engine.build_mounts_dir();
        let name = &crate::ids::new_id()[..16];
        let target = base.join(name);
        let empty = base.join(format!("{name}-empty"));
        std::fs::create_dir_all(&target)?;
        std::fs::create_dir_all(&empty)?;
        let mount = LayersMount {
            target,
            empty,
            scratch,
        };
        self.leases()
            .add(self.lease, layers.iter().map(ChainId::to_string));
        let lower: Vec<String> = layers
            .iter()
            .rev()
            .map(|c| self.engine.layer_diff_dir(c.as_str()))
            .chain(std::iter::once(mount.empty.clone()))
            .map(|p| p.display().to_string())
            .collect();
        let mut data = format!("lowerdir={}", lower.join(":"));
        let mut flags = MsFlags::MS_RDONLY;
        if let Some(scratch) = &mount.scratch {
            let (upper, work) = (scratch.path().join("upper"), scratch.path().join("work"));
            std::fs::create_dir_all(&upper)?;
            std::fs::create_dir_all(&work)?;
            data.push_str(&format!(
                ",upperdir={},workdir={}",
                upper.display(),
                work.display()
            ));
            flags = MsFlags::empty();
        }
        nix::mount::mount(
            Some("overlay"),
            &mount.target,
            Some("overlay"),
            flags,
            Some(data.as_str()),
        )
        .map_err(|e| Error::internal(format!("mounting the build's image layers: {e}")))?;
        Ok(Box::new(mount))
    }
}

impl BuildHost for EngineHost {
    fn resolve_image(
        &self,
        reference: &str,
        platform: Option<&str>,
        always_pull: bool,
        progress: &mut dyn Progress,
    ) -> Result<BaseImage, HostError> {
        self.go_on()?;
        if !always_pull {
            if let Some(image) = self.leased_image(reference)? {
                return Ok(image);
            }
            // hello-world comes back without a registry, as for `run`.
            self.rt.block_on(self.engine.ensure_builtin(reference))?;
            if let Some(image) = self.leased_image(reference)? {
                return Ok(image);
            }
        }
        self.pull(reference, platform, progress)?;
        self.leased_image(reference)?
            .ok_or_else(|| Error::no_such_image(reference).into())
    }

    fn mount(&self, layers: &[ChainId]) -> Result<Box<dyn MountedRootfs>, HostError> {
        self.mount_layers(layers, None)
    }

    fn mount_scratch(&self, layers: &[ChainId]) -> Result<Box<dyn MountedRootfs>, HostError> {
        let scratch = tempfile::tempdir_in(self.engine.store.tmp_dir())?;
        self.mount_layers(layers, Some(scratch))
    }

    fn cache_dir(&self, id: &str, sharing: Sharing) -> Result<Box<dyn CacheDir>, HostError> {
        self.go_on()?;
        let root = self.engine.build_cache_mounts_dir();
        Ok(self.engine.build_cache_mounts.acquire(&root, id, sharing)?)
    }

    fn run(&self, step: &RunStep, output: &mut dyn RunOutput) -> Result<RunExit, HostError> {
        self.go_on()?;
        let engine = self.engine.clone();
        Ok(self
            .rt
            .block_on(engine.run_build_step(step, output, &self.cancel))?)
    }

    fn abandon_running_steps(&self) {
        self.cancel.cancel();
    }

    fn add_layer(&self, parent: Option<&ChainId>, tar: &mut File) -> Result<Layer, HostError> {
        self.go_on()?;
        // Held so a collection running now cannot take the layer before the lease has it.
        let _guard = self.engine.image_lock.blocking_lock();
        let (blob, _) = self.engine.store.put_blob(tar, None, u64::MAX)?;
        let layer = self.engine.store.apply_layer(parent, &blob)?;
        self.leases().add(self.lease, [layer.chain_id.to_string()]);
        Ok(layer)
    }

    fn fetch_url(&self, url: &str) -> Result<Download, HostError> {
        self.go_on()?;
        Ok(super::download::fetch(url, self.engine.store.tmp_dir())?)
    }

    fn store_image(&self, image: &BuiltImage) -> Result<(), HostError> {
        self.go_on()?;
        let _guard = self.engine.image_lock.blocking_lock();
        self.engine.store.put_blob(
            std::io::Cursor::new(&image.config),
            Some(&image.id),
            MAX_CONFIG,
        )?;
        let row = crate::db::ImageRow {
            id: image.id.to_string(),
            layers: image
                .layers
                .iter()
                .map(|l| l.chain_id.to_string())
                .collect(),
            size: image.layers.iter().map(|l| l.size).sum(),
            added: crate::clock::unix_seconds(SystemTime::now()),
        };
        self.engine.db.put_image(&row, &[])?;
        Ok(())
    }

    fn tag_image(&self, id: &Digest, reference: &str) -> Result<String, HostError> {
        let name = Reference::parse(reference)
            .map_err(Error::invalid)?
            .with_default_tag()
            .to_string();
        let _guard = self.engine.image_lock.blocking_lock();
        self.engine.db.set_tag(&name, id.as_str())?;
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_config_keys_name_their_registry() {
        assert_eq!(registry_host("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(registry_host("localhost:5000"), "localhost:5000");
        assert_eq!(registry_host("http://127.0.0.1:5000/v2/"), "127.0.0.1:5000");
    }
}
