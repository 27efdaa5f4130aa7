use std::fs::{self, File, Permissions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::{Error, Result};

/// Mode of a file that `atomic_write` creates (an existing file keeps its own).
const NEW_FILE_MODE: u32 = 0o644;

/// Replaces `path` with `bytes` so that a reader (or a crash) sees either the old content or the
/// new, never a mix: temp file in the same directory, fsync, rename, fsync of the directory.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mode = match fs::metadata(path) {
        Ok(meta) => meta.permissions().mode() & 0o7777,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => NEW_FILE_MODE,
        Err(e) => return Err(Error::new("stat", path, e)),
    };
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::new("create temp file in", dir, e))?;
    let fail = |op, e| Error::new(op, path, e);
    tmp.write_all(bytes).map_err(|e| fail("write", e))?;
    tmp.as_file()
        .set_permissions(Permissions::from_mode(mode))
        .map_err(|e| fail("chmod", e))?;
    tmp.as_file().sync_all().map_err(|e| fail("fsync", e))?;
    tmp.persist(path)
        .map_err(|e| Error::new("rename into", path, e.error))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::new("fsync", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_keeps_mode_and_leaves_no_temp_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config.json");
        atomic_write(&path, b"one").unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            NEW_FILE_MODE
        );
        fs::set_permissions(&path, Permissions::from_mode(0o600)).unwrap();
        atomic_write(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn error_names_the_path() {
        let err = atomic_write(Path::new("/nonexistent-berth-dir/x"), b"").unwrap_err();
        assert!(err.to_string().contains("/nonexistent-berth-dir"), "{err}");
    }
}
