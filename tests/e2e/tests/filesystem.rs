//! A container's filesystem from outside, through the real docker CLI: diff, export, cp in
//! both directions (running and stopped), commit, and the prune commands.

use berth_testkit::{Daemon, Requirement::*, ok, require, stderr};
use std::path::Path;

fn daemon() -> Option<Daemon> {
    require(&[Root, Busybox, DockerCli]).then(|| {
        let d = Daemon::start();
        d.load_busybox();
        d
    })
}

fn tar_names(tar: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(tar);
    a.entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect()
}

#[test]
fn diff_export_and_commit() {
    let Some(d) = daemon() else { return };
    ok(&d.docker(&[
        "run",
        "--name",
        "changer",
        "busybox",
        "sh",
        "-c",
        "echo new > /tmp/added; rm /bin/tr; echo x >> /etc/passwd",
    ]));
    let diff = ok(&d.docker(&["diff", "changer"]));
    for line in ["A /tmp/added", "D /bin/tr", "C /etc/passwd", "C /tmp"] {
        assert!(
            diff.lines().any(|l| l == line),
            "{line} missing from:\n{diff}"
        );
    }
    let export = d.docker(&["export", "changer"]);
    assert!(export.status.success(), "{}", stderr(&export));
    let names = tar_names(&export.stdout);
    assert!(
        names.iter().any(|n| n.ends_with("tmp/added")),
        "export has the new file"
    );
    assert!(
        !names.iter().any(|n| n.ends_with("bin/tr")),
        "and not the deleted one"
    );

    let id = ok(&d.docker(&[
        "commit",
        "-c",
        "CMD [\"cat\", \"/tmp/added\"]",
        "-m",
        "my change",
        "changer",
        "committed:1",
    ]));
    assert!(id.trim().starts_with("sha256:"), "{id}");
    assert_eq!(ok(&d.docker(&["run", "--rm", "committed:1"])), "new\n");
    let out = d.docker(&["run", "--rm", "committed:1", "tr", "a", "b"]);
    assert!(
        !out.status.success(),
        "the deletion is part of the image (a whiteout)"
    );
    let history = ok(&d.docker(&["history", "--format", "{{.Comment}}", "committed:1"]));
    assert_eq!(history.lines().next(), Some("my change"));
}

#[test]
fn cp_in_and_out_of_running_and_stopped_containers() {
    let Some(d) = daemon() else { return };
    let dir = std::env::temp_dir().join(format!("berth-cp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("in.txt"), "copied in\n").unwrap();
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "live",
        "busybox",
        "sh",
        "-c",
        "echo from-live > /tmp/out.txt; sleep 60",
    ]));
    ok(&d.docker(&[
        "cp",
        &dir.join("in.txt").display().to_string(),
        "live:/tmp/",
    ]));
    assert_eq!(
        ok(&d.docker(&["exec", "live", "cat", "/tmp/in.txt"])),
        "copied in\n"
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    ok(&d.docker(&[
        "cp",
        "live:/tmp/out.txt",
        &dir.join("out.txt").display().to_string(),
    ]));
    assert_eq!(
        std::fs::read_to_string(dir.join("out.txt")).unwrap(),
        "from-live\n"
    );
    ok(&d.docker(&["stop", "-t", "0", "live"]));
    ok(&d.docker(&[
        "cp",
        &dir.join("in.txt").display().to_string(),
        "live:/etc/placed.txt",
    ]));
    ok(&d.docker(&[
        "cp",
        "live:/etc/placed.txt",
        &dir.join("back.txt").display().to_string(),
    ]));
    assert_eq!(
        std::fs::read_to_string(dir.join("back.txt")).unwrap(),
        "copied in\n"
    );
    let out = d.docker(&["cp", "live:/no/such/file", &dir.display().to_string()]);
    assert!(!out.status.success());

    // `dir/.` copies what is in the directory, `dir` the directory itself; into a new
    // destination or an existing one, with both CLIs.
    ok(&d.docker(&["start", "live"]));
    ok(&d.docker(&[
        "exec",
        "live",
        "sh",
        "-c",
        "mkdir -p /d/sub && echo a > /d/a && echo b > /d/sub/b && ln -s /etc/passwd /d/ln",
    ]));
    for cli in ["docker", "berth"] {
        let cp = |from: &str, to: &Path| {
            let to = to.display().to_string();
            ok(&match cli {
                "docker" => d.docker(&["cp", from, &to]),
                _ => d.berth(&["cp", from, &to]),
            })
        };
        let root = dir.join(cli);
        std::fs::create_dir_all(root.join("existing")).unwrap();
        cp("live:/d/.", &root.join("new"));
        cp("live:/d/.", &root.join("existing"));
        cp("live:/d", &root.join("whole"));
        cp("live:/d/sub/.", &root.join("existing"));
        assert_eq!(
            berth_testkit::tree(&root),
            [
                "existing",
                "existing/a",
                "existing/b",
                "existing/ln",
                "existing/sub",
                "existing/sub/b",
                "new",
                "new/a",
                "new/ln",
                "new/sub",
                "new/sub/b",
                "whole",
                "whole/a",
                "whole/ln",
                "whole/sub",
                "whole/sub/b",
            ],
            "{cli}"
        );
        let link = std::fs::read_link(root.join("new/ln")).unwrap();
        assert_eq!(link, Path::new("/etc/passwd"), "a link stays a link");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn prune_and_disk_usage() {
    let Some(d) = daemon() else { return };
    ok(&d.docker(&["run", "--name", "done1", "busybox", "true"]));
    ok(&d.docker(&["run", "-d", "--name", "alive", "busybox", "sleep", "60"]));
    let out = ok(&d.docker(&["container", "prune", "-f"]));
    assert!(out.contains("Total reclaimed space"), "{out}");
    let names = ok(&d.docker(&["ps", "-a", "--format", "{{.Names}}"]));
    assert_eq!(names.trim(), "alive");
    let df = ok(&d.docker(&["system", "df", "--format", "{{.Type}} {{.TotalCount}}"]));
    assert!(
        df.contains("Images 2") && df.contains("Containers 1"),
        "{df}"
    );
    ok(&d.docker(&["rmi", "hello-world"]));
    let out = ok(&d.docker(&["image", "prune", "-f"]));
    assert!(out.contains("Total reclaimed space"), "{out}");
}

/// A symlink inside the container never sends a copied file to the host: the path resolves
/// inside the container's root (here `/tmp/esc -> /` means the container's `/`).
#[test]
fn cp_never_writes_through_a_symlink_to_the_host() {
    let Some(d) = daemon() else { return };
    let dir = std::env::temp_dir().join(format!("berth-cp-esc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let marker = format!("berth-escape-marker-{}", std::process::id());
    std::fs::write(dir.join(&marker), "x").unwrap();
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "trap",
        "busybox",
        "sh",
        "-c",
        "ln -s / /tmp/esc; ln -s /etc /tmp/etc; sleep 60",
    ]));
    std::thread::sleep(std::time::Duration::from_millis(200));
    ok(&d.docker(&[
        "cp",
        &dir.join(&marker).display().to_string(),
        "trap:/tmp/esc/",
    ]));
    assert!(
        !std::path::Path::new("/").join(&marker).exists(),
        "written to the host's /"
    );
    assert_eq!(
        ok(&d.docker(&["exec", "trap", "cat", &format!("/{marker}")])),
        "x"
    );
    ok(&d.docker(&[
        "cp",
        &dir.join(&marker).display().to_string(),
        "trap:/tmp/etc/",
    ]));
    assert!(
        !std::path::Path::new("/etc").join(&marker).exists(),
        "written to the host's /etc"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `export` of a running container is its own filesystem: none of /proc or /sys.
#[test]
fn export_of_a_running_container_is_its_own_filesystem() {
    let Some(d) = daemon() else { return };
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "busy",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /d; echo f > /d/f; sleep 60",
    ]));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let export = d.docker(&["export", "busy"]);
    assert!(export.status.success(), "{}", stderr(&export));
    let names = tar_names(&export.stdout);
    assert!(
        names.iter().any(|n| n.ends_with("d/f")),
        "the container's own files"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.contains("proc/self") || n.starts_with("./sys/") || n.starts_with("sys/")),
        "no mounts"
    );
}
