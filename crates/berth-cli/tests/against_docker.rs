//! berth and the docker CLI side by side against the same Docker daemon: the same
//! commands must print the same thing and exit the same way. This tests berth's output
//! against the reference it imitates, so it needs that reference: a Docker daemon
//! (`BERTH_REFERENCE_DOCKER_HOST`, default unix:///tmp/refdocker.sock, which
//! `/work/shared/tools/reference-dockerd start` provides), the `docker` CLI and
//! /bin/busybox. `scripts/test-all.sh` starts that daemon and sets the variable; without
//! it the test is skipped locally with the reason, and fails under CI (`CI=true`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::{env, fs};

const BERTH: &str = env!("CARGO_BIN_EXE_berth");
const DEFAULT_HOST: &str = "unix:///tmp/refdocker.sock";

struct Reference {
    host: String,
    image: String,
    /// Containers and images to remove at the end, pass or fail.
    containers: Vec<String>,
    rootfs: PathBuf,
}

impl Reference {
    /// The reference daemon with a fresh busybox image, or why there is none.
    fn start() -> Result<Self, String> {
        let host =
            env::var("BERTH_REFERENCE_DOCKER_HOST").unwrap_or_else(|_| DEFAULT_HOST.to_string());
        let socket = host
            .strip_prefix("unix://")
            .ok_or("only unix:// reference hosts are supported")?;
        if !Path::new(socket).exists() {
            return Err(format!("no Docker daemon at {host}"));
        }
        if !Path::new("/bin/busybox").exists() {
            return Err("no /bin/busybox to build the test image from".to_string());
        }
        let version = Command::new("docker")
            .args(["-H", &host, "version"])
            .output();
        if !version.is_ok_and(|o| o.status.success()) {
            return Err(format!("the docker CLI cannot reach {host}"));
        }
        let tag = format!("berth-cli-test-{}", std::process::id());
        let rootfs = env::temp_dir().join(&tag);
        fs::create_dir_all(rootfs.join("bin")).map_err(|e| e.to_string())?;
        fs::copy("/bin/busybox", rootfs.join("bin/busybox")).map_err(|e| e.to_string())?;
        for applet in ["sh", "echo", "sleep", "cat", "true"] {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet))
                .map_err(|e| e.to_string())?;
        }
        let reference = Reference {
            host,
            image: format!("{tag}:latest"),
            containers: Vec::new(),
            rootfs,
        };
        let tar = Command::new("tar")
            .arg("-C")
            .arg(&reference.rootfs)
            .args(["-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let imported = Command::new("docker")
            .args([
                "-H",
                &reference.host,
                "import",
                "-c",
                "CMD [\"sh\"]",
                "-",
                &reference.image,
            ])
            .stdin(tar.stdout.ok_or("tar has no stdout")?)
            .output()
            .map_err(|e| e.to_string())?;
        if !imported.status.success() {
            return Err(format!(
                "import failed: {}",
                String::from_utf8_lossy(&imported.stderr)
            ));
        }
        Ok(reference)
    }

    fn berth(&self, args: &[&str]) -> Output {
        run(BERTH, &self.host, args)
    }

    fn docker(&self, args: &[&str]) -> Output {
        run("docker", &self.host, args)
    }

    /// Runs `args` with both CLIs and checks they print and exit the same.
    fn same(&self, args: &[&str]) -> String {
        let (berth, docker) = (self.berth(args), self.docker(args));
        let text = |o: &Output| String::from_utf8_lossy(&o.stdout).into_owned();
        assert_eq!(text(&berth), text(&docker), "stdout of {args:?}");
        assert_eq!(
            String::from_utf8_lossy(&berth.stderr),
            String::from_utf8_lossy(&docker.stderr).replace("docker", "berth"),
            "stderr of {args:?}"
        );
        assert_eq!(
            berth.status.code(),
            docker.status.code(),
            "status of {args:?}"
        );
        text(&berth)
    }

    fn name(&mut self, suffix: &str) -> String {
        let name = format!("berth-cli-test-{}-{suffix}", std::process::id());
        self.containers.push(name.clone());
        name
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let mut rm = vec!["rm", "-f"];
        rm.extend(self.containers.iter().map(String::as_str));
        if !self.containers.is_empty() {
            self.docker(&rm);
        }
        self.docker(&["rmi", "-f", &self.image]);
        let _ = fs::remove_dir_all(&self.rootfs);
    }
}

fn run(program: &str, host: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(["-H", host])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

#[test]
fn berth_matches_the_docker_cli() {
    let mut reference = match Reference::start() {
        Ok(r) => r,
        Err(reason) if env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("required under CI: {reason}")
        }
        Err(reason) => return eprintln!("skipped: {reason}"),
    };
    let image = reference.image.clone();

    // run: output split by stream, the container's status passed on.
    let first = reference.name("first");
    let run = reference.berth(&[
        "run",
        "--name",
        &first,
        "-l",
        "role=test",
        &image,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(String::from_utf8_lossy(&run.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&run.stderr), "err\n");
    assert_eq!(run.status.code(), Some(3));

    // A missing command is docker's 127, worded as docker words it.
    let missing = reference.name("missing");
    let run = reference.berth(&["run", "--name", &missing, &image, "nosuchcommand"]);
    assert_eq!(run.status.code(), Some(127));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.starts_with("berth: Error response from daemon: "),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("\n\nRun 'berth run --help' for more information\n"),
        "{stderr}"
    );

    // --rm: the status comes back and the container is gone.
    let removed = reference.name("removed");
    let run = reference.berth(&[
        "run", "--rm", "--name", &removed, &image, "sh", "-c", "exit 4",
    ]);
    assert_eq!(run.status.code(), Some(4));
    assert!(!reference.docker(&["inspect", &removed]).status.success());

    // -d prints the full ID.
    let detached = reference.name("detached");
    let run = reference.berth(&["run", "-d", "--name", &detached, &image, "sleep", "30"]);
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim().len(), 64);

    let filter = format!("name=berth-cli-test-{}", std::process::id());
    reference.same(&[
        "ps",
        "-a",
        "--filter",
        &filter,
        "--format",
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.State}}\t{{.Names}}\t{{.Labels}}",
    ]);
    reference.same(&["ps", "-q", "--filter", &filter]);
    reference.same(&[
        "ps",
        "-a",
        "--no-trunc",
        "--filter",
        &filter,
        "--format",
        "{{.ID}} {{.Command}} {{.Names}}",
    ]);
    reference.same(&[
        "images",
        "--format",
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}",
        &image,
    ]);
    reference.same(&["images", "-q", &image]);
    reference.same(&[
        "inspect",
        "-f",
        "{{.State.ExitCode}} {{.Config.Labels}} {{json .Config.Cmd}} {{.Name}}",
        &first,
    ]);
    reference.same(&[
        "inspect",
        "-f",
        "{{.RepoTags}} {{.Config.Cmd}} {{.Size}}",
        &image,
    ]);
    reference.same(&["inspect", "nosuchobject"]);
    reference.same(&["logs", &first]);
    reference.same(&["wait", &first]);
    reference.same(&[
        "history",
        "--format",
        "{{.ID}} {{.Size}} {{.Comment}}",
        &image,
    ]);
    reference.same(&["stop", "-t", "1", &detached]);
    // Changes state, so compared with what docker prints rather than run twice.
    let rm = reference.berth(&["rm", &first, &missing, "nosuchcontainer"]);
    assert_eq!(
        String::from_utf8_lossy(&rm.stdout),
        format!("{first}\n{missing}\n")
    );
    assert_eq!(
        String::from_utf8_lossy(&rm.stderr),
        "Error response from daemon: No such container: nosuchcontainer\n"
    );
    assert_eq!(rm.status.code(), Some(1));

    // save and load round trip.
    let archive = reference.rootfs.join("image.tar");
    let archive = archive.to_str().unwrap();
    assert!(
        reference
            .berth(&["save", "-o", archive, &image])
            .status
            .success()
    );
    let loaded = reference.same(&["load", "-i", archive]);
    assert_eq!(loaded, format!("Loaded image: {image}\n"));
}
