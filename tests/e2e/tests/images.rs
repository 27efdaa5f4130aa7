//! Image store end to end: import, save/load round trips, archives in the formats Docker
//! writes, and bad archives that must change nothing.

use berth_testkit::archives::{docker_save_legacy, image_config, oci_layout};
use berth_testkit::{Daemon, Requirement::*, ok, require, stderr, tar_of, tree};

fn daemon() -> Option<Daemon> {
    require(&[Root, Busybox]).then(Daemon::start)
}

fn hello_layer() -> Vec<u8> {
    tar_of(&[("hello.txt", 0o644, b"hello from a layer\n")], &[])
}

#[test]
fn save_rmi_load_round_trip_keeps_the_id() {
    let Some(d) = daemon() else { return };
    d.load_busybox();
    let id = ok(&d.berth(&["image", "inspect", "-f", "{{.Id}}", "busybox"]));
    let tar = d.berth(&["save", "busybox"]);
    assert!(tar.status.success(), "{}", stderr(&tar));
    ok(&d.berth(&["rmi", "busybox"]));
    assert!(!d.berth(&["image", "inspect", "busybox"]).status.success());
    let out = ok(&d.berth_with_stdin(&["load"], &tar.stdout));
    assert!(out.contains("Loaded image: busybox:latest"), "{out}");
    assert_eq!(
        ok(&d.berth(&["image", "inspect", "-f", "{{.Id}}", "busybox"])),
        id
    );
    assert_eq!(
        ok(&d.berth(&["run", "--rm", "busybox", "echo", "alive"])),
        "alive\n"
    );
}

#[test]
fn legacy_docker_save_archives_load_and_run() {
    let Some(d) = daemon() else { return };
    d.load_busybox();
    let layers = vec![hello_layer()];
    let config = image_config(&layers, &["cat", "/hello.txt"]);
    let archive = docker_save_legacy(&layers, &config, "legacy:1");
    let r = d.api("POST", "/images/load", Some(&archive)).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("Loaded image: legacy:1"), "{}", r.text());
    let id = format!("sha256:{}", berth_testkit::archives::sha256(&config));
    assert_eq!(
        d.api("GET", "/images/legacy:1/json", None).unwrap().json()["Id"],
        id.as_str()
    );
}

#[test]
fn oci_layouts_load() {
    let Some(d) = daemon() else { return };
    let layers = vec![hello_layer()];
    let config = image_config(&layers, &["cat", "/hello.txt"]);
    let archive = oci_layout(&layers, &config, "docker.io/library/ocitest:2");
    let r = d.api("POST", "/images/load", Some(&archive)).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let inspect = d.api("GET", "/images/ocitest:2/json", None).unwrap();
    assert_eq!(inspect.status, 200, "{}", inspect.text());
    assert_eq!(inspect.json()["RepoTags"], serde_json::json!(["ocitest:2"]));
}

/// Each bad archive is refused with a 400 and leaves the store exactly as it was.
#[test]
fn bad_archives_change_nothing() {
    let Some(d) = daemon() else { return };
    let before_layers = tree(&d.data_root().join("layers"));
    let before_blobs = tree(&d.data_root().join("content/blobs"));
    let escaping = |entry: Vec<u8>| {
        let layers = vec![entry];
        let config = image_config(&layers, &["true"]);
        docker_save_legacy(&layers, &config, "evil:1")
    };
    let wrong = {
        let layers = vec![hello_layer()];
        let mut archive = oci_layout(&layers, &image_config(&layers, &["true"]), "x:1");
        // Flip one byte of the layer inside the archive: its digest no longer matches.
        let pos = archive.windows(6).position(|w| w == b"hello ").unwrap();
        archive[pos] = b'j';
        archive
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not a tar", b"this is not an image archive".to_vec()),
        (
            "a tar without a manifest",
            tar_of(&[("readme", 0o644, b"x")], &[]),
        ),
        (
            "absolute path",
            escaping(tar_of(&[("/etc/evil", 0o644, b"x")], &[])),
        ),
        (
            "dot-dot path",
            escaping(tar_of(&[("../../evil", 0o644, b"x")], &[])),
        ),
        (
            "symlink out of the root",
            escaping(tar_of(&[], &[("link", "../../../../etc")])),
        ),
        ("digest mismatch", wrong),
    ];
    for (what, archive) in cases {
        let r = d.api("POST", "/images/load", Some(&archive)).unwrap();
        assert_eq!(r.status, 400, "{what}: bad input is a 400: {}", r.text());
        assert!(
            r.json()["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}"
        );
        assert_eq!(
            tree(&d.data_root().join("layers")),
            before_layers,
            "{what}: layers changed"
        );
        assert_eq!(
            tree(&d.data_root().join("content/blobs")),
            before_blobs,
            "{what}: blobs changed"
        );
    }
    assert!(!std::path::Path::new("/etc/evil").exists());
}

#[test]
fn tag_history_and_rmi_rules() {
    let Some(d) = daemon() else { return };
    d.load_busybox();
    ok(&d.berth(&["tag", "busybox", "mybox:v1"]));
    let images = ok(&d.berth(&["images", "--format", "{{.Repository}}:{{.Tag}}"]));
    assert!(
        images.contains("busybox:latest") && images.contains("mybox:v1"),
        "{images}"
    );
    let id = ok(&d.berth(&["image", "inspect", "-f", "{{.Id}}", "busybox"]));
    // An image with two tags is not deleted by id without force.
    let out = d.berth(&["rmi", id.trim()]);
    assert!(
        stderr(&out).contains("referenced in multiple repositories"),
        "{}",
        stderr(&out)
    );
    // A container pins its image.
    ok(&d.berth(&["create", "--name", "pin", "mybox:v1", "true"]));
    let out = ok(&d.berth(&["rmi", "busybox"]));
    assert!(out.contains("Untagged: busybox:latest"), "{out}");
    let out = d.berth(&["rmi", "mybox:v1"]);
    assert!(
        stderr(&out).contains("is using its referenced image"),
        "{}",
        stderr(&out)
    );
    ok(&d.berth(&["rm", "pin"]));
    let out = ok(&d.berth(&["rmi", "mybox:v1"]));
    assert!(out.contains("Deleted: sha256:"), "{out}");
    assert_eq!(
        tree(&d.data_root().join("layers"))
            .iter()
            .filter(|p| p.ends_with("/diff"))
            .count(),
        1,
        "only hello-world's layer is left"
    );
    let history = d
        .api("GET", "/images/hello-world/history", None)
        .unwrap()
        .json();
    assert!(history[0]["Id"].as_str().unwrap().starts_with("sha256:"));
}

/// An archive written by the real `docker save` (Docker 20.10) loads with the id Docker gave it.
#[test]
fn real_docker_save_output_loads() {
    let Some(d) = daemon() else { return };
    let archive = std::fs::read(format!(
        "{}/fixtures/docker-20.10-save.tar",
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let out = ok(&d.berth_with_stdin(&["load"], &archive));
    assert_eq!(out, "Loaded image: berth-fixture:20.10\n");
    let id = ok(&d.berth(&[
        "image",
        "inspect",
        "-f",
        "{{.Id}} {{.Config.Labels.origin}} {{json .Config.Cmd}}",
        "berth-fixture:20.10",
    ]));
    assert_eq!(
        id.trim(),
        "sha256:392bfd69be51a6153606ae35ad216d3ce2051cc0074dec8c0f75e57e2cbe5f5c docker [\"/hello.txt\"]"
    );
    let history = ok(&d.berth(&["history", "--format", "{{.Comment}}", "berth-fixture:20.10"]));
    assert_eq!(history.trim(), "Imported from -");
}

/// What `berth save` writes loads into the real Docker with the same id and tag, and back.
#[test]
fn berth_save_output_loads_into_docker() {
    use berth_testkit::reference_docker;
    if !require(&[Root, Busybox, ReferenceDocker]) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    ok(&d.berth(&["tag", "busybox", "berth-saved:1"]));
    let id = ok(&d.berth(&["image", "inspect", "-f", "{{.Id}}", "berth-saved:1"]));
    let saved = d.berth(&["save", "berth-saved:1"]);
    assert!(saved.status.success(), "{}", stderr(&saved));
    let loaded = reference_docker(&["load"], &saved.stdout);
    assert!(loaded.status.success(), "docker load: {}", stderr(&loaded));
    let docker_id = ok(&reference_docker(
        &["image", "inspect", "-f", "{{.Id}}", "berth-saved:1"],
        &[],
    ));
    let ran = reference_docker(
        &["run", "--rm", "berth-saved:1", "echo", "saved by berth"],
        &[],
    );
    ok(&reference_docker(&["rmi", "berth-saved:1"], &[]));
    assert_eq!(docker_id, id);
    assert_eq!(ok(&ran), "saved by berth\n");
}
