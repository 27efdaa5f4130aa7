//! The context `build` sends: the context directory as a tar, without what its
//! `.dockerignore` excludes (the Dockerfile and `.dockerignore` themselves are always sent, as
//! docker sends them), owned by root, symlinks kept as symlinks. A Dockerfile outside the
//! directory is added under a name of its own.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use berth_build::Dockerignore;
use tar::{Builder, EntryType, Header, HeaderMode};

/// A context archive and the Dockerfile's path inside it.
pub struct Context {
    pub archive: Vec<u8>,
    pub dockerfile: String,
}

fn io_error(path: &Path, e: io::Error) -> String {
    format!("unable to prepare context: {}: {e}", path.display())
}

/// A Dockerfile given with `-f` is relative to the current directory, not the context.
fn dockerfile_path(dir: &Path, file: Option<&str>) -> PathBuf {
    match file {
        Some(f) => std::env::current_dir()
            .map(|cwd| cwd.join(f))
            .unwrap_or_else(|_| PathBuf::from(f)),
        None => dir.join("Dockerfile"),
    }
}

/// `path` relative to `dir` with `/` separators, if it is inside it.
fn inside(dir: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(dir).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| match c {
            std::path::Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Option<_>>()?;
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Archives `dir` (see the module's description).
pub fn from_dir(dir: &Path, file: Option<&str>) -> Result<Context, String> {
    let meta = fs::metadata(dir).map_err(|_| {
        format!(
            "unable to prepare context: path {:?} not found",
            dir.display().to_string()
        )
    })?;
    if !meta.is_dir() {
        return Err(format!(
            "unable to prepare context: context must be a directory: {}",
            dir.display()
        ));
    }
    let dir = fs::canonicalize(dir).map_err(|e| io_error(dir, e))?;
    let dockerfile_file = dockerfile_path(&dir, file);
    let dockerfile_file = fs::canonicalize(&dockerfile_file).map_err(|_| {
        format!(
            "unable to prepare context: the Dockerfile ({}) cannot be found",
            dockerfile_file.display()
        )
    })?;
    let ignore_text = match fs::read_to_string(dir.join(".dockerignore")) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io_error(&dir.join(".dockerignore"), e)),
    };
    let ignore = Dockerignore::parse(&ignore_text)
        .map_err(|e| format!("error reading .dockerignore: {e}"))?;
    let inner_dockerfile = inside(&dir, &dockerfile_file);
    let kept = |rel: &str| {
        !ignore.excludes(rel) || rel == ".dockerignore" || Some(rel) == inner_dockerfile.as_deref()
    };
    // With no `!` exceptions, nothing under an excluded directory can come back.
    let may_reinclude = ignore_text.lines().any(|l| l.trim_start().starts_with('!'));

    let mut tar = Builder::new(Vec::new());
    tar.follow_symlinks(false);
    let mut stack = vec![(dir.clone(), String::new())];
    while let Some((path, rel)) = stack.pop() {
        let mut entries: Vec<_> = fs::read_dir(&path)
            .map_err(|e| io_error(&path, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| io_error(&path, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let full = entry.path();
            let meta = fs::symlink_metadata(&full).map_err(|e| io_error(&full, e))?;
            let keep = kept(&rel);
            if meta.is_dir() && (keep || may_reinclude) {
                stack.push((full.clone(), rel.clone()));
            }
            let supported = meta.is_dir() || meta.is_file() || meta.file_type().is_symlink();
            if keep && supported {
                append(&mut tar, &full, &rel, &meta)?;
            }
        }
    }
    let dockerfile = match inner_dockerfile {
        Some(rel) => rel,
        None => {
            let name = format!(".dockerfile.{}", random_hex());
            let data = fs::read(&dockerfile_file).map_err(|e| io_error(&dockerfile_file, e))?;
            let mut header = Header::new_gnu();
            header.set_entry_type(EntryType::Regular);
            header.set_mode(0o600);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            header.set_size(data.len() as u64);
            tar.append_data(&mut header, &name, &data[..])
                .map_err(|e| io_error(&dockerfile_file, e))?;
            name
        }
    };
    let archive = tar.into_inner().map_err(|e| io_error(&dir, e))?;
    Ok(Context {
        archive,
        dockerfile,
    })
}

/// One entry, owned by root (as docker sends it), with its mode and mtime.
fn append(
    tar: &mut Builder<Vec<u8>>,
    full: &Path,
    rel: &str,
    meta: &fs::Metadata,
) -> Result<(), String> {
    let mut header = Header::new_gnu();
    header.set_metadata_in_mode(meta, HeaderMode::Complete);
    header.set_uid(0);
    header.set_gid(0);
    let result = if meta.file_type().is_symlink() {
        let target = fs::read_link(full).map_err(|e| io_error(full, e))?;
        tar.append_link(&mut header, rel, target)
    } else if meta.is_dir() {
        header.set_size(0);
        tar.append_data(&mut header, rel, io::empty())
    } else {
        let file = fs::File::open(full).map_err(|e| io_error(full, e))?;
        tar.append_data(&mut header, rel, file)
    };
    result.map_err(|e| io_error(full, e))
}

fn random_hex() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{:08x}{:08x}", std::process::id(), nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(archive: &[u8]) -> Vec<String> {
        tar::Archive::new(archive)
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect()
    }

    #[test]
    fn ignored_files_stay_home_but_the_dockerfile_goes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("src/keep")).unwrap();
        fs::create_dir_all(root.join("target")).unwrap();
        fs::write(root.join("Dockerfile"), "FROM scratch\n").unwrap();
        fs::write(
            root.join(".dockerignore"),
            "target\nsecret\nDockerfile\n*.log\n!important.log\n",
        )
        .unwrap();
        fs::write(root.join("secret"), "s").unwrap();
        fs::write(root.join("a.log"), "").unwrap();
        fs::write(root.join("important.log"), "").unwrap();
        fs::write(root.join("target/big"), "x").unwrap();
        fs::write(root.join("src/keep/main.rs"), "fn main() {}").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("src/link")).unwrap();
        let context = from_dir(root, None).unwrap();
        assert_eq!(context.dockerfile, "Dockerfile");
        let mut names = names(&context.archive);
        names.sort();
        assert_eq!(
            names,
            [
                ".dockerignore",
                "Dockerfile",
                "important.log",
                "src",
                "src/keep",
                "src/keep/main.rs",
                "src/link"
            ]
        );
    }

    #[test]
    fn a_dockerfile_outside_the_context_is_added() {
        let ctx = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let file = other.path().join("Dockerfile.dev");
        fs::write(&file, "FROM scratch\n").unwrap();
        let context = from_dir(ctx.path(), Some(file.to_str().unwrap())).unwrap();
        assert!(context.dockerfile.starts_with(".dockerfile."));
        assert_eq!(names(&context.archive), vec![context.dockerfile]);
        let missing = from_dir(ctx.path(), None).err().unwrap();
        assert!(missing.contains("cannot be found"), "{missing}");
    }
}
