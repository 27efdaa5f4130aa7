//! Each endpoint of the server over raw HTTP: success paths, the spec's error codes, and
//! hostile input (bad digests, traversal in names and upload ids, oversize manifests, gaps).

use std::fs;

use berth_image::Digest;
use serde_json::json;

use crate::support::*;

#[test]
fn base_endpoint_announces_the_api_version() {
    let server = TestServer::start();
    let http = server.http();
    let reply = http.get("/v2/");
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("docker-distribution-api-version"),
        Some("registry/2.0")
    );
    assert_eq!(reply.json(), json!({}));
    assert_eq!(http.head("/v2/").status, 200);
    assert_eq!(http.get("/v2").status, 200);
    http.send("POST", "/v2/", &[], b"")
        .assert_error(405, "UNSUPPORTED");
    http.get("/v1/_ping").assert_error(404, "UNSUPPORTED");
}

#[test]
fn monolithic_upload_then_get_head_range_and_delete() {
    let server = TestServer::start();
    let http = server.http();
    let blob = b"0123456789abcdef";
    let digest = Digest::of(blob);
    let reply = http.upload("library/app", blob);
    assert_eq!(reply.status, 201);
    assert_eq!(
        reply.header("location"),
        Some(format!("/v2/library/app/blobs/{digest}").as_str())
    );
    assert_eq!(reply.header("docker-content-digest"), Some(digest.as_str()));

    let path = format!("/v2/library/app/blobs/{digest}");
    let reply = http.get(&path);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, blob);
    assert_eq!(reply.header("content-length"), Some("16"));
    assert_eq!(reply.header("docker-content-digest"), Some(digest.as_str()));
    assert_eq!(reply.header("accept-ranges"), Some("bytes"));

    let reply = http.head(&path);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-length"), Some("16"));
    assert!(reply.body.is_empty());

    for (range, status, content_range, body) in [
        ("bytes=0-3", 206, Some("bytes 0-3/16"), &b"0123"[..]),
        ("bytes=10-", 206, Some("bytes 10-15/16"), b"abcdef"),
        ("bytes=-2", 206, Some("bytes 14-15/16"), b"ef"),
        ("bytes=4-100", 206, Some("bytes 4-15/16"), b"456789abcdef"),
        ("bytes=0-1,4-5", 200, None, blob),
    ] {
        let reply = http.send("GET", &path, &[("Range", range)], b"");
        assert_eq!(reply.status, status, "{range}");
        assert_eq!(reply.header("content-range"), content_range, "{range}");
        assert_eq!(reply.body, body, "{range}");
    }
    let reply = http.send("GET", &path, &[("Range", "bytes=16-")], b"");
    reply.assert_error(416, "RANGE_INVALID");
    assert_eq!(reply.header("content-range"), Some("bytes */16"));

    // Blobs are linked per repository: another repository does not see it.
    http.get(&format!("/v2/other/blobs/{digest}"))
        .assert_error(404, "BLOB_UNKNOWN");
    let reply = http.delete(&path);
    assert_eq!(reply.status, 202);
    http.get(&path).assert_error(404, "BLOB_UNKNOWN");
    assert_eq!(http.head(&path).status, 404);
    http.delete(&path).assert_error(404, "BLOB_UNKNOWN");
}

#[test]
fn uploads_verify_digest_and_length() {
    let server = TestServer::start();
    let http = server.http();
    let blob = b"content";
    let wrong = Digest::of(b"other content");
    let reply = http.send(
        "POST",
        &format!("/v2/app/blobs/uploads/?digest={wrong}"),
        &[],
        blob,
    );
    reply.assert_error(400, "DIGEST_INVALID");
    assert!(
        !server
            .storage()
            .join("blobs/sha256")
            .join(wrong.hex())
            .exists()
    );
    assert!(
        !server
            .storage()
            .join("blobs/sha256")
            .join(Digest::of(blob).hex())
            .exists()
    );
    http.get(&format!("/v2/app/blobs/{wrong}"))
        .assert_error(404, "BLOB_UNKNOWN");

    for bad in [
        "sha256:abc",
        "sha256:..%2F..%2F..%2Fetc%2Fpasswd",
        "SHA256:0000000000000000000000000000000000000000000000000000000000000000",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
    ] {
        http.send(
            "POST",
            &format!("/v2/app/blobs/uploads/?digest={bad}"),
            &[],
            blob,
        )
        .assert_error(400, "DIGEST_INVALID");
        http.get(&format!("/v2/app/blobs/{bad}"))
            .assert_error(400, "DIGEST_INVALID");
    }
    // With slashes it is no blob path at all.
    http.get("/v2/app/blobs/sha256:../../../etc/passwd")
        .assert_error(404, "UNSUPPORTED");
    let sha512 = format!("sha512:{}", "a".repeat(128));
    http.get(&format!("/v2/app/blobs/{sha512}"))
        .assert_error(400, "DIGEST_INVALID");
    // No session or temp file is left behind by any of the refused uploads.
    assert_eq!(
        fs::read_dir(server.storage().join("uploads"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn chunked_upload_in_order_with_gaps_refused() {
    let server = TestServer::start();
    let http = server.http();
    let reply = http.send("POST", "/v2/a/b/blobs/uploads/", &[], b"");
    assert_eq!(reply.status, 202);
    let location = reply.header("location").unwrap().to_owned();
    let uuid = reply.header("docker-upload-uuid").unwrap().to_owned();
    assert_eq!(location, format!("/v2/a/b/blobs/uploads/{uuid}"));
    assert_eq!(reply.header("range"), Some("0-0"));

    let reply = http.send("PATCH", &location, &[("Content-Range", "0-4")], b"hello");
    assert_eq!(reply.status, 202);
    assert_eq!(reply.header("range"), Some("0-4"));
    assert_eq!(reply.header("location"), Some(location.as_str()));

    // A gap, an overlap and a range that disagrees with the body are refused with the
    // current range; none of them changes the upload.
    for (range, body) in [("10-12", &b"xyz"[..]), ("2-4", b"llo"), ("5-9", b"abc")] {
        let reply = http.send("PATCH", &location, &[("Content-Range", range)], body);
        reply.assert_error(416, "BLOB_UPLOAD_INVALID");
        assert_eq!(reply.header("range"), Some("0-4"), "{range}");
    }
    http.send("PATCH", &location, &[("Content-Range", "five-six")], b"x")
        .assert_error(416, "BLOB_UPLOAD_INVALID");

    let reply = http.get(&location);
    assert_eq!(reply.status, 204);
    assert_eq!(reply.header("range"), Some("0-4"));
    assert_eq!(reply.header("docker-upload-uuid"), Some(uuid.as_str()));

    // A streamed chunk (no Content-Range) continues where the upload is.
    let reply = http.send("PATCH", &location, &[], b", ");
    assert_eq!(reply.header("range"), Some("0-6"));
    // Another repository cannot touch the session.
    http.get(&format!("/v2/c/blobs/uploads/{uuid}"))
        .assert_error(404, "BLOB_UPLOAD_UNKNOWN");

    let digest = Digest::of(b"hello, world");
    let reply = http.send(
        "PUT",
        &format!("{location}?digest={digest}"),
        &[("Content-Range", "7-11")],
        b"world",
    );
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.header("docker-content-digest"), Some(digest.as_str()));
    assert_eq!(
        http.get(&format!("/v2/a/b/blobs/{digest}")).body,
        b"hello, world"
    );
    http.get(&location).assert_error(404, "BLOB_UPLOAD_UNKNOWN");
    http.send("PATCH", &location, &[], b"more")
        .assert_error(404, "BLOB_UPLOAD_UNKNOWN");
}

#[test]
fn upload_finish_cancel_and_mismatch() {
    let server = TestServer::start();
    let http = server.http();
    let start = |repository: &str| {
        let reply = http.send(
            "POST",
            &format!("/v2/{repository}/blobs/uploads/"),
            &[],
            b"",
        );
        reply.header("location").unwrap().to_owned()
    };

    // A wrong digest at the end ends the session and stores nothing.
    let location = start("app");
    http.send("PATCH", &location, &[], b"data");
    let wrong = Digest::of(b"not data");
    http.send("PUT", &format!("{location}?digest={wrong}"), &[], b"")
        .assert_error(400, "DIGEST_INVALID");
    http.get(&location).assert_error(404, "BLOB_UPLOAD_UNKNOWN");
    http.get(&format!("/v2/app/blobs/{}", Digest::of(b"data")))
        .assert_error(404, "BLOB_UNKNOWN");

    // PUT without a digest keeps the session.
    let location = start("app");
    http.send("PUT", &location, &[], b"")
        .assert_error(400, "DIGEST_INVALID");
    assert_eq!(http.get(&location).status, 204);
    // Cancel.
    assert_eq!(http.delete(&location).status, 204);
    http.get(&location).assert_error(404, "BLOB_UPLOAD_UNKNOWN");
    http.delete(&location)
        .assert_error(404, "BLOB_UPLOAD_UNKNOWN");

    // The whole blob in the final PUT.
    let location = start("app");
    let digest = Digest::of(b"all at once");
    let reply = http.send(
        "PUT",
        &format!("{location}?digest={digest}"),
        &[],
        b"all at once",
    );
    assert_eq!(reply.status, 201);
    assert_eq!(
        fs::read_dir(server.storage().join("uploads"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn upload_ids_and_names_cannot_escape_the_storage_root() {
    let server = TestServer::start();
    let http = server.http();
    let digest = Digest::of(b"x");
    // With slashes, an id makes the path no upload path at all.
    http.send("PATCH", "/v2/app/blobs/uploads/../../blobs", &[], b"evil")
        .assert_error(404, "UNSUPPORTED");
    for target in [
        "/v2/app/blobs/uploads/..",
        "/v2/app/blobs/uploads/..%2f..%2fblobs",
        "/v2/app/blobs/uploads/00000000-0000-4000-8000-000000000000",
    ] {
        http.send("PATCH", target, &[], b"evil")
            .assert_error(404, "BLOB_UPLOAD_UNKNOWN");
        http.send("PUT", &format!("{target}?digest={digest}"), &[], b"x")
            .assert_error(404, "BLOB_UPLOAD_UNKNOWN");
    }
    for target in [
        "/v2/../../etc/manifests/latest",
        "/v2/a/../../../tmp/manifests/latest",
        "/v2/%2e%2e/%2e%2e/tmp/manifests/latest",
        "/v2/a/./b/manifests/latest",
        "/v2//etc/manifests/latest",
        "/v2/.hidden/manifests/latest",
        "/v2/UPPER/manifests/latest",
    ] {
        http.send("PUT", target, &[("Content-Type", OCI_MANIFEST)], b"{}")
            .assert_error(400, "NAME_INVALID");
        http.get(target).assert_error(400, "NAME_INVALID");
    }
    for target in ["/v2/../blobs/uploads/", "/v2/a/..%2f../blobs/uploads/"] {
        http.send("POST", &format!("{target}?digest={digest}"), &[], b"x")
            .assert_error(400, "NAME_INVALID");
    }
    http.send(
        "PUT",
        "/v2/app/manifests/..",
        &[("Content-Type", OCI_MANIFEST)],
        b"{}",
    )
    .assert_error(400, "TAG_INVALID");
    http.send(
        "PUT",
        "/v2/app/manifests/.x",
        &[("Content-Type", OCI_MANIFEST)],
        b"{}",
    )
    .assert_error(400, "TAG_INVALID");
    http.get("/v2/app/blobs/sha256:..%2f..%2fx")
        .assert_error(400, "DIGEST_INVALID");
    // Nothing was created next to the storage root, and no repository inside it.
    let beside: Vec<_> = fs::read_dir(server.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(beside, ["storage"]);
    assert_eq!(
        fs::read_dir(server.storage().join("repositories"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(http.get("/v2/_catalog").json(), json!({"repositories": []}));
}

#[test]
fn cross_repository_mount() {
    let server = TestServer::start();
    let http = server.http();
    let blob = b"shared layer";
    let digest = Digest::of(blob);
    http.upload("source", blob);

    let reply = http.send(
        "POST",
        &format!("/v2/target/blobs/uploads/?mount={digest}&from=source"),
        &[],
        b"",
    );
    assert_eq!(reply.status, 201);
    assert_eq!(
        reply.header("location"),
        Some(format!("/v2/target/blobs/{digest}").as_str())
    );
    assert_eq!(reply.header("docker-content-digest"), Some(digest.as_str()));
    assert_eq!(http.get(&format!("/v2/target/blobs/{digest}")).body, blob);

    // Not in the source (even though stored for another repository), or no valid source:
    // an upload starts instead, and the blob stays out of reach.
    for query in [
        format!("mount={digest}&from=nothing-here"),
        format!("mount={digest}&from=../source"),
        format!("mount={digest}"),
    ] {
        let reply = http.send(
            "POST",
            &format!("/v2/third/blobs/uploads/?{query}"),
            &[],
            b"",
        );
        assert_eq!(reply.status, 202, "{query}");
        assert!(reply.header("docker-upload-uuid").is_some());
        http.get(&format!("/v2/third/blobs/{digest}"))
            .assert_error(404, "BLOB_UNKNOWN");
    }
    http.send(
        "POST",
        "/v2/third/blobs/uploads/?mount=sha256:zz&from=source",
        &[],
        b"",
    )
    .assert_error(400, "DIGEST_INVALID");
}

#[test]
fn manifests_by_tag_and_digest() {
    let server = TestServer::start();
    let http = server.http();
    let manifest = pushed_image(&http, "app", "v1", DOCKER_MANIFEST);
    let digest = Digest::of(&manifest);

    let reply = http.put_manifest("app", "v1", DOCKER_MANIFEST, &manifest);
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.header("docker-content-digest"), Some(digest.as_str()));
    assert_eq!(
        reply.header("location"),
        Some(format!("/v2/app/manifests/{digest}").as_str())
    );

    for reference in ["v1", digest.as_str()] {
        let reply = http.get(&format!("/v2/app/manifests/{reference}"));
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, manifest);
        assert_eq!(reply.header("content-type"), Some(DOCKER_MANIFEST));
        assert_eq!(reply.header("docker-content-digest"), Some(digest.as_str()));
        let reply = http.head(&format!("/v2/app/manifests/{reference}"));
        assert_eq!(reply.status, 200);
        assert!(reply.body.is_empty());
        assert_eq!(
            reply.header("content-length"),
            Some(manifest.len().to_string().as_str())
        );
        assert_eq!(reply.header("content-type"), Some(DOCKER_MANIFEST));
    }

    // By digest: must be the digest of the body.
    let reply = http.put_manifest("app", digest.as_str(), DOCKER_MANIFEST, &manifest);
    assert_eq!(reply.status, 201);
    let other = Digest::of(b"other");
    http.put_manifest("app", other.as_str(), DOCKER_MANIFEST, &manifest)
        .assert_error(400, "DIGEST_INVALID");

    http.get("/v2/app/manifests/nope")
        .assert_error(404, "MANIFEST_UNKNOWN");
    http.get(&format!("/v2/app/manifests/{other}"))
        .assert_error(404, "MANIFEST_UNKNOWN");
    http.get("/v2/nobody/manifests/v1")
        .assert_error(404, "NAME_UNKNOWN");
    // Another repository does not see it, even by digest.
    http.upload("elsewhere", b"x");
    http.get(&format!("/v2/elsewhere/manifests/{digest}"))
        .assert_error(404, "MANIFEST_UNKNOWN");

    // Delete the tag: the manifest stays. Delete by digest: gone, with its tags.
    http.put_manifest("app", "v2", DOCKER_MANIFEST, &manifest);
    assert_eq!(http.delete("/v2/app/manifests/v1").status, 202);
    http.get("/v2/app/manifests/v1")
        .assert_error(404, "MANIFEST_UNKNOWN");
    assert_eq!(http.get(&format!("/v2/app/manifests/{digest}")).status, 200);
    assert_eq!(
        http.delete(&format!("/v2/app/manifests/{digest}")).status,
        202
    );
    http.get("/v2/app/manifests/v2")
        .assert_error(404, "MANIFEST_UNKNOWN");
    http.get(&format!("/v2/app/manifests/{digest}"))
        .assert_error(404, "MANIFEST_UNKNOWN");
    http.delete(&format!("/v2/app/manifests/{digest}"))
        .assert_error(404, "MANIFEST_UNKNOWN");
    assert_eq!(http.get("/v2/app/tags/list").json()["tags"], json!([]));
}

#[test]
fn manifests_must_hold_together() {
    let server = TestServer::start();
    let http = server.http();
    let config = http.push_blob(
        "app",
        &config_blob("x"),
        "application/vnd.oci.image.config.v1+json",
    );
    let layer_type = "application/vnd.oci.image.layer.v1.tar+gzip";
    let layer = http.push_blob("app", b"layer", layer_type);
    let missing = descriptor(layer_type, b"never pushed");

    let reply = http.put_manifest(
        "app",
        "bad",
        OCI_MANIFEST,
        &image_manifest(OCI_MANIFEST, &config, &[layer.clone(), missing.clone()]),
    );
    reply.assert_error(400, "MANIFEST_BLOB_UNKNOWN");
    assert_eq!(
        reply.json()["errors"][0]["detail"]["digest"],
        missing["digest"]
    );

    let mut wrong_size = layer.clone();
    wrong_size["size"] = json!(999);
    http.put_manifest(
        "app",
        "bad",
        OCI_MANIFEST,
        &image_manifest(OCI_MANIFEST, &config, &[wrong_size]),
    )
    .assert_error(400, "MANIFEST_INVALID");

    // A blob of another repository is not enough.
    let foreign = http.push_blob("other", b"other layer", layer_type);
    http.put_manifest(
        "app",
        "bad",
        OCI_MANIFEST,
        &image_manifest(OCI_MANIFEST, &config, &[foreign]),
    )
    .assert_error(400, "MANIFEST_BLOB_UNKNOWN");

    // A foreign layer with URLs need not be here.
    let mut external = descriptor(
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        b"w",
    );
    external["urls"] = json!(["https://example.com/w"]);
    let with_foreign = image_manifest(DOCKER_MANIFEST, &config, &[external, layer.clone()]);
    assert_eq!(
        http.put_manifest("app", "foreign", DOCKER_MANIFEST, &with_foreign)
            .status,
        201
    );

    let good = image_manifest(OCI_MANIFEST, &config, &[layer]);
    for (body, content_type) in [
        (&b"not json"[..], OCI_MANIFEST),
        (b"{}", OCI_MANIFEST),
        (&good, "application/json"),
        (
            &good,
            "application/vnd.docker.distribution.manifest.v1+prettyjws",
        ),
        (&good, DOCKER_MANIFEST),
    ] {
        http.put_manifest("app", "bad", content_type, body)
            .assert_error(400, "MANIFEST_INVALID");
    }
    http.get("/v2/app/manifests/bad")
        .assert_error(404, "MANIFEST_UNKNOWN");
}

#[test]
fn oversize_manifests_are_refused() {
    let server = TestServer::start();
    let http = server.http();
    let limit = 4 * 1024 * 1024;
    let mut huge = b"{\"schemaVersion\":2,\"x\":\"".to_vec();
    huge.resize(limit + 1, b'a');
    // Refused from the declared length alone, before any of the body is read.
    let length = (limit + 1).to_string();
    http.send(
        "PUT",
        "/v2/app/manifests/huge",
        &[("Content-Type", OCI_MANIFEST), ("Content-Length", &length)],
        b"",
    )
    .assert_error(413, "SIZE_INVALID");
    // Without a Content-Length (chunked), the body is cut off at the limit all the same.
    let mut chunked = format!("{:x}\r\n", huge.len()).into_bytes();
    chunked.extend_from_slice(&huge);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    http.send(
        "PUT",
        "/v2/app/manifests/huge",
        &[
            ("Content-Type", OCI_MANIFEST),
            ("Transfer-Encoding", "chunked"),
        ],
        &chunked,
    )
    .assert_error(413, "SIZE_INVALID");
    http.get("/v2/app/manifests/huge")
        .assert_error(404, "NAME_UNKNOWN");
}

#[test]
fn indexes_reference_manifests_of_the_repository() {
    let server = TestServer::start();
    let http = server.http();
    let amd64 = pushed_image(&http, "multi", "amd64", OCI_MANIFEST);
    let arm64 = pushed_image(&http, "multi", "arm64", OCI_MANIFEST);
    for manifest in [&amd64, &arm64] {
        let digest = Digest::of(manifest);
        assert_eq!(
            http.put_manifest("multi", digest.as_str(), OCI_MANIFEST, manifest)
                .status,
            201
        );
    }
    let entry = |manifest: &[u8], architecture: &str| {
        let mut entry = descriptor(OCI_MANIFEST, manifest);
        entry["platform"] = json!({"architecture": architecture, "os": "linux"});
        entry
    };
    for media_type in [OCI_INDEX, DOCKER_LIST] {
        let index = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": media_type,
            "manifests": [entry(&amd64, "amd64"), entry(&arm64, "arm64")],
        }))
        .unwrap();
        let reply = http.put_manifest("multi", "latest", media_type, &index);
        assert_eq!(
            reply.status,
            201,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        let reply = http.get("/v2/multi/manifests/latest");
        assert_eq!(reply.header("content-type"), Some(media_type));
        assert_eq!(reply.body, index);
    }
    let unknown = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [entry(b"{}", "s390x")],
    }))
    .unwrap();
    http.put_manifest("multi", "broken", OCI_INDEX, &unknown)
        .assert_error(400, "MANIFEST_BLOB_UNKNOWN");
    // A blob is no manifest.
    let blob_only = http.push_blob("multi", b"{\"blob\":1}", OCI_MANIFEST);
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [blob_only],
    }))
    .unwrap();
    http.put_manifest("multi", "broken", OCI_INDEX, &index)
        .assert_error(400, "MANIFEST_BLOB_UNKNOWN");
}

#[test]
fn tags_and_catalog_paginate_with_link() {
    let server = TestServer::start();
    let http = server.http();
    let manifest = pushed_image(&http, "paged", "x", OCI_MANIFEST);
    for tag in ["e", "a", "d", "c", "b"] {
        assert_eq!(
            http.put_manifest("paged", tag, OCI_MANIFEST, &manifest)
                .status,
            201
        );
    }
    let reply = http.get("/v2/paged/tags/list");
    assert_eq!(
        reply.json(),
        json!({"name": "paged", "tags": ["a", "b", "c", "d", "e"]})
    );
    assert_eq!(reply.header("link"), None);

    let mut seen = Vec::new();
    let mut next = Some("/v2/paged/tags/list?n=2".to_owned());
    while let Some(target) = next {
        let reply = http.get(&target);
        assert_eq!(reply.status, 200);
        for tag in reply.json()["tags"].as_array().unwrap() {
            seen.push(tag.as_str().unwrap().to_owned());
        }
        next = reply.header("link").map(|link| {
            assert!(link.ends_with(">; rel=\"next\""), "{link}");
            link[1..link.find('>').unwrap()].to_owned()
        });
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);
    assert_eq!(
        http.get("/v2/paged/tags/list?n=2&last=c").json()["tags"],
        json!(["d", "e"])
    );
    http.get("/v2/paged/tags/list?n=x")
        .assert_error(400, "PAGINATION_NUMBER_INVALID");
    http.get("/v2/none/tags/list")
        .assert_error(404, "NAME_UNKNOWN");

    for repository in ["z/last", "a/first", "m"] {
        http.upload(repository, b"x");
    }
    assert_eq!(
        http.get("/v2/_catalog").json(),
        json!({"repositories": ["a/first", "m", "paged", "z/last"]})
    );
    let reply = http.get("/v2/_catalog?n=3");
    assert_eq!(
        reply.json(),
        json!({"repositories": ["a/first", "m", "paged"]})
    );
    assert_eq!(
        reply.header("link"),
        Some("</v2/_catalog?n=3&last=paged>; rel=\"next\"")
    );
    assert_eq!(
        http.get("/v2/_catalog?n=3&last=paged").json(),
        json!({"repositories": ["z/last"]})
    );
}

#[test]
fn referrers_list_manifests_by_subject() {
    let server = TestServer::start();
    let http = server.http();
    let subject = pushed_image(&http, "signed", "v1", OCI_MANIFEST);
    let subject_digest = Digest::of(&subject);
    http.put_manifest("signed", "v1", OCI_MANIFEST, &subject);
    let empty = http.push_blob("signed", b"{}", "application/vnd.oci.empty.v1+json");
    let referrer = |artifact_type: Option<&str>, config_type: &str, note: &str| {
        let mut config = empty.clone();
        config["mediaType"] = json!(config_type);
        let mut manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config,
            "layers": [empty],
            "subject": descriptor(OCI_MANIFEST, &subject),
            "annotations": {"note": note},
        });
        if let Some(artifact_type) = artifact_type {
            manifest["artifactType"] = json!(artifact_type);
        }
        serde_json::to_vec(&manifest).unwrap()
    };
    let signature = referrer(
        Some("application/vnd.example.signature"),
        "application/vnd.oci.empty.v1+json",
        "sig",
    );
    let sbom = referrer(None, "application/vnd.example.sbom", "sbom");
    for manifest in [&signature, &sbom] {
        let digest = Digest::of(manifest);
        let reply = http.put_manifest("signed", digest.as_str(), OCI_MANIFEST, manifest);
        assert_eq!(reply.status, 201);
        assert_eq!(reply.header("oci-subject"), Some(subject_digest.as_str()));
    }

    let reply = http.get(&format!("/v2/signed/referrers/{subject_digest}"));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some(OCI_INDEX));
    let index = reply.json();
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(index["mediaType"], OCI_INDEX);
    let mut listed = index["manifests"].as_array().unwrap().clone();
    listed.sort_by_key(|d| d["annotations"]["note"].as_str().unwrap().to_owned());
    let expected = |manifest: &[u8], artifact_type: &str, note: &str| {
        let mut d = descriptor(OCI_MANIFEST, manifest);
        d["artifactType"] = json!(artifact_type);
        d["annotations"] = json!({"note": note});
        d
    };
    assert_eq!(
        listed,
        [
            expected(&sbom, "application/vnd.example.sbom", "sbom"),
            expected(&signature, "application/vnd.example.signature", "sig"),
        ]
    );

    let reply = http.get(&format!(
        "/v2/signed/referrers/{subject_digest}?artifactType=application/vnd.example.sbom"
    ));
    assert_eq!(reply.header("oci-filters-applied"), Some("artifactType"));
    assert_eq!(reply.json()["manifests"].as_array().unwrap().len(), 1);

    // A subject nothing refers to has an empty list; a deleted referrer drops out.
    let other = Digest::of(b"nothing");
    assert_eq!(
        http.get(&format!("/v2/signed/referrers/{other}")).json()["manifests"],
        json!([])
    );
    assert_eq!(
        http.delete(&format!("/v2/signed/manifests/{}", Digest::of(&sbom)))
            .status,
        202
    );
    let reply = http.get(&format!("/v2/signed/referrers/{subject_digest}"));
    assert_eq!(reply.json()["manifests"].as_array().unwrap().len(), 1);
    http.get("/v2/signed/referrers/sha256:bad")
        .assert_error(400, "DIGEST_INVALID");
    http.get(&format!("/v2/nobody/referrers/{other}"))
        .assert_error(404, "NAME_UNKNOWN");
}

#[test]
fn htpasswd_guards_every_request() {
    let server = TestServer::with(|config, dir| {
        let path = dir.join("htpasswd");
        let hash = bcrypt::hash("pa55word", 4).unwrap();
        fs::write(&path, format!("admin:{hash}\n")).unwrap();
        config.htpasswd = Some(path);
    });
    let anonymous = server.http();
    for (method, target) in [
        ("GET", "/v2/"),
        ("GET", "/v2/_catalog"),
        ("POST", "/v2/app/blobs/uploads/"),
        ("GET", "/v2/../../etc/manifests/x"),
    ] {
        let reply = anonymous.send(method, target, &[], b"");
        reply.assert_error(401, "UNAUTHORIZED");
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Basic realm=\"berth\"")
        );
    }
    let wrong = server.http().with_basic("admin", "guess");
    wrong.get("/v2/").assert_error(401, "UNAUTHORIZED");
    let unknown = server.http().with_basic("root", "pa55word");
    unknown.get("/v2/").assert_error(401, "UNAUTHORIZED");
    let admin = server.http().with_basic("admin", "pa55word");
    assert_eq!(admin.get("/v2/").status, 200);
    assert_eq!(admin.upload("app", b"blob").status, 201);
    // Nothing was stored for the refused requests.
    assert_eq!(
        admin.get("/v2/_catalog").json(),
        json!({"repositories": ["app"]})
    );
}
