//! `cp`'s copy rules and tar archives, as docker applies them (moby's archive package):
//! how a path is written decides what is copied where. A source ending in `/.` copies a
//! directory's contents; a destination ending in `/` must be a directory; a destination that
//! does not exist is created under that name (the archive's top entry renamed). The archive
//! side: local files into a tar stream (names as the destination wants them), and a tar
//! stream into a local directory (no ownership changes, directories never replaced by
//! files or files by directories).

use std::collections::HashMap;
use std::fs::{self, File, Metadata};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rustix::fs::{CWD, FileType, Mode, Timespec, Timestamps, UTIME_OMIT};
use tar::{Builder, EntryType, Header, HeaderMode};

use crate::error::os_message;
use crate::gopath::{base, clean, dir, join};

/// Where a copy comes from or goes to, as far as the rules care.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CopyInfo {
    pub path: String,
    pub exists: bool,
    pub is_dir: bool,
    /// The name the source's top entry is to have (it was reached through a link).
    pub rebase_name: String,
}

fn has_trailing_separator(path: &str) -> bool {
    path.ends_with('/')
}

fn specifies_current_dir(path: &str) -> bool {
    base(path) == "."
}

/// Whether the path, as written, says it is a directory (`dir/` or `dir/.`).
fn asserts_directory(path: &str) -> bool {
    has_trailing_separator(path) || specifies_current_dir(path)
}

/// `cleaned` with the trailing `/` or `/.` that `original` was written with.
pub fn preserve_trailing_dot_or_separator(cleaned: &str, original: &str) -> String {
    let mut path = cleaned.to_string();
    if !specifies_current_dir(&path) && specifies_current_dir(original) {
        if !has_trailing_separator(&path) {
            path.push('/');
        }
        path.push('.');
    }
    if !has_trailing_separator(&path) && has_trailing_separator(original) {
        path.push('/');
    }
    path
}

/// The directory a path is in and its last element (`.` kept: `d/.` is `("d", ".")`).
pub fn split_path_dir_entry(path: &str) -> (String, String) {
    let mut cleaned = clean(path);
    if specifies_current_dir(path) {
        cleaned.push_str("/.");
    }
    (dir(&cleaned), base(&cleaned))
}

/// A name under which a path reached through links is to appear: the last element of
/// `path` when it differs from the resolved one's.
pub fn rebase_name(path: &str, resolved: &str) -> (String, String) {
    let mut resolved = resolved.to_string();
    if specifies_current_dir(path) && !specifies_current_dir(&resolved) {
        resolved.push_str("/.");
    }
    if has_trailing_separator(path) && !has_trailing_separator(&resolved) {
        resolved.push('/');
    }
    let name = if base(path) != base(&resolved) {
        base(path)
    } else {
        String::new()
    };
    (resolved, name)
}

fn lstat(path: &str) -> Result<Metadata, String> {
    fs::symlink_metadata(path).map_err(|e| format!("lstat {path}: {}", os_message(&e)))
}

/// Go's `filepath.EvalSymlinks` for an absolute path: every link resolved, the result
/// cleaned, failures naming the path that could not be read.
fn eval_symlinks(path: &str) -> Result<String, String> {
    let mut resolved = String::from("/");
    let mut pending: Vec<String> = path.split('/').rev().map(str::to_string).collect();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        match part.as_str() {
            "" | "." => continue,
            ".." => {
                resolved = dir(&resolved);
                continue;
            }
            _ => {}
        }
        let candidate = join(&[&resolved, &part]);
        let meta = lstat(&candidate)?;
        if meta.file_type().is_symlink() {
            links += 1;
            if links > 255 {
                return Err("EvalSymlinks: too many links".to_string());
            }
            let target = fs::read_link(&candidate)
                .map_err(|e| format!("readlink {candidate}: {}", os_message(&e)))?;
            let target = target.to_string_lossy().into_owned();
            if target.starts_with('/') {
                resolved = String::from("/");
            }
            pending.extend(target.split('/').rev().map(str::to_string));
        } else {
            if !meta.is_dir() && pending.iter().any(|p| !p.is_empty() && p != ".") {
                return Err("not a directory".to_string());
            }
            resolved = candidate;
        }
    }
    Ok(resolved)
}

/// The local source of a copy: its links resolved (all of them with `follow`, else all
/// but the last element's), and what it is.
pub fn copy_info_source_path(path: &str, follow: bool) -> Result<CopyInfo, String> {
    let (resolved, rebase) = if follow {
        rebase_name(path, &eval_symlinks(path)?)
    } else {
        let cut = path.rfind('/').map_or(0, |i| i + 1);
        let (parent, last) = path.split_at(cut);
        let resolved = format!("{}/{last}", eval_symlinks(parent)?);
        let rebase = if has_trailing_separator(path) && base(path) != base(&resolved) {
            base(path)
        } else {
            String::new()
        };
        (resolved, rebase)
    };
    let meta = lstat(&resolved)?;
    Ok(CopyInfo {
        path: resolved,
        exists: true,
        is_dir: meta.is_dir(),
        rebase_name: rebase,
    })
}

/// The local destination of a copy: links followed, whether it exists; a destination that
/// does not exist needs a directory to be created in.
pub fn copy_info_destination_path(path: &str) -> Result<CopyInfo, String> {
    const MAX_LINKS: usize = 10;
    let original = path;
    let mut path = path.to_string();
    let mut followed = 0;
    loop {
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                if followed > MAX_LINKS {
                    return Err(format!("too many symlinks in {original}"));
                }
                followed += 1;
                let target = fs::read_link(&path)
                    .map_err(|e| format!("readlink {path}: {}", os_message(&e)))?
                    .to_string_lossy()
                    .into_owned();
                path = if target.starts_with('/') {
                    target
                } else {
                    join(&[&split_path_dir_entry(&path).0, &target])
                };
            }
            Ok(meta) => {
                return Ok(CopyInfo {
                    path,
                    exists: true,
                    is_dir: meta.is_dir(),
                    ..Default::default()
                });
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let parent = split_path_dir_entry(&path).0;
                let meta = fs::metadata(&parent)
                    .map_err(|e| format!("stat {parent}: {}", os_message(&e)))?;
                if !meta.is_dir() {
                    return Err("not a directory".to_string());
                }
                return Ok(CopyInfo {
                    path,
                    ..Default::default()
                });
            }
            Err(error) => return Err(format!("lstat {path}: {}", os_message(&error))),
        }
    }
}

/// Renames archive entries from one top name to another (`old/x` to `new/x`).
#[derive(Debug, Clone, PartialEq)]
pub struct Rebase {
    old: String,
    new: String,
}

impl Rebase {
    pub fn new(old: &str, new: &str) -> Self {
        Rebase {
            old: old.trim_end_matches('/').to_string(),
            new: new.trim_end_matches('/').to_string(),
        }
    }

    pub fn apply(&self, name: &str) -> String {
        if self.old.is_empty() {
            let name = name.trim_start_matches('/');
            return if self.new.is_empty() {
                name.to_string()
            } else {
                format!("{}/{name}", self.new)
            };
        }
        match name.strip_prefix(&self.old) {
            Some(suffix) if suffix.is_empty() || suffix.starts_with('/') => {
                format!("{}{suffix}", self.new)
            }
            _ => name.to_string(),
        }
    }
}

/// Renames applied in turn.
pub fn rebase_all(rebases: &[Rebase], name: &str) -> String {
    rebases
        .iter()
        .fold(name.to_string(), |name, rebase| rebase.apply(&name))
}

/// Where an archive of `src` is to be extracted for it to land at `dst`, and how its
/// entries are to be renamed for that.
pub fn prepare_archive_copy(
    src: &CopyInfo,
    dst: &CopyInfo,
) -> Result<(String, Option<Rebase>), String> {
    let (dst_dir, dst_base) = split_path_dir_entry(&dst.path);
    let (_, mut src_base) = split_path_dir_entry(&src.path);
    if !src.rebase_name.is_empty() {
        src_base = src.rebase_name.clone();
    }
    if dst.exists && dst.is_dir {
        // Into the directory, under the source's own name.
        return Ok((dst.path.clone(), None));
    }
    if dst.exists && src.is_dir {
        return Err("cannot copy directory".to_string());
    }
    if !dst.exists && !src.is_dir && asserts_directory(&dst.path) {
        return Err("no such directory".to_string());
    }
    // A file over a file, or a new name: the top entry renamed to the destination's.
    Ok((dst_dir, Some(Rebase::new(&src_base, &dst_base))))
}

/// Writes a tar archive of the local `src` (a file, or a directory and all under it) to
/// `out`, its entries named as the destination wants them: the source's own name, renamed
/// by `rebases`. Links are archived as links; files linked more than once, once.
pub fn write_archive(src: &CopyInfo, rebases: &[Rebase], out: impl Write) -> Result<(), String> {
    let (source_dir, source_base) = split_path_dir_entry(&src.path);
    let mut rebases = rebases.to_vec();
    if !src.rebase_name.is_empty() {
        rebases.insert(0, Rebase::new(&source_base, &src.rebase_name));
    }
    let mut archive = TarWriter {
        builder: Builder::new(out),
        rebases,
        links: HashMap::new(),
    };
    let root = join(&[&source_dir, &source_base]);
    archive.add_tree(&root, &source_base)?;
    archive
        .builder
        .into_inner()
        .and_then(|mut out| out.flush())
        .map_err(|e| os_message(&e))
}

struct TarWriter<W: Write> {
    builder: Builder<W>,
    rebases: Vec<Rebase>,
    /// Files with several links already archived, by (device, inode), with their names.
    links: HashMap<(u64, u64), String>,
}

impl<W: Write> TarWriter<W> {
    /// Archives `path` as `name`, and what is under it, in name order.
    fn add_tree(&mut self, path: &str, name: &str) -> Result<(), String> {
        let meta = lstat(path)?;
        self.add(path, name, &meta)?;
        if meta.is_dir() {
            let mut children: Vec<String> = fs::read_dir(path)
                .map_err(|e| format!("open {path}: {}", os_message(&e)))?
                .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<Result<_, _>>()
                .map_err(|e| os_message(&e))?;
            children.sort();
            for child in children {
                let child_name = if name == "." {
                    child.clone()
                } else {
                    format!("{name}/{child}")
                };
                self.add_tree(&format!("{path}/{child}"), &child_name)?;
            }
        }
        Ok(())
    }

    fn add(&mut self, path: &str, name: &str, meta: &Metadata) -> Result<(), String> {
        let name = rebase_all(&self.rebases, name);
        let mut header = Header::new_gnu();
        header.set_metadata_in_mode(meta, HeaderMode::Complete);
        header.set_mode(meta.mode() & 0o7777);
        let failed = |e: io::Error| format!("{path}: {}", os_message(&e));
        let file_type = meta.file_type();
        if file_type.is_symlink() {
            let target = fs::read_link(path).map_err(failed)?;
            return self
                .builder
                .append_link(&mut header, &name, target)
                .map_err(failed);
        }
        if file_type.is_file() && meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.links.get(&key) {
                header.set_entry_type(EntryType::Link);
                header.set_size(0);
                let first = first.clone();
                return self
                    .builder
                    .append_link(&mut header, &name, first)
                    .map_err(failed);
            }
            self.links.insert(key, name.clone());
        }
        if file_type.is_file() {
            let file = File::open(path).map_err(|e| format!("open {path}: {}", os_message(&e)))?;
            return self
                .builder
                .append_data(&mut header, &name, file)
                .map_err(failed);
        }
        let name = if meta.is_dir() && !name.ends_with('/') {
            format!("{name}/")
        } else {
            name
        };
        self.builder
            .append_data(&mut header, &name, io::empty())
            .map_err(failed)
    }
}

/// Extracts the tar archive `input` into the local directory `dst_dir`, renaming entries by
/// `rebases`. Nothing is chowned; an existing directory is never replaced by a file or a file
/// by a directory; entries may not reach outside `dst_dir`.
pub fn extract(input: impl Read, dst_dir: &str, rebases: &[Rebase]) -> Result<(), String> {
    let root = fs::canonicalize(dst_dir).map_err(|e| format!("{dst_dir}: {}", os_message(&e)))?;
    let mut archive = tar::Archive::new(input);
    let mut directories = Vec::new();
    let entries = archive.entries().map_err(|e| os_message(&e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| os_message(&e))?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            continue;
        }
        let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = clean(rebase_all(rebases, &raw_name).trim_start_matches('/'));
        if name == "." {
            continue;
        }
        if name == ".." || name.starts_with("../") {
            return Err(format!("invalid entry name {raw_name:?}"));
        }
        let path = format!("{}/{name}", dst_dir.trim_end_matches('/'));
        // Nothing may be written through a link that leads out of the destination.
        if !parent_inside(&root, &path) {
            return Err(format!("{raw_name:?} is outside of {dst_dir:?}"));
        }
        if let Ok(existing) = fs::symlink_metadata(&path) {
            let is_dir = kind.is_dir();
            if existing.is_dir() && !is_dir {
                return Err(format!(
                    "cannot overwrite directory {name:?} with non-directory {dst_dir:?}"
                ));
            }
            if !existing.is_dir() && is_dir {
                return Err(format!(
                    "cannot overwrite non-directory {name:?} with directory {dst_dir:?}"
                ));
            }
            if !existing.is_dir() {
                fs::remove_file(&path).map_err(|e| format!("remove {path}: {}", os_message(&e)))?;
            }
        }
        let parent = dir(&path);
        fs::create_dir_all(&parent).map_err(|e| format!("mkdir {parent}: {}", os_message(&e)))?;
        let header = entry.header().clone();
        let failed = |e: io::Error| format!("{path}: {}", os_message(&e));
        if kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .map(|link| String::from_utf8_lossy(&link).into_owned())
                .unwrap_or_default();
            let target = clean(rebase_all(rebases, &target).trim_start_matches('/'));
            let target_path = format!("{}/{target}", dst_dir.trim_end_matches('/'));
            if target == ".." || target.starts_with("../") || !parent_inside(&root, &target_path) {
                return Err(format!("invalid hardlink target {target:?}"));
            }
            fs::hard_link(&target_path, &path).map_err(failed)?;
            continue;
        }
        if kind.is_symlink() {
            let target = entry
                .link_name_bytes()
                .map(|link| String::from_utf8_lossy(&link).into_owned())
                .unwrap_or_default();
            // A relative link may not point above the destination; an absolute one is
            // taken as inside it, as docker takes it.
            let resolved = clean(&format!("{}/{target}", dir(&name)));
            if !target.starts_with('/') && (resolved == ".." || resolved.starts_with("../")) {
                return Err(format!("invalid symlink {raw_name:?} -> {target:?}"));
            }
        }
        if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            make_node(&path, &header).map_err(failed)?;
            continue;
        }
        entry.set_preserve_permissions(true);
        entry.set_preserve_mtime(true);
        entry.unpack(&path).map_err(failed)?;
        if kind.is_dir() {
            directories.push((path, header.mtime().unwrap_or_default()));
        }
    }
    // Directory times last: what was created in them changed them.
    for (path, mtime) in directories {
        set_times(&path, mtime).map_err(|e| format!("{path}: {}", os_message(&e)))?;
    }
    Ok(())
}

/// Whether the directory `path` is in, its links resolved, is `root` or under it (checked on
/// the nearest part of it that exists).
fn parent_inside(root: &Path, path: &str) -> bool {
    let mut ancestor = Path::new(path).parent();
    while let Some(dir) = ancestor {
        if let Ok(real) = fs::canonicalize(dir) {
            return real.starts_with(root);
        }
        ancestor = dir.parent();
    }
    false
}

/// A device or FIFO entry, made as the archive describes it.
fn make_node(path: &str, header: &Header) -> io::Result<()> {
    let kind = header.entry_type();
    let file_type = if kind.is_fifo() {
        FileType::Fifo
    } else if kind.is_block_special() {
        FileType::BlockDevice
    } else {
        FileType::CharacterDevice
    };
    let major = header.device_major()?.unwrap_or_default();
    let minor = header.device_minor()?.unwrap_or_default();
    let mode = Mode::from_raw_mode(header.mode()? & 0o7777);
    rustix::fs::mknodat(
        CWD,
        path,
        file_type,
        mode,
        rustix::fs::makedev(major, minor),
    )?;
    rustix::fs::chmod(path, mode)?;
    set_times(path, header.mtime()?)
}

/// Sets a path's modification time, leaving its access time.
fn set_times(path: &str, mtime: u64) -> io::Result<()> {
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: 0,
            tv_nsec: UTIME_OMIT,
        },
        last_modification: Timespec {
            tv_sec: mtime as i64,
            tv_nsec: 0,
        },
    };
    rustix::fs::utimensat(CWD, Path::new(path), &times, rustix::fs::AtFlags::empty())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> String {
        let dir = std::env::temp_dir().join(format!("berth-archive-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir.to_string_lossy().into_owned()
    }

    #[test]
    fn written_forms_of_paths() {
        assert_eq!(preserve_trailing_dot_or_separator("/a/b", "b/"), "/a/b/");
        assert_eq!(preserve_trailing_dot_or_separator("/a/b", "b/."), "/a/b/.");
        assert_eq!(preserve_trailing_dot_or_separator("/a/b", "b"), "/a/b");
        assert_eq!(split_path_dir_entry("/a/b/"), ("/a".into(), "b".into()));
        assert_eq!(split_path_dir_entry("/a/b/."), ("/a/b".into(), ".".into()));
        assert_eq!(split_path_dir_entry("/"), ("/".into(), "/".into()));
        assert_eq!(rebase_name("/l/", "/t"), ("/t/".into(), "l".into()));
        assert_eq!(rebase_name("/t/.", "/t"), ("/t/.".into(), String::new()));
    }

    #[test]
    fn rebasing_names() {
        let rebase = Rebase::new("src", "dst");
        assert_eq!(rebase.apply("src"), "dst");
        assert_eq!(rebase.apply("src/"), "dst/");
        assert_eq!(rebase.apply("src/a/b"), "dst/a/b");
        assert_eq!(rebase.apply("srcx/a"), "srcx/a");
        assert_eq!(Rebase::new("", "top").apply("/a"), "top/a");
        let chain = [Rebase::new("a", "b"), Rebase::new("b", "c")];
        assert_eq!(rebase_all(&chain, "a/x"), "c/x");
    }

    #[test]
    fn copy_rules() {
        let file = |path: &str, exists: bool| CopyInfo {
            path: path.into(),
            exists,
            ..Default::default()
        };
        let directory = |path: &str, exists: bool| CopyInfo {
            path: path.into(),
            exists,
            is_dir: true,
            ..Default::default()
        };
        // Into an existing directory: under the source's name.
        assert_eq!(
            prepare_archive_copy(&file("/s/f", true), &directory("/d", true)),
            Ok(("/d".to_string(), None))
        );
        // Over an existing file, or to a new name: renamed.
        assert_eq!(
            prepare_archive_copy(&file("/s/f", true), &file("/d/g", true)),
            Ok(("/d".to_string(), Some(Rebase::new("f", "g"))))
        );
        assert_eq!(
            prepare_archive_copy(&directory("/s/dir", true), &file("/d/new", false)),
            Ok(("/d".to_string(), Some(Rebase::new("dir", "new"))))
        );
        assert_eq!(
            prepare_archive_copy(&directory("/s/dir", true), &file("/d/g", true)),
            Err("cannot copy directory".to_string())
        );
        assert_eq!(
            prepare_archive_copy(&file("/s/f", true), &file("/d/new/", false)),
            Err("no such directory".to_string())
        );
        let mut linked = file("/s/target", true);
        linked.rebase_name = "link".into();
        assert_eq!(
            prepare_archive_copy(&linked, &file("/d/g", false)),
            Ok(("/d".to_string(), Some(Rebase::new("link", "g"))))
        );
    }

    #[test]
    fn sources_and_destinations_on_disk() {
        let root = temp_dir("paths");
        fs::create_dir(format!("{root}/dir")).unwrap();
        fs::write(format!("{root}/dir/file"), "x").unwrap();
        std::os::unix::fs::symlink("dir", format!("{root}/link")).unwrap();
        let info = copy_info_source_path(&format!("{root}/link"), false).unwrap();
        assert!(!info.is_dir, "the link itself");
        let info = copy_info_source_path(&format!("{root}/link"), true).unwrap();
        assert!(info.is_dir);
        assert_eq!(info.rebase_name, "link");
        let info = copy_info_source_path(&format!("{root}/link/"), false).unwrap();
        assert_eq!((info.is_dir, info.rebase_name.as_str()), (true, "link"));
        assert_eq!(
            copy_info_source_path(&format!("{root}/nosuch"), false).unwrap_err(),
            format!("lstat {root}/nosuch: no such file or directory")
        );
        let dst = copy_info_destination_path(&format!("{root}/link")).unwrap();
        assert_eq!(
            (dst.path, dst.exists, dst.is_dir),
            (format!("{root}/dir"), true, true)
        );
        let new = copy_info_destination_path(&format!("{root}/new")).unwrap();
        assert!(!new.exists);
        assert_eq!(
            copy_info_destination_path(&format!("{root}/dir/file/x")).unwrap_err(),
            format!("lstat {root}/dir/file/x: not a directory")
        );
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn round_trip_through_a_tar() {
        let root = temp_dir("tar");
        fs::create_dir_all(format!("{root}/src/tree/sub")).unwrap();
        fs::write(format!("{root}/src/tree/sub/a"), "alpha").unwrap();
        fs::hard_link(
            format!("{root}/src/tree/sub/a"),
            format!("{root}/src/tree/b"),
        )
        .unwrap();
        std::os::unix::fs::symlink("sub/a", format!("{root}/src/tree/c")).unwrap();
        let src = copy_info_source_path(&format!("{root}/src/tree"), false).unwrap();
        let mut tar = Vec::new();
        write_archive(&src, &[Rebase::new("tree", "copy")], &mut tar).unwrap();
        fs::create_dir(format!("{root}/out")).unwrap();
        extract(&tar[..], &format!("{root}/out"), &[]).unwrap();
        assert_eq!(
            fs::read_to_string(format!("{root}/out/copy/sub/a")).unwrap(),
            "alpha"
        );
        assert_eq!(
            fs::read_to_string(format!("{root}/out/copy/b")).unwrap(),
            "alpha"
        );
        assert_eq!(
            fs::read_link(format!("{root}/out/copy/c")).unwrap(),
            Path::new("sub/a")
        );
        // Extracting again merges directories and replaces files.
        extract(&tar[..], &format!("{root}/out"), &[]).unwrap();
        // A file may not replace a directory.
        let mut tar = Vec::new();
        let file = copy_info_source_path(&format!("{root}/src/tree/sub/a"), false).unwrap();
        write_archive(&file, &[Rebase::new("a", "copy")], &mut tar).unwrap();
        assert_eq!(
            extract(&tar[..], &format!("{root}/out"), &[]).unwrap_err(),
            format!("cannot overwrite directory \"copy\" with non-directory \"{root}/out\"")
        );
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn entries_stay_inside_the_destination() {
        let root = temp_dir("escape");
        let mut builder = Builder::new(Vec::new());
        let mut header = Header::new_gnu();
        header.set_size(1);
        header.set_mode(0o644);
        header.set_entry_type(EntryType::Regular);
        // Written raw: tar refuses to write such a name itself.
        header.as_old_mut().name[..5].copy_from_slice(b"../x\0");
        header.set_cksum();
        builder.append(&header, &b"x"[..]).unwrap();
        let tar = builder.into_inner().unwrap();
        assert_eq!(
            extract(&tar[..], &root, &[]).unwrap_err(),
            "invalid entry name \"../x\""
        );
        // A link out of the destination, then a file through it.
        let outside = format!("{root}-outside");
        fs::create_dir_all(&outside).unwrap();
        let mut builder = Builder::new(Vec::new());
        let mut link = Header::new_gnu();
        link.set_entry_type(EntryType::Symlink);
        link.set_size(0);
        builder.append_link(&mut link, "out", &outside).unwrap();
        let mut file = Header::new_gnu();
        file.set_size(1);
        file.set_mode(0o644);
        builder
            .append_data(&mut file, "out/planted", &b"x"[..])
            .unwrap();
        let tar = builder.into_inner().unwrap();
        assert_eq!(
            extract(&tar[..], &root, &[]).unwrap_err(),
            format!("\"out/planted\" is outside of \"{root}\"")
        );
        assert!(!Path::new(&outside).join("planted").exists());
        let mut builder = Builder::new(Vec::new());
        let mut up = Header::new_gnu();
        up.set_entry_type(EntryType::Symlink);
        up.set_size(0);
        builder.append_link(&mut up, "up", "../..").unwrap();
        let tar = builder.into_inner().unwrap();
        assert_eq!(
            extract(&tar[..], &root, &[]).unwrap_err(),
            "invalid symlink \"up\" -> \"../..\""
        );
        fs::remove_dir_all(outside).unwrap();
        fs::remove_dir_all(root).unwrap();
    }
}
