//! A TLS registry that is not insecure by default (it listens on the test daemon's bridge
//! address, not loopback), its certificate signed by a CA made in the test: push and pull work
//! with the CA in `/etc/berth/certs.d/<host:port>/ca.crt`, and fail without it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use berth_testkit::{Daemon, Requirement::*, ok, require, stderr};

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl {args:?}");
}

/// `berth registry serve` over TLS on `addr`, stopped (by pid) on drop, with the certs.d
/// directory the test made for it.
struct TlsRegistry {
    child: Child,
    certs_d: PathBuf,
}

impl Drop for TlsRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.certs_d);
        // The certs.d directory itself, if the test made it and nothing else is in it.
        if let Some(parent) = self.certs_d.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

#[test]
fn a_registry_signed_by_a_private_ca_is_trusted_through_certs_d() {
    if !require(&[Root, Busybox, DockerCli]) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let gateway = d.gateway();
    let port = std::net::TcpListener::bind((gateway.as_str(), 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("{gateway}:{port}");
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    openssl(
        work,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "1",
            "-subj",
            "/CN=berth test CA",
        ],
    );
    openssl(
        work,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            &format!("/CN={gateway}"),
        ],
    );
    std::fs::write(
        work.join("san.ext"),
        format!("subjectAltName=IP:{gateway}\n"),
    )
    .unwrap();
    openssl(
        work,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "1",
            "-extfile",
            "san.ext",
        ],
    );

    let certs_d = PathBuf::from("/etc/berth/certs.d").join(&addr);
    let registry = TlsRegistry {
        child: Command::new(berth_testkit::bin("berth"))
            .args(["registry", "serve", "--addr", &addr, "--storage"])
            .arg(work.join("storage"))
            .arg("--tls-cert")
            .arg(work.join("server.crt"))
            .arg("--tls-key")
            .arg(work.join("server.key"))
            .args(["--log-level", "warn"])
            .spawn()
            .unwrap(),
        certs_d,
    };
    berth_testkit::wait_for_listener(&addr);
    let image = format!("{addr}/team/busybox:tls");
    ok(&d.docker(&["tag", "busybox", &image]));

    let untrusted = d.docker(&["push", &image]);
    assert!(!untrusted.status.success(), "an unknown CA is refused");
    let said = format!(
        "{}{}",
        berth_testkit::stdout(&untrusted),
        stderr(&untrusted)
    );
    assert!(said.to_lowercase().contains("certificate"), "{said}");

    std::fs::create_dir_all(&registry.certs_d).unwrap();
    std::fs::copy(work.join("ca.crt"), registry.certs_d.join("ca.crt")).unwrap();
    let pushed = d.docker(&["push", &image]);
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    let id = ok(&d.docker(&["image", "inspect", "-f", "{{.Id}}", &image]));
    ok(&d.docker(&["rmi", &image]));
    ok(&d.docker(&["pull", &image]));
    assert_eq!(
        ok(&d.docker(&["image", "inspect", "-f", "{{.Id}}", &image])),
        id
    );
}
