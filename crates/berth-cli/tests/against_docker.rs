//! berth and the docker CLI side by side against the same Docker daemon: the same
//! commands must print the same thing and exit the same way. This tests berth's output
//! against the reference it imitates, so it needs that reference: a Docker daemon
//! (`BERTH_REFERENCE_DOCKER_HOST`, default unix:///tmp/refdocker.sock, which
//! `/work/shared/tools/reference-dockerd start` provides), the `docker` CLI and
//! /bin/busybox. `scripts/test-all.sh` starts that daemon and sets the variable; without
//! it the test is skipped locally with the reason, and fails under CI (`CI=true`).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use std::{env, fs, thread};

use rustix::process::{Pid, Signal, kill_process};
use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
use rustix::termios::{self, LocalModes, Winsize};

const BERTH: &str = env!("CARGO_BIN_EXE_berth");
const DEFAULT_HOST: &str = "unix:///tmp/refdocker.sock";
/// How long an interactive step may take before the test gives up on it.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Tests run in parallel: each reference gets its own image and names.
static INSTANCES: AtomicUsize = AtomicUsize::new(0);

struct Reference {
    host: String,
    image: String,
    /// What this reference's container names start with.
    prefix: String,
    /// Containers, images, networks and volumes to remove at the end, pass or fail.
    containers: Vec<String>,
    images: Vec<String>,
    networks: Vec<String>,
    volumes: Vec<String>,
    rootfs: PathBuf,
}

impl Reference {
    /// The reference daemon with a fresh busybox image; None (the test is skipped, with
    /// the reason) if there is none, except under CI, where it is required.
    fn get() -> Option<Self> {
        match Reference::start() {
            Ok(reference) => Some(reference),
            Err(reason) if env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("required under CI: {reason}")
            }
            Err(reason) => {
                eprintln!("skipped: {reason}");
                None
            }
        }
    }

    fn start() -> Result<Self, String> {
        let host =
            env::var("BERTH_REFERENCE_DOCKER_HOST").unwrap_or_else(|_| DEFAULT_HOST.to_string());
        let socket = host
            .strip_prefix("unix://")
            .ok_or("only unix:// reference hosts are supported")?;
        if !Path::new(socket).exists() {
            return Err(format!("no Docker daemon at {host}"));
        }
        if !Path::new("/bin/busybox").exists() {
            return Err("no /bin/busybox to build the test image from".to_string());
        }
        let version = Command::new("docker")
            .args(["-H", &host, "version"])
            .output();
        if !version.is_ok_and(|o| o.status.success()) {
            return Err(format!("the docker CLI cannot reach {host}"));
        }
        let instance = INSTANCES.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("berth-cli-test-{}-{instance}", std::process::id());
        let rootfs = env::temp_dir().join(&prefix);
        fs::create_dir_all(rootfs.join("bin")).map_err(|e| e.to_string())?;
        fs::copy("/bin/busybox", rootfs.join("bin/busybox")).map_err(|e| e.to_string())?;
        let applets = [
            "sh", "echo", "sleep", "cat", "true", "env", "id", "sort", "stty", "mkdir", "rm", "ln",
            "chmod",
        ];
        for applet in applets {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet))
                .map_err(|e| e.to_string())?;
        }
        let reference = Reference {
            host,
            image: format!("{prefix}:latest"),
            prefix,
            containers: Vec::new(),
            images: Vec::new(),
            networks: Vec::new(),
            volumes: Vec::new(),
            rootfs,
        };
        let tar = Command::new("tar")
            .arg("-C")
            .arg(&reference.rootfs)
            .args(["-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let imported = Command::new("docker")
            .args([
                "-H",
                &reference.host,
                "import",
                "-c",
                "CMD [\"sh\"]",
                "-",
                &reference.image,
            ])
            .stdin(tar.stdout.ok_or("tar has no stdout")?)
            .output()
            .map_err(|e| e.to_string())?;
        if !imported.status.success() {
            return Err(format!(
                "import failed: {}",
                String::from_utf8_lossy(&imported.stderr)
            ));
        }
        Ok(reference)
    }

    fn berth(&self, args: &[&str]) -> Output {
        run(BERTH, &self.host, args, None)
    }

    fn docker(&self, args: &[&str]) -> Output {
        run("docker", &self.host, args, None)
    }

    /// Runs `args` with both CLIs and checks they print and exit the same.
    fn same(&self, args: &[&str]) -> String {
        self.same_with_input(args, None)
    }

    /// Like `same`, with `input` on stdin (None: an empty stdin that is not a terminal).
    fn same_with_input(&self, args: &[&str], input: Option<&str>) -> String {
        let input = input.map(str::as_bytes);
        let berth = run(BERTH, &self.host, args, input);
        let docker = run("docker", &self.host, args, input);
        assert_same(args, &berth, &docker);
        text(&berth.stdout)
    }

    /// For commands that change what they act on: berth runs `args`, the docker CLI undoes
    /// it with `undo` and runs `args` in turn; both must print and exit the same.
    fn same_after(&self, args: &[&str], undo: &[&str]) {
        let berth = self.berth(args);
        let undone = self.docker(undo);
        assert!(
            undone.status.success(),
            "{undo:?}: {}",
            text(&undone.stderr)
        );
        let docker = self.docker(args);
        assert_same(args, &berth, &docker);
    }

    /// `docker inspect -f template target`, trimmed.
    fn inspect(&self, template: &str, target: &str) -> String {
        let output = self.docker(&["inspect", "-f", template, target]);
        text(&output.stdout).trim().to_string()
    }

    /// Creates a container with `flags` through berth and through the docker CLI, checks
    /// that `template` shows the same for both, and returns that (berth's first).
    fn same_container(&mut self, flags: &[&str], template: &str, suffix: &str) -> Vec<String> {
        let image = self.image.clone();
        let configs: Vec<String> = [(BERTH, "berth"), ("docker", "docker")]
            .iter()
            .map(|(cli, which)| {
                let name = self.name(&format!("{suffix}-{which}"));
                let mut args = vec!["create", "--name", &name];
                args.extend(flags);
                args.push(&image);
                let created = run(cli, &self.host, &args, None);
                assert!(created.status.success(), "{}", text(&created.stderr));
                self.inspect(template, &name)
            })
            .collect();
        assert_eq!(configs[0], configs[1]);
        configs
    }

    fn name(&mut self, suffix: &str) -> String {
        let name = format!("{}-{suffix}", self.prefix);
        self.containers.push(name.clone());
        name
    }

    /// A name for an image (`REPOSITORY:TAG`), network or volume, removed at the end.
    fn image_name(&mut self, suffix: &str) -> String {
        let name = format!("{}-{suffix}:latest", self.prefix);
        self.images.push(name.clone());
        name
    }

    fn network_name(&mut self, suffix: &str) -> String {
        let name = format!("{}-{suffix}", self.prefix);
        self.networks.push(name.clone());
        name
    }

    fn volume_name(&mut self, suffix: &str) -> String {
        let name = format!("{}-{suffix}", self.prefix);
        self.volumes.push(name.clone());
        name
    }

    /// Runs `args` with the docker CLI, which must succeed; returns its output, trimmed.
    fn docker_ok(&self, args: &[&str]) -> String {
        let output = self.docker(args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            text(&output.stderr)
        );
        text(&output.stdout).trim().to_string()
    }

    /// A container running `command` in the background, under the name for `suffix`.
    fn running(&mut self, suffix: &str, command: &[&str]) -> String {
        self.container("run", suffix, &["-d"], command)
    }

    /// A created container for `command`, under the name for `suffix`.
    fn created(&mut self, suffix: &str, flags: &[&str], command: &[&str]) -> String {
        self.container("create", suffix, flags, command)
    }

    fn container(&mut self, verb: &str, suffix: &str, flags: &[&str], command: &[&str]) -> String {
        let name = self.name(suffix);
        let image = self.image.clone();
        let mut args = vec![verb, "--name", &name];
        args.extend(flags);
        args.push(&image);
        args.extend(command);
        let output = self.docker(&args);
        assert!(output.status.success(), "{}", text(&output.stderr));
        name
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let remove = |command: &[&str], names: &[String]| {
            if !names.is_empty() {
                let mut args = command.to_vec();
                args.extend(names.iter().map(String::as_str));
                self.docker(&args);
            }
        };
        remove(&["rm", "-f", "-v"], &self.containers);
        remove(&["network", "rm", "-f"], &self.networks);
        remove(&["volume", "rm", "-f"], &self.volumes);
        remove(&["rmi", "-f"], &self.images);
        self.docker(&["rmi", "-f", &self.image]);
        let _ = fs::remove_dir_all(&self.rootfs);
    }
}

fn run(program: &str, host: &str, args: &[&str], input: Option<&[u8]>) -> Output {
    let mut child = Command::new(program)
        .args(["-H", host])
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    if let Some(input) = input {
        // Closing it is the end of the input the command waits for.
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_same(args: &[&str], berth: &Output, docker: &Output) {
    assert_eq!(
        text(&berth.stdout),
        text(&docker.stdout),
        "stdout of {args:?}"
    );
    // The docker CLI sometimes leaks log lines of its own goroutines ("time=... level=error
    // msg=...") when a copy fails; they are no part of what it reports.
    let docker_stderr = text(&docker.stderr);
    let leaked = |line: &str| line.starts_with("time=\"") && line.contains(" level=");
    let docker_stderr = if docker_stderr.lines().any(leaked) {
        docker_stderr
            .lines()
            .filter(|line| !leaked(line))
            .map(|line| format!("{line}\n"))
            .collect()
    } else {
        docker_stderr
    };
    assert_eq!(
        text(&berth.stderr),
        docker_stderr.replace("docker", "berth"),
        "stderr of {args:?}"
    );
    assert_eq!(
        berth.status.code(),
        docker.status.code(),
        "status of {args:?}"
    );
}

#[test]
fn berth_matches_the_docker_cli() {
    let Some(mut reference) = Reference::get() else {
        return;
    };
    let image = reference.image.clone();

    // run: output split by stream, the container's status passed on.
    let first = reference.name("first");
    let run = reference.berth(&[
        "run",
        "--name",
        &first,
        "-l",
        "role=test",
        &image,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(String::from_utf8_lossy(&run.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&run.stderr), "err\n");
    assert_eq!(run.status.code(), Some(3));

    // A missing command is docker's 127, worded as docker words it.
    let missing = reference.name("missing");
    let run = reference.berth(&["run", "--name", &missing, &image, "nosuchcommand"]);
    assert_eq!(run.status.code(), Some(127));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.starts_with("berth: Error response from daemon: "),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("\n\nRun 'berth run --help' for more information\n"),
        "{stderr}"
    );

    // --rm: the status comes back and the container is gone.
    let removed = reference.name("removed");
    let run = reference.berth(&[
        "run", "--rm", "--name", &removed, &image, "sh", "-c", "exit 4",
    ]);
    assert_eq!(run.status.code(), Some(4));
    assert!(!reference.docker(&["inspect", &removed]).status.success());

    // -d prints the full ID.
    let detached = reference.name("detached");
    let run = reference.berth(&["run", "-d", "--name", &detached, &image, "sleep", "30"]);
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim().len(), 64);

    let filter = format!("name={}-", reference.prefix);
    reference.same(&[
        "ps",
        "-a",
        "--filter",
        &filter,
        "--format",
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.State}}\t{{.Names}}\t{{.Labels}}",
    ]);
    reference.same(&["ps", "-q", "--filter", &filter]);
    reference.same(&[
        "ps",
        "-a",
        "--no-trunc",
        "--filter",
        &filter,
        "--format",
        "{{.ID}} {{.Command}} {{.Names}}",
    ]);
    reference.same(&[
        "images",
        "--format",
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}",
        &image,
    ]);
    reference.same(&["images", "-q", &image]);
    reference.same(&[
        "inspect",
        "-f",
        "{{.State.ExitCode}} {{.Config.Labels}} {{json .Config.Cmd}} {{.Name}}",
        &first,
    ]);
    reference.same(&[
        "inspect",
        "-f",
        "{{.RepoTags}} {{.Config.Cmd}} {{.Size}}",
        &image,
    ]);
    reference.same(&["inspect", "nosuchobject"]);
    reference.same(&["logs", &first]);
    reference.same(&["wait", &first]);
    reference.same(&[
        "history",
        "--format",
        "{{.ID}} {{.Size}} {{.Comment}}",
        &image,
    ]);
    reference.same(&["stop", "-t", "1", &detached]);
    // Changes state, so compared with what docker prints rather than run twice.
    let rm = reference.berth(&["rm", &first, &missing, "nosuchcontainer"]);
    assert_eq!(
        String::from_utf8_lossy(&rm.stdout),
        format!("{first}\n{missing}\n")
    );
    assert_eq!(
        String::from_utf8_lossy(&rm.stderr),
        "Error response from daemon: No such container: nosuchcontainer\n"
    );
    assert_eq!(rm.status.code(), Some(1));

    // save and load round trip.
    let archive = reference.rootfs.join("image.tar");
    let archive = archive.to_str().unwrap();
    assert!(
        reference
            .berth(&["save", "-o", archive, &image])
            .status
            .success()
    );
    let loaded = reference.same(&["load", "-i", archive]);
    assert_eq!(loaded, format!("Loaded image: {image}\n"));
}

#[test]
fn container_commands_match_the_docker_cli() {
    let Some(mut reference) = Reference::get() else {
        return;
    };
    let busy = reference.running("busy", &["sleep", "300"]);
    let stopped = reference.created("stopped", &[], &["true"]);

    // exec: output by stream, the command's status from the exec inspect.
    reference.same(&["exec", &busy, "sh", "-c", "echo out; echo err >&2; exit 7"]);
    reference.same(&[
        "exec",
        "-e",
        "A=1",
        "-e",
        "HOME",
        "-e",
        "UNSET_IN_BOTH",
        "-u",
        "1:2",
        "-w",
        "/bin",
        &busy,
        "sh",
        "-c",
        "env | sort; id; pwd",
    ]);
    reference.same(&["exec", &busy, "nosuchcommand"]);
    reference.same(&["exec", "-t", &busy, "echo", "hi"]);
    reference.same(&["exec", "-it", &busy, "true"]);
    reference.same(&["exec", "-d", &busy, "true"]);
    reference.same(&["exec", &stopped, "true"]);
    reference.same(&["exec", "nosuchcontainer", "true"]);
    reference.same(&["exec", "--detach-keys", "bogus", &busy, "true"]);
    // Our stdin's end reaches the command: cat ends.
    let echoed = reference.same_with_input(&["exec", "-i", &busy, "cat"], Some("hello\n"));
    assert_eq!(echoed, "hello\n");

    // top: the daemon's ps, in docker's table.
    let listed = reference.same(&["top", &busy, "-o", "pid,comm"]);
    assert!(
        listed.starts_with("PID                 COMMAND\n"),
        "{listed}"
    );
    reference.same(&["top", &busy, "-bogus"]);
    reference.same(&["top", &stopped]);

    // kill, stop, restart: names as given, failures collected.
    reference.same(&["kill", "-s", "USR1", &busy, "nosuchcontainer", &busy]);
    reference.same(&["kill", &stopped]);
    reference.same_after(&["kill", &busy], &["start", &busy]);
    reference.same_after(&["stop", "-s", "KILL", &busy], &["start", &busy]);
    reference.same(&["restart", "-t", "0", &busy, "nosuchcontainer"]);
    reference.same(&["restart", "--time", "0", &busy]);
    reference.same(&["stop", "--time", "0", "-t", "1", &busy]);

    // pause and unpause.
    reference.same_after(&["pause", &busy, "nosuchcontainer"], &["unpause", &busy]);
    reference.same(&["pause", &busy]);
    reference.same_after(&["unpause", &busy], &["pause", &busy]);
    reference.same(&["unpause", &busy]);

    // rename.
    let renamed = reference.name("renamed");
    reference.same_after(
        &["rename", &stopped, &renamed],
        &["rename", &renamed, &stopped],
    );
    reference.same(&["rename", "nosuchcontainer", &renamed]);
    reference.same(&["rename", &busy, " "]);

    // attach: our stdin in, the container's output out, its status ours. (Created with -i
    // and started apart, its stdin closes with ours and its output still comes.)
    let script = "read line; echo \"got $line\"; echo err >&2; exit 5";
    let attached: Vec<Output> = [(BERTH, "attach-berth"), ("docker", "attach-docker")]
        .iter()
        .map(|(cli, suffix)| {
            let name = reference.created(suffix, &["-i"], &["sh", "-c", script]);
            assert!(reference.docker(&["start", &name]).status.success());
            run(cli, &reference.host, &["attach", &name], Some(b"hello\n"))
        })
        .collect();
    assert_same(&["attach"], &attached[0], &attached[1]);
    assert_eq!(text(&attached[0].stdout), "got hello\n");
    assert_eq!(attached[0].status.code(), Some(5));
    reference.same(&["attach", &stopped]);
    reference.same(&["attach", "nosuchcontainer"]);

    // start -a -i: attached before the start, stdin in.
    let started: Vec<Output> = [(BERTH, "start-berth"), ("docker", "start-docker")]
        .iter()
        .map(|(cli, suffix)| {
            let name = reference.created(suffix, &["-i"], &["cat"]);
            run(
                cli,
                &reference.host,
                &["start", "-a", "-i", &name],
                Some(b"hi\n"),
            )
        })
        .collect();
    assert_same(&["start", "-a", "-i"], &started[0], &started[1]);
    assert_eq!(text(&started[0].stdout), "hi\n");
}

#[test]
fn run_flags_match_the_docker_cli() {
    let Some(mut reference) = Reference::get() else {
        return;
    };
    let image = reference.image.clone();

    // -i: our stdin into the container, its end closing the container's.
    let echoed = reference.same_with_input(&["run", "-i", "--rm", &image, "cat"], Some("hi\n"));
    assert_eq!(echoed, "hi\n");
    // -a picks the streams; -a stdin alone shows nothing.
    let script = "echo out; echo err >&2";
    reference.same(&["run", "--rm", "-a", "stderr", &image, "sh", "-c", script]);
    reference.same(&["run", "--rm", "-a", "STDOUT", &image, "sh", "-c", script]);
    reference.same_with_input(&["run", "--rm", "-a", "stdin", &image, "cat"], Some("x\n"));
    // -t: one raw stream, the terminal's line endings.
    let tty = reference.same(&["run", "--rm", "-t", &image, "echo", "hi"]);
    assert_eq!(tty, "hi\r\n");
    reference.same(&[
        "run",
        "--rm",
        "-u",
        "5:6",
        "--read-only",
        &image,
        "sh",
        "-c",
        "id; echo x > /x",
    ]);
    reference.same(&[
        "run",
        "--rm",
        "--init",
        "--stop-signal",
        "USR1",
        &image,
        "true",
    ]);
    // Refused before anything is created.
    reference.same(&["run", "-it", "--rm", &image, "true"]);
    reference.same(&["run", "-d", "-a", "stdout", &image, "true"]);
    reference.same(&["run", "--restart", "on-failure:x", &image]);
    reference.same(&["run", "--restart", ":1", &image]);
    reference.same(&["run", "--rm", "--restart", "always", &image]);
    reference.same(&["create", "--rm", "--restart", "unless-stopped", &image]);

    // The same flags make the same container.
    let flags = [
        "-i",
        "-t",
        "-a",
        "stdout",
        "--init",
        "--read-only",
        "-u",
        "nobody",
        "--stop-signal",
        "SIGUSR1",
        "--stop-timeout",
        "3",
        "--log-driver",
        "none",
        "--restart",
        "on-failure:3",
    ];
    let template = "{{.Config.Tty}} {{.Config.OpenStdin}} {{.Config.StdinOnce}} \
        {{.Config.AttachStdin}} {{.Config.AttachStdout}} {{.Config.AttachStderr}} \
        {{.Config.User}} {{.Config.StopSignal}} {{.Config.StopTimeout}} {{.HostConfig.Init}} \
        {{.HostConfig.ReadonlyRootfs}} {{json .HostConfig.LogConfig}} \
        {{json .HostConfig.RestartPolicy}}";
    let configs = reference.same_container(&flags, template, "flags");
    assert!(
        configs[0].starts_with("true true true true true false nobody"),
        "{}",
        configs[0]
    );
}

#[test]
fn isolation_and_limit_flags_match_the_docker_cli() {
    let Some(mut reference) = Reference::get() else {
        return;
    };
    let image = reference.image.clone();
    let disk = whole_disk();
    let (read_bps, write_iops, weight) = (
        format!("{disk}:1mb"),
        format!("{disk}:100"),
        format!("{disk}:300"),
    );
    let flags = [
        "--ipc",
        "shareable",
        "--pid",
        "host",
        "--uts",
        "host",
        "--cgroupns",
        "host",
        "--group-add",
        "777",
        "--domainname",
        "example.org",
        "--oom-kill-disable",
        "-m",
        "32m",
        "--memory-swappiness",
        "10",
        "--device-read-bps",
        &read_bps,
        "--device-write-iops",
        &write_iops,
        "--blkio-weight-device",
        &weight,
    ];
    let template = "{{.HostConfig.IpcMode}} {{.HostConfig.PidMode}} {{.HostConfig.UTSMode}} \
        {{.HostConfig.CgroupnsMode}} {{.HostConfig.GroupAdd}} {{.Config.Domainname}} \
        {{.HostConfig.OomKillDisable}} {{.HostConfig.Memory}} {{.HostConfig.MemorySwappiness}} \
        {{json .HostConfig.BlkioDeviceReadBps}} {{json .HostConfig.BlkioDeviceWriteIOps}} \
        {{json .HostConfig.BlkioWeightDevice}}";
    let configs = reference.same_container(&flags, template, "iso");
    assert!(
        configs[0].starts_with("shareable host host host [777] example.org true 33554432 10"),
        "{}",
        configs[0]
    );

    // Refused the same way, before anything is created.
    reference.same(&["create", "--cgroupns", "bogus", &image]);
    reference.same(&["create", "-m", "1k", &image]);
    reference.same(&["create", "--cpu-period", "10", &image]);
    reference.same(&["create", "--uts", "host", "-h", "name", &image]);

    // update: the names, then the same error for a limit out of range.
    let busy = reference.running("upd", &["sleep", "300"]);
    assert_eq!(
        reference.same(&[
            "update",
            "-m",
            "64m",
            "--memory-swap",
            "128m",
            "--pids-limit",
            "20",
            &busy
        ]),
        format!("{busy}\n")
    );
    assert_eq!(
        reference.inspect("{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}", &busy),
        "67108864 20"
    );
    reference.same(&["update", "-m", "1k", &busy]);
    reference.same(&["update", &busy]);
    reference.same(&[
        "update",
        "--restart",
        "always",
        "-m",
        "64m",
        &busy,
        "nosuchcontainer",
    ]);
}

/// A whole disk of this host (not a partition, loop or ram device), as its /dev path.
fn whole_disk() -> String {
    let mut disks: Vec<String> = fs::read_dir("/sys/block")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| Path::new(&format!("/dev/{n}")).exists())
        .collect();
    disks.sort_by_key(|n| (n.starts_with("loop") || n.starts_with("ram"), n.clone()));
    format!("/dev/{}", disks.first().expect("a block device"))
}

/// A command started in the background, its output collected, to be signalled.
struct Background {
    child: Child,
    output: Arc<Mutex<Vec<u8>>>,
}

impl Background {
    fn start(cli: &str, host: &str, args: &[&str]) -> Self {
        let mut child = Command::new(cli)
            .args(["-H", host])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = collect(child.stdout.take().unwrap());
        Background { child, output }
    }

    fn signal(&self, signal: Signal) {
        let pid = Pid::from_child(&self.child);
        kill_process(pid, signal).unwrap();
    }

    fn finish(mut self) -> (ExitStatus, String, String) {
        let status = self.child.wait().unwrap();
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let stdout = text(&self.output.lock().unwrap());
        (status, stdout, stderr)
    }
}

/// Reads `source` into a buffer in the background until it ends.
fn collect(mut source: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let output = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&output);
    thread::spawn(move || {
        let mut buffer = [0; 4096];
        while let Ok(read @ 1..) = source.read(&mut buffer) {
            sink.lock().unwrap().extend_from_slice(&buffer[..read]);
        }
    });
    output
}

/// Waits until what `output` collected contains `expected`.
fn wait_for(output: &Mutex<Vec<u8>>, expected: &str) {
    let deadline = Instant::now() + STEP_TIMEOUT;
    while !text(&output.lock().unwrap()).contains(expected) {
        assert!(
            Instant::now() < deadline,
            "no {expected:?} in {:?}",
            text(&output.lock().unwrap())
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn signals_match_the_docker_cli() {
    let Some(mut reference) = Reference::get() else {
        return;
    };
    let image = reference.image.clone();
    let script = "trap 'exit 9' INT; echo ready; while true; do sleep 1; done";
    for cli in [BERTH, "docker"] {
        // --sig-proxy (the default): an interrupt reaches the container, whose status is
        // ours.
        let run = Background::start(
            cli,
            &reference.host,
            &["run", "--rm", &image, "sh", "-c", script],
        );
        wait_for(&run.output, "ready");
        run.signal(Signal::INT);
        let (status, _, stderr) = run.finish();
        assert_eq!((status.code(), stderr.as_str()), (Some(9), ""), "{cli}");

        // Without it, the third interrupt gives up on the container.
        let name = reference.name(&format!("unproxied-{}", reference.containers.len()));
        let args = [
            "run",
            "--sig-proxy=false",
            "--name",
            &name,
            &image,
            "sh",
            "-c",
            script,
        ];
        let run = Background::start(cli, &reference.host, &args);
        wait_for(&run.output, "ready");
        for _ in 0..3 {
            run.signal(Signal::INT);
            thread::sleep(Duration::from_millis(300));
        }
        let (status, _, stderr) = run.finish();
        assert_eq!(status.code(), Some(1), "{cli}");
        assert_eq!(
            stderr, "\ngot 3 SIGTERM/SIGINTs, forcefully exiting\n",
            "{cli}"
        );
        assert_eq!(reference.inspect("{{.State.Running}}", &name), "true");

        // A command without a session ends with 128 + the signal.
        let wait = Background::start(cli, &reference.host, &["wait", &name]);
        thread::sleep(Duration::from_millis(500));
        wait.signal(Signal::TERM);
        assert_eq!(wait.finish().0.code(), Some(128 + 15), "{cli}");
    }
}

/// A pseudo-terminal to run a CLI in, as a user at a terminal would.
struct Terminal {
    master: File,
    /// The terminal side, kept to check its settings after the CLI is done with it.
    terminal: OwnedFd,
    output: Arc<Mutex<Vec<u8>>>,
}

impl Terminal {
    fn open() -> Self {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let terminal: OwnedFd = OpenOptions::new()
            .read(true)
            .write(true)
            .open(name.to_str().unwrap())
            .unwrap()
            .into();
        let size = Winsize {
            ws_row: 33,
            ws_col: 101,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        termios::tcsetwinsize(&master, size).unwrap();
        let master = File::from(master);
        let output = collect(master.try_clone().unwrap());
        Terminal {
            master,
            terminal,
            output,
        }
    }

    /// Runs `cli` with the terminal as its stdin, stdout and stderr, until it exits.
    fn run(&mut self, cli: &str, host: &str, args: &[&str], steps: &[(&str, &[u8])]) -> ExitStatus {
        self.output.lock().unwrap().clear();
        let stdio = || Stdio::from(self.terminal.try_clone().unwrap());
        let mut child = Command::new(cli)
            .args(["-H", host])
            .args(args)
            .stdin(stdio())
            .stdout(stdio())
            .stderr(stdio())
            .spawn()
            .unwrap();
        // Each step: wait for the text, then type the keys.
        for (expected, keys) in steps {
            wait_for(&self.output, expected);
            self.master.write_all(keys).unwrap();
        }
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "{cli} {args:?} did not end");
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn transcript(&self) -> String {
        text(&self.output.lock().unwrap())
    }

    /// Whether the terminal is back in its usual (cooked) mode.
    fn is_cooked(&self) -> bool {
        let settings = termios::tcgetattr(self.terminal.as_fd()).unwrap();
        settings
            .local_modes
            .contains(LocalModes::ICANON | LocalModes::ECHO | LocalModes::ISIG)
    }
}

#[test]
fn interactive_sessions_match_the_docker_cli() {
    let Some(mut reference) = Reference::get() else {
        return;
    };
    let image = reference.image.clone();
    let host = reference.host.clone();
    const DETACH: &[u8] = b"\x10\x11";
    for cli in [BERTH, "docker"] {
        let mut terminal = Terminal::open();
        let name = reference.name(&format!("interactive-{}", reference.containers.len()));

        // run -it: the container's terminal has our size, takes our keys, and the detach
        // keys leave it running, quietly.
        let status = terminal.run(
            cli,
            &host,
            &["run", "-it", "--name", &name, &image, "sh"],
            &[("# ", b"stty size; echo $((6 * 7))\r"), ("42", DETACH)],
        );
        let transcript = terminal.transcript();
        assert_eq!(status.code(), Some(0), "{cli}: {transcript}");
        assert!(transcript.contains("33 101"), "{cli}: {transcript}");
        assert!(!transcript.contains("escape"), "{cli}: {transcript}");
        assert!(terminal.is_cooked(), "{cli} left the terminal raw");
        assert_eq!(reference.inspect("{{.State.Running}}", &name), "true");

        // exec -it: another process with a terminal of our size; detaching from it is
        // reported, and so is its status.
        let status = terminal.run(
            cli,
            &host,
            &["exec", "-it", &name, "sh"],
            &[("# ", b"stty size\r"), ("33 101", DETACH)],
        );
        assert_eq!(status.code(), Some(1), "{cli}: {}", terminal.transcript());
        assert!(terminal.transcript().contains("read escape sequence"));
        assert!(terminal.is_cooked(), "{cli} left the terminal raw");
        let status = terminal.run(
            cli,
            &host,
            &["exec", "-it", &name, "sh", "-c", "exit 4"],
            &[],
        );
        assert_eq!(status.code(), Some(4), "{cli}: {}", terminal.transcript());

        // attach: back to the shell, whose exit status is ours.
        let status = terminal.run(
            cli,
            &host,
            &["attach", &name],
            &[("# ", b"echo attached\r"), ("attached", b"exit 3\r")],
        );
        assert_eq!(status.code(), Some(3), "{cli}: {}", terminal.transcript());
        assert!(terminal.is_cooked(), "{cli} left the terminal raw");
    }
}

#[test]
fn volumes_and_networks_match_the_docker_cli() {
    let Some(mut reference) = Reference::get() else {
        return;
    };
    let prefix = reference.prefix.clone();
    let filter = format!("name={prefix}-");

    // Volumes: listed, inspected and removed as docker does.
    let data = reference.volume_name("data");
    let cache = reference.volume_name("cache10");
    let cache2 = reference.volume_name("cache2");
    reference.docker_ok(&["volume", "create", "--label", "role=test", &data]);
    reference.docker_ok(&["volume", "create", &cache]);
    reference.docker_ok(&["volume", "create", &cache2]);
    let listed = reference.same(&["volume", "ls", "--filter", &filter]);
    assert!(listed.starts_with("DRIVER    VOLUME NAME\n"), "{listed}");
    // Natural order: cache2 before cache10.
    assert!(listed.find(&cache2) < listed.find(&cache), "{listed}");
    reference.same(&["volume", "ls", "-q", "--filter", &filter]);
    reference.same(&["volume", "ls", "--format", "json", "--filter", &filter]);
    reference.same(&[
        "volume",
        "ls",
        "--filter",
        "label=role=test",
        "--format",
        "table {{.Name}}\t{{.Driver}}\t{{.Scope}}\t{{.Labels}}\t{{.Links}}",
    ]);
    reference.same(&["volume", "inspect", &data, &cache]);
    reference.same(&[
        "volume",
        "inspect",
        "-f",
        "{{.Name}} {{.Driver}} {{.Labels}} {{.Options}}",
        &data,
        &cache,
    ]);
    reference.same(&["volume", "inspect", "-f", "json", &data]);
    reference.same(&["volume", "inspect", &data, "nosuchvolume"]);
    reference.same(&["inspect", "--type", "volume", &data]);
    reference.same(&["inspect", "-f", "{{.Mountpoint}}", &data]);
    reference.same_after(&["volume", "rm", &cache], &["volume", "create", &cache]);
    reference.same_after(
        &["volume", "rm", "nosuchvolume", &cache2],
        &["volume", "create", &cache2],
    );

    // Created with the same flags, the same volume.
    let made = [
        reference.volume_name("made-berth"),
        reference.volume_name("made-docker"),
    ];
    for (cli, name) in [(BERTH, &made[0]), ("docker", &made[1])] {
        let args = [
            "volume",
            "create",
            "-d",
            "local",
            "--label",
            "a=1",
            "-o",
            "type=tmpfs",
            "-o",
            "device=tmpfs",
            name,
        ];
        let created = run(cli, &reference.host, &args, None);
        assert_eq!(text(&created.stdout), format!("{name}\n"), "{cli}");
    }
    let template = "{{.Driver}} {{.Labels}} {{.Options}} {{.Scope}}";
    assert_eq!(
        reference.inspect(template, &made[0]),
        reference.inspect(template, &made[1])
    );
    reference.same(&["volume", "create", "--name", "x", "y"]);

    // Networks.
    let front = reference.network_name("front");
    let back = reference.network_name("back");
    reference.docker_ok(&["network", "create", "--label", "tier=front", &front]);
    reference.docker_ok(&["network", "create", "--internal", "--attachable", &back]);
    let listed = reference.same(&["network", "ls", "--filter", &filter]);
    assert!(listed.starts_with("NETWORK ID     NAME"), "{listed}");
    reference.same(&["network", "ls", "-q", "--no-trunc", "--filter", &filter]);
    reference.same(&["network", "ls", "--format", "json", "--filter", &filter]);
    reference.same(&[
        "network",
        "ls",
        "--filter",
        &filter,
        "--format",
        "table {{.Name}}\t{{.Driver}}\t{{.Internal}}\t{{.IPv6}}\t{{.Labels}}\t{{.CreatedAt}}",
    ]);
    reference.same(&["network", "inspect", &front, &back]);
    reference.same(&[
        "network",
        "inspect",
        "-f",
        "{{.Name}} {{.Driver}} {{.Internal}} {{.Attachable}} {{.Labels}} {{.Options}} {{.Created}}",
        &front,
        &back,
    ]);
    reference.same(&["network", "inspect", "nosuchnetwork"]);
    reference.same(&["inspect", "--type", "network", "-f", "{{.Scope}}", &front]);

    // Created with the same flags, the same network.
    let made = [
        reference.network_name("made-berth"),
        reference.network_name("made-docker"),
    ];
    for (cli, name) in [(BERTH, &made[0]), ("docker", &made[1])] {
        let args = [
            "network",
            "create",
            "-d",
            "bridge",
            "--internal",
            "--attachable",
            "--label",
            "a=1",
            "-o",
            "com.docker.network.driver.mtu=1400",
            name,
        ];
        let created = run(cli, &reference.host, &args, None);
        assert!(created.status.success(), "{cli}: {}", text(&created.stderr));
        assert_eq!(text(&created.stdout).trim().len(), 64, "{cli}");
    }
    let template = "{{.Driver}} {{.Internal}} {{.Attachable}} {{.EnableIPv6}} {{.Labels}} \
        {{.Options}} {{.IPAM.Driver}} {{json .IPAM.Options}}";
    assert_eq!(
        reference.inspect(template, &made[0]),
        reference.inspect(template, &made[1])
    );
    // A name already taken, and address settings checked before anything is sent.
    reference.same(&["network", "create", &front]);
    reference.same(&["network", "create", "--gateway", "10.0.0.1", "x"]);
    reference.same(&[
        "network",
        "create",
        "--subnet",
        "10.0.0.0/8",
        "--subnet",
        "10.1.0.0/16",
        "x",
    ]);
    reference.same(&[
        "network",
        "create",
        "--subnet",
        "10.0.0.0/8",
        "--ip-range",
        "11.0.0.0/24",
        "x",
    ]);

    // Connecting containers, where the daemon can.
    let box_ = reference.running("netbox", &["sleep", "300"]);
    let probe = reference.docker(&["network", "connect", &back, &box_]);
    if probe.status.success() {
        reference.docker_ok(&["network", "disconnect", &back, &box_]);
        reference.same_after(
            &["network", "connect", &back, &box_],
            &["network", "disconnect", &back, &box_],
        );
        let networks = reference.inspect("{{json .NetworkSettings.Networks}}", &box_);
        assert!(networks.contains(&back), "{networks}");
        reference.same(&["network", "connect", &back, &box_]);
        reference.same_after(
            &["network", "disconnect", &back, &box_],
            &["network", "connect", &back, &box_],
        );
        reference.same(&["network", "connect", &back, "nosuchcontainer"]);
        reference.same(&["network", "disconnect", "nosuchnetwork", &box_]);
    } else {
        eprintln!(
            "network connect not compared: {}",
            text(&probe.stderr).trim()
        );
    }

    reference.same_after(&["network", "rm", &front], &["network", "create", &front]);
    reference.same_after(
        &["network", "rm", "nosuchnetwork", &back],
        &["network", "create", &back],
    );
    reference.same(&["network", "rm", "-f", "nosuchnetwork"]);
}

/// A file tree as a sorted listing: path, kind, permissions, size, link target.
fn tree(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            use std::os::unix::fs::PermissionsExt;
            let path = entry.path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let name = path.strip_prefix(root).unwrap().display().to_string();
            let kind = if meta.is_symlink() {
                format!("link -> {}", fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                "dir".to_string()
            } else {
                format!("file {}", meta.len())
            };
            out.push(format!(
                "{name} {kind} {:o}",
                meta.permissions().mode() & 0o7777
            ));
            if meta.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

#[test]
fn container_files_and_figures_match_the_docker_cli() {
    let Some(mut reference) = Reference::get() else {
        return;
    };
    let image = reference.image.clone();
    let seconds = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let web = reference.name("web");
    reference.docker_ok(&[
        "run",
        "-d",
        "--name",
        &web,
        "-p",
        "127.0.0.1::80",
        "-p",
        "127.0.0.1::81/udp",
        "--expose",
        "90",
        &image,
        "sleep",
        "300",
    ]);

    // port: the mappings, naturally sorted, or one of them.
    let ports = reference.same(&["port", &web]);
    assert!(ports.starts_with("80/tcp -> 127.0.0.1:"), "{ports}");
    reference.same(&["port", &web, "80"]);
    reference.same(&["port", &web, "81/udp"]);
    reference.same(&["port", &web, "90"]);
    reference.same(&["port", &web, "x"]);
    reference.same(&["port", "nosuchcontainer"]);

    // diff: what changed in the container.
    reference.docker_ok(&[
        "exec",
        &web,
        "sh",
        "-c",
        "mkdir -p /data/sub; echo x > /data/f; rm /bin/stty",
    ]);
    // The daemon lists changes in no particular order.
    let changes: Vec<Vec<String>> = [BERTH, "docker"]
        .iter()
        .map(|cli| {
            let output = run(cli, &reference.host, &["diff", &web], None);
            assert!(output.status.success(), "{cli}: {}", text(&output.stderr));
            let mut lines: Vec<String> = text(&output.stdout).lines().map(String::from).collect();
            lines.sort();
            lines
        })
        .collect();
    assert_eq!(changes[0], changes[1]);
    assert!(
        changes[0].contains(&"A /data/f".to_string()),
        "{:?}",
        changes[0]
    );
    assert!(
        changes[0].contains(&"D /bin/stty".to_string()),
        "{:?}",
        changes[0]
    );
    reference.same(&["container", "diff", "nosuchcontainer"]);

    // cp: a local tree into the container and back is the same tree, and docker copies
    // the same in both directions.
    let local = reference.rootfs.join("cp");
    let source = local.join("tree");
    fs::create_dir_all(source.join("sub")).unwrap();
    fs::write(source.join("a"), "alpha").unwrap();
    fs::write(source.join("sub/b"), "beta").unwrap();
    std::os::unix::fs::symlink("a", source.join("link")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(source.join("sub/b"), fs::Permissions::from_mode(0o750)).unwrap();
    }
    let source_text = source.to_str().unwrap();
    for (cli, dir) in [(BERTH, "/in-berth"), ("docker", "/in-docker")] {
        let into = format!("{web}:{dir}");
        let copied = run(cli, &reference.host, &["cp", source_text, &into], None);
        assert!(copied.status.success(), "{cli}: {}", text(&copied.stderr));
        let back = local.join(format!("back{}", dir.replace('/', "-")));
        let copied = run(
            cli,
            &reference.host,
            &["cp", &into, back.to_str().unwrap()],
            None,
        );
        assert!(copied.status.success(), "{cli}: {}", text(&copied.stderr));
        assert_eq!(tree(&back), tree(&source), "{cli}");
    }
    // `DIR/.`: the directory's contents, into a new directory.
    let contents: Vec<Vec<String>> = [BERTH, "docker"]
        .iter()
        .map(|cli| {
            let contents = local.join(format!("contents-{}", cli.len()));
            fs::create_dir(&contents).unwrap();
            let from = format!("{web}:/in-berth/.");
            let into = contents.join("new");
            let copied = run(
                cli,
                &reference.host,
                &["cp", &from, into.to_str().unwrap()],
                None,
            );
            assert!(copied.status.success(), "{cli}: {}", text(&copied.stderr));
            tree(&contents)
        })
        .collect();
    assert_eq!(contents[0], contents[1]);
    assert_eq!(
        reference.docker_ok(&["exec", &web, "sh", "-c", "cd /in-berth && ls -lR"]),
        reference.docker_ok(&["exec", &web, "sh", "-c", "cd /in-docker && ls -lR"])
    );
    // The same archive on stdout; the same failures.
    let archive = format!("{web}:/in-berth");
    reference.same(&["cp", &archive, "-"]);
    reference.same(&["cp", &format!("{web}:/nosuch"), local.to_str().unwrap()]);
    reference.same(&[
        "cp",
        &format!("{web}:/in-berth"),
        "/nonexistent-berth-dir/x/",
    ]);
    reference.same(&["cp", source_text, &format!("{web}:/in-berth/a")]);
    let file = source.join("a");
    reference.same(&["cp", file.to_str().unwrap(), &format!("{web}:/nosuchdir/")]);
    reference.same(&["cp", "a", "b"]);
    reference.same(&["cp", "a:b", "c:d"]);
    reference.same_with_input(&["cp", "-", &format!("{web}:/in-berth/a")], Some(""));

    // commit: the same image from the same changes.
    let committed = [
        reference.image_name("commit-berth"),
        reference.image_name("commit-docker"),
    ];
    for (cli, name) in [(BERTH, &committed[0]), ("docker", &committed[1])] {
        let args = [
            "commit",
            "-c",
            "ENV A=1",
            "-c",
            "CMD [\"sh\"]",
            "-m",
            "message",
            "-a",
            "someone",
            "--pause=false",
            &web,
            name,
        ];
        let output = run(cli, &reference.host, &args, None);
        assert!(output.status.success(), "{cli}: {}", text(&output.stderr));
        assert!(text(&output.stdout).starts_with("sha256:"), "{cli}");
    }
    let template = "{{json .Config.Env}} {{json .Config.Cmd}} {{.Comment}} {{.Author}}";
    assert_eq!(
        reference.inspect(template, &committed[0]),
        reference.inspect(template, &committed[1])
    );
    reference.same(&["commit", "nosuchcontainer"]);
    reference.same(&["commit", &web, "Not:Valid"]);

    // export: the same files (or, from a daemon that fails to export, the same failure).
    let exports: Vec<Output> = [BERTH, "docker"]
        .iter()
        .map(|cli| run(cli, &reference.host, &["export", &web], None))
        .collect();
    assert_eq!(text(&exports[0].stderr), text(&exports[1].stderr));
    assert_eq!(exports[0].status.code(), exports[1].status.code());
    if exports[1].status.success() {
        let listing = |archive: &[u8]| {
            let mut tar = Command::new("tar")
                .arg("-t")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            tar.stdin.take().unwrap().write_all(archive).unwrap();
            text(&tar.wait_with_output().unwrap().stdout)
        };
        assert_eq!(listing(&exports[0].stdout), listing(&exports[1].stdout));
    }
    reference.same(&["export", "nosuchcontainer"]);
    reference.same(&["export", "-o", "/nonexistent-berth-dir/x.tar", &web]);

    // stats --no-stream: the same names, figures in the same shapes.
    reference.same(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.Container}} {{.ID}}",
        &web,
    ]);
    reference.same(&["stats", "--no-stream", "nosuchcontainer"]);
    let format = "{{.CPUPerc}}|{{.MemPerc}}|{{.PIDs}}|{{.NetIO}}|{{.BlockIO}}|{{.MemUsage}}";
    for cli in [BERTH, "docker"] {
        let output = run(
            cli,
            &reference.host,
            &["stats", "--no-stream", "--format", format, &web],
            None,
        );
        let figures = text(&output.stdout);
        let fields: Vec<&str> = figures.trim_end().split('|').collect();
        assert_eq!(fields.len(), 6, "{cli}: {figures}");
        assert!(
            fields[0].ends_with('%') && fields[1].ends_with('%'),
            "{cli}: {figures}"
        );
        assert!(fields[2].parse::<u64>().is_ok(), "{cli}: {figures}");
        assert!(
            fields[3..].iter().all(|f| f.contains(" / ")),
            "{cli}: {figures}"
        );
    }
    let keys = |cli: &str| -> Vec<String> {
        let output = run(
            cli,
            &reference.host,
            &["stats", "--no-stream", "--format", "json", &web],
            None,
        );
        let row: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        row.as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(keys(BERTH), keys("docker"));
    let table: Vec<String> = [BERTH, "docker"]
        .iter()
        .map(|cli| {
            let output = run(cli, &reference.host, &["stats", "--no-stream", &web], None);
            text(&output.stdout)
                .lines()
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(table[0], table[1]);
    assert_eq!(
        table[0],
        "CONTAINER ID NAME CPU % MEM USAGE / LIMIT MEM % NET I/O BLOCK I/O PIDS"
    );

    // events: a short-lived container's events in a window, in docker's lines and
    // templates. (Asked right away: a busy daemon keeps only its latest events.)
    let since = (seconds() - 1).to_string();
    let brief = reference.running("brief", &["sleep", "30"]);
    reference.docker_ok(&["stop", "-t", "0", &brief]);
    thread::sleep(Duration::from_millis(1100));
    let until = seconds().to_string();
    let filter = format!("container={brief}");
    let events = reference.same(&[
        "events", "--since", &since, "--until", &until, "--filter", &filter,
    ]);
    assert!(events.contains(" container start "), "{events}");
    assert!(events.contains(&format!("name={brief}")), "{events}");
    reference.same(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        &filter,
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} [{{.Status}}] {{.Scope}}",
    ]);
    reference.same(&[
        "events", "--since", &since, "--until", &until, "--filter", &filter, "--format", "json",
    ]);
    reference.same(&[
        "system", "events", "--since", "1m", "--until", &until, "--filter", &filter,
    ]);
    reference.same(&["events", "--since", "yesterday"]);
    reference.same(&["events", "--format", "{{.Type"]);
}

/// Prune output with the IDs and names it lists in sorted order, and `known` replaced by
/// its position, so that runs on different objects compare.
fn normalized(output: &Output, known: &[String]) -> (String, String, Option<i32>) {
    let mut stdout = text(&output.stdout);
    for (i, name) in known.iter().enumerate() {
        stdout = stdout.replace(name, &format!("<{i}>"));
    }
    // The daemon lists what it removed in no particular order.
    let mut blocks: Vec<String> = Vec::new();
    for block in stdout.split("\n\n") {
        let mut lines: Vec<&str> = block.lines().collect();
        if lines.len() > 1 {
            lines[1..].sort_unstable();
        }
        blocks.push(lines.join("\n"));
    }
    (
        blocks.join("\n\n"),
        text(&output.stderr),
        output.status.code(),
    )
}

#[test]
fn prune_matches_the_docker_cli() {
    let Some(mut reference) = Reference::get() else {
        return;
    };
    let image = reference.image.clone();
    let label = format!("{}-prune", reference.prefix);
    let filter = format!("label={label}");
    let labelled = format!("{label}=1");

    // Asked first; anything but "y" leaves everything as it was.
    for command in ["container", "network", "volume", "image"] {
        reference.same_with_input(&[command, "prune", "--filter", &filter], Some("n\n"));
    }
    reference.same_with_input(
        &["system", "prune", "--volumes", "--filter", &filter],
        Some("no\n"),
    );
    reference.same(&["system", "prune", "-f", "--volumes", "--filter", "until=1h"]);

    // `system prune` prunes the build cache too; a daemon that cannot build (berthd) has
    // none, which the docker CLI reports as a failure and berth as nothing to remove.
    let builds = reference
        .docker(&["builder", "prune", "-f", "--filter", &filter])
        .status
        .success();
    if !builds {
        let pruned = reference.berth(&["system", "prune", "-f", "--filter", &filter]);
        assert_eq!(text(&pruned.stdout), "Total reclaimed space: 0B\n");
    }

    // Each CLI prunes its own set of the same objects.
    let mut outputs = Vec::new();
    for cli in [BERTH, "docker"] {
        let tag = if cli == BERTH { "berth" } else { "docker" };
        let mut known = Vec::new();
        for i in 0..2 {
            let name = reference.name(&format!("pruned-{tag}-{i}"));
            let id = reference.docker_ok(&[
                "create", "--name", &name, "--label", &labelled, &image, "true",
            ]);
            known.push(id);
        }
        let network = reference.network_name(&format!("pruned-net-{tag}"));
        reference.docker_ok(&["network", "create", "--label", &labelled, &network]);
        known.push(network);
        let volume = reference.volume_name(&format!("pruned-vol-{tag}"));
        reference.docker_ok(&["volume", "create", "--label", &labelled, &volume]);
        known.push(volume);
        let committed = reference.image_name(&format!("pruned-img-{tag}"));
        let source = reference.name(&format!("commit-source-{tag}"));
        reference.docker_ok(&["create", "--name", &source, &image, "true"]);
        let id = reference.docker_ok(&[
            "commit",
            "-c",
            &format!("LABEL {labelled}"),
            &source,
            &committed,
        ]);
        reference.docker_ok(&["rm", &source]);
        known.push(committed);
        known.push(id);

        let host = reference.host.clone();
        let prune =
            |args: &[&str], known: &[String]| normalized(&run(cli, &host, args, None), known);
        let mut steps = vec![
            prune(&["container", "prune", "-f", "--filter", &filter], &known),
            prune(&["network", "prune", "-f", "--filter", &filter], &known),
            prune(&["volume", "prune", "-f", "--filter", &filter], &known),
            prune(&["image", "prune", "-f", "--filter", &filter], &known),
            prune(&["image", "prune", "-a", "-f", "--filter", &filter], &known),
        ];
        if builds {
            steps.push(prune(
                &["system", "prune", "-f", "--filter", &filter],
                &known,
            ));
        }
        outputs.push(steps);
    }
    let (berth, docker) = (&outputs[0], &outputs[1]);
    for (step, (berth, docker)) in berth.iter().zip(docker).enumerate() {
        let docker_stderr = docker.1.replace("docker", "berth");
        assert_eq!(berth.0, docker.0, "stdout of prune step {step}");
        assert_eq!(berth.1, docker_stderr, "stderr of prune step {step}");
        assert_eq!(berth.2, docker.2, "status of prune step {step}");
    }
    assert!(
        berth[0]
            .0
            .starts_with("Deleted Containers:\n<0>\n<1>\n\nTotal reclaimed space:"),
        "{}",
        berth[0].0
    );
    assert_eq!(berth[1].0, "Deleted Networks:\n<2>\n\n");
    let images = &berth[4].0;
    assert!(images.starts_with("Deleted Images:\n"), "{images}");
    assert!(
        images.contains("\nuntagged: <4>\n") && images.contains("\ndeleted: <5>\n"),
        "{images}"
    );

    // system df: docker's summary rows.
    let types = reference.same(&["system", "df", "--format", "{{.Type}}"]);
    assert_eq!(types, "Images\nContainers\nLocal Volumes\nBuild Cache\n");
    let header = reference.berth(&["system", "df"]);
    assert!(
        text(&header.stdout).starts_with("TYPE            TOTAL     ACTIVE    SIZE"),
        "{}",
        text(&header.stdout)
    );
}
