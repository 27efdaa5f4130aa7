//! Image archives made by hand, in the layouts `docker load` accepts: the legacy docker-save
//! layout (Docker before 25) and the OCI image layout.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// An image config for `layers` (uncompressed tars) with `cmd`.
pub fn image_config(layers: &[Vec<u8>], cmd: &[&str]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256(l)))
        .collect();
    let history: Vec<Value> = layers
        .iter()
        .map(|_| json!({"created": "2024-01-01T00:00:00Z", "created_by": "test"}))
        .collect();
    serde_json::to_vec(&json!({
        "architecture": crate::go_arch(),
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": cmd, "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history
    }))
    .expect("json")
}

fn add(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, path, data).expect("tar entry");
}

/// What `docker save` wrote before Docker 25: `<id>/layer.tar`, `<config hex>.json`,
/// `manifest.json` and `repositories`, with manifest.json last as Docker wrote it.
pub fn docker_save_legacy(layers: &[Vec<u8>], config: &[u8], repo_tag: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut layer_paths = Vec::new();
    for layer in layers {
        let dir = sha256(layer);
        add(&mut b, &format!("{dir}/VERSION"), b"1.0");
        add(&mut b, &format!("{dir}/layer.tar"), layer);
        layer_paths.push(format!("{dir}/layer.tar"));
    }
    let config_name = format!("{}.json", sha256(config));
    add(&mut b, &config_name, config);
    let manifest = json!([{"Config": config_name, "RepoTags": [repo_tag], "Layers": layer_paths}]);
    add(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&manifest).expect("json"),
    );
    let (repo, tag) = repo_tag.rsplit_once(':').expect("repo:tag");
    let top = sha256(layers.last().expect("a layer"));
    add(
        &mut b,
        "repositories",
        &serde_json::to_vec(&json!({repo: {tag: top}})).expect("json"),
    );
    b.into_inner().expect("tar")
}

/// An OCI image layout with one manifest named `ref_name` (e.g. `docker.io/library/x:1`).
pub fn oci_layout(layers: &[Vec<u8>], config: &[u8], ref_name: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    add(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    let mut descriptors = Vec::new();
    for layer in layers {
        add(&mut b, &format!("blobs/sha256/{}", sha256(layer)), layer);
        descriptors.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": format!("sha256:{}", sha256(layer)), "size": layer.len()}));
    }
    add(&mut b, &format!("blobs/sha256/{}", sha256(config)), config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", sha256(config)), "size": config.len()},
        "layers": descriptors
    }))
    .expect("json");
    add(
        &mut b,
        &format!("blobs/sha256/{}", sha256(&manifest)),
        &manifest,
    );
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{}", sha256(&manifest)),
            "size": manifest.len(),
            "annotations": {"io.containerd.image.name": ref_name, "org.opencontainers.image.ref.name": ref_name.rsplit_once(':').map_or("latest", |(_, t)| t)}
        }]
    });
    add(
        &mut b,
        "index.json",
        &serde_json::to_vec(&index).expect("json"),
    );
    b.into_inner().expect("tar")
}
