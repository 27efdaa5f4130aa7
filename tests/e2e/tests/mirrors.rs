//! `registry-mirrors`: a Docker Hub image (`busybox`) pulled from a mirror — Debian's
//! docker-registry on 127.0.0.1 holding `library/busybox` — with no access to Docker Hub.

use berth_testkit::{Daemon, Registry, Requirement::*, ok, require, stderr};

#[test]
fn a_docker_hub_image_comes_from_the_mirror() {
    if !require(&[Root, Busybox, DockerCli, DockerRegistry]) {
        return;
    }
    // Whatever is not loopback goes to a proxy that is not there, so a fallback to Docker Hub
    // (after a broken mirror) fails here without a DNS lookup or a packet leaving the host.
    // SAFETY: set before any thread of this test binary (which has this one test) reads the
    // environment; the daemons below inherit it.
    unsafe {
        std::env::set_var("HTTPS_PROXY", "http://127.0.0.1:9");
        std::env::set_var("HTTP_PROXY", "http://127.0.0.1:9");
    }
    let registry = Registry::start();
    let source = Daemon::start();
    source.load_busybox();
    let mirrored = format!("{}/library/busybox:latest", registry.addr);
    ok(&source.docker(&["tag", "busybox", &mirrored]));
    let pushed = source.docker(&["push", &mirrored]);
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    let id = ok(&source.docker(&["image", "inspect", "-f", "{{.Id}}", "busybox"]));

    let mirror = format!("http://{}", registry.addr);
    let d = Daemon::start_with_config(serde_json::json!({"registry-mirrors": [mirror]}));
    let pulled = ok(&d.docker(&["pull", "busybox"]));
    assert!(
        pulled.contains("docker.io/library/busybox:latest"),
        "{pulled}"
    );
    assert_eq!(
        ok(&d.docker(&["image", "inspect", "-f", "{{.Id}} {{.RepoTags}}", "busybox"])),
        format!("{} [busybox:latest]\n", id.trim())
    );
    ok(&d.docker(&["run", "--rm", "busybox", "true"]));
}
