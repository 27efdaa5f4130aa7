//! The registry's files. Blobs (layers, configs and manifests alike) are stored once, by
//! digest, and shared; a repository sees only those linked to it.
//!
//! ```text
//! <root>/blobs/sha256/<hex>                                  content, verified before it lands
//! <root>/gc.lock                                             see [`Storage::lock_for_write`]
//! <root>/uploads/<uuid>/{data,repository}                    upload sessions (see uploads.rs)
//! <root>/repositories/<name>/_layers/sha256/<hex>            blob linked to the repository
//! <root>/repositories/<name>/_manifests/revisions/sha256/<hex>   manifest; holds its media type
//! <root>/repositories/<name>/_manifests/tags/<tag>           holds the digest it points to
//! <root>/repositories/<name>/_referrers/<subject hex>/<hex>  manifest whose subject is <subject>
//! ```
//!
//! Every path is built from a validated [`RepoName`], [`Tag`] or digest (repository name
//! components never start with `_`, so they cannot collide with the `_` directories). Every file
//! is written atomically (temp file, fsync, rename, fsync of the directory), and operations are
//! ordered so that a crash leaves at most an orphan, never a link to nothing. It is all
//! synchronous: request handlers call it through [`blocking`].

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use berth_image::Digest;

use crate::server::names::{RepoName, Tag};

/// Directory names inside a repository; components of a repository name never start with `_`.
const LAYERS: &str = "_layers";
const MANIFESTS: &str = "_manifests";
const REFERRERS: &str = "_referrers";
/// Locked shared by requests that make content live, exclusively by garbage collection.
const LOCK_FILE: &str = "gc.lock";

/// A stored manifest: its media type (as it was pushed) and its bytes.
#[derive(Debug)]
pub(crate) struct StoredManifest {
    pub(crate) media_type: String,
    pub(crate) bytes: Vec<u8>,
}

/// The registry's storage root.
#[derive(Debug, Clone)]
pub(crate) struct Storage {
    root: PathBuf,
}

/// A lock on the storage root (an `flock` of `gc.lock`), released on drop. It works across
/// processes, so `berth registry gc` can run beside a serving registry.
#[derive(Debug)]
pub(crate) struct StorageLock {
    _file: File,
}

impl Storage {
    /// Opens (creating if needed) the storage under `root`.
    pub(crate) fn open(root: &Path) -> io::Result<Self> {
        let storage = Self {
            root: root.to_owned(),
        };
        for dir in [
            storage.root.join("blobs/sha256"),
            storage.uploads_dir(),
            storage.root.join("repositories"),
        ] {
            fs::create_dir_all(dir)?;
        }
        Ok(storage)
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn uploads_dir(&self) -> PathBuf {
        self.root.join("uploads")
    }

    pub(crate) fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs/sha256")
    }

    pub(crate) fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blobs_dir().join(digest.hex())
    }

    /// Taken (shared, so requests do not wait for each other) around every step that makes a
    /// blob live: committing an upload, mounting, storing a manifest. Such a step also touches
    /// the blobs it relies on ([`Self::touch_blob`]), so the garbage collector, which sweeps
    /// under the exclusive lock and spares blobs modified since it started, never deletes them.
    pub(crate) fn lock_for_write(&self) -> io::Result<StorageLock> {
        let file = self.lock_file()?;
        file.lock_shared()?;
        Ok(StorageLock { _file: file })
    }

    /// The garbage collector's sweep lock: no request makes a blob live while it is held.
    pub(crate) fn lock_for_sweep(&self) -> io::Result<StorageLock> {
        let file = self.lock_file()?;
        file.lock()?;
        Ok(StorageLock { _file: file })
    }

    fn lock_file(&self) -> io::Result<File> {
        File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.root.join(LOCK_FILE))
    }

    /// Sets a blob's modification time to now: the garbage collector spares it. False if the
    /// blob is not stored.
    pub(crate) fn touch_blob(&self, digest: &Digest) -> io::Result<bool> {
        touch(&self.blob_path(digest))
    }

    fn repository(&self, name: &RepoName) -> PathBuf {
        self.root.join("repositories").join(name.as_str())
    }

    fn layer_link(&self, name: &RepoName, digest: &Digest) -> PathBuf {
        self.repository(name)
            .join(LAYERS)
            .join("sha256")
            .join(digest.hex())
    }

    fn revision(&self, name: &RepoName, digest: &Digest) -> PathBuf {
        self.repository(name)
            .join(MANIFESTS)
            .join("revisions/sha256")
            .join(digest.hex())
    }

    fn tags_dir(&self, name: &RepoName) -> PathBuf {
        self.repository(name).join(MANIFESTS).join("tags")
    }

    fn referrers_dir(&self, name: &RepoName, subject: &Digest) -> PathBuf {
        self.repository(name).join(REFERRERS).join(subject.hex())
    }

    /// True once anything (a blob or a manifest) was pushed to the repository.
    pub(crate) fn repository_exists(&self, name: &RepoName) -> bool {
        let repository = self.repository(name);
        repository.join(LAYERS).is_dir() || repository.join(MANIFESTS).is_dir()
    }

    /// The size of a blob linked to `name`; `None` if it is not linked (or not stored).
    pub(crate) fn linked_blob_size(
        &self,
        name: &RepoName,
        digest: &Digest,
    ) -> io::Result<Option<u64>> {
        if !fs::exists(self.layer_link(name, digest))? {
            return Ok(None);
        }
        size_of(&self.blob_path(digest))
    }

    pub(crate) fn link_blob(&self, name: &RepoName, digest: &Digest) -> io::Result<()> {
        write_new(&self.layer_link(name, digest), b"")
    }

    /// Removes the link; the content stays for other repositories. False if there was none.
    pub(crate) fn unlink_blob(&self, name: &RepoName, digest: &Digest) -> io::Result<bool> {
        remove(&self.layer_link(name, digest))
    }

    /// Moves a verified file (an upload's data, on the same file system) into the blob store,
    /// touched (the caller holds [`Self::lock_for_write`]). A blob already stored has the same
    /// content, so the file is then simply dropped.
    pub(crate) fn commit_blob(&self, file: &Path, digest: &Digest) -> io::Result<()> {
        if self.touch_blob(digest)? {
            return fs::remove_file(file);
        }
        let target = self.blob_path(digest);
        let data = File::open(file)?;
        data.set_modified(SystemTime::now())?;
        data.sync_all()?;
        fs::rename(file, &target)?;
        sync_dir(target.parent().unwrap_or(&self.root))
    }

    /// Stores a manifest in `name`: blob first (touched, see [`Self::lock_for_write`]), then its
    /// revision link, then its referrer link, then the tag — each step only adds to what the
    /// previous made visible.
    pub(crate) fn put_manifest(
        &self,
        name: &RepoName,
        digest: &Digest,
        manifest: &StoredManifest,
        subject: Option<&Digest>,
        tag: Option<&Tag>,
    ) -> io::Result<()> {
        if !self.touch_blob(digest)? {
            // A new file's time comes from the kernel's coarse clock; touching sets it exactly.
            let blob = self.blob_path(digest);
            berth_fs::atomic_write(&blob, &manifest.bytes).map_err(io::Error::other)?;
            touch(&blob)?;
        }
        write(&self.revision(name, digest), manifest.media_type.as_bytes())?;
        if let Some(subject) = subject {
            write_new(&self.referrers_dir(name, subject).join(digest.hex()), b"")?;
        }
        if let Some(tag) = tag {
            write(
                &self.tags_dir(name).join(tag.as_str()),
                digest.as_str().as_bytes(),
            )?;
        }
        Ok(())
    }

    /// The media type and size of a manifest of `name`, without reading it.
    pub(crate) fn manifest_info(
        &self,
        name: &RepoName,
        digest: &Digest,
    ) -> io::Result<Option<(String, u64)>> {
        let Some(media_type) = read_small(&self.revision(name, digest))? else {
            return Ok(None);
        };
        Ok(size_of(&self.blob_path(digest))?.map(|size| (media_type, size)))
    }

    /// A manifest of `name`, at most `limit` bytes (larger ones are never stored).
    pub(crate) fn manifest(
        &self,
        name: &RepoName,
        digest: &Digest,
        limit: u64,
    ) -> io::Result<Option<StoredManifest>> {
        let Some(media_type) = read_small(&self.revision(name, digest))? else {
            return Ok(None);
        };
        let file = match File::open(self.blob_path(digest)) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut bytes = Vec::new();
        file.take(limit + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > limit {
            return Err(io::Error::other(format!(
                "manifest {digest} is over {limit} bytes"
            )));
        }
        Ok(Some(StoredManifest { media_type, bytes }))
    }

    /// Deletes a manifest from `name`: the tags that point to it, its referrer link, then the
    /// revision itself. False if `name` has no such manifest.
    pub(crate) fn delete_manifest(
        &self,
        name: &RepoName,
        digest: &Digest,
        subject: Option<&Digest>,
    ) -> io::Result<bool> {
        let revision = self.revision(name, digest);
        if !revision.try_exists()? {
            return Ok(false);
        }
        for tag in self.tags(name)?.unwrap_or_default() {
            let path = self.tags_dir(name).join(&tag);
            if read_small(&path)?.as_deref() == Some(digest.as_str()) {
                remove(&path)?;
            }
        }
        if let Some(subject) = subject {
            let dir = self.referrers_dir(name, subject);
            remove(&dir.join(digest.hex()))?;
            // Only succeeds once no other referrer is left.
            let _ = fs::remove_dir(dir);
        }
        remove(&revision)
    }

    pub(crate) fn resolve_tag(&self, name: &RepoName, tag: &Tag) -> io::Result<Option<Digest>> {
        let Some(digest) = read_small(&self.tags_dir(name).join(tag.as_str()))? else {
            return Ok(None);
        };
        digest
            .parse()
            .map(Some)
            .map_err(|_| io::Error::other(format!("tag {tag} of {name} holds no digest")))
    }

    /// Removes a tag (not the manifest). False if there was none.
    pub(crate) fn delete_tag(&self, name: &RepoName, tag: &Tag) -> io::Result<bool> {
        remove(&self.tags_dir(name).join(tag.as_str()))
    }

    /// The tags of `name`, sorted; `None` if the repository does not exist.
    pub(crate) fn tags(&self, name: &RepoName) -> io::Result<Option<Vec<String>>> {
        if !self.repository_exists(name) {
            return Ok(None);
        }
        let mut tags = list_dir(&self.tags_dir(name))?;
        // Temp files of an atomic write start with `.`, which no tag does.
        tags.retain(|tag| Tag::parse(tag).is_ok());
        tags.sort();
        Ok(Some(tags))
    }

    /// Every repository, sorted.
    pub(crate) fn repositories(&self) -> io::Result<Vec<String>> {
        let mut found = Vec::new();
        let mut pending = vec![String::new()];
        while let Some(prefix) = pending.pop() {
            let dir = self.root.join("repositories").join(&prefix);
            for entry in list_dir(&dir)? {
                if entry.starts_with('_') {
                    continue;
                }
                let name = if prefix.is_empty() {
                    entry
                } else {
                    format!("{prefix}/{entry}")
                };
                match RepoName::parse(&name) {
                    Ok(repository) if self.repository_exists(&repository) => {
                        found.push(name.clone());
                    }
                    Ok(_) => {}
                    Err(_) => continue,
                }
                pending.push(name);
            }
        }
        found.sort();
        Ok(found)
    }

    /// The digests of the manifests stored in `name`.
    pub(crate) fn revisions(&self, name: &RepoName) -> io::Result<Vec<Digest>> {
        let dir = self
            .repository(name)
            .join(MANIFESTS)
            .join("revisions/sha256");
        Ok(digests_in(&dir)?.collect())
    }

    /// The digests of the blobs linked to `name`.
    pub(crate) fn linked_blobs(&self, name: &RepoName) -> io::Result<Vec<Digest>> {
        let dir = self.repository(name).join(LAYERS).join("sha256");
        Ok(digests_in(&dir)?.collect())
    }

    /// Every stored blob, and the other files of the blob directory (temp files of writes that
    /// were cut short).
    pub(crate) fn blobs(&self) -> io::Result<(Vec<Digest>, Vec<String>)> {
        let mut blobs = Vec::new();
        let mut others = Vec::new();
        for entry in list_dir(&self.blobs_dir())? {
            match Digest::from_hex(&entry) {
                Ok(digest) => blobs.push(digest),
                Err(_) => others.push(entry),
            }
        }
        Ok((blobs, others))
    }

    /// Deletes a blob's content (the garbage collector does, under [`Self::lock_for_sweep`]).
    pub(crate) fn delete_blob(&self, digest: &Digest) -> io::Result<bool> {
        remove(&self.blob_path(digest))
    }

    /// The manifests of `name` whose subject is `subject`, sorted by digest.
    pub(crate) fn referrers(&self, name: &RepoName, subject: &Digest) -> io::Result<Vec<Digest>> {
        let mut referrers = Vec::new();
        for digest in digests_in(&self.referrers_dir(name, subject))? {
            if fs::exists(self.revision(name, &digest))? {
                referrers.push(digest);
            }
        }
        referrers.sort();
        Ok(referrers)
    }
}

/// Runs storage work (all of it is blocking file I/O) on tokio's blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(io::Error::other)?
}

fn touch(path: &Path) -> io::Result<bool> {
    match File::open(path) {
        Ok(file) => file.set_modified(SystemTime::now()).map(|()| true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// The digests named by the entries of `dir` (others, such as temp files, are skipped).
fn digests_in(dir: &Path) -> io::Result<impl Iterator<Item = Digest>> {
    Ok(list_dir(dir)?
        .into_iter()
        .filter_map(|entry| Digest::from_hex(&entry).ok()))
}

fn size_of(path: &Path) -> io::Result<Option<u64>> {
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// A small metadata file (a link's media type or digest) as text; `None` if absent.
fn read_small(path: &Path) -> io::Result<Option<String>> {
    const LIMIT: u64 = 4096;
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut text = String::new();
    file.take(LIMIT).read_to_string(&mut text)?;
    Ok(Some(text))
}

/// Replaces `path` atomically, creating its directory.
fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    berth_fs::atomic_write(path, bytes).map_err(io::Error::other)
}

/// Writes `path` atomically unless it exists (links never change once made).
fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if path.try_exists()? {
        return Ok(());
    }
    write(path, bytes)
}

fn remove(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => {
            sync_dir(path.parent().unwrap_or(path))?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The names in a directory; an absent directory is empty.
fn list_dir(dir: &Path) -> io::Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut names = Vec::new();
    for entry in entries {
        if let Ok(name) = entry?.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> RepoName {
        RepoName::parse(s).unwrap()
    }

    fn manifest(bytes: &[u8]) -> (Digest, StoredManifest) {
        let stored = StoredManifest {
            media_type: "application/vnd.oci.image.manifest.v1+json".to_owned(),
            bytes: bytes.to_vec(),
        };
        (Digest::of(bytes), stored)
    }

    #[test]
    fn blobs_are_shared_but_linked_per_repository() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        let (a, b) = (name("a"), name("b"));
        let digest = Digest::of(b"layer");
        let upload = dir.path().join("uploads/x");
        fs::write(&upload, b"layer").unwrap();
        storage.commit_blob(&upload, &digest).unwrap();
        assert!(!upload.exists());
        storage.link_blob(&a, &digest).unwrap();
        assert_eq!(storage.linked_blob_size(&a, &digest).unwrap(), Some(5));
        assert_eq!(storage.linked_blob_size(&b, &digest).unwrap(), None);
        assert!(storage.repository_exists(&a) && !storage.repository_exists(&b));

        // The same content again is dropped, not renamed over the stored blob.
        fs::write(&upload, b"layer").unwrap();
        storage.commit_blob(&upload, &digest).unwrap();
        assert!(!upload.exists());

        assert!(storage.unlink_blob(&a, &digest).unwrap());
        assert!(!storage.unlink_blob(&a, &digest).unwrap());
        assert_eq!(storage.linked_blob_size(&a, &digest).unwrap(), None);
        assert!(storage.blob_path(&digest).exists());
    }

    #[test]
    fn manifests_tags_and_referrers() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        let repo = name("library/app");
        let (subject, image) = manifest(b"{\"image\":1}");
        let (referrer, signature) = manifest(b"{\"signature\":1}");
        let latest = Tag::parse("latest").unwrap();
        let v1 = Tag::parse("v1").unwrap();
        storage
            .put_manifest(&repo, &subject, &image, None, Some(&latest))
            .unwrap();
        storage
            .put_manifest(&repo, &subject, &image, None, Some(&v1))
            .unwrap();
        storage
            .put_manifest(&repo, &referrer, &signature, Some(&subject), None)
            .unwrap();
        assert_eq!(
            storage.resolve_tag(&repo, &latest).unwrap(),
            Some(subject.clone())
        );
        assert_eq!(storage.tags(&repo).unwrap().unwrap(), ["latest", "v1"]);
        assert_eq!(storage.tags(&name("other")).unwrap(), None);
        assert_eq!(
            storage.referrers(&repo, &subject).unwrap(),
            std::slice::from_ref(&referrer)
        );
        let stored = storage.manifest(&repo, &subject, 1 << 20).unwrap().unwrap();
        assert_eq!(stored.bytes, image.bytes);
        assert_eq!(
            storage.manifest_info(&repo, &subject).unwrap().unwrap().1,
            image.bytes.len() as u64
        );
        assert!(storage.manifest(&repo, &subject, 3).is_err());
        assert_eq!(storage.repositories().unwrap(), ["library/app"]);

        assert!(storage.delete_tag(&repo, &v1).unwrap());
        assert!(!storage.delete_tag(&repo, &v1).unwrap());
        assert!(
            storage
                .delete_manifest(&repo, &referrer, Some(&subject))
                .unwrap()
        );
        assert!(storage.referrers(&repo, &subject).unwrap().is_empty());
        assert!(storage.delete_manifest(&repo, &subject, None).unwrap());
        assert!(!storage.delete_manifest(&repo, &subject, None).unwrap());
        assert_eq!(storage.resolve_tag(&repo, &latest).unwrap(), None);
        assert!(
            storage
                .manifest(&repo, &subject, 1 << 20)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn catalog_walks_nested_repositories() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        let digest = Digest::of(b"x");
        for repo in ["b", "a/c", "a", "a/b/c"] {
            storage.link_blob(&name(repo), &digest).unwrap();
        }
        // A directory that is no repository of its own ("a/b") is not listed.
        assert_eq!(storage.repositories().unwrap(), ["a", "a/b/c", "a/c", "b"]);
    }
}
