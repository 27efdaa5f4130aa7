//! Lexical checks on the paths inside an untrusted layer tar.

use std::path::{Component, Path, PathBuf};

/// The path of an entry relative to the layer root (empty for the root itself). Refused if it
/// is absolute or has a `..` component.
pub(super) fn normalize(raw: &Path) -> Result<PathBuf, &'static str> {
    let mut path = PathBuf::new();
    for component in raw.components() {
        match component {
            Component::Normal(name) => path.push(name),
            Component::CurDir => {}
            Component::ParentDir => return Err("path has a `..` component"),
            Component::RootDir | Component::Prefix(_) => return Err("path is absolute"),
        }
    }
    Ok(path)
}

/// Checks the target of the symlink at `link` (a normalized entry path). Absolute targets are
/// kept (they are resolved inside the container's root at run time); a relative target must
/// not climb above the layer root.
pub(super) fn check_symlink_target(link: &Path, target: &Path) -> Result<(), &'static str> {
    if target.as_os_str().is_empty() {
        return Err("symlink has an empty target");
    }
    if target.is_absolute() {
        return Ok(());
    }
    let mut depth = link.components().count().saturating_sub(1);
    for component in target.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => {
                depth = depth
                    .checked_sub(1)
                    .ok_or("symlink target climbs out of the layer")?;
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Ok(())
}

/// The target of a hard link, relative to the layer root. Refused if absolute, if it climbs
/// out, or if it names the root.
pub(super) fn hardlink_target(raw: &Path) -> Result<PathBuf, &'static str> {
    let mut path = PathBuf::new();
    for component in raw.components() {
        match component {
            Component::Normal(name) => path.push(name),
            Component::CurDir => {}
            Component::ParentDir => {
                if !path.pop() {
                    return Err("hard link target climbs out of the layer");
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err("hard link target is absolute");
            }
        }
    }
    if path.as_os_str().is_empty() {
        return Err("hard link target is the layer root");
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> &Path {
        Path::new(s)
    }

    #[test]
    fn entry_paths() {
        assert_eq!(normalize(p("./usr/bin/")).unwrap(), p("usr/bin"));
        assert_eq!(normalize(p("./")).unwrap(), p(""));
        assert_eq!(normalize(p("a/./b")).unwrap(), p("a/b"));
        assert!(normalize(p("/etc/passwd")).is_err());
        assert!(normalize(p("a/../b")).is_err());
        assert!(normalize(p("../x")).is_err());
    }

    #[test]
    fn symlink_targets() {
        assert!(check_symlink_target(p("bin/sh"), p("/bin/busybox")).is_ok());
        assert!(check_symlink_target(p("usr/lib/x"), p("../../etc/x")).is_ok());
        assert!(check_symlink_target(p("usr/lib/x"), p("../../../etc/x")).is_err());
        assert!(check_symlink_target(p("x"), p("a/../../y")).is_err());
        assert!(check_symlink_target(p("x"), p("")).is_err());
    }

    #[test]
    fn hardlink_targets() {
        assert_eq!(
            hardlink_target(p("./bin/busybox")).unwrap(),
            p("bin/busybox")
        );
        assert_eq!(hardlink_target(p("bin/../sbin/x")).unwrap(), p("sbin/x"));
        assert!(hardlink_target(p("/etc/shadow")).is_err());
        assert!(hardlink_target(p("../outside")).is_err());
        assert!(hardlink_target(p(".")).is_err());
    }
}
