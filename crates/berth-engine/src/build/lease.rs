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

    /// A new, empty lease, released when the guard is dropped (a panicking build too).
    pub(crate) fn acquire(&self) -> Lease<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.held().insert(id, HashSet::new());
        Lease { leases: self, id }
    }

    pub(crate) fn add(&self, lease: u64, chains: impl IntoIterator<Item = String>) {
        if let Some(set) = self.held().get_mut(&lease) {
            set.extend(chains);
        }
    }

    /// Every chain id some build holds.
    pub(crate) fn all(&self) -> HashSet<String> {
        self.held().values().flatten().cloned().collect()
    }
}

pub(crate) struct Lease<'a> {
    leases: &'a Leases,
    pub id: u64,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.leases.held().remove(&self.id);
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
        leases.add(a.id, ["x".to_string()]);
        leases.add(b.id, ["y".to_string()]);
        drop(a);
        assert_eq!(leases.all(), HashSet::from(["y".to_string()]));
    }
}
