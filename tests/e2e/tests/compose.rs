//! `berth compose` end to end: the CLI's commands on a project against a real berthd (the
//! orchestration itself is tested in berth-compose's live tests).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Output;

use berth_testkit::{Daemon, Requirement::*, ok, require, stderr, stdout};

const PROJECT: &str = r#"
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "mkdir -p /srv && echo hello-from-web > /srv/index.html && exec busybox httpd -f -p 80 -h /srv"]
    ports: ["80"]
  db:
    image: busybox:latest
    command: ["sleep", "1000"]
    environment:
      LEVEL: high
"#;

struct Project<'d> {
    daemon: &'d Daemon,
    file: String,
    name: &'static str,
}

impl Project<'_> {
    fn compose(&self, args: &[&str]) -> Output {
        let mut all = vec!["compose", "-f", &self.file, "-p", self.name];
        all.extend_from_slice(args);
        self.daemon.berth(&all)
    }
}

impl Drop for Project<'_> {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "-v", "-t", "0"]);
    }
}

fn state(d: &Daemon, container: &str) -> String {
    ok(&d.berth(&["inspect", "--format", "{{.State.Status}}", container]))
        .trim()
        .to_string()
}

fn http_get(address: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .write_all(b"GET /index.html HTTP/1.0\r\nHost: test\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// A daemon with the busybox image, when `needs` are met.
fn daemon(needs: &[berth_testkit::Requirement]) -> Option<Daemon> {
    if !require(needs) {
        return None;
    }
    let d = Daemon::start();
    d.load_busybox();
    Some(d)
}

fn write_project(dir: &Path) -> String {
    let file = dir.join("compose.yaml");
    std::fs::write(&file, PROJECT).unwrap();
    file.to_str().unwrap().to_string()
}

#[test]
fn exec_run_port_images_top_pause_kill() {
    let Some(d) = daemon(&[Root, Busybox]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = Project {
        daemon: &d,
        file: write_project(dir.path()),
        name: "cli",
    };
    ok(&p.compose(&["up", "-d"]));

    // exec: the service's environment, and the command's exit status passed on.
    let out = p.compose(&["exec", "db", "sh", "-c", "echo $LEVEL; exit 3"]);
    assert_eq!(
        (stdout(&out).as_str(), out.status.code()),
        ("high\n", Some(3)),
        "{}",
        stderr(&out)
    );
    let out = p.compose(&["exec", "--index", "2", "db", "true"]);
    assert!(
        stderr(&out).contains("service \"db\" is not running container #2"),
        "{}",
        stderr(&out)
    );

    // run: a one-off container, removed with --rm, kept in the background with -d.
    let out = p.compose(&[
        "run",
        "--rm",
        "db",
        "sh",
        "-c",
        "echo one-off $LEVEL; exit 4",
    ]);
    assert_eq!(
        (stdout(&out).as_str(), out.status.code()),
        ("one-off high\n", Some(4)),
        "{}",
        stderr(&out)
    );
    let oneoffs = [
        "ps",
        "-aq",
        "--filter",
        "label=com.docker.compose.oneoff=True",
    ];
    assert_eq!(ok(&d.berth(&oneoffs)), "");
    let out = ok(&p.compose(&["run", "--rm", "--entrypoint", "echo hi", "db", "there"]));
    assert_eq!(out, "hi there\n");
    let name = ok(&p.compose(&["run", "-d", "db", "sleep", "30"]));
    assert!(name.starts_with("cli-db-run-"), "{name}");
    assert_eq!(state(&d, name.trim()), "running");
    assert_eq!(ok(&d.berth(&oneoffs)).lines().count(), 1);

    // port: where web's port 80 went; the page is served there.
    let address = ok(&p.compose(&["port", "web", "80"]));
    let port = address.trim().strip_prefix("0.0.0.0:").expect(&address);
    let page = http_get(&format!("127.0.0.1:{port}"));
    assert!(page.ends_with("hello-from-web\n"), "{page}");
    let out = p.compose(&["port", "web", "81"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no port 81/tcp"), "{}", stderr(&out));

    // images: one row per service container, and -q the image once.
    let id = ok(&d.berth(&["inspect", "--format", "{{.Id}}", "busybox"]));
    let hex = id.trim().strip_prefix("sha256:").unwrap();
    let table = ok(&p.compose(&["images"]));
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        ["CONTAINER", "REPOSITORY", "TAG", "IMAGE", "ID", "SIZE"]
    );
    assert_eq!(rows[1][..4], ["cli-db-1", "busybox", "latest", &hex[..12]]);
    assert_eq!(rows[2][0], "cli-web-1");
    assert_eq!(ok(&p.compose(&["images", "-q"])), format!("{hex}\n"));

    // top: each container, then its processes.
    let top = ok(&p.compose(&["top", "db"]));
    let mut lines = top.lines();
    assert_eq!(lines.next(), Some("cli-db-1"));
    assert!(lines.next().unwrap().starts_with("UID "), "{top}");
    assert!(top.contains("sleep 1000"), "{top}");

    // pause, unpause, kill.
    ok(&p.compose(&["pause", "db"]));
    assert_eq!(state(&d, "cli-db-1"), "paused");
    ok(&p.compose(&["unpause", "db"]));
    assert_eq!(state(&d, "cli-db-1"), "running");
    ok(&p.compose(&["kill", "db"]));
    assert_eq!(ok(&d.berth(&["wait", "cli-db-1"])), "137\n");
    assert_eq!(state(&d, "cli-web-1"), "running");

    let version = ok(&p.compose(&["version", "--short"]));
    assert_eq!(version.trim(), env!("CARGO_PKG_VERSION"));

    ok(&p.compose(&["down", "-t", "0"]));
    let left = [
        "ps",
        "-aq",
        "--filter",
        "label=com.docker.compose.project=cli",
    ];
    assert_eq!(ok(&d.berth(&left)), "");
}

/// Debian's docker-compose 1.29 (Python, docker-py) drives the same project through berthd.
#[test]
fn docker_compose_1_29_brings_a_project_up_and_down() {
    let Some(d) = daemon(&[Root, Busybox, DockerCompose]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = write_project(dir.path());
    let compose = |args: &[&str]| {
        std::process::Command::new("docker-compose")
            .args(["-f", &file, "-p", "legacy"])
            .args(args)
            .env("DOCKER_HOST", d.host())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    taking_down_on_failure(&compose, || {
        ok(&compose(&["up", "-d"]));
        let ps = ok(&compose(&["ps"]));
        assert!(
            ps.contains("legacy_db_1") && ps.contains("legacy_web_1"),
            "{ps}"
        );
        assert_eq!(
            ok(&compose(&["exec", "-T", "db", "sh", "-c", "echo $LEVEL"])),
            "high\n"
        );
        assert_eq!(
            ok(&compose(&["run", "--rm", "db", "echo", "one-off"])),
            "one-off\n"
        );
        let address = ok(&compose(&["port", "web", "80"]));
        let port = address.trim().rsplit(':').next().unwrap().to_string();
        let page = http_get(&format!("127.0.0.1:{port}"));
        assert!(page.ends_with("hello-from-web\n"), "{page}");
        ok(&compose(&["down"]));
        let left = [
            "ps",
            "-aq",
            "--filter",
            "label=com.docker.compose.project=legacy",
        ];
        assert_eq!(ok(&d.berth(&left)), "");
        let networks = ok(&d.berth(&["network", "ls", "-q", "--filter", "name=legacy_default"]));
        assert_eq!(networks, "");
    });
}

/// Runs `scenario`; should it fail, takes the project down before passing the failure on.
fn taking_down_on_failure(
    compose: &dyn Fn(&[&str]) -> Output,
    scenario: impl FnOnce() + std::panic::UnwindSafe,
) {
    if let Err(failure) = std::panic::catch_unwind(scenario) {
        let _ = compose(&["down", "-t", "0"]);
        std::panic::resume_unwind(failure);
    }
}

/// The README's example project (examples/compose): both images built locally, the page
/// served on the published port, the database stand-in reached by its service name.
#[test]
fn the_example_project_runs_with_locally_built_images() {
    let Some(d) = daemon(&[Root, Busybox]) else {
        return;
    };
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/compose/compose.yaml"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let compose = |args: &[&str]| {
        let mut cmd = d.berth_command();
        cmd.args(["compose", "-f", file, "-p", "example"])
            .args(args)
            .env("WEB_PORT", &port);
        cmd.output().unwrap()
    };
    taking_down_on_failure(&compose, || {
        ok(&compose(&["up", "-d", "--build"]));
        let page = http_get(&format!("127.0.0.1:{port}"));
        assert!(page.contains("<h1>Hello from berth compose</h1>"), "{page}");
        let answer = ok(&compose(&[
            "exec",
            "web",
            "sh",
            "-c",
            "nc db 5432 </dev/null",
        ]));
        assert_eq!(answer, "database shop ready\n");
        ok(&compose(&["down", "--rmi", "all"]));
        let images = ok(&d.berth(&["images", "--format", "{{.Repository}}"]));
        assert!(!images.contains("example-"), "{images}");
    });
}

#[test]
fn bad_exec_and_run_requests_change_nothing() {
    let Some(d) = daemon(&[Root, Busybox]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = Project {
        daemon: &d,
        file: write_project(dir.path()),
        name: "bad",
    };
    let out = p.compose(&["exec", "db", "true"]);
    assert!(
        stderr(&out).contains("service \"db\" is not running"),
        "{}",
        stderr(&out)
    );
    for args in [
        &["exec", "nosuch", "true"][..],
        &["run", "--rm", "nosuch"],
        &["run", "--entrypoint", "sh -c 'x", "db"],
        &["run", "-p", "99999:80", "db"],
        &["exec", "db"],
        &["port", "web", "http"],
    ] {
        let out = p.compose(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(!stderr(&out).is_empty(), "{args:?} said nothing");
    }
    assert_eq!(
        ok(&d.berth(&["ps", "-aq"])),
        "",
        "a refusal created a container"
    );
}
