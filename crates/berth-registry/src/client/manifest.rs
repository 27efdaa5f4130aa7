//! The documents of the distribution protocol: OCI and Docker schema 2 manifests and indexes,
//! their descriptors and media types, and the part of an image config that names its layers.

use serde::{Deserialize, Serialize};

use berth_image::Digest;

use crate::client::platform::Platform;

/// Manifests, indexes and image configs are small documents; anything larger is refused.
pub const DOCUMENT_LIMIT: u64 = 4 * 1024 * 1024;

/// The media types berth reads and writes.
pub mod media_type {
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    pub const DOCKER_FOREIGN_LAYER: &str =
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
    pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
    pub const DOCKER_SCHEMA1_SIGNED: &str =
        "application/vnd.docker.distribution.manifest.v1+prettyjws";
}

/// What a manifest request accepts, best first (an index lets berth pick the platform).
pub(crate) const MANIFEST_ACCEPT: [&str; 4] = [
    media_type::OCI_INDEX,
    media_type::DOCKER_MANIFEST_LIST,
    media_type::OCI_MANIFEST,
    media_type::DOCKER_MANIFEST,
];

/// A reference to content: its media type, digest and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub size: u64,
    pub digest: Digest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

impl Descriptor {
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Self {
        Self {
            media_type: media_type.to_owned(),
            size,
            digest,
            platform: None,
        }
    }
}

/// An image manifest (OCI or Docker schema 2): one config and its layers, bottom first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// An image index or Docker manifest list: one manifest per platform.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
}

/// The kinds of manifest a registry may answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ManifestKind {
    Index,
    Image,
    Schema1,
}

impl ManifestKind {
    /// Classifies a manifest by its `Content-Type`, falling back on the document itself (some
    /// registries answer `application/json` or nothing useful).
    pub(crate) fn detect(content_type: Option<&str>, body: &[u8]) -> Option<(Self, String)> {
        let from_header = content_type
            .map(|c| c.split(';').next().unwrap_or_default().trim().to_owned())
            .filter(|c| Self::of_media_type(c).is_some());
        if let Some(media_type) = from_header {
            return Self::of_media_type(&media_type).map(|kind| (kind, media_type));
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Probe {
            schema_version: Option<u32>,
            media_type: Option<String>,
            manifests: Option<serde_json::Value>,
            config: Option<serde_json::Value>,
        }
        let probe: Probe = serde_json::from_slice(body).ok()?;
        if probe.schema_version == Some(1) {
            return Some((Self::Schema1, media_type::DOCKER_SCHEMA1.to_owned()));
        }
        if let Some(kind) = probe.media_type.as_deref().and_then(Self::of_media_type) {
            return Some((kind, probe.media_type.unwrap_or_default()));
        }
        // OCI documents may leave mediaType out; their shape tells.
        match (probe.manifests, probe.config) {
            (Some(_), None) => Some((Self::Index, media_type::OCI_INDEX.to_owned())),
            (None, Some(_)) => Some((Self::Image, media_type::OCI_MANIFEST.to_owned())),
            _ => None,
        }
    }

    fn of_media_type(media_type: &str) -> Option<Self> {
        match media_type {
            media_type::OCI_INDEX | media_type::DOCKER_MANIFEST_LIST => Some(Self::Index),
            media_type::OCI_MANIFEST | media_type::DOCKER_MANIFEST => Some(Self::Image),
            media_type::DOCKER_SCHEMA1 | media_type::DOCKER_SCHEMA1_SIGNED => Some(Self::Schema1),
            _ => None,
        }
    }
}

/// True for the config media types of runnable images (not Helm charts or other artifacts).
pub(crate) fn is_image_config(media_type: &str) -> bool {
    matches!(
        media_type,
        media_type::OCI_CONFIG | media_type::DOCKER_CONFIG
    )
}

/// True for layer media types the content store can unpack.
pub(crate) fn is_unpackable_layer(media_type: &str) -> bool {
    matches!(
        media_type,
        media_type::OCI_LAYER
            | media_type::OCI_LAYER_GZIP
            | media_type::OCI_LAYER_ZSTD
            | media_type::DOCKER_LAYER_GZIP
    )
}

/// The part of an image config that ties it to its layers.
#[derive(Debug, Deserialize)]
pub(crate) struct ConfigRootfs {
    pub(crate) rootfs: Rootfs,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Rootfs {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) diff_ids: Vec<Digest>,
}

/// Serializes a manifest as Docker does (three-space indent), so that pushing the same image
/// from berth or from Docker tends to give the same manifest digest.
pub(crate) fn to_docker_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"   ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value
        .serialize(&mut serializer)
        .expect("manifest types always serialize");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_kind_by_header_then_body() {
        let index = br#"{"schemaVersion":2,"manifests":[]}"#;
        let image = br#"{"schemaVersion":2,"config":{},"layers":[]}"#;
        let schema1 = br#"{"schemaVersion":1,"name":"x","fsLayers":[]}"#;
        let kind = |ct: Option<&str>, body: &[u8]| ManifestKind::detect(ct, body).map(|k| k.0);
        assert_eq!(
            kind(Some(media_type::DOCKER_MANIFEST), b"{}"),
            Some(ManifestKind::Image)
        );
        assert_eq!(
            kind(
                Some("application/vnd.oci.image.index.v1+json; charset=utf-8"),
                b"{}"
            ),
            Some(ManifestKind::Index)
        );
        assert_eq!(
            kind(Some("application/json"), index),
            Some(ManifestKind::Index)
        );
        assert_eq!(kind(None, image), Some(ManifestKind::Image));
        assert_eq!(kind(None, schema1), Some(ManifestKind::Schema1));
        assert_eq!(
            kind(Some(media_type::DOCKER_SCHEMA1_SIGNED), image),
            Some(ManifestKind::Schema1)
        );
        assert_eq!(kind(None, b"not json"), None);
        let (_, media) = ManifestKind::detect(None, image).unwrap();
        assert_eq!(media, media_type::OCI_MANIFEST);
    }

    #[test]
    fn serializes_like_docker() {
        let d = Digest::of(b"x");
        let json = to_docker_json(&Descriptor::new(media_type::DOCKER_CONFIG, d.clone(), 1));
        let expected = format!(
            "{{\n   \"mediaType\": \"{}\",\n   \"size\": 1,\n   \"digest\": \"{d}\"\n}}",
            media_type::DOCKER_CONFIG
        );
        assert_eq!(String::from_utf8(json).unwrap(), expected);
    }
}
