//! The path of a container's cgroup below each hierarchy's root, checked so that it cannot
//! name anything outside the hierarchy.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// `path` as a relative path of plain components. A leading `/` is accepted and dropped (a
/// `--cgroup-parent` of `/my-parent` means the same as `my-parent`); `.`, `..` and empty paths
/// are refused.
pub(crate) fn parse(path: &str) -> Result<PathBuf> {
    let invalid = |reason| Error::InvalidPath {
        path: path.to_owned(),
        reason,
    };
    if path.contains('\0') {
        return Err(invalid("contains a NUL byte"));
    }
    let mut relative = PathBuf::new();
    for component in Path::new(path).components() {
        match component {
            Component::RootDir => {}
            Component::Normal(name) => relative.push(name),
            Component::CurDir | Component::ParentDir | Component::Prefix(_) => {
                return Err(invalid("`.` and `..` are not allowed"));
            }
        }
    }
    if relative.as_os_str().is_empty() {
        return Err(invalid("names no cgroup below the root"));
    }
    Ok(relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_rooted_paths() {
        assert_eq!(parse("berth/abc").unwrap(), Path::new("berth/abc"));
        assert_eq!(parse("/my-parent/abc").unwrap(), Path::new("my-parent/abc"));
        assert_eq!(parse("a//b/").unwrap(), Path::new("a/b"));
    }

    #[test]
    fn escapes_and_empty_paths_are_refused() {
        for bad in ["", "/", "..", "a/../../b", "./a", "a\0b"] {
            assert!(
                matches!(parse(bad), Err(Error::InvalidPath { .. })),
                "{bad:?}"
            );
        }
    }
}
