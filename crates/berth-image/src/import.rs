//! `docker import`: a rootfs tar becomes a one-layer image.

use std::io::Read;
use std::time::SystemTime;

use serde::Serialize;

use crate::compression;
use crate::error::{Error, Result};
use crate::load::LoadedImage;
use crate::oci::{JSON_LIMIT, Rootfs};
use crate::platform;
use crate::rollback::Rollback;
use crate::store::ImageStore;

/// The image config `docker import` writes. Fields in alphabetical order so the bytes, and with
/// them the image id, do not depend on how serde_json orders maps.
#[derive(Serialize)]
struct ImportedConfig<'a> {
    architecture: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    comment: &'a str,
    config: &'a serde_json::Value,
    created: &'a str,
    history: [History<'a>; 1],
    os: &'static str,
    rootfs: Rootfs,
}

/// Docker records an import with its time and message only (no `created_by`).
#[derive(Serialize)]
struct History<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    comment: &'a str,
    created: &'a str,
}

impl ImageStore {
    /// Imports a rootfs tar (plain, gzip or zstd) as a one-layer image whose container config is
    /// `config` (Docker's `Config` object: `Cmd`, `Env`, ...). The same input, config, time and
    /// comment always give the same image id. Nothing is left behind on error.
    pub fn import(
        &self,
        r: impl Read,
        config: serde_json::Value,
        created: SystemTime,
        comment: &str,
    ) -> Result<LoadedImage> {
        let mut rollback = Rollback::new(self);
        let (_, tar) = compression::decompress(r, "imported rootfs")?;
        let blob = self.ingest(tar, None, u64::MAX)?;
        rollback.blob(&blob.digest, blob.created);
        // The blob is the uncompressed tar, so its digest is the layer's diff id.
        let (layer, layer_created) =
            self.apply_layer_tracked(None, &blob.digest, Some(&blob.digest))?;
        rollback.layer(&layer.chain_id, layer_created);

        let created = rfc3339(created);
        let image_config = ImportedConfig {
            architecture: platform::architecture(),
            comment,
            config: &config,
            created: &created,
            history: [History {
                comment,
                created: &created,
            }],
            os: platform::OS,
            rootfs: Rootfs {
                kind: "layers".to_owned(),
                diff_ids: vec![layer.diff_id.clone()],
            },
        };
        let config_json = serde_json::to_vec(&image_config)
            .map_err(|e| Error::json("imported image config", e))?;
        let stored = self.ingest(&config_json[..], None, JSON_LIMIT)?;
        rollback.blob(&stored.digest, stored.created);
        rollback.commit(|_| true);
        Ok(LoadedImage {
            id: stored.digest,
            config: config_json,
            layers: vec![layer],
            repo_tags: Vec::new(),
        })
    }
}

/// RFC 3339 in UTC with as many fraction digits as needed, like Go's `time.RFC3339Nano`.
fn rfc3339(time: SystemTime) -> String {
    let full = humantime::format_rfc3339_nanos(time).to_string();
    let (seconds, fraction) = full
        .trim_end_matches('Z')
        .split_once('.')
        .unwrap_or((&full, ""));
    match fraction.trim_end_matches('0') {
        "" => format!("{}Z", seconds.trim_end_matches('Z')),
        digits => format!("{seconds}.{digits}Z"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn formats_times_like_go() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_689_600);
        assert_eq!(rfc3339(t), "2025-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(t + Duration::from_millis(500)),
            "2025-01-01T00:00:00.5Z"
        );
        assert_eq!(
            rfc3339(t + Duration::from_nanos(1)),
            "2025-01-01T00:00:00.000000001Z"
        );
    }
}

#[cfg(test)]
mod store_tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;
    use crate::test_support::{gzip, layer_diff, root_or_skip, store, store_contents};
    use crate::{Digest, hello_world_config, hello_world_created, hello_world_rootfs};

    #[test]
    fn hello_world_imports_to_the_same_image_every_time() {
        if !root_or_skip() {
            return;
        }
        let import = |rootfs: Vec<u8>| {
            let (tmp, store) = store();
            let image = store
                .import(&rootfs[..], hello_world_config(), hello_world_created(), "")
                .unwrap();
            (tmp, image)
        };
        let (tmp, first) = import(hello_world_rootfs());
        let (_tmp2, second) = import(gzip(&hello_world_rootfs()));
        assert_eq!(first.id, second.id);
        assert_eq!(first.id, Digest::of(&first.config));

        let config: serde_json::Value = serde_json::from_slice(&first.config).unwrap();
        assert_eq!(config["architecture"], platform::architecture());
        assert_eq!(config["os"], "linux");
        assert_eq!(config["created"], "2025-01-01T00:00:00Z");
        assert_eq!(config["config"], hello_world_config());
        assert_eq!(config["rootfs"]["type"], "layers");
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            Digest::of(&hello_world_rootfs()).as_str()
        );
        assert_eq!(config["history"][0]["created"], "2025-01-01T00:00:00Z");

        let hello = layer_diff(tmp.path(), &first.layers[0].chain_id).join("hello");
        assert_eq!(std::fs::metadata(hello).unwrap().mode() & 0o7777, 0o755);
    }

    #[test]
    fn a_failed_import_leaves_nothing() {
        let (tmp, store) = store();
        let not_a_tar = b"definitely not a tar archive, though long enough to look at".repeat(20);
        assert!(
            store
                .import(
                    &not_a_tar[..],
                    serde_json::json!({}),
                    SystemTime::UNIX_EPOCH,
                    "x"
                )
                .is_err()
        );
        assert_eq!(store_contents(tmp.path()), (vec![], vec![]));
    }
}
