//! The names a request carries — repository, tag, digest, upload id — validated before any of
//! them becomes part of a storage path. The grammars are the distribution spec's; every one of
//! them excludes `/` inside a component, `.` and `..` components and anything percent-encoded,
//! so a validated name cannot lead out of the storage root.

use std::fmt;

use berth_image::Digest;
use serde_json::json;

use crate::server::error::{ApiError, ApiResult, Code};

/// The longest repository name accepted (distribution's limit).
const NAME_MAX: usize = 255;
/// The longest tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
const TAG_MAX: usize = 128;

/// A repository name:
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RepoName(String);

impl RepoName {
    pub(crate) fn parse(name: &str) -> ApiResult<Self> {
        if name.len() <= NAME_MAX && name.split('/').all(valid_component) {
            Ok(Self(name.to_owned()))
        } else {
            Err(ApiError::new(Code::NameInvalid, "invalid repository name")
                .with_detail(json!({ "name": name })))
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One path component of a repository name: lowercase alphanumeric runs joined by `.`, `_`,
/// `__` or any number of `-`.
fn valid_component(component: &str) -> bool {
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = component.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    bytes
        .split(alnum)
        .filter(|separator| !separator.is_empty())
        .all(|separator| {
            matches!(separator, b"." | b"_" | b"__") || separator.iter().all(|&b| b == b'-')
        })
}

/// A tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tag(String);

impl Tag {
    pub(crate) fn parse(tag: &str) -> ApiResult<Self> {
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let bytes = tag.as_bytes();
        let valid = bytes.len() <= TAG_MAX
            && bytes.first().is_some_and(|&b| word(b))
            && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-');
        if valid {
            Ok(Self(tag.to_owned()))
        } else {
            Err(ApiError::new(Code::TagInvalid, "invalid tag").with_detail(json!({ "tag": tag })))
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A content digest. berth stores sha256 only; any other algorithm, upper-case hex or a wrong
/// length is refused.
pub(crate) fn parse_digest(digest: &str) -> ApiResult<Digest> {
    digest.parse().map_err(|_| {
        let message = match digest.split_once(':') {
            Some(("sha256", _)) | None => "invalid digest",
            Some(_) => "unsupported digest algorithm (only sha256 is)",
        };
        ApiError::new(Code::DigestInvalid, message).with_detail(json!({ "digest": digest }))
    })
}

/// What a manifest is asked for by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ManifestRef {
    Tag(Tag),
    Digest(Digest),
}

impl ManifestRef {
    /// A reference with a `:` is a digest (tags cannot contain one), anything else a tag.
    pub(crate) fn parse(reference: &str) -> ApiResult<Self> {
        if reference.contains(':') {
            parse_digest(reference).map(ManifestRef::Digest)
        } else {
            Tag::parse(reference).map(ManifestRef::Tag)
        }
    }
}

impl fmt::Display for ManifestRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestRef::Tag(tag) => tag.fmt(f),
            ManifestRef::Digest(digest) => digest.fmt(f),
        }
    }
}

/// An upload session id: a random (version 4) UUID in lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct UploadId(String);

impl UploadId {
    pub(crate) fn random() -> std::io::Result<Self> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let hex = hex::encode(bytes);
        Ok(Self(format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        )))
    }

    /// An id from a URL; anything but the exact shape of one berth made is unknown.
    pub(crate) fn parse(id: &str) -> ApiResult<Self> {
        let groups: Vec<&str> = id.split('-').collect();
        let lengths = groups.iter().map(|g| g.len()).collect::<Vec<_>>();
        let hex = |g: &&str| g.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if lengths == [8, 4, 4, 4, 12] && groups.iter().all(hex) {
            Ok(Self(id.to_owned()))
        } else {
            Err(ApiError::upload_unknown())
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_follow_the_grammar() {
        for good in [
            "a",
            "library/busybox",
            "a/b/c/d",
            "my-app",
            "my--app",
            "a.b",
            "a_b",
            "a__b",
            "0",
            "x1/y-2.z_3",
        ] {
            assert!(RepoName::parse(good).is_ok(), "{good}");
        }
        let long = "a".repeat(256);
        for bad in [
            "",
            "/",
            "a/",
            "/a",
            "a//b",
            "..",
            "../etc",
            "a/../b",
            "a/./b",
            ".a",
            "a.",
            "a..b",
            "a___b",
            "a.-b",
            "-a",
            "A",
            "a b",
            "a%2fb",
            "a%2e%2e",
            "a\\b",
            "a\0",
            "ä",
            long.as_str(),
        ] {
            let err = RepoName::parse(bad).unwrap_err();
            assert_eq!(err.code(), Code::NameInvalid, "{bad:?}");
        }
        assert!(RepoName::parse(&"a".repeat(255)).is_ok());
    }

    #[test]
    fn tags_follow_the_grammar() {
        for good in ["latest", "v1.0", "_", "A-b_c.d", &"t".repeat(128)] {
            assert!(Tag::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "-x",
            "a/b",
            "a:b",
            "a b",
            &"t".repeat(129),
        ] {
            assert_eq!(
                Tag::parse(bad).unwrap_err().code(),
                Code::TagInvalid,
                "{bad}"
            );
        }
    }

    #[test]
    fn digests_are_strict_sha256() {
        let hex = "a".repeat(64);
        assert!(parse_digest(&format!("sha256:{hex}")).is_ok());
        for bad in [
            format!("sha256:{}", "A".repeat(64)),
            format!("sha256:{}", "a".repeat(63)),
            format!("sha256:{hex}/../x"),
            format!("sha512:{}", "a".repeat(128)),
            format!("sha256/{hex}"),
            "sha256:".to_owned(),
            "../../etc/passwd".to_owned(),
        ] {
            assert_eq!(
                parse_digest(&bad).unwrap_err().code(),
                Code::DigestInvalid,
                "{bad}"
            );
        }
        assert!(matches!(
            ManifestRef::parse("latest"),
            Ok(ManifestRef::Tag(_))
        ));
        assert!(matches!(
            ManifestRef::parse(&format!("sha256:{hex}")),
            Ok(ManifestRef::Digest(_))
        ));
        assert_eq!(
            ManifestRef::parse("sha256:x").unwrap_err().code(),
            Code::DigestInvalid
        );
    }

    #[test]
    fn upload_ids_are_uuids_only() {
        let id = UploadId::random().unwrap();
        assert_eq!(UploadId::parse(id.as_str()).unwrap(), id);
        assert_ne!(UploadId::random().unwrap(), id);
        assert_eq!(&id.as_str()[14..15], "4");
        for bad in [
            "",
            "..",
            "../../blobs",
            "0123456789abcdef0123456789abcdef",
            "0123456-89ab-cdef-0123-456789abcdef0",
            "01234567-89AB-cdef-0123-456789abcdef",
            "01234567-89ab-cdef-0123-456789abcde/",
        ] {
            assert_eq!(
                UploadId::parse(bad).unwrap_err().code(),
                Code::BlobUploadUnknown,
                "{bad}"
            );
        }
    }
}
