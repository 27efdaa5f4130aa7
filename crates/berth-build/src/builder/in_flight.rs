//! Steps under way, by cache key: when two stages built at the same time reach the same step
//! from the same image, the second waits for the first and takes its result from the cache,
//! as it would have in a build of one stage after the other.

use std::collections::HashSet;
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::cache::CacheKey;

#[derive(Default)]
pub(super) struct InFlight {
    running: Mutex<HashSet<CacheKey>>,
    ended: Condvar,
}

/// A step this stage makes (or takes from the cache); no other stage makes it meanwhile.
pub(super) struct Claim<'a> {
    in_flight: &'a InFlight,
    key: CacheKey,
}

impl InFlight {
    fn running(&self) -> MutexGuard<'_, HashSet<CacheKey>> {
        // The set stays consistent whatever panicked while holding it.
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Claims `key`, first waiting for a stage that has it to end its step.
    pub(super) fn claim(&self, key: &CacheKey) -> Claim<'_> {
        let mut running = self.running();
        while running.contains(key) {
            running = self.ended.wait(running).unwrap_or_else(|p| p.into_inner());
        }
        running.insert(key.clone());
        Claim {
            in_flight: self,
            key: key.clone(),
        }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.in_flight.running().remove(&self.key);
        self.in_flight.ended.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn a_second_claim_waits_for_the_first_to_end() {
        let in_flight = InFlight::default();
        let key = CacheKey::new("p", "RUN x", "{}", "");
        let first_ended = AtomicBool::new(false);
        std::thread::scope(|s| {
            let claim = in_flight.claim(&key);
            s.spawn(|| {
                let _second = in_flight.claim(&key);
                assert!(first_ended.load(Ordering::SeqCst));
            });
            std::thread::sleep(std::time::Duration::from_millis(50));
            first_ended.store(true, Ordering::SeqCst);
            drop(claim);
        });
        // Another key is never held up.
        let _a = in_flight.claim(&key);
        let _b = in_flight.claim(&CacheKey::new("p", "RUN y", "{}", ""));
    }
}
