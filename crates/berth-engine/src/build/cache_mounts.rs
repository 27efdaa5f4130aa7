//! `RUN --mount=type=cache` directories: `<data-root>/build/cache-mounts/<sha256 of the id>`,
//! kept between builds and never part of an image. Builds running at once share one as its
//! `sharing` says: `shared` together, `locked` one at a time (others wait), `private` a fresh
//! throwaway directory for a build that finds it in use. `builder prune` removes those no
//! build is using.

use berth_build::{CacheDir, Sharing};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

#[derive(Default)]
struct Use {
    users: usize,
    exclusive: bool,
}

/// Who uses which cache directory now (by directory name).
#[derive(Default)]
pub(crate) struct CacheMounts {
    in_use: Mutex<HashMap<String, Use>>,
    released: Condvar,
}

/// A cache directory in use, released on drop (a private copy is removed).
struct Held {
    registry: Arc<CacheMounts>,
    key: Option<String>,
    path: PathBuf,
    is_new: bool,
    _private: Option<tempfile::TempDir>,
}

impl CacheDir for Held {
    fn path(&self) -> &Path {
        &self.path
    }

    fn is_new(&self) -> bool {
        self.is_new
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(key) = &self.key else { return };
        let mut in_use = self.registry.lock();
        if let Some(u) = in_use.get_mut(key) {
            u.users = u.users.saturating_sub(1);
            u.exclusive = false;
            if u.users == 0 {
                in_use.remove(key);
            }
        }
        drop(in_use);
        self.registry.released.notify_all();
    }
}

impl CacheMounts {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Use>> {
        self.in_use.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The directory for `id` below `root`, in use until the returned guard drops. Blocks
    /// while another build holds it `locked` (or while others use it and this one asks for
    /// `locked`).
    pub(crate) fn acquire(
        self: &Arc<Self>,
        root: &Path,
        id: &str,
        sharing: Sharing,
    ) -> std::io::Result<Box<dyn CacheDir>> {
        let key = hex::encode(Sha256::digest(id.as_bytes()));
        let path = root.join(&key);
        let mut in_use = self.lock();
        loop {
            let u = in_use.entry(key.clone()).or_default();
            let busy = u.exclusive || (sharing == Sharing::Locked && u.users > 0);
            if sharing == Sharing::Private && u.users > 0 {
                drop(in_use);
                std::fs::create_dir_all(root)?;
                let private = tempfile::Builder::new()
                    .prefix(".private-")
                    .tempdir_in(root)?;
                return Ok(Box::new(Held {
                    registry: self.clone(),
                    key: None,
                    path: private.path().to_path_buf(),
                    is_new: true,
                    _private: Some(private),
                }));
            }
            if !busy {
                u.users += 1;
                u.exclusive = sharing == Sharing::Locked;
                break;
            }
            in_use = self
                .released
                .wait(in_use)
                .unwrap_or_else(|p| p.into_inner());
        }
        drop(in_use);
        // Released again (by its drop) if the directory cannot be made.
        let mut held = Held {
            registry: self.clone(),
            key: Some(key),
            path: path.clone(),
            is_new: false,
            _private: None,
        };
        held.is_new = match std::fs::create_dir(&path) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(root)?;
                std::fs::create_dir(&path)?;
                true
            }
            Err(e) => return Err(e),
        };
        Ok(Box::new(held))
    }
}

impl CacheMounts {
    /// Removes the cache directories below `root` that no build uses and that were last
    /// changed before `older_than` (Unix seconds; all of them when `None`). Returns their
    /// names and the bytes they held. Builds asking for one meanwhile wait, then start afresh.
    pub(crate) fn prune(
        &self,
        root: &Path,
        older_than: Option<i64>,
    ) -> std::io::Result<(Vec<String>, u64)> {
        let in_use = self.lock();
        let mut removed = Vec::new();
        let mut bytes = 0;
        let entries = match std::fs::read_dir(root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((removed, bytes)),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // `.private-*` copies belong to the builds using them, and go with them.
            if name.starts_with('.') || in_use.contains_key(&name) {
                continue;
            }
            let changed = entry.metadata()?.modified()?;
            let changed = changed
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            if older_than.is_some_and(|cutoff| changed >= cutoff) {
                continue;
            }
            bytes += disk_usage(&entry.path());
            std::fs::remove_dir_all(entry.path())?;
            removed.push(name);
        }
        Ok((removed, bytes))
    }
}

/// The bytes of the regular files below `path` (symlinks not followed). A stack rather than
/// recursion: what a build's RUN steps wrote decides how deep the tree goes.
fn disk_usage(path: &Path) -> u64 {
    let mut total = 0;
    let mut pending = vec![path.to_path_buf()];
    while let Some(path) = pending.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_file() {
            total += meta.len();
        } else if meta.is_dir()
            && let Ok(entries) = std::fs::read_dir(&path)
        {
            pending.extend(entries.flatten().map(|entry| entry.path()));
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_removes_the_directories_no_build_uses() {
        let root = tempfile::tempdir().unwrap();
        let mounts = Arc::new(CacheMounts::default());
        let busy = mounts
            .acquire(root.path(), "busy", Sharing::Shared)
            .unwrap();
        let idle = mounts
            .acquire(root.path(), "idle", Sharing::Shared)
            .unwrap();
        std::fs::write(idle.path().join("data"), b"12345").unwrap();
        let idle_name = idle
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        drop(idle);
        // Changed after the cutoff: kept.
        assert_eq!(mounts.prune(root.path(), Some(0)).unwrap(), (vec![], 0));
        let (removed, bytes) = mounts.prune(root.path(), None).unwrap();
        assert_eq!((removed, bytes), (vec![idle_name], 5));
        assert!(busy.path().exists());
        drop(busy);
        assert_eq!(mounts.prune(root.path(), None).unwrap().0.len(), 1);
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_directory_is_new_once_and_private_users_get_their_own() {
        let root = tempfile::tempdir().unwrap();
        let mounts = Arc::new(CacheMounts::default());
        let first = mounts.acquire(root.path(), "pip", Sharing::Shared).unwrap();
        assert!(first.is_new());
        let shared = mounts.acquire(root.path(), "pip", Sharing::Shared).unwrap();
        assert!(!shared.is_new());
        assert_eq!(first.path(), shared.path());
        let private = mounts
            .acquire(root.path(), "pip", Sharing::Private)
            .unwrap();
        assert_ne!(private.path(), first.path());
        let gone = private.path().to_path_buf();
        drop(private);
        assert!(!gone.exists());
        drop((first, shared));
        let alone = mounts
            .acquire(root.path(), "pip", Sharing::Private)
            .unwrap();
        assert!(!alone.is_new());
    }

    #[test]
    fn locked_users_wait_for_each_other() {
        let root = tempfile::tempdir().unwrap();
        let mounts = Arc::new(CacheMounts::default());
        let held = mounts.acquire(root.path(), "x", Sharing::Locked).unwrap();
        let (m, r) = (mounts.clone(), root.path().to_path_buf());
        let waiter = std::thread::spawn(move || {
            let start = std::time::Instant::now();
            let _second = m.acquire(&r, "x", Sharing::Locked).unwrap();
            start.elapsed()
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        drop(held);
        assert!(waiter.join().unwrap() >= std::time::Duration::from_millis(150));
    }
}
