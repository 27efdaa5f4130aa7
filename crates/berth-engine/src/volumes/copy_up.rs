//! Docker fills a new, empty volume with what the image has at the mount point. The image's
//! content there is the union of its layers, so the layers are copied bottom to top with
//! overlayfs's rules: whiteouts delete, opaque directories hide what lies below.

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path};

const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

fn is_whiteout(m: &std::fs::Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

pub(crate) fn is_opaque(dir: &Path) -> bool {
    xattr_get(dir, OPAQUE_XATTR).as_deref() == Some(b"y".as_slice())
}

fn xattr_get(path: &Path, name: &str) -> Option<Vec<u8>> {
    let path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    let name = std::ffi::CString::new(name).ok()?;
    let mut buf = [0u8; 8];
    // SAFETY: both strings are NUL-terminated and live across the call; the buffer length
    // passed is the buffer's own.
    let n = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    (n >= 0).then(|| buf[..n as usize].to_vec())
}

/// `layer/<dst>` when every component on the way is a real directory in that layer (a
/// symlink could lead anywhere on the host, so such a layer is not copied from).
fn path_in_layer(layer: &Path, dst: &Path) -> Option<std::path::PathBuf> {
    let mut p = layer.to_path_buf();
    for c in dst.components() {
        match c {
            Component::RootDir => {}
            Component::Normal(name) => {
                let meta = std::fs::symlink_metadata(&p).ok()?;
                if !meta.is_dir() {
                    return None;
                }
                p.push(name);
            }
            _ => return None,
        }
    }
    Some(p)
}

fn clear_dir(dir: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if std::fs::symlink_metadata(&p)?.is_dir() {
            std::fs::remove_dir_all(&p)?;
        } else {
            std::fs::remove_file(&p)?;
        }
    }
    Ok(())
}

fn remove_any(p: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
        Ok(_) => std::fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn copy_owner_and_mode(from: &std::fs::Metadata, to: &Path) -> io::Result<()> {
    std::os::unix::fs::lchown(to, Some(from.uid()), Some(from.gid()))?;
    if !from.file_type().is_symlink() {
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(from.mode() & 0o7777))?;
    }
    Ok(())
}

/// Merges one layer's directory `src` into `dst`.
fn merge_dir(src: &Path, dst: &Path) -> io::Result<()> {
    if is_opaque(src) {
        clear_dir(dst)?;
    }
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&from)?;
        if is_whiteout(&meta) {
            remove_any(&to)?;
        } else if meta.is_dir() {
            if !std::fs::symlink_metadata(&to).is_ok_and(|m| m.is_dir()) {
                remove_any(&to)?;
                std::fs::create_dir(&to)?;
            }
            merge_dir(&from, &to)?;
            copy_owner_and_mode(&meta, &to)?;
        } else if meta.file_type().is_symlink() {
            remove_any(&to)?;
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
            copy_owner_and_mode(&meta, &to)?;
        } else if meta.is_file() {
            remove_any(&to)?;
            std::fs::copy(&from, &to)?;
            copy_owner_and_mode(&meta, &to)?;
        }
        // Device nodes, fifos and sockets are not copied into volumes.
    }
    Ok(())
}

/// Copies the image's content at `dst` (a path inside the container) into `volume_data`, if
/// the volume is empty. `layers` are the unpacked layer directories, top-most first.
pub fn copy_image_content(
    layers: &[std::path::PathBuf],
    dst: &str,
    volume_data: &Path,
) -> io::Result<()> {
    if std::fs::read_dir(volume_data)?.next().is_some() {
        return Ok(());
    }
    let dst = Path::new(dst);
    for layer in layers.iter().rev() {
        let Some(src) = path_in_layer(layer, dst) else {
            continue;
        };
        match std::fs::symlink_metadata(&src) {
            Ok(m) if m.is_dir() => {
                merge_dir(&src, volume_data)?;
                copy_owner_and_mode(&m, volume_data)?;
            }
            // The layer deleted or replaced the directory: nothing below it survives.
            Ok(_) => clear_dir(volume_data)?,
            Err(_) => {}
        }
    }
    Ok(())
}

/// Bytes used under `dir` (files only), for prune's SpaceReclaimed.
pub fn disk_usage(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_usage(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_merge_with_whiteouts_and_symlinked_paths_skipped() {
        let d = tempfile::tempdir().unwrap();
        let (low, high, evil, vol) = (
            d.path().join("low"),
            d.path().join("high"),
            d.path().join("evil"),
            d.path().join("vol"),
        );
        std::fs::create_dir_all(low.join("data/sub")).unwrap();
        std::fs::write(low.join("data/a"), "low a").unwrap();
        std::fs::write(low.join("data/sub/b"), "low b").unwrap();
        std::fs::create_dir_all(high.join("data")).unwrap();
        std::fs::write(high.join("data/a"), "high a").unwrap();
        std::fs::create_dir_all(&evil).unwrap();
        std::os::unix::fs::symlink("/etc", evil.join("data")).unwrap();
        std::fs::create_dir(&vol).unwrap();
        copy_image_content(&[high, low.clone(), evil], "/data", &vol).unwrap();
        assert_eq!(std::fs::read_to_string(vol.join("a")).unwrap(), "high a");
        assert_eq!(std::fs::read_to_string(vol.join("sub/b")).unwrap(), "low b");
        assert!(
            !vol.join("passwd").exists(),
            "a symlinked path in a layer is not followed"
        );
        // A volume with content is left alone.
        std::fs::write(low.join("data/new"), "x").unwrap();
        copy_image_content(&[low], "/data", &vol).unwrap();
        assert!(!vol.join("new").exists());
        assert!(disk_usage(&vol) >= 11);
    }
}
