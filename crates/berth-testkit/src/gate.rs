//! Gating tests on what they need. A test may skip locally with its reason; under CI
//! (`CI=true`) a missing requirement fails the test instead, so nothing is skipped there.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Root: namespaces, overlayfs, mknod.
    Root,
    /// The `docker` CLI on PATH.
    DockerCli,
    /// Debian's docker-compose (1.29, on docker-py) on PATH.
    DockerCompose,
    /// Debian's busybox-static at /bin/busybox.
    Busybox,
    /// Debian's docker-registry, for pull and push tests.
    DockerRegistry,
    /// A real Docker daemon to compare with, at `BERTH_REFERENCE_DOCKER_HOST` (set by
    /// scripts/test-all.sh after `shared/tools/reference-dockerd start`).
    ReferenceDocker,
}

impl Requirement {
    fn missing(self) -> Option<&'static str> {
        let ok = match self {
            // SAFETY: geteuid(2) has no preconditions and cannot fail.
            Requirement::Root => (unsafe { libc::geteuid() }) == 0,
            Requirement::DockerCli => std::process::Command::new("docker")
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success()),
            Requirement::DockerCompose => std::process::Command::new("docker-compose")
                .arg("version")
                .output()
                .is_ok_and(|o| o.status.success()),
            Requirement::Busybox => std::path::Path::new(crate::images::BUSYBOX).exists(),
            Requirement::ReferenceDocker => crate::reference_docker_host().is_some(),
            Requirement::DockerRegistry => {
                std::path::Path::new(crate::registry::DOCKER_REGISTRY).exists()
            }
        };
        (!ok).then_some(match self {
            Requirement::Root => "needs root",
            Requirement::DockerCli => "needs the docker CLI",
            Requirement::DockerCompose => "needs docker-compose",
            Requirement::Busybox => "needs busybox-static (/bin/busybox)",
            Requirement::ReferenceDocker => {
                "needs a reference Docker (BERTH_REFERENCE_DOCKER_HOST)"
            }
            Requirement::DockerRegistry => "needs Debian's docker-registry",
        })
    }
}

/// True when every requirement is met. Otherwise: under CI, panics; locally, prints why the
/// test is skipped and returns false.
pub fn require(reqs: &[Requirement]) -> bool {
    let missing: Vec<&str> = reqs.iter().filter_map(|r| r.missing()).collect();
    if missing.is_empty() {
        return true;
    }
    let why = missing.join(", ");
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("required under CI: {why}");
    }
    eprintln!("skipped: {why}");
    false
}
