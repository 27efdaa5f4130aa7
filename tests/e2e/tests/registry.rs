//! Pull, push and login against a real registry (Debian's docker-registry on 127.0.0.1),
//! through the real docker CLI.

use berth_testkit::{Daemon, Registry, Requirement::*, ok, require, stderr, stdout};

#[test]
fn push_then_pull_round_trip() {
    if !require(&[Root, Busybox, DockerCli, DockerRegistry]) {
        return;
    }
    let registry = Registry::start();
    let d = Daemon::start();
    d.load_busybox();
    let name = format!("{}/team/busybox:1", registry.addr);
    ok(&d.docker(&["tag", "busybox", &name]));
    let id = ok(&d.docker(&["image", "inspect", "-f", "{{.Id}}", &name]));
    let pushed = d.docker(&["push", &name]);
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    assert!(
        stdout(&pushed).contains("1: digest: sha256:"),
        "{}",
        stdout(&pushed)
    );
    let again = ok(&d.docker(&["push", &name]));
    assert!(again.contains("Layer already exists"), "{again}");

    ok(&d.docker(&["rmi", &name, "busybox"]));
    let pulled = ok(&d.docker(&["pull", &name]));
    assert!(
        pulled.contains("Pull complete") && pulled.contains("Downloaded newer image"),
        "{pulled}"
    );
    assert_eq!(
        ok(&d.docker(&["image", "inspect", "-f", "{{.Id}}", &name])),
        id,
        "same image id after the round trip"
    );
    let digests = ok(&d.docker(&[
        "image",
        "inspect",
        "-f",
        "{{range .RepoDigests}}{{.}}{{end}}",
        &name,
    ]));
    assert!(digests.contains("/team/busybox@sha256:"), "{digests}");
    assert_eq!(
        ok(&d.docker(&["run", "--rm", &name, "echo", "pulled"])),
        "pulled\n"
    );
    let up_to_date = ok(&d.docker(&["pull", &name]));
    assert!(up_to_date.contains("Image is up to date"), "{up_to_date}");

    let missing = d.docker(&["pull", &format!("{}/team/nosuch:1", registry.addr)]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("not found") || stderr(&missing).contains("unknown"),
        "{}",
        stderr(&missing)
    );
    // `run` of an image that is not here pulls it first, as docker does.
    ok(&d.docker(&["rmi", &name]));
    assert_eq!(
        ok(&d.docker(&["run", "--rm", &name, "echo", "auto-pulled"])),
        "auto-pulled\n"
    );
}
