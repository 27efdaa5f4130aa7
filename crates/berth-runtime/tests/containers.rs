//! Real containers from a busybox rootfs: root, namespaces, overlayfs. The runtime forks, so
//! these run one after another in the main thread (no libtest harness, see Cargo.toml).

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use berth_runtime::{Container, Error, Stdio};
use berth_shim_proto::OverlayMount;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;
use oci_spec::runtime::{
    BoxBuilder, Capability, LinuxCapabilities, LinuxDevice, LinuxDeviceBuilder, LinuxDeviceType,
    LinuxNamespaceType, LinuxSeccomp, LinuxSeccompAction, LinuxSyscallBuilder, Mount, MountBuilder,
    PosixRlimitBuilder, PosixRlimitType, Process, RootBuilder, Spec, UserBuilder,
};

const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "ls", "id", "hostname", "grep", "touch", "sleep", "wc", "tty", "stty",
    "tr", "true", "unshare", "mount", "mkdir", "linux32", "find", "stat", "sort",
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

    /// Adds `/bin/syscall-probe` (`tests/fixtures/syscall-probe.c`, built static).
    fn with_syscall_probe(self) -> Self {
        let source = format!(
            "{}/tests/fixtures/syscall-probe.c",
            std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
        );
        let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
        let built = Command::new(cc)
            .args(["-static", "-Os", "-o"])
            .arg(self.path("layers/l1/bin/syscall-probe"))
            .arg(source)
            .status()
            .unwrap();
        assert!(built.success(), "building the syscall probe: {built}");
        self
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
    let exec = berth_runtime::exec(init, process, None, stdio);
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
    let refused = berth_runtime::exec(init, &exec_process(&spec, &["true"]), None, Stdio::Terminal)
        .unwrap_err();
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

/// `CAP_SYS_ADMIN`... as Docker names capabilities in a seccomp profile.
fn cap_name(cap: Capability) -> String {
    format!("CAP_{cap}")
}

/// Adds `extra` to the process's bounding, effective and permitted sets; the names of the
/// bounding set, for [`berth_runtime::seccomp::docker_default_profile`].
fn add_capabilities(spec: &mut Spec, extra: &[Capability]) -> Vec<String> {
    let process = spec.process_mut().as_mut().unwrap();
    let mut caps = process.capabilities().clone().unwrap();
    let add = |set: &Option<std::collections::HashSet<Capability>>| {
        let mut set = set.clone().unwrap_or_default();
        set.extend(extra.iter().copied());
        set
    };
    let bounding = add(caps.bounding());
    caps.set_effective(Some(add(caps.effective())));
    caps.set_permitted(Some(add(caps.permitted())));
    caps.set_bounding(Some(bounding.clone()));
    process.set_capabilities(Some(caps));
    bounding.into_iter().map(cap_name).collect()
}

fn set_seccomp(spec: &mut Spec, profile: LinuxSeccomp) {
    spec.linux_mut()
        .as_mut()
        .unwrap()
        .set_seccomp(Some(profile));
}

fn set_no_new_privileges(spec: &mut Spec, on: bool) {
    spec.process_mut()
        .as_mut()
        .unwrap()
        .set_no_new_privileges(Some(on));
}

/// Runs `script` and expects it to succeed: its output.
fn run_script(bundle: &Bundle, spec: &Spec) -> String {
    let (output, status) = run(bundle, spec);
    assert!(
        matches!(status, WaitStatus::Exited(_, 0)),
        "{status:?}: {output}"
    );
    output
}

fn the_default_profile_confines_the_container() {
    assert_eq!(cap_name(Capability::SysAdmin), "CAP_SYS_ADMIN");
    let bundle = Bundle::new().with_syscall_probe();
    let probe = |nr: libc::c_long, args: &str| format!("syscall-probe {nr} {args}");
    let script = [
        "grep '^Seccomp:' /proc/self/status".to_string(),
        "unshare -U true 2>&1 || true".into(),
        "mkdir -p /mnt; mount -t tmpfs none /mnt 2>&1 && echo mounted".into(),
        // The ptrace family: kcmp and pidfd_getfd need CAP_SYS_PTRACE (EPERM from the filter,
        // where the kernel would answer), ptrace itself reaches the kernel (ESRCH) since 4.8.
        probe(libc::SYS_kcmp, "$$ $$ 0 0 0"),
        probe(libc::SYS_pidfd_getfd, "-1 -1 0"),
        probe(libc::SYS_ptrace, "2 1 0 0"),
        // socket: AF_VSOCK and AF_ALG refused, AF_UNIX allowed; clone3 answers ENOSYS.
        probe(libc::SYS_socket, "40 1 0"),
        probe(libc::SYS_socket, "38 5 0"),
        probe(libc::SYS_socket, "1 1 0"),
        probe(libc::SYS_clone3, "0 0"),
        "linux32 true && echo personality".into(),
    ]
    .join("; ");
    // Docker loads the filter while privileged (no no_new_privileges); with it, last.
    for no_new_privileges in [false, true] {
        let mut spec = bundle.spec(&["sh", "-c", &script]);
        set_no_new_privileges(&mut spec, no_new_privileges);
        // CAP_SYS_ADMIN held, but the profile is the one for a container without it: the
        // filter alone refuses mount and unshare.
        let mut caps = add_capabilities(&mut spec, &[]);
        set_seccomp(
            &mut spec,
            berth_runtime::seccomp::docker_default_profile(&caps),
        );
        caps = add_capabilities(&mut spec, &[Capability::SysAdmin]);
        assert!(caps.contains(&"CAP_SYS_ADMIN".to_string()));
        let output = run_script(&bundle, &spec);
        let lines: Vec<&str> = output.lines().collect();
        assert_eq!(lines[0], "Seccomp:\t2", "{output}");
        assert!(
            lines[1].contains("Operation not permitted"),
            "unshare -U: {output}"
        );
        // busybox's words for EPERM from mount(2).
        assert!(lines[2].contains("permission denied"), "mount: {output}");
        let (eperm, esrch, enosys) = (libc::EPERM, libc::ESRCH, libc::ENOSYS);
        assert_eq!(lines[3], format!("errno {eperm}"), "kcmp: {output}");
        assert_eq!(lines[4], format!("errno {eperm}"), "pidfd_getfd: {output}");
        assert_eq!(lines[5], format!("errno {esrch}"), "ptrace: {output}");
        assert_eq!(lines[6], format!("errno {eperm}"), "AF_VSOCK: {output}");
        assert_eq!(lines[7], format!("errno {eperm}"), "AF_ALG: {output}");
        assert!(lines[8].starts_with("ok "), "AF_UNIX: {output}");
        assert_eq!(lines[9], format!("errno {enosys}"), "clone3: {output}");
        assert_eq!(lines[10], "personality", "{output}");
    }

    // Loaded early, the filter lets the rest of the setup switch to another user.
    let mut spec = bundle.spec(&["sh", "-c", "id -u; grep '^Seccomp:' /proc/self/status"]);
    set_no_new_privileges(&mut spec, false);
    let user = UserBuilder::default().uid(1000u32).gid(1000u32).build();
    spec.process_mut().as_mut().unwrap().set_user(user.unwrap());
    let caps = add_capabilities(&mut spec, &[]);
    set_seccomp(
        &mut spec,
        berth_runtime::seccomp::docker_default_profile(&caps),
    );
    assert_eq!(run_script(&bundle, &spec), "1000\nSeccomp:\t2\n");

    // The profile for a container with CAP_SYS_ADMIN lets it mount and unshare.
    let mut spec = bundle.spec(&[
        "sh",
        "-c",
        "mkdir -p /mnt; mount -t tmpfs none /mnt && echo mounted; unshare -U true && echo unshared",
    ]);
    set_no_new_privileges(&mut spec, false);
    let caps = add_capabilities(&mut spec, &[Capability::SysAdmin]);
    set_seccomp(
        &mut spec,
        berth_runtime::seccomp::docker_default_profile(&caps),
    );
    assert_eq!(run_script(&bundle, &spec), "mounted\nunshared\n");
}

fn a_custom_profile_returns_its_errno_and_denies_by_default() {
    let bundle = Bundle::new();
    let rule = |names: &[&str], action, errno: Option<u32>| {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let rule = LinuxSyscallBuilder::default().names(names).action(action);
        match errno {
            Some(errno) => rule.errno_ret(errno),
            None => rule,
        }
        .build()
        .unwrap()
    };
    let profile = |default, rules| {
        let mut profile = LinuxSeccomp::default();
        profile.set_default_action(default);
        profile.set_syscalls(Some(rules));
        profile
    };

    // Everything allowed but mkdir, which answers ENOSYS.
    let mut spec = bundle.spec(&["sh", "-c", "mkdir /made 2>&1; echo after"]);
    set_seccomp(
        &mut spec,
        profile(
            LinuxSeccompAction::ScmpActAllow,
            vec![rule(
                &["mkdir", "mkdirat"],
                LinuxSeccompAction::ScmpActErrno,
                Some(libc::ENOSYS as u32),
            )],
        ),
    );
    let output = run_script(&bundle, &spec);
    assert_eq!(
        output,
        "mkdir: can't create directory '/made': Function not implemented\nafter\n"
    );

    // Nothing allowed but what busybox's sh needs: it runs, mkdir is refused.
    let needed = [
        "execve",
        "arch_prctl",
        "brk",
        "set_tid_address",
        "set_robust_list",
        "rseq",
        "prlimit64",
        "mprotect",
        "getrandom",
        "readlink",
        "uname",
        "prctl",
        "getuid",
        "getpid",
        "getppid",
        "newfstatat",
        "openat",
        "close",
        "fcntl",
        "dup2",
        "rt_sigaction",
        "rt_sigprocmask",
        "rt_sigreturn",
        "clone",
        "wait4",
        "write",
        "exit",
        "exit_group",
    ];
    let mut spec = bundle.spec(&["sh", "-c", "echo hello; mkdir /made 2>&1; echo after"]);
    set_seccomp(
        &mut spec,
        profile(
            LinuxSeccompAction::ScmpActErrno,
            vec![rule(&needed, LinuxSeccompAction::ScmpActAllow, None)],
        ),
    );
    let output = run_script(&bundle, &spec);
    assert_eq!(
        output,
        "hello\nmkdir: can't create directory '/made': Operation not permitted\nafter\n"
    );
}

fn exec_runs_under_the_containers_filter() {
    let bundle = Bundle::new();
    let mut spec = bundle.spec(&["sleep", "1000"]);
    set_no_new_privileges(&mut spec, false);
    let caps = add_capabilities(&mut spec, &[]);
    let profile = berth_runtime::seccomp::docker_default_profile(&caps);
    set_seccomp(&mut spec, profile.clone());
    let (container, _output) = create(&bundle, &spec).unwrap();
    let init = container.pid();
    let _reaper = Reaper(Some(Pid::from_raw(init)));
    container.start().unwrap();

    let script = "grep -E '^Seccomp(_filters)?:' /proc/self/status; unshare -U true 2>&1 || true";
    let process = exec_process(&spec, &["sh", "-c", script]);
    let run_with = |seccomp| {
        let (read, write, devnull) = stdio_pipe();
        let stdio = Stdio::Descriptors {
            stdin: devnull.as_fd(),
            stdout: write.as_fd(),
            stderr: write.as_fd(),
        };
        let exec = berth_runtime::exec(init, &process, seccomp, stdio);
        drop(write);
        let exec = exec?;
        let mut reaper = Reaper(Some(Pid::from_raw(exec.pid())));
        let mut output = String::new();
        File::from(read).read_to_string(&mut output).unwrap();
        assert!(
            matches!(reaper.wait(), WaitStatus::Exited(_, 0)),
            "{output}"
        );
        Ok::<_, Error>(output)
    };
    let output = run_with(Some(&profile)).unwrap();
    let ours = fs::read_to_string("/proc/self/status").unwrap();
    let our_filters = ours
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp_filters:\t"))
        .unwrap();
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines[0], "Seccomp:\t2", "{output}");
    let expected = our_filters.parse::<u32>().unwrap() + 1;
    assert_eq!(
        lines[1],
        format!("Seccomp_filters:\t{expected}"),
        "{output}"
    );
    assert!(lines[2].contains("Operation not permitted"), "{output}");

    // Without the container's filter an exec would escape it: refused.
    let refused = run_with(None).unwrap_err();
    assert!(
        matches!(refused, Error::Spec(berth_runtime::SpecError::Seccomp(_))),
        "{refused}"
    );
}

/// A mount of `typ` (`tmpfs`, `bind`...) on `destination`.
fn mount(destination: &str, typ: &str, source: &Path, options: &[&str]) -> Mount {
    MountBuilder::default()
        .destination(destination)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
        .build()
        .unwrap()
}

fn a_read_only_rootfs_keeps_its_mounts_writable() {
    let bundle = Bundle::new();
    let volume = tempfile::tempdir().unwrap();
    let mut spec = bundle.spec(&[
        "sh",
        "-c",
        "touch /file 2>&1; touch /tmp/file && echo tmp; touch /dev/shm/file && echo shm; \
         echo data > /data/file && echo volume; echo > /dev/null && echo dev; \
         cat /proc/self/oom_score_adj > /dev/null && echo proc",
    ]);
    spec.root_mut().as_mut().unwrap().set_readonly(Some(true));
    let mut mounts = spec.mounts().clone().unwrap();
    mounts.push(mount(
        "/tmp",
        "tmpfs",
        Path::new("tmpfs"),
        &["nosuid", "nodev", "mode=1777"],
    ));
    mounts.push(mount("/data", "bind", volume.path(), &["rbind", "rw"]));
    spec.set_mounts(Some(mounts));
    let output = run_script(&bundle, &spec);
    assert_eq!(
        output,
        "touch: /file: Read-only file system\ntmp\nshm\nvolume\ndev\nproc\n"
    );
    assert_eq!(
        fs::read_to_string(volume.path().join("file")).unwrap(),
        "data\n"
    );
    assert!(!bundle.path("upper/file").exists());
}

/// Every device node under the host's `/dev`, as a privileged container's spec lists them
/// (runc's walk: no devpts, shm, mqueue; no symlinks).
fn host_devices() -> Vec<LinuxDevice> {
    fn walk(dir: &Path, out: &mut Vec<LinuxDevice>) {
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let kind = meta.file_type();
            if kind.is_dir() {
                let name = entry.file_name();
                if !["pts", "shm", "mqueue", ".udev"].contains(&name.to_str().unwrap()) {
                    walk(&path, out);
                }
                continue;
            }
            let typ = if kind.is_char_device() {
                LinuxDeviceType::C
            } else if kind.is_block_device() {
                LinuxDeviceType::B
            } else {
                continue;
            };
            let rdev = meta.rdev();
            out.push(
                LinuxDeviceBuilder::default()
                    .path(&path)
                    .typ(typ)
                    .major(nix::sys::stat::major(rdev) as i64)
                    .minor(nix::sys::stat::minor(rdev) as i64)
                    .file_mode(meta.mode() & 0o7777)
                    .uid(meta.uid())
                    .gid(meta.gid())
                    .build()
                    .unwrap(),
            );
        }
    }
    let mut out = Vec::new();
    walk(Path::new("/dev"), &mut out);
    out
}

fn a_privileged_container_sees_the_hosts_devices() {
    const ALL: [Capability; 41] = {
        use Capability::*;
        [
            AuditControl,
            AuditRead,
            AuditWrite,
            BlockSuspend,
            Bpf,
            CheckpointRestore,
            Chown,
            DacOverride,
            DacReadSearch,
            Fowner,
            Fsetid,
            IpcLock,
            IpcOwner,
            Kill,
            Lease,
            LinuxImmutable,
            MacAdmin,
            MacOverride,
            Mknod,
            NetAdmin,
            NetBindService,
            NetBroadcast,
            NetRaw,
            Perfmon,
            Setgid,
            Setfcap,
            Setpcap,
            Setuid,
            SysAdmin,
            SysBoot,
            SysChroot,
            SysModule,
            SysNice,
            SysPacct,
            SysPtrace,
            SysRawio,
            SysResource,
            SysTime,
            SysTtyConfig,
            Syslog,
            WakeAlarm,
        ]
    };
    let bundle = Bundle::new();
    let script = "grep CapEff /proc/self/status; ulimit -n; grep -E ' /sys(/fs/cgroup)? ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; \
                  find /dev -type c -o -type b | sort | while read -r d; do stat -c '%n %t:%T' \"$d\"; done";
    let mut spec = bundle.spec(&["sh", "-c", script]);
    let all: std::collections::HashSet<Capability> = ALL.into_iter().collect();
    let mut caps = LinuxCapabilities::default();
    caps.set_bounding(Some(all.clone()));
    caps.set_effective(Some(all.clone()));
    caps.set_permitted(Some(all));
    caps.set_inheritable(None);
    caps.set_ambient(None);
    let process = spec.process_mut().as_mut().unwrap();
    process.set_capabilities(Some(caps));
    process.set_no_new_privileges(Some(false));
    let unlimited = |typ| {
        PosixRlimitBuilder::default()
            .typ(typ)
            .soft(u64::MAX)
            .hard(u64::MAX)
            .build()
            .unwrap()
    };
    process.set_rlimits(Some(vec![
        unlimited(PosixRlimitType::RlimitNofile),
        unlimited(PosixRlimitType::RlimitNproc),
        unlimited(PosixRlimitType::RlimitMemlock),
    ]));
    // /sys and its cgroups read-write, nothing masked.
    let mounts: Vec<Mount> = spec
        .mounts()
        .clone()
        .unwrap()
        .into_iter()
        .map(|mut m| {
            if let Some(options) = m.options().clone() {
                m.set_options(Some(options.into_iter().filter(|o| o != "ro").collect()));
            }
            m
        })
        .collect();
    spec.set_mounts(Some(mounts));
    let devices = host_devices();
    let linux = spec.linux_mut().as_mut().unwrap();
    linux.set_masked_paths(None);
    linux.set_readonly_paths(None);
    linux.set_devices(Some(devices.clone()));

    let started = Instant::now();
    let (container, read) = create(&bundle, &spec).unwrap();
    eprint!(
        "({} devices, created in {:?}) ",
        devices.len(),
        started.elapsed()
    );
    let mut reaper = Reaper(Some(Pid::from_raw(container.pid())));
    container.start().unwrap();
    let mut output = String::new();
    File::from(read).read_to_string(&mut output).unwrap();
    assert!(
        matches!(reaper.wait(), WaitStatus::Exited(_, 0)),
        "{output}"
    );

    let ours = fs::read_to_string("/proc/self/status").unwrap();
    let held = ours
        .lines()
        .find_map(|l| l.strip_prefix("CapPrm:\t"))
        .unwrap();
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(
        lines[0],
        format!("CapEff:\t{held}"),
        "every capability the runtime has"
    );
    let host_nofile = rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum;
    let nofile = host_nofile.map_or("unlimited".to_string(), |n| n.to_string());
    assert_eq!(lines[1], nofile, "nofile clamped to the host's hard limit");
    assert_eq!(
        lines[2..4],
        ["rw", "rw"],
        "/sys and its cgroups writable: {output}"
    );
    for device in &devices {
        let path = device.path().to_str().unwrap();
        if path == "/dev/ptmx" {
            // The container's devpts multiplexer instead.
            continue;
        }
        let line = format!("{path} {:x}:{:x}", device.major(), device.minor());
        assert!(
            output.lines().any(|l| l == line),
            "{line} missing: {output}"
        );
    }
}

fn namespaced_sysctls_are_set_in_the_container_only() {
    let bundle = Bundle::new();
    let host = || fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let before = host();
    let mut spec = bundle.spec(&["cat", "/proc/sys/net/ipv4/ip_forward"]);
    let flip = if before.trim() == "1" { "0" } else { "1" };
    let linux = spec.linux_mut().as_mut().unwrap();
    linux.set_sysctl(Some(
        [("net.ipv4.ip_forward".to_string(), flip.to_string())].into(),
    ));
    assert_eq!(run_script(&bundle, &spec), format!("{flip}\n"));
    assert_eq!(host(), before, "the host's value is unchanged");

    let linux = spec.linux_mut().as_mut().unwrap();
    linux.set_sysctl(Some(
        [("vm.swappiness".to_string(), "1".to_string())].into(),
    ));
    let refused = create(&bundle, &spec).unwrap_err();
    assert!(
        matches!(
            refused,
            Error::Spec(berth_runtime::SpecError::Sysctl { .. })
        ),
        "{refused}"
    );
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
        the_default_profile_confines_the_container,
        a_custom_profile_returns_its_errno_and_denies_by_default,
        exec_runs_under_the_containers_filter,
        a_read_only_rootfs_keeps_its_mounts_writable,
        a_privileged_container_sees_the_hosts_devices,
        namespaced_sysctls_are_set_in_the_container_only,
    ];
    for (name, test) in tests {
        eprint!("test {name} ... ");
        test();
        eprintln!("ok");
    }
}
