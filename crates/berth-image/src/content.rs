//! The content store: blobs named by the digest of their bytes.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::PathBuf;

use berth_fs::Dir;
use serde::de::DeserializeOwned;

use crate::digest::{Digest, HashingReader};
use crate::error::{Error, Result};
use crate::oci::JSON_LIMIT;
use crate::store::ImageStore;

const INGEST_BUFFER: usize = 64 * 1024;

/// A blob written by [`ImageStore::ingest`].
#[derive(Debug, Clone)]
pub(crate) struct Ingested {
    pub(crate) digest: Digest,
    pub(crate) size: u64,
    /// False if the store already had this blob.
    pub(crate) created: bool,
}

impl ImageStore {
    /// Streams `r` into the store and returns its digest and size. The bytes are hashed while
    /// written to `content/ingest/`, refused past `limit` bytes or if they do not match
    /// `expected`, fsynced and renamed into place. A blob that already exists is kept as is.
    pub fn put_blob(
        &self,
        r: impl Read,
        expected: Option<&Digest>,
        limit: u64,
    ) -> Result<(Digest, u64)> {
        self.ingest(r, expected, limit)
            .map(|blob| (blob.digest, blob.size))
    }

    /// Opens a blob for reading. Its content is not re-verified; use [`ImageStore::read_blob`]
    /// for small blobs that are parsed.
    pub fn open_blob(&self, d: &Digest) -> Result<File> {
        let path = self.blob_path(d);
        File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::BlobNotFound(d.clone()),
            _ => Error::fs("open", path, e),
        })
    }

    /// Reads a whole blob of at most `limit` bytes and checks that it still hashes to `d`.
    pub fn read_blob(&self, d: &Digest, limit: u64) -> Result<Vec<u8>> {
        let file = self.open_blob(d)?;
        let mut bytes = Vec::new();
        file.take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| Error::fs("read", self.blob_path(d), e))?;
        if bytes.len() as u64 > limit {
            return Err(Error::TooLarge {
                what: format!("blob {d}"),
                limit,
            });
        }
        let actual = Digest::of(&bytes);
        if actual != *d {
            let what = format!("blob file {}", self.blob_path(d).display());
            return Err(Error::DigestMismatch {
                what,
                expected: d.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    pub fn has_blob(&self, d: &Digest) -> bool {
        self.blob_path(d).is_file()
    }

    pub fn remove_blob(&self, d: &Digest) -> Result<()> {
        let path = self.blob_path(d);
        fs::remove_file(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::BlobNotFound(d.clone()),
            _ => Error::fs("remove", path, e),
        })
    }

    /// Every blob in the store, sorted.
    pub fn list_blobs(&self) -> Result<Vec<Digest>> {
        let dir = &self.blobs_dir;
        let mut blobs = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| Error::fs("read", dir, e))? {
            let name = entry.map_err(|e| Error::fs("read", dir, e))?.file_name();
            if let Some(digest) = name.to_str().and_then(|hex| Digest::from_hex(hex).ok()) {
                blobs.push(digest);
            }
        }
        blobs.sort();
        Ok(blobs)
    }

    /// [`ImageStore::put_blob`], also telling whether the blob is new.
    pub(crate) fn ingest(
        &self,
        r: impl Read,
        expected: Option<&Digest>,
        limit: u64,
    ) -> Result<Ingested> {
        let mut temp = tempfile::Builder::new()
            .prefix("blob-")
            .tempfile_in(&self.ingest_dir)
            .map_err(|e| Error::fs("create temp file in", &self.ingest_dir, e))?;
        let mut reader = HashingReader::new(r.take(limit.saturating_add(1)));
        let mut buffer = vec![0; INGEST_BUFFER];
        loop {
            let n = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("reading blob content", e)),
            };
            temp.write_all(&buffer[..n])
                .map_err(|e| Error::fs("write", temp.path(), e))?;
        }
        let (digest, size) = reader.finish();
        if size > limit {
            let what = expected.map_or_else(|| "blob".to_owned(), |d| format!("blob {d}"));
            return Err(Error::TooLarge { what, limit });
        }
        if let Some(expected) = expected.filter(|e| **e != digest) {
            let what = "ingested blob".to_owned();
            return Err(Error::DigestMismatch {
                what,
                expected: expected.clone(),
                actual: digest,
            });
        }
        let path = self.blob_path(&digest);
        if path.is_file() {
            return Ok(Ingested {
                digest,
                size,
                created: false,
            });
        }
        temp.as_file()
            .sync_all()
            .map_err(|e| Error::fs("fsync", temp.path(), e))?;
        match temp.persist_noclobber(&path) {
            Ok(_) => {}
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
                return Ok(Ingested {
                    digest,
                    size,
                    created: false,
                });
            }
            Err(e) => return Err(Error::fs("rename into", path, e.error)),
        }
        Dir::open(&self.blobs_dir)?.sync()?;
        Ok(Ingested {
            digest,
            size,
            created: true,
        })
    }

    /// Reads and parses a JSON blob of at most [`JSON_LIMIT`] bytes; `what` names it in errors.
    pub(crate) fn read_json<T: DeserializeOwned>(&self, d: &Digest, what: &str) -> Result<T> {
        let bytes = self.read_blob(d, JSON_LIMIT)?;
        serde_json::from_slice(&bytes).map_err(|e| Error::json(format!("{what} ({d})"), e))
    }

    pub(crate) fn blob_path(&self, d: &Digest) -> PathBuf {
        self.blobs_dir.join(d.hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, ImageStore) {
        let tmp = tempfile::tempdir().unwrap();
        let store = ImageStore::open(tmp.path()).unwrap();
        (tmp, store)
    }

    fn ingest_is_empty(store: &ImageStore) -> bool {
        fs::read_dir(&store.ingest_dir).unwrap().next().is_none()
    }

    #[test]
    fn put_verifies_and_is_idempotent() {
        let (_tmp, store) = store();
        let expected = Digest::of(b"hello");
        let (digest, size) = store.put_blob(&b"hello"[..], Some(&expected), 5).unwrap();
        assert_eq!((digest.clone(), size), (expected.clone(), 5));
        assert!(store.has_blob(&digest));
        assert_eq!(store.read_blob(&digest, 5).unwrap(), b"hello");
        let again = store.ingest(&b"hello"[..], None, 100).unwrap();
        assert!(!again.created);
        assert_eq!(store.list_blobs().unwrap(), vec![digest.clone()]);
        store.remove_blob(&digest).unwrap();
        assert!(store.remove_blob(&digest).unwrap_err().is_not_found());
        assert!(ingest_is_empty(&store));
    }

    #[test]
    fn refuses_wrong_digest_and_oversize_leaving_nothing() {
        let (_tmp, store) = store();
        let wrong = Digest::of(b"other");
        let err = store
            .put_blob(&b"hello"[..], Some(&wrong), 100)
            .unwrap_err();
        assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
        assert!(err.to_string().contains(wrong.as_str()), "{err}");
        let err = store.put_blob(&b"hello"[..], None, 4).unwrap_err();
        assert!(matches!(err, Error::TooLarge { limit: 4, .. }), "{err}");
        assert!(store.list_blobs().unwrap().is_empty());
        assert!(ingest_is_empty(&store));
    }

    #[test]
    fn read_blob_bounds_size_and_detects_corruption() {
        let (_tmp, store) = store();
        let (digest, _) = store.put_blob(&b"{\"a\":1}"[..], None, 100).unwrap();
        assert!(matches!(
            store.read_blob(&digest, 3),
            Err(Error::TooLarge { .. })
        ));
        fs::write(store.blob_path(&digest), b"{\"a\":2}").unwrap();
        let err = store.read_blob(&digest, 100).unwrap_err();
        assert!(err.to_string().contains(digest.hex()), "{err}");
        let missing = Digest::of(b"missing");
        assert!(matches!(store.open_blob(&missing), Err(Error::BlobNotFound(d)) if d == missing));
    }
}
