use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

const SHA256_PREFIX: &str = "sha256:";

/// A content digest, always `sha256:<64 lowercase hex digits>`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

/// The identity of a layer stacked on its parents (OCI "ChainID").
pub type ChainId = Digest;

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self::from_hasher(Sha256::new_with_prefix(bytes))
    }

    /// A digest from its 64 hex digits, e.g. the name of `blobs/sha256/<hex>`.
    pub fn from_hex(hex: &str) -> Result<Self> {
        format!("{SHA256_PREFIX}{hex}").parse()
    }

    pub fn algorithm(&self) -> &str {
        "sha256"
    }

    /// The 64 hex digits, without the algorithm.
    pub fn hex(&self) -> &str {
        &self.0[SHA256_PREFIX.len()..]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn from_hasher(hasher: Sha256) -> Self {
        Self(format!("{SHA256_PREFIX}{}", hex::encode(hasher.finalize())))
    }
}

impl FromStr for Digest {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let valid = s.strip_prefix(SHA256_PREFIX).is_some_and(|hex| {
            hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::InvalidDigest(s.to_owned()))
        }
    }
}

impl TryFrom<String> for Digest {
    type Error = Error;

    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// The OCI chain id of a layer whose uncompressed content is `diff_id`, stacked on `parent`:
/// `chain(L0) = diff(L0)`, `chain(Ln) = sha256(chain(Ln-1) + " " + diff(Ln))`.
pub fn chain_id(parent: Option<&ChainId>, diff_id: &Digest) -> ChainId {
    match parent {
        None => diff_id.clone(),
        Some(parent) => Digest::of(format!("{parent} {diff_id}").as_bytes()),
    }
}

/// Hashes and counts everything read through it.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Bytes read so far.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// Digest and length of everything read.
    pub(crate) fn finish(self) -> (Digest, u64) {
        (Digest::from_hasher(self.hasher), self.count)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Passes through a stream that must be exactly `size` bytes with digest `expected`, failing
/// the read that reaches the end (or passes `size`) otherwise.
pub(crate) struct VerifyingReader<R> {
    inner: HashingReader<R>,
    expected: Digest,
    size: u64,
}

impl<R: Read> VerifyingReader<R> {
    pub(crate) fn new(inner: R, expected: Digest, size: u64) -> Self {
        Self {
            inner: HashingReader::new(inner),
            expected,
            size,
        }
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let count = self.inner.count();
        if count > self.size {
            return Err(invalid_data(format!(
                "{} is longer than {} bytes",
                self.expected, self.size
            )));
        }
        let at_end = n == 0 && !buf.is_empty();
        if at_end && count < self.size {
            let msg = format!(
                "{} ended after {count} of {} bytes",
                self.expected, self.size
            );
            return Err(invalid_data(msg));
        }
        if at_end {
            let actual = Digest::from_hasher(self.inner.hasher.clone());
            if actual != self.expected {
                let msg = format!("content has digest {actual}, expected {}", self.expected);
                return Err(invalid_data(msg));
            }
        }
        Ok(n)
    }
}

fn invalid_data(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_only_lowercase_sha256() {
        let d: Digest = EMPTY.parse().unwrap();
        assert_eq!((d.algorithm(), d.hex().len()), ("sha256", 64));
        assert_eq!(d.to_string(), EMPTY);
        assert_eq!(Digest::of(b""), d);
        for bad in ["sha512:00", &EMPTY.to_uppercase(), &EMPTY[..70], "e3b0c442"] {
            let err = bad.parse::<Digest>().unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
        let json: Digest = serde_json::from_str(&format!("\"{EMPTY}\"")).unwrap();
        assert_eq!(json, d);
        assert!(serde_json::from_str::<Digest>("\"sha256:xyz\"").is_err());
    }

    #[test]
    fn chain_id_matches_the_oci_definition() {
        // Expected value computed independently:
        //   printf 'sha256:<a> sha256:<b>' | sha256sum
        let a = Digest::from_hex(&"a".repeat(64)).unwrap();
        let b = Digest::from_hex(&"b".repeat(64)).unwrap();
        assert_eq!(chain_id(None, &a), a);
        assert_eq!(
            chain_id(Some(&a), &b).as_str(),
            "sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c"
        );
    }

    #[test]
    fn verifying_reader_rejects_wrong_length_or_content() {
        let read_all = |data: &'static [u8], size| {
            let mut out = Vec::new();
            VerifyingReader::new(data, Digest::of(b"hello"), size).read_to_end(&mut out)
        };
        assert!(read_all(b"hello", 5).is_ok());
        assert!(read_all(b"hellO", 5).is_err());
        assert!(read_all(b"hell", 5).is_err());
        assert!(read_all(b"hello!", 5).is_err());
    }
}
