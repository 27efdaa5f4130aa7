//! Test helpers: archives written byte by byte (so tests can hold hostile names), and reading
//! back what a layer tar holds.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use berth_image::{ChainId, Digest, Layer, chain_id};
use sha2::{Digest as _, Sha256};

use crate::cache::{BuildCache, CacheKey, CachedStep};
use crate::error::HostError;
use crate::host::{
    BaseImage, BuildHost, BuiltImage, CacheDir, Download, MountedRootfs, Progress, RunExit,
    RunOutput, RunStep, Sharing, StepMount,
};

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Writes tar archives with names taken literally (`..`, absolute links and all).
pub(crate) struct TarBuilder {
    out: Vec<u8>,
}

impl TarBuilder {
    pub(crate) fn new() -> Self {
        Self { out: Vec::new() }
    }

    fn header(kind: tar::EntryType, name: &str, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        let field = &mut h.as_old_mut().name;
        assert!(name.len() < field.len(), "test names fit the v7 field");
        field[..name.len()].copy_from_slice(name.as_bytes());
        h
    }

    fn push(mut self, mut h: tar::Header, data: &[u8]) -> Self {
        h.set_cksum();
        self.out.extend_from_slice(h.as_bytes());
        self.out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.out.extend(std::iter::repeat_n(0u8, pad));
        self
    }

    pub(crate) fn file(self, name: &str, mode: u32, data: &[u8]) -> Self {
        let h = Self::header(tar::EntryType::Regular, name, mode, data.len() as u64);
        self.push(h, data)
    }

    pub(crate) fn file_owned(self, name: &str, mode: u32, uid: u64, gid: u64, data: &[u8]) -> Self {
        let mut h = Self::header(tar::EntryType::Regular, name, mode, data.len() as u64);
        h.set_uid(uid);
        h.set_gid(gid);
        self.push(h, data)
    }

    pub(crate) fn dir(self, name: &str, mode: u32) -> Self {
        let h = Self::header(tar::EntryType::Directory, name, mode, 0);
        self.push(h, &[])
    }

    fn link(self, kind: tar::EntryType, name: &str, target: &str) -> Self {
        let mut h = Self::header(kind, name, 0o777, 0);
        let field = &mut h.as_old_mut().linkname;
        field[..target.len()].copy_from_slice(target.as_bytes());
        self.push(h, &[])
    }

    pub(crate) fn symlink(self, name: &str, target: &str) -> Self {
        self.link(tar::EntryType::Symlink, name, target)
    }

    pub(crate) fn hardlink(self, name: &str, target: &str) -> Self {
        self.link(tar::EntryType::Link, name, target)
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.out.extend_from_slice(&[0u8; 1024]);
        self.out
    }
}

/// One entry of a layer tar, as tests compare them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TarEntry {
    pub(crate) path: String,
    /// `f` file, `d` directory, `l` symlink (`data` is the target), `p` fifo, `c` char device.
    pub(crate) kind: char,
    pub(crate) mode: u32,
    pub(crate) uid: u64,
    pub(crate) gid: u64,
    pub(crate) data: String,
}

pub(crate) fn entries(tar: &[u8]) -> Vec<TarEntry> {
    let mut archive = tar::Archive::new(tar);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let h = e.header().clone();
            let kind = match h.entry_type() {
                tar::EntryType::Regular => 'f',
                tar::EntryType::Directory => 'd',
                tar::EntryType::Symlink => 'l',
                tar::EntryType::Fifo => 'p',
                tar::EntryType::Char => 'c',
                other => panic!("unexpected entry type {other:?}"),
            };
            let path = String::from_utf8(e.path_bytes().into_owned()).unwrap();
            let mut data = String::new();
            if kind == 'l' {
                data = e.link_name().unwrap().unwrap().display().to_string();
            } else {
                e.read_to_string(&mut data).unwrap();
            }
            TarEntry {
                path,
                kind,
                mode: h.mode().unwrap(),
                uid: h.uid().unwrap(),
                gid: h.gid().unwrap(),
                data,
            }
        })
        .collect()
}

/// Shorthand for expected entries: `e("app/", 'd', 0o755, 0, 0, "")`.
pub(crate) fn e(path: &str, kind: char, mode: u32, uid: u64, gid: u64, data: &str) -> TarEntry {
    TarEntry {
        path: path.to_owned(),
        kind,
        mode,
        uid,
        gid,
        data: data.to_owned(),
    }
}

/// TEST DOUBLE for the engine: base images and layers kept in memory, mounts unpacked into
/// temporary directories, RUN steps recorded and answered with a canned diff instead of being
/// run. The real implementation is the engine's.
pub(crate) struct FakeHost {
    tmp: tempfile::TempDir,
    images: HashMap<String, (Vec<u8>, Vec<Layer>)>,
    layer_tars: Mutex<HashMap<ChainId, Vec<u8>>>,
    /// What RUN returns for a command line (`cmd` joined by spaces): exit code and diff tar.
    /// Commands not listed exit 0 with a diff holding `run-<hash of the command>.txt`.
    pub(crate) run_results: HashMap<String, (i64, Vec<u8>)>,
    pub(crate) downloads: HashMap<String, Vec<u8>>,
    /// When set, a RUN waits (up to 10 s) until this many RUNs have started, so a test can
    /// see steps overlap without timing them.
    pub(crate) rendezvous: usize,
    recorded: Mutex<Recorded>,
    arrived: Condvar,
}

/// What the builder asked a [`FakeHost`] for.
#[derive(Default)]
pub(crate) struct Recorded {
    pub(crate) runs: Vec<RunStep>,
    /// What each RUN's bind mounts showed while it ran: target, and a file's bytes or a
    /// directory's sorted entry names joined by newlines.
    pub(crate) mounted: Vec<(String, Vec<u8>)>,
    pub(crate) pulls: Vec<String>,
    pub(crate) stored: Vec<BuiltImage>,
    pub(crate) tags: Vec<String>,
    /// RUNs under way now, and the most there were at once.
    pub(crate) running: usize,
    pub(crate) most_running: usize,
}

impl FakeHost {
    pub(crate) fn new() -> Self {
        Self {
            tmp: tempfile::tempdir().unwrap(),
            images: HashMap::new(),
            layer_tars: Mutex::default(),
            run_results: HashMap::new(),
            downloads: HashMap::new(),
            rendezvous: 0,
            recorded: Mutex::default(),
            arrived: Condvar::new(),
        }
    }

    pub(crate) fn recorded(&self) -> MutexGuard<'_, Recorded> {
        self.recorded.lock().unwrap()
    }

    pub(crate) fn tmp_dir(&self) -> std::path::PathBuf {
        self.tmp.path().to_path_buf()
    }

    /// Registers an image under `name` with these layer tars; `config` is the image config
    /// without `rootfs`, which is filled in.
    pub(crate) fn add_image(
        &mut self,
        name: &str,
        mut config: serde_json::Value,
        tars: &[Vec<u8>],
    ) {
        let mut layers = Vec::new();
        for tar in tars {
            let mut file = tempfile::tempfile().unwrap();
            std::io::Write::write_all(&mut file, tar).unwrap();
            std::io::Seek::rewind(&mut file).unwrap();
            let parent = layers.last().map(|l: &Layer| l.chain_id.clone());
            layers.push(self.add_layer(parent.as_ref(), &mut file).unwrap());
        }
        config["rootfs"] = serde_json::json!({
            "type": "layers",
            "diff_ids": layers.iter().map(|l| l.diff_id.to_string()).collect::<Vec<_>>(),
        });
        self.images.insert(
            name.to_owned(),
            (serde_json::to_vec(&config).unwrap(), layers),
        );
    }

    /// The bytes of a layer the build stored.
    pub(crate) fn layer_tar(&self, layer: &Layer) -> Vec<u8> {
        self.layer_tars.lock().unwrap()[&layer.chain_id].clone()
    }
}

/// Only root can give unpacked files their owners.
pub(crate) fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// An unpacked image filesystem, removed on drop.
struct FakeMount(tempfile::TempDir);

impl MountedRootfs for FakeMount {
    fn path(&self) -> &std::path::Path {
        self.0.path()
    }
}

struct FakeCacheDir {
    path: std::path::PathBuf,
    is_new: bool,
}

impl CacheDir for FakeCacheDir {
    fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn is_new(&self) -> bool {
        self.is_new
    }
}

#[derive(Debug)]
struct FakeError(String);

impl std::fmt::Display for FakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FakeError {}

fn fake_error(message: String) -> HostError {
    Box::new(FakeError(message))
}

impl BuildHost for FakeHost {
    fn resolve_image(
        &self,
        reference: &str,
        _platform: Option<&str>,
        _always_pull: bool,
        progress: &mut dyn Progress,
    ) -> Result<BaseImage, HostError> {
        self.recorded().pulls.push(reference.to_owned());
        let (config, layers) = self.images.get(reference).ok_or_else(|| {
            fake_error(format!(
                "pull access denied for {reference}, repository does not exist"
            ))
        })?;
        progress.write(&format!("(fake) resolved {reference}\n"));
        Ok(BaseImage {
            config: config.clone(),
            layers: layers.clone(),
        })
    }

    fn mount(&self, layers: &[ChainId]) -> Result<Box<dyn MountedRootfs>, HostError> {
        let dir = tempfile::tempdir_in(self.tmp.path()).unwrap();
        for chain in layers {
            let tar = self
                .layer_tars
                .lock()
                .unwrap()
                .get(chain)
                .cloned()
                .ok_or_else(|| fake_error(format!("no layer {chain}")))?;
            let mut archive = tar::Archive::new(&tar[..]);
            archive.set_preserve_permissions(true);
            archive.set_preserve_ownerships(running_as_root());
            for entry in archive.entries().unwrap() {
                let mut entry = entry.unwrap();
                let path = entry.path().unwrap().into_owned();
                let name = path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                if let Some(gone) = name.strip_prefix(".wh.") {
                    let victim = dir.path().join(path.with_file_name(gone));
                    let _ = std::fs::remove_dir_all(&victim);
                    let _ = std::fs::remove_file(&victim);
                    continue;
                }
                entry.unpack_in(dir.path()).unwrap();
            }
        }
        Ok(Box::new(FakeMount(dir)))
    }

    fn mount_scratch(&self, layers: &[ChainId]) -> Result<Box<dyn MountedRootfs>, HostError> {
        // Unpacked into a directory of its own, so writes are thrown away with it.
        self.mount(layers)
    }

    fn cache_dir(&self, id: &str, _sharing: Sharing) -> Result<Box<dyn CacheDir>, HostError> {
        let path = self
            .tmp
            .path()
            .join("cache-mounts")
            .join(sha256_hex(id.as_bytes()));
        let is_new = !path.exists();
        std::fs::create_dir_all(&path).unwrap();
        Ok(Box::new(FakeCacheDir { path, is_new }))
    }

    fn run(&self, step: &RunStep, output: &mut dyn RunOutput) -> Result<RunExit, HostError> {
        let mut recorded = self.recorded();
        recorded.runs.push(step.clone());
        for mount in &step.mounts {
            if let StepMount::Bind { source, target, .. } = mount {
                let seen = if source.is_dir() {
                    let mut names: Vec<String> = std::fs::read_dir(source)
                        .unwrap()
                        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                        .collect();
                    names.sort();
                    names.join("\n").into_bytes()
                } else {
                    std::fs::read(source).unwrap()
                };
                recorded.mounted.push((target.clone(), seen));
            }
        }
        let n = recorded.runs.len();
        recorded.running += 1;
        recorded.most_running = recorded.most_running.max(recorded.running);
        self.arrived.notify_all();
        let (mut recorded, _) = self
            .arrived
            .wait_timeout_while(recorded, Duration::from_secs(10), |r| {
                r.runs.len() < self.rendezvous
            })
            .unwrap();
        recorded.running -= 1;
        drop(recorded);
        output.started(&format!("{n:0>64}"));
        output.output(format!("ran {}\n", step.cmd.join(" ")).as_bytes());
        let (code, diff) = self
            .run_results
            .get(&step.cmd.join(" "))
            .cloned()
            .unwrap_or_else(|| {
                // Named after the command, so stages running at once get the same layers.
                let name = format!(
                    "run-{}.txt",
                    &sha256_hex(step.cmd.join(" ").as_bytes())[..8]
                );
                (0, TarBuilder::new().file(&name, 0o644, b"ran").finish())
            });
        if code != 0 {
            return Ok(RunExit::Failed { code });
        }
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, &diff).unwrap();
        std::io::Seek::rewind(&mut file).unwrap();
        Ok(RunExit::Succeeded { diff: file })
    }

    fn add_layer(&self, parent: Option<&ChainId>, tar: &mut File) -> Result<Layer, HostError> {
        let mut bytes = Vec::new();
        tar.read_to_end(&mut bytes).unwrap();
        let diff_id = Digest::of(&bytes);
        let layer = Layer {
            chain_id: chain_id(parent, &diff_id),
            diff_id: diff_id.clone(),
            parent: parent.cloned(),
            blob: diff_id,
            blob_media_type: "application/vnd.oci.image.layer.v1.tar".to_owned(),
            size: bytes.len() as u64,
            tar_size: bytes.len() as u64,
        };
        self.layer_tars
            .lock()
            .unwrap()
            .insert(layer.chain_id.clone(), bytes);
        Ok(layer)
    }

    fn fetch_url(&self, url: &str) -> Result<Download, HostError> {
        let body = self
            .downloads
            .get(url)
            .ok_or_else(|| fake_error(format!("no such URL in the test: {url}")))?;
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, body).unwrap();
        std::io::Seek::rewind(&mut file).unwrap();
        Ok(Download {
            body: file,
            last_modified: Some("Sun, 06 Nov 1994 08:49:37 GMT".to_owned()),
            content_disposition: None,
        })
    }

    fn store_image(&self, image: &BuiltImage) -> Result<(), HostError> {
        self.recorded().stored.push(image.clone());
        Ok(())
    }

    fn tag_image(&self, _id: &Digest, reference: &str) -> Result<String, HostError> {
        let name = if reference.contains(':') {
            reference.to_owned()
        } else {
            format!("{reference}:latest")
        };
        self.recorded().tags.push(name.clone());
        Ok(name)
    }
}

/// TEST DOUBLE for the engine's cache table: entries in memory.
#[derive(Default)]
pub(crate) struct MemoryCache {
    entries: Mutex<HashMap<CacheKey, CachedStep>>,
}

impl BuildCache for MemoryCache {
    fn get(&self, key: &CacheKey) -> Result<Option<CachedStep>, HostError> {
        Ok(self.entries.lock().unwrap().get(key).cloned())
    }

    fn put(&self, key: &CacheKey, step: &CachedStep) -> Result<(), HostError> {
        self.entries
            .lock()
            .unwrap()
            .insert(key.clone(), step.clone());
        Ok(())
    }
}
