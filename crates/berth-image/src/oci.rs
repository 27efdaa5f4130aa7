//! The JSON documents of image archives: OCI index, manifest and descriptor, the `rootfs` of
//! an image config, and Docker's legacy `manifest.json`. Only the fields berth uses.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, Result};

/// Limit for any JSON document read from an archive or the store.
pub(crate) const JSON_LIMIT: u64 = 4 * 1024 * 1024;

pub(crate) const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const MEDIA_TYPE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub(crate) const MEDIA_TYPE_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub(crate) const MEDIA_TYPE_DOCKER_MANIFEST_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";

/// Full image name, e.g. `docker.io/library/busybox:latest` (containerd, Docker 25+).
pub(crate) const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
/// OCI reference name: the tag (Docker 25+) or a full reference (skopeo, buildkit).
pub(crate) const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    #[serde(default)]
    pub(crate) media_type: String,
    pub(crate) digest: Digest,
    pub(crate) size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) annotations: BTreeMap<String, String>,
}

impl Descriptor {
    pub(crate) fn new(media_type: &str, digest: Digest, size: u64) -> Self {
        Self {
            media_type: media_type.to_owned(),
            digest,
            size,
            platform: None,
            annotations: BTreeMap::new(),
        }
    }

    pub(crate) fn is_index(&self) -> bool {
        self.media_type == MEDIA_TYPE_INDEX || self.media_type == MEDIA_TYPE_DOCKER_MANIFEST_LIST
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Platform {
    pub(crate) architecture: String,
    pub(crate) os: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Index {
    pub(crate) schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) media_type: Option<String>,
    pub(crate) manifests: Vec<Descriptor>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Manifest {
    pub(crate) schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) media_type: Option<String>,
    pub(crate) config: Descriptor,
    pub(crate) layers: Vec<Descriptor>,
}

/// The part of an image config that ties it to its layers.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ConfigRootfs {
    pub(crate) rootfs: Rootfs,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Rootfs {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) diff_ids: Vec<Digest>,
}

/// One image in `docker save`'s `manifest.json`; paths are relative to the archive root.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LegacyManifestEntry {
    pub(crate) config: String,
    #[serde(default)]
    pub(crate) repo_tags: Option<Vec<String>>,
    pub(crate) layers: Vec<String>,
}

/// Where an OCI image layout keeps the blob `digest`.
pub(crate) fn layout_blob_path(digest: &Digest) -> String {
    format!("blobs/sha256/{}", digest.hex())
}

/// The layer diff ids an image config lists, checking it is a layered rootfs.
pub(crate) fn config_diff_ids(id: &Digest, config: &[u8]) -> Result<Vec<Digest>> {
    let ConfigRootfs { rootfs } =
        serde_json::from_slice(config).map_err(|e| Error::json(format!("image config {id}"), e))?;
    if rootfs.kind != "layers" {
        let reason = format!("rootfs type is {:?}, expected \"layers\"", rootfs.kind);
        return Err(Error::InvalidImage {
            id: id.clone(),
            reason,
        });
    }
    Ok(rootfs.diff_ids)
}
