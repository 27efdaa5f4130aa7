//! The real `docker` CLI (28.x) against berthd.

use berth_testkit::{Daemon, Requirement::*, ok, require, stderr, stdout};

fn daemon() -> Option<Daemon> {
    require(&[Root, Busybox, DockerCli]).then(|| {
        let d = Daemon::start();
        d.load_busybox();
        d
    })
}

#[test]
fn docker_version_shows_the_server() {
    let Some(d) = daemon() else { return };
    let out = ok(&d.docker(&[
        "version",
        "--format",
        "{{.Server.Version}} {{.Server.APIVersion}}",
    ]));
    assert_eq!(out.trim(), format!("{} 1.47", env!("CARGO_PKG_VERSION")));
}

#[test]
fn docker_run_ps_rm_rmi() {
    let Some(d) = daemon() else { return };
    let out = d.docker(&["run", "--rm", "busybox", "echo", "hello docker"]);
    assert_eq!(stdout(&out), "hello docker\n", "stderr: {}", stderr(&out));
    let out = d.docker(&["run", "--name", "c1", "busybox", "sh", "-c", "exit 4"]);
    assert_eq!(out.status.code(), Some(4), "stderr: {}", stderr(&out));
    let ps = ok(&d.docker(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]));
    assert!(ps.contains("c1 Exited (4)"), "{ps}");
    let images = ok(&d.docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"]));
    assert!(
        images.contains("busybox:latest") && images.contains("hello-world:latest"),
        "{images}"
    );
    ok(&d.docker(&["rm", "c1"]));
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "bg",
        "busybox",
        "sh",
        "-c",
        "echo from-bg; sleep 30",
    ]));
    let mut logs = String::new();
    for _ in 0..100 {
        logs = ok(&d.docker(&["logs", "bg"]));
        if !logs.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(logs, "from-bg\n");
    ok(&d.docker(&["rm", "-f", "bg"]));
    let out = ok(&d.docker(&["rmi", "hello-world"]));
    assert!(out.contains("Untagged: hello-world:latest"), "{out}");
}

#[test]
fn docker_save_and_load() {
    let Some(d) = daemon() else { return };
    let saved = d.docker(&["save", "busybox"]);
    assert!(saved.status.success(), "{}", stderr(&saved));
    ok(&d.docker(&["rmi", "busybox"]));
    let out = ok(&d.docker_with_stdin(&["load"], &saved.stdout));
    assert!(out.contains("Loaded image: busybox:latest"), "{out}");
    assert_eq!(
        ok(&d.docker(&["run", "--rm", "busybox", "echo", "ok"])),
        "ok\n"
    );
}
