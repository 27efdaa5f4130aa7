//! The layer cache: a step is reused when the image it starts from, the instruction as it was
//! expanded (with the hash of any copied content) and the resulting container config are the
//! same as in an earlier build. The engine persists entries (in its database) through
//! [`BuildCache`].

use berth_image::Layer;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::HostError;

/// What identifies a step: hex sha256, stable across berth versions unless the format changes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(String);

impl CacheKey {
    /// `parent` is the id of the image the step starts from (empty for `scratch`),
    /// `created_by` its history line, `config` the container config JSON it results in, and
    /// `extra` what else changes the result but is not in the history (a RUN's `--mount`s
    /// and `--network`; never a secret's value). An empty `extra` leaves keys as they were.
    pub(crate) fn new(parent: &str, created_by: &str, config: &str, extra: &str) -> Self {
        let mut h = Sha256::new();
        let parts = ["berth-build-cache/1", parent, created_by, config, extra];
        let used = if extra.is_empty() { 4 } else { 5 };
        for part in &parts[..used] {
            h.update(part.len().to_le_bytes());
            h.update(part.as_bytes());
        }
        Self(hex::encode(h.finalize()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The image a step produced: enough to continue a build from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedStep {
    /// The image config JSON after the step.
    pub config: String,
    /// All of the image's layers, bottom first.
    pub layers: Vec<Layer>,
}

/// Where steps are remembered between builds; used by the stages under way at once.
pub trait BuildCache: Sync {
    /// The step recorded under `key`. An entry whose layers are no longer in the store must
    /// not be returned (drop it instead).
    fn get(&self, key: &CacheKey) -> Result<Option<CachedStep>, HostError>;

    /// Records a step (replacing an older entry with the same key).
    fn put(&self, key: &CacheKey, step: &CachedStep) -> Result<(), HostError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_their_parts() {
        let a = CacheKey::new("p", "ab", "c", "");
        assert_eq!(a, CacheKey::new("p", "ab", "c", ""));
        assert_ne!(a, CacheKey::new("p", "a", "bc", ""));
        assert_ne!(a, CacheKey::new("", "ab", "c", ""));
        assert_ne!(a, CacheKey::new("p", "ab", "c", "type=cache"));
        assert_eq!(a.as_str().len(), 64);
    }
}
