//! Real containers from a busybox rootfs: root, namespaces, overlayfs. The runtime forks, so
//! these run one after another in the main thread (no libtest harness, see Cargo.toml).

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::PathBuf;
use std::time::Instant;

use berth_runtime::{Container, Error, Stdio};
use berth_shim_proto::OverlayMount;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;
use oci_spec::runtime::{
    BoxBuilder, LinuxNamespaceType, MountBuilder, PosixRlimitBuilder, PosixRlimitType, Process,
    RootBuilder, Spec, UserBuilder,
};

const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "ls", "id", "hostname", "grep", "touch", "sleep", "wc", "tty", "stty",
    "tr",
];

/// A busybox image as one lower layer, plus upper, work and mount point dirs.
struct Bundle {
    dir: tempfile::TempDir,
}

impl Bundle {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let lower = dir.path().join("layers/l1");
        fs::create_dir_all(lower.join("bin")).unwrap();
        fs::copy("/bin/busybox", lower.join("bin/busybox")).unwrap();
        for applet in APPLETS {
            symlink("busybox", lower.join("bin").join(applet)).unwrap();
        }
        fs::create_dir_all(lower.join("etc")).unwrap();
        fs::write(lower.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
        fs::write(lower.join("etc/data"), "not executable\n").unwrap();
        for d in ["upper", "work", "rootfs"] {
            fs::create_dir(dir.path().join(d)).unwrap();
        }
        Self { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn overlay(&self) -> OverlayMount {
        OverlayMount {
            layers_root: self.path("layers"),
            lowerdirs: vec!["l1".into()],
            upperdir: self.path("upper"),
            workdir: self.path("work"),
        }
    }

    fn spec(&self, args: &[&str]) -> Spec {
        let mut spec = Spec::default();
        spec.set_root(Some(
            RootBuilder::default()
                .path(self.path("rootfs"))
                .readonly(false)
                .build()
                .unwrap(),
        ));
        spec.set_hostname(Some("berth-test".into()));
        let process = spec.process_mut().as_mut().unwrap();
        process.set_args(Some(args.iter().map(|a| a.to_string()).collect()));
        process.set_env(Some(vec!["PATH=/bin".into()]));
        spec
    }
}

/// Kills and reaps the init if a test fails half-way.
struct Reaper(Option<Pid>);

impl Reaper {
    fn wait(&mut self) -> WaitStatus {
        let pid = self.0.take().expect("waited twice");
        waitpid(pid, None).unwrap()
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
    }
}

fn stdio_pipe() -> (OwnedFd, OwnedFd, File) {
    let devnull = File::open("/dev/null").unwrap();
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    (read, write, devnull)
}

fn create(bundle: &Bundle, spec: &Spec) -> Result<(Container, OwnedFd), Error> {
    let (read, write, devnull) = stdio_pipe();
    let stdio = Stdio::Descriptors {
        stdin: devnull.as_fd(),
        stdout: write.as_fd(),
        stderr: write.as_fd(),
    };
    berth_runtime::create(spec, &bundle.overlay(), stdio).map(|c| (c, read))
}

/// Runs `spec` to completion: its output and how it ended.
fn run(bundle: &Bundle, spec: &Spec) -> (String, WaitStatus) {
    let (container, read) = create(bundle, spec).unwrap();
    let mut reaper = Reaper(Some(Pid::from_raw(container.pid())));
    container.start().unwrap();
    let mut output = String::new();
    File::from(read).read_to_string(&mut output).unwrap();
    (output, reaper.wait())
}

fn isolation_and_identity() {
    let bundle = Bundle::new();
    let mut spec = bundle.spec(&[
        "sh",
        "-c",
        "echo pid=$$; hostname; grep CapEff /proc/self/status; ulimit -n; echo home=$HOME; \
         cat /proc/timer_list | wc -c; ls -A /proc/acpi | wc -l;  echo 1 > /proc/sys/kernel/ns_last_pid || echo ro; \
         ls /dev; touch /created",
    ]);
    let nofile = PosixRlimitBuilder::default()
        .typ(PosixRlimitType::RlimitNofile)
        .soft(1_048_576u64)
        .hard(1_048_576u64)
        .build()
        .unwrap();
    spec.process_mut()
        .as_mut()
        .unwrap()
        .set_rlimits(Some(vec![nofile]));
    let (output, status) = run(&bundle, &spec);
    assert!(
        matches!(status, WaitStatus::Exited(_, 0)),
        "{status:?}: {output}"
    );
    let host_nofile = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .maximum
        .unwrap();
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines[0], "pid=1");
    assert_eq!(lines[1], "berth-test");
    // AUDIT_WRITE, KILL, NET_BIND_SERVICE: the default spec's set.
    assert_eq!(lines[2], "CapEff:\t0000000020000420");
    assert_eq!(
        lines[3],
        host_nofile.min(1_048_576).to_string(),
        "nofile clamped to the host's hard limit"
    );
    assert_eq!(lines[4], "home=/root");
    assert_eq!(
        lines[5..7],
        ["0", "0"],
        "/proc/timer_list and /proc/acpi are masked"
    );
    assert!(output.contains("ro\n"), "/proc/sys is read-only: {output}");
    for node in [
        "null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue", "ptmx", "fd",
    ] {
        assert!(
            output.lines().any(|l| l == node),
            "/dev/{node} missing: {output}"
        );
    }
    assert!(
        bundle.path("upper/created").exists(),
        "writes go to the upper dir"
    );
    assert!(!bundle.path("layers/l1/created").exists());
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mountinfo.contains(bundle.path("rootfs").to_str().unwrap()),
        "overlay leaked to the host"
    );
}

fn user_switch_keeps_only_ambient_capabilities() {
    let bundle = Bundle::new();
    // The default spec raises its three capabilities in the ambient set too (Docker does not).
    for (ambient, caps) in [(true, "0000000020000420"), (false, "0000000000000000")] {
        let mut spec = bundle.spec(&[
            "sh",
            "-c",
            "id; grep -E 'Cap(Eff|Prm)' /proc/self/status; pwd",
        ]);
        let process = spec.process_mut().as_mut().unwrap();
        let user = UserBuilder::default()
            .uid(1000u32)
            .gid(1000u32)
            .additional_gids(vec![10u32]);
        process.set_user(user.build().unwrap());
        process.set_cwd("/work/dir".into());
        if !ambient {
            let mut caps = process.capabilities().clone().unwrap();
            caps.set_ambient(None);
            process.set_capabilities(Some(caps));
        }
        let (output, status) = run(&bundle, &spec);
        assert!(matches!(status, WaitStatus::Exited(_, 0)), "{output}");
        assert_eq!(
            output,
            format!("uid=1000 gid=1000 groups=10\nCapPrm:\t{caps}\nCapEff:\t{caps}\n/work/dir\n")
        );
    }
}

fn cgroup_hierarchies_follow_the_hosts_layout() {
    let bundle = Bundle::new();
    let host_dirs: Vec<String> = fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    // Mounted afresh in a private cgroup namespace, bound from the host without one.
    for private in [true, false] {
        let mut spec = bundle.spec(&[
            "sh",
            "-c",
            "ls /sys/fs/cgroup; touch /sys/fs/cgroup/x || echo ro",
        ]);
        if !private {
            let linux = spec.linux_mut().as_mut().unwrap();
            let namespaces = linux.namespaces().clone().unwrap();
            linux.set_namespaces(Some(
                namespaces
                    .into_iter()
                    .filter(|n| n.typ() != LinuxNamespaceType::Cgroup)
                    .collect(),
            ));
        }
        let (output, status) = run(&bundle, &spec);
        assert!(matches!(status, WaitStatus::Exited(_, 0)), "{output}");
        for dir in &host_dirs {
            assert!(
                output.lines().any(|l| l == dir),
                "{dir} missing (private: {private}): {output}"
            );
        }
        assert!(output.ends_with("ro\n"), "read-only: {output}");
    }
}

fn command_errors_are_reported_at_create() {
    let bundle = Bundle::new();
    let cases = [
        (
            "nonexistent",
            127,
            r#"exec: "nonexistent": executable file not found in $PATH"#,
        ),
        (
            "/x",
            127,
            r#"exec: "/x": stat /x: no such file or directory"#,
        ),
        ("/etc/data", 126, r#"exec: "/etc/data": permission denied"#),
    ];
    for (command, code, message) in cases {
        let err = create(&bundle, &bundle.spec(&[command])).unwrap_err();
        assert_eq!((err.exit_code(), err.to_string().as_str()), (code, message));
    }
}

fn dropping_a_created_container_ends_its_init() {
    let bundle = Bundle::new();
    let (container, _read) = create(&bundle, &bundle.spec(&["sh"])).unwrap();
    let mut reaper = Reaper(Some(Pid::from_raw(container.pid())));
    drop(container);
    assert!(matches!(reaper.wait(), WaitStatus::Exited(_, 125)));
}

fn refuses_to_fork_a_multithreaded_process() {
    let bundle = Bundle::new();
    let (stop, parked) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || parked.recv());
    let err = create(&bundle, &bundle.spec(&["sh"])).unwrap_err();
    assert!(matches!(err, Error::MultiThreaded { threads: 2 }), "{err}");
    stop.send(()).unwrap();
    thread.join().unwrap().unwrap();
}

/// Reads a pty master until the slave side is closed everywhere (EIO).
fn read_terminal(master: OwnedFd) -> String {
    let mut master = File::from(master);
    let mut output = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match master.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => output.extend_from_slice(&chunk[..n]),
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) => panic!("read terminal: {e}"),
        }
    }
    String::from_utf8(output).unwrap()
}

fn a_terminal_lives_in_the_containers_devpts() {
    let bundle = Bundle::new();
    let mut spec = bundle.spec(&["sh", "-c", "tty; stty size; ls -1 /dev/pts"]);
    let process = spec.process_mut().as_mut().unwrap();
    process.set_terminal(Some(true));
    let size = BoxBuilder::default().height(24u64).width(80u64).build();
    process.set_console_size(Some(size.unwrap()));
    let mut container = berth_runtime::create(&spec, &bundle.overlay(), Stdio::Terminal).unwrap();
    let mut reaper = Reaper(Some(Pid::from_raw(container.pid())));
    let master = container.take_terminal().expect("a terminal");
    container.start().unwrap();
    let output = read_terminal(master.into());
    assert!(
        matches!(reaper.wait(), WaitStatus::Exited(_, 0)),
        "{output}"
    );
    // A pty's output turns "\n" into "\r\n"; the container's devpts has only this pty.
    assert_eq!(output, "/dev/pts/0\r\n24 80\r\n0\r\nptmx\r\n");

    let mismatch = create(&bundle, &spec).unwrap_err();
    assert!(
        matches!(
            mismatch,
            Error::Spec(berth_runtime::SpecError::StdioMismatch { terminal: true })
        ),
        "{mismatch}"
    );
}

/// An exec's process, with `args`, as the container's own process otherwise.
fn exec_process(spec: &Spec, args: &[&str]) -> Process {
    let mut process = spec.process().clone().unwrap();
    process.set_args(Some(args.iter().map(|a| a.to_string()).collect()));
    process
}

/// Runs an exec to its end: its output and exit status.
fn run_exec(init: i32, process: &Process) -> Result<(String, WaitStatus), Error> {
    let (read, write, devnull) = stdio_pipe();
    let stdio = Stdio::Descriptors {
        stdin: devnull.as_fd(),
        stdout: write.as_fd(),
        stderr: write.as_fd(),
    };
    let exec = berth_runtime::exec(init, process, stdio);
    drop(write);
    let exec = exec?;
    let mut reaper = Reaper(Some(Pid::from_raw(exec.pid())));
    let mut output = String::new();
    File::from(read).read_to_string(&mut output).unwrap();
    Ok((output, reaper.wait()))
}

fn exec_joins_the_running_container() {
    let bundle = Bundle::new();
    let spec = bundle.spec(&["sleep", "1000"]);
    let (container, _output) = create(&bundle, &spec).unwrap();
    let init = container.pid();
    let _reaper = Reaper(Some(Pid::from_raw(init)));
    let refused =
        berth_runtime::exec(init, &exec_process(&spec, &["true"]), Stdio::Terminal).unwrap_err();
    assert!(matches!(refused, Error::Spec(_)), "{refused}");
    container.start().unwrap();

    let process = exec_process(
        &spec,
        &[
            "sh",
            "-c",
            "echo $$; hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; id -u; pwd",
        ],
    );
    let started = Instant::now();
    let (output, status) = run_exec(init, &process).unwrap();
    eprint!("(exec ran in {:?}) ", started.elapsed());
    assert!(
        matches!(status, WaitStatus::Exited(_, 0)),
        "{status:?}: {output}"
    );
    let lines: Vec<&str> = output.lines().collect();
    let pid: i32 = lines[0].parse().unwrap();
    assert!(
        pid > 1,
        "in the container's pid namespace, not its init: {output}"
    );
    assert_eq!(lines[1..], ["berth-test", "sleep 1000 ", "0", "/"]);

    let mut process = exec_process(&spec, &["sh", "-c", "id; pwd; echo $HOME $FOO; exit 7"]);
    process.set_env(Some(vec!["PATH=/bin".into(), "FOO=bar".into()]));
    process.set_cwd("/etc".into());
    let user = UserBuilder::default()
        .uid(65534u32)
        .gid(65534u32)
        .additional_gids(vec![5u32]);
    process.set_user(user.build().unwrap());
    let (output, status) = run_exec(init, &process).unwrap();
    assert!(
        matches!(status, WaitStatus::Exited(_, 7)),
        "{status:?}: {output}"
    );
    assert_eq!(output, "uid=65534 gid=65534 groups=5\n/etc\n/ bar\n");

    for (command, code, message) in [
        (
            "nope",
            127,
            r#"exec: "nope": executable file not found in $PATH"#,
        ),
        ("/etc/data", 126, r#"exec: "/etc/data": permission denied"#),
    ] {
        let err = run_exec(init, &exec_process(&spec, &[command])).unwrap_err();
        assert_eq!((err.exit_code(), err.to_string().as_str()), (code, message));
    }
}

/// A cgroup v2 directory made for one test, removed (once empty) when dropped.
struct TestCgroup(PathBuf);

impl TestCgroup {
    /// Under the host's cgroup v2 mount (`/sys/fs/cgroup` or, hybrid, its `unified`), where a
    /// new leaf can always take a process.
    fn new() -> Self {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let mountpoint = mountinfo
            .lines()
            .filter(|l| l.contains(" - cgroup2 "))
            .filter_map(|l| l.split(' ').nth(4))
            .find(|m| m.starts_with("/sys/fs/cgroup"))
            .expect("a cgroup v2 mount");
        let dir = PathBuf::from(mountpoint).join(format!("berth-exec-test-{}", std::process::id()));
        fs::create_dir(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}

fn exec_joins_the_inits_cgroup() {
    let bundle = Bundle::new();
    let cgroup = TestCgroup::new();
    let spec = bundle.spec(&["sleep", "1000"]);
    let (container, _output) = create(&bundle, &spec).unwrap();
    let init = container.pid();
    let _reaper = Reaper(Some(Pid::from_raw(init)));
    container.start().unwrap();
    fs::write(cgroup.0.join("cgroup.procs"), init.to_string()).unwrap();
    let (output, status) =
        run_exec(init, &exec_process(&spec, &["cat", "/proc/self/cgroup"])).unwrap();
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{output}");
    let name = cgroup.0.file_name().unwrap().to_str().unwrap();
    assert!(
        output
            .lines()
            .any(|l| l.starts_with("0::") && l.ends_with(name)),
        "not in {name}: {output}"
    );
}

fn the_init_program_runs_as_pid_1_and_reaps_orphans() {
    let bundle = Bundle::new();
    let init_path = bundle.path("docker-init");
    fs::write(&init_path, berth_runtime::init_binary()).unwrap();
    fs::set_permissions(&init_path, fs::Permissions::from_mode(0o755)).unwrap();
    let script = "read -r pid rest < /proc/1/stat; echo init=$(cat /proc/1/comm) self=$$; \
         for i in 1 2 3; do sh -c 'sleep 0.05 &'; done; sleep 0.5; \
         zombies=0; for s in /proc/[0-9]*/stat; do read -r p c state rest < $s; \
           [ \"$state\" = Z ] && zombies=$((zombies + 1)); done; echo zombies=$zombies; \
         trap 'echo term; exit 5' TERM; echo ready; while :; do sleep 0.02; done";
    let mut spec = bundle.spec(&["/sbin/docker-init", "--", "sh", "-c", script]);
    let mut mounts = spec.mounts().clone().unwrap();
    mounts.push(
        MountBuilder::default()
            .destination("/sbin/docker-init")
            .typ("bind")
            .source(&init_path)
            .options(vec!["rbind".into(), "ro".into()])
            .build()
            .unwrap(),
    );
    spec.set_mounts(Some(mounts));
    let (container, read) = create(&bundle, &spec).unwrap();
    let mut reaper = Reaper(Some(Pid::from_raw(container.pid())));
    container.start().unwrap();
    let mut lines = BufReader::new(File::from(read)).lines().map(Result::unwrap);
    assert_eq!(lines.next().unwrap(), "init=docker-init self=2");
    assert_eq!(lines.next().unwrap(), "zombies=0");
    assert_eq!(lines.next().unwrap(), "ready");
    // Pid 1 of a namespace gets no signal it has no handler for: the init forwards it.
    kill(reaper.0.unwrap(), Signal::SIGTERM).unwrap();
    assert_eq!(lines.next().unwrap(), "term");
    assert!(matches!(reaper.wait(), WaitStatus::Exited(_, 5)));
}

/// `(name, function)` pairs for the test list.
macro_rules! tests {
    ($($test:ident),* $(,)?) => {
        &[$((stringify!($test), $test as fn())),*]
    };
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run these tests as root"
        );
        eprintln!("skipping berth-runtime container tests: they need root");
        return;
    }
    let tests: &[(&str, fn())] = tests![
        isolation_and_identity,
        user_switch_keeps_only_ambient_capabilities,
        cgroup_hierarchies_follow_the_hosts_layout,
        command_errors_are_reported_at_create,
        dropping_a_created_container_ends_its_init,
        refuses_to_fork_a_multithreaded_process,
        a_terminal_lives_in_the_containers_devpts,
        exec_joins_the_running_container,
        exec_joins_the_inits_cgroup,
        the_init_program_runs_as_pid_1_and_reaps_orphans,
    ];
    for (name, test) in tests {
        eprint!("test {name} ... ");
        test();
        eprintln!("ok");
    }
}
