//! Namespace modes end to end, through the real docker CLI: `--ipc`, `--pid`, `--uts`,
//! `--cgroupns`, `--group-add` and `--domainname`, checked by comparing namespace links and
//! reading what the container sees.

use berth_testkit::{Daemon, Requirement::*, ok, require, stderr};

fn daemon() -> Option<Daemon> {
    require(&[Root, Busybox, DockerCli]).then(|| {
        let d = Daemon::start();
        d.load_busybox();
        d
    })
}

/// The namespace links (`ipc:[4026531839]`) the container's first process has, by kind.
fn container_namespaces(d: &Daemon, flags: &[&str]) -> Vec<String> {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[
        "busybox",
        "sh",
        "-c",
        "for n in ipc pid uts cgroup net; do readlink /proc/self/ns/$n; done",
    ]);
    ok(&d.docker(&args)).lines().map(str::to_string).collect()
}

fn host_namespace(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn private_namespaces_by_default_and_the_hosts_on_request() {
    let Some(d) = daemon() else { return };
    let kinds = ["ipc", "pid", "uts", "cgroup", "net"];
    let own = container_namespaces(&d, &[]);
    for (kind, link) in kinds.iter().zip(&own) {
        assert_ne!(*link, host_namespace(kind), "{kind} is private by default");
    }
    let host = container_namespaces(
        &d,
        &[
            "--ipc",
            "host",
            "--pid",
            "host",
            "--uts",
            "host",
            "--cgroupns",
            "host",
        ],
    );
    for (kind, link) in kinds.iter().zip(&host) {
        let expected_host = *kind != "net";
        assert_eq!(
            *link == host_namespace(kind),
            expected_host,
            "{kind}: {link}"
        );
    }

    // The host's name with --uts host, and no name of its own allowed with it.
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(
        ok(&d.docker(&["run", "--rm", "--uts", "host", "busybox", "hostname"])),
        hostname
    );
    let conflict = d.docker(&["run", "--rm", "--uts", "host", "-h", "x", "busybox", "true"]);
    assert!(
        stderr(&conflict).contains("conflicting options: hostname and the UTS mode"),
        "{}",
        stderr(&conflict)
    );
    for bad in [
        ["--ipc", "public"],
        ["--pid", "private"],
        ["--cgroupns", "x"],
    ] {
        let out = d.docker(&["create", bad[0], bad[1], "busybox"]);
        assert!(!out.status.success(), "{bad:?} accepted");
    }
    assert_eq!(ok(&d.docker(&["ps", "-aq"])), "", "nothing created");
}

#[test]
fn a_private_cgroup_namespace_is_rooted_at_the_containers_cgroup() {
    let Some(d) = daemon() else { return };
    let own = ok(&d.docker(&["run", "--rm", "busybox", "cat", "/proc/self/cgroup"]));
    for line in own.lines() {
        assert!(line.ends_with(":/"), "{line} in\n{own}");
    }
    // Its /sys/fs/cgroup shows its own limits.
    let limit = ok(&d.docker(&[
        "run",
        "--rm",
        "-m",
        "64m",
        "busybox",
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
    ]));
    assert_eq!(limit, "67108864\n");
    // With the host's namespace, the path names the container's cgroup.
    let id = ok(&d.docker(&[
        "create",
        "--cgroupns",
        "host",
        "busybox",
        "cat",
        "/proc/self/cgroup",
    ]));
    let id = id.trim();
    let host = ok(&d.docker(&["start", "-a", id]));
    assert!(host.lines().all(|l| l.ends_with(id)), "{host} names {id}");
}

#[test]
fn ipc_and_pid_namespaces_are_shared_between_containers() {
    let Some(d) = daemon() else { return };
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "donor",
        "--ipc",
        "shareable",
        "busybox",
        "sh",
        "-c",
        "echo from-donor > /dev/shm/note; exec sleep 60",
    ]));
    ok(&d.docker(&["run", "-d", "--name", "private", "busybox", "sleep", "60"]));
    let joined = ok(&d.docker(&[
        "run",
        "--rm",
        "--ipc",
        "container:donor",
        "--pid",
        "container:donor",
        "busybox",
        "sh",
        "-c",
        "cat /dev/shm/note; readlink /proc/self/ns/ipc; ps -o comm",
    ]));
    let donor_ipc = ok(&d.docker(&["exec", "donor", "readlink", "/proc/self/ns/ipc"]));
    let mut lines = joined.lines();
    assert_eq!(lines.next(), Some("from-donor"), "{joined}");
    assert_eq!(lines.next(), Some(donor_ipc.trim()), "{joined}");
    assert!(
        joined.lines().any(|l| l.trim() == "sleep"),
        "the donor's processes are visible: {joined}"
    );

    let refused = d.docker(&[
        "run",
        "--rm",
        "--ipc",
        "container:private",
        "busybox",
        "true",
    ]);
    assert!(
        stderr(&refused).contains("non-shareable"),
        "{}",
        stderr(&refused)
    );
    ok(&d.docker(&["stop", "-t", "0", "private"]));
    let stopped = d.docker(&[
        "run",
        "--rm",
        "--pid",
        "container:private",
        "busybox",
        "true",
    ]);
    assert!(
        stderr(&stopped).contains("cannot join PID of a non running container"),
        "{}",
        stderr(&stopped)
    );

    // The shareable /dev/shm lives on the host while the donor runs, and goes with it.
    let shm_mounted = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .any(|l| {
                l.contains(&d.data_root().to_string_lossy().into_owned())
                    && l.contains("/mounts/shm")
            })
    };
    assert!(shm_mounted());
    ok(&d.docker(&["stop", "-t", "0", "donor"]));
    assert!(!shm_mounted(), "unmounted when the donor stopped");

    let none = ok(&d.docker(&[
        "run",
        "--rm",
        "--ipc",
        "none",
        "busybox",
        "sh",
        "-c",
        "grep -c ' /dev/shm ' /proc/mounts || true",
    ]));
    assert_eq!(none.trim(), "0", "--ipc none has no /dev/shm");
}

#[test]
fn added_groups_and_domain_name() {
    let Some(d) = daemon() else { return };
    let out = ok(&d.docker(&[
        "run",
        "--rm",
        "--user",
        "1000",
        "--group-add",
        "777",
        "--group-add",
        "root",
        "--domainname",
        "example.org",
        "busybox",
        "sh",
        "-c",
        "grep Groups /proc/self/status; cat /proc/sys/kernel/domainname",
    ]));
    let mut lines = out.lines();
    let groups: Vec<&str> = lines
        .next()
        .unwrap()
        .trim_start_matches("Groups:")
        .split_whitespace()
        .collect();
    assert_eq!(groups, ["0", "777"], "{out}");
    assert_eq!(lines.next(), Some("example.org"));
    let unknown = d.docker(&[
        "run",
        "--rm",
        "--group-add",
        "nosuchgroup",
        "busybox",
        "true",
    ]);
    assert!(
        stderr(&unknown).contains("Unable to find group nosuchgroup"),
        "{}",
        stderr(&unknown)
    );
}
