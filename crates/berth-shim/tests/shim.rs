//! The real `berth-shim` binary running busybox containers: needs root (namespaces, overlayfs).

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::symlink;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use berth_shim_proto::{
    EXIT_FILE, Envelope, ExitStatus, INIT_PID_FILE, Launched, OverlayMount, PROTOCOL_VERSION,
    Request, Response, SHIM_PID_FILE, SOCKET_FILE, ShimConfig,
};
use oci_spec::runtime::{LinuxNamespaceType, RootBuilder, Spec};

const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "ls", "sleep", "hostname", "id", "seq", "head", "tr", "touch", "grep",
];

fn needs_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var("CI").is_err(),
        "CI must run the shim tests as root"
    );
    eprintln!("skipped: needs root");
    false
}

/// A busybox image layer, a container's upper/work dirs and its exec dir.
struct Bundle {
    dir: tempfile::TempDir,
}

impl Bundle {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("layers/l1/bin");
        fs::create_dir_all(&bin).unwrap();
        fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
        for applet in APPLETS {
            symlink("busybox", bin.join(applet)).unwrap();
        }
        for d in ["upper", "work", "exec"] {
            fs::create_dir(dir.path().join(d)).unwrap();
        }
        Self { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn exec(&self, name: &str) -> PathBuf {
        self.path("exec").join(name)
    }

    fn spec(&self, args: &[&str]) -> Spec {
        let mut spec = Spec::default();
        let root = RootBuilder::default()
            .path(self.exec("rootfs"))
            .readonly(false)
            .build();
        spec.set_root(Some(root.unwrap()));
        spec.set_hostname(Some("shimtest".into()));
        let process = spec.process_mut().as_mut().unwrap();
        process.set_args(Some(args.iter().map(|a| a.to_string()).collect()));
        process.set_env(Some(vec!["PATH=/bin".into()]));
        spec
    }

    /// Writes `shim.json` and runs `berth-shim <exec dir>` to its report.
    fn launch(&self, spec: Spec) -> (Launched, bool) {
        let config = ShimConfig {
            version: PROTOCOL_VERSION,
            id: "0".repeat(64),
            spec,
            rootfs: OverlayMount {
                layers_root: self.path("layers"),
                lowerdirs: vec!["l1".into()],
                upperdir: self.path("upper"),
                workdir: self.path("work"),
            },
            log_path: Some(self.exec("container.log")),
            open_stdin: false,
            stdin_once: false,
        };
        fs::write(self.exec("shim.json"), serde_json::to_vec(&config).unwrap()).unwrap();
        // BERTH_SHIM runs the tests against another build (a release one, to measure it).
        let binary =
            std::env::var_os("BERTH_SHIM").unwrap_or(env!("CARGO_BIN_EXE_berth-shim").into());
        let out = Command::new(binary)
            .arg(self.path("exec"))
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(stdout.lines().count(), 1, "exactly one line: {stdout:?}");
        (serde_json::from_str(&stdout).unwrap(), out.status.success())
    }

    fn log_entries(&self) -> Vec<serde_json::Value> {
        fs::read_to_string(self.exec("container.log"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// A launched shim; killed with its container if the test fails before it ends.
struct Shim {
    exec_dir: PathBuf,
    shim_pid: i32,
    init_pid: i32,
}

impl Shim {
    fn launch(bundle: &Bundle, spec: Spec) -> Shim {
        let (launched, success) = bundle.launch(spec);
        assert!(success && launched.error.is_none(), "{launched:?}");
        let shim = Shim {
            exec_dir: bundle.path("exec"),
            shim_pid: launched.shim_pid.unwrap(),
            init_pid: launched.init_pid.unwrap(),
        };
        let pid_file = |name| fs::read_to_string(shim.exec_dir.join(name)).unwrap();
        assert_eq!(pid_file(SHIM_PID_FILE), shim.shim_pid.to_string());
        assert_eq!(pid_file(INIT_PID_FILE), shim.init_pid.to_string());
        shim
    }

    fn connect(&self, request: Request) -> (Response, BufReader<UnixStream>) {
        let mut stream = UnixStream::connect(self.exec_dir.join(SOCKET_FILE)).unwrap();
        let mut line = serde_json::to_vec(&Envelope {
            v: PROTOCOL_VERSION,
            request,
        })
        .unwrap();
        line.push(b'\n');
        stream.write_all(&line).unwrap();
        let mut reader = BufReader::new(stream);
        let mut answer = String::new();
        reader.read_line(&mut answer).unwrap();
        (serde_json::from_str(&answer).unwrap(), reader)
    }

    fn request(&self, request: Request) -> Response {
        let (response, _) = self.connect(request);
        assert!(response.ok, "{response:?}");
        response
    }

    fn attach(&self) -> Attached {
        let (response, reader) = self.connect(Request::Attach {
            stdout: true,
            stderr: true,
            stdin: false,
        });
        assert!(response.ok, "{response:?}");
        Attached(reader)
    }

    /// Sends `Wait` now; the answer is read by [`Waiting::exit`].
    fn wait(&self) -> Waiting {
        let mut stream = UnixStream::connect(self.exec_dir.join(SOCKET_FILE)).unwrap();
        let line = serde_json::to_string(&Envelope {
            v: PROTOCOL_VERSION,
            request: Request::Wait,
        });
        stream
            .write_all(format!("{}\n", line.unwrap()).as_bytes())
            .unwrap();
        Waiting(BufReader::new(stream))
    }

    fn rss_kib(&self) -> u64 {
        let status = fs::read_to_string(format!("/proc/{}/status", self.shim_pid)).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Asserts the shim has exited and cleaned up after itself.
    fn assert_gone(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while process_alive(self.shim_pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            !process_alive(self.shim_pid),
            "shim {} still running",
            self.shim_pid
        );
        assert!(
            !process_alive(self.init_pid),
            "init {} still running",
            self.init_pid
        );
        assert!(
            !self.exec_dir.join(SOCKET_FILE).exists(),
            "shim.sock left behind"
        );
    }

    fn exit_record(&self) -> ExitStatus {
        serde_json::from_slice(&fs::read(self.exec_dir.join(EXIT_FILE)).unwrap()).unwrap()
    }
}

impl Drop for Shim {
    fn drop(&mut self) {
        // The shim itself ends when its init does.
        if process_alive(self.init_pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.init_pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Running and not a zombie.
fn process_alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.rsplit(") ").next().unwrap_or("").starts_with('Z'))
        .unwrap_or(false)
}

struct Attached(BufReader<UnixStream>);

impl Attached {
    /// The next frame, or `None` at the end.
    fn frame(&mut self) -> Option<(u8, Vec<u8>)> {
        let mut header = [0u8; 8];
        if self.0.read_exact(&mut header).is_err() {
            return None;
        }
        let len = u32::from_be_bytes(header[4..].try_into().unwrap()) as usize;
        let mut data = vec![0; len];
        self.0.read_exact(&mut data).unwrap();
        Some((header[0], data))
    }

    /// All output until the shim closes the stream, joined per stream.
    fn collect(mut self) -> (Vec<u8>, Vec<u8>) {
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        while let Some((stream, data)) = self.frame() {
            match stream {
                1 => stdout.extend(data),
                2 => stderr.extend(data),
                other => panic!("stream {other}"),
            }
        }
        (stdout, stderr)
    }
}

struct Waiting(BufReader<UnixStream>);

impl Waiting {
    fn exit(mut self) -> ExitStatus {
        let mut line = String::new();
        self.0.read_line(&mut line).unwrap();
        let response: Response = serde_json::from_str(&line).unwrap();
        assert!(response.ok, "{response:?}");
        response.exit.expect("an exit status")
    }
}

#[test]
fn output_reaches_attach_and_log_and_exit_code_is_recorded() {
    if !needs_root() {
        return;
    }
    let bundle = Bundle::new();
    let spec = bundle.spec(&[
        "sh",
        "-c",
        "echo hello; echo oops >&2; echo $$; hostname; exit 3",
    ]);
    let launch_started = Instant::now();
    let shim = Shim::launch(&bundle, spec);
    let launched_in = launch_started.elapsed();
    let mut attached = shim.attach();
    let waiting = shim.wait();
    let start_sent = Instant::now();
    shim.request(Request::Start);
    let first = attached.frame().expect("output");
    let output_in = start_sent.elapsed();
    eprintln!(
        "latency: launch {launched_in:?}, start -> first output {output_in:?}, total {:?}",
        launch_started.elapsed()
    );
    let (mut stdout, stderr) = attached.collect();
    if first.0 == 1 {
        stdout.splice(0..0, first.1);
    }
    assert_eq!(String::from_utf8(stdout).unwrap(), "hello\n1\nshimtest\n");
    assert_eq!(stderr, b"oops\n");

    let exit = waiting.exit();
    assert_eq!(exit.exit_code, 3);
    assert!(
        exit.finished_at.ends_with('Z') && exit.finished_at.contains('T'),
        "{exit:?}"
    );
    shim.assert_gone();
    assert_eq!(shim.exit_record(), exit);

    let entries = bundle.log_entries();
    let lines: Vec<(String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["stream"].as_str().unwrap().into(),
                e["log"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        lines.contains(&("stdout".into(), "hello\n".into())),
        "{lines:?}"
    );
    assert!(
        lines.contains(&("stderr".into(), "oops\n".into())),
        "{lines:?}"
    );
    assert_eq!(entries.len(), 4);
    assert!(
        entries
            .iter()
            .all(|e| e["time"].as_str().unwrap().ends_with('Z'))
    );
}

#[test]
fn a_missing_command_fails_the_launch_with_127_and_leaves_nothing() {
    if !needs_root() {
        return;
    }
    let bundle = Bundle::new();
    let (launched, success) = bundle.launch(bundle.spec(&["nonexistent"]));
    assert!(!success);
    assert_eq!(launched.exit_code, Some(127));
    assert_eq!(
        launched.error.as_deref(),
        Some(r#"exec: "nonexistent": executable file not found in $PATH"#)
    );
    assert_eq!((launched.shim_pid, launched.init_pid), (None, None));
    assert!(!bundle.exec(SOCKET_FILE).exists());
    let exec_dir = bundle.path("exec");
    let deadline = Instant::now() + Duration::from_secs(5);
    while shim_processes_for(&exec_dir) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        shim_processes_for(&exec_dir),
        0,
        "a shim for {exec_dir:?} is still running"
    );
    assert!(
        fs::read_to_string(bundle.exec("shim.log"))
            .unwrap()
            .contains("executable file not found")
    );
}

/// Running processes whose command line names `exec_dir`.
fn shim_processes_for(exec_dir: &Path) -> usize {
    let needle = exec_dir.as_os_str().as_encoded_bytes();
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter(|e| process_alive(e.file_name().to_str().unwrap().parse().unwrap()))
        .filter_map(|e| fs::read(e.path().join("cmdline")).ok())
        .filter(|cmdline| cmdline.windows(needle.len()).any(|w| w == needle))
        .count()
}

#[test]
fn kill_through_the_socket_isolation_and_footprint() {
    if !needs_root() {
        return;
    }
    let bundle = Bundle::new();
    let shim = Shim::launch(
        &bundle,
        bundle.spec(&["sh", "-c", "touch /created; exec sleep 1000"]),
    );
    let state = shim.request(Request::State);
    assert_eq!((state.init_pid, state.exit), (Some(shim.init_pid), None));
    let waiting = shim.wait();
    shim.request(Request::Start);

    let deadline = Instant::now() + Duration::from_secs(5);
    while !bundle.path("upper/created").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        bundle.path("upper/created").exists(),
        "writes go to the upper dir"
    );
    assert!(!bundle.path("layers/l1/created").exists());
    let rootfs = bundle.exec("rootfs");
    let host_mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !host_mounts.contains(rootfs.to_str().unwrap()),
        "the overlay is visible on the host"
    );
    let container_mounts =
        fs::read_to_string(format!("/proc/{}/mountinfo", shim.init_pid)).unwrap();
    assert!(
        container_mounts
            .lines()
            .any(|l| l.contains(" / / ") && l.contains(" - overlay "))
    );
    let socket_mode = fs::metadata(shim.exec_dir.join(SOCKET_FILE))
        .unwrap()
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&socket_mode) & 0o777,
        0o600
    );
    let comm = fs::read_to_string(format!("/proc/{}/comm", shim.shim_pid)).unwrap();
    assert_eq!(comm.trim(), "berth-shim");
    eprintln!("shim VmRSS with a running `sleep`: {} KiB", shim.rss_kib());

    shim.request(Request::Kill { signal: 9 });
    assert_eq!(waiting.exit().exit_code, 137);
    shim.assert_gone();
    assert_eq!(shim.exit_record().exit_code, 137);
}

#[test]
fn all_output_is_kept_and_long_lines_are_split() {
    if !needs_root() {
        return;
    }
    let bundle = Bundle::new();
    let script = "seq 1 20000; head -c 20000 /dev/zero | tr '\\0' a; echo; printf tail";
    let shim = Shim::launch(&bundle, bundle.spec(&["sh", "-c", script]));
    let attached = shim.attach();
    shim.request(Request::Start);
    let (stdout, _) = attached.collect();
    let expected: String =
        (1..=20000).map(|n| format!("{n}\n")).collect::<String>() + &"a".repeat(20000) + "\ntail";
    assert_eq!(String::from_utf8(stdout).unwrap(), expected);
    shim.assert_gone();

    let logs: Vec<String> = bundle
        .log_entries()
        .iter()
        .map(|e| e["log"].as_str().unwrap().into())
        .collect();
    assert_eq!(logs.len(), 20000 + 3);
    assert_eq!(logs[19999], "20000\n");
    assert_eq!(
        logs[20000],
        "a".repeat(16 * 1024),
        "a partial line is cut at 16 KiB"
    );
    assert_eq!(logs[20001], "a".repeat(20000 - 16 * 1024) + "\n");
    assert_eq!(
        logs[20002], "tail",
        "the unfinished last line is flushed at the end"
    );
}

#[test]
fn orphans_are_reaped_and_their_output_drained_without_a_pid_namespace() {
    if !needs_root() {
        return;
    }
    let bundle = Bundle::new();
    let mut spec = bundle.spec(&["sh", "-c", "(sleep 0.3; echo late) & echo early"]);
    let linux = spec.linux_mut().as_mut().unwrap();
    let namespaces = linux.namespaces().clone().unwrap();
    linux.set_namespaces(Some(
        namespaces
            .into_iter()
            .filter(|n| n.typ() != LinuxNamespaceType::Pid)
            .collect(),
    ));
    let shim = Shim::launch(&bundle, spec);
    let attached = shim.attach();
    let waiting = shim.wait();
    shim.request(Request::Start);
    let (stdout, _) = attached.collect();
    assert_eq!(stdout, b"early\nlate\n");
    assert_eq!(waiting.exit().exit_code, 0);
    shim.assert_gone();
}

#[test]
fn requests_after_exit_and_bad_requests_are_refused_politely() {
    if !needs_root() {
        return;
    }
    let bundle = Bundle::new();
    let shim = Shim::launch(&bundle, bundle.spec(&["sleep", "1000"]));
    let (bad, _) = shim.connect(Request::Kill { signal: 12345 });
    assert!(!bad.ok && bad.error.unwrap().contains("invalid signal"));
    let mut raw = UnixStream::connect(shim.exec_dir.join(SOCKET_FILE)).unwrap();
    raw.write_all(b"{\"v\":99,\"op\":\"state\"}\nnonsense\n")
        .unwrap();
    let mut answers = BufReader::new(raw);
    for expected in ["unsupported protocol version 99", "bad request"] {
        let mut line = String::new();
        answers.read_line(&mut line).unwrap();
        let response: Response = serde_json::from_str(&line).unwrap();
        assert!(!response.ok && response.error.unwrap().contains(expected));
    }
    // A created container can be killed (SIGTERM would be ignored: the init of a pid
    // namespace only gets the signals it handles, and SIGKILL).
    let waiting = shim.wait();
    shim.request(Request::Kill { signal: 9 });
    assert_eq!(waiting.exit().exit_code, 137);
    shim.assert_gone();
    let late = UnixStream::connect(shim.exec_dir.join(SOCKET_FILE));
    assert!(late.is_err(), "nothing answers once the shim has finished");
    shim.assert_gone();
}
