//! Manifests as the server checks them before storing: the media types it accepts, the shape
//! of each, and what they reference (which must already be in the repository) — blobs for an
//! image manifest, manifests for an index. The subject of a manifest (OCI 1.1) need not exist.

use std::io;

use berth_image::Digest;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::client::media_type;
use crate::server::error::{ApiError, ApiResult, Code};
use crate::server::names::{RepoName, Tag};
use crate::server::storage::{Storage, StoredManifest};

/// The largest manifest accepted (the same bound the client reads with).
pub(crate) const MANIFEST_LIMIT: u64 = crate::client::DOCUMENT_LIMIT;

/// What a manifest lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Docker schema 2 or OCI image manifest: a config and layers (blobs).
    Image,
    /// OCI index or Docker manifest list: manifests.
    Index,
}

/// The media types accepted and what each is.
const ACCEPTED: [(&str, Kind); 4] = [
    (media_type::DOCKER_MANIFEST, Kind::Image),
    (media_type::OCI_MANIFEST, Kind::Image),
    (media_type::DOCKER_MANIFEST_LIST, Kind::Index),
    (media_type::OCI_INDEX, Kind::Index),
];

/// A descriptor as manifests carry it; only what the server checks or reports.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    pub(crate) media_type: String,
    pub(crate) digest: Digest,
    pub(crate) size: u64,
    #[serde(default)]
    urls: Vec<String>,
}

impl Descriptor {
    /// A layer the registry need not hold: Docker's foreign layers and OCI's non-distributable
    /// ones, fetched from their `urls` instead.
    pub(crate) fn is_external(&self) -> bool {
        !self.urls.is_empty()
            && (self.media_type == media_type::DOCKER_FOREIGN_LAYER
                || self.media_type.contains(".nondistributable."))
    }
}

/// The fields of any of the four documents.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    schema_version: Option<u32>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    subject: Option<Descriptor>,
    annotations: Option<Map<String, Value>>,
}

/// A manifest that passed the checks that need no storage.
#[derive(Debug)]
pub(crate) struct Manifest {
    pub(crate) kind: Kind,
    pub(crate) media_type: &'static str,
    /// Blobs (image) or manifests (index) the repository must hold.
    pub(crate) references: Vec<Descriptor>,
    pub(crate) subject: Option<Digest>,
    /// `artifactType`, or for an image manifest without one, its config's media type.
    pub(crate) artifact_type: Option<String>,
    pub(crate) annotations: Option<Map<String, Value>>,
}

/// Parses and checks a pushed manifest. `content_type` is the request's `Content-Type`; a
/// document's own `mediaType`, when present, must agree with it.
pub(crate) fn parse(bytes: &[u8], content_type: Option<&str>) -> ApiResult<Manifest> {
    let document: Document = serde_json::from_slice(bytes)
        .map_err(|e| invalid(format!("manifest does not parse: {e}")))?;
    let content_type = content_type
        .map(|value| value.split(';').next().unwrap_or_default().trim())
        .filter(|value| !value.is_empty());
    let declared = match (content_type, document.media_type.as_deref()) {
        (Some(header), Some(field)) if header != field => {
            return Err(invalid(format!(
                "Content-Type {header} does not match the manifest's mediaType {field}"
            )));
        }
        (Some(header), _) => header,
        (None, Some(field)) => field,
        (None, None) => return Err(invalid("manifest media type unknown (no Content-Type)")),
    };
    let Some(&(media_type, kind)) = ACCEPTED.iter().find(|(accepted, _)| *accepted == declared)
    else {
        return Err(invalid(format!(
            "unsupported manifest media type {declared}"
        )));
    };
    if document.schema_version != Some(2) {
        return Err(invalid("schemaVersion must be 2"));
    }
    let references = match kind {
        Kind::Image => {
            if document.manifests.is_some() {
                return Err(invalid("an image manifest has no manifests"));
            }
            let config = document
                .config
                .clone()
                .ok_or_else(|| invalid("an image manifest needs a config"))?;
            let layers = document
                .layers
                .ok_or_else(|| invalid("an image manifest needs layers"))?;
            std::iter::once(config).chain(layers).collect()
        }
        Kind::Index => {
            if document.config.is_some() || document.layers.is_some() {
                return Err(invalid("an index has no config or layers"));
            }
            document
                .manifests
                .ok_or_else(|| invalid("an index needs manifests"))?
        }
    };
    let artifact_type = document
        .artifact_type
        .or_else(|| document.config.map(|config| config.media_type));
    Ok(Manifest {
        kind,
        media_type,
        references,
        subject: document.subject.map(|subject| subject.digest),
        artifact_type,
        annotations: document.annotations,
    })
}

/// Stores `manifest` (`bytes`, which hash to `digest`) in `repository`, tagged `tag`, if the
/// repository holds everything it references with the sizes it gives (else the refusal, with
/// nothing stored). What it references is touched, under the storage's write lock, so that a
/// garbage collection running meanwhile spares it (see `gc.rs`). Blocking.
pub(crate) fn store(
    storage: &Storage,
    repository: &RepoName,
    digest: &Digest,
    manifest: &Manifest,
    bytes: Vec<u8>,
    tag: Option<&Tag>,
) -> io::Result<ApiResult<()>> {
    let _live = storage.lock_for_write()?;
    for reference in manifest.references.iter().filter(|r| !r.is_external()) {
        let size = match manifest.kind {
            Kind::Image => storage.linked_blob_size(repository, &reference.digest)?,
            Kind::Index => storage
                .manifest_info(repository, &reference.digest)?
                .map(|(_, size)| size),
        };
        if size != Some(reference.size) {
            return Ok(Err(reference_unknown(reference, size)));
        }
        if !storage.touch_blob(&reference.digest)? {
            return Ok(Err(reference_unknown(reference, None)));
        }
    }
    let stored = StoredManifest {
        media_type: manifest.media_type.to_owned(),
        bytes,
    };
    storage.put_manifest(repository, digest, &stored, manifest.subject.as_ref(), tag)?;
    Ok(Ok(()))
}

/// A referenced blob or manifest the repository does not hold (or holds with another size).
pub(crate) fn reference_unknown(descriptor: &Descriptor, actual_size: Option<u64>) -> ApiError {
    match actual_size {
        None => ApiError::new(
            Code::ManifestBlobUnknown,
            "manifest references a manifest or blob unknown to registry",
        )
        .with_detail(json!({ "digest": descriptor.digest.as_str() })),
        Some(actual) => invalid(format!(
            "descriptor of {} gives size {}, the registry holds {actual} bytes",
            descriptor.digest, descriptor.size
        )),
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(Code::ManifestInvalid, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u8) -> String {
        Digest::of(&[n]).to_string()
    }

    fn image(media_type: Option<&str>) -> Value {
        let mut manifest = json!({
            "schemaVersion": 2,
            "config": {"mediaType": media_type::OCI_CONFIG, "digest": digest(1), "size": 1},
            "layers": [
                {"mediaType": media_type::OCI_LAYER_GZIP, "digest": digest(2), "size": 1},
                {"mediaType": media_type::DOCKER_FOREIGN_LAYER, "digest": digest(3), "size": 9,
                 "urls": ["https://example.com/layer"]},
            ],
            "subject": {"mediaType": media_type::OCI_MANIFEST, "digest": digest(4), "size": 5},
            "annotations": {"a": "b"},
        });
        if let Some(media_type) = media_type {
            manifest["mediaType"] = json!(media_type);
        }
        manifest
    }

    fn parse_value(value: &Value, content_type: Option<&str>) -> ApiResult<Manifest> {
        parse(&serde_json::to_vec(value).unwrap(), content_type)
    }

    #[test]
    fn image_manifest_references_config_and_layers() {
        let manifest = parse_value(
            &image(None),
            Some("application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
        )
        .unwrap();
        assert_eq!(manifest.kind, Kind::Image);
        assert_eq!(manifest.media_type, media_type::OCI_MANIFEST);
        assert_eq!(manifest.references.len(), 3);
        assert!(!manifest.references[1].is_external());
        assert!(manifest.references[2].is_external());
        assert_eq!(manifest.subject.unwrap().to_string(), digest(4));
        assert_eq!(
            manifest.artifact_type.as_deref(),
            Some(media_type::OCI_CONFIG)
        );
        assert_eq!(manifest.annotations.unwrap()["a"], "b");
        // The document's own media type is enough without a Content-Type.
        let docker = parse_value(&image(Some(media_type::DOCKER_MANIFEST)), None).unwrap();
        assert_eq!(docker.media_type, media_type::DOCKER_MANIFEST);
    }

    #[test]
    fn index_references_manifests() {
        let index = json!({
            "schemaVersion": 2,
            "mediaType": media_type::DOCKER_MANIFEST_LIST,
            "manifests": [{"mediaType": media_type::DOCKER_MANIFEST, "digest": digest(1),
                           "size": 3, "platform": {"architecture": "amd64", "os": "linux"}}],
        });
        let manifest = parse_value(&index, Some(media_type::DOCKER_MANIFEST_LIST)).unwrap();
        assert_eq!(manifest.kind, Kind::Index);
        assert_eq!(manifest.references[0].size, 3);
        assert_eq!(manifest.artifact_type, None);
    }

    #[test]
    fn refuses_what_does_not_hold_together() {
        let mut bad_digest = image(None);
        bad_digest["layers"][0]["digest"] = json!("sha256:../../etc");
        let mut schema1 = image(None);
        schema1["schemaVersion"] = json!(1);
        let mut no_config = image(None);
        no_config.as_object_mut().unwrap().remove("config");
        let mut mixed = image(None);
        mixed["manifests"] = json!([]);
        let mut negative = image(None);
        negative["config"]["size"] = json!(-1);
        let oci = Some(media_type::OCI_MANIFEST);
        for (value, content_type) in [
            (&bad_digest, oci),
            (&schema1, oci),
            (&no_config, oci),
            (&mixed, oci),
            (&negative, oci),
            (&image(None), None),
            (&image(None), Some(media_type::DOCKER_SCHEMA1_SIGNED)),
            (&image(None), Some("application/json")),
            (&image(Some(media_type::DOCKER_MANIFEST)), oci),
            (&image(None), Some(media_type::OCI_INDEX)),
        ] {
            let err = parse_value(value, content_type).unwrap_err();
            assert_eq!(
                err.code(),
                Code::ManifestInvalid,
                "{value} as {content_type:?}"
            );
        }
        assert!(parse(b"not json", oci).is_err());
    }
}
