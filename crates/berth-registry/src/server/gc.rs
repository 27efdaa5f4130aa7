//! Garbage collection (`berth registry gc`): deletes the blobs that no manifest of any
//! repository references, while the registry keeps serving the same storage (in this process
//! or another).
//!
//! **Mark**: every manifest stored in a repository is live, and so is everything it
//! references: an image manifest's config and layers, an index's manifests, a referrer's
//! subject. **Sweep**: every other blob is deleted, with the links repositories hold to it.
//!
//! Why a blob made live during a collection survives:
//! - Marking reads without a lock, so a push can land in a repository after it was read. But
//!   every request that makes a blob live — finishing an upload, a cross-repository mount,
//!   storing a manifest (which also touches every blob and manifest it references, after
//!   checking they exist) — sets the blob's modification time to now, under a shared lock of
//!   the storage ([`Storage::lock_for_write`]).
//! - The sweep holds that lock exclusively and deletes only blobs modified before the
//!   collection started, less a grace period. A blob touched after the start is spared; a
//!   request that comes after the sweep finds the blob gone and says so (`BLOB_UNKNOWN`,
//!   `MANIFEST_BLOB_UNKNOWN`: the client uploads it again) rather than storing a manifest that
//!   points to nothing.
//! - The grace period (an hour unless set) spares pushes in progress: a client uploads the
//!   layers first and the manifest that references them only at the end.
//!
//! Upload sessions are not blobs and are left alone (the server expires them, see
//! `uploads.rs`). Temp files that interrupted writes left in the blob directory are removed
//! once they are older than the grace period.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use berth_image::Digest;

use crate::server::manifests::{self, MANIFEST_LIMIT};
use crate::server::names::RepoName;
use crate::server::storage::Storage;

/// How a collection runs.
#[derive(Debug, Clone)]
pub struct GcOptions {
    /// Report what would be deleted, delete nothing.
    pub dry_run: bool,
    /// Blobs modified more recently than this before the collection started are spared,
    /// referenced or not.
    pub grace_period: Duration,
}

impl GcOptions {
    /// One hour: longer than a push takes between its first layer and its manifest.
    pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(3600);
}

impl Default for GcOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            grace_period: Self::DEFAULT_GRACE_PERIOD,
        }
    }
}

/// What a collection found and did.
#[derive(Debug, Clone, Default)]
pub struct GcReport {
    /// Manifests read, over all repositories.
    pub manifests: usize,
    /// Distinct live blobs (manifests included).
    pub marked: usize,
    /// The blobs deleted (or, in a dry run, that would be), by digest.
    pub deleted: Vec<DeletedBlob>,
    /// Unreferenced blobs spared because they are younger than the grace period.
    pub spared: usize,
}

impl GcReport {
    /// Bytes the deleted blobs held.
    pub fn freed(&self) -> u64 {
        self.deleted.iter().map(|blob| blob.size).sum()
    }
}

/// A blob the collection deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedBlob {
    pub digest: String,
    pub size: u64,
}

/// Why a collection stopped.
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error("{} is not a registry storage directory (it has no blobs/)", .0.display())]
    NotStorage(PathBuf),

    #[error("registry storage {}: {source}", path.display())]
    Storage { path: PathBuf, source: io::Error },

    /// A stored manifest that cannot be read: what it references is unknown, so nothing is
    /// deleted.
    #[error("manifest {digest} of {repository}: {reason}; nothing was deleted")]
    Manifest {
        repository: String,
        digest: String,
        reason: String,
    },
}

/// Runs one collection over the storage at `root`, reporting each step to `log` in the words
/// of distribution's `registry garbage-collect` (`<repository>: marking manifest <digest>`,
/// `<n> blobs marked` between the phases, `deleting blob <digest> (<size> bytes)`).
pub fn collect_garbage(
    root: &Path,
    options: &GcOptions,
    log: &mut dyn FnMut(&str),
) -> Result<GcReport, GcError> {
    if !root.join("blobs").is_dir() {
        return Err(GcError::NotStorage(root.to_owned()));
    }
    let storage = Storage::open(root).map_err(|source| storage_error(root, source))?;
    let started = SystemTime::now();
    let cutoff = started
        .checked_sub(options.grace_period)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut report = GcReport::default();
    let live = mark(&storage, &mut report, log)?;
    report.marked = live.len();
    log(&format!("{} blobs marked", live.len()));
    sweep(&storage, &live, cutoff, options.dry_run, &mut report, log)
        .map_err(|source| storage_error(root, source))?;
    Ok(report)
}

fn storage_error(root: &Path, source: io::Error) -> GcError {
    GcError::Storage {
        path: root.to_owned(),
        source,
    }
}

/// Every blob a stored manifest is or references.
fn mark(
    storage: &Storage,
    report: &mut GcReport,
    log: &mut dyn FnMut(&str),
) -> Result<HashSet<Digest>, GcError> {
    let io_error = |source| storage_error(storage.root(), source);
    let mut live = HashSet::new();
    for name in storage.repositories().map_err(io_error)? {
        // Listed repositories passed this check.
        let Ok(repository) = RepoName::parse(&name) else {
            continue;
        };
        for digest in storage.revisions(&repository).map_err(io_error)? {
            let unreadable = |reason: String| GcError::Manifest {
                repository: name.clone(),
                digest: digest.to_string(),
                reason,
            };
            // Gone: deleted since it was listed.
            let Some(stored) = storage
                .manifest(&repository, &digest, MANIFEST_LIMIT)
                .map_err(|e| unreadable(e.to_string()))?
            else {
                continue;
            };
            let manifest = manifests::parse(&stored.bytes, Some(&stored.media_type))
                .map_err(|e| unreadable(e.to_string()))?;
            report.manifests += 1;
            log(&format!("{name}: marking manifest {digest}"));
            for reference in &manifest.references {
                log(&format!("{name}: marking blob {}", reference.digest));
                live.insert(reference.digest.clone());
            }
            live.extend(manifest.subject);
            live.insert(digest);
        }
    }
    Ok(live)
}

/// Deletes the blobs not `live` and modified before `cutoff`, then the repositories' links to
/// them, and the temp files older than `cutoff`.
fn sweep(
    storage: &Storage,
    live: &HashSet<Digest>,
    cutoff: SystemTime,
    dry_run: bool,
    report: &mut GcReport,
    log: &mut dyn FnMut(&str),
) -> io::Result<()> {
    let _lock = if dry_run {
        None
    } else {
        Some(storage.lock_for_sweep()?)
    };
    let (blobs, leftovers) = storage.blobs()?;
    let mut deleted = HashSet::new();
    for digest in blobs.into_iter().filter(|digest| !live.contains(digest)) {
        let Some((size, modified)) = size_and_time(&storage.blob_path(&digest))? else {
            continue;
        };
        if modified >= cutoff {
            report.spared += 1;
            continue;
        }
        if dry_run {
            log(&format!(
                "blob eligible for deletion: {digest} ({size} bytes)"
            ));
        } else {
            log(&format!("deleting blob {digest} ({size} bytes)"));
            storage.delete_blob(&digest)?;
        }
        report.deleted.push(DeletedBlob {
            digest: digest.to_string(),
            size,
        });
        deleted.insert(digest);
    }
    if dry_run {
        return Ok(());
    }
    if !deleted.is_empty() {
        for name in storage.repositories()? {
            let Ok(repository) = RepoName::parse(&name) else {
                continue;
            };
            for digest in storage.linked_blobs(&repository)? {
                if deleted.contains(&digest) {
                    storage.unlink_blob(&repository, &digest)?;
                }
            }
        }
    }
    for leftover in leftovers {
        let path = storage.blobs_dir().join(&leftover);
        if leftover.starts_with('.')
            && size_and_time(&path)?.is_some_and(|(_, modified)| modified < cutoff)
        {
            log(&format!("removing leftover temp file {leftover}"));
            match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

/// A regular file's size and modification time; `None` if it is gone.
fn size_and_time(path: &Path) -> io::Result<Option<(u64, SystemTime)>> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => Ok(Some((meta.len(), meta.modified()?))),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::storage::StoredManifest;

    fn repository(name: &str) -> RepoName {
        RepoName::parse(name).unwrap()
    }

    /// Stores `content` as a blob linked to `name`, as a finished upload does.
    fn blob(storage: &Storage, name: &RepoName, content: &[u8]) -> Digest {
        let digest = Digest::of(content);
        let upload = storage.uploads_dir().join(digest.hex());
        fs::write(&upload, content).unwrap();
        let _lock = storage.lock_for_write().unwrap();
        storage.commit_blob(&upload, &digest).unwrap();
        storage.link_blob(name, &digest).unwrap();
        digest
    }

    fn image(storage: &Storage, name: &RepoName, blobs: &[&Digest]) -> Digest {
        let descriptors: Vec<_> = blobs
            .iter()
            .map(|digest| {
                let size = fs::metadata(storage.blob_path(digest)).unwrap().len();
                serde_json::json!({"mediaType": "application/octet-stream",
                                   "digest": digest.as_str(), "size": size})
            })
            .collect();
        let bytes = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "config": descriptors[0],
            "layers": descriptors[1..],
        }))
        .unwrap();
        let digest = Digest::of(&bytes);
        let manifest =
            manifests::parse(&bytes, Some(crate::client::media_type::OCI_MANIFEST)).unwrap();
        manifests::store(storage, name, &digest, &manifest, bytes, None)
            .unwrap()
            .unwrap();
        digest
    }

    fn run(storage: &Storage, live: &HashSet<Digest>, cutoff: SystemTime) -> GcReport {
        let mut report = GcReport::default();
        sweep(storage, live, cutoff, false, &mut report, &mut |_| {}).unwrap();
        report
    }

    #[test]
    fn a_blob_made_live_after_marking_survives_the_sweep() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        let app = repository("app");
        let old = blob(&storage, &app, b"old layer");
        let started = SystemTime::now();
        let live = mark(&storage, &mut GcReport::default(), &mut |_| {}).unwrap();
        assert!(live.is_empty());
        // Between mark and sweep: a new blob, and a manifest over it and the old one.
        let new = blob(&storage, &app, b"new layer");
        let manifest = image(&storage, &app, &[&new, &old]);
        let report = run(&storage, &live, started);
        assert!(report.deleted.is_empty(), "{report:?}");
        for digest in [&old, &new, &manifest] {
            assert!(storage.blob_path(digest).exists());
        }
    }

    #[test]
    fn sweeps_old_unreferenced_blobs_and_their_links() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        let (a, b) = (repository("a"), repository("b"));
        let config = blob(&storage, &a, b"config");
        let shared = blob(&storage, &a, b"shared");
        storage.link_blob(&b, &shared).unwrap();
        let orphan = blob(&storage, &b, b"orphan");
        let manifest = image(&storage, &a, &[&config, &shared]);
        let leftover = storage.blobs_dir().join(".x.tmp");
        fs::write(&leftover, b"half").unwrap();

        let mut log = Vec::new();
        let report = collect_garbage(
            dir.path(),
            &GcOptions {
                dry_run: false,
                grace_period: Duration::ZERO,
            },
            &mut |line| log.push(line.to_owned()),
        )
        .unwrap();
        assert_eq!((report.manifests, report.marked), (1, 3));
        assert_eq!(
            report.deleted,
            [DeletedBlob {
                digest: orphan.to_string(),
                size: 6
            }]
        );
        assert!(!storage.blob_path(&orphan).exists() && !leftover.exists());
        assert_eq!(
            storage.linked_blobs(&b).unwrap(),
            std::slice::from_ref(&shared)
        );
        for digest in [&config, &shared, &manifest] {
            assert!(storage.blob_path(digest).exists());
        }
        assert!(
            log.contains(&format!("a: marking manifest {manifest}")),
            "{log:?}"
        );
        assert!(log.contains(&format!("deleting blob {orphan} (6 bytes)")));
    }

    #[test]
    fn an_unreadable_manifest_stops_the_collection() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        let app = repository("app");
        let orphan = blob(&storage, &app, b"orphan");
        let digest = Digest::of(b"not json");
        let stored = StoredManifest {
            media_type: crate::client::media_type::OCI_MANIFEST.to_owned(),
            bytes: b"not json".to_vec(),
        };
        storage
            .put_manifest(&app, &digest, &stored, None, None)
            .unwrap();
        let options = GcOptions {
            dry_run: false,
            grace_period: Duration::ZERO,
        };
        let err = collect_garbage(dir.path(), &options, &mut |_| {}).unwrap_err();
        assert!(matches!(err, GcError::Manifest { .. }), "{err}");
        assert!(storage.blob_path(&orphan).exists());
        let missing = dir.path().join("nothing");
        let err = collect_garbage(&missing, &options, &mut |_| {}).unwrap_err();
        assert!(matches!(err, GcError::NotStorage(_)), "{err}");
        assert!(!missing.exists());
    }
}
