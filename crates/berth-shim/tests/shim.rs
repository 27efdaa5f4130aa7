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
use oci_spec::runtime::{BoxBuilder, LinuxNamespaceType, Process, RootBuilder, Spec, UserBuilder};

const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "ls", "sleep", "hostname", "id", "seq", "head", "tr", "touch", "grep",
    "tty", "stty",
];

/// The longest a test client waits for the shim.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// How the container's stdin is set up (`docker run -i`: open, closed after the first client).
#[derive(Clone, Copy, Default)]
struct StdinConfig {
    open: bool,
    once: bool,
}

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
        self.launch_with(spec, StdinConfig::default())
    }

    fn launch_with(&self, spec: Spec, stdin: StdinConfig) -> (Launched, bool) {
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
            open_stdin: stdin.open,
            stdin_once: stdin.once,
            log_max_size: 0,
            log_max_files: 0,
            log_format: Default::default(),
            log_compress: false,
            log_attrs: Default::default(),
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
        Self::launch_with(bundle, spec, StdinConfig::default())
    }

    fn launch_with(bundle: &Bundle, spec: Spec, stdin: StdinConfig) -> Shim {
        let (launched, success) = bundle.launch_with(spec, stdin);
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
        // A test that waits for something that never comes fails instead of hanging.
        stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
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
        stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
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

/// Sets `process.terminal` with an initial size of 24x80.
fn with_terminal(mut process: Process) -> Process {
    process.set_terminal(Some(true));
    let size = BoxBuilder::default().height(24u64).width(80u64).build();
    process.set_console_size(Some(size.unwrap()));
    process
}

/// An exec's process: the container's, with other arguments.
fn exec_process(spec: &Spec, args: &[&str]) -> Process {
    let mut process = spec.process().clone().unwrap();
    process.set_args(Some(args.iter().map(|a| a.to_string()).collect()));
    process
}

fn exec_request(exec_id: &str, process: Process, stdin: bool) -> Request {
    Request::Exec {
        exec_id: exec_id.into(),
        process,
        stdin,
        stdout: true,
        stderr: true,
    }
}

/// A raw (terminal) stream: what is typed in, what the terminal shows out.
struct Raw {
    reader: BufReader<UnixStream>,
    seen: Vec<u8>,
}

impl Raw {
    fn new(reader: BufReader<UnixStream>) -> Self {
        Raw {
            reader,
            seen: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).unwrap();
    }

    /// Reads until `needle` shows; returns what came up to its end and keeps the rest.
    fn read_until(&mut self, needle: &str) -> String {
        let needle = needle.as_bytes();
        loop {
            if let Some(at) = self.seen.windows(needle.len()).position(|w| w == needle) {
                let upto: Vec<u8> = self.seen.drain(..at + needle.len()).collect();
                return String::from_utf8_lossy(&upto).into_owned();
            }
            let mut chunk = [0u8; 4096];
            match self.reader.read(&mut chunk) {
                Ok(0) => panic!(
                    "stream ended before {:?}: {:?}",
                    String::from_utf8_lossy(needle),
                    String::from_utf8_lossy(&self.seen)
                ),
                Ok(n) => self.seen.extend_from_slice(&chunk[..n]),
                Err(e) => panic!(
                    "{e} waiting for {:?}: {:?}",
                    String::from_utf8_lossy(needle),
                    String::from_utf8_lossy(&self.seen)
                ),
            }
        }
    }

    fn read_to_end(mut self) -> String {
        self.reader.read_to_end(&mut self.seen).unwrap();
        String::from_utf8_lossy(&self.seen).into_owned()
    }
}

impl Shim {
    /// The exec's state once it has ended (its stream closes only then, so at most a short
    /// wait for a detached one).
    fn exec_exit(&self, exec_id: &str) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let state = self.request(Request::ExecState {
                exec_id: exec_id.into(),
            });
            assert!(state.init_pid.is_some(), "{state:?}");
            if let Some(exit) = state.exit {
                return exit;
            }
            assert!(Instant::now() < deadline, "exec {exec_id} still running");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn refused(&self, request: Request) -> String {
        let (response, _) = self.connect(request);
        assert!(!response.ok, "{response:?}");
        response.error.unwrap()
    }
}

#[test]
fn a_terminal_container_is_typed_into_and_resized() {
    if !needs_root() {
        return;
    }
    let bundle = Bundle::new();
    let mut spec = bundle.spec(&["sh"]);
    let process = with_terminal(spec.process().clone().unwrap());
    spec.set_process(Some(process));
    let stdin = StdinConfig {
        open: true,
        once: true,
    };
    let shim = Shim::launch_with(&bundle, spec, stdin);
    let (response, stream) = shim.connect(Request::Attach {
        stdout: true,
        stderr: true,
        stdin: true,
    });
    assert!(response.ok, "{response:?}");
    let mut terminal = Raw::new(stream);
    let waiting = shim.wait();
    shim.request(Request::Start);

    terminal.send(b"tty; stty size\n");
    let shown = terminal.read_until("24 80\r\n");
    assert!(shown.contains("/dev/pts/0\r\n"), "{shown:?}");
    shim.request(Request::Resize {
        exec_id: None,
        height: 50,
        width: 132,
    });
    terminal.send(b"stty size\n");
    terminal.read_until("50 132\r\n");
    terminal.send(b"echo $((6*7))\n");
    terminal.read_until("\r\n42\r\n");
    terminal.send(b"exit\n");
    terminal.read_to_end();
    assert_eq!(waiting.exit().exit_code, 0);
    shim.assert_gone();

    let entries = bundle.log_entries();
    assert!(
        entries.iter().all(|e| e["stream"] == "stdout"),
        "{entries:?}"
    );
    assert!(entries.iter().any(|e| e["log"] == "42\r\n"), "{entries:?}");
}

#[test]
fn stdin_reaches_the_container_and_stdin_once_ends_it() {
    if !needs_root() {
        return;
    }
    let bundle = Bundle::new();
    let stdin = StdinConfig {
        open: true,
        once: true,
    };
    let shim = Shim::launch_with(&bundle, bundle.spec(&["cat"]), stdin);
    let (response, writer) = shim.connect(Request::Attach {
        stdout: true,
        stderr: true,
        stdin: true,
    });
    assert!(response.ok, "{response:?}");
    let mut writer = Attached(writer);
    let mut reader = shim.attach();
    let waiting = shim.wait();
    shim.request(Request::Start);
    writer.0.get_mut().write_all(b"hello\n").unwrap();
    assert_eq!(writer.frame(), Some((1, b"hello\n".to_vec())));
    assert_eq!(
        reader.frame(),
        Some((1, b"hello\n".to_vec())),
        "every attacher reads"
    );
    writer
        .0
        .get_ref()
        .shutdown(std::net::Shutdown::Write)
        .unwrap();
    // `cat` sees the end of its input and exits: the streams end.
    assert_eq!(writer.collect(), (vec![], vec![]));
    assert_eq!(reader.collect(), (vec![], vec![]));
    assert_eq!(waiting.exit().exit_code, 0);
    shim.assert_gone();
}

#[test]
fn without_stdin_once_the_end_of_a_clients_input_ends_only_its_stream() {
    if !needs_root() {
        return;
    }
    let bundle = Bundle::new();
    let stdin = StdinConfig {
        open: true,
        once: false,
    };
    let shim = Shim::launch_with(&bundle, bundle.spec(&["cat"]), stdin);
    shim.request(Request::Start);
    for input in [&b"first\n"[..], b"second\n"] {
        let (response, stream) = shim.connect(Request::Attach {
            stdout: true,
            stderr: false,
            stdin: true,
        });
        assert!(response.ok, "{response:?}");
        let mut client = Attached(stream);
        client.0.get_mut().write_all(input).unwrap();
        assert_eq!(client.frame(), Some((1, input.to_vec())));
        client
            .0
            .get_ref()
            .shutdown(std::net::Shutdown::Write)
            .unwrap();
        assert_eq!(client.frame(), None, "its stream ends");
        assert_eq!(
            shim.request(Request::State).exit,
            None,
            "the container runs on"
        );
    }
    let waiting = shim.wait();
    shim.request(Request::Kill { signal: 9 });
    assert_eq!(waiting.exit().exit_code, 137);
    shim.assert_gone();
}

#[test]
fn exec_runs_processes_in_the_container() {
    if !needs_root() {
        return;
    }
    let bundle = Bundle::new();
    let spec = bundle.spec(&["sleep", "1000"]);
    let shim = Shim::launch(&bundle, spec.clone());
    shim.request(Request::Start);

    let script = "echo $$ && cat /proc/1/cmdline";
    let sent = Instant::now();
    let (response, stream) = shim.connect(exec_request(
        "e1",
        exec_process(&spec, &["sh", "-c", script]),
        false,
    ));
    let latency = sent.elapsed();
    assert!(response.ok, "{response:?}");
    let host_pid = response.init_pid.unwrap();
    assert!(host_pid > 1 && host_pid != shim.init_pid);
    let (stdout, stderr) = Attached(stream).collect();
    let stdout = String::from_utf8(stdout).unwrap();
    let (pid, cmdline) = stdout.split_once('\n').unwrap();
    let pid: i32 = pid.parse().unwrap();
    assert!(pid > 1, "a pid of the container's namespace: {stdout:?}");
    assert_eq!(
        (cmdline, stderr.as_slice()),
        ("sleep\x001000\x00", &b""[..])
    );
    assert_eq!(shim.exec_exit("e1").exit_code, 0);

    let mut process = exec_process(&spec, &["sh", "-c", "id -u; pwd; echo $FOO >&2; exit 7"]);
    process.set_env(Some(vec!["PATH=/bin".into(), "FOO=bar".into()]));
    process.set_cwd("/dev".into());
    process.set_user(
        UserBuilder::default()
            .uid(65534u32)
            .gid(65534u32)
            .build()
            .unwrap(),
    );
    let (response, stream) = shim.connect(exec_request("e2", process, false));
    assert!(response.ok, "{response:?}");
    let (stdout, stderr) = Attached(stream).collect();
    assert_eq!(
        (stdout.as_slice(), stderr.as_slice()),
        (&b"65534\n/dev\n"[..], &b"bar\n"[..])
    );
    assert_eq!(shim.exec_exit("e2").exit_code, 7);

    let (response, stream) = shim.connect(exec_request("e3", exec_process(&spec, &["cat"]), true));
    assert!(response.ok, "{response:?}");
    let mut client = Attached(stream);
    client.0.get_mut().write_all(b"ping\n").unwrap();
    client
        .0
        .get_ref()
        .shutdown(std::net::Shutdown::Write)
        .unwrap();
    assert_eq!(
        client.collect(),
        (b"ping\n".to_vec(), vec![]),
        "stdin closed at its end"
    );
    assert_eq!(shim.exec_exit("e3").exit_code, 0);

    // A client that goes away ends the exec's input as well.
    let (response, mut stream) =
        shim.connect(exec_request("e5", exec_process(&spec, &["cat"]), true));
    assert!(response.ok, "{response:?}");
    stream.get_mut().write_all(b"unread").unwrap();
    drop(stream);
    assert_eq!(shim.exec_exit("e5").exit_code, 0);

    let error = shim.refused(exec_request("e4", exec_process(&spec, &["nope"]), false));
    assert_eq!(error, r#"exec: "nope": executable file not found in $PATH"#);
    let state = shim.request(Request::ExecState {
        exec_id: "e4".into(),
    });
    assert_eq!(
        (state.init_pid, state.exit.map(|e| e.exit_code)),
        (None, Some(127))
    );
    let error = shim.refused(exec_request("e1", exec_process(&spec, &["true"]), false));
    assert!(error.contains("already exists"), "{error}");
    let error = shim.refused(Request::ExecState {
        exec_id: "unknown".into(),
    });
    assert!(error.contains("no such exec"), "{error}");
    eprintln!("latency: exec request -> answer (process executing) {latency:?}");

    let waiting = shim.wait();
    shim.request(Request::Kill { signal: 9 });
    assert_eq!(waiting.exit().exit_code, 137);
    shim.assert_gone();
}

#[test]
fn exec_with_a_terminal() {
    if !needs_root() {
        return;
    }
    let bundle = Bundle::new();
    let spec = bundle.spec(&["sleep", "1000"]);
    let shim = Shim::launch(&bundle, spec.clone());
    shim.request(Request::Start);
    let process = with_terminal(exec_process(&spec, &["sh"]));
    let (response, stream) = shim.connect(exec_request("t1", process, true));
    assert!(response.ok, "{response:?}");
    let mut terminal = Raw::new(stream);
    terminal.send(b"tty; stty size\n");
    let shown = terminal.read_until("24 80\r\n");
    assert!(shown.contains("/dev/pts/0\r\n"), "{shown:?}");
    shim.request(Request::Resize {
        exec_id: Some("t1".into()),
        height: 30,
        width: 100,
    });
    terminal.send(b"stty size\n");
    terminal.read_until("30 100\r\n");
    terminal.send(b"exit 3\n");
    terminal.read_to_end();
    assert_eq!(shim.exec_exit("t1").exit_code, 3);
    let error = shim.refused(Request::Resize {
        exec_id: Some("t2".into()),
        height: 1,
        width: 1,
    });
    assert!(error.contains("no such exec"), "{error}");

    let waiting = shim.wait();
    shim.request(Request::Kill { signal: 9 });
    assert_eq!(waiting.exit().exit_code, 137);
    shim.assert_gone();
}

#[test]
fn exec_is_refused_unless_the_container_runs() {
    if !needs_root() {
        return;
    }
    let bundle = Bundle::new();
    let spec = bundle.spec(&["sleep", "1000"]);
    let shim = Shim::launch(&bundle, spec.clone());
    let error = shim.refused(exec_request("x", exec_process(&spec, &["true"]), false));
    assert!(
        error.contains("not running"),
        "created, not started: {error}"
    );
    let waiting = shim.wait();
    shim.request(Request::Kill { signal: 9 });
    assert_eq!(waiting.exit().exit_code, 137);
    shim.assert_gone();

    // Without a pid namespace, an orphan keeps the output open after the init has exited.
    let bundle = Bundle::new();
    let mut spec = bundle.spec(&["sh", "-c", "(sleep 1; echo late) & exit 0"]);
    let linux = spec.linux_mut().as_mut().unwrap();
    let namespaces = linux.namespaces().clone().unwrap();
    linux.set_namespaces(Some(
        namespaces
            .into_iter()
            .filter(|n| n.typ() != LinuxNamespaceType::Pid)
            .collect(),
    ));
    let shim = Shim::launch(&bundle, spec.clone());
    let attached = shim.attach();
    shim.request(Request::Start);
    let deadline = Instant::now() + Duration::from_secs(5);
    while shim.request(Request::State).exit.is_none() {
        assert!(Instant::now() < deadline, "the init did not exit");
        std::thread::sleep(Duration::from_millis(5));
    }
    let error = shim.refused(exec_request("x", exec_process(&spec, &["true"]), false));
    assert!(error.contains("not running"), "exited: {error}");
    assert_eq!(attached.collect().0, b"late\n");
    shim.assert_gone();
}

#[test]
fn network_requests_configure_the_containers_namespace_only() {
    if !needs_root() {
        return;
    }
    let bundle = Bundle::new();
    let spec = bundle.spec(&["cat", "/sys/class/net/lo/flags"]);
    let shim = Shim::launch(&bundle, spec);
    shim.request(Request::Network { interfaces: vec![] });
    let ns = |pid: &str| fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    assert_eq!(
        ns(&shim.shim_pid.to_string()),
        ns("self"),
        "the shim stays where it was"
    );
    let attached = shim.attach();
    shim.request(Request::Start);
    // IFF_UP | IFF_LOOPBACK
    assert_eq!(attached.collect().0, b"0x9\n");
    shim.assert_gone();
}
