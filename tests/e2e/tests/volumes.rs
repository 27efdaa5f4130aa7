//! Volumes and mounts end to end, through the real docker CLI: named and anonymous volumes,
//! binds, tmpfs, --mount, --volumes-from, the image's VOLUMEs and their content.

use berth_testkit::{Daemon, Requirement::*, ok, require, stderr};

fn daemon() -> Option<Daemon> {
    require(&[Root, Busybox, DockerCli]).then(|| {
        let d = Daemon::start();
        d.load_busybox();
        d
    })
}

#[test]
fn named_volumes_keep_data_across_containers() {
    let Some(d) = daemon() else { return };
    ok(&d.docker(&["volume", "create", "--label", "team=db", "data"]));
    ok(&d.docker(&[
        "run",
        "--rm",
        "-v",
        "data:/data",
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/file",
    ]));
    assert_eq!(
        ok(&d.docker(&[
            "run",
            "--rm",
            "-v",
            "data:/data:ro",
            "busybox",
            "cat",
            "/data/file"
        ])),
        "kept\n"
    );
    let out = d.docker(&[
        "run",
        "--rm",
        "-v",
        "data:/data:ro",
        "busybox",
        "touch",
        "/data/x",
    ]);
    assert!(!out.status.success(), "a read-only volume refuses writes");
    let mountpoint = ok(&d.docker(&[
        "volume",
        "inspect",
        "-f",
        "{{.Mountpoint}} {{.Labels.team}} {{.Driver}}",
        "data",
    ]));
    assert_eq!(
        mountpoint.trim(),
        format!(
            "{} db local",
            d.data_root().join("volumes/data/_data").display()
        )
    );
    assert!(ok(&d.docker(&["volume", "ls", "-q", "--filter", "label=team=db"])).contains("data"));
    // A volume first used by `-v` is created on the spot.
    ok(&d.docker(&["run", "--rm", "-v", "fresh:/x", "busybox", "true"]));
    assert!(ok(&d.docker(&["volume", "ls", "-q"])).contains("fresh"));
}

#[test]
fn volumes_in_use_are_kept() {
    let Some(d) = daemon() else { return };
    ok(&d.docker(&["run", "--name", "user", "-v", "busy:/b", "busybox", "true"]));
    let out = d.docker(&["volume", "rm", "busy"]);
    assert!(
        stderr(&out).contains("volume is in use"),
        "{}",
        stderr(&out)
    );
    ok(&d.docker(&["rm", "user"]));
    ok(&d.docker(&["volume", "rm", "busy"]));
    let out = d.docker(&["volume", "rm", "busy"]);
    assert!(stderr(&out).contains("no such volume"), "{}", stderr(&out));
    let out = d.docker(&["volume", "create", "bad/name"]);
    assert!(!out.status.success());
}

#[test]
fn binds_tmpfs_and_mount_flags() {
    let Some(d) = daemon() else { return };
    let host = tempfile_dir();
    std::fs::write(host.join("from-host"), "hello host\n").unwrap();
    let bind = format!("{}:/h", host.display());
    assert_eq!(
        ok(&d.docker(&["run", "--rm", "-v", &bind, "busybox", "cat", "/h/from-host"])),
        "hello host\n"
    );
    ok(&d.docker(&[
        "run",
        "--rm",
        "-v",
        &bind,
        "busybox",
        "sh",
        "-c",
        "echo back > /h/from-container",
    ]));
    assert_eq!(
        std::fs::read_to_string(host.join("from-container")).unwrap(),
        "back\n"
    );
    let mount = format!("type=bind,source={},target=/m,readonly", host.display());
    let out = d.docker(&["run", "--rm", "--mount", &mount, "busybox", "touch", "/m/x"]);
    assert!(!out.status.success(), "readonly bind");
    let out = d.docker(&[
        "run",
        "--rm",
        "--mount",
        "type=bind,source=/no/such/path,target=/m",
        "busybox",
        "true",
    ]);
    assert!(
        stderr(&out).contains("bind source path does not exist"),
        "{}",
        stderr(&out)
    );
    let out = ok(&d.docker(&[
        "run",
        "--rm",
        "--tmpfs",
        "/scratch:size=1m",
        "busybox",
        "sh",
        "-c",
        "grep /scratch /proc/mounts",
    ]));
    assert!(
        out.starts_with("tmpfs /scratch tmpfs") && out.contains("size=1024k"),
        "{out}"
    );
    let out = ok(&d.docker(&[
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,target=/t",
        "busybox",
        "sh",
        "-c",
        "grep -c ' /t tmpfs' /proc/mounts",
    ]));
    assert_eq!(out, "1\n");
    std::fs::remove_dir_all(host).unwrap();
}

#[test]
fn volumes_from_and_inspect_mounts() {
    let Some(d) = daemon() else { return };
    ok(&d.docker(&[
        "create",
        "--name",
        "holder",
        "-v",
        "shared:/shared",
        "-v",
        "/anon",
        "busybox",
        "true",
    ]));
    ok(&d.docker(&[
        "run",
        "--rm",
        "--volumes-from",
        "holder",
        "busybox",
        "sh",
        "-c",
        "echo via-from > /shared/f; test -d /anon",
    ]));
    assert_eq!(
        ok(&d.docker(&["run", "--rm", "-v", "shared:/s", "busybox", "cat", "/s/f"])),
        "via-from\n"
    );
    let mounts = ok(&d.docker(&[
        "inspect",
        "-f",
        "{{range .Mounts}}{{.Type}}:{{.Destination}}:{{.RW}} {{end}}",
        "holder",
    ]));
    assert_eq!(mounts.trim(), "volume:/shared:true volume:/anon:true");
    // rm -v removes the anonymous volume, never the named one.
    let anon = ok(&d.docker(&[
        "inspect",
        "-f",
        "{{range .Mounts}}{{if eq .Destination \"/anon\"}}{{.Name}}{{end}}{{end}}",
        "holder",
    ]));
    ok(&d.docker(&["rm", "-v", "holder"]));
    let volumes = ok(&d.docker(&["volume", "ls", "-q"]));
    assert!(
        volumes.contains("shared") && !volumes.contains(anon.trim()),
        "{volumes}"
    );
}

#[test]
fn image_volumes_are_filled_from_the_image_and_pruned() {
    let Some(d) = daemon() else { return };
    // An image whose VOLUME has content: the new volume gets a copy of it.
    let layer = berth_testkit::tar_of(&[("srv/data/seed.txt", 0o644, b"from the image\n")], &[]);
    let mut combined = berth_testkit::busybox_rootfs_tar();
    combined.truncate(combined.len() - 1024); // drop the end-of-archive blocks, then append
    combined.extend_from_slice(&layer);
    let out = d.docker_with_stdin(
        &[
            "import",
            "-c",
            "VOLUME /srv/data",
            "-c",
            "CMD [\"sh\"]",
            "-",
            "withvol:1",
        ],
        &combined,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        ok(&d.docker(&[
            "run",
            "--name",
            "v1",
            "withvol:1",
            "cat",
            "/srv/data/seed.txt"
        ])),
        "from the image\n"
    );
    ok(&d.docker(&["rm", "v1"]));
    let pruned = ok(&d.docker(&["volume", "prune", "-f"]));
    assert!(pruned.contains("Total reclaimed space"), "{pruned}");
    assert_eq!(
        ok(&d.docker(&["volume", "ls", "-q"])),
        "",
        "the anonymous volume was pruned"
    );
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "berth-bind-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let dir = std::path::PathBuf::from(dir.to_string_lossy().replace(['(', ')'], ""));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn driver_option_volumes_are_mounted_while_used() {
    let Some(d) = daemon() else { return };
    ok(&d.docker(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=size=2m",
        "ramvol",
    ]));
    let out = ok(&d.docker(&[
        "run",
        "--rm",
        "-v",
        "ramvol:/r",
        "busybox",
        "sh",
        "-c",
        "grep ' /r ' /proc/mounts",
    ]));
    assert!(
        out.starts_with("tmpfs /r tmpfs") && out.contains("size=2048k"),
        "{out}"
    );
    let data = d.data_root().join("volumes/ramvol/_data");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&*data.to_string_lossy()),
        "unmounted once no container uses it"
    );
    let out = d.docker(&["volume", "create", "--opt", "bogus=1", "badopts"]);
    assert!(
        stderr(&out).contains("invalid option key"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn system_df_verbose_shows_each_volumes_size() {
    let Some(d) = daemon() else { return };
    ok(&d.docker(&[
        "run",
        "--rm",
        "-v",
        "sized:/data",
        "busybox",
        "sh",
        "-c",
        "head -c 204800 /dev/zero > /data/blob",
    ]));
    for output in [
        ok(&d.docker(&["system", "df", "-v"])),
        ok(&d.berth(&["system", "df", "-v"])),
    ] {
        let volumes = output.split_once("Local Volumes space usage:").unwrap().1;
        let row = volumes
            .lines()
            .find(|l| l.starts_with("sized "))
            .unwrap_or_else(|| panic!("no row for the volume:\n{output}"));
        assert!(row.trim_end().ends_with("204.8kB"), "{row}");
    }
}
