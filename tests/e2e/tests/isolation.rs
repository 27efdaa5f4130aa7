//! Isolation and security defaults end to end, checked from inside the container: Docker's
//! capability set, the device cgroup, masked and read-only paths, and the flags that change
//! them, through the real docker CLI.

use berth_testkit::{Daemon, Requirement::*, ok, require, stdout};

fn daemon() -> Option<Daemon> {
    require(&[Root, Busybox, DockerCli]).then(|| {
        let d = Daemon::start();
        d.load_busybox();
        d
    })
}

fn cap_eff(d: &Daemon, extra: &[&str]) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sh", "-c", "grep CapEff /proc/self/status"]);
    ok(&d.docker(&args))
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn capabilities_are_dockers() {
    let Some(d) = daemon() else { return };
    assert_eq!(cap_eff(&d, &[]), "00000000a80425fb", "Docker's default set");
    assert_eq!(cap_eff(&d, &["--cap-drop", "ALL"]), "0000000000000000");
    assert_eq!(
        cap_eff(&d, &["--cap-drop", "ALL", "--cap-add", "NET_ADMIN"]),
        "0000000000001000"
    );
    let out = d.docker(&[
        "run", "--rm", "busybox", "ip", "link", "set", "lo", "mtu", "1400",
    ]);
    assert!(!out.status.success(), "no CAP_NET_ADMIN by default");
    ok(&d.docker(&[
        "run",
        "--rm",
        "--cap-add",
        "NET_ADMIN",
        "busybox",
        "ip",
        "link",
        "set",
        "lo",
        "mtu",
        "1400",
    ]));
    let out = d.docker(&["run", "--rm", "--cap-add", "BOGUS", "busybox", "true"]);
    assert!(!out.status.success());
}

#[test]
fn devices_masked_and_read_only_paths() {
    let Some(d) = daemon() else { return };
    // CAP_MKNOD makes the node; the device cgroup refuses opening it (/dev/mem is c 1:1).
    let out = d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "mknod /tmp/mem c 1 1 && head -c 1 /tmp/mem",
    ]);
    assert!(
        !out.status.success(),
        "the device cgroup must refuse /dev/mem"
    );
    // Masked: a file reads empty (/dev/null over it), a directory is an empty tmpfs.
    let out = ok(&d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "cat /proc/timer_list | wc -c; ls -A /proc/acpi | wc -l",
    ]));
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["0", "0"],
        "masked"
    );
    let out = d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo 1 > /proc/sys/kernel/domainname",
    ]);
    assert!(!out.status.success(), "/proc/sys is read-only");
    let out = d.docker(&["run", "--rm", "--read-only", "busybox", "touch", "/x"]);
    assert!(!out.status.success(), "--read-only");
    ok(&d.docker(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "busybox",
        "touch",
        "/tmp/x",
    ]));
    let privileged = ok(&d.docker(&[
        "run",
        "--rm",
        "--privileged",
        "busybox",
        "sh",
        "-c",
        "grep CapEff /proc/self/status; cat /proc/timer_list | wc -c",
    ]));
    // Every capability the host can give: the host's own bounding set.
    let host = std::fs::read_to_string("/proc/self/status").unwrap();
    let bounding = host
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim()
        .to_string();
    assert!(privileged.contains(&bounding), "{privileged} vs {bounding}");
    assert!(
        !privileged.trim().ends_with("\n0"),
        "nothing masked when privileged: {privileged}"
    );
}

#[test]
fn ulimits_sysctls_no_new_privileges_and_init() {
    let Some(d) = daemon() else { return };
    assert_eq!(
        ok(&d.docker(&[
            "run",
            "--rm",
            "--ulimit",
            "nofile=100:200",
            "busybox",
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn"
        ])),
        "100\n200\n"
    );
    assert_eq!(
        ok(&d.docker(&[
            "run",
            "--rm",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "busybox",
            "cat",
            "/proc/sys/net/ipv4/ip_forward"
        ])),
        "1\n"
    );
    let out = ok(&d.docker(&[
        "run",
        "--rm",
        "--security-opt",
        "no-new-privileges",
        "busybox",
        "grep",
        "NoNewPrivs",
        "/proc/self/status",
    ]));
    assert!(out.trim().ends_with('1'), "{out}");
    // --init: pid 1 is the init, which reaps the orphan the shell leaves behind.
    let out = ok(&d.docker(&["run", "--rm", "--init", "busybox", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; (sleep 0.1 &); sleep 0.5; ps -o stat | grep -c Z || true"]));
    assert!(out.starts_with("/sbin/docker-init -- sh"), "{out}");
    assert!(out.trim().ends_with('0'), "no zombies: {out}");
    let run = d.docker(&["run", "--rm", "--init", "busybox", "sh", "-c", "exit 4"]);
    assert_eq!(run.status.code(), Some(4), "{}", stdout(&run));
}

#[test]
fn seccomp_is_dockers_default_profile() {
    let Some(d) = daemon() else { return };
    let status = ok(&d.docker(&[
        "run",
        "--rm",
        "busybox",
        "grep",
        "Seccomp:",
        "/proc/self/status",
    ]));
    assert!(status.trim().ends_with('2'), "filtered: {status}");
    // The profile refuses unshare(2) unless the container holds CAP_SYS_ADMIN, as Docker's.
    let out = d.docker(&["run", "--rm", "busybox", "unshare", "-U", "true"]);
    assert!(!out.status.success(), "unshare is refused by default");
    ok(&d.docker(&[
        "run",
        "--rm",
        "--cap-add",
        "SYS_ADMIN",
        "busybox",
        "unshare",
        "-U",
        "true",
    ]));
    let status = ok(&d.docker(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        "busybox",
        "grep",
        "Seccomp:",
        "/proc/self/status",
    ]));
    assert!(status.trim().ends_with('0'), "unconfined: {status}");
    let id = ok(&d.docker(&["run", "-d", "busybox", "sleep", "30"]));
    let status = ok(&d.docker(&["exec", id.trim(), "grep", "Seccomp:", "/proc/self/status"]));
    assert!(
        status.trim().ends_with('2'),
        "exec'd processes are filtered too: {status}"
    );
}
