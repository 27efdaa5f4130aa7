//! The client against Debian's `docker-registry` (CNCF Distribution) on 127.0.0.1, and against
//! a scripted fake server for token authentication and misbehaving registries.

mod common;

use std::sync::Arc;

use berth_image::{Digest, ImageStore};
use berth_registry::{
    Client, ClientConfig, Credentials, Error, ManifestFormat, Platform, PullOptions, PushImage,
    PushOptions, PushedImage, Reference, media_type,
};
use common::{Events, FakeServer, Registry, Request, Response};

fn client() -> Client {
    Client::new(ClientConfig::default()).unwrap()
}

fn reference(s: &str) -> Reference {
    Reference::parse(s).unwrap()
}

fn push(
    client: &Client,
    target: &Reference,
    store: &ImageStore,
    image: &PushImage,
    options: &PushOptions<'_>,
) -> (PushedImage, Events) {
    let mut events = Events::default();
    let pushed = client
        .push(target, store, image, options, &mut |p| events.push(p))
        .unwrap_or_else(|e| panic!("push {target}: {e}"));
    (pushed, events)
}

fn pull(
    client: &Client,
    source: &Reference,
    store: &ImageStore,
    options: &PullOptions<'_>,
) -> Result<(berth_registry::PulledImage, Events), Error> {
    let mut events = Events::default();
    let pulled = client.pull(source, store, options, &mut |p| events.push(p))?;
    Ok((pulled, events))
}

fn assert_store_empty(store: &ImageStore, root: &std::path::Path) {
    assert!(store.list_blobs().unwrap().is_empty(), "blobs left");
    assert!(store.list_layers().unwrap().is_empty(), "layers left");
    let ingest = std::fs::read_dir(root.join("content/ingest"))
        .unwrap()
        .count();
    assert_eq!(ingest, 0, "ingest files left");
}

#[test]
fn push_then_pull_round_trips_with_the_same_digests() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let client = client();
    let (_src_dir, src) = common::store();
    let image = common::build_image(&src, "amd64", "round-trip");
    let target = reference(&format!("{}/test/app:v1", registry.addr));

    let (pushed, events) = push(&client, &target, &src, &image, &PushOptions::default());
    assert_eq!(pushed.media_type, media_type::DOCKER_MANIFEST);
    for layer in &image.layers {
        assert_eq!(
            events.of(&layer.diff_id),
            ["Preparing", "Pushing", "Pushed"]
        );
    }

    let (_dst_dir, dst) = common::store();
    let (pulled, events) = pull(&client, &target, &dst, &PullOptions::default()).unwrap();
    assert_eq!(pulled.manifest_digest, pushed.digest);
    assert_eq!(pulled.image_manifest.digest, pushed.digest);
    assert_eq!(pulled.image.id, image.config);
    assert_eq!(
        pulled.image.config,
        src.read_blob(&image.config, 1 << 20).unwrap()
    );
    assert_eq!(
        pulled.image.repo_tags,
        [format!("{}/test/app:v1", registry.addr)]
    );
    let chain = |layers: &[berth_image::Layer]| -> Vec<(Digest, Digest)> {
        layers
            .iter()
            .map(|l| (l.diff_id.clone(), l.chain_id.clone()))
            .collect()
    };
    assert_eq!(chain(&pulled.image.layers), chain(&image.layers));
    // The plain tar went up gzip-compressed; the gzip blob went up as it was.
    assert_eq!(pulled.layers[0].media_type, media_type::DOCKER_LAYER_GZIP);
    assert_ne!(pulled.layers[0].digest, image.layers[0].blob);
    assert_eq!(pulled.layers[1].digest, image.layers[1].blob);
    for (blob, layer) in pulled.layers.iter().zip(&pulled.image.layers) {
        assert_eq!(layer.blob, blob.digest);
        assert!(dst.has_blob(&blob.digest));
        assert_eq!(
            events.of(&blob.digest),
            [
                "Pulling fs layer",
                "Downloading",
                "Verifying Checksum",
                "Download complete",
                "Extracting",
                "Pull complete"
            ]
        );
    }
    assert!(dst.has_blob(&image.config));

    // Pulling again finds every layer.
    let (again, events) = pull(&client, &target, &dst, &PullOptions::default()).unwrap();
    assert_eq!(again.image.id, image.config);
    for blob in &pulled.layers {
        assert_eq!(events.of(&blob.digest), ["Already exists"]);
    }

    let tags = client.tags(&target, None).unwrap();
    assert_eq!(tags, ["v1"]);
}

#[test]
fn pull_by_digest_and_what_is_not_there() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let client = client();
    let (_src_dir, src) = common::store();
    let image = common::build_image(&src, "amd64", "by-digest");
    let target = reference(&format!("{}/test/app:v1", registry.addr));
    let (pushed, _) = push(&client, &target, &src, &image, &PushOptions::default());

    let (_dst_dir, dst) = common::store();
    let pinned = target.with_digest(pushed.digest.clone());
    let (pulled, _) = pull(&client, &pinned, &dst, &PullOptions::default()).unwrap();
    assert_eq!(pulled.manifest_digest, pushed.digest);
    assert_eq!(pulled.image.id, image.config);
    assert!(pulled.image.repo_tags.is_empty());

    let (_empty_dir, empty) = common::store();
    let missing = target.with_tag("nope").unwrap();
    let err = pull(&client, &missing, &empty, &PullOptions::default()).unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "manifest for {}/test/app:nope not found: manifest unknown: manifest unknown",
            registry.addr
        )
    );
    let other = target.with_digest(Digest::of(b"no such manifest"));
    let err = pull(&client, &other, &empty, &PullOptions::default()).unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let absent_repo = reference(&format!("{}/no/such:latest", registry.addr));
    let err = pull(&client, &absent_repo, &empty, &PullOptions::default()).unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(empty.list_blobs().unwrap().is_empty());
}

#[test]
fn pushing_again_finds_layers_and_other_repositories_lend_theirs() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let client = client();
    let (_dir, store) = common::store();
    let image = common::build_image(&store, "amd64", "mount");
    let first = reference(&format!("{}/team/base:1", registry.addr));
    let (pushed, _) = push(&client, &first, &store, &image, &PushOptions::default());

    let (again, events) = push(&client, &first, &store, &image, &PushOptions::default());
    assert_eq!(again, pushed);
    for layer in &image.layers {
        assert_eq!(
            events.of(&layer.diff_id),
            ["Preparing", "Layer already exists"]
        );
    }

    let second = reference(&format!("{}/team/app:1", registry.addr));
    let options = PushOptions {
        mount_from: vec!["team/base".to_owned()],
        ..PushOptions::default()
    };
    let (mounted, events) = push(&client, &second, &store, &image, &options);
    assert_eq!(mounted.digest, pushed.digest);
    for layer in &image.layers {
        assert_eq!(
            events.of(&layer.diff_id),
            ["Preparing", "Mounted from team/base"]
        );
    }
    let (_dst_dir, dst) = common::store();
    let (pulled, _) = pull(&client, &second, &dst, &PullOptions::default()).unwrap();
    assert_eq!(pulled.image.id, image.config);

    // A source that does not have the blobs is no error: they are uploaded.
    let other = common::build_image(&store, "amd64", "not-mounted");
    let third = reference(&format!("{}/team/other:1", registry.addr));
    let (_, events) = push(&client, &third, &store, &other, &options);
    assert_eq!(
        events.of(&other.layers[0].diff_id),
        ["Preparing", "Pushing", "Pushed"]
    );

    // OCI manifests too.
    let oci = PushOptions {
        format: ManifestFormat::Oci,
        ..PushOptions::default()
    };
    let fourth = reference(&format!("{}/team/oci:1", registry.addr));
    let (pushed_oci, _) = push(&client, &fourth, &store, &image, &oci);
    assert_eq!(pushed_oci.media_type, media_type::OCI_MANIFEST);
    let (_oci_dir, oci_store) = common::store();
    let (pulled, _) = pull(&client, &fourth, &oci_store, &PullOptions::default()).unwrap();
    assert_eq!(pulled.image_manifest.media_type, media_type::OCI_MANIFEST);
    assert_eq!(pulled.layers[0].media_type, media_type::OCI_LAYER_GZIP);

    let mut catalog = client.catalog(&registry.addr, None).unwrap();
    catalog.sort();
    assert_eq!(catalog, ["team/app", "team/base", "team/oci", "team/other"]);
}

#[test]
fn tags_and_catalog_follow_pages() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let client = Client::new(ClientConfig {
        page_size: 2,
        ..ClientConfig::default()
    })
    .unwrap();
    let (_dir, store) = common::store();
    let image = common::build_image(&store, "amd64", "pages");
    let base = reference(&format!("{}/paged/app", registry.addr));
    let tags = ["a", "b", "c", "d", "e"];
    for tag in tags {
        push(
            &client,
            &base.with_tag(tag).unwrap(),
            &store,
            &image,
            &PushOptions::default(),
        );
    }
    for repo in ["paged/x", "paged/y"] {
        let target = reference(&format!("{}/{repo}:t", registry.addr));
        push(&client, &target, &store, &image, &PushOptions::default());
    }
    let mut listed = client.tags(&base, None).unwrap();
    listed.sort();
    assert_eq!(listed, tags);
    let catalog = client.catalog(&registry.addr, None).unwrap();
    assert_eq!(catalog, ["paged/app", "paged/x", "paged/y"]);
}

#[test]
fn pull_picks_the_platform_from_an_index() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let client = client();
    let (_dir, store) = common::store();
    let repo = format!("{}/multi/app", registry.addr);
    let mut entries = Vec::new();
    for (architecture, variant) in [("amd64", None), ("arm64", Some("v8"))] {
        let image = common::build_image(&store, architecture, architecture);
        let target = reference(&format!("{repo}:{architecture}"));
        let (pushed, _) = push(&client, &target, &store, &image, &PushOptions::default());
        let mut platform = serde_json::json!({"architecture": architecture, "os": "linux"});
        if let Some(variant) = variant {
            platform["variant"] = variant.into();
        }
        entries.push((
            image.config,
            pushed.digest.clone(),
            serde_json::json!({
                "mediaType": media_type::DOCKER_MANIFEST,
                "size": pushed.size,
                "digest": pushed.digest,
                "platform": platform,
            }),
        ));
    }
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::DOCKER_MANIFEST_LIST,
        "manifests": entries.iter().map(|e| e.2.clone()).collect::<Vec<_>>(),
    }))
    .unwrap();
    let latest = reference(&format!("{repo}:latest"));
    let index_digest = client
        .put_manifest(&latest, media_type::DOCKER_MANIFEST_LIST, &index, None)
        .unwrap();
    assert_eq!(index_digest, Digest::of(&index));

    for (platform, (config, manifest, _)) in ["linux/amd64", "linux/arm64"].iter().zip(&entries) {
        let (_dst_dir, dst) = common::store();
        let options = PullOptions {
            platform: Some(platform.parse().unwrap()),
            ..PullOptions::default()
        };
        let (pulled, _) = pull(&client, &latest, &dst, &options).unwrap();
        assert_eq!(pulled.image.id, *config, "{platform}");
        assert_eq!(pulled.manifest_digest, index_digest);
        assert_eq!(pulled.image_manifest.digest, *manifest);
    }

    let host = Platform::host();
    if let Some((config, _, _)) = entries
        .iter()
        .find(|e| e.2["platform"]["architecture"] == host.architecture.as_str())
    {
        let (_dst_dir, dst) = common::store();
        let (pulled, _) = pull(&client, &latest, &dst, &PullOptions::default()).unwrap();
        assert_eq!(pulled.image.id, *config);
    }

    let (_dst_dir, dst) = common::store();
    let options = PullOptions {
        platform: Some("linux/s390x".parse().unwrap()),
        ..PullOptions::default()
    };
    let err = pull(&client, &latest, &dst, &options).unwrap_err();
    assert!(matches!(err, Error::NoMatchingPlatform { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("no matching manifest for linux/s390x in the manifest list entries"),
        "{err}"
    );
    assert!(dst.list_blobs().unwrap().is_empty());

    // An index under a digest that is not its own is refused before anything is sent.
    let wrong = latest.with_digest(Digest::of(b"other"));
    let err = client
        .put_manifest(&wrong, media_type::DOCKER_MANIFEST_LIST, &index, None)
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err:?}");
}

#[test]
fn htpasswd_registry_wants_credentials() {
    let Some(registry) = Registry::start(Some(("berth", "s3cret"))) else {
        return;
    };
    let client = client();
    let good = Credentials::new("berth", "s3cret");
    let bad = Credentials::new("berth", "wrong");
    let (_dir, store) = common::store();
    let image = common::build_image(&store, "amd64", "basic");
    let target = reference(&format!("{}/private/app:1", registry.addr));

    let err = client.push(
        &target,
        &store,
        &image,
        &PushOptions::default(),
        &mut |_| {},
    );
    let err = err.unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    assert!(
        err.to_string()
            .contains("unauthorized: authentication required"),
        "{err}"
    );

    let err = client.login(&registry.addr, &bad).unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    assert!(err.to_string().contains("unauthorized:"), "{err}");
    client.login(&registry.addr, &good).unwrap();
    client
        .login(&format!("http://{}/v2/", registry.addr), &good)
        .unwrap();

    let with = PushOptions {
        credentials: Some(&good),
        ..PushOptions::default()
    };
    let (pushed, _) = push(&client, &target, &store, &image, &with);

    let (_dst_dir, dst) = common::store();
    let err = pull(&client, &target, &dst, &PullOptions::default()).unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    let wrong = PullOptions {
        credentials: Some(&bad),
        ..PullOptions::default()
    };
    let err = pull(&client, &target, &dst, &wrong).unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    let right = PullOptions {
        credentials: Some(&good),
        ..PullOptions::default()
    };
    let (pulled, _) = pull(&client, &target, &dst, &right).unwrap();
    assert_eq!(pulled.manifest_digest, pushed.digest);
    assert_eq!(client.tags(&target, Some(&good)).unwrap(), ["1"]);
    assert!(client.tags(&target, None).unwrap_err().is_unauthorized());
}

/// An image served by the fake registries: manifest, config and one gzip layer.
struct Served {
    manifest: Vec<u8>,
    manifest_digest: Digest,
    config: Vec<u8>,
    config_digest: Digest,
    layer: Vec<u8>,
    layer_digest: Digest,
}

fn served() -> Served {
    let tar = common::tar(&[("hello", b"from the fake registry")]);
    let layer = common::gzip(&tar);
    let config = common::config("amd64", &[Digest::of(&tar)]);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::DOCKER_MANIFEST,
        "config": {"mediaType": media_type::DOCKER_CONFIG, "size": config.len(), "digest": Digest::of(&config)},
        "layers": [{"mediaType": media_type::DOCKER_LAYER_GZIP, "size": layer.len(), "digest": Digest::of(&layer)}],
    }))
    .unwrap();
    Served {
        manifest_digest: Digest::of(&manifest),
        config_digest: Digest::of(&config),
        layer_digest: Digest::of(&layer),
        manifest,
        config,
        layer,
    }
}

/// Answers the distribution GETs for `image` in any repository: manifests by tag `latest`
/// or digest, blobs (the layer through a redirect to `storage`, another host name of the
/// same server that refuses requests carrying credentials, as cloud storage does).
fn serve_image(image: &Served, request: &Request, storage: &str) -> Response {
    let path = request.path();
    if path.starts_with("/storage/") {
        if request.header("authorization").is_some() {
            return Response::new(400).body(b"credentials sent to storage");
        }
        return Response::new(200).body(&image.layer);
    }
    // `/v2/<a>/<b>/<rest>`; anything shorter is the `/v2/` check.
    let parts: Vec<&str> = path.splitn(5, '/').collect();
    let ["", "v2", _, _, rest] = parts[..] else {
        return Response::new(200).body(b"{}");
    };
    if let Some(name) = rest.strip_prefix("manifests/")
        && (name == "latest" || name == image.manifest_digest.as_str())
    {
        return Response::new(200)
            .header("Content-Type", media_type::DOCKER_MANIFEST)
            .header("Docker-Content-Digest", image.manifest_digest.as_str())
            .body(&image.manifest);
    }
    if let Some(digest) = rest.strip_prefix("blobs/") {
        if digest == image.config_digest.as_str() {
            return Response::new(200).body(&image.config);
        }
        if digest == image.layer_digest.as_str() {
            let location = format!("http://{storage}/storage/{}", image.layer_digest.hex());
            return Response::new(307).header("Location", &location);
        }
    }
    Response::new(404)
        .body(br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#)
}

#[test]
fn token_flow_with_and_without_credentials() {
    let image = Arc::new(served());
    let served_image = image.clone();
    let addr = Arc::new(std::sync::OnceLock::<String>::new());
    let server_addr = addr.clone();
    let server = FakeServer::start(move |request| {
        let addr = server_addr.get().unwrap();
        let port = addr.rsplit(':').next().unwrap();
        let storage = format!("localhost:{port}");
        if request.path() == "/token" {
            let scopes: Vec<String> = request
                .query()
                .into_iter()
                .filter(|(k, _)| k == "scope")
                .map(|(_, v)| v)
                .collect();
            return match request.header("authorization") {
                None if scopes.iter().all(|s| s.starts_with("repository:public/")) => {
                    Response::new(200).body(br#"{"token":"anonymous","expires_in":300}"#)
                }
                None => Response::new(200).body(br#"{"token":"anonymous-denied"}"#),
                Some("Basic dXNlcjpwYXNz") => {
                    Response::new(200).body(br#"{"access_token":"good","expires_in":300}"#)
                }
                Some(_) => {
                    Response::new(401).body(br#"{"details":"incorrect username or password"}"#)
                }
            };
        }
        if request.path().starts_with("/storage/") {
            return serve_image(&served_image, request, &storage);
        }
        let public = request.path().starts_with("/v2/public/");
        let allowed = match request.header("authorization") {
            Some("Bearer good") => true,
            Some("Bearer anonymous") => public || request.path() == "/v2/",
            _ => false,
        };
        if !allowed {
            // Names the repository's pull scope, as Distribution does.
            let parts: Vec<&str> = request.path().splitn(5, '/').collect();
            let scope = match parts[..] {
                ["", "v2", a, b, _] => format!(r#",scope="repository:{a}/{b}:pull""#),
                _ => String::new(),
            };
            let challenge =
                format!(r#"Bearer realm="http://{addr}/token",service="fake-registry"{scope}"#);
            return Response::new(401)
                .header("WWW-Authenticate", &challenge)
                .body(
                    br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
                );
        }
        serve_image(&served_image, request, &storage)
    });
    addr.set(server.addr.clone()).unwrap();
    let client = client();
    let good = Credentials::new("user", "pass");
    let bad = Credentials::new("user", "nope");

    let public = reference(&format!("{}/public/app", server.addr));
    let (_dir, store) = common::store();
    let (pulled, _) = pull(&client, &public, &store, &PullOptions::default()).unwrap();
    assert_eq!(pulled.manifest_digest, image.manifest_digest);
    assert_eq!(pulled.image.id, image.config_digest);
    let token_requests: Vec<Request> = server
        .requests()
        .into_iter()
        .filter(|r| r.path() == "/token")
        .collect();
    assert_eq!(token_requests.len(), 1, "one token for the whole pull");
    let query = token_requests[0].query();
    assert!(
        query.contains(&("service".into(), "fake-registry".into())),
        "{query:?}"
    );
    assert!(
        query.contains(&("scope".into(), "repository:public/app:pull".into())),
        "{query:?}"
    );

    let private = reference(&format!("{}/private/app", server.addr));
    let (_dir, store) = common::store();
    let err = pull(&client, &private, &store, &PullOptions::default()).unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    let wrong = PullOptions {
        credentials: Some(&bad),
        ..PullOptions::default()
    };
    let err = pull(&client, &private, &store, &wrong).unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    assert!(
        err.to_string()
            .ends_with("unauthorized: incorrect username or password"),
        "{err}"
    );
    let right = PullOptions {
        credentials: Some(&good),
        ..PullOptions::default()
    };
    let (pulled, _) = pull(&client, &private, &store, &right).unwrap();
    assert_eq!(pulled.image.id, image.config_digest);

    client.login(&server.addr, &good).unwrap();
    let err = client.login(&server.addr, &bad).unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    assert!(
        err.to_string()
            .ends_with("unauthorized: incorrect username or password"),
        "{err}"
    );
}

#[test]
fn content_that_does_not_match_its_digest_is_refused_and_leaves_nothing() {
    let image = served();
    let tampered_manifest = {
        let mut m = image.manifest.clone();
        m.push(b' ');
        m
    };
    let tampered_layer = {
        let mut l = image.layer.clone();
        let last = l.len() - 1;
        l[last] ^= 0xff;
        l
    };
    let (manifest_digest, layer_digest) =
        (image.manifest_digest.clone(), image.layer_digest.clone());
    let server = FakeServer::start(move |request| {
        let path = request.path();
        match path {
            // Announces the real digest, serves other bytes.
            "/v2/bad/manifest/manifests/latest" => Response::new(200)
                .header("Content-Type", media_type::DOCKER_MANIFEST)
                .header("Docker-Content-Digest", image.manifest_digest.as_str())
                .body(&tampered_manifest),
            p if p == format!("/v2/bad/manifest/manifests/{}", image.manifest_digest) => {
                Response::new(200)
                    .header("Content-Type", media_type::DOCKER_MANIFEST)
                    .body(&tampered_manifest)
            }
            "/v2/bad/layer/manifests/latest" => Response::new(200)
                .header("Content-Type", media_type::DOCKER_MANIFEST)
                .body(&image.manifest),
            p if p == format!("/v2/bad/layer/blobs/{}", image.config_digest) => {
                Response::new(200).body(&image.config)
            }
            p if p == format!("/v2/bad/layer/blobs/{}", image.layer_digest) => {
                Response::new(200).body(&tampered_layer)
            }
            "/v2/old/schema1/manifests/latest" => Response::new(200)
                .header("Content-Type", media_type::DOCKER_SCHEMA1_SIGNED)
                .body(br#"{"schemaVersion":1,"name":"old/schema1","tag":"latest","fsLayers":[]}"#),
            _ => Response::new(404),
        }
    });
    let client = client();
    let (dir, store) = common::store();

    let by_tag = reference(&format!("{}/bad/manifest", server.addr));
    let err = pull(&client, &by_tag, &store, &PullOptions::default()).unwrap_err();
    let Error::DigestMismatch { expected, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*expected, manifest_digest);
    assert!(
        err.to_string()
            .contains(&format!("{}/bad/manifest", server.addr)),
        "{err}"
    );

    let by_digest = by_tag.with_digest(manifest_digest.clone());
    let err = pull(&client, &by_digest, &store, &PullOptions::default()).unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err:?}");

    let bad_layer = reference(&format!("{}/bad/layer", server.addr));
    let err = pull(&client, &bad_layer, &store, &PullOptions::default()).unwrap_err();
    let Error::DigestMismatch { expected, what, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*expected, layer_digest);
    assert!(what.contains(layer_digest.as_str()), "{err}");
    assert_store_empty(&store, dir.path());

    let schema1 = reference(&format!("{}/old/schema1", server.addr));
    let err = pull(&client, &schema1, &store, &PullOptions::default()).unwrap_err();
    assert!(matches!(err, Error::UnsupportedManifest { .. }), "{err:?}");
    assert!(err.to_string().contains("schema 1"), "{err}");
    assert_store_empty(&store, dir.path());
}

/// How the scripted registry below serves the layer blob after the first, broken, answer.
#[derive(Clone, Copy)]
enum AfterTheDrop {
    /// `206 Partial Content` for a `Range` request.
    Ranges,
    /// The whole blob again, as a server without range support does.
    Whole,
    /// Breaks every answer the same way.
    Drops,
}

/// A registry whose first answer for the layer promises the whole blob and closes the
/// connection halfway through it.
fn dropping_registry(image: Served, after: AfterTheDrop) -> FakeServer {
    let layer_path = |repo: &str| format!("/v2/{repo}/blobs/{}", image.layer_digest);
    let (layer_path, config_path) = (
        layer_path("flaky/app"),
        format!("/v2/flaky/app/blobs/{}", image.config_digest),
    );
    let broken = std::sync::atomic::AtomicBool::new(false);
    FakeServer::start(move |request| {
        let path = request.path();
        if path == "/v2/flaky/app/manifests/latest" {
            return Response::new(200)
                .header("Content-Type", media_type::DOCKER_MANIFEST)
                .body(&image.manifest);
        }
        if path == config_path {
            return Response::new(200).body(&image.config);
        }
        if path != layer_path {
            return Response::new(if path == "/v2/" { 200 } else { 404 });
        }
        let whole = &image.layer;
        let half = &whole[..whole.len() / 2];
        let cut = Response::new(200)
            .header("Content-Length", &whole.len().to_string())
            .body(half);
        let first = !broken.swap(true, std::sync::atomic::Ordering::SeqCst);
        match (after, request.header("range")) {
            (AfterTheDrop::Drops, _) => cut,
            _ if first => cut,
            (AfterTheDrop::Ranges, Some(range)) => {
                let from: usize = range
                    .strip_prefix("bytes=")
                    .and_then(|r| r.strip_suffix('-'))
                    .and_then(|r| r.parse().ok())
                    .unwrap();
                let last = whole.len() - 1;
                Response::new(206)
                    .header(
                        "Content-Range",
                        &format!("bytes {from}-{last}/{}", whole.len()),
                    )
                    .body(&whole[from..])
            }
            _ => Response::new(200).body(whole),
        }
    })
}

#[test]
fn a_dropped_layer_download_resumes_where_it_broke() {
    let image = served();
    let half = image.layer.len() / 2;
    let (config_digest, layer_digest) = (image.config_digest.clone(), image.layer_digest.clone());
    let server = dropping_registry(image, AfterTheDrop::Ranges);
    let (_dir, store) = common::store();
    let flaky = reference(&format!("{}/flaky/app", server.addr));
    let (pulled, _) = pull(&client(), &flaky, &store, &PullOptions::default()).unwrap();
    assert_eq!(pulled.image.id, config_digest);
    assert!(store.has_blob(&layer_digest));
    let layer_requests: Vec<Option<String>> = server
        .requests()
        .iter()
        .filter(|r| r.path().ends_with(layer_digest.as_str()))
        .map(|r| r.header("range").map(str::to_owned))
        .collect();
    assert_eq!(layer_requests, [None, Some(format!("bytes={half}-"))]);
}

#[test]
fn a_server_without_ranges_sends_the_blob_again_and_the_received_part_is_skipped() {
    let image = served();
    let config_digest = image.config_digest.clone();
    let server = dropping_registry(image, AfterTheDrop::Whole);
    let (_dir, store) = common::store();
    let flaky = reference(&format!("{}/flaky/app", server.addr));
    let (pulled, _) = pull(&client(), &flaky, &store, &PullOptions::default()).unwrap();
    assert_eq!(pulled.image.id, config_digest);
}

#[test]
fn a_download_that_keeps_breaking_fails_and_leaves_nothing() {
    let image = served();
    let layer_digest = image.layer_digest.clone();
    let server = dropping_registry(image, AfterTheDrop::Drops);
    let (dir, store) = common::store();
    let flaky = reference(&format!("{}/flaky/app", server.addr));
    let err = pull(&client(), &flaky, &store, &PullOptions::default()).unwrap_err();
    let message = err.to_string();
    assert!(message.contains(layer_digest.as_str()), "{message}");
    assert!(message.contains("attempts to resume"), "{message}");
    let attempts = server
        .requests()
        .iter()
        .filter(|r| r.path().ends_with(layer_digest.as_str()))
        .count();
    assert_eq!(attempts, 6, "the first request and five resumes");
    assert_store_empty(&store, dir.path());
}
