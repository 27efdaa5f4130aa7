//! Layers an ongoing build relies on before any image, container or cache entry records them
//! (a base image that may be untagged meanwhile, a layer just stored): garbage collection
//! keeps them until the build ends.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub(crate) struct Leases {
    next: AtomicU64,
    held: Mutex<HashMap<u64, HashSet<String>>>,
}

impl Leases {
    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<u64, HashSet<String>>> {
        // The map stays consistent whatever panicked while holding it.
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn acquire(&self) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.held().insert(id, HashSet::new());
        id
    }

    pub(crate) fn add(&self, lease: u64, chains: impl IntoIterator<Item = String>) {
        if let Some(set) = self.held().get_mut(&lease) {
            set.extend(chains);
        }
    }

    pub(crate) fn release(&self, lease: u64) {
        self.held().remove(&lease);
    }

    /// Every chain id some build holds.
    pub(crate) fn all(&self) -> HashSet<String> {
        self.held().values().flatten().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_leases_hold_nothing() {
        let leases = Leases::default();
        let a = leases.acquire();
        let b = leases.acquire();
        leases.add(a, ["x".to_string()]);
        leases.add(b, ["y".to_string()]);
        leases.release(a);
        assert_eq!(leases.all(), HashSet::from(["y".to_string()]));
    }
}
