//! Test support: an isolated berthd per test (own data root, exec root and socket), a busybox
//! image made from Debian's busybox-static, a small HTTP client for the Engine API, and
//! teardown that ends every process the daemon started, by pid, even when a test panics.

pub mod archives;
mod cgroups;
mod gate;
mod http;
mod images;
mod network;
mod registry;

pub use gate::{Requirement, require};
pub use http::{ApiResponse, encode};
pub use images::{busybox_rootfs_tar, tar_of};
pub use registry::{Registry, wait_for_listener};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The directory with the workspace's built binaries (`target/debug`), found from the running
/// test executable (`target/debug/deps/<test>`), or `BERTH_BIN_DIR`.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BERTH_BIN_DIR") {
        return dir.into();
    }
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "{} is not built; run `cargo build --workspace` first",
        p.display()
    );
    p
}

/// A berthd of the test's own.
pub struct Daemon {
    dir: tempfile::TempDir,
    child: Child,
    network: network::TestNetwork,
    cgroups: Cgroups,
}

impl Daemon {
    /// Starts berthd in a fresh directory and waits until it answers `/_ping`.
    pub fn start() -> Self {
        Self::start_with(Cgroups::Host, serde_json::json!({}))
    }

    /// A daemon whose daemon.json also has the keys of `extra` (e.g. `plugin-dirs`).
    pub fn start_with_config(extra: serde_json::Value) -> Self {
        Self::start_with(Cgroups::Host, extra)
    }

    /// A daemon that sees a pure cgroup v2 host: it runs in a mount namespace of its own
    /// where `/sys/fs/cgroup` is the unified hierarchy alone. On a hybrid host that hierarchy
    /// has no controllers, so limits cannot be applied there; the rest of the v2 path (layout,
    /// cgroup namespaces, freezer, kill, the eBPF device filter) runs for real.
    pub fn start_on_cgroup_v2() -> Self {
        Self::start_with(Cgroups::UnifiedOnly, serde_json::json!({}))
    }

    fn start_with(cgroups: Cgroups, extra: serde_json::Value) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("berth-test-")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let tag = dir
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().replace("berth-test-", ""))
            .unwrap_or_default();
        let network = network::TestNetwork::new(&tag);
        let mut config = network.daemon_json();
        config["cgroup-parent"] = serde_json::json!(cgroup_parent_of(dir.path()));
        for (key, value) in extra.as_object().into_iter().flatten() {
            config[key] = value.clone();
        }
        std::fs::write(dir.path().join("daemon.json"), config.to_string()).expect("daemon.json");
        let child = spawn_berthd(dir.path(), cgroups);
        let mut d = Daemon {
            dir,
            child,
            network,
            cgroups,
        };
        d.wait_ready();
        d
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("wait berthd") {
                panic!("berthd exited with {status}:\n{}", self.log());
            }
            if self
                .api("GET", "/_ping", None)
                .is_ok_and(|r| r.status == 200)
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("berthd did not answer within 20 s:\n{}", self.log());
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("berth.sock")
    }

    /// `unix:///...` for `-H` and `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    pub fn data_root(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn exec_root(&self) -> PathBuf {
        self.dir.path().join("exec")
    }

    /// The default bridge's gateway address (where published ports also answer).
    pub fn gateway(&self) -> String {
        self.network
            .bip
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string()
    }

    /// The daemon's nftables table (`inet`), as berthd names it after its bridge.
    pub fn nft_table(&self) -> String {
        self.network.table()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("berthd.log")).unwrap_or_default()
    }

    /// One Engine API request; `Err` only when the socket does not answer.
    pub fn api(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> std::io::Result<ApiResponse> {
        http::request(&self.socket(), method, path, body)
    }

    /// Like [`Self::api`] with a JSON body; panics when the daemon does not answer.
    pub fn api_json(&self, method: &str, path: &str, body: &serde_json::Value) -> ApiResponse {
        let bytes = serde_json::to_vec(body).expect("json");
        self.api(method, path, Some(&bytes))
            .expect("berthd answers")
    }

    /// Runs the `berth` CLI against this daemon.
    pub fn berth(&self, args: &[&str]) -> Output {
        self.berth_with_stdin(args, &[])
    }

    pub fn berth_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut cmd = self.berth_command();
        cmd.args(args);
        run_with_stdin(cmd, stdin)
    }

    /// Runs the real `docker` CLI against this daemon.
    pub fn docker(&self, args: &[&str]) -> Output {
        self.docker_with_stdin(args, &[])
    }

    pub fn docker_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut cmd = self.docker_command();
        cmd.args(args);
        run_with_stdin(cmd, stdin)
    }

    /// The `docker` CLI aimed at this daemon, for tests that add their own environment or
    /// working directory.
    pub fn docker_command(&self) -> Command {
        let mut cmd = Command::new("docker");
        cmd.env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", self.dir.path().join("docker-config"))
            .env_remove("DOCKER_CONTEXT");
        cmd
    }

    /// The `berth` CLI aimed at this daemon (see [`Self::docker_command`]).
    pub fn berth_command(&self) -> Command {
        let mut cmd = Command::new(bin("berth"));
        cmd.arg("-H").arg(self.host());
        cmd
    }

    /// Imports the busybox test image as `busybox:latest` (CMD ["sh"]).
    pub fn load_busybox(&self) {
        let tar = busybox_rootfs_tar();
        let changes = http::encode(r#"CMD ["sh"]"#);
        let r = self
            .api(
                "POST",
                &format!("/images/create?fromSrc=-&repo=busybox&tag=latest&changes={changes}"),
                Some(&tar),
            )
            .expect("berthd answers");
        assert_eq!(r.status, 200, "importing busybox: {}", r.text());
    }

    /// Stops berthd with SIGKILL, leaving its containers running (a crash).
    pub fn kill9(&mut self) {
        // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGKILL) };
        let _ = self.child.wait();
    }

    /// Starts a new berthd on the same directories (after [`Self::kill9`]).
    pub fn restart(&mut self) {
        self.child = spawn_berthd(self.dir.path(), self.cgroups);
        self.wait_ready();
    }

    /// Pids recorded in the exec root: every shim and container init this daemon started.
    fn recorded_pids(&self) -> Vec<i32> {
        let mut pids = Vec::new();
        let Ok(entries) = std::fs::read_dir(self.exec_root().join("containers")) else {
            return pids;
        };
        for entry in entries.flatten() {
            // The container's init first: killing pid 1 of a pid namespace ends all of it.
            for file in ["init.pid", "shim.pid"] {
                let text = std::fs::read_to_string(entry.path().join(file)).unwrap_or_default();
                if let Ok(pid) = text.trim().parse::<i32>() {
                    pids.push(pid);
                }
            }
        }
        pids
    }
}

/// The cgroup parent of this test daemon's containers: unique, named after its directory.
fn cgroup_parent_of(dir: &Path) -> String {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("berth-test/{name}")
}

/// Unmounts what berthd mounted below `dir` on the host (volumes made from options), deepest
/// first, for a daemon killed before it could.
fn unmount_below(dir: &Path) {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let prefix = dir.to_string_lossy().into_owned();
    let mut targets: Vec<&str> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|t| t.starts_with(&prefix))
        .collect();
    targets.sort_by_key(|t| std::cmp::Reverse(t.len()));
    for t in targets {
        if let Ok(c) = std::ffi::CString::new(t) {
            // SAFETY: umount2(2) on a NUL-terminated path we own; failures are ignored.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

/// Which cgroup hierarchies berthd sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cgroups {
    Host,
    UnifiedOnly,
}

/// In the child before exec: a mount namespace of its own whose `/sys/fs/cgroup` is a fresh
/// cgroup2 mount, the host's hierarchies under it detached. Only system calls: this runs
/// between fork and exec.
fn see_only_cgroup_v2() -> std::io::Result<()> {
    let check = |rc: libc::c_int| {
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    // SAFETY: plain system calls on NUL-terminated literals; nothing is allocated.
    unsafe {
        check(libc::unshare(libc::CLONE_NEWNS))?;
        check(libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_SLAVE,
            std::ptr::null(),
        ))?;
        check(libc::umount2(c"/sys/fs/cgroup".as_ptr(), libc::MNT_DETACH))?;
        check(libc::mount(
            c"cgroup2".as_ptr(),
            c"/sys/fs/cgroup".as_ptr(),
            c"cgroup2".as_ptr(),
            0,
            std::ptr::null(),
        ))
    }
}

/// berthd with everything under `dir`, logging (appending) to `dir/berthd.log`.
fn spawn_berthd(dir: &Path, cgroups: Cgroups) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("berthd.log"))
        .expect("log file");
    let mut command = Command::new(bin("berthd"));
    command
        .arg("--data-root")
        .arg(dir.join("data"))
        .arg("--exec-root")
        .arg(dir.join("exec"))
        .arg("--config-file")
        .arg(dir.join("daemon.json"))
        .arg("-H")
        .arg(format!("unix://{}", dir.join("berth.sock").display()))
        .arg("--log-level")
        .arg("debug")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log fd"))
        .stderr(log);
    if cgroups == Cgroups::UnifiedOnly {
        use std::os::unix::process::CommandExt;
        // SAFETY: the hook only makes system calls (see `see_only_cgroup_v2`).
        unsafe { command.pre_exec(see_only_cgroup_v2) };
    }
    command.spawn().expect("spawn berthd")
}

fn run_with_stdin(mut cmd: Command, stdin: &[u8]) -> Output {
    use std::io::Write;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait");
    let _ = writer.join();
    out
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid, which we have not reaped yet.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGKILL) };
        let _ = self.child.wait();
        for pid in self.recorded_pids() {
            // SAFETY: kill(2) with a pid this test's daemon recorded for its own shim or
            // container; a stale pid whose process is gone gets ESRCH.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        // Shims live in their own mount namespaces; nothing is mounted in ours. Give the
        // killed processes a moment to release files before the directory goes.
        std::thread::sleep(Duration::from_millis(50));
        cgroups::remove_tree(&cgroup_parent_of(self.dir.path()));
        self.network.remove();
        unmount_below(self.dir.path());
    }
}

/// The reference Docker daemon's `unix://` address, when one is given and its socket exists.
pub fn reference_docker_host() -> Option<String> {
    let host = std::env::var("BERTH_REFERENCE_DOCKER_HOST").ok()?;
    let socket = host.strip_prefix("unix://")?;
    Path::new(socket).exists().then_some(host)
}

/// Runs the real `docker` CLI against the reference Docker daemon.
pub fn reference_docker(args: &[&str], stdin: &[u8]) -> Output {
    let host = reference_docker_host().expect("a reference Docker (check with require first)");
    let mut cmd = Command::new("docker");
    cmd.arg("-H").arg(host).args(args);
    run_with_stdin(cmd, stdin)
}

/// Go's name for this machine's architecture, as image configs spell it.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Stdout of a command as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr of a command as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Panics with both streams unless the command succeeded; returns stdout.
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "command failed ({}):\nstdout: {}\nstderr: {}",
        o.status,
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

/// Every file below `dir`, relative, sorted: to show that a refused input changed nothing.
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(root).unwrap_or(&p).display().to_string());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(root, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
