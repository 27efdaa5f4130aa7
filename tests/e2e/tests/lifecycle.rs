//! The container lifecycle end to end: signals, stop signals, restart, rename, top, exec,
//! stdin, and containers that end while berthd is down. Driven through the real docker CLI
//! where it has the command, as users do.

use berth_testkit::{Daemon, Requirement::*, ok, require, stderr, stdout};
use std::time::{Duration, Instant};

fn daemon() -> Option<Daemon> {
    require(&[Root, Busybox, DockerCli]).then(|| {
        let d = Daemon::start();
        d.load_busybox();
        d
    })
}

/// Polls `f` until it returns true (5 s at most).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

const TRAP_USR1: &str =
    "trap 'echo got usr1; exit 5' USR1; echo ready; while true; do sleep 0.05; done";

#[test]
fn signals_reach_pid_1() {
    let Some(d) = daemon() else { return };
    ok(&d.docker(&[
        "run", "-d", "--name", "sig", "busybox", "sh", "-c", TRAP_USR1,
    ]));
    eventually("the trap", || {
        ok(&d.docker(&["logs", "sig"])).contains("ready")
    });
    ok(&d.docker(&["kill", "-s", "USR1", "sig"]));
    assert_eq!(ok(&d.docker(&["wait", "sig"])).trim(), "5");
    assert!(ok(&d.docker(&["logs", "sig"])).contains("got usr1"));
    let out = d.docker(&["kill", "sig"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is not running"), "{}", stderr(&out));
    let out = d.docker(&["kill", "-s", "SIGNOPE", "sig"]);
    assert!(!out.status.success());

    // A SIGKILL is answered once the container has stopped, as Docker does: a start right
    // after starts it again (rather than finding it still running). Many processes make the
    // container's end take a while after the signal.
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "crowd",
        "busybox",
        "sh",
        "-c",
        "for i in $(seq 400); do sleep 1000 & done; echo ready; wait",
    ]));
    for _ in 0..3 {
        eventually("the crowd", || {
            ok(&d.docker(&["logs", "crowd"])).contains("ready")
        });
        let killed = d.api("POST", "/containers/crowd/kill", None).unwrap();
        assert_eq!(killed.status, 204, "{}", killed.text());
        let state = d.api("GET", "/containers/crowd/json", None).unwrap().json();
        assert_eq!(state["State"]["Running"], false, "{}", state["State"]);
        assert_eq!(state["State"]["ExitCode"], 137);
        ok(&d.docker(&["start", "crowd"]));
    }
}

#[test]
fn stop_uses_the_stop_signal() {
    let Some(d) = daemon() else { return };
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "polite",
        "--stop-signal",
        "USR1",
        "busybox",
        "sh",
        "-c",
        TRAP_USR1,
    ]));
    eventually("the trap", || {
        ok(&d.docker(&["logs", "polite"])).contains("ready")
    });
    let started = Instant::now();
    ok(&d.docker(&["stop", "-t", "10", "polite"]));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stop should not have waited for the timeout"
    );
    let state = ok(&d.docker(&["inspect", "-f", "{{.State.ExitCode}}", "polite"]));
    assert_eq!(state.trim(), "5");
}

#[test]
fn restart_rename_and_top() {
    let Some(d) = daemon() else { return };
    ok(&d.docker(&["run", "-d", "--name", "first", "busybox", "sleep", "300"]));
    let started = ok(&d.docker(&["inspect", "-f", "{{.State.StartedAt}}", "first"]));
    ok(&d.docker(&["restart", "-t", "1", "first"]));
    let restarted = ok(&d.docker(&[
        "inspect",
        "-f",
        "{{.State.Running}} {{.State.StartedAt}}",
        "first",
    ]));
    assert!(restarted.starts_with("true "), "{restarted}");
    assert_ne!(restarted.trim_start_matches("true ").trim(), started.trim());

    ok(&d.docker(&["rename", "first", "second"]));
    assert_eq!(
        ok(&d.docker(&["inspect", "-f", "{{.Name}}", "second"])).trim(),
        "/second"
    );
    ok(&d.docker(&["create", "--name", "third", "busybox", "true"]));
    let out = d.docker(&["rename", "second", "third"]);
    assert!(
        stderr(&out).contains("is already in use"),
        "{}",
        stderr(&out)
    );

    let top = ok(&d.docker(&["top", "second"]));
    assert!(top.lines().next().unwrap().contains("PID"), "{top}");
    assert!(top.contains("sleep 300"), "{top}");
    assert_eq!(
        top.lines().count(),
        2,
        "only the container's processes: {top}"
    );
    ok(&d.docker(&["rm", "-f", "second", "third"]));
}

#[test]
fn exec_runs_inside_the_container() {
    let Some(d) = daemon() else { return };
    ok(&d.docker(&["run", "-d", "--name", "box", "busybox", "sleep", "300"]));
    assert_eq!(ok(&d.docker(&["exec", "box", "echo", "hi"])), "hi\n");
    let out = ok(&d.docker(&[
        "exec",
        "-e",
        "X=1",
        "-w",
        "/tmp",
        "-u",
        "65534",
        "box",
        "sh",
        "-c",
        "echo $X $(pwd) $(id -u)",
    ]));
    assert_eq!(out, "1 /tmp 65534\n");
    // The exec'd process shares the container's pid namespace: pid 1 is `sleep`.
    assert_eq!(
        ok(&d.docker(&["exec", "box", "cat", "/proc/1/cmdline"])),
        "sleep\u{0}300\u{0}"
    );
    let out = d.docker(&["exec", "box", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7));
    // As Docker: the failure to start arrives in the stream, and the exec's code is 126.
    let out = d.docker(&["exec", "box", "no-such-command"]);
    assert!(
        stdout(&out).contains("OCI runtime exec failed")
            && stdout(&out).contains("executable file not found"),
        "{}",
        stdout(&out)
    );
    assert_eq!(out.status.code(), Some(126));
    ok(&d.docker(&["stop", "-t", "0", "box"]));
    let out = d.docker(&["exec", "box", "true"]);
    assert!(stderr(&out).contains("is not running"), "{}", stderr(&out));
}

#[test]
fn piped_stdin_reaches_the_container() {
    let Some(d) = daemon() else { return };
    let out = d.docker_with_stdin(
        &["run", "--rm", "-i", "busybox", "sh", "-c", "tr a-z A-Z"],
        b"hello stdin\n",
    );
    assert_eq!(stdout(&out), "HELLO STDIN\n", "stderr: {}", stderr(&out));
}

#[test]
fn exits_while_berthd_is_down_are_recorded() {
    let Some(mut d) = daemon() else { return };
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "short",
        "busybox",
        "sh",
        "-c",
        "sleep 1; exit 9",
    ]));
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "long",
        "busybox",
        "sh",
        "-c",
        "echo before; sleep 300",
    ]));
    d.kill9();
    std::thread::sleep(Duration::from_millis(1500));
    d.restart();
    assert_eq!(
        ok(&d.docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "short"
        ]))
        .trim(),
        "exited 9"
    );
    assert_eq!(
        ok(&d.docker(&["inspect", "-f", "{{.State.Running}}", "long"])).trim(),
        "true"
    );
    assert_eq!(ok(&d.docker(&["logs", "long"])), "before\n");
    ok(&d.docker(&["rm", "-f", "long"]));
}
