//! berthd on a pure cgroup v2 layout: the daemon runs in a mount namespace where
//! `/sys/fs/cgroup` is the unified hierarchy alone (see `Daemon::start_on_cgroup_v2`), so it
//! takes its v2 paths for real — cgroup creation and namespaces, the freezer, `cgroup.kill` and
//! the eBPF device filter — on this hybrid host, whose unified hierarchy has no memory, cpu or
//! pids controllers (limits themselves are checked on v1 by the other tests).

use std::path::{Path, PathBuf};

use berth_testkit::{Daemon, Requirement::*, ok, require, stderr};

fn daemon() -> Option<Daemon> {
    require(&[Root, Busybox, DockerCli]).then(|| {
        let d = Daemon::start_on_cgroup_v2();
        d.load_busybox();
        d
    })
}

/// The container's cgroup directory in the host's view of the unified hierarchy.
fn cgroup_dir(id: &str) -> PathBuf {
    fn find(dir: &Path, id: &str) -> Option<PathBuf> {
        for entry in std::fs::read_dir(dir).ok()?.flatten() {
            let path = entry.path();
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if entry.file_name() == id {
                return Some(path);
            }
            if let Some(found) = find(&path, id) {
                return Some(found);
            }
        }
        None
    }
    let unified = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .into_iter()
        .find(|p| Path::new(p).join("cgroup.procs").exists())
        .expect("a unified hierarchy");
    find(&Path::new(unified).join("berth-test"), id).expect("the container's cgroup")
}

#[test]
fn containers_run_in_v2_cgroups_of_their_own() {
    let Some(d) = daemon() else { return };
    assert_eq!(ok(&d.docker(&["info", "-f", "{{.CgroupVersion}}"])), "2\n");
    // Its own cgroup namespace, and the unified hierarchy alone at /sys/fs/cgroup.
    let seen = ok(&d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "cat /proc/self/cgroup; ls /sys/fs/cgroup | grep -c '^cgroup.procs$'",
    ]));
    // (A hybrid kernel lists its v1 hierarchies too; the namespace roots them all.)
    assert!(seen.lines().any(|l| l == "0::/"), "{seen}");
    assert!(
        seen.lines().rev().skip(1).all(|l| l.ends_with(":/")),
        "{seen}"
    );
    assert!(seen.ends_with("\n1\n"), "{seen}");

    // The freezer and the kill switch are cgroup.freeze and cgroup.kill.
    let id = ok(&d.docker(&["run", "-d", "busybox", "sleep", "60"]));
    let id = id.trim();
    let dir = cgroup_dir(id);
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
    assert_eq!(
        procs.lines().count(),
        1,
        "the init is in its cgroup: {procs}"
    );
    ok(&d.docker(&["pause", id]));
    assert_eq!(
        std::fs::read_to_string(dir.join("cgroup.freeze")).unwrap(),
        "1\n"
    );
    ok(&d.docker(&["unpause", id]));
    assert_eq!(
        std::fs::read_to_string(dir.join("cgroup.freeze")).unwrap(),
        "0\n"
    );
    ok(&d.docker(&["kill", id]));
    assert_eq!(
        ok(&d.docker(&["inspect", "-f", "{{.State.Status}}", id])),
        "exited\n"
    );
    assert!(!dir.exists(), "the cgroup goes with the container");
}

#[test]
fn the_device_filter_enforces_the_device_rules() {
    let Some(d) = daemon() else { return };
    // /dev/fuse (c 10:229) needs no capability to open: only the device rules decide.
    let script = "mknod /dev/fuse c 10 229 && (exec 3</dev/fuse) 2>&1 && echo opened";
    let denied = d.docker(&["run", "--rm", "busybox", "sh", "-c", script]);
    let denied_text = format!("{}{}", berth_testkit::stdout(&denied), stderr(&denied));
    assert!(
        denied_text.contains("Operation not permitted") && !denied_text.contains("opened"),
        "{denied_text}"
    );
    let allowed = ok(&d.docker(&[
        "run",
        "--rm",
        "--device-cgroup-rule",
        "c 10:229 rwm",
        "busybox",
        "sh",
        "-c",
        script,
    ]));
    assert!(allowed.contains("opened"), "{allowed}");
    // The standard devices stay usable.
    assert_eq!(
        ok(&d.docker(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "head -c 3 /dev/zero | wc -c"
        ]))
        .trim(),
        "3"
    );
}

#[test]
fn a_limit_without_its_controller_is_refused_not_ignored() {
    let Some(d) = daemon() else { return };
    let unified = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .into_iter()
        .find(|p| Path::new(p).join("cgroup.controllers").exists())
        .unwrap();
    let controllers =
        std::fs::read_to_string(Path::new(unified).join("cgroup.controllers")).unwrap();
    if controllers.split_whitespace().any(|c| c == "memory") {
        return; // a real v2 host: the limit applies, as the v1 tests check
    }
    let out = d.docker(&["run", "--rm", "-m", "32m", "busybox", "true"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("memory"), "{}", stderr(&out));
    assert_eq!(ok(&d.docker(&["ps", "-q"])), "");
}
