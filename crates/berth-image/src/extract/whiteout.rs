//! OCI whiteouts (`.wh.<name>`, `.wh..wh..opq`) and their overlayfs form.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

const PREFIX: &[u8] = b".wh.";
/// Marks its directory as replacing, not merging with, the same directory in lower layers.
const OPAQUE: &[u8] = b".wh..wh..opq";
/// `.wh..wh.*` names other than [`OPAQUE`] are aufs bookkeeping, not content.
const AUFS_META_PREFIX: &[u8] = b".wh..wh.";

/// The xattr overlayfs reads to treat a directory as opaque.
pub(super) const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// Prefix of the xattrs overlayfs itself interprets; a layer must not set them directly.
pub(super) const OVERLAY_XATTR_PREFIX: &str = "trusted.overlay.";

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Whiteout<'n> {
    /// The parent directory is opaque.
    Opaque,
    /// `name` in the parent is deleted (overlayfs: a 0:0 character device).
    Remove(&'n OsStr),
    /// Aufs metadata, skipped.
    AufsMeta,
}

/// What the entry named `name` means, if it is a whiteout.
pub(super) fn classify(name: &OsStr) -> Result<Option<Whiteout<'_>>, &'static str> {
    let bytes = name.as_bytes();
    if bytes == OPAQUE {
        return Ok(Some(Whiteout::Opaque));
    }
    if bytes.starts_with(AUFS_META_PREFIX) {
        return Ok(Some(Whiteout::AufsMeta));
    }
    let Some(target) = bytes.strip_prefix(PREFIX) else {
        return Ok(None);
    };
    match target {
        b"" | b"." | b".." => Err("whiteout does not name an entry"),
        _ => Ok(Some(Whiteout::Remove(OsStr::from_bytes(target)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_names() {
        fn c(name: &str) -> Result<Option<Whiteout<'_>>, &'static str> {
            classify(OsStr::new(name))
        }
        assert_eq!(c("file").unwrap(), None);
        assert_eq!(c(".wh..wh..opq").unwrap(), Some(Whiteout::Opaque));
        assert_eq!(c(".wh..wh.plnk").unwrap(), Some(Whiteout::AufsMeta));
        assert_eq!(
            c(".wh.gone").unwrap(),
            Some(Whiteout::Remove(OsStr::new("gone")))
        );
        assert!(c(".wh.").is_err());
        assert!(c(".wh...").is_err());
    }
}
