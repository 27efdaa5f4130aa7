//! A container's changes as an image layer tar: its overlay upper dir, with overlay whiteouts
//! (0/0 character devices) written as `.wh.<name>` entries and opaque directories (the
//! `trusted.overlay.opaque` xattr) as `.wh..wh..opq`. `commit` and build steps both use it.

use crate::error::Result;
use std::collections::HashSet;
use std::fs::Metadata;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

pub(crate) fn is_whiteout(m: &Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

/// Mount points the runtime creates in a container's root when its image lacks them. Docker
/// keeps them in a separate init layer; here they land in the upper dir, so a build step's
/// layer leaves them out (unless the step put something in them).
const RUNTIME_MOUNT_POINTS: &[&str] = &[
    "proc",
    "sys",
    "dev",
    "etc/hosts",
    "etc/hostname",
    "etc/resolv.conf",
];

/// Which upper-dir entries are not changes of the container's own.
pub(crate) enum Exclude<'a> {
    /// Everything in the upper dir is a change (`docker commit`).
    Nothing,
    /// A build step: the runtime's empty mount points (its own, and `mount_points`, the
    /// step's `RUN --mount` targets relative to the root, with the directories made for
    /// them), and directories that only hold them and are otherwise as in the image (their
    /// copy-up changed nothing but the mtime). `lowers` are the image's layer dirs, top-most
    /// first.
    RuntimeMountPoints {
        lowers: &'a [PathBuf],
        mount_points: &'a [PathBuf],
    },
}

impl Exclude<'_> {
    fn lower_meta(lowers: &[PathBuf], rel: &Path) -> Option<Metadata> {
        let meta = lowers
            .iter()
            .find_map(|l| std::fs::symlink_metadata(l.join(rel)).ok())?;
        (!is_whiteout(&meta)).then_some(meta)
    }

    /// Whether `rel` may be left out when nothing below it is written.
    fn droppable(&self, upper: &Path, rel: &Path, meta: &Metadata) -> bool {
        let Exclude::RuntimeMountPoints {
            lowers,
            mount_points,
        } = self
        else {
            return false;
        };
        let lower = Self::lower_meta(lowers, rel);
        let mount_point = RUNTIME_MOUNT_POINTS.iter().any(|m| Path::new(m) == rel)
            || mount_points.iter().any(|m| m == rel);
        // A directory made only to hold a mount point: kept if anything else is written below.
        let made_for_one = mount_points.iter().any(|m| m != rel && m.starts_with(rel));
        if made_for_one && lower.is_none() && meta.is_dir() {
            return true;
        }
        if mount_point && lower.is_none() {
            let empty = if meta.is_dir() {
                std::fs::read_dir(upper.join(rel)).is_ok_and(|mut d| d.next().is_none())
            } else {
                meta.is_file() && meta.len() == 0
            };
            return empty;
        }
        meta.is_dir()
            && !crate::volumes::is_opaque(&upper.join(rel))
            && lower.is_some_and(|l| {
                l.is_dir()
                    && l.mode() == meta.mode()
                    && l.uid() == meta.uid()
                    && l.gid() == meta.gid()
            })
    }
}

/// The header of an empty whiteout marker entry.
fn marker_header() -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(0);
    h.set_mode(0o600);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

struct Change {
    rel: PathBuf,
    whiteout: bool,
    opaque: bool,
    droppable: bool,
}

/// Every entry of `upper`, in tar order: sorted by path component, so a directory comes
/// before its entries and they come before its next sibling.
fn changes(upper: &Path, exclude: &Exclude<'_>) -> Result<Vec<Change>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(upper.join(&dir))? {
            let entry = entry?;
            let rel = dir.join(entry.file_name());
            let meta = std::fs::symlink_metadata(entry.path())?;
            let whiteout = is_whiteout(&meta);
            if meta.is_dir() {
                stack.push(rel.clone());
            }
            out.push(Change {
                droppable: !whiteout && exclude.droppable(upper, &rel, &meta),
                opaque: meta.is_dir() && crate::volumes::is_opaque(&entry.path()),
                whiteout,
                rel,
            });
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

/// Writes the upper dir as a layer tar into `out`, and returns `out`.
pub(crate) fn write_layer_tar<W: Write>(upper: &Path, exclude: &Exclude<'_>, out: W) -> Result<W> {
    let changes = changes(upper, exclude)?;
    // Post-order: an entry is kept when it is a change, and then so are its ancestors.
    let mut needed: HashSet<PathBuf> = HashSet::new();
    for c in changes.iter().rev() {
        if !c.droppable || needed.contains(&c.rel) {
            needed.extend(c.rel.ancestors().skip(1).map(Path::to_path_buf));
            needed.insert(c.rel.clone());
        }
    }
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    for c in changes.iter().filter(|c| needed.contains(&c.rel)) {
        if c.whiteout {
            let name = c.rel.file_name().unwrap_or_default().to_string_lossy();
            let wh = c.rel.with_file_name(format!(".wh.{name}"));
            tar.append_data(&mut marker_header(), wh, std::io::empty())?;
            continue;
        }
        tar.append_path_with_name(upper.join(&c.rel), &c.rel)?;
        if c.opaque {
            tar.append_data(
                &mut marker_header(),
                c.rel.join(".wh..wh..opq"),
                std::io::empty(),
            )?;
        }
    }
    Ok(tar.into_inner()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tar: &[u8]) -> Vec<String> {
        tar::Archive::new(tar)
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect()
    }

    #[test]
    fn runtime_mount_points_and_untouched_dirs_are_left_out() {
        let lower = tempfile::tempdir().unwrap();
        let upper = tempfile::tempdir().unwrap();
        std::fs::create_dir(lower.path().join("etc")).unwrap();
        std::fs::create_dir(lower.path().join("bin")).unwrap();
        let meta = std::fs::metadata(lower.path().join("etc")).unwrap();
        for d in ["etc", "proc", "dev", "app", "bin"] {
            std::fs::create_dir(upper.path().join(d)).unwrap();
        }
        for d in ["etc", "bin"] {
            std::fs::set_permissions(upper.path().join(d), meta.permissions()).unwrap();
        }
        std::fs::write(upper.path().join("etc/hosts"), "").unwrap();
        std::fs::write(upper.path().join("bin/tool"), "x").unwrap();
        std::fs::write(upper.path().join("app/out"), "y").unwrap();
        let lowers = vec![lower.path().to_path_buf()];
        let exclude = Exclude::RuntimeMountPoints {
            lowers: &lowers,
            mount_points: &[],
        };
        let tar = write_layer_tar(upper.path(), &exclude, Vec::new()).unwrap();
        assert_eq!(names(&tar), ["app", "app/out", "bin", "bin/tool"]);
        let all = write_layer_tar(upper.path(), &Exclude::Nothing, Vec::new()).unwrap();
        assert_eq!(names(&all).len(), 8);
    }

    #[test]
    fn build_mount_points_and_the_dirs_made_for_them_are_left_out() {
        let lower = tempfile::tempdir().unwrap();
        let upper = tempfile::tempdir().unwrap();
        for d in ["run/secrets", "cache", "var/lib/data"] {
            std::fs::create_dir_all(upper.path().join(d)).unwrap();
        }
        std::fs::write(upper.path().join("run/secrets/token"), "").unwrap();
        std::fs::write(upper.path().join("var/lib/written"), "w").unwrap();
        let points: Vec<PathBuf> = ["run/secrets/token", "cache", "var/lib/data"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let lowers = vec![lower.path().to_path_buf()];
        let exclude = Exclude::RuntimeMountPoints {
            lowers: &lowers,
            mount_points: &points,
        };
        let tar = write_layer_tar(upper.path(), &exclude, Vec::new()).unwrap();
        assert_eq!(names(&tar), ["var", "var/lib", "var/lib/written"]);
    }
}
