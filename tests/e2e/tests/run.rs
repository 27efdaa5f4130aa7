//! `berth run` end to end: a real berthd, real namespaces and overlayfs, the berth CLI.

use berth_testkit::{Daemon, Requirement::*, ok, require, stderr, stdout};

fn busybox_daemon() -> Option<Daemon> {
    if !require(&[Root, Busybox]) {
        return None;
    }
    let d = Daemon::start();
    d.load_busybox();
    Some(d)
}

#[test]
fn hello_world_is_built_in() {
    if !require(&[Root]) {
        return;
    }
    let d = Daemon::start();
    let out = d.berth(&["run", "hello-world"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(
        stdout(&out).contains("Hello from berth!"),
        "{}",
        stdout(&out)
    );

    // After rmi, the next run seeds it again, as a pull would.
    let ids = ok(&d.berth(&["ps", "-aq"]));
    for id in ids.lines() {
        ok(&d.berth(&["rm", id]));
    }
    ok(&d.berth(&["rmi", "hello-world"]));
    assert!(!ok(&d.berth(&["images"])).contains("hello-world"));
    let out = d.berth(&["run", "--rm", "hello-world"]);
    assert!(
        stdout(&out).contains("Hello from berth!"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn env_workdir_entrypoint_and_args() {
    let Some(d) = busybox_daemon() else { return };
    let out = ok(&d.berth(&[
        "run",
        "--rm",
        "-e",
        "GREETING=hi there",
        "-w",
        "/tmp",
        "busybox",
        "sh",
        "-c",
        "echo \"$GREETING\"; pwd",
    ]));
    assert_eq!(out, "hi there\n/tmp\n");
    let out = ok(&d.berth(&["run", "--rm", "--entrypoint", "echo", "busybox", "a", "b"]));
    assert_eq!(out, "a b\n");
    // pid namespace, hostname from the id, root user
    let out = ok(&d.berth(&[
        "run",
        "--rm",
        "--hostname",
        "box",
        "busybox",
        "sh",
        "-c",
        "echo $$; hostname; id -u",
    ]));
    assert_eq!(out, "1\nbox\n0\n");
}

#[test]
fn exit_codes_propagate() {
    let Some(d) = busybox_daemon() else { return };
    let out = d.berth(&["run", "--rm", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    let out = d.berth(&["run", "--rm", "busybox", "no-such-command"]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("executable file not found"),
        "{}",
        stderr(&out)
    );
    // Missing here and on its registry (a closed port on loopback: no traffic leaves).
    let out = d.berth(&["run", "--rm", "127.0.0.1:9/no-such-image"]);
    assert_eq!(out.status.code(), Some(125));
}

#[test]
fn stdout_and_stderr_stay_apart() {
    let Some(d) = busybox_daemon() else { return };
    let out = d.berth(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    assert_eq!(stdout(&out), "out\n");
    assert_eq!(stderr(&out), "err\n");
}

#[test]
fn detached_containers_log_and_stop() {
    let Some(d) = busybox_daemon() else { return };
    let id = ok(&d.berth(&[
        "run",
        "-d",
        "--name",
        "talker",
        "busybox",
        "sh",
        "-c",
        "echo one; echo two >&2; sleep 30",
    ]));
    let id = id.trim();
    assert_eq!(id.len(), 64);
    let mut logs = String::new();
    for _ in 0..100 {
        logs = ok(&d.berth(&["logs", "talker"]));
        if logs.contains("one") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(logs, "one\n");
    let out = d.berth(&["logs", "talker"]);
    assert_eq!(stderr(&out), "two\n");
    let ps = ok(&d.berth(&["ps"]));
    assert!(ps.contains("talker") && ps.contains("Up "), "{ps}");
    ok(&d.berth(&["stop", "-t", "1", "talker"]));
    let state = ok(&d.berth(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}}",
        "talker",
    ]));
    assert_eq!(
        state.trim(),
        "exited 137",
        "sh ignores SIGTERM as pid 1, so stop ends with SIGKILL"
    );
    assert!(
        ok(&d.berth(&[
            "ps",
            "-a",
            "--filter",
            "status=exited",
            "--format",
            "{{.Names}}"
        ]))
        .contains("talker")
    );
    ok(&d.berth(&["rm", "talker"]));
    assert!(!d.data_root().join("containers").join(id).exists());
}

#[test]
fn writes_stay_in_the_container() {
    let Some(d) = busybox_daemon() else { return };
    ok(&d.berth(&[
        "run",
        "--name",
        "writer",
        "busybox",
        "sh",
        "-c",
        "echo data > /etc/marker",
    ]));
    let out = ok(&d.berth(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "cat /etc/marker 2>/dev/null || echo absent",
    ]));
    assert_eq!(out, "absent\n");
    let id = ok(&d.berth(&["inspect", "-f", "{{.Id}}", "writer"]));
    let upper = d
        .data_root()
        .join("containers")
        .join(id.trim())
        .join("upper/etc/marker");
    assert_eq!(std::fs::read_to_string(upper).unwrap(), "data\n");
}

#[test]
fn rm_refuses_running_and_forces() {
    let Some(d) = busybox_daemon() else { return };
    ok(&d.berth(&["run", "-d", "--name", "busy", "busybox", "sleep", "60"]));
    let out = d.berth(&["rm", "busy"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("container is running"),
        "{}",
        stderr(&out)
    );
    ok(&d.berth(&["rm", "-f", "busy"]));
    assert_eq!(ok(&d.berth(&["ps", "-aq"])), "");
}
