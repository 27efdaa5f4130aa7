//! Real cgroups on this host (root): limits that bite, freeze, stats, kill, remove.
//!
//! Each test works below its own parent cgroup `berth-test-<pid>-<n>`, which its guard removes
//! (after killing what is left inside) even when the test fails.

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use berth_cgroups::{Cgroup, Error, Layout};
use berth_testkit::{Requirement, require};
use oci_spec::runtime::LinuxResources;
use serde_json::json;

const MIB: u64 = 1 << 20;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A container cgroup `berth-test-<pid>-<n>/ctr` and the processes started in it.
struct TestCgroup {
    layout: Layout,
    parent: String,
    cgroup: Cgroup,
}

impl TestCgroup {
    /// `None` (the test is skipped) without root or busybox, except under CI.
    fn new() -> Option<Self> {
        Self::with_layout(None)
    }

    fn with_layout(layout: Option<Layout>) -> Option<Self> {
        if !require(&[Requirement::Root, Requirement::Busybox]) {
            return None;
        }
        let layout = layout.unwrap_or_else(|| Layout::detect().unwrap());
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let parent = format!("berth-test-{}-{n}", std::process::id());
        let path = format!("{parent}/ctr");
        // The guard exists before anything is created, so a failing create is cleaned up too.
        let guard = TestCgroup {
            cgroup: Cgroup::open(&layout, &path).unwrap(),
            layout,
            parent,
        };
        Cgroup::create(&guard.layout, &path).unwrap();
        Some(guard)
    }

    /// A cgroup in the v2 tree, used as on a pure v2 host (where it is the host's own tree):
    /// `None` on a v1 host, which has none.
    fn in_v2_tree() -> Option<Self> {
        match Layout::detect().unwrap() {
            Layout::V2 { root } | Layout::Hybrid { unified: root, .. } => {
                Self::with_layout(Some(Layout::V2 { root }))
            }
            Layout::V1 { .. } => {
                eprintln!("skipped: needs a cgroup v2 tree (pure v2 or hybrid host)");
                None
            }
        }
    }

    fn apply(&self, resources: serde_json::Value) -> Result<(), Error> {
        let resources: LinuxResources = serde_json::from_value(resources).unwrap();
        self.cgroup.apply(&resources)
    }

    /// Runs `script` under busybox sh inside the cgroup: the shell waits on stdin until it has
    /// been moved in, so everything the script does is charged to the cgroup.
    fn start(&self, script: &str) -> Child {
        let mut child = Command::new("/bin/busybox")
            .args(["sh", "-c", &format!("read _gate; {script}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        self.cgroup.add_process(pid).unwrap();
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        child
    }

    /// The cgroup's directory for `controller` (its v1 hierarchy, or the v2 directory).
    fn dir(&self, controller: &str) -> PathBuf {
        let relative = self.cgroup.relative_path();
        match &self.layout {
            Layout::V2 { root } => root.join(relative),
            Layout::V1 { hierarchies } | Layout::Hybrid { hierarchies, .. } => hierarchies
                .iter()
                .find(|h| h.has(controller))
                .unwrap_or_else(|| panic!("no {controller} hierarchy"))
                .mountpoint
                .join(relative),
        }
    }

    /// A cgroup file's content: `v1` (controller, file) on v1 and hybrid hosts, `v2` on v2.
    fn read(&self, v1: (&str, &str), v2: &str) -> String {
        let path = match self.layout {
            Layout::V2 { .. } => self.dir("").join(v2),
            _ => self.dir(v1.0).join(v1.1),
        };
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .trim()
            .to_owned()
    }

    fn every_dir(&self) -> Vec<PathBuf> {
        let relative = self.cgroup.relative_path();
        match &self.layout {
            Layout::V2 { root } => vec![root.join(relative)],
            Layout::V1 { hierarchies } => hierarchies
                .iter()
                .map(|h| h.mountpoint.join(relative))
                .collect(),
            Layout::Hybrid {
                hierarchies,
                unified,
            } => hierarchies
                .iter()
                .map(|h| h.mountpoint.join(relative))
                .chain([unified.join(relative)])
                .collect(),
        }
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // Best effort, in order: a frozen cgroup cannot be emptied, a populated one not removed.
        let _ = self.cgroup.thaw();
        let _ = self.cgroup.kill_all(libc::SIGKILL);
        let _ = wait_for(Duration::from_secs(5), || {
            self.cgroup.pids().is_ok_and(|p| p.is_empty())
        });
        let leaf = self.cgroup.remove();
        let parent = Cgroup::open(&self.layout, &self.parent).and_then(|p| p.remove());
        if !std::thread::panicking() {
            leaf.unwrap();
            parent.unwrap();
        }
    }
}

/// Polls `done` every 10 ms until it holds or `timeout` passes; returns whether it held.
fn wait_for(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_exit(mut child: Child) -> (std::process::ExitStatus, String, String) {
    let status = child.wait().unwrap();
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status, stdout, stderr)
}

fn process_state(pid: u32) -> char {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let state = status
        .lines()
        .find_map(|l| l.strip_prefix("State:"))
        .unwrap();
    state.trim().chars().next().unwrap()
}

fn cpu_usage(cgroup: &Cgroup) -> u64 {
    cgroup.stats().unwrap().cpu.unwrap().usage_total_ns
}

#[test]
fn detected_layout_matches_mountinfo() {
    if !require(&[Requirement::Root]) {
        return;
    }
    let layout = Layout::detect().unwrap();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert_eq!(Layout::from_mountinfo(&mountinfo), Some(layout.clone()));
    eprintln!("host cgroup layout: {layout:?}");
}

#[test]
fn a_process_joins_every_hierarchy() {
    let Some(t) = TestCgroup::new() else { return };
    for dir in t.every_dir() {
        assert!(dir.is_dir(), "{}", dir.display());
    }
    let child = t.start("sleep 30");
    let own = std::fs::read_to_string(format!("/proc/{}/cgroup", child.id())).unwrap();
    let expected = format!("/{}", t.cgroup.relative_path().display());
    // One line per hierarchy (`id:controllers:path`), the v2 one as `0::path`.
    for line in own.lines() {
        assert!(line.ends_with(&expected), "{line} in\n{own}");
    }
    assert_eq!(own.lines().count(), t.every_dir().len(), "{own}");
    assert_eq!(
        t.cgroup.pids().unwrap(),
        [i32::try_from(child.id()).unwrap()]
    );

    t.cgroup.kill_all(libc::SIGKILL).unwrap();
    wait_exit(child);
}

#[test]
fn a_process_over_its_memory_limit_is_oom_killed() {
    let Some(t) = TestCgroup::new() else { return };
    let limit = 16 * MIB;
    // memory+swap equal to memory: no swap to escape to.
    t.apply(json!({"memory": {"limit": limit, "swap": limit}}))
        .unwrap();
    assert_eq!(
        t.read(("memory", "memory.limit_in_bytes"), "memory.max"),
        limit.to_string()
    );
    assert_eq!(t.cgroup.oom_kills().unwrap(), Some(0));

    // tail keeps its last line in memory, and 64 MiB of zeros is one line.
    let (status, _, _) = wait_exit(t.start("head -c 64m /dev/zero | tail"));
    assert!(
        status.code() == Some(137) || status.signal() == Some(libc::SIGKILL),
        "{status:?}"
    );
    let memory = t.cgroup.stats().unwrap().memory.unwrap();
    assert_eq!(memory.limit, Some(limit));
    // At least one kill: the OOM killer may take both ends of the pipe.
    let kills = t.cgroup.oom_kills().unwrap();
    assert!(kills.is_some_and(|n| n >= 1), "{kills:?}");
}

#[test]
fn memory_and_swap_limits_can_be_raised_and_lowered() {
    let Some(t) = TestCgroup::new() else { return };
    let memory = || t.read(("memory", "memory.limit_in_bytes"), "memory.max");
    let swap_file = t.dir("memory").join(match t.layout {
        Layout::V2 { .. } => "memory.swap.max",
        _ => "memory.memsw.limit_in_bytes",
    });
    let swap = || {
        std::fs::read_to_string(&swap_file)
            .ok()
            .map(|s| s.trim().to_owned())
    };
    let has_swap = swap().is_some();
    let v2 = matches!(t.layout, Layout::V2 { .. });

    for (limit, total) in [
        (16 * MIB, 32 * MIB),
        (64 * MIB, 128 * MIB), // both above the current memory+swap: memory+swap first
        (8 * MIB, 8 * MIB),    // both below the current memory: memory first
    ] {
        t.apply(json!({"memory": {"limit": limit, "swap": total}}))
            .unwrap();
        assert_eq!(memory(), limit.to_string());
        if has_swap {
            let expected = if v2 { total - limit } else { total };
            assert_eq!(swap().unwrap(), expected.to_string());
        }
    }
    t.apply(json!({"memory": {"limit": -1}})).unwrap();
    assert!(matches!(
        memory().as_str(),
        "max" | "9223372036854771712" | "9223372036854710272"
    ));
}

#[test]
fn pids_max_stops_forks_beyond_the_limit() {
    let Some(t) = TestCgroup::new() else { return };
    t.apply(json!({"pids": {"limit": 4}})).unwrap();
    assert_eq!(t.read(("pids", "pids.max"), "pids.max"), "4");

    // The shell and 3 sleeps fit; the fourth fork fails, which ends the shell with an error.
    // (The sleeps close their output, so the shell's pipes end with it.)
    let (status, _, stderr) = wait_exit(
        t.start("i=0; while [ $i -lt 8 ]; do sleep 30 >&- 2>&- & i=$((i+1)); done; wait"),
    );
    assert!(!status.success());
    assert!(stderr.contains("can't fork"), "{stderr}");
    assert_eq!(t.cgroup.pids().unwrap().len(), 3);
    let pids = t.cgroup.stats().unwrap().pids.unwrap();
    assert_eq!((pids.current, pids.limit), (3, Some(4)));
    t.cgroup.kill_all(libc::SIGKILL).unwrap();
}

#[test]
fn freeze_stops_the_processes_and_thaw_resumes_them() {
    let Some(t) = TestCgroup::new() else { return };
    freeze_and_thaw(&t);
}

/// Freezes a busy loop: it stops using cpu until thawed.
fn freeze_and_thaw(t: &TestCgroup) {
    let child = t.start("while :; do :; done");
    assert!(wait_for(Duration::from_secs(5), || cpu_usage(&t.cgroup) > 0));
    assert!(!t.cgroup.frozen().unwrap());

    t.cgroup.freeze().unwrap();
    assert!(t.cgroup.frozen().unwrap());
    // A frozen task sleeps (D in v1's freezer, S in v2's) instead of running.
    assert!(matches!(process_state(child.id()), 'D' | 'S'));
    let before = cpu_usage(&t.cgroup);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(cpu_usage(&t.cgroup), before);

    t.cgroup.thaw().unwrap();
    assert!(!t.cgroup.frozen().unwrap());
    assert!(wait_for(Duration::from_secs(5), || cpu_usage(&t.cgroup) > before));
    assert_eq!(process_state(child.id()), 'R');

    t.cgroup.kill_all(libc::SIGKILL).unwrap();
    let (status, _, _) = wait_exit(child);
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

#[test]
fn stats_report_memory_and_cpu_in_use() {
    let Some(t) = TestCgroup::new() else { return };
    // The shell keeps an 8 MB string and then spins (once its helpers have been reaped).
    let child = t.start("x=$(head -c 8000000 /dev/zero | tr '\\0' a); while :; do :; done");
    assert!(wait_for(Duration::from_secs(10), || {
        let stats = t.cgroup.stats().unwrap();
        stats.memory.unwrap().usage >= 8_000_000
            && stats.cpu.unwrap().usage_total_ns > 50_000_000
            && stats.pids.unwrap().current == 1
    }));
    let stats = t.cgroup.stats().unwrap();
    let cpu = stats.cpu.unwrap();
    assert!(cpu.usage_user_ns > 0, "{cpu:?}");
    if !matches!(t.layout, Layout::V2 { .. }) {
        assert!(cpu.usage_per_cpu_ns.iter().sum::<u64>() > 0, "{cpu:?}");
    }
    let memory = stats.memory.unwrap();
    assert!(!memory.stat.is_empty());
    assert!(memory.inactive_file <= memory.usage);
    assert!(memory.max_usage.is_none_or(|max| max >= memory.usage));

    t.cgroup.kill_all(libc::SIGKILL).unwrap();
    wait_exit(child);
}

#[test]
fn a_cpu_quota_throttles_a_busy_loop() {
    let Some(t) = TestCgroup::new() else { return };
    // A tenth of a cpu.
    t.apply(json!({"cpu": {"quota": 10000, "period": 100000}}))
        .unwrap();
    assert_eq!(
        t.read(("cpu", "cpu.cfs_quota_us"), "cpu.max"),
        if matches!(t.layout, Layout::V2 { .. }) {
            "10000 100000"
        } else {
            "10000"
        }
    );
    let child = t.start("while :; do :; done");
    let start = Instant::now();
    std::thread::sleep(Duration::from_millis(800));
    let cpu = t.cgroup.stats().unwrap().cpu.unwrap();
    let wall = start.elapsed().as_nanos() as u64;
    // 10% of 800 ms is 80 ms; allow for the period boundaries.
    assert!(cpu.usage_total_ns < wall / 4, "{cpu:?} over {wall} ns");
    assert!(cpu.throttling.throttled_periods > 0, "{cpu:?}");

    t.cgroup.kill_all(libc::SIGKILL).unwrap();
    wait_exit(child);
}

#[test]
fn cpuset_is_inherited_then_narrowed() {
    let Some(t) = TestCgroup::new() else { return };
    let cpus = t.read(("cpuset", "cpuset.cpus"), "cpuset.cpus");
    if !matches!(t.layout, Layout::V2 { .. }) {
        assert!(!cpus.is_empty());
        assert!(!t.read(("cpuset", "cpuset.mems"), "cpuset.mems").is_empty());
    }
    t.apply(json!({"cpu": {"cpus": "0", "mems": "0"}})).unwrap();
    assert_eq!(t.read(("cpuset", "cpuset.cpus"), "cpuset.cpus"), "0");

    let err = t.apply(json!({"cpu": {"cpus": "4096"}})).unwrap_err();
    match &err {
        Error::Write { path, value, .. } => {
            assert!(path.ends_with("cpuset.cpus"), "{err}");
            assert_eq!(value, "4096");
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("cpuset.cpus"), "{err}");
}

#[test]
fn device_rules_deny_what_they_do_not_allow() {
    let Some(t) = TestCgroup::new() else { return };
    if !t.cgroup.enforces_device_rules() {
        eprintln!("skipped: this hybrid host has no v1 devices hierarchy");
        return;
    }
    t.apply(json!({"devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}
    ]}))
    .unwrap();
    if !matches!(t.layout, Layout::V2 { .. }) {
        assert_eq!(t.read(("devices", "devices.list"), ""), "c 1:3 rwm");
    }

    let (status, stdout, _) = wait_exit(t.start(
        "echo x > /dev/null && echo null-ok; head -c 1 /dev/zero > /dev/null 2>&1 || echo zero-denied",
    ));
    assert!(status.success());
    assert_eq!(stdout, "null-ok\nzero-denied\n");
}

/// Runs each `(name, command)` in the cgroup and returns the names of those that succeeded;
/// each failure must be the device filter's (or controller's) `EPERM`.
fn succeeding(t: &TestCgroup, tries: &[(&str, &str)]) -> Vec<String> {
    let script: String = tries
        .iter()
        .map(|(name, command)| format!("if {command}; then echo {name}; fi; "))
        .collect();
    let (status, stdout, stderr) = wait_exit(t.start(&script));
    assert!(status.success(), "{status:?} {stderr}");
    let succeeded: Vec<String> = stdout.lines().map(str::to_owned).collect();
    let failures: Vec<&str> = stderr.lines().collect();
    assert_eq!(failures.len(), tries.len() - succeeded.len(), "{stderr}");
    for failure in failures {
        assert!(failure.ends_with("Operation not permitted"), "{stderr}");
    }
    succeeded
}

/// A rule allowing character devices; `None` numbers are wildcards.
fn allow_char(major: Option<u32>, minor: Option<u32>, access: &str) -> serde_json::Value {
    json!({"allow": true, "type": "c", "major": major, "minor": minor, "access": access})
}

/// The device filter on a v2 cgroup (on a hybrid host, the v2 tree's: the kernel runs it
/// before the v1 controller, which allows everything at its root).
#[test]
fn a_device_filter_allows_only_the_listed_devices_and_is_replaced_by_the_next() {
    let Some(t) = TestCgroup::in_v2_tree() else {
        return;
    };
    assert!(t.cgroup.enforces_device_rules());
    let nodes = tempfile::tempdir().unwrap();
    let nodes = nodes.path().display();
    // /dev/null is c 1:3, /dev/zero c 1:5.
    let mknod = |name: &str| format!("/bin/busybox mknod {nodes}/{name} c 1 3");
    let (m1, m2, m3) = (mknod("m1"), mknod("m2"), mknod("m3"));
    let tries = [
        ("read-null", "true </dev/null"),
        ("write-null", "true >/dev/null"),
        ("read-zero", "true </dev/zero"),
        ("write-zero", "true >/dev/zero"),
        ("mknod-null-1", m1.as_str()),
    ];
    let deny_all = json!({"allow": false, "access": "rwm"});

    t.apply(json!({"devices": [deny_all, allow_char(Some(1), Some(3), "rwm")]}))
        .unwrap();
    assert_eq!(
        succeeding(&t, &tries),
        ["read-null", "write-null", "mknod-null-1"]
    );

    // An update replaces the rules: /dev/zero opens too.
    t.apply(json!({"devices": [
        deny_all,
        allow_char(Some(1), Some(3), "rwm"),
        allow_char(Some(1), Some(5), "rwm")
    ]}))
    .unwrap();
    let tries = [&tries[..4], &[("mknod-null-2", m2.as_str())]].concat();
    assert_eq!(
        succeeding(&t, &tries),
        [
            "read-null",
            "write-null",
            "read-zero",
            "write-zero",
            "mknod-null-2"
        ]
    );

    // Wildcards: every minor of major 1 for reading and writing, but no mknod.
    t.apply(json!({"devices": [deny_all, allow_char(Some(1), None, "rw")]}))
        .unwrap();
    let tries = [&tries[..4], &[("mknod-null-3", m3.as_str())]].concat();
    assert_eq!(
        succeeding(&t, &tries),
        ["read-null", "write-null", "read-zero", "write-zero"]
    );
    // Minor 5 of any major, for reading only.
    t.apply(json!({"devices": [deny_all, allow_char(None, Some(5), "r")]}))
        .unwrap();
    assert_eq!(succeeding(&t, &tries), ["read-zero"]);

    // Applying without device rules (another limit's update) keeps the filter.
    t.apply(json!({})).unwrap();
    assert_eq!(succeeding(&t, &tries), ["read-zero"]);
}

#[test]
fn kill_all_ends_every_process_and_remove_deletes_the_directories() {
    let Some(t) = TestCgroup::new() else { return };
    for signal in [libc::SIGTERM, libc::SIGKILL] {
        let child = t.start("sleep 30 & sleep 30 & wait");
        assert!(wait_for(Duration::from_secs(5), || {
            t.cgroup.pids().unwrap().len() == 3
        }));
        t.cgroup.kill_all(signal).unwrap();
        let (status, _, _) = wait_exit(child);
        assert_eq!(status.signal(), Some(signal));
        assert!(wait_for(Duration::from_secs(5), || {
            t.cgroup.pids().unwrap().is_empty()
        }));
        assert!(!t.cgroup.frozen().unwrap());
    }

    t.cgroup.remove().unwrap();
    for dir in t.every_dir() {
        assert!(!dir.exists(), "{}", dir.display());
        assert!(dir.parent().unwrap().is_dir(), "the parent is left");
    }
    t.cgroup.remove().unwrap();
}

#[test]
fn a_paused_cgroup_is_killed_and_stays_frozen() {
    let Some(t) = TestCgroup::new() else { return };
    let child = t.start("sleep 30");
    t.cgroup.freeze().unwrap();
    t.cgroup.kill_all(libc::SIGTERM).unwrap();
    assert!(t.cgroup.frozen().unwrap());
    t.cgroup.thaw().unwrap();
    let (status, _, _) = wait_exit(child);
    assert_eq!(status.signal(), Some(libc::SIGTERM));
}

/// The hybrid host's v2 tree, used as if it were a pure v2 host: it has no controllers, but
/// v2's own files (cgroup.procs, cgroup.freeze, cgroup.kill, cpu.stat) work as on pure v2.
#[test]
fn v2_core_files_on_the_unified_tree() {
    let Ok(Layout::Hybrid { unified, .. }) = Layout::detect() else {
        eprintln!("skipped: needs a hybrid host");
        return;
    };
    let Some(t) = TestCgroup::with_layout(Some(Layout::V2 { root: unified })) else {
        return;
    };
    freeze_and_thaw(&t);

    let child = t.start("sleep 30 & wait");
    assert!(wait_for(Duration::from_secs(5), || {
        t.cgroup.pids().unwrap().len() == 2
    }));
    let stats = t.cgroup.stats().unwrap();
    assert!(stats.cpu.is_some() && stats.memory.is_none());
    let err = t.apply(json!({"memory": {"limit": 16 * MIB}})).unwrap_err();
    assert!(
        matches!(&err, Error::ControllerMissing { controller, .. } if controller == "memory"),
        "{err}"
    );
    t.cgroup.kill_all(libc::SIGKILL).unwrap(); // cgroup.kill
    let (status, _, _) = wait_exit(child);
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}
