//! Garbage collection against a serving registry: exactly the unreferenced blobs go, a dry run
//! deletes nothing, young blobs are spared, and a blob made live while a collection runs
//! survives it.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, SystemTime};

use berth_image::Digest;
use berth_registry::{GcOptions, GcReport, collect_garbage};
use serde_json::{Value, json};

use crate::support::*;

const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// Makes every stored blob look two hours old, as if pushed long before the collection.
fn age_blobs(storage: &Path) {
    let then = SystemTime::now() - Duration::from_secs(2 * 3600);
    for entry in fs::read_dir(storage.join("blobs/sha256")).unwrap() {
        let file = fs::File::open(entry.unwrap().path()).unwrap();
        file.set_modified(then).unwrap();
    }
}

fn stored_blobs(storage: &Path) -> BTreeSet<String> {
    fs::read_dir(storage.join("blobs/sha256"))
        .unwrap()
        .map(|entry| format!("sha256:{}", entry.unwrap().file_name().to_str().unwrap()))
        .collect()
}

fn gc(storage: &Path, dry_run: bool, grace_period: Duration) -> GcReport {
    let options = GcOptions {
        dry_run,
        grace_period,
    };
    collect_garbage(storage, &options, &mut |line| eprintln!("{line}")).unwrap()
}

fn deleted(report: &GcReport) -> BTreeSet<String> {
    report.deleted.iter().map(|b| b.digest.clone()).collect()
}

fn digest_of(descriptor: &Value) -> String {
    descriptor["digest"].as_str().unwrap().to_owned()
}

/// Pushes an image manifest over `config` and `layers` (pushed to `repository` first) under
/// `reference`; returns its bytes.
fn push_image(http: &Http, repository: &str, reference: &str, blobs: &[&[u8]]) -> Vec<u8> {
    let config = http.push_blob(repository, blobs[0], CONFIG);
    let layers: Vec<Value> = blobs[1..]
        .iter()
        .map(|blob| http.push_blob(repository, blob, LAYER))
        .collect();
    let manifest = image_manifest(OCI_MANIFEST, &config, &layers);
    let reply = http.put_manifest(repository, reference, OCI_MANIFEST, &manifest);
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    manifest
}

#[test]
fn gc_deletes_exactly_the_unreferenced_blobs() {
    let server = TestServer::start();
    let http = server.http();
    let storage = server.storage();
    let shared: &[u8] = b"base layer shared by every image";

    // app: an image, a referrer (signature) of it with its own config blob, a blob never
    // referenced, and an image whose manifest is deleted.
    let image = push_image(&http, "app", "v1", &[b"config v1", shared, b"layer v1"]);
    let signature_config = http.push_blob("app", b"signature config", CONFIG);
    let mut signature: Value =
        serde_json::from_slice(&image_manifest(OCI_MANIFEST, &signature_config, &[])).unwrap();
    signature["subject"] = descriptor(OCI_MANIFEST, &image);
    let signature = serde_json::to_vec(&signature).unwrap();
    let reply = http.put_manifest("app", "sig", OCI_MANIFEST, &signature);
    assert_eq!(reply.status, 201);
    let orphan = http.push_blob("app", b"never referenced", LAYER);
    let old = push_image(&http, "app", "old", &[b"config old", shared, b"layer old"]);
    let reply = http.delete(&format!("/v2/app/manifests/{}", Digest::of(&old)));
    assert_eq!(reply.status, 202);

    // multi: two images (one sharing the base layer) only referenced by an index.
    let amd64 = push_image(
        &http,
        "multi",
        "amd64",
        &[b"config amd64", shared, b"amd64"],
    );
    let arm64 = push_image(&http, "multi", "arm64", &[b"config arm64", b"arm64"]);
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [descriptor(OCI_MANIFEST, &amd64), descriptor(OCI_MANIFEST, &arm64)],
    }))
    .unwrap();
    assert_eq!(
        http.put_manifest("multi", "latest", OCI_INDEX, &index)
            .status,
        201
    );
    for tag in ["amd64", "arm64"] {
        assert_eq!(
            http.delete(&format!("/v2/multi/manifests/{tag}")).status,
            202
        );
    }

    let garbage: BTreeSet<String> = [
        digest_of(&orphan),
        Digest::of(b"config old").to_string(),
        Digest::of(b"layer old").to_string(),
        Digest::of(&old).to_string(),
    ]
    .into();
    let before = stored_blobs(&storage);
    assert!(garbage.is_subset(&before));

    // Young blobs are spared: a push may be under way.
    let report = gc(&storage, false, GcOptions::DEFAULT_GRACE_PERIOD);
    assert!(report.deleted.is_empty(), "{report:?}");
    assert_eq!(report.spared, garbage.len());

    age_blobs(&storage);
    let report = gc(&storage, true, GcOptions::DEFAULT_GRACE_PERIOD);
    assert_eq!(deleted(&report), garbage);
    assert_eq!(stored_blobs(&storage), before, "a dry run deletes nothing");

    let report = gc(&storage, false, GcOptions::DEFAULT_GRACE_PERIOD);
    assert_eq!(deleted(&report), garbage);
    assert_eq!(report.manifests, 5);
    assert_eq!(
        report.freed(),
        report.deleted.iter().map(|b| b.size).sum::<u64>()
    );
    let after = stored_blobs(&storage);
    assert_eq!(after, &before - &garbage);

    // Everything referenced is still served; the garbage is gone from its repository.
    for (repository, reference) in [("app", "v1"), ("app", "sig"), ("multi", "latest")] {
        let reply = http.get(&format!("/v2/{repository}/manifests/{reference}"));
        assert_eq!(reply.status, 200, "{repository}:{reference}");
    }
    for manifest in [&amd64, &arm64] {
        let reply = http.get(&format!("/v2/multi/manifests/{}", Digest::of(manifest)));
        assert_eq!(reply.status, 200);
    }
    for blob in [&b"config v1"[..], shared, b"layer v1", b"signature config"] {
        let reply = http.get(&format!("/v2/app/blobs/{}", Digest::of(blob)));
        assert_eq!((reply.status, reply.body.as_slice()), (200, blob));
    }
    assert_eq!(
        http.get(&format!("/v2/multi/blobs/{}", Digest::of(shared)))
            .status,
        200
    );
    http.get(&format!("/v2/app/blobs/{}", digest_of(&orphan)))
        .assert_error(404, "BLOB_UNKNOWN");
    // The links went with the content: pushing it again elsewhere does not revive it here.
    http.push_blob("other", b"never referenced", LAYER);
    http.get(&format!("/v2/app/blobs/{}", digest_of(&orphan)))
        .assert_error(404, "BLOB_UNKNOWN");

    // A second collection finds nothing more.
    age_blobs(&storage);
    let report = gc(&storage, false, Duration::ZERO);
    assert_eq!(deleted(&report), BTreeSet::from([digest_of(&orphan)]));
}

/// Runs a collection (no grace period) and `during` between its mark and its sweep: holding
/// the storage lock shared, as a request does, keeps the sweep waiting.
fn collect_around(storage: &Path, during: impl FnOnce()) -> GcReport {
    let held = fs::File::open(storage.join("gc.lock")).unwrap();
    held.lock_shared().unwrap();
    let (marked, marks) = mpsc::channel();
    thread::scope(|scope| {
        let collection = scope.spawn(move || {
            let options = GcOptions {
                dry_run: false,
                grace_period: Duration::ZERO,
            };
            collect_garbage(storage, &options, &mut |line| {
                let _ = marked.send(line.to_owned());
            })
            .unwrap()
        });
        while !marks.recv().unwrap().ends_with("blobs marked") {}
        during();
        held.unlock().unwrap();
        collection.join().unwrap()
    })
}

#[test]
fn a_blob_made_live_while_gc_runs_survives() {
    let server = TestServer::start();
    let http = server.http();
    let storage = server.storage();
    // A config and layer pushed long ago that nothing references yet: garbage, until the
    // manifest below lands between the collection's mark and its sweep.
    let config = http.push_blob("app", b"config", CONFIG);
    let layer = http.push_blob("app", b"layer", LAYER);
    let orphan = http.push_blob("app", b"orphan", LAYER);
    age_blobs(&storage);
    let manifest = image_manifest(OCI_MANIFEST, &config, std::slice::from_ref(&layer));
    let report = collect_around(&storage, || {
        let reply = http.put_manifest("app", "v1", OCI_MANIFEST, &manifest);
        assert_eq!(
            reply.status,
            201,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
    });
    assert_eq!(deleted(&report), BTreeSet::from([digest_of(&orphan)]));
    for blob in [&config, &layer] {
        let reply = http.get(&format!("/v2/app/blobs/{}", digest_of(blob)));
        assert_eq!(reply.status, 200, "{blob} was collected");
    }
    assert_eq!(http.get("/v2/app/manifests/v1").status, 200);

    // While a collection waits to sweep: content already stored (and old) uploaded again, a
    // chunked upload whose data came before the collection finished, an old blob mounted
    // into another repository. All three are spared.
    let again = http.push_blob("app", b"again", LAYER);
    let mounted = http.push_blob("app", b"mounted", LAYER);
    let reply = http.send("POST", "/v2/app/blobs/uploads/", &[], b"");
    let location = reply.header("location").unwrap().to_owned();
    let id = reply.header("docker-upload-uuid").unwrap().to_owned();
    assert_eq!(http.send("PATCH", &location, &[], b"chunked").status, 202);
    age_blobs(&storage);
    let data = fs::File::open(storage.join("uploads").join(&id).join("data")).unwrap();
    data.set_modified(SystemTime::now() - Duration::from_secs(7200))
        .unwrap();
    let report = collect_around(&storage, || {
        http.push_blob("app", b"again", LAYER);
        let finish = format!("{location}?digest={}", Digest::of(b"chunked"));
        assert_eq!(http.send("PUT", &finish, &[], b"").status, 201);
        let mount = format!(
            "/v2/other/blobs/uploads/?mount={}&from=app",
            digest_of(&mounted)
        );
        assert_eq!(http.send("POST", &mount, &[], b"").status, 201);
    });
    assert!(report.deleted.is_empty(), "{report:?}");
    for (repository, digest) in [
        ("app", digest_of(&again)),
        ("app", Digest::of(b"chunked").to_string()),
        ("other", digest_of(&mounted)),
    ] {
        let reply = http.get(&format!("/v2/{repository}/blobs/{digest}"));
        assert_eq!(reply.status, 200, "{repository}: {digest} was collected");
    }
}
