//! The build cache in the state database (`build_cache`): each entry is the image a step
//! produced; its layers stay in the store (garbage collection keeps them) until a prune.

use super::lease::Leases;
use crate::db::Db;
use crate::{Engine, clock};
use berth_build::{BuildCache, CacheKey, CachedStep, HostError};
use berth_image::ImageStore;
use std::collections::HashMap;
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

/// A prune filter's time in unix seconds: unix seconds, an RFC 3339 time, or a duration
/// back from now (`24h`, `90m`).
fn cutoff(values: &[String]) -> crate::Result<Option<i64>> {
    let Some(value) = values.last() else {
        return Ok(None);
    };
    if let Ok(seconds) = value.parse::<i64>() {
        return Ok(Some(seconds));
    }
    if let Some(t) = clock::parse(value) {
        return Ok(Some(clock::unix_seconds(t)));
    }
    let ago = humantime::parse_duration(value).map_err(|_| {
        crate::Error::invalid(format!(
            "invalid filter value {value:?}: not a time or duration"
        ))
    })?;
    Ok(Some(now() - ago.as_secs() as i64))
}

fn unix_time(seconds: i64) -> String {
    clock::rfc3339(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(seconds.max(0) as u64))
}

impl BuildCache for DbCache<'_> {
    fn get(&self, key: &CacheKey) -> Result<Option<CachedStep>, HostError> {
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

    fn put(&self, key: &CacheKey, step: &CachedStep) -> Result<(), HostError> {
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

    /// The bytes each cache entry accounts for: a layer only the cache keeps counts once,
    /// for the first entry that has it on top (steps that change only the config share
    /// their parent's top layer).
    fn build_cache_sizes(&self) -> crate::Result<HashMap<String, u64>> {
        let mut layers: HashMap<String, u64> = self.cache_only_layers()?.into_iter().collect();
        Ok(self
            .db
            .build_cache_entries()?
            .into_iter()
            .map(|e| {
                let size = e.layers.last().and_then(|top| layers.remove(top));
                (e.key, size.unwrap_or(0))
            })
            .collect())
    }

    /// `system df`'s BuildCache: one record per cached step, with Docker's keys.
    pub(crate) fn build_cache_usage(&self) -> crate::Result<Vec<serde_json::Value>> {
        let sizes = self.build_cache_sizes()?;
        let records = self
            .db
            .build_cache_entries()?
            .into_iter()
            .map(|entry| {
                serde_json::json!({
                    "ID": entry.key,
                    "Parents": [],
                    "Type": "regular",
                    "Description": entry.description,
                    "InUse": false,
                    "Shared": false,
                    "Size": sizes.get(&entry.key).copied().unwrap_or(0),
                    "CreatedAt": unix_time(entry.created),
                    "LastUsedAt": unix_time(entry.last_used),
                    "UsageCount": entry.uses,
                })
            })
            .collect();
        Ok(records)
    }

    /// `POST /build/prune`: forgets the cached steps the filters select (`until`: made
    /// before, `unused-for`: not used since; a time or a duration back from now; cache
    /// entries have no labels, so `label` selects none), keeping the most recently used
    /// ones within `keep_storage` bytes when it is not 0, and removes the layers only they
    /// kept. `RUN --mount=type=cache` directories no build uses go too (those changed since
    /// the cutoff stay; all stay when `keep_storage` is set or a label is asked for).
    pub async fn prune_build_cache(
        &self,
        filters: &crate::filters::Filters,
        keep_storage: u64,
    ) -> crate::Result<serde_json::Value> {
        let made_before = cutoff(filters.get("until"))?;
        let unused_since = cutoff(filters.get("unused-for"))?;
        let _guard = self.image_lock.lock().await;
        let before: u64 = self.cache_only_layers()?.iter().map(|(_, s)| s).sum();
        let sizes = self.build_cache_sizes()?;
        let no_labels = serde_json::Map::new();
        let mut entries = self.db.build_cache_entries()?;
        // Most recently used first: those are the ones `keep_storage` keeps.
        entries.reverse();
        let mut kept_bytes = 0;
        let mut deleted = Vec::new();
        for entry in entries {
            let size = sizes.get(&entry.key).copied().unwrap_or(0);
            let selected = made_before.is_none_or(|t| entry.created < t)
                && unused_since.is_none_or(|t| entry.last_used < t)
                && filters.labels_match(&no_labels);
            if !selected || (keep_storage > 0 && kept_bytes + size <= keep_storage) {
                kept_bytes += size;
                continue;
            }
            self.db.build_cache_delete(&entry.key)?;
            deleted.push(entry.key);
        }
        let after: u64 = self.cache_only_layers()?.iter().map(|(_, s)| s).sum();
        self.collect_garbage_locked()?;
        let mut reclaimed = before.saturating_sub(after);
        if keep_storage == 0 && filters.get("label").is_empty() {
            let older_than = match (made_before, unused_since) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let (mounts, root) = (
                self.build_cache_mounts.clone(),
                self.build_cache_mounts_dir(),
            );
            let (mounts, bytes) =
                tokio::task::spawn_blocking(move || mounts.prune(&root, older_than))
                    .await
                    .map_err(|e| crate::Error::internal(format!("pruning cache mounts: {e}")))?
                    .map_err(|e| crate::Error::internal(format!("pruning cache mounts: {e}")))?;
            deleted.extend(mounts);
            reclaimed += bytes;
        }
        Ok(serde_json::json!({
            "CachesDeleted": deleted,
            "SpaceReclaimed": reclaimed,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_cutoffs_are_times_or_durations_back_from_now() {
        assert_eq!(cutoff(&[]).unwrap(), None);
        assert_eq!(cutoff(&["1700000000".into()]).unwrap(), Some(1_700_000_000));
        assert_eq!(
            cutoff(&["2023-11-14T22:13:20Z".into()]).unwrap(),
            Some(1_700_000_000)
        );
        let day_ago = cutoff(&["24h".into()]).unwrap().unwrap();
        assert!((now() - 86_400 - day_ago).abs() <= 1);
        assert!(cutoff(&["yesterday-ish".into()]).is_err());
    }
}
