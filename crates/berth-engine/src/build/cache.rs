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

/// The history line of the step that made `config` (an image config JSON).
fn description(config: &str) -> String {
    let config: serde_json::Value = serde_json::from_str(config).unwrap_or_default();
    config["history"]
        .as_array()
        .and_then(|h| h.last())
        .and_then(|h| h["created_by"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn unix_time(seconds: i64) -> String {
    clock::rfc3339(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(seconds.max(0) as u64))
}

impl BuildCache for DbCache<'_> {
    fn get(&mut self, key: &CacheKey) -> Result<Option<CachedStep>, HostError> {
        let Some(json) = self.db.build_cache_get(key.as_str(), now())? else {
            return Ok(None);
        };
        let step: Option<CachedStep> = serde_json::from_str(&json).ok();
        if let Some(step) = &step {
            // Leased before the check, so a collection cannot take them after it.
            let chains = step.layers.iter().map(|l| l.chain_id.to_string());
            self.leases.add(self.lease, chains);
        }
        let complete = step.as_ref().is_some_and(|s| {
            s.layers
                .iter()
                .all(|l| matches!(self.store.layer(&l.chain_id), Ok(Some(_))))
        });
        if complete {
            return Ok(step);
        }
        // Unreadable, or a layer is gone: the entry is useless.
        self.db.build_cache_delete(key.as_str())?;
        Ok(None)
    }

    fn put(&mut self, key: &CacheKey, step: &CachedStep) -> Result<(), HostError> {
        let layers: Vec<String> = step.layers.iter().map(|l| l.chain_id.to_string()).collect();
        self.db.build_cache_put(
            key.as_str(),
            &serde_json::to_string(step)?,
            &layers,
            &description(&step.config),
            now(),
        )?;
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

    /// `system df`'s BuildCache: one record per cached step, with Docker's keys. A layer only
    /// the cache keeps counts once, for the first step that has it on top (steps that change
    /// only the config share their parent's top layer).
    pub(crate) fn build_cache_usage(&self) -> crate::Result<Vec<serde_json::Value>> {
        let mut sizes: std::collections::HashMap<String, u64> =
            self.cache_only_layers()?.into_iter().collect();
        let mut records = Vec::new();
        for entry in self.db.build_cache_entries()? {
            let size = entry
                .layers
                .last()
                .and_then(|top| sizes.remove(top))
                .unwrap_or(0);
            records.push(serde_json::json!({
                "ID": entry.key,
                "Parents": [],
                "Type": "regular",
                "Description": entry.description,
                "InUse": false,
                "Shared": false,
                "Size": size,
                "CreatedAt": unix_time(entry.created),
                "LastUsedAt": unix_time(entry.last_used),
                "UsageCount": entry.uses,
            }));
        }
        Ok(records)
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
