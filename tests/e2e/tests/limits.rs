//! Resource limits end to end, through the real docker CLI: OOMKilled, the OOM killer switch,
//! block io throttles, `docker update` on a running container, and Docker's range checks.
//! Limits are read from inside the container, in its own cgroup namespace's /sys/fs/cgroup.

use berth_testkit::{Daemon, Requirement::*, ok, require, stderr};

fn daemon() -> Option<Daemon> {
    require(&[Root, Busybox, DockerCli]).then(|| {
        let d = Daemon::start();
        d.load_busybox();
        d
    })
}

/// A shell line printing the first of a v1 and a v2 cgroup file that exists.
fn cgroup_file(v1: &str, v2: &str) -> String {
    format!("cat /sys/fs/cgroup/{v1} 2>/dev/null || cat /sys/fs/cgroup/{v2}")
}

fn host_is_v2() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

#[test]
fn a_container_killed_for_memory_is_oom_killed_in_inspect() {
    let Some(d) = daemon() else { return };
    let run = d.docker(&[
        "run",
        "--name",
        "hog",
        "-m",
        "16m",
        "--memory-swap",
        "16m",
        "busybox",
        "sh",
        "-c",
        "head -c 64m /dev/zero | tail",
    ]);
    assert_eq!(run.status.code(), Some(137), "{}", stderr(&run));
    assert_eq!(
        ok(&d.docker(&["inspect", "-f", "{{.State.OOMKilled}}", "hog"])),
        "true\n"
    );
    ok(&d.docker(&["run", "--name", "fine", "-m", "16m", "busybox", "true"]));
    assert_eq!(
        ok(&d.docker(&["inspect", "-f", "{{.State.OOMKilled}}", "fine"])),
        "false\n"
    );
    // Each run says how that run ended.
    let again = d.docker(&["start", "-a", "hog"]);
    assert_eq!(again.status.code(), Some(137));
    assert_eq!(
        ok(&d.docker(&["inspect", "-f", "{{.State.OOMKilled}}", "hog"])),
        "true\n",
        "killed again"
    );
}

#[test]
fn oom_killer_switch_and_block_io_throttles() {
    let Some(d) = daemon() else { return };
    if !host_is_v2() {
        // cgroup v2 has no switch for the OOM killer; Docker ignores the flag there too.
        let out = ok(&d.docker(&[
            "run",
            "--rm",
            "-m",
            "32m",
            "--oom-kill-disable",
            "busybox",
            "grep",
            "oom_kill_disable",
            "/sys/fs/cgroup/memory/memory.oom_control",
        ]));
        assert_eq!(out, "oom_kill_disable 1\n");
    }
    let (device, numbers) = block_device();
    let limited = ok(&d.docker(&[
        "run",
        "--rm",
        "--device-read-bps",
        &format!("{device}:1mb"),
        "--device-write-iops",
        &format!("{device}:100"),
        "busybox",
        "sh",
        "-c",
        &format!(
            "{}; {}",
            cgroup_file("blkio/blkio.throttle.read_bps_device", "io.max"),
            cgroup_file("blkio/blkio.throttle.write_iops_device", "io.max")
        ),
    ]));
    if host_is_v2() {
        assert!(
            limited.contains(&format!("{numbers} rbps=1048576")),
            "{limited}"
        );
        assert!(limited.contains("wiops=100"), "{limited}");
    } else {
        assert_eq!(limited, format!("{numbers} 1048576\n{numbers} 100\n"));
    }
    let not_block = d.docker(&[
        "run",
        "--rm",
        "--device-read-bps",
        "/dev/null:1mb",
        "busybox",
        "true",
    ]);
    assert!(
        stderr(&not_block).contains("/dev/null is not a block device"),
        "{}",
        stderr(&not_block)
    );
}

/// A whole disk of this host, as its /dev path and `major:minor`.
fn block_device() -> (String, String) {
    let mut disks: Vec<_> = std::fs::read_dir("/sys/block")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| std::path::Path::new(&format!("/dev/{n}")).exists())
        .collect();
    // A real disk before loop and ram devices, which every host has.
    disks.sort_by_key(|n| (n.starts_with("loop") || n.starts_with("ram"), n.clone()));
    let name = disks.first().expect("a block device").clone();
    let numbers = std::fs::read_to_string(format!("/sys/block/{name}/dev")).unwrap();
    (format!("/dev/{name}"), numbers.trim().to_string())
}

#[test]
fn update_changes_a_running_containers_limits() {
    let Some(d) = daemon() else { return };
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "upd",
        "-m",
        "32m",
        "--pids-limit",
        "50",
        "busybox",
        "sleep",
        "60",
    ]));
    let read =
        |v1: &str, v2: &str| ok(&d.docker(&["exec", "upd", "sh", "-c", &cgroup_file(v1, v2)]));
    let memory = || read("memory/memory.limit_in_bytes", "memory.max");
    let pids = || read("pids/pids.max", "pids.max");
    assert_eq!(memory(), "33554432\n");
    ok(&d.docker(&[
        "update",
        "-m",
        "64m",
        "--memory-swap",
        "128m",
        "--pids-limit",
        "20",
        "--cpu-shares",
        "512",
        "--restart",
        "on-failure:3",
        "upd",
    ]));
    assert_eq!(memory(), "67108864\n");
    assert_eq!(pids(), "20\n");
    let shares = read("cpu/cpu.shares", "cpu.weight");
    assert_eq!(shares, if host_is_v2() { "20\n" } else { "512\n" });
    let inspect = ok(&d.docker(&[
        "inspect", "-f",
        "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}",
        "upd",
    ]));
    assert_eq!(inspect, "67108864 20 on-failure:3\n");

    // Out of range: refused, nothing changed.
    let refused = d.docker(&["update", "-m", "1k", "upd"]);
    assert!(
        stderr(&refused).contains("Minimum memory limit allowed is 6MB"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(memory(), "67108864\n");
    // --pids-limit -1 lifts the limit.
    ok(&d.docker(&["update", "--pids-limit", "-1", "upd"]));
    assert_eq!(pids(), "max\n");

    // A stopped container keeps the new limits for its next start.
    ok(&d.docker(&["stop", "-t", "0", "upd"]));
    ok(&d.docker(&["update", "-m", "48m", "--memory-swap", "96m", "upd"]));
    ok(&d.docker(&["start", "upd"]));
    assert_eq!(memory(), "50331648\n");
    ok(&d.docker(&["rm", "-f", "upd"]));
}

#[test]
fn limits_out_of_range_create_nothing() {
    let Some(d) = daemon() else { return };
    for (flags, message) in [
        (vec!["-m", "1k"], "Minimum memory limit allowed is 6MB"),
        (vec!["--cpus", "4096"], "Range of CPUs is from 0.01 to"),
        (
            vec!["--cpu-period", "10"],
            "CPU cfs period can not be less than 1ms",
        ),
        (
            vec!["--blkio-weight", "5"],
            "Range of blkio weight is from 10 to 1000",
        ),
        (
            vec!["--oom-score-adj", "2000"],
            "range for oom score adj is [-1000, 1000]",
        ),
        (
            vec!["--cpuset-cpus", "4095"],
            "Requested CPUs are not available",
        ),
        (
            vec!["-m", "8m", "--memory-reservation", "16m"],
            "can not be less than memory reservation",
        ),
    ] {
        let mut args = vec!["create"];
        args.extend(flags.iter().copied());
        args.push("busybox");
        let out = d.docker(&args);
        assert!(
            stderr(&out).contains(message),
            "{flags:?}: {}",
            stderr(&out)
        );
    }
    assert_eq!(ok(&d.docker(&["ps", "-aq"])), "", "nothing created");
}

#[test]
fn the_berth_cli_sends_the_same_flags() {
    let Some(d) = daemon() else { return };
    let (device, numbers) = block_device();
    ok(&d.berth(&[
        "run",
        "-d",
        "--name",
        "flags",
        "--pid",
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
        "--device-write-bps",
        &format!("{device}:2mb"),
        "busybox",
        "sleep",
        "60",
    ]));
    let inspect = ok(&d.berth(&[
        "inspect", "-f",
        "{{.HostConfig.PidMode}} {{.HostConfig.CgroupnsMode}} {{.HostConfig.GroupAdd}} {{.Config.Domainname}} {{.HostConfig.OomKillDisable}} {{range .HostConfig.BlkioDeviceWriteBps}}{{.Path}}={{.Rate}}{{end}}",
        "flags",
    ]));
    assert_eq!(
        inspect,
        format!("host host [777] example.org true {device}=2097152\n")
    );
    let throttle = ok(&d.berth(&[
        "exec",
        "flags",
        "sh",
        "-c",
        &cgroup_file("blkio/blkio.throttle.write_bps_device", "io.max"),
    ]));
    assert!(throttle.contains(&numbers), "{throttle}");
    assert_eq!(
        ok(&d.berth(&["update", "-m", "64m", "--memory-swap", "-1", "flags"])),
        "flags\n"
    );
    assert_eq!(
        ok(&d.berth(&["inspect", "-f", "{{.HostConfig.Memory}}", "flags"])),
        "67108864\n"
    );
    let nothing = d.berth(&["update", "flags"]);
    assert!(stderr(&nothing).contains("you must provide one or more flags"));
    let bad = d.berth(&["run", "--rm", "--cgroupns", "x", "busybox", "true"]);
    assert!(
        stderr(&bad).contains("--cgroupns: invalid CGROUP mode"),
        "{}",
        stderr(&bad)
    );
    ok(&d.berth(&["rm", "-f", "flags"]));
}
