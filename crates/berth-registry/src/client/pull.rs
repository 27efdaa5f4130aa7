//! `docker pull`: resolve a reference to a manifest (choosing the platform from an index),
//! fetch the image config, download the layers in parallel into the content store and unpack
//! them in order. Every manifest and blob is checked against its digest and size; so is every
//! unpacked layer against the diff id its config lists.

use std::collections::HashSet;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use berth_image::{ChainId, Digest, ImageStore, Layer, LoadedImage, chain_id};
use ureq::http::{Method, StatusCode};

use crate::client::error::{Error, Result};
use crate::client::manifest::{
    ConfigRootfs, DOCUMENT_LIMIT, Descriptor, ImageIndex, ImageManifest, MANIFEST_ACCEPT,
    ManifestKind, is_image_config, is_unpackable_layer, media_type,
};
use crate::client::platform::Platform;
use crate::client::progress::{Progress, ProgressStatus};
use crate::client::reference::{DEFAULT_TAG, DOCKER_HUB, Reference};
use crate::client::resume::ResumableBlob;
use crate::client::session::{Call, Session, pull_scope};
use crate::client::{Client, Credentials};

/// How often a transfer reports its bytes.
pub(crate) const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Options of [`Client::pull`].
#[derive(Debug, Clone, Default)]
pub struct PullOptions<'a> {
    /// The platform to pick from an index; this machine's when `None`.
    pub platform: Option<Platform>,
    pub credentials: Option<&'a Credentials>,
}

/// A pulled image, its blobs in the content store and its layers unpacked.
#[derive(Debug, Clone)]
pub struct PulledImage {
    /// Config digest (the image id), config JSON and unpacked layers, bottom first;
    /// `repo_tags` holds the familiar tag (`busybox:latest`) when pulled by tag.
    pub image: LoadedImage,
    /// What the reference resolved to (the index of a multi-platform image): the digest of
    /// `RepoDigests` and of the `Digest:` line of `docker pull`.
    pub manifest_digest: Digest,
    /// The image manifest used (the platform's entry when the reference named an index).
    pub image_manifest: Descriptor,
    /// The layer blobs as the manifest lists them, bottom first.
    pub layers: Vec<Descriptor>,
}

impl Client {
    /// Pulls `reference` (its digest if it has one, else its tag, else `latest`) into `store`,
    /// reporting each layer's progress to `progress` on the calling thread. Layers already
    /// unpacked are not downloaded ("Already exists"), blobs already stored are not fetched
    /// again. On error, blobs that were fully downloaded and verified stay in the store (a
    /// retry reuses them) but the image config does not, so nothing refers to them.
    pub fn pull(
        &self,
        reference: &Reference,
        store: &ImageStore,
        options: &PullOptions<'_>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<PulledImage> {
        let scopes = vec![pull_scope(reference.repository())];
        // A Docker Hub image comes from the first mirror that has it, else from Docker Hub.
        if reference.registry() == DOCKER_HUB {
            for mirror in self.mirrors() {
                let session =
                    Session::at_origin(self, mirror, mirror.clone(), None, scopes.clone());
                match self.pull_from(&session, reference, store, options, progress) {
                    Ok(pulled) => return Ok(pulled),
                    Err(e) => {
                        tracing::info!(%mirror, error = %e, "mirror could not serve the pull")
                    }
                }
            }
        }
        let session = Session::new(self, reference.registry(), options.credentials, scopes);
        self.pull_from(&session, reference, store, options, progress)
    }

    fn pull_from(
        &self,
        session: &Session<'_>,
        reference: &Reference,
        store: &ImageStore,
        options: &PullOptions<'_>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<PulledImage> {
        let puller = Puller {
            session,
            reference,
            store,
            concurrency: self.config.max_concurrent_downloads.max(1),
        };
        let platform = options.platform.clone().unwrap_or_else(Platform::host);
        let top = puller.fetch_manifest(reference.manifest_reference(), None)?;
        let manifest_digest = top.digest.clone();
        let (manifest, image_manifest) = match top.kind {
            ManifestKind::Index => {
                let entry = puller.choose(&top.bytes, &platform)?;
                let fetched = puller.fetch_manifest(entry.digest.as_str(), Some(&entry))?;
                if fetched.kind != ManifestKind::Image {
                    return Err(puller.invalid(
                        "index",
                        format!("entry {} is not an image manifest", entry.digest),
                    ));
                }
                (fetched, entry)
            }
            // An image manifest (fetch_manifest refused schema 1).
            _ => {
                let descriptor =
                    Descriptor::new(&top.media_type, top.digest.clone(), top.bytes.len() as u64);
                (top, descriptor)
            }
        };
        let manifest = puller.parse_image_manifest(&manifest.bytes)?;
        let config = puller.fetch_document(&manifest.config, "image config")?;
        let diff_ids = puller.diff_ids(&config, &manifest)?;
        let layers = puller.layers(&manifest.layers, &diff_ids, progress)?;
        store
            .put_blob(&config[..], Some(&manifest.config.digest), DOCUMENT_LIMIT)
            .map_err(|e| Error::store(format!("image config {}", manifest.config.digest), e))?;
        let repo_tags = match reference.digest() {
            Some(_) => Vec::new(),
            None => {
                let tag = reference.tag().unwrap_or(DEFAULT_TAG);
                vec![reference.with_tag(tag)?.familiar()]
            }
        };
        Ok(PulledImage {
            image: LoadedImage {
                id: manifest.config.digest.clone(),
                config,
                layers,
                repo_tags,
            },
            manifest_digest,
            image_manifest,
            layers: manifest.layers,
        })
    }
}

/// A manifest as fetched and verified.
struct Fetched {
    kind: ManifestKind,
    media_type: String,
    digest: Digest,
    bytes: Vec<u8>,
}

/// What download workers tell the pulling thread.
enum Event {
    Progress(Progress),
    Downloaded(Digest, Result<()>),
}

struct Puller<'a> {
    session: &'a Session<'a>,
    reference: &'a Reference,
    store: &'a ImageStore,
    concurrency: usize,
}

impl Puller<'_> {
    /// Fetches manifest `name` (a tag or digest). It must hash to the digest it was asked by,
    /// to `expected` (an index entry, whose size must match too) and to the registry's
    /// `Docker-Content-Digest`.
    fn fetch_manifest(&self, name: &str, expected: Option<&Descriptor>) -> Result<Fetched> {
        let repository = self.reference.repository();
        let url = self
            .session
            .url(&format!("/v2/{repository}/manifests/{name}"));
        let call = Call::new(Method::GET, url.clone()).header("Accept", MANIFEST_ACCEPT.join(", "));
        let mut response = self.session.send(call)?;
        let status = response.status();
        let shown = match name.parse::<Digest>() {
            Ok(digest) => self.reference.with_digest(digest).familiar(),
            Err(_) => self.reference.with_tag(name)?.familiar(),
        };
        if status == StatusCode::NOT_FOUND {
            let message = match self.session.error(&Method::GET, &url, response) {
                Error::Registry { message, .. } => message,
                other => other.to_string(),
            };
            return Err(Error::ManifestUnknown {
                reference: shown,
                message,
            });
        }
        if !status.is_success() {
            return Err(self.session.error(&Method::GET, &url, response));
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("Content-Type");
        let announced = header("Docker-Content-Digest");
        let bytes = self.read_document(response.body_mut(), &url, &format!("manifest {shown}"))?;
        let digest = Digest::of(&bytes);
        let wanted = [
            name.parse::<Digest>().ok(),
            expected.map(|d| d.digest.clone()),
            announced.and_then(|a| a.parse::<Digest>().ok()),
        ];
        for want in wanted.into_iter().flatten() {
            if want != digest {
                return Err(self.digest_mismatch(format!("manifest {name}"), want, digest));
            }
        }
        if let Some(expected) = expected.filter(|d| d.size != bytes.len() as u64) {
            return Err(Error::SizeMismatch {
                registry: self.session.registry.clone(),
                repository: repository.to_owned(),
                what: format!("manifest {name}"),
                expected: expected.size,
                actual: bytes.len() as u64,
            });
        }
        let Some((kind, media_type)) = ManifestKind::detect(content_type.as_deref(), &bytes) else {
            let reason = format!(
                "unsupported manifest media type {:?}",
                content_type.unwrap_or_default()
            );
            return Err(Error::UnsupportedManifest {
                reference: shown,
                reason,
            });
        };
        if kind == ManifestKind::Schema1 {
            return Err(Error::UnsupportedManifest {
                reference: shown,
                reason: "Docker Image manifest version 2, schema 1 is not supported; the image \
                         must be pushed again as an OCI image or Docker schema 2"
                    .to_owned(),
            });
        }
        Ok(Fetched {
            kind,
            media_type,
            digest,
            bytes,
        })
    }

    /// The index entry that best fits `platform`.
    fn choose(&self, index: &[u8], platform: &Platform) -> Result<Descriptor> {
        let index: ImageIndex =
            serde_json::from_slice(index).map_err(|e| self.invalid("index", e.to_string()))?;
        index
            .manifests
            .into_iter()
            .filter(|d| {
                matches!(
                    d.media_type.as_str(),
                    media_type::OCI_MANIFEST | media_type::DOCKER_MANIFEST
                )
            })
            .filter_map(|d| Some((platform.rank(d.platform.as_ref()?)?, d)))
            .min_by_key(|(rank, _)| *rank)
            .map(|(_, d)| d)
            .ok_or_else(|| Error::NoMatchingPlatform {
                reference: self.reference.familiar(),
                platform: platform.to_string(),
            })
    }

    fn parse_image_manifest(&self, bytes: &[u8]) -> Result<ImageManifest> {
        let manifest: ImageManifest =
            serde_json::from_slice(bytes).map_err(|e| self.invalid("manifest", e.to_string()))?;
        if manifest.schema_version != 2 {
            let reason = format!("schema version {}", manifest.schema_version);
            return Err(self.invalid("manifest", reason));
        }
        let unsupported = |reason: String| Error::UnsupportedManifest {
            reference: self.reference.familiar(),
            reason,
        };
        if !is_image_config(&manifest.config.media_type) {
            return Err(unsupported(format!(
                "not a container image (config media type {:?})",
                manifest.config.media_type
            )));
        }
        for layer in &manifest.layers {
            if layer.media_type == media_type::DOCKER_FOREIGN_LAYER {
                return Err(unsupported(format!(
                    "layer {} is a foreign (Windows) layer",
                    layer.digest
                )));
            }
            if !is_unpackable_layer(&layer.media_type) {
                return Err(unsupported(format!(
                    "layer {} has unsupported media type {:?}",
                    layer.digest, layer.media_type
                )));
            }
        }
        Ok(manifest)
    }

    /// The diff ids of an image config, one per manifest layer.
    fn diff_ids(&self, config: &[u8], manifest: &ImageManifest) -> Result<Vec<Digest>> {
        let ConfigRootfs { rootfs } = serde_json::from_slice(config)
            .map_err(|e| self.invalid("image config", e.to_string()))?;
        if rootfs.kind != "layers" {
            let reason = format!("rootfs type is {:?}, expected \"layers\"", rootfs.kind);
            return Err(self.invalid("image config", reason));
        }
        if rootfs.diff_ids.len() != manifest.layers.len() {
            let reason = format!(
                "it lists {} layers, the manifest {}",
                rootfs.diff_ids.len(),
                manifest.layers.len()
            );
            return Err(self.invalid("image config", reason));
        }
        Ok(rootfs.diff_ids)
    }

    /// A small blob (the image config) read into memory and verified.
    fn fetch_document(&self, descriptor: &Descriptor, what: &str) -> Result<Vec<u8>> {
        let what = format!("{what} {}", descriptor.digest);
        if descriptor.size > DOCUMENT_LIMIT {
            return Err(Error::TooLarge {
                registry: self.session.registry.clone(),
                what,
                limit: DOCUMENT_LIMIT,
            });
        }
        let (url, mut response) = self.get_blob(&descriptor.digest)?;
        let bytes = self.read_document(response.body_mut(), &url, &what)?;
        let actual = Digest::of(&bytes);
        if actual != descriptor.digest {
            return Err(self.digest_mismatch(what, descriptor.digest.clone(), actual));
        }
        if bytes.len() as u64 != descriptor.size {
            return Err(Error::SizeMismatch {
                registry: self.session.registry.clone(),
                repository: self.reference.repository().to_owned(),
                what,
                expected: descriptor.size,
                actual: bytes.len() as u64,
            });
        }
        Ok(bytes)
    }

    /// Reads a whole body (from `url`) of at most [`DOCUMENT_LIMIT`] bytes.
    fn read_document(&self, body: &mut ureq::Body, url: &str, what: &str) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        body.as_reader()
            .take(DOCUMENT_LIMIT + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::Protocol {
                method: "Get".to_owned(),
                url: url.to_owned(),
                reason: format!("reading {what}: {e}"),
            })?;
        if bytes.len() as u64 > DOCUMENT_LIMIT {
            return Err(Error::TooLarge {
                registry: self.session.registry.clone(),
                what: what.to_owned(),
                limit: DOCUMENT_LIMIT,
            });
        }
        Ok(bytes)
    }

    /// `GET /v2/<name>/blobs/<digest>`, following redirects to the storage that serves it.
    fn get_blob(&self, digest: &Digest) -> Result<(String, ureq::http::Response<ureq::Body>)> {
        let repository = self.reference.repository();
        let url = self
            .session
            .url(&format!("/v2/{repository}/blobs/{digest}"));
        let response = self.session.send(Call::new(Method::GET, url.clone()))?;
        if !response.status().is_success() {
            return Err(self.session.error(&Method::GET, &url, response));
        }
        Ok((url, response))
    }

    /// Makes every layer present and unpacked, bottom first: downloads run on up to
    /// `concurrency` threads while this one unpacks each layer as soon as it and all below it
    /// are in, and forwards progress.
    fn layers(
        &self,
        descriptors: &[Descriptor],
        diff_ids: &[Digest],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Vec<Layer>> {
        let mut chain: Vec<ChainId> = Vec::with_capacity(diff_ids.len());
        for (i, diff_id) in diff_ids.iter().enumerate() {
            chain.push(chain_id(i.checked_sub(1).map(|p| &chain[p]), diff_id));
        }
        let mut unpacked: Vec<Option<Layer>> = Vec::with_capacity(chain.len());
        for (id, descriptor) in chain.iter().zip(descriptors) {
            let layer = self.store.layer(id).map_err(|e| {
                Error::store(
                    format!("layer {} of {}", descriptor.digest, self.reference),
                    e,
                )
            })?;
            unpacked.push(layer);
        }
        let mut ready: HashSet<Digest> = HashSet::new();
        let mut queue: Vec<&Descriptor> = Vec::new();
        let mut announce = Vec::new();
        for (descriptor, layer) in descriptors.iter().zip(&unpacked) {
            let digest = &descriptor.digest;
            if layer.is_some() {
                announce.push((digest.clone(), ProgressStatus::AlreadyExists));
            } else if ready.contains(digest) || queue.iter().any(|d| d.digest == *digest) {
                // The same blob twice in one image: fetched once.
            } else if self.store.has_blob(digest) {
                ready.insert(digest.clone());
                announce.push((digest.clone(), ProgressStatus::DownloadComplete));
            } else {
                queue.push(descriptor);
                announce.push((digest.clone(), ProgressStatus::PullingFsLayer));
            }
        }
        let waiting = queue
            .iter()
            .skip(self.concurrency)
            .map(|d| (d.digest.clone(), ProgressStatus::Waiting));
        for (id, status) in announce.into_iter().chain(waiting) {
            progress(Progress { id, status });
        }

        let next = AtomicUsize::new(0);
        let cancel = AtomicBool::new(false);
        let (events, inbox) = mpsc::channel();
        thread::scope(|scope| {
            for _ in 0..self.concurrency.min(queue.len()) {
                let events = events.clone();
                let (queue, next, cancel) = (&queue, &next, &cancel);
                scope.spawn(move || {
                    while !cancel.load(Ordering::Relaxed) {
                        let Some(descriptor) = queue.get(next.fetch_add(1, Ordering::Relaxed))
                        else {
                            break;
                        };
                        let report = |status| {
                            let id = descriptor.digest.clone();
                            let _ = events.send(Event::Progress(Progress { id, status }));
                        };
                        let result = self.download(descriptor, &report, cancel);
                        let failed = result.is_err();
                        let _ = events.send(Event::Downloaded(descriptor.digest.clone(), result));
                        if failed {
                            break;
                        }
                    }
                });
            }
            drop(events);
            let result = self.unpack_in_order(
                descriptors,
                diff_ids,
                unpacked,
                &mut ready,
                &inbox,
                progress,
            );
            if result.is_err() {
                cancel.store(true, Ordering::Relaxed);
            }
            result
        })
    }

    /// The pulling thread's loop: unpack what is ready, in order, and wait for the rest.
    fn unpack_in_order(
        &self,
        descriptors: &[Descriptor],
        diff_ids: &[Digest],
        mut unpacked: Vec<Option<Layer>>,
        ready: &mut HashSet<Digest>,
        inbox: &mpsc::Receiver<Event>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Vec<Layer>> {
        let mut layers: Vec<Layer> = Vec::with_capacity(descriptors.len());
        loop {
            while layers.len() < descriptors.len() {
                let i = layers.len();
                let blob = &descriptors[i].digest;
                if let Some(layer) = unpacked[i].take() {
                    layers.push(layer);
                    continue;
                }
                if !ready.contains(blob) {
                    break;
                }
                let report = |status| Progress {
                    id: blob.clone(),
                    status,
                };
                progress(report(ProgressStatus::Extracting));
                let parent = layers.last().map(|l: &Layer| &l.chain_id);
                let layer = self
                    .store
                    .apply_layer(parent, blob)
                    .map_err(|e| Error::store(format!("layer {blob} of {}", self.reference), e))?;
                if layer.diff_id != diff_ids[i] {
                    let what = format!("uncompressed layer {blob}");
                    return Err(self.digest_mismatch(what, diff_ids[i].clone(), layer.diff_id));
                }
                progress(report(ProgressStatus::PullComplete));
                layers.push(layer);
            }
            if layers.len() == descriptors.len() {
                return Ok(layers);
            }
            match inbox.recv() {
                Ok(Event::Progress(event)) => progress(event),
                Ok(Event::Downloaded(digest, result)) => {
                    result?;
                    ready.insert(digest);
                }
                Err(mpsc::RecvError) => {
                    // Every worker ended yet a layer is missing: they only stop early on an
                    // error, which was received first; this is a bug, reported as such.
                    let missing = &descriptors[layers.len()].digest;
                    return Err(
                        self.invalid("download", format!("layer {missing} was never downloaded"))
                    );
                }
            }
        }
    }

    /// Streams one layer blob into the store, verifying its size and digest; a dropped
    /// connection is resumed where it broke.
    fn download(
        &self,
        descriptor: &Descriptor,
        report: &dyn Fn(ProgressStatus),
        cancel: &AtomicBool,
    ) -> Result<()> {
        let digest = &descriptor.digest;
        let what = format!("layer {digest}");
        let (url, response) = self.get_blob(digest)?;
        let announced = response
            .headers()
            .get("Content-Length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(length) = announced.filter(|l| *l != descriptor.size) {
            return Err(self.size_mismatch(what, descriptor.size, length));
        }
        let body = response.into_body().into_reader();
        let mut reader = ProgressReader {
            inner: ResumableBlob::new(self.session, url, descriptor.size, body),
            done: 0,
            total: descriptor.size,
            last_report: None,
            report,
            cancel,
        };
        let existed = self.store.has_blob(digest);
        let stored = self
            .store
            .put_blob(&mut reader, Some(digest), descriptor.size);
        match stored {
            Ok((_, size)) if size != descriptor.size => {
                if !existed {
                    let _ = self.store.remove_blob(digest);
                }
                Err(self.size_mismatch(what, descriptor.size, size))
            }
            Ok(_) => {
                report(ProgressStatus::DownloadComplete);
                Ok(())
            }
            Err(berth_image::Error::DigestMismatch {
                expected, actual, ..
            }) => Err(self.digest_mismatch(what, expected, actual)),
            Err(berth_image::Error::TooLarge { .. }) => {
                let reason = format!(
                    "more than the {} bytes its descriptor says",
                    descriptor.size
                );
                Err(self.invalid("layer", format!("{what}: {reason}")))
            }
            Err(e) => Err(Error::store(
                format!(
                    "{what} from {}/{}",
                    self.session.registry,
                    self.reference.repository()
                ),
                e,
            )),
        }
    }

    fn invalid(&self, what: &'static str, reason: String) -> Error {
        Error::InvalidManifest {
            reference: self.reference.familiar(),
            what,
            reason,
        }
    }

    fn digest_mismatch(&self, what: String, expected: Digest, actual: Digest) -> Error {
        Error::DigestMismatch {
            registry: self.session.registry.clone(),
            repository: self.reference.repository().to_owned(),
            what,
            expected,
            actual,
        }
    }

    fn size_mismatch(&self, what: String, expected: u64, actual: u64) -> Error {
        Error::SizeMismatch {
            registry: self.session.registry.clone(),
            repository: self.reference.repository().to_owned(),
            what,
            expected,
            actual,
        }
    }
}

/// Counts a download, reports it now and then, and stops it when the pull is cancelled.
struct ProgressReader<'a, R> {
    inner: R,
    done: u64,
    total: u64,
    last_report: Option<Instant>,
    report: &'a dyn Fn(ProgressStatus),
    cancel: &'a AtomicBool,
}

impl<R: Read> Read for ProgressReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(io::Error::other("pull cancelled"));
        }
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        let due = self
            .last_report
            .is_none_or(|at| at.elapsed() >= PROGRESS_INTERVAL);
        if n > 0 && (due || self.done == self.total) {
            self.last_report = Some(Instant::now());
            (self.report)(ProgressStatus::Downloading {
                current: self.done,
                total: self.total,
            });
        }
        if n == 0 && !buf.is_empty() && self.done == self.total {
            (self.report)(ProgressStatus::VerifyingChecksum);
        }
        Ok(n)
    }
}
