//! Blob upload sessions. Each lives in `<root>/uploads/<uuid>/`: `data` (the bytes so far) and
//! `repository` (who started it; another repository cannot touch it). The running digest is kept
//! in memory so finishing an upload does not read it again; after a restart, a session found on
//! disk is hashed once and carries on.
//!
//! Appends are all-or-nothing: a body that breaks off, overruns its declared length or the blob
//! size limit, or fails to write leaves the session as it was. Finishing checks the digest the
//! client names against the one computed here; only then does the data move (fsynced) into the
//! blob store.
//!
//! A session no request has touched for the configured expiry (its data's modification time)
//! is purged ([`Uploads::purge_expired`], run by the server at startup and periodically), and
//! so is what a crash left of one (a directory without data).
//!
//! If the server is killed mid-append, the data file keeps the bytes that arrived: a restarted
//! server hashes them and reports them in `Range`, and the client continues from there (the
//! spec's way of resuming). Nothing reaches the blob store without a matching digest.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use berth_image::Digest;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::StatusCode;
use hyper::body::Body;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard, mpsc};

use crate::server::error::{ApiError, ApiResult, Code};
use crate::server::names::{RepoName, UploadId};
use crate::server::storage::{Storage, blocking};

/// How long a request body may send nothing before the request is abandoned (and the session
/// it holds locked is released).
pub(crate) const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// The name a session's directory takes while it is being purged: no longer a valid upload id,
/// so no request finds it, and a purge interrupted by a crash is finished by the next one.
const PURGING_PREFIX: &str = ".purging-";

/// An upload in progress.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) id: UploadId,
    /// The repository that started it.
    repository: RepoName,
    /// Bytes received so far.
    pub(crate) size: u64,
    hasher: Sha256,
    /// Finished or cancelled: a request that waited for the lock finds it gone.
    closed: bool,
}

/// A session, locked for one request.
pub(crate) type Locked = OwnedMutexGuard<Session>;

/// The upload sessions of one storage root.
#[derive(Debug)]
pub(crate) struct Uploads {
    storage: Storage,
    dir: PathBuf,
    /// The largest blob an upload may grow to.
    max_blob_size: u64,
    /// Every session a request of this process touched, until it is closed or purged.
    open: Mutex<HashMap<UploadId, Arc<AsyncMutex<Session>>>>,
}

impl Uploads {
    pub(crate) fn new(storage: Storage, max_blob_size: u64) -> Self {
        let dir = storage.uploads_dir();
        Self {
            storage,
            dir,
            max_blob_size,
            open: Mutex::new(HashMap::new()),
        }
    }

    fn data_path(&self, id: &UploadId) -> PathBuf {
        self.dir.join(id.as_str()).join("data")
    }

    /// Starts a session for `repository` and returns it locked.
    pub(crate) async fn start(&self, repository: &RepoName) -> ApiResult<Locked> {
        let id = UploadId::random()?;
        let dir = self.dir.join(id.as_str());
        let owner = repository.as_str().to_owned();
        blocking(move || {
            fs::create_dir(&dir)?;
            File::create(dir.join("data"))?;
            berth_fs::atomic_write(&dir.join("repository"), owner.as_bytes())
                .map_err(io::Error::other)
        })
        .await?;
        let session = Arc::new(AsyncMutex::new(Session {
            id: id.clone(),
            repository: repository.clone(),
            size: 0,
            hasher: Sha256::new(),
            closed: false,
        }));
        let locked = session.clone().lock_owned().await;
        self.table().insert(id, session);
        Ok(locked)
    }

    /// The session `id` of `repository`, locked; unknown (or another repository's) is an error.
    pub(crate) async fn open(&self, repository: &RepoName, id: &str) -> ApiResult<Locked> {
        let id = UploadId::parse(id)?;
        let known = self.table().get(&id).cloned();
        let session = match known {
            Some(session) => session,
            None => self.recover(&id).await?,
        };
        let locked = session.lock_owned().await;
        if locked.closed || locked.repository != *repository {
            return Err(ApiError::upload_unknown());
        }
        Ok(locked)
    }

    /// A session left on disk by an earlier run: its data is hashed once to resume it.
    async fn recover(&self, id: &UploadId) -> ApiResult<Arc<AsyncMutex<Session>>> {
        let dir = self.dir.join(id.as_str());
        let found = blocking(move || {
            let (owner, mut file) = match (
                fs::read_to_string(dir.join("repository")),
                File::open(dir.join("data")),
            ) {
                (Ok(owner), Ok(file)) => (owner, file),
                (Err(e), _) | (_, Err(e)) if e.kind() == io::ErrorKind::NotFound => {
                    return Ok(None);
                }
                (Err(e), _) | (_, Err(e)) => return Err(e),
            };
            let mut hasher = Sha256::new();
            let size = io::copy(&mut file, &mut hasher)?;
            Ok(Some((owner, hasher, size)))
        })
        .await?;
        let Some((owner, hasher, size)) = found else {
            return Err(ApiError::upload_unknown());
        };
        let repository = RepoName::parse(&owner).map_err(|_| ApiError::upload_unknown())?;
        let session = Arc::new(AsyncMutex::new(Session {
            id: id.clone(),
            repository,
            size,
            hasher,
            closed: false,
        }));
        let mut table = self.table();
        // Another request may have recovered it meanwhile: keep the first.
        if let Some(recovered) = table.get(id) {
            return Ok(recovered.clone());
        }
        // A purge moves the directory away under the table's lock: checked under it too.
        if !self.dir.join(id.as_str()).exists() {
            return Err(ApiError::upload_unknown());
        }
        Ok(table.entry(id.clone()).or_insert(session).clone())
    }

    /// Appends `body` to the session. `expected` is the length the client declared
    /// (`Content-Length`, or the extent of its `Content-Range`); a body of any other length is
    /// refused, and so is one that would take the blob over the size limit (`413`, before
    /// reading a byte when the length is declared). On any error the session keeps its previous
    /// content.
    pub(crate) async fn append<B>(
        &self,
        session: &mut Locked,
        body: B,
        expected: Option<u64>,
    ) -> ApiResult<()>
    where
        B: Body<Data = Bytes>,
        B::Error: std::fmt::Display,
    {
        let path = self.data_path(&session.id);
        let start = session.size;
        let room = self.max_blob_size.saturating_sub(start);
        if expected.is_some_and(|expected| expected > room) {
            return Err(too_large(self.max_blob_size));
        }
        let mut hasher = session.hasher.clone();
        let (sender, mut receiver) = mpsc::channel::<Bytes>(16);
        // Hashing and writing run off the async threads; the body is fed to them as it arrives.
        let writer = tokio::task::spawn_blocking(move || -> io::Result<(Sha256, u64)> {
            let mut file = OpenOptions::new().write(true).open(&path)?;
            // Whatever a failed append left past the session's size goes first.
            file.set_len(start)?;
            file.seek(SeekFrom::Start(start))?;
            let mut written = 0u64;
            while let Some(chunk) = receiver.blocking_recv() {
                file.write_all(&chunk)?;
                hasher.update(&chunk);
                written += chunk.len() as u64;
            }
            Ok((hasher, written))
        });
        let fed = feed(body, &sender, expected, room, self.max_blob_size).await;
        drop(sender);
        let written = writer
            .await
            .map_err(|e| ApiError::internal("upload writer", e))
            .and_then(|result| result.map_err(ApiError::from));
        match (written, fed) {
            (Ok((hasher, written)), Ok(())) => {
                session.size = start + written;
                session.hasher = hasher;
                Ok(())
            }
            (Err(e), _) | (_, Err(e)) => {
                // Back to the session's size, so a restart does not count the partial chunk
                // (the next append truncates anyway, should this fail).
                let path = self.data_path(&session.id);
                let _ = blocking(move || OpenOptions::new().write(true).open(path)?.set_len(start))
                    .await;
                Err(e)
            }
        }
    }

    /// Finishes the session: the content must have `digest`. The blob lands in the store and is
    /// linked to `repository`; the session is gone either way, as a mismatch cannot be repaired
    /// by sending more.
    pub(crate) async fn finish(
        &self,
        mut session: Locked,
        repository: &RepoName,
        digest: &Digest,
    ) -> ApiResult<()> {
        let actual = Digest::from_hex(&hex::encode(session.hasher.clone().finalize()))
            .map_err(|e| ApiError::internal("upload digest", e))?;
        if actual != *digest {
            self.close(&mut session).await?;
            return Err(ApiError::new(
                Code::DigestInvalid,
                "provided digest did not match uploaded content",
            )
            .with_detail(json!({ "digest": digest.as_str(), "actual": actual.as_str() })));
        }
        let data = self.data_path(&session.id);
        let (size, storage) = (session.size, self.storage.clone());
        let (repository, digest) = (repository.clone(), digest.clone());
        blocking(move || {
            // The session's size is the truth: nothing a failed append left past it is kept.
            OpenOptions::new().write(true).open(&data)?.set_len(size)?;
            let _live = storage.lock_for_write()?;
            storage.commit_blob(&data, &digest)?;
            storage.link_blob(&repository, &digest)
        })
        .await?;
        self.close(&mut session).await
    }

    /// Cancels the session and removes its files.
    pub(crate) async fn cancel(&self, mut session: Locked) -> ApiResult<()> {
        self.close(&mut session).await
    }

    /// Marks the session closed and removes its files, then forgets it: until it is forgotten,
    /// a request for it waits for the lock and finds it closed rather than recovering the files.
    async fn close(&self, session: &mut Locked) -> ApiResult<()> {
        session.closed = true;
        let dir = self.dir.join(session.id.as_str());
        let removed = blocking(move || match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        })
        .await;
        self.table().remove(&session.id);
        removed.map_err(ApiError::from)
    }

    /// Removes the sessions idle for longer than `expiry`, and the remains of sessions a crash
    /// cut short; a session a request holds is left alone. Returns how many were removed.
    pub(crate) async fn purge_expired(&self, expiry: Duration) -> io::Result<usize> {
        let dir = self.dir.clone();
        let stale = blocking(move || stale_entries(&dir, expiry)).await?;
        let mut purged = 0;
        for entry in stale {
            let Ok(id) = UploadId::parse(&entry) else {
                // A purge that a crash interrupted.
                if entry.starts_with(PURGING_PREFIX) {
                    let path = self.dir.join(&entry);
                    blocking(move || remove_tree(&path)).await?;
                }
                continue;
            };
            let known = self.table().get(&id).cloned();
            let removed = match known {
                Some(session) => self.purge_open(session, expiry).await?,
                None => self.purge_untouched(&id).await?,
            };
            purged += usize::from(removed);
        }
        Ok(purged)
    }

    /// A session in the table: purged unless a request holds it or used it since the scan.
    async fn purge_open(
        &self,
        session: Arc<AsyncMutex<Session>>,
        expiry: Duration,
    ) -> io::Result<bool> {
        let Ok(mut locked) = session.try_lock_owned() else {
            return Ok(false);
        };
        let dir = self.dir.join(locked.id.as_str());
        if locked.closed || !blocking(move || is_stale(&dir, expiry)).await? {
            return Ok(false);
        }
        self.close(&mut locked)
            .await
            .map_err(|_| io::Error::other("removing an expired upload"))?;
        Ok(true)
    }

    /// A session no request of this process touched: its directory is moved out of the way
    /// under the table's lock, so a request cannot recover it midway, then removed.
    async fn purge_untouched(&self, id: &UploadId) -> io::Result<bool> {
        let trash = self.dir.join(format!("{PURGING_PREFIX}{id}"));
        {
            let table = self.table();
            if table.contains_key(id) {
                return Ok(false);
            }
            match fs::rename(self.dir.join(id.as_str()), &trash) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        blocking(move || remove_tree(&trash)).await?;
        Ok(true)
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<UploadId, Arc<AsyncMutex<Session>>>> {
        // A panic while holding the lock cannot leave the map inconsistent (single inserts and
        // removes), so a poisoned lock is still usable.
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The entries of the uploads directory not modified for `expiry`.
fn stale_entries(dir: &Path, expiry: Duration) -> io::Result<Vec<String>> {
    let mut stale = Vec::new();
    for entry in fs::read_dir(dir)? {
        let Ok(name) = entry?.file_name().into_string() else {
            continue;
        };
        if is_stale(&dir.join(&name), expiry)? {
            stale.push(name);
        }
    }
    Ok(stale)
}

/// True if the session directory `dir` saw no activity for `expiry`: the last write to its
/// data, or, without data (a crash during start or finish), the directory's own time.
fn is_stale(dir: &Path, expiry: Duration) -> io::Result<bool> {
    let modified = match fs::metadata(dir.join("data")).or_else(|_| fs::metadata(dir)) {
        Ok(meta) => meta.modified()?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let idle = SystemTime::now()
        .duration_since(modified)
        .unwrap_or_default();
    Ok(idle > expiry)
}

fn remove_tree(path: &Path) -> io::Result<()> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Sends the body's data to the writer, refusing more (or, at the end, fewer) bytes than
/// `expected`, and more than the `room` the blob size `limit` leaves. Stops early, without
/// error, if the writer has gone (its own error is reported).
async fn feed<B>(
    body: B,
    sender: &mpsc::Sender<Bytes>,
    expected: Option<u64>,
    room: u64,
    limit: u64,
) -> ApiResult<()>
where
    B: Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    let mut body = pin!(body);
    let mut received = 0u64;
    loop {
        let frame = tokio::time::timeout(BODY_IDLE_TIMEOUT, body.frame())
            .await
            .map_err(|_| ApiError::new(Code::BlobUploadInvalid, "request body stalled"))?;
        let Some(frame) = frame else {
            break;
        };
        let frame = frame.map_err(|e| {
            ApiError::new(
                Code::BlobUploadInvalid,
                format!("reading the request body: {e}"),
            )
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        received += data.len() as u64;
        if expected.is_some_and(|expected| received > expected) {
            return Err(size_mismatch(expected, received));
        }
        if received > room {
            return Err(too_large(limit));
        }
        if sender.send(data).await.is_err() {
            return Ok(());
        }
    }
    match expected {
        Some(expected) if expected != received => Err(size_mismatch(Some(expected), received)),
        _ => Ok(()),
    }
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        Code::SizeInvalid,
        format!("blob is larger than the limit of {limit} bytes"),
    )
    .with_status(StatusCode::PAYLOAD_TOO_LARGE)
}

fn size_mismatch(expected: Option<u64>, received: u64) -> ApiError {
    ApiError::new(
        Code::SizeInvalid,
        "content does not match the declared length",
    )
    .with_detail(json!({ "expected": expected, "received_at_least": received }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{Full, StreamBody};
    use hyper::body::Frame;

    fn setup() -> (tempfile::TempDir, Storage, Uploads) {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        let uploads = Uploads::new(storage.clone(), 64);
        (dir, storage, uploads)
    }

    fn digest_of(path: &std::path::Path) -> Digest {
        Digest::of(&fs::read(path).unwrap())
    }

    fn body(bytes: &'static [u8]) -> Full<Bytes> {
        Full::new(Bytes::from_static(bytes))
    }

    #[tokio::test]
    async fn chunks_then_finish_store_a_verified_blob() {
        let (_dir, storage, uploads) = setup();
        let repo = RepoName::parse("app").unwrap();
        let mut session = uploads.start(&repo).await.unwrap();
        let id = session.id.clone();
        uploads
            .append(&mut session, body(b"hello "), Some(6))
            .await
            .unwrap();
        drop(session);
        let mut session = uploads.open(&repo, id.as_str()).await.unwrap();
        uploads
            .append(&mut session, body(b"world"), None)
            .await
            .unwrap();
        assert_eq!(session.size, 11);
        let digest = Digest::of(b"hello world");
        uploads.finish(session, &repo, &digest).await.unwrap();
        assert_eq!(storage.linked_blob_size(&repo, &digest).unwrap(), Some(11));
        assert_eq!(digest_of(&storage.blob_path(&digest)), digest);
        let err = uploads.open(&repo, id.as_str()).await.unwrap_err();
        assert_eq!(err.code(), Code::BlobUploadUnknown);
    }

    #[tokio::test]
    async fn a_failed_append_changes_nothing() {
        let (_dir, _storage, uploads) = setup();
        let repo = RepoName::parse("app").unwrap();
        let mut session = uploads.start(&repo).await.unwrap();
        uploads
            .append(&mut session, body(b"abc"), None)
            .await
            .unwrap();
        // Longer and shorter than declared.
        for (bytes, declared) in [(&b"defgh"[..], 2), (&b"de"[..], 5)] {
            let err = uploads
                .append(&mut session, Full::new(Bytes::from(bytes)), Some(declared))
                .await
                .unwrap_err();
            assert_eq!(err.code(), Code::SizeInvalid);
            assert_eq!(session.size, 3);
        }
        // A body that breaks off midway.
        let frames: Vec<Result<Frame<Bytes>, io::Error>> = vec![
            Ok(Frame::data(Bytes::from_static(b"xyz"))),
            Err(io::Error::other("connection reset")),
        ];
        let broken = StreamBody::new(futures_util::stream::iter(frames));
        let err = uploads
            .append(&mut session, broken, None)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::BlobUploadInvalid);
        assert_eq!(session.size, 3);
        // The file is back to the session's bytes too, for a restart to find.
        let data = uploads.data_path(&session.id);
        assert_eq!(fs::metadata(&data).unwrap().len(), 3);
        let digest = Digest::of(b"abc");
        uploads.finish(session, &repo, &digest).await.unwrap();
    }

    #[tokio::test]
    async fn sessions_belong_to_their_repository_and_survive_a_restart() {
        let (_dir, storage, uploads) = setup();
        let (repo, other) = (
            RepoName::parse("app").unwrap(),
            RepoName::parse("other").unwrap(),
        );
        let mut session = uploads.start(&repo).await.unwrap();
        let id = session.id.clone();
        uploads
            .append(&mut session, body(b"part"), None)
            .await
            .unwrap();
        drop(session);
        let err = uploads.open(&other, id.as_str()).await.unwrap_err();
        assert_eq!(err.code(), Code::BlobUploadUnknown);

        // A new server on the same storage resumes with the bytes and hash so far.
        let restarted = Uploads::new(storage.clone(), 64);
        let mut session = restarted.open(&repo, id.as_str()).await.unwrap();
        assert_eq!(session.size, 4);
        restarted
            .append(&mut session, body(b"s"), None)
            .await
            .unwrap();
        let wrong = Digest::of(b"nope");
        let err = restarted.finish(session, &repo, &wrong).await.unwrap_err();
        assert_eq!(err.code(), Code::DigestInvalid);
        assert!(!storage.blob_path(&wrong).exists());
        let err = restarted.open(&repo, id.as_str()).await.unwrap_err();
        assert_eq!(err.code(), Code::BlobUploadUnknown);
        assert_eq!(fs::read_dir(storage.uploads_dir()).unwrap().count(), 0);
    }

    fn age(path: &std::path::Path, by: Duration) {
        let file = File::open(path).unwrap();
        file.set_modified(SystemTime::now() - by).unwrap();
    }

    #[tokio::test]
    async fn appends_stop_at_the_blob_size_limit() {
        let (_dir, _storage, uploads) = setup();
        let repo = RepoName::parse("app").unwrap();
        let mut session = uploads.start(&repo).await.unwrap();
        uploads
            .append(&mut session, Full::new(Bytes::from(vec![1; 60])), None)
            .await
            .unwrap();
        // Declared past the limit: refused unread; streamed past it: cut off, rolled back.
        for declared in [Some(5), None] {
            let err = uploads
                .append(&mut session, body(b"12345"), declared)
                .await
                .unwrap_err();
            assert_eq!(err.code(), Code::SizeInvalid);
            assert_eq!(session.size, 60);
        }
        uploads
            .append(&mut session, body(b"1234"), Some(4))
            .await
            .unwrap();
        assert_eq!(session.size, 64);
    }

    #[tokio::test]
    async fn expired_sessions_are_purged_unless_in_use() {
        let (_dir, storage, uploads) = setup();
        let repo = RepoName::parse("app").unwrap();
        let day = Duration::from_secs(24 * 3600);
        let mut ids = Vec::new();
        for _ in 0..4 {
            let mut session = uploads.start(&repo).await.unwrap();
            uploads
                .append(&mut session, body(b"x"), None)
                .await
                .unwrap();
            ids.push(session.id.clone());
        }
        let [fresh, idle, held, unknown] = ids.try_into().unwrap();
        for id in [&idle, &held, &unknown] {
            age(&uploads.data_path(id), day * 2);
        }
        // What a crash during start leaves: a directory without data.
        let crashed = storage
            .uploads_dir()
            .join(UploadId::random().unwrap().as_str());
        fs::create_dir(&crashed).unwrap();
        age(&crashed, day * 2);
        // `unknown` was started by an earlier run: this one never touched it.
        uploads.table().remove(&unknown);
        let holding = uploads.open(&repo, held.as_str()).await.unwrap();

        assert_eq!(uploads.purge_expired(day).await.unwrap(), 3);
        assert!(!crashed.exists());
        for id in [&idle, &unknown] {
            let err = uploads.open(&repo, id.as_str()).await.unwrap_err();
            assert_eq!(err.code(), Code::BlobUploadUnknown);
            assert!(!storage.uploads_dir().join(id.as_str()).exists());
        }
        assert!(uploads.open(&repo, fresh.as_str()).await.is_ok());
        drop(holding);
        assert_eq!(uploads.purge_expired(day).await.unwrap(), 1);
        let err = uploads.open(&repo, held.as_str()).await.unwrap_err();
        assert_eq!(err.code(), Code::BlobUploadUnknown);
        let left: Vec<_> = fs::read_dir(storage.uploads_dir()).unwrap().collect();
        assert_eq!(left.len(), 1);
    }
}
