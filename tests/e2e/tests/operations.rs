//! Running containers in production: restart policies, resource limits enforced by cgroups,
//! pause, stats and the event stream, through the real docker CLI.

use berth_testkit::{Daemon, Requirement::*, ok, require, stderr, stdout};
use std::time::{Duration, Instant};

fn daemon() -> Option<Daemon> {
    require(&[Root, Busybox, DockerCli]).then(|| {
        let d = Daemon::start();
        d.load_busybox();
        d
    })
}

fn eventually(what: &str, seconds: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn on_failure_restarts_up_to_the_limit() {
    let Some(d) = daemon() else { return };
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "echo run; exit 3",
    ]));
    eventually("two restarts", 10, || {
        ok(&d.docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.RestartCount}}",
            "flaky",
        ]))
        .trim()
            == "exited 2"
    });
    assert_eq!(ok(&d.docker(&["logs", "flaky"])), "run\nrun\nrun\n");
    let out = d.docker(&["run", "--rm", "--restart", "always", "busybox", "true"]);
    assert!(!out.status.success(), "--rm and --restart conflict");
}

#[test]
fn restart_policies_respect_stop_and_survive_a_reboot() {
    let Some(mut d) = daemon() else { return };
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "phoenix",
        "--restart",
        "unless-stopped",
        "busybox",
        "sh",
        "-c",
        "sleep 0.2",
    ]));
    eventually("a restart", 10, || {
        ok(&d.docker(&["inspect", "-f", "{{.RestartCount}}", "phoenix"])).trim() != "0"
    });
    ok(&d.docker(&["stop", "-t", "1", "phoenix"]));
    let count = ok(&d.docker(&["inspect", "-f", "{{.RestartCount}}", "phoenix"]));
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        ok(&d.docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.RestartCount}}",
            "phoenix"
        ]))
        .trim(),
        format!("exited {}", count.trim())
    );

    // A reboot: berthd and every container die. `always` brings it back when berthd starts.
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "service",
        "--restart",
        "always",
        "busybox",
        "sleep",
        "300",
    ]));
    let pid: i32 = ok(&d.docker(&["inspect", "-f", "{{.State.Pid}}", "service"]))
        .trim()
        .parse()
        .unwrap();
    d.kill9();
    // SAFETY: kill(2) on the container init this test's daemon started (its pid namespace ends with it).
    unsafe { libc::kill(pid, libc::SIGKILL) };
    std::thread::sleep(Duration::from_millis(300));
    d.restart();
    eventually("the service back", 10, || {
        ok(&d.docker(&["inspect", "-f", "{{.State.Running}}", "service"])).trim() == "true"
    });
    assert_eq!(
        ok(&d.docker(&["inspect", "-f", "{{.State.Running}}", "phoenix"])).trim(),
        "false",
        "unless-stopped stays stopped"
    );
}

#[test]
fn memory_and_pids_limits_are_enforced() {
    let Some(d) = daemon() else { return };
    let out = d.docker(&[
        "run",
        "--rm",
        "-m",
        "16m",
        "--memory-swap",
        "16m",
        "busybox",
        "sh",
        "-c",
        "head -c 64m /dev/zero | tail > /dev/null",
    ]);
    assert_eq!(out.status.code(), Some(137), "OOM-killed: {}", stderr(&out));
    let out = d.docker(&[
        "run",
        "--rm",
        "--pids-limit",
        "4",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3 4 5 6; do sleep 2 & done; wait",
    ]);
    assert!(stderr(&out).contains("can't fork"), "{}", stderr(&out));
    let out = d.docker(&[
        "run",
        "--rm",
        "-m",
        "16m",
        "--memory-swap",
        "8m",
        "busybox",
        "true",
    ]);
    assert!(!out.status.success());
}

#[test]
fn pause_unpause_and_stats() {
    let Some(d) = daemon() else { return };
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "counter",
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done",
    ]));
    std::thread::sleep(Duration::from_millis(300));
    ok(&d.docker(&["pause", "counter"]));
    // Frozen for real: the counter, read from the host, stands still while paused.
    let pid = ok(&d.docker(&["inspect", "-f", "{{.State.Pid}}", "counter"]));
    let count = || std::fs::read_to_string(format!("/proc/{}/root/tmp/n", pid.trim())).unwrap();
    let frozen = count();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(count(), frozen, "a paused container does not run");
    assert_eq!(
        ok(&d.docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Paused}}",
            "counter"
        ]))
        .trim(),
        "paused true"
    );
    let out = d.docker(&["exec", "counter", "true"]);
    assert!(stderr(&out).contains("paused"), "{}", stderr(&out));
    ok(&d.docker(&["unpause", "counter"]));
    std::thread::sleep(Duration::from_millis(300));
    assert_ne!(count(), frozen, "it runs again once unpaused");
    assert_eq!(
        ok(&d.docker(&["inspect", "-f", "{{.State.Status}}", "counter"])).trim(),
        "running"
    );
    let stats = ok(&d.docker(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.MemUsage}} {{.PIDs}}",
        "counter",
    ]));
    assert!(stats.starts_with("counter "), "{stats}");
    assert!(!stats.contains(" 0B /"), "memory is counted: {stats}");
    ok(&d.docker(&["pause", "counter"]));
    ok(&d.docker(&["stop", "-t", "1", "counter"]));
    assert_eq!(
        ok(&d.docker(&["inspect", "-f", "{{.State.Status}}", "counter"])).trim(),
        "exited"
    );
}

#[test]
fn events_tell_what_happened() {
    let Some(d) = daemon() else { return };
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let run = d.docker(&["run", "--name", "evented", "busybox", "sh", "-c", "exit 2"]);
    assert_eq!(run.status.code(), Some(2));
    let until = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1)
    .to_string();
    let out = d.docker(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "container=evented",
        "--format",
        "{{.Action}}{{if .Actor.Attributes.exitCode}} {{.Actor.Attributes.exitCode}}{{end}}",
    ]);
    let events = stdout(&out);
    let actions: Vec<&str> = events.lines().map(str::trim).collect();
    assert!(
        actions.starts_with(&["create", "attach", "start", "die 2"])
            || actions.starts_with(&["create", "start", "die 2"]),
        "{events}"
    );
}

#[test]
fn healthchecks_report_status() {
    let Some(d) = daemon() else { return };
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "checked",
        "--health-cmd",
        "test -f /tmp/ok",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "busybox",
        "sh",
        "-c",
        "sleep 0.5; touch /tmp/ok; sleep 60",
    ]));
    let health = |d: &Daemon| {
        ok(&d.docker(&["inspect", "-f", "{{.State.Health.Status}}", "checked"]))
            .trim()
            .to_string()
    };
    eventually("healthy", 10, || health(&d) == "healthy");
    assert!(ok(&d.docker(&["ps", "--format", "{{.Status}}"])).contains("(healthy)"));
    ok(&d.docker(&["exec", "checked", "rm", "/tmp/ok"]));
    eventually("unhealthy", 10, || health(&d) == "unhealthy");
    let log = ok(&d.docker(&[
        "inspect",
        "-f",
        "{{range .State.Health.Log}}{{.ExitCode}} {{end}}",
        "checked",
    ]));
    assert!(log.trim().ends_with('1'), "{log}");
}

#[test]
fn json_file_logs_rotate() {
    let Some(d) = daemon() else { return };
    let run = d.docker(&[
        "run",
        "--name",
        "chatty",
        "--log-opt",
        "max-size=2k",
        "--log-opt",
        "max-file=3",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let log = ok(&d.docker(&["inspect", "-f", "{{.LogPath}}", "chatty"]))
        .trim()
        .to_string();
    assert!(
        std::path::Path::new(&format!("{log}.1")).exists()
            && std::path::Path::new(&format!("{log}.2")).exists()
    );
    assert!(
        !std::path::Path::new(&format!("{log}.3")).exists(),
        "max-file=3 keeps three files"
    );
    assert!(std::fs::metadata(&log).unwrap().len() <= 2048);
    let logs = ok(&d.docker(&["logs", "chatty"]));
    assert!(logs.ends_with("line-199\n"), "{logs}");
    assert!(!logs.contains("line-0\n"), "the oldest lines rotated away");
    let out = d.docker(&["run", "--rm", "--log-opt", "max-file=0", "busybox", "true"]);
    assert!(!out.status.success(), "max-file must be at least 1");
}
