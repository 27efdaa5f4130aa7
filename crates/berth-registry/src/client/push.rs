//! `docker push`: upload an image's layers and config (skipping blobs the registry has,
//! mounting those another repository of it has) and put its manifest under a tag.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, Write};
use std::time::Instant;

use berth_image::{Digest, ImageStore, Layer};
use flate2::write::GzEncoder;
use sha2::{Digest as _, Sha256};
use ureq::Body;
use ureq::http::{Method, Response, StatusCode};

use crate::client::error::{Error, Result};
use crate::client::manifest::{
    ConfigRootfs, DOCUMENT_LIMIT, Descriptor, ImageManifest, media_type, to_docker_json,
};
use crate::client::progress::{Progress, ProgressStatus};
use crate::client::pull::PROGRESS_INTERVAL;
use crate::client::reference::{DEFAULT_TAG, Reference};
use crate::client::session::{
    Call, Payload, Session, go_method, pull_scope, push_scope, query_escape,
};
use crate::client::{Client, Credentials};

/// The manifest format a push writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ManifestFormat {
    /// Docker Image Manifest v2, schema 2 (what `docker push` writes); gzip layers only.
    #[default]
    Docker,
    /// OCI image manifest; gzip or zstd layers.
    Oci,
}

/// Options of [`Client::push`].
#[derive(Debug, Clone, Default)]
pub struct PushOptions<'a> {
    pub credentials: Option<&'a Credentials>,
    pub format: ManifestFormat,
    /// Repositories of the same registry that may hold the layers already (those the image
    /// was pulled from): a missing blob is first mounted from them, then uploaded.
    pub mount_from: Vec<String>,
}

/// The image to push, as the content store has it.
#[derive(Debug, Clone)]
pub struct PushImage {
    /// The config blob (the image id).
    pub config: Digest,
    /// Its layers, bottom first; their blobs must be in the store. Uncompressed ones are
    /// gzip-compressed for the upload.
    pub layers: Vec<Layer>,
}

/// A pushed manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedImage {
    /// `docker push`'s `digest:` (and the new `RepoDigests` entry).
    pub digest: Digest,
    /// `docker push`'s `size:`.
    pub size: u64,
    pub media_type: String,
}

impl Client {
    /// Pushes `image` to `target` (its tag, or `latest`), reporting each layer's progress
    /// under its diff id, and returns the manifest's digest.
    pub fn push(
        &self,
        target: &Reference,
        store: &ImageStore,
        image: &PushImage,
        options: &PushOptions<'_>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<PushedImage> {
        if target.digest().is_some() {
            return Err(Error::InvalidReference {
                reference: target.to_string(),
                message: "cannot push a digest reference".to_owned(),
            });
        }
        let repository = target.repository();
        let mut scopes = vec![push_scope(repository)];
        let sources: Vec<&str> = options
            .mount_from
            .iter()
            .map(String::as_str)
            .filter(|from| *from != repository)
            .collect();
        scopes.extend(sources.iter().map(|from| pull_scope(from)));
        let session = Session::new(self, target.registry(), options.credentials, scopes);
        let pusher = Pusher {
            session: &session,
            target,
            sources,
        };
        let config = store
            .read_blob(&image.config, DOCUMENT_LIMIT)
            .map_err(|e| Error::store(format!("image config {}", image.config), e))?;
        pusher.check_config(&config, image)?;
        for layer in &image.layers {
            progress(Progress {
                id: layer.diff_id.clone(),
                status: ProgressStatus::Preparing,
            });
        }
        let mut layers = Vec::with_capacity(image.layers.len());
        for layer in &image.layers {
            let blob = pusher.prepare(store, layer, options.format)?;
            pusher.push_layer(blob.file, &blob.descriptor, &layer.diff_id, progress)?;
            layers.push(blob.descriptor);
        }
        let (manifest_type, config_type) = match options.format {
            ManifestFormat::Docker => (media_type::DOCKER_MANIFEST, media_type::DOCKER_CONFIG),
            ManifestFormat::Oci => (media_type::OCI_MANIFEST, media_type::OCI_CONFIG),
        };
        let config_blob = Descriptor::new(config_type, image.config.clone(), config.len() as u64);
        pusher.push_config(&config_blob, &config)?;
        let manifest = to_docker_json(&ImageManifest {
            schema_version: 2,
            media_type: Some(manifest_type.to_owned()),
            config: config_blob,
            layers,
        });
        let tag = target.tag().unwrap_or(DEFAULT_TAG);
        let digest = pusher.put_manifest(tag, manifest_type, &manifest)?;
        Ok(PushedImage {
            digest,
            size: manifest.len() as u64,
            media_type: manifest_type.to_owned(),
        })
    }

    /// Puts a manifest or index as it is under `target`'s digest (which must match), tag or
    /// `latest`; its blobs and manifests must be in the repository already. For
    /// `docker manifest push` and multi-platform images.
    pub fn put_manifest(
        &self,
        target: &Reference,
        media_type: &str,
        manifest: &[u8],
        credentials: Option<&Credentials>,
    ) -> Result<Digest> {
        let scopes = vec![push_scope(target.repository())];
        let session = Session::new(self, target.registry(), credentials, scopes);
        let pusher = Pusher {
            session: &session,
            target,
            sources: Vec::new(),
        };
        let digest = Digest::of(manifest);
        if let Some(expected) = target.digest().filter(|d| **d != digest) {
            return Err(pusher.digest_mismatch("manifest".to_owned(), expected.clone(), digest));
        }
        pusher.put_manifest(target.manifest_reference(), media_type, manifest)
    }
}

/// A layer blob ready to upload.
struct LayerBlob {
    descriptor: Descriptor,
    /// Open at its start; a temporary file (deleted on close) for a blob compressed here.
    file: File,
}

struct Pusher<'a> {
    session: &'a Session<'a>,
    target: &'a Reference,
    /// Repositories to mount missing blobs from.
    sources: Vec<&'a str>,
}

impl Pusher<'_> {
    /// The config must list exactly the layers pushed.
    fn check_config(&self, config: &[u8], image: &PushImage) -> Result<()> {
        let invalid = |reason: String| Error::InvalidManifest {
            reference: self.target.familiar(),
            what: "image",
            reason,
        };
        let ConfigRootfs { rootfs } = serde_json::from_slice(config)
            .map_err(|e| invalid(format!("image config {}: {e}", image.config)))?;
        let layers: Vec<&Digest> = image.layers.iter().map(|l| &l.diff_id).collect();
        if rootfs.diff_ids.iter().collect::<Vec<_>>() != layers {
            return Err(invalid(format!(
                "image config {} does not list the {} layers given",
                image.config,
                layers.len()
            )));
        }
        Ok(())
    }

    /// The blob to upload for `layer`: its stored blob if compressed, else a gzip of it.
    fn prepare(
        &self,
        store: &ImageStore,
        layer: &Layer,
        format: ManifestFormat,
    ) -> Result<LayerBlob> {
        let store_error = |e| Error::store(format!("layer blob {}", layer.blob), e);
        let gzip_type = match format {
            ManifestFormat::Docker => media_type::DOCKER_LAYER_GZIP,
            ManifestFormat::Oci => media_type::OCI_LAYER_GZIP,
        };
        let media_type = match (layer.blob_media_type.as_str(), format) {
            (media_type::OCI_LAYER_GZIP | media_type::DOCKER_LAYER_GZIP, _) => gzip_type,
            (media_type::OCI_LAYER_ZSTD, ManifestFormat::Oci) => media_type::OCI_LAYER_ZSTD,
            (media_type::OCI_LAYER, _) => {
                let source = store.open_blob(&layer.blob).map_err(store_error)?;
                return self.compress(store, source, layer, gzip_type);
            }
            (other, _) => {
                let reason = format!(
                    "layer {} is stored as {other:?}, which a {format:?} manifest cannot describe",
                    layer.diff_id
                );
                return Err(Error::UnsupportedManifest {
                    reference: self.target.familiar(),
                    reason,
                });
            }
        };
        let file = store.open_blob(&layer.blob).map_err(store_error)?;
        let size = file
            .metadata()
            .map_err(|e| {
                store_error(berth_image::Error::Io {
                    what: "reading its size".to_owned(),
                    source: e,
                })
            })?
            .len();
        Ok(LayerBlob {
            descriptor: Descriptor::new(media_type, layer.blob.clone(), size),
            file,
        })
    }

    /// Gzips an uncompressed layer into a temporary file in the store's scratch space, hashing
    /// the compressed bytes on the way.
    fn compress(
        &self,
        store: &ImageStore,
        mut source: File,
        layer: &Layer,
        media_type: &str,
    ) -> Result<LayerBlob> {
        let tmp = store.tmp_dir();
        let fail = |action: &str, e: io::Error| {
            Error::store(
                format!("compressing layer {}", layer.diff_id),
                berth_image::Error::Io {
                    what: format!("{action} in {}", tmp.display()),
                    source: e,
                },
            )
        };
        let mut file = tempfile::tempfile_in(tmp).map_err(|e| fail("creating a file", e))?;
        let hashing = HashingWriter {
            inner: BufWriter::new(&mut file),
            hasher: Sha256::new(),
            size: 0,
        };
        let mut gzip = GzEncoder::new(hashing, flate2::Compression::default());
        io::copy(&mut source, &mut gzip).map_err(|e| fail("writing", e))?;
        let HashingWriter {
            mut inner,
            hasher,
            size,
        } = gzip.finish().map_err(|e| fail("writing", e))?;
        inner.flush().map_err(|e| fail("writing", e))?;
        drop(inner);
        let digest = Digest::from_hex(&hex::encode(hasher.finalize()))
            .map_err(|e| Error::store(format!("compressing layer {}", layer.diff_id), e))?;
        file.rewind().map_err(|e| fail("reading", e))?;
        Ok(LayerBlob {
            descriptor: Descriptor::new(media_type, digest, size),
            file,
        })
    }

    /// Makes the registry hold a layer blob: already there, mounted from a source repository,
    /// or uploaded (`POST`, one streamed `PATCH`, `PUT ?digest=`).
    fn push_layer(
        &self,
        file: File,
        blob: &Descriptor,
        id: &Digest,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<()> {
        let mut report = |status| {
            progress(Progress {
                id: id.clone(),
                status,
            })
        };
        if self.blob_exists(&blob.digest)? {
            report(ProgressStatus::LayerAlreadyExists);
            return Ok(());
        }
        let location = match self.mount(&blob.digest)? {
            Some(Mount::Mounted(from)) => {
                report(ProgressStatus::MountedFrom {
                    repository: from.to_owned(),
                });
                return Ok(());
            }
            Some(Mount::Upload(location)) => location,
            None => self.start_upload()?,
        };
        let mut reader = PushReader {
            inner: file,
            done: 0,
            total: blob.size,
            last_report: None,
            report: &mut report,
        };
        let patch = Call::new(Method::PATCH, location)
            .header("Content-Type", "application/octet-stream")
            .body(Payload::Stream(&mut reader));
        let (method, url) = (patch.method.clone(), patch.url.clone());
        let response = self.session.send(patch)?;
        if !response.status().is_success() {
            return Err(self.session.error(&method, &url, response));
        }
        let location = self.location(&method, &url, &response)?;
        self.finish_upload(&location, &blob.digest, Payload::Empty)?;
        report(ProgressStatus::Pushed);
        Ok(())
    }

    /// Uploads the config in one `PUT` unless the registry has it.
    fn push_config(&self, config: &Descriptor, bytes: &[u8]) -> Result<()> {
        if self.blob_exists(&config.digest)? {
            return Ok(());
        }
        let location = self.start_upload()?;
        self.finish_upload(&location, &config.digest, Payload::Bytes(bytes))
    }

    /// `HEAD /v2/<name>/blobs/<digest>`.
    fn blob_exists(&self, digest: &Digest) -> Result<bool> {
        let repository = self.target.repository();
        let url = self
            .session
            .url(&format!("/v2/{repository}/blobs/{digest}"));
        let response = self.session.send(Call::new(Method::HEAD, url.clone()))?;
        match response.status() {
            status if status.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.session.error(&Method::HEAD, &url, response)),
        }
    }

    /// Tries to mount `digest` from each source repository. A refusal is no error: the
    /// registry may not have it there, or the credentials may not reach it.
    fn mount(&self, digest: &Digest) -> Result<Option<Mount<'_>>> {
        let repository = self.target.repository();
        for from in &self.sources {
            let url = self.session.url(&format!(
                "/v2/{repository}/blobs/uploads/?mount={}&from={}",
                query_escape(digest.as_str()),
                query_escape(from)
            ));
            let call = Call::new(Method::POST, url.clone()).body(Payload::Bytes(&[]));
            let response = match self.session.send(call) {
                Err(e) if e.is_unauthorized() => continue,
                other => other?,
            };
            match response.status() {
                StatusCode::CREATED => return Ok(Some(Mount::Mounted(from))),
                // Not mounted, but an upload was started: use it.
                StatusCode::ACCEPTED => {
                    let location = self.location(&Method::POST, &url, &response)?;
                    return Ok(Some(Mount::Upload(location)));
                }
                _ => continue,
            }
        }
        Ok(None)
    }

    /// `POST /v2/<name>/blobs/uploads/`: the upload's location.
    fn start_upload(&self) -> Result<String> {
        let repository = self.target.repository();
        let url = self
            .session
            .url(&format!("/v2/{repository}/blobs/uploads/"));
        let call = Call::new(Method::POST, url.clone()).body(Payload::Bytes(&[]));
        let response = self.session.send(call)?;
        if response.status() != StatusCode::ACCEPTED {
            return Err(self.session.error(&Method::POST, &url, response));
        }
        self.location(&Method::POST, &url, &response)
    }

    /// `PUT <location>?digest=…` with the last (or only) bytes; the registry must store the
    /// blob under that digest.
    fn finish_upload(&self, location: &str, digest: &Digest, body: Payload<'_>) -> Result<()> {
        let separator = if location.contains('?') { '&' } else { '?' };
        let url = format!(
            "{location}{separator}digest={}",
            query_escape(digest.as_str())
        );
        let call = Call::new(Method::PUT, url.clone())
            .header("Content-Type", "application/octet-stream")
            .body(body);
        let response = self.session.send(call)?;
        if !response.status().is_success() {
            return Err(self.session.error(&Method::PUT, &url, response));
        }
        self.check_announced(&response, digest, format!("blob {digest}"))
    }

    /// `PUT /v2/<name>/manifests/<reference>`; returns the manifest's digest.
    fn put_manifest(&self, reference: &str, media_type: &str, manifest: &[u8]) -> Result<Digest> {
        let repository = self.target.repository();
        let url = self
            .session
            .url(&format!("/v2/{repository}/manifests/{reference}"));
        let call = Call::new(Method::PUT, url.clone())
            .header("Content-Type", media_type)
            .body(Payload::Bytes(manifest));
        let response = self.session.send(call)?;
        if !response.status().is_success() {
            return Err(self.session.error(&Method::PUT, &url, response));
        }
        let digest = Digest::of(manifest);
        self.check_announced(&response, &digest, format!("manifest {reference}"))?;
        Ok(digest)
    }

    /// A registry that names the stored content with another digest has stored something else.
    fn check_announced(
        &self,
        response: &Response<Body>,
        digest: &Digest,
        what: String,
    ) -> Result<()> {
        let announced = response
            .headers()
            .get("Docker-Content-Digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<Digest>().ok());
        match announced {
            Some(actual) if actual != *digest => {
                Err(self.digest_mismatch(what, digest.clone(), actual))
            }
            _ => Ok(()),
        }
    }

    /// The `Location` of an upload response, resolved against the registry.
    fn location(&self, method: &Method, url: &str, response: &Response<Body>) -> Result<String> {
        response
            .headers()
            .get("Location")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(|v| self.session.resolve(v))
            .ok_or_else(|| Error::Protocol {
                method: go_method(method),
                url: url.to_owned(),
                reason: "the upload response has no Location".to_owned(),
            })
    }

    fn digest_mismatch(&self, what: String, expected: Digest, actual: Digest) -> Error {
        Error::DigestMismatch {
            registry: self.session.registry.clone(),
            repository: self.target.repository().to_owned(),
            what,
            expected,
            actual,
        }
    }
}

enum Mount<'a> {
    Mounted(&'a str),
    /// The registry started an upload instead, at this location.
    Upload(String),
}

/// Hashes and counts what passes through to `inner`.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Reports an upload's bytes now and then.
struct PushReader<'a, R> {
    inner: R,
    done: u64,
    total: u64,
    last_report: Option<Instant>,
    report: &'a mut dyn FnMut(ProgressStatus),
}

impl<R: Read> Read for PushReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        let due = self
            .last_report
            .is_none_or(|at| at.elapsed() >= PROGRESS_INTERVAL);
        if n > 0 && (due || self.done == self.total) {
            self.last_report = Some(Instant::now());
            (self.report)(ProgressStatus::Pushing {
                current: self.done,
                total: self.total,
            });
        }
        Ok(n)
    }
}
