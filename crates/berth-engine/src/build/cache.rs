//! The build cache in the state database (`build_cache`): each entry is the image a step
//! produced; its layers stay in the store (garbage collection keeps them) until a prune.

use super::lease::Leases;
use crate::db::Db;
use crate::{Engine, clock};
use berth_build::{BuildCache, CacheKey, CachedStep, HostError};
use berth_image::ImageStore;
use std::time::SystemTime;

pub(crate) struct DbCache<'e> {
    pub db: &'e Db,
    pub store: &'e ImageStore,
    pub leases: &'e Leases,
    pub lease: u64,
}

fn now() -> i64 {
    clock::unix_seconds(SystemTime::now())
}

impl BuildCache for DbCache<'_> {
    fn get(&mut self, key: &CacheKey) -> Result<Option<CachedStep>, HostError> {
        let Some(json) = self.db.build_cache_get(key.as_str(), now())? else {
            return Ok(None);
        };
        let step: Option<CachedStep> = serde_json::from_str(&json).ok();
        let complete = step.as_ref().is_some_and(|s| {
            s.layers
                .iter()
                .all(|l| matches!(self.store.layer(&l.chain_id), Ok(Some(_))))
        });
        match step {
            Some(step) if complete => {
                let chains = step.layers.iter().map(|l| l.chain_id.to_string());
                self.leases.add(self.lease, chains);
                Ok(Some(step))
            }
            // Unreadable, or a layer is gone: the entry is useless.
            _ => {
                self.db.build_cache_delete(key.as_str())?;
                Ok(None)
            }
        }
    }

    fn put(&mut self, key: &CacheKey, step: &CachedStep) -> Result<(), HostError> {
        let layers: Vec<String> = step.layers.iter().map(|l| l.chain_id.to_string()).collect();
        self.db
            .build_cache_put(key.as_str(), &serde_json::to_string(step)?, &layers, now())?;
        Ok(())
    }
}

impl Engine {
    /// Chain ids the build cache keeps, and the bytes of those no image uses.
    fn cache_only_layers(&self) -> crate::Result<Vec<(String, u64)>> {
        let mut in_images = std::collections::HashSet::new();
        for row in self.db.images()? {
            in_images.extend(row.layers);
        }
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for entry in self.db.build_cache_entries()? {
            for chain in entry.layers {
                if in_images.contains(&chain) || !seen.insert(chain.clone()) {
                    continue;
                }
                let size = chain
                    .parse()
                    .ok()
                    .and_then(|c| self.store.layer(&c).ok().flatten())
                    .map_or(0, |l| l.size);
                out.push((chain, size));
            }
        }
        Ok(out)
    }

    /// `system df`'s BuildCache: one record per cached step, with Docker's keys; the size of
    /// a step is that of its top layer when only the cache keeps it.
    pub(crate) fn build_cache_usage(&self) -> crate::Result<(Vec<serde_json::Value>, u64)> {
        let sizes: std::collections::HashMap<String, u64> =
            self.cache_only_layers()?.into_iter().collect();
        let mut total = 0;
        let mut records = Vec::new();
        for entry in self.db.build_cache_entries()? {
            let size = entry
                .layers
                .last()
                .and_then(|top| sizes.get(top))
                .copied()
                .unwrap_or(0);
            total += size;
            let last_used = clock::rfc3339(
                SystemTime::UNIX_EPOCH
                    + std::time::Duration::from_secs(entry.last_used.max(0) as u64),
            );
            records.push(serde_json::json!({
                "ID": &entry.key[..25.min(entry.key.len())],
                "Parents": [],
                "Type": "regular",
                "Description": "",
                "InUse": false,
                "Shared": false,
                "Size": size,
                "CreatedAt": last_used,
                "LastUsedAt": last_used,
                "UsageCount": 1,
            }));
        }
        Ok((records, total))
    }

    /// `POST /build/prune`: forgets every cached step and removes the layers only they kept.
    pub async fn prune_build_cache(&self) -> crate::Result<serde_json::Value> {
        let _guard = self.image_lock.lock().await;
        let reclaimed: u64 = self.cache_only_layers()?.iter().map(|(_, s)| s).sum();
        let mut deleted = Vec::new();
        for entry in self.db.build_cache_entries()? {
            self.db.build_cache_delete(&entry.key)?;
            deleted.push(entry.key);
        }
        self.collect_garbage_locked()?;
        Ok(serde_json::json!({"CachesDeleted": deleted, "SpaceReclaimed": reclaimed}))
    }
}
