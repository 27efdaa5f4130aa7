//! Pull, push and login against a real registry (Debian's docker-registry on 127.0.0.1),
//! through the real docker CLI.

use berth_testkit::{Daemon, Registry, Requirement::*, ok, require, stderr, stdout};

#[test]
fn push_then_pull_round_trip() {
    if !require(&[Root, Busybox, DockerCli, DockerRegistry]) {
        return;
    }
    let registry = Registry::start();
    let d = Daemon::start();
    d.load_busybox();
    let name = format!("{}/team/busybox:1", registry.addr);
    ok(&d.docker(&["tag", "busybox", &name]));
    let id = ok(&d.docker(&["image", "inspect", "-f", "{{.Id}}", &name]));
    let pushed = d.docker(&["push", &name]);
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    assert!(
        stdout(&pushed).contains("1: digest: sha256:"),
        "{}",
        stdout(&pushed)
    );
    let again = ok(&d.docker(&["push", &name]));
    assert!(again.contains("Layer already exists"), "{again}");

    ok(&d.docker(&["rmi", &name, "busybox"]));
    let pulled = ok(&d.docker(&["pull", &name]));
    assert!(
        pulled.contains("Pull complete") && pulled.contains("Downloaded newer image"),
        "{pulled}"
    );
    assert_eq!(
        ok(&d.docker(&["image", "inspect", "-f", "{{.Id}}", &name])),
        id,
        "same image id after the round trip"
    );
    let digests = ok(&d.docker(&[
        "image",
        "inspect",
        "-f",
        "{{range .RepoDigests}}{{.}}{{end}}",
        &name,
    ]));
    assert!(digests.contains("/team/busybox@sha256:"), "{digests}");
    assert_eq!(
        ok(&d.docker(&["run", "--rm", &name, "echo", "pulled"])),
        "pulled\n"
    );
    let up_to_date = ok(&d.docker(&["pull", &name]));
    assert!(up_to_date.contains("Image is up to date"), "{up_to_date}");

    let missing = d.docker(&["pull", &format!("{}/team/nosuch:1", registry.addr)]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("not found") || stderr(&missing).contains("unknown"),
        "{}",
        stderr(&missing)
    );
    // `run` of an image that is not here pulls it first, as docker does.
    ok(&d.docker(&["rmi", &name]));
    assert_eq!(
        ok(&d.docker(&["run", "--rm", &name, "echo", "auto-pulled"])),
        "auto-pulled\n"
    );
}

/// One HTTP/1.0 GET to `addr`, as (status, body).
fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nUser-Agent: berth-e2e\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn berth_registry_serve_answers_health_checks_and_logs_each_request() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    // The settings in a Distribution-style config.yml.
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nhttp:\n  addr: {addr}\nstorage:\n  filesystem:\n    rootdirectory: {}\n",
            storage.display()
        ),
    )
    .unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "storage:\n  s3:\n    bucket: b\n").unwrap();
    let refused = std::process::Command::new(berth_testkit::bin("berth"))
        .args(["registry", "serve", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("storage driver \"s3\" is not supported"),
        "{}",
        stderr(&refused)
    );
    let log = std::fs::File::create(dir.path().join("stderr")).unwrap();
    let mut server = std::process::Command::new(berth_testkit::bin("berth"))
        .args(["registry", "serve", "--config"])
        .arg(&config)
        .stderr(log)
        .spawn()
        .unwrap();
    berth_testkit::wait_for_listener(&addr);
    assert_eq!(
        http_get(&addr, "/health"),
        (200, r#"{"status":"ok"}"#.to_string())
    );
    assert_eq!(http_get(&addr, "/v2/").0, 200);
    std::fs::rename(&storage, dir.path().join("gone")).unwrap();
    let (status, body) = http_get(&addr, "/health");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("unavailable"), "{body}");
    // SIGTERM: a graceful stop, status 0.
    // SAFETY: kill(2) on the child this test spawned and has not reaped.
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    assert!(server.wait().unwrap().success());
    let logged = std::fs::read_to_string(dir.path().join("stderr")).unwrap();
    for line in [
        "\"GET /health\" 200",
        "\"GET /v2/\" 200",
        "\"GET /health\" 503",
    ] {
        assert!(logged.contains(line), "{line} in the access log:\n{logged}");
    }
    assert!(
        logged.contains("\"berth-e2e\""),
        "the user agent is logged:\n{logged}"
    );
}

#[test]
fn pull_all_tags_fetches_every_tag_of_the_repository() {
    if !require(&[Root, Busybox, DockerCli, DockerRegistry]) {
        return;
    }
    let registry = Registry::start();
    let d = Daemon::start();
    d.load_busybox();
    let repository = format!("{}/team/tags", registry.addr);
    for tag in ["one", "two"] {
        let name = format!("{repository}:{tag}");
        ok(&d.docker(&["tag", "busybox", &name]));
        let pushed = d.docker(&["push", &name]);
        assert!(pushed.status.success(), "{}", stderr(&pushed));
        ok(&d.docker(&["rmi", &name]));
    }
    let pulled = ok(&d.docker(&["pull", "-a", &repository]));
    assert!(pulled.contains("one: Pulling from team/tags\n"), "{pulled}");
    assert!(
        pulled.contains(&format!("Status: Downloaded newer image for {repository}")),
        "{pulled}"
    );
    let tags = ok(&d.docker(&["images", "--format", "{{.Tag}}", &repository]));
    let mut tags: Vec<&str> = tags.lines().collect();
    tags.sort_unstable();
    assert_eq!(tags, ["one", "two"]);
    // berth's own pull -a, with everything present: up to date.
    let again = ok(&d.berth(&["pull", "-a", &repository]));
    assert!(again.contains("Image is up to date for"), "{again}");
}

#[test]
fn berth_login_has_the_daemon_check_the_credentials_first() {
    if !require(&[Root, Busybox]) {
        return;
    }
    let d = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let (_registry, addr) = registry_with_user(dir.path(), "alice", "s3cret");
    // The CLI's config.json goes to a directory of the test's own.
    let config = dir.path().join("docker-config");
    // A credential helper of the test's own, on the CLI's PATH.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-berthtest");
    std::fs::write(&helper, CREDENTIAL_HELPER).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let berth = |args: &[&str]| {
        let mut cmd = d.berth_command();
        cmd.env("DOCKER_CONFIG", &config)
            .env("PATH", &path)
            .args(args);
        cmd
    };
    let login = |password: &str| {
        let mut cmd = berth(&["login", "-u", "alice", "--password-stdin", &addr]);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        use std::io::Write;
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let refused = login("wrong");
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("Error response from daemon"),
        "{}",
        stderr(&refused)
    );
    assert!(
        !config.join("config.json").exists(),
        "nothing stored for refused credentials"
    );
    let accepted = login("s3cret");
    assert!(accepted.status.success(), "{}", stderr(&accepted));
    assert!(stdout(&accepted).contains("Login Succeeded"));
    let saved = std::fs::read_to_string(config.join("config.json")).unwrap();
    assert!(saved.contains(&addr), "{saved}");

    // With a credsStore, the helper keeps the secret and config.json only lists the registry;
    // a push to the registry, which needs the credentials, gets them from the helper.
    std::fs::write(config.join("config.json"), r#"{"credsStore": "berthtest"}"#).unwrap();
    assert!(login("s3cret").status.success());
    let saved = std::fs::read_to_string(config.join("config.json")).unwrap();
    assert!(
        !saved.contains("\"auth\""),
        "the secret is the helper's: {saved}"
    );
    let kept = dir.path().join("helper-store");
    assert_eq!(std::fs::read_dir(&kept).unwrap().count(), 1);
    d.load_busybox();
    let image = format!("{addr}/team/helped:1");
    ok(&d.berth(&["tag", "busybox", &image]));
    let pushed = berth(&["push", &image]).output().unwrap();
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    assert!(berth(&["logout", &addr]).status().unwrap().success());
    assert_eq!(
        std::fs::read_dir(&kept).unwrap().count(),
        0,
        "erased by logout"
    );
}

/// A credential helper (`docker-credential-<name> get|store|erase`) keeping each server's
/// JSON in a file under `../helper-store`.
const CREDENTIAL_HELPER: &str = r#"#!/bin/sh
store="$(dirname "$0")/../helper-store"
mkdir -p "$store"
key() { printf '%s' "$1" | tr '/:' '__'; }
case "$1" in
store)
  input=$(cat)
  server=$(printf '%s' "$input" | sed 's/.*"ServerURL":"\([^"]*\)".*/\1/')
  printf '%s' "$input" > "$store/$(key "$server")" ;;
get)
  server=$(cat)
  if [ -f "$store/$(key "$server")" ]; then cat "$store/$(key "$server")"
  else echo "credentials not found in native keychain"; exit 1; fi ;;
erase)
  server=$(cat)
  rm -f "$store/$(key "$server")" ;;
esac
"#;

#[test]
fn run_pull_policies_decide_when_berth_pulls() {
    if !require(&[Root, Busybox, DockerRegistry]) {
        return;
    }
    let registry = Registry::start();
    let d = Daemon::start();
    d.load_busybox();
    let image = format!("{}/p/busybox:1", registry.addr);
    ok(&d.berth(&["tag", "busybox", &image]));
    ok(&d.berth(&["push", &image]));
    ok(&d.berth(&["rmi", &image]));
    let said = |out: &std::process::Output| format!("{}{}", stdout(out), stderr(out));

    let never = d.berth(&["run", "--rm", "--pull", "never", &image, "true"]);
    assert!(!never.status.success());
    assert!(!said(&never).contains("Pulling from"), "{}", said(&never));
    let missing = d.berth(&["run", "--rm", &image, "true"]);
    assert!(missing.status.success(), "{}", said(&missing));
    assert!(
        said(&missing).contains("Unable to find image"),
        "{}",
        said(&missing)
    );
    // Present now: `missing` pulls no more, `always` asks the registry again.
    let present = d.berth(&["run", "--rm", &image, "true"]);
    assert!(
        !said(&present).contains("Pulling from"),
        "{}",
        said(&present)
    );
    let always = d.berth(&["run", "--rm", "--pull", "always", &image, "true"]);
    assert!(always.status.success(), "{}", said(&always));
    assert!(
        said(&always).contains("Pulling from p/busybox"),
        "{}",
        said(&always)
    );
    let bad = d.berth(&["run", "--rm", "--pull", "sometimes", &image, "true"]);
    assert!(!bad.status.success());
}

/// A `berth registry serve` of the test's, ended (by pid) when dropped, pass or fail.
struct ServingRegistry(std::process::Child);

impl Drop for ServingRegistry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `berth registry serve` on a free loopback port with its storage under `dir` and `extra`
/// flags, once it answers.
/// `berth registry serve` wanting `user`'s `password` (htpasswd Basic auth).
fn registry_with_user(
    dir: &std::path::Path,
    user: &str,
    password: &str,
) -> (ServingRegistry, String) {
    let htpasswd = dir.join("htpasswd");
    let line = format!("{user}:{}\n", bcrypt::hash(password, 4).unwrap());
    std::fs::write(&htpasswd, line).unwrap();
    berth_registry(dir, &["--htpasswd", htpasswd.to_str().unwrap()])
}

fn berth_registry(dir: &std::path::Path, extra: &[&str]) -> (ServingRegistry, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let child = std::process::Command::new(berth_testkit::bin("berth"))
        .args([
            "registry",
            "serve",
            "--addr",
            &addr,
            "--log-level",
            "warn",
            "--storage",
        ])
        .arg(dir.join("storage"))
        .args(extra)
        .spawn()
        .unwrap();
    berth_testkit::wait_for_listener(&addr);
    (ServingRegistry(child), addr)
}

#[test]
fn search_finds_the_repositories_of_the_registry_the_term_names() {
    if !require(&[Root, Busybox, DockerCli]) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let dir = tempfile::tempdir().unwrap();
    let (_registry, addr) = berth_registry(dir.path(), &[]);
    for repository in ["team/alpha", "team/beta", "other/gamma"] {
        let name = format!("{addr}/{repository}:1");
        ok(&d.berth(&["tag", "busybox", &name]));
        ok(&d.berth(&["push", &name]));
    }
    let term = format!("{addr}/team");
    let table = ok(&d.docker(&["search", &term]));
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "DESCRIPTION", "STARS", "OFFICIAL"]);
    let names: Vec<&str> = lines.filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(names, ["team/alpha", "team/beta"]);
    assert_eq!(
        ok(&d.berth(&[
            "search",
            "--limit",
            "1",
            "--format",
            "{{.Name}} {{.StarCount}}",
            &term
        ])),
        "team/alpha 0\n"
    );
    assert_eq!(
        ok(&d.berth(&["search", &term])),
        table,
        "berth's table is docker's"
    );
    let bad = d.berth(&["search", "--limit", "101", &term]);
    assert!(
        stderr(&bad).contains("outside the range"),
        "{}",
        stderr(&bad)
    );
}

/// `compose build`, `push` and `pull` against a registry that wants credentials: the ones
/// `login` stored are sent, as docker compose sends them.
#[test]
fn compose_builds_pushes_and_pulls_with_the_stored_credentials() {
    if !require(&[Root, Busybox]) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let dir = tempfile::tempdir().unwrap();
    let (_registry, addr) = registry_with_user(dir.path(), "bob", "pw");
    let project = dir.path().join("app");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("Dockerfile"),
        "FROM busybox\nRUN echo built-by-compose > /built\n",
    )
    .unwrap();
    let image = format!("{addr}/team/composed:1");
    std::fs::write(
        project.join("compose.yaml"),
        format!("services:\n  app:\n    image: {image}\n    build: .\n"),
    )
    .unwrap();
    let config = dir.path().join("docker-config");
    let file = project.join("compose.yaml");
    let berth = |args: &[&str]| {
        let mut cmd = d.berth_command();
        cmd.env("DOCKER_CONFIG", &config).args(args);
        cmd.output().unwrap()
    };
    let compose = |args: &[&str]| {
        let mut all = vec!["compose", "-f", file.to_str().unwrap()];
        all.extend_from_slice(args);
        berth(&all)
    };

    ok(&compose(&["build"]));
    let built = ok(&berth(&["run", "--rm", &image, "cat", "/built"]));
    assert_eq!(built, "built-by-compose\n");
    let refused = compose(&["push"]);
    assert!(!refused.status.success(), "pushed without credentials");
    assert!(
        stderr(&refused).contains("no basic auth credentials")
            || stderr(&refused).contains("unauthorized"),
        "{}",
        stderr(&refused)
    );

    let mut login = d.berth_command();
    login
        .env("DOCKER_CONFIG", &config)
        .args(["login", "-u", "bob", "-p", "pw", &addr]);
    ok(&login.output().unwrap());
    ok(&compose(&["push"]));
    ok(&berth(&["rmi", &image]));
    ok(&compose(&["pull"]));
    let pulled = ok(&berth(&["run", "--rm", &image, "cat", "/built"]));
    assert_eq!(pulled, "built-by-compose\n");
}
