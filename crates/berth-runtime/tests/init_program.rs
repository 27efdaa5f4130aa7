//! The `--init` program run directly (not as pid 1, where it is a child subreaper instead):
//! exit codes, signal forwarding, its own process group for the command, zombie reaping.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const BUSYBOX: &str = "/bin/busybox";

/// The init binary written to a temporary directory.
struct Init {
    dir: tempfile::TempDir,
}

impl Init {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker-init");
        fs::write(&path, berth_runtime::init_binary()).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        Self { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("docker-init")
    }

    /// `docker-init -- busybox sh -c script`, stdout piped.
    fn spawn(&self, script: &str) -> Running {
        let child = Command::new(self.path())
            .args(["--", BUSYBOX, "sh", "-c", script])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        Running::new(child)
    }

    fn status_of(&self, args: &[&str]) -> i32 {
        let status = Command::new(self.path())
            .args(args)
            .stderr(Stdio::null())
            .status()
            .unwrap();
        status.code().expect("the init exits, it is not killed")
    }
}

/// A running init; killed if a test fails before it ends.
struct Running {
    child: Child,
    lines: BufReader<ChildStdout>,
}

impl Running {
    fn new(mut child: Child) -> Self {
        let stdout = child.stdout.take().unwrap();
        Self {
            child,
            lines: BufReader::new(stdout),
        }
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.lines.read_line(&mut line).unwrap();
        line.trim_end().to_string()
    }

    fn signal(&self, signal: Signal) {
        kill(self.pid(), signal).unwrap();
    }

    fn exit_code(&mut self) -> i32 {
        self.child.wait().unwrap().code().expect("an exit code")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn needs_busybox() -> bool {
    if Path::new(BUSYBOX).exists() {
        return true;
    }
    assert!(std::env::var("CI").is_err(), "CI needs {BUSYBOX}");
    eprintln!("skipped: needs {BUSYBOX}");
    false
}

#[test]
fn exits_as_the_command_did() {
    if !needs_busybox() {
        return;
    }
    let init = Init::new();
    let sh = |script: &str| init.status_of(&["--", BUSYBOX, "sh", "-c", script]);
    assert_eq!(sh("exit 0"), 0);
    assert_eq!(sh("exit 7"), 7);
    assert_eq!(
        sh("kill -9 $$"),
        128 + 9,
        "killed by a signal: 128 + its number"
    );
    assert_eq!(init.status_of(&[BUSYBOX, "true"]), 0, "`--` is optional");
    assert_eq!(init.status_of(&["--", "/nonexistent"]), 127);
    assert_eq!(
        init.status_of(&["--", "/etc"]),
        126,
        "a directory cannot be executed"
    );
    assert_eq!(init.status_of(&[]), 2, "no command");
}

#[test]
fn signals_are_forwarded_to_the_command_in_its_own_group() {
    if !needs_busybox() {
        return;
    }
    let init = Init::new();
    let mut running = init.spawn(
        "trap 'echo usr1' USR1; trap 'echo hup' HUP; trap 'echo winch' WINCH; \
         trap 'echo term; exit 9' TERM; \
         read -r pid comm state ppid pgrp rest < /proc/$$/stat; \
         [ \"$pgrp\" = \"$$\" ] && echo own-group; \
         echo ready; while :; do sleep 0.02; done",
    );
    assert_eq!(running.line(), "own-group");
    assert_eq!(running.line(), "ready");
    for (signal, echoed) in [
        (Signal::SIGUSR1, "usr1"),
        (Signal::SIGHUP, "hup"),
        (Signal::SIGWINCH, "winch"),
        (Signal::SIGTERM, "term"),
    ] {
        running.signal(signal);
        assert_eq!(running.line(), echoed, "{signal} reached the command");
    }
    assert_eq!(running.exit_code(), 9);
}

#[test]
fn orphans_are_reaped() {
    if !needs_busybox() {
        return;
    }
    let init = Init::new();
    // Each inner shell exits at once, orphaning its `sleep`, which the init inherits.
    let mut running =
        init.spawn("for i in 1 2 3; do sh -c 'sleep 0.05 &'; done; echo orphaned; sleep 5");
    assert_eq!(running.line(), "orphaned");
    let init_pid = running.pid().as_raw();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut children = children_of(init_pid);
    while children.len() > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        children = children_of(init_pid);
    }
    assert_eq!(children.len(), 1, "only the command is left: {children:?}");
    assert_ne!(children[0].1, 'Z');
    running.signal(Signal::SIGKILL);
}

/// The children of `parent` and their states, from /proc.
fn children_of(parent: i32) -> Vec<(i32, char)> {
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let mut fields = stat.rsplit_once(") ")?.1.split(' ');
            let state = fields.next()?.chars().next()?;
            let ppid: i32 = fields.next()?.parse().ok()?;
            (ppid == parent).then_some((pid, state))
        })
        .collect()
}
