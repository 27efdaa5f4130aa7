//! Real clients against the server: berth's own (push, pull, mount, index, lists, login),
//! skopeo (containers/image, the Go client of Podman and CRI-O), curl over TLS, and the docker
//! CLI of the reference Docker, whose daemon lives in its own network namespace.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use berth_image::{Digest, ImageStore};
use berth_registry::{
    Client, ClientConfig, Credentials, ManifestFormat, PullOptions, PushImage, PushOptions,
    PushedImage, Reference, TlsConfig, media_type,
};
use serde_json::json;

use crate::common;
use crate::support::*;

/// True if `program` runs; outside CI a missing one skips the test, in CI it fails it.
fn have(program: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(std::env::var_os("CI").is_none(), "{program} is missing");
        eprintln!("skipping: {program} is missing");
    }
    found
}

#[track_caller]
fn run(command: &mut Command) -> Output {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
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
) -> (PushedImage, common::Events) {
    let mut events = common::Events::default();
    let pushed = client
        .push(target, store, image, options, &mut |p| events.push(p))
        .unwrap_or_else(|e| panic!("push {target}: {e}"));
    (pushed, events)
}

fn htpasswd(dir: &Path, user: &str, password: &str) -> PathBuf {
    let path = dir.join("htpasswd");
    let hash = bcrypt::hash(password, 4).unwrap();
    fs::write(&path, format!("{user}:{hash}\n")).unwrap();
    path
}

#[test]
fn berth_client_pushes_pulls_mounts_and_lists() {
    let server = TestServer::start();
    let registry = server.addr.to_string();
    let client = Client::new(ClientConfig {
        page_size: 2,
        ..ClientConfig::default()
    })
    .unwrap();
    let (_src_dir, src) = common::store();
    let image = common::build_image(&src, "amd64", "server");
    let target = reference(&format!("{registry}/team/app:v1"));

    let (pushed, events) = push(&client, &target, &src, &image, &PushOptions::default());
    assert_eq!(pushed.media_type, media_type::DOCKER_MANIFEST);
    for layer in &image.layers {
        assert_eq!(
            events.of(&layer.diff_id),
            ["Preparing", "Pushing", "Pushed"]
        );
    }
    let (_, events) = push(&client, &target, &src, &image, &PushOptions::default());
    for layer in &image.layers {
        assert_eq!(
            events.of(&layer.diff_id),
            ["Preparing", "Layer already exists"]
        );
    }

    let (_dst_dir, dst) = common::store();
    let mut events = common::Events::default();
    let pulled = client
        .pull(&target, &dst, &PullOptions::default(), &mut |p| {
            events.push(p)
        })
        .unwrap();
    assert_eq!(pulled.manifest_digest, pushed.digest);
    assert_eq!(pulled.image.id, image.config);
    let diff_ids = |layers: &[berth_image::Layer]| -> Vec<Digest> {
        layers.iter().map(|l| l.diff_id.clone()).collect()
    };
    assert_eq!(diff_ids(&pulled.image.layers), diff_ids(&image.layers));

    // Mounted into another repository, then pushed as OCI.
    let mounted = reference(&format!("{registry}/team/copy:v1"));
    let options = PushOptions {
        mount_from: vec!["team/app".to_owned()],
        ..PushOptions::default()
    };
    let (_, events) = push(&client, &mounted, &src, &image, &options);
    for layer in &image.layers {
        assert_eq!(
            events.of(&layer.diff_id),
            ["Preparing", "Mounted from team/app"]
        );
    }
    let oci = PushOptions {
        format: ManifestFormat::Oci,
        ..PushOptions::default()
    };
    let oci_target = reference(&format!("{registry}/team/oci:v1"));
    let (pushed_oci, _) = push(&client, &oci_target, &src, &image, &oci);
    assert_eq!(pushed_oci.media_type, media_type::OCI_MANIFEST);

    // A manifest list over two platforms, picked by the client on pull.
    let arm = common::build_image(&src, "arm64", "server-arm");
    let arm_target = reference(&format!("{registry}/team/app:arm64"));
    let (pushed_arm, _) = push(&client, &arm_target, &src, &arm, &PushOptions::default());
    let entry = |pushed: &PushedImage, architecture: &str| {
        json!({
            "mediaType": pushed.media_type,
            "digest": pushed.digest,
            "size": pushed.size,
            "platform": {"architecture": architecture, "os": "linux"},
        })
    };
    let list = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type::DOCKER_MANIFEST_LIST,
        "manifests": [entry(&pushed, "amd64"), entry(&pushed_arm, "arm64")],
    }))
    .unwrap();
    let latest = reference(&format!("{registry}/team/app:latest"));
    let list_digest = client
        .put_manifest(&latest, media_type::DOCKER_MANIFEST_LIST, &list, None)
        .unwrap();
    assert_eq!(list_digest, Digest::of(&list));
    let (_arm_dir, arm_store) = common::store();
    let options = PullOptions {
        platform: Some("linux/arm64".parse().unwrap()),
        ..PullOptions::default()
    };
    let pulled = client
        .pull(&latest, &arm_store, &options, &mut |_| {})
        .unwrap();
    assert_eq!(pulled.manifest_digest, list_digest);
    assert_eq!(pulled.image.id, arm.config);

    // Lists, followed page by page (two entries a page).
    let base = reference(&format!("{registry}/team/app"));
    assert_eq!(client.tags(&base, None).unwrap(), ["arm64", "latest", "v1"]);
    assert_eq!(
        client.catalog(&registry, None).unwrap(),
        ["team/app", "team/copy", "team/oci"]
    );
}

#[test]
fn berth_client_logs_in_and_pushes_with_htpasswd() {
    let server = TestServer::with(|config, dir| {
        config.htpasswd = Some(htpasswd(dir, "berth", "s3cret"));
    });
    let registry = server.addr.to_string();
    let client = Client::new(ClientConfig::default()).unwrap();
    let good = Credentials::new("berth", "s3cret");
    let bad = Credentials::new("berth", "wrong");
    let err = client.login(&registry, &bad).unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    client.login(&registry, &good).unwrap();

    let (_dir, store) = common::store();
    let image = common::build_image(&store, "amd64", "private");
    let target = reference(&format!("{registry}/private/app:1"));
    let err = client
        .push(
            &target,
            &store,
            &image,
            &PushOptions::default(),
            &mut |_| {},
        )
        .unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    assert!(err.to_string().contains("authentication required"), "{err}");
    let with = PushOptions {
        credentials: Some(&good),
        ..PushOptions::default()
    };
    let (pushed, _) = push(&client, &target, &store, &image, &with);

    let (_dst_dir, dst) = common::store();
    let err = client
        .pull(&target, &dst, &PullOptions::default(), &mut |_| {})
        .unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    let right = PullOptions {
        credentials: Some(&good),
        ..PullOptions::default()
    };
    let pulled = client.pull(&target, &dst, &right, &mut |_| {}).unwrap();
    assert_eq!(pulled.manifest_digest, pushed.digest);
}

/// Token authentication (grants in `token.rs`): alice pushes to team/, bob only pulls from
/// it, anyone pulls from public/.
#[test]
fn berth_client_logs_in_pushes_and_pulls_with_tokens() {
    let server = crate::token::token_server();
    let registry = server.addr.to_string();
    let client = Client::new(ClientConfig::default()).unwrap();
    let alice = Credentials::new("alice", "wonder");
    let bob = Credentials::new("bob", "builder");
    let err = client
        .login(&registry, &Credentials::new("alice", "nope"))
        .unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    client.login(&registry, &alice).unwrap();
    client.login(&registry, &bob).unwrap();

    let (_dir, store) = common::store();
    let image = common::build_image(&store, "amd64", "tokens");
    let as_user = |credentials| PushOptions {
        credentials: Some(credentials),
        ..PushOptions::default()
    };
    let team = reference(&format!("{registry}/team/app:1"));
    let (pushed, _) = push(&client, &team, &store, &image, &as_user(&alice));
    let public = reference(&format!("{registry}/public/app:1"));
    push(&client, &public, &store, &image, &as_user(&alice));
    let err = client
        .push(
            &reference(&format!("{registry}/team/app:2")),
            &store,
            &image,
            &as_user(&bob),
            &mut |_| {},
        )
        .unwrap_err();
    assert!(err.to_string().contains("denied"), "{err}");

    let pull = |target: &Reference, credentials| {
        let (_dir, dst) = common::store();
        let options = PullOptions {
            credentials,
            ..PullOptions::default()
        };
        client
            .pull(target, &dst, &options, &mut |_| {})
            .map(|pulled| pulled.manifest_digest)
    };
    assert_eq!(pull(&team, Some(&bob)).unwrap(), pushed.digest);
    assert_eq!(pull(&public, None).unwrap(), pushed.digest);
    let err = pull(&team, None).unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
}

/// An OCI image layout with one image (a config and a gzip layer) tagged `v1`.
fn oci_layout(dir: &Path) -> Digest {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let digest = Digest::of(bytes);
        fs::write(blobs.join(digest.hex()), bytes).unwrap();
        json!({"digest": digest, "size": bytes.len()})
    };
    let tar = common::tar(&[("hello.txt", b"hello from skopeo\n")]);
    let diff_id = Digest::of(&tar);
    let mut layer = put(&common::gzip(&tar));
    layer["mediaType"] = json!(media_type::OCI_LAYER_GZIP);
    let mut config = put(&common::config("amd64", &[diff_id]));
    config["mediaType"] = json!(media_type::OCI_CONFIG);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": config,
        "layers": [layer],
    }))
    .unwrap();
    let mut entry = put(&manifest);
    entry["mediaType"] = json!(media_type::OCI_MANIFEST);
    entry["annotations"] = json!({"org.opencontainers.image.ref.name": "v1"});
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = json!({"schemaVersion": 2, "manifests": [entry]});
    fs::write(dir.join("index.json"), index.to_string()).unwrap();
    Digest::of(&manifest)
}

#[test]
fn skopeo_copies_in_and_out_with_credentials() {
    if !have("skopeo") {
        return;
    }
    let server = TestServer::with(|config, dir| {
        config.htpasswd = Some(htpasswd(dir, "sk", "opeo"));
    });
    let work = tempfile::tempdir().unwrap();
    let (source, back) = (work.path().join("source"), work.path().join("back"));
    let manifest = oci_layout(&source);
    let remote = format!("docker://{}/skopeo/app:v1", server.addr);
    let skopeo = || {
        let mut command = Command::new("skopeo");
        command
            .arg("--insecure-policy")
            .env("REGISTRY_AUTH_FILE", work.path().join("auth.json"))
            .env("HOME", work.path());
        command
    };
    run(skopeo()
        .args(["copy", "--dest-tls-verify=false", "--dest-creds", "sk:opeo"])
        .arg(format!("oci:{}:v1", source.display()))
        .arg(&remote));
    // Without credentials, nothing.
    let denied = skopeo()
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(&remote)
        .output()
        .unwrap();
    assert!(!denied.status.success());

    let raw = run(skopeo()
        .args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            "sk:opeo",
        ])
        .arg(&remote));
    assert_eq!(Digest::of(&raw.stdout), manifest);
    let tags = run(skopeo()
        .args(["list-tags", "--tls-verify=false", "--creds", "sk:opeo"])
        .arg(format!("docker://{}/skopeo/app", server.addr)));
    let tags: serde_json::Value = serde_json::from_slice(&tags.stdout).unwrap();
    assert_eq!(tags["Tags"], json!(["v1"]));

    run(skopeo()
        .args(["copy", "--src-tls-verify=false", "--src-creds", "sk:opeo"])
        .arg(&remote)
        .arg(format!("oci:{}:v1", back.display())));
    for blob in fs::read_dir(source.join("blobs/sha256")).unwrap() {
        let name = blob.unwrap().file_name();
        assert_eq!(
            fs::read(source.join("blobs/sha256").join(&name)).unwrap(),
            fs::read(back.join("blobs/sha256").join(&name)).unwrap(),
            "{name:?}"
        );
    }

    run(skopeo()
        .args(["delete", "--tls-verify=false", "--creds", "sk:opeo"])
        .arg(format!("docker://{}/skopeo/app@{manifest}", server.addr)));
    let gone = server
        .http()
        .with_basic("sk", "opeo")
        .get("/v2/skopeo/app/manifests/v1");
    gone.assert_error(404, "MANIFEST_UNKNOWN");
}

#[test]
fn skopeo_copies_through_token_auth() {
    if !have("skopeo") {
        return;
    }
    let server = crate::token::token_server();
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("source");
    let manifest = oci_layout(&source);
    let skopeo = || {
        let mut command = Command::new("skopeo");
        command
            .arg("--insecure-policy")
            .env("REGISTRY_AUTH_FILE", work.path().join("auth.json"))
            .env("HOME", work.path());
        command
    };
    let copy_in = |repository: &str, creds: &str| {
        skopeo()
            .args(["copy", "--dest-tls-verify=false", "--dest-creds", creds])
            .arg(format!("oci:{}:v1", source.display()))
            .arg(format!("docker://{}/{repository}:v1", server.addr))
            .output()
            .unwrap()
    };
    let allowed = copy_in("public/app", "alice:wonder");
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    let denied = copy_in("team/app", "bob:builder");
    assert!(!denied.status.success());
    let stderr = String::from_utf8_lossy(&denied.stderr);
    assert!(stderr.contains("denied"), "{stderr}");

    // Anyone may read public/.
    let raw = run(skopeo()
        .args(["inspect", "--raw", "--tls-verify=false", "--no-creds"])
        .arg(format!("docker://{}/public/app:v1", server.addr)));
    assert_eq!(Digest::of(&raw.stdout), manifest);
    let back = work.path().join("back");
    run(skopeo()
        .args([
            "copy",
            "--src-tls-verify=false",
            "--src-creds",
            "bob:builder",
        ])
        .arg(format!("docker://{}/public/app:v1", server.addr))
        .arg(format!("oci:{}:v1", back.display())));
    assert!(back.join("blobs/sha256").join(manifest.hex()).exists());
}

#[test]
fn serves_https_with_the_configured_certificate() {
    if !have("openssl") || !have("curl") {
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null()));
    let tls = TlsConfig {
        certificate: cert.clone(),
        key,
    };
    let server = TestServer::with(|config, _| config.tls = Some(tls));
    let url = format!("https://{}/v2/", server.addr);
    let output = run(Command::new("curl")
        .args(["-sS", "--include", "--cacert"])
        .arg(&cert)
        .arg(&url));
    let text = String::from_utf8_lossy(&output.stdout).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 200"), "{text}");
    assert!(
        text.contains("docker-distribution-api-version: registry/2.0"),
        "{text}"
    );
    // Without trusting the certificate, no connection.
    let untrusted = Command::new("curl").args(["-sS", &url]).output().unwrap();
    assert!(!untrusted.status.success());
}

#[test]
fn tls_and_htpasswd_errors_surface_at_bind() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bind = |configure: &dyn Fn(&mut berth_registry::ServerConfig)| {
        let mut config = berth_registry::ServerConfig::new(dir.path().join("storage"));
        config.addr = "127.0.0.1:0".parse().unwrap();
        configure(&mut config);
        runtime
            .block_on(berth_registry::Server::bind(config))
            .unwrap_err()
            .to_string()
    };
    let err = bind(&|config| {
        config.tls = Some(TlsConfig {
            certificate: missing.clone(),
            key: missing.clone(),
        })
    });
    assert!(err.contains("missing.pem"), "{err}");
    fs::write(dir.path().join("plain"), "user:secret\n").unwrap();
    let err = bind(&|config| config.htpasswd = Some(dir.path().join("plain")));
    assert!(err.contains("bcrypt"), "{err}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = bind(&|config| config.addr = addr);
    assert!(err.contains(&addr.to_string()), "{err}");
}

const REFERENCE_NETNS_PID: &str = "/tmp/refdocker-netns.pid";
const REFERENCE_DAEMON_PID: &str = "/tmp/refdocker.pid";
const REFERENCE_SOCKET: &str = "unix:///tmp/refdocker.sock";

fn alive(pid_file: &str) -> Option<u32> {
    let pid: u32 = fs::read_to_string(pid_file).ok()?.trim().parse().ok()?;
    Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
}

/// Removes the images the docker test created, whatever happens to it.
struct DockerImages<'a> {
    docker: &'a dyn Fn() -> Command,
    references: Vec<String>,
}

impl Drop for DockerImages<'_> {
    fn drop(&mut self) {
        for reference in &self.references {
            let _ = (self.docker)().args(["rmi", "--force", reference]).output();
        }
    }
}

/// The network namespace of the reference Docker (20.10), if it runs: its daemon has its own,
/// so a server for it listens in there (the thread that binds enters it first). Started with
/// `/work/shared/tools/reference-dockerd start`; the tests neither start nor stop it.
fn reference_docker() -> Option<PathBuf> {
    let (Some(netns_pid), Some(_)) = (alive(REFERENCE_NETNS_PID), alive(REFERENCE_DAEMON_PID))
    else {
        eprintln!("skipping: the reference Docker is not running");
        return None;
    };
    have("docker").then(|| PathBuf::from(format!("/proc/{netns_pid}/ns/net")))
}

/// `docker login`, `push` and `pull` of the reference Docker against the server, with Basic
/// authentication.
#[test]
fn docker_cli_logs_in_pushes_and_pulls() {
    let Some(netns) = reference_docker() else {
        return;
    };
    let server = TestServer::in_netns(&netns, |config, dir| {
        config.htpasswd = Some(htpasswd(dir, "docker", "pushes"));
    });
    let check = server.http().with_basic("docker", "pushes");
    docker_round_trip(&server, "berth/test", ("docker", "pushes"), None, &check);
}

/// The same through token authentication; bob, who may only pull, is denied the push.
#[test]
fn docker_cli_logs_in_pushes_and_pulls_with_tokens() {
    let Some(netns) = reference_docker() else {
        return;
    };
    let server = crate::token::token_server_with(Some(&netns));
    let http = server.http();
    let check = http
        .clone()
        .with_bearer(&http.token(Some(("alice", "wonder")), &["repository:team/app:pull"]));
    docker_round_trip(
        &server,
        "team/app",
        ("alice", "wonder"),
        Some(("bob", "builder")),
        &check,
    );
}

/// Logs in as `pusher` and pushes an image to `repository`; then, as `puller` (who must be
/// denied a push) or `pusher`, pulls it back. `check` reads the registry directly.
fn docker_round_trip(
    server: &TestServer,
    repository: &str,
    pusher: (&str, &str),
    puller: Option<(&str, &str)>,
    check: &crate::support::Http,
) {
    let config_dir = tempfile::tempdir().unwrap();
    let docker = || {
        let mut command = Command::new("docker");
        command
            .env("DOCKER_HOST", REFERENCE_SOCKET)
            .env("DOCKER_CONFIG", config_dir.path());
        command
    };
    let unique = Digest::of(config_dir.path().to_string_lossy().as_bytes()).hex()[..12].to_owned();
    let local = format!("berth-registry-test:{unique}");
    let registry = format!("127.0.0.1:{}", server.addr.port());
    let remote = format!("{registry}/{repository}:{unique}");
    let _cleanup = DockerImages {
        docker: &docker,
        references: vec![local.clone(), remote.clone()],
    };
    let login = |(user, password): (&str, &str)| {
        let mut login = docker()
            .args(["login", "-u", user, "--password-stdin", &registry])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let mut stdin = login.stdin.take().unwrap();
            stdin.write_all(format!("{password}\n").as_bytes()).unwrap();
        }
        let login = login.wait_with_output().unwrap();
        assert!(
            login.status.success(),
            "{}",
            String::from_utf8_lossy(&login.stderr)
        );
    };

    let rootfs = config_dir.path().join("rootfs.tar");
    fs::write(&rootfs, common::tar(&[("etc/berth", unique.as_bytes())])).unwrap();
    run(docker().arg("import").arg(&rootfs).arg(&local));
    run(docker().args(["tag", &local, &remote]));

    let push = docker().args(["push", &remote]).output().unwrap();
    assert!(!push.status.success(), "pushed without credentials");
    login(pusher);
    let push = run(docker().args(["push", &remote]));
    let text = String::from_utf8_lossy(&push.stdout).into_owned();
    let digest = text
        .split_whitespace()
        .skip_while(|word| *word != "digest:")
        .nth(1)
        .unwrap_or_else(|| panic!("no digest in {text}"))
        .to_owned();
    let manifest = check.get(&format!("/v2/{repository}/manifests/{unique}"));
    assert_eq!(manifest.status, 200);
    assert_eq!(
        manifest.header("docker-content-digest"),
        Some(digest.as_str())
    );
    assert_eq!(manifest.header("content-type"), Some(DOCKER_MANIFEST));

    if let Some(puller) = puller {
        login(puller);
        let again = format!("{registry}/{repository}:again-{unique}");
        run(docker().args(["tag", &local, &again]));
        let push = docker().args(["push", &again]).output().unwrap();
        let _ = docker().args(["rmi", &again]).output();
        assert!(!push.status.success(), "pushed without the grant");
        let stderr = String::from_utf8_lossy(&push.stderr);
        assert!(stderr.contains("denied"), "{stderr}");
    }
    run(docker().args(["rmi", &local, &remote]));
    let pull = run(docker().args(["pull", &remote]));
    let text = String::from_utf8_lossy(&pull.stdout);
    assert!(text.contains(&format!("Digest: {digest}")), "{text}");
    let inspect = run(docker().args([
        "image",
        "inspect",
        "--format",
        "{{json .RepoDigests}}",
        &remote,
    ]));
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(text.contains(&digest), "{text}");
}
