//! The known container escapes through the runtime, tried from inside: no descriptor of
//! berthd, the shim or the runtime reaches the container (CVE-2024-21626: a WORKDIR of
//! /proc/self/fd/N must not land outside the rootfs), and the runtime's own binary cannot be
//! reached through /proc/<pid>/exe to be overwritten (CVE-2019-5736).

use berth_testkit::{Daemon, Requirement::*, ok, require, stdout};

fn daemon() -> Option<Daemon> {
    require(&[Root, Busybox, DockerCli]).then(|| {
        let d = Daemon::start();
        d.load_busybox();
        d
    })
}

#[test]
fn only_stdio_reaches_the_container() {
    let Some(d) = daemon() else { return };
    ok(&d.docker(&["run", "-d", "--name", "target", "busybox", "sleep", "60"]));
    // pid 1 is the command itself; it holds only its stdio.
    let fds = ok(&d.docker(&["exec", "target", "ls", "/proc/1/fd"]));
    assert_eq!(
        fds.split_whitespace().collect::<Vec<_>>(),
        ["0", "1", "2"],
        "{fds}"
    );
    let exec_fds = ok(&d.docker(&["exec", "target", "sh", "-c", "ls /proc/$$/fd; true"]));
    assert_eq!(
        exec_fds.split_whitespace().collect::<Vec<_>>(),
        ["0", "1", "2"],
        "an exec'd process: {exec_fds}"
    );
}

#[test]
fn a_workdir_through_proc_self_fd_stays_inside() {
    let Some(d) = daemon() else { return };
    ok(&d.docker(&["run", "-d", "--name", "target", "busybox", "sleep", "60"]));
    for n in 3..16 {
        let workdir = format!("/proc/self/fd/{n}");
        let run = d.docker(&[
            "run",
            "--rm",
            "-w",
            &workdir,
            "busybox",
            "readlink",
            "/proc/self/cwd",
        ]);
        let out = stdout(&run);
        assert!(
            !out.contains("unreachable"),
            "WORKDIR {workdir} escaped the rootfs: {out}"
        );
        let exec = d.docker(&[
            "exec",
            "-w",
            &workdir,
            "target",
            "readlink",
            "/proc/self/cwd",
        ]);
        assert!(
            !stdout(&exec).contains("unreachable"),
            "exec -w {workdir} escaped the rootfs: {}",
            stdout(&exec)
        );
    }
}

#[test]
fn the_shim_binary_cannot_be_opened_for_writing_through_proc_exe() {
    let Some(d) = daemon() else { return };
    let id = ok(&d.docker(&["run", "-d", "busybox", "sleep", "60"]));
    let shim_pid = std::fs::read_to_string(
        d.exec_root()
            .join("containers")
            .join(id.trim())
            .join("shim.pid"),
    )
    .unwrap();
    let exe = format!("/proc/{}/exe", shim_pid.trim());
    // What a process of the container would do once it reached an exec'd process's exe; even
    // root on the host gets a read-only file system. (With O_TRUNC the kernel checks the
    // mount before the running binary: without the read-only mount this is ETXTBSY while a
    // shim runs, and a rewritten binary once none does.)
    let opened = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&exe);
    assert_eq!(
        opened.map(|_| ()).unwrap_err().raw_os_error(),
        Some(libc::EROFS),
        "{exe}"
    );
}

#[test]
fn a_mount_target_symlinked_out_of_the_rootfs_stays_inside() {
    let Some(d) = daemon() else { return };
    let host = tempfile::tempdir().unwrap();
    let outside = host.path().join("outside");
    let source = host.path().join("source");
    std::fs::create_dir(&outside).unwrap();
    std::fs::create_dir(&source).unwrap();
    std::fs::write(source.join("file"), "from the bind").unwrap();
    // An image whose /data and /scratch are absolute symlinks to a host directory.
    let link = format!(
        "ln -s {0}/data /data; ln -s {0}/scratch /scratch",
        outside.display()
    );
    ok(&d.docker(&["run", "--name", "planted", "busybox", "sh", "-c", &link]));
    ok(&d.docker(&["commit", "planted", "planted:latest"]));
    let bind = format!("{}:/data", source.display());
    let out = ok(&d.docker(&[
        "run",
        "--rm",
        "-v",
        &bind,
        "--tmpfs",
        "/scratch",
        "planted",
        "sh",
        "-c",
        "cat /data/file; echo; echo inside > /scratch/note; cat /scratch/note",
    ]));
    assert_eq!(out, "from the bind\ninside\n");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&outside.to_string_lossy().into_owned()),
        "nothing is mounted on the host directory"
    );
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "the host directory is untouched"
    );
}
