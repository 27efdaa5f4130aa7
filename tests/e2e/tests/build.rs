//! `POST /build` (Docker's classic builder) end to end: real RUN containers, the layer cache
//! in the state database, whiteouts, multi-stage builds, the docker CLI with
//! DOCKER_BUILDKIT=0 and `berth build`, and bad contexts that must store nothing.

use berth_testkit::{ApiResponse, Daemon, Requirement::*, ok, require, stderr, stdout, tar_of};
use std::path::Path;
use std::process::Output;

fn daemon() -> Option<Daemon> {
    require(&[Root, Busybox]).then(|| {
        let d = Daemon::start();
        d.load_busybox();
        d
    })
}

/// A context tar from (path, contents) files.
fn context(files: &[(&str, &str)]) -> Vec<u8> {
    let files: Vec<(&str, u32, &[u8])> = files
        .iter()
        .map(|(p, c)| (*p, 0o644, c.as_bytes()))
        .collect();
    tar_of(&files, &[])
}

/// The messages of a build reply, and the image id its `aux` message names.
struct Build {
    reply: ApiResponse,
    messages: Vec<serde_json::Value>,
}

impl Build {
    fn output(&self) -> String {
        self.messages
            .iter()
            .filter_map(|m| m["stream"].as_str())
            .collect()
    }

    fn id(&self) -> Option<String> {
        self.messages
            .iter()
            .find_map(|m| m["aux"]["ID"].as_str().map(str::to_string))
    }

    fn error(&self) -> Option<String> {
        self.messages
            .iter()
            .find_map(|m| m["errorDetail"]["message"].as_str().map(str::to_string))
    }
}

fn build(d: &Daemon, query: &str, context: &[u8]) -> Build {
    let reply = d
        .api("POST", &format!("/build?{query}"), Some(context))
        .expect("berthd answers");
    let messages = reply
        .text()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    Build { reply, messages }
}

/// The id of a build that must have succeeded; otherwise the output and berthd's log.
fn built(d: &Daemon, b: &Build) -> String {
    match b.id() {
        Some(id) => id,
        None => panic!(
            "build failed: {}\n{}\nberthd log:\n{}",
            b.reply.text(),
            b.output(),
            d.log()
        ),
    }
}

fn image_ids(d: &Daemon) -> Vec<String> {
    let mut ids: Vec<String> = d
        .api("GET", "/images/json?all=1", None)
        .unwrap()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["Id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

const APP_DOCKERFILE: &str = r#"FROM busybox
ENV GREETING=hello
WORKDIR /app
COPY msg.txt .
RUN echo "$GREETING from run in $(pwd)" > run.txt && cat msg.txt
CMD ["sh", "-c", "cat /app/msg.txt /app/run.txt"]
"#;

#[test]
fn build_runs_each_step_and_the_image_runs() {
    let Some(d) = daemon() else { return };
    let ctx = context(&[("Dockerfile", APP_DOCKERFILE), ("msg.txt", "first\n")]);
    let first = build(&d, "t=app", &ctx);
    let id = built(&d, &first);
    let out = first.output();
    assert!(out.starts_with("Step 1/6 : FROM busybox\n"), "{out}");
    assert!(out.contains(" ---> Running in "), "{out}");
    // The RUN's own output, relayed while it ran.
    assert!(out.contains("first\n"), "{out}");
    assert!(out.contains("Successfully tagged app:latest\n"), "{out}");
    assert!(
        out.contains(&format!("Successfully built {}\n", &id[7..19])),
        "{out}"
    );
    assert_eq!(
        ok(&d.berth(&["run", "--rm", "app"])),
        "first\nhello from run in /app\n"
    );
    // The step containers were removed (rm defaults to true).
    assert_eq!(ok(&d.berth(&["ps", "-aq"])), "");
    let config = d.api("GET", "/images/app/json", None).unwrap().json();
    assert_eq!(config["Config"]["WorkingDir"], "/app");
    // busybox's, then WORKDIR's (it creates /app, as Docker's does), COPY's and RUN's.
    assert_eq!(config["RootFS"]["Layers"].as_array().unwrap().len(), 4);

    let again = build(&d, "t=app", &ctx);
    built(&d, &again);
    let out = again.output();
    assert_eq!(out.matches(" ---> Using cache").count(), 5, "{out}");
    assert!(!out.contains("Running in"), "{out}");
    assert_eq!(again.id(), Some(id.clone()));

    // A changed file reruns COPY and what follows it, and only that.
    let edited = context(&[("Dockerfile", APP_DOCKERFILE), ("msg.txt", "second\n")]);
    let third = build(&d, "t=app", &edited);
    built(&d, &third);
    let out = third.output();
    assert_eq!(out.matches(" ---> Using cache").count(), 2, "{out}");
    assert_eq!(out.matches(" ---> Running in").count(), 1, "{out}");
    assert_ne!(third.id(), Some(id));
    assert_eq!(
        ok(&d.berth(&["run", "--rm", "app"])),
        "second\nhello from run in /app\n"
    );

    // The cache shows in `system df` and goes with `build prune`.
    let df = d.api("GET", "/system/df", None).unwrap().json();
    assert!(!df["BuildCache"].as_array().unwrap().is_empty(), "{df}");
    // Filters that select nothing here delete nothing.
    let until = berth_testkit::encode(r#"{"until":["24h"]}"#);
    let label = berth_testkit::encode(r#"{"label":["some=label"]}"#);
    for query in [
        format!("filters={until}"),
        format!("filters={label}"),
        "keep-storage=1000000000".into(),
    ] {
        let kept = d
            .api("POST", &format!("/build/prune?{query}"), None)
            .unwrap();
        assert_eq!(kept.status, 200, "{}", kept.text());
        assert_eq!(
            kept.json()["CachesDeleted"],
            serde_json::json!([]),
            "{query}"
        );
    }
    let pruned = d.api("POST", "/build/prune", None).unwrap();
    assert_eq!(pruned.status, 200, "{}", pruned.text());
    assert!(
        !pruned.json()["CachesDeleted"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let after = build(&d, "t=app", &edited);
    assert_eq!(after.output().matches("Using cache").count(), 0);
    built(&d, &after);
    assert_eq!(
        ok(&d.berth(&["run", "--rm", "app"])),
        "second\nhello from run in /app\n"
    );
}

#[test]
fn a_failing_run_is_dockers_error_and_stores_no_image() {
    let Some(d) = daemon() else { return };
    let before = image_ids(&d);
    let b = build(
        &d,
        "t=broken",
        &context(&[(
            "Dockerfile",
            "FROM busybox\nRUN echo partial > /x\nRUN false\n",
        )]),
    );
    assert_eq!(b.reply.status, 200);
    assert_eq!(
        b.error().as_deref(),
        Some("The command '/bin/sh -c false' returned a non-zero code: 1"),
        "{}",
        b.reply.text()
    );
    assert_eq!(b.id(), None);
    assert_eq!(image_ids(&d), before);
    assert!(!d.berth(&["image", "inspect", "broken"]).status.success());
    // As in Docker, the failed step's container stays (for a look inside) unless forcerm.
    let left = ok(&d.berth(&["ps", "-aq"]));
    assert_eq!(left.lines().count(), 1, "{left}");
    ok(&d.berth(&["rm", left.trim()]));
    let b = build(
        &d,
        "forcerm=1&networkmode=none",
        &context(&[("Dockerfile", "FROM busybox\nRUN ip link show eth0\n")]),
    );
    // No network at all: busybox's ip finds no eth0 and exits 2.
    assert_eq!(
        b.error().as_deref(),
        Some("The command '/bin/sh -c ip link show eth0' returned a non-zero code: 2"),
        "{}",
        b.reply.text()
    );
    assert_eq!(ok(&d.berth(&["ps", "-aq"])), "");
}

/// Every entry name of every layer in `docker save` output for `image`.
fn layer_entries(d: &Daemon, image: &str) -> Vec<Vec<String>> {
    let saved = d.berth(&["save", image]);
    assert!(saved.status.success(), "{}", stderr(&saved));
    let mut archive = tar::Archive::new(&saved.stdout[..]);
    let mut layers = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        let mut inner = tar::Archive::new(&data[..]);
        let Ok(entries) = inner.entries() else {
            continue;
        };
        let names: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| {
                let path = e.path().unwrap().display().to_string();
                path.trim_end_matches('/').to_string()
            })
            .collect();
        if !names.is_empty() {
            layers.push(names);
        }
    }
    layers
}

#[test]
fn a_run_that_deletes_a_base_file_leaves_a_whiteout() {
    let Some(d) = daemon() else { return };
    let b = build(
        &d,
        "t=nopasswd",
        &context(&[("Dockerfile", "FROM busybox\nRUN rm /etc/passwd\n")]),
    );
    built(&d, &b);
    assert_eq!(
        ok(&d.berth(&[
            "run",
            "--rm",
            "nopasswd",
            "sh",
            "-c",
            "test -e /etc/passwd && echo present || echo gone",
        ])),
        "gone\n"
    );
    // The step's layer holds the whiteout and nothing else: not the mount points the
    // runtime made (/proc, /dev, /etc/hosts...), which Docker keeps in its init layer.
    let layers = layer_entries(&d, "nopasswd");
    assert!(
        layers.iter().any(|l| *l == ["etc", "etc/.wh.passwd"]),
        "{layers:?}"
    );
}

#[test]
fn multi_stage_builds_copy_from_an_earlier_stage() {
    let Some(d) = daemon() else { return };
    let dockerfile = "FROM busybox AS builder\n\
                      RUN mkdir /out && echo built-in-stage-one > /out/artifact\n\
                      FROM busybox\n\
                      COPY --from=builder /out/artifact /artifact\n\
                      CMD [\"cat\", \"/artifact\"]\n";
    let b = build(&d, "t=staged", &context(&[("Dockerfile", dockerfile)]));
    built(&d, &b);
    assert_eq!(
        ok(&d.berth(&["run", "--rm", "staged"])),
        "built-in-stage-one\n"
    );
    // The final image has the copied file's layer, not the first stage's RUN layer.
    let config = d.api("GET", "/images/staged/json", None).unwrap().json();
    assert_eq!(config["RootFS"]["Layers"].as_array().unwrap().len(), 2);
}

/// Two stages that need nothing from each other, each recording when its RUN started and
/// ended (the host's uptime, in hundredths of a second: busybox's `date` has no `%N`), and a
/// final stage copying both records.
const PARALLEL_STAGES: &str = "FROM busybox AS one\n\
     RUN cut -d' ' -f1 /proc/uptime > /one && sleep 2 && cut -d' ' -f1 /proc/uptime >> /one\n\
     FROM busybox AS two\n\
     RUN cut -d' ' -f1 /proc/uptime > /two && sleep 2 && cut -d' ' -f1 /proc/uptime >> /two\n\
     FROM busybox AS unused\n\
     RUN touch /never-built\n\
     FROM busybox\n\
     COPY --from=one /one /times/\n\
     COPY --from=two /two /times/\n";

#[test]
fn independent_stages_run_at_once_and_rebuild_from_the_cache() {
    let Some(d) = daemon() else { return };
    let ctx = context(&[("Dockerfile", PARALLEL_STAGES)]);
    let first = build(&d, "t=parallel", &ctx);
    let id = built(&d, &first);
    let times = ok(&d.berth(&["run", "--rm", "parallel", "cat", "/times/one", "/times/two"]));
    let t: Vec<f64> = times.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(t.len(), 4, "{times}");
    let (one, two) = ((t[0], t[1]), (t[2], t[3]));
    assert!(
        one.0 < two.1 && two.0 < one.1,
        "the two RUN steps overlapped: {one:?} {two:?}\n{}",
        first.output()
    );
    let output = first.output();
    assert!(output.contains("Step 7/7 : COPY --from=two"), "{output}");
    assert!(!output.contains("never-built"), "{output}");
    // Each RUN's lines stay together.
    for stage in ["one", "two"] {
        let lines: Vec<&str> = output.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.contains(&format!("> /{stage} &&")))
            .unwrap();
        assert!(lines[at + 1].starts_with(" ---> Running in "), "{output}");
        assert!(
            lines[at + 2].starts_with("Removing intermediate container "),
            "{output}"
        );
        assert!(lines[at + 3].starts_with(" ---> "), "{output}");
    }

    let again = build(&d, "t=parallel", &ctx);
    assert_eq!(built(&d, &again), id);
    assert_eq!(again.output().matches(" ---> Using cache").count(), 4);
    assert_eq!(ok(&d.berth(&["ps", "-aq"])), "");
}

#[test]
fn bad_contexts_are_refused_and_store_nothing() {
    let Some(d) = daemon() else { return };
    let before = image_ids(&d);
    let escaping = tar_of(
        &[
            ("Dockerfile", 0o644, b"FROM busybox\nCOPY . /\n"),
            ("../evil", 0o644, b"x"),
        ],
        &[],
    );
    let b = build(&d, "t=evil", &escaping);
    assert_eq!(b.reply.status, 400, "{}", b.reply.text());
    assert!(
        b.reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("leads outside the context"),
        "{}",
        b.reply.text()
    );

    let linked = tar_of(&[], &[("Dockerfile", "/etc/passwd")]);
    let b = build(&d, "t=evil", &linked);
    assert_eq!(b.reply.status, 400, "{}", b.reply.text());
    assert!(
        b.reply
            .text()
            .contains("symlink that leads outside the context"),
        "{}",
        b.reply.text()
    );

    let missing = context(&[("README", "no Dockerfile here")]);
    let b = build(&d, "t=evil", &missing);
    assert_eq!(b.reply.status, 400, "{}", b.reply.text());
    assert_eq!(
        b.reply.json()["message"],
        "Cannot locate specified Dockerfile: Dockerfile"
    );

    // A symlink to a host path is followed inside the context, never on the host.
    let copy_out = tar_of(
        &[(
            "Dockerfile",
            0o644,
            b"FROM busybox\nCOPY hostetc/passwd /stolen\n",
        )],
        &[("hostetc", "/etc")],
    );
    let b = build(&d, "t=evil", &copy_out);
    assert!(b.error().is_some(), "{}", b.reply.text());
    assert_eq!(image_ids(&d), before);
    assert!(!d.berth(&["image", "inspect", "evil"]).status.success());
}

fn write_context(dir: &Path, files: &[(&str, &str)]) {
    for (path, contents) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
}

const CLI_DOCKERFILE: &str = "FROM busybox\n\
                              ARG WHO=nobody\n\
                              COPY . /ctx/\n\
                              RUN echo \"built for $WHO\" > /ctx/who && ls /ctx\n\
                              LABEL stage=cli\n\
                              CMD [\"sh\", \"-c\", \"cat /ctx/data.txt /ctx/who; ls /ctx\"]\n";

fn cli_context() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_context(
        dir.path(),
        &[
            ("Dockerfile", CLI_DOCKERFILE),
            ("data.txt", "data\n"),
            ("secret.key", "must stay out\n"),
            (".dockerignore", "secret.key\n"),
        ],
    );
    dir
}

fn assert_cli_image(d: &Daemon, image: &str) {
    assert_eq!(
        ok(&d.berth(&["run", "--rm", image])),
        "data\nbuilt for you\nDockerfile\ndata.txt\nwho\n"
    );
}

#[test]
fn docker_build_with_the_classic_builder() {
    if !require(&[DockerCli]) {
        return;
    }
    let Some(d) = daemon() else { return };
    let ctx = cli_context();
    let outside = tempfile::tempdir().unwrap();
    let iid = outside.path().join("iid");
    let run = |args: &[&str]| -> Output {
        d.docker_command()
            .env("DOCKER_BUILDKIT", "0")
            .current_dir(ctx.path())
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[
        "build",
        "-t",
        "viacli",
        "-t",
        "viacli:v2",
        "--build-arg",
        "WHO=you",
        "--iidfile",
        iid.to_str().unwrap(),
        ".",
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Successfully tagged viacli:latest"), "{text}");
    assert!(text.contains("Successfully tagged viacli:v2"), "{text}");
    let id = ok(&d.berth(&["image", "inspect", "-f", "{{.Id}}", "viacli:v2"]));
    assert_eq!(std::fs::read_to_string(&iid).unwrap(), id.trim());
    assert_cli_image(&d, "viacli");

    let out = run(&["build", "-q", "--build-arg", "WHO=you", "."]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), id);

    // The cache as docker shows and prunes it.
    let df = ok(&d.docker(&["system", "df", "--format", "{{.Type}} {{.TotalCount}}"]));
    assert!(
        df.lines()
            .any(|l| l.starts_with("Build Cache ") && l != "Build Cache 0"),
        "{df}"
    );
    let pruned = ok(&d.docker(&["builder", "prune", "-f"]));
    assert!(pruned.contains("Total reclaimed space"), "{pruned}");
    let df = ok(&d.docker(&["system", "df", "--format", "{{.Type}} {{.TotalCount}}"]));
    assert!(df.contains("Build Cache 0"), "{df}");

    std::fs::write(ctx.path().join("Dockerfile"), "FROM busybox\nRUN false\n").unwrap();
    let out = run(&["build", "-t", "broken", "."]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("The command '/bin/sh -c false' returned a non-zero code: 1"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn berth_build_sends_the_context_without_ignored_files() {
    let Some(d) = daemon() else { return };
    let ctx = cli_context();
    let outside = tempfile::tempdir().unwrap();
    let iid = outside.path().join("iid");
    let dir = ctx.path().to_str().unwrap();
    let out = d.berth(&[
        "build",
        "-t",
        "viaberth",
        "--build-arg",
        "WHO=you",
        "--label",
        "built.by=berth",
        "--iidfile",
        iid.to_str().unwrap(),
        dir,
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("Sending build context to Docker daemon"),
        "{text}"
    );
    assert!(
        text.contains("Successfully tagged viaberth:latest"),
        "{text}"
    );
    let id = ok(&d.berth(&["image", "inspect", "-f", "{{.Id}}", "viaberth"]));
    assert_eq!(std::fs::read_to_string(&iid).unwrap(), id.trim());
    assert_cli_image(&d, "viaberth");
    let labels = ok(&d.berth(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Labels}}",
        "viaberth",
    ]));
    assert_eq!(labels.trim(), r#"{"built.by":"berth","stage":"cli"}"#);

    // The same context from stdin, quietly: fully cached, so the same image.
    let tar = std::process::Command::new("tar")
        .args(["-C", dir, "-c", "--exclude=secret.key", "."])
        .output()
        .unwrap();
    assert!(tar.status.success());
    let out = d.berth_with_stdin(
        &[
            "build",
            "-q",
            "--build-arg",
            "WHO=you",
            "--label",
            "built.by=berth",
            "-",
        ],
        &tar.stdout,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), id);

    // A Dockerfile outside the context, named with -f.
    let dockerfile = outside.path().join("Dockerfile.other");
    std::fs::write(
        &dockerfile,
        "FROM busybox\nCOPY data.txt /\nCMD [\"cat\", \"/data.txt\"]\n",
    )
    .unwrap();
    let out = d.berth(&[
        "build",
        "-q",
        "-t",
        "other",
        "-f",
        dockerfile.to_str().unwrap(),
        dir,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ok(&d.berth(&["run", "--rm", "other"])), "data\n");

    let df = ok(&d.berth(&["system", "df"]));
    assert!(df.lines().any(|l| l.starts_with("Build Cache")), "{df}");
    let pruned = ok(&d.berth(&["builder", "prune", "-f", "--filter", "until=24h"]));
    assert_eq!(pruned, "Total reclaimed space: 0B\n");
    let pruned = ok(&d.berth(&["builder", "prune", "-f"]));
    assert!(
        pruned.starts_with("Deleted build cache objects:\n"),
        "{pruned}"
    );

    let failing = outside.path().join("Dockerfile.fail");
    std::fs::write(&failing, "FROM busybox\nRUN exit 3\n").unwrap();
    let out = d.berth(&["build", "-f", failing.to_str().unwrap(), dir]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("The command '/bin/sh -c exit 3' returned a non-zero code: 3"),
        "{}",
        stderr(&out)
    );
}

/// Sends a build and reads its output until `marker` shows; the connection is returned open.
fn start_build_until(
    d: &Daemon,
    query: &str,
    context: &[u8],
    marker: &str,
) -> std::os::unix::net::UnixStream {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(d.socket()).unwrap();
    let head = format!(
        "POST /build?{query} HTTP/1.1\r\nHost: berth\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n",
        context.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(context).unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains(marker) {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    s
}

#[test]
fn a_build_whose_client_goes_away_stores_nothing() {
    let Some(d) = daemon() else { return };
    let before = image_ids(&d);
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nRUN sleep 1 && echo slept > /slept\nRUN touch /after\n",
    )]);
    let s = start_build_until(&d, "t=abandoned", &ctx, "Running in");
    drop(s); // as a client interrupted with Ctrl-C
    // The RUN under way ends; the build stops there.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !d.log().contains("build failed") {
        assert!(std::time::Instant::now() < deadline, "{}", d.log());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        d.log()
            .contains("the build was cancelled: the client went away"),
        "{}",
        d.log()
    );
    assert_eq!(ok(&d.berth(&["ps", "-aq"])), "");
    assert_eq!(image_ids(&d), before);
}

/// Mount points under `dir` (a daemon's data or exec root).
fn mounts_under(dir: &Path) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let prefix = dir.display().to_string();
    let mut found: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&prefix))
        .map(str::to_string)
        .collect();
    found.sort();
    found
}

/// cgroup directories whose name holds `id`, in every mounted hierarchy.
fn cgroups_named(id: &str) -> Vec<std::path::PathBuf> {
    fn walk(dir: &Path, id: &str, depth: usize, found: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if e.file_name().to_string_lossy().contains(id) {
                found.push(e.path());
            } else if depth > 0 {
                walk(&e.path(), id, depth - 1, found);
            }
        }
    }
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut found = Vec::new();
    for line in info.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        if right.starts_with("cgroup ") || right.starts_with("cgroup2 ") {
            let mountpoint = left.split(' ').nth(4).unwrap();
            walk(Path::new(mountpoint), id, 6, &mut found);
        }
    }
    found
}

/// Waits up to `secs` for `done`; false if it never held.
fn within(secs: u64, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    done()
}

#[test]
fn killing_the_client_kills_the_running_step_and_leaves_nothing() {
    let Some(d) = daemon() else { return };
    let before = image_ids(&d);
    let mounts_before = (mounts_under(&d.data_root()), mounts_under(&d.exec_root()));
    let dir = tempfile::tempdir().unwrap();
    write_context(
        dir.path(),
        &[(
            "Dockerfile",
            "FROM busybox\nRUN sleep 300\nRUN touch /after\n",
        )],
    );
    let mut client = d
        .berth_command()
        .args(["build", "-t", "cancelled", dir.path().to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The step's container is running.
    let mut step = String::new();
    let running = within(30, || {
        step = ok(&d.berth(&["ps", "-q", "--no-trunc"])).trim().to_string();
        !step.is_empty()
    });
    if !running {
        let _ = client.kill();
        let _ = client.wait();
        panic!("the RUN step never ran:\n{}", d.log());
    }
    assert!(
        !cgroups_named(&step).is_empty(),
        "the step runs in a cgroup"
    );
    client.kill().unwrap(); // SIGKILL to the client's pid, as a killed `berth build`
    client.wait().unwrap();

    let cleaned = within(10, || ok(&d.berth(&["ps", "-aq"])).is_empty());
    assert!(cleaned, "{}\n{}", ok(&d.berth(&["ps", "-a"])), d.log());
    assert!(
        within(10, || d.log().contains("build failed")),
        "{}",
        d.log()
    );
    assert!(
        d.log()
            .contains("the build was cancelled: the client went away"),
        "{}",
        d.log()
    );
    assert_eq!(image_ids(&d), before);
    let inspect = d.api("GET", "/images/cancelled/json", None).unwrap();
    assert_eq!(inspect.status, 404, "nothing is tagged");
    assert_eq!(
        (mounts_under(&d.data_root()), mounts_under(&d.exec_root())),
        mounts_before
    );
    assert_eq!(cgroups_named(&step), Vec::<std::path::PathBuf>::new());
}

#[test]
fn a_failing_stage_stops_the_run_steps_of_the_others() {
    let Some(d) = daemon() else { return };
    let dir = tempfile::tempdir().unwrap();
    write_context(
        dir.path(),
        &[(
            "Dockerfile",
            "FROM busybox AS slow\nRUN sleep 300\n\
             FROM busybox AS broken\nRUN sleep 1; exit 3\n\
             FROM busybox\nCOPY --from=slow /bin/sh /a\nCOPY --from=broken /bin/sh /b\n",
        )],
    );
    let mut client = d
        .berth_command()
        .args(["build", "-t", "halted", dir.path().to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The failing stage ends the build long before the other's `sleep 300` would.
    let ended = within(60, || client.try_wait().unwrap().is_some());
    if !ended {
        let _ = client.kill();
    }
    let out = client.wait_with_output().unwrap();
    assert!(ended, "the build waited for the other stage's RUN");
    assert!(!out.status.success());
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(said.contains("returned a non-zero code: 3"), "{said}");
    // The sleeping step is gone; the failed one stays, as the classic builder keeps a failed
    // step's container (without --force-rm).
    let left = || ok(&d.berth(&["ps", "-a", "--format", "{{.Status}}"]));
    assert!(
        within(10, || left().trim().starts_with("Exited (3)")
            && left().lines().count() == 1),
        "{}",
        left()
    );
    let inspect = d.api("GET", "/images/halted/json", None).unwrap();
    assert_eq!(inspect.status, 404, "nothing is tagged");
}

/// A one-route HTTP server on loopback: `/greeting.txt` (with a Last-Modified date), 404 for
/// anything else. Serves until the test process ends.
fn serve_greeting() -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request_line.split(' ').nth(1).unwrap_or_default();
            let reply = if path == "/greeting.txt" {
                "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\
                 Last-Modified: Tue, 14 Nov 2023 22:13:20 GMT\r\nConnection: close\r\n\r\n\
                 hello over http"
                    .to_string()
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string()
            };
            let _ = (&stream).write_all(reply.as_bytes());
        }
    });
    format!("http://{addr}")
}

#[test]
fn add_fetches_urls_from_the_daemon() {
    let Some(d) = daemon() else { return };
    let server = serve_greeting();
    let dockerfile = format!(
        "FROM busybox\nADD {server}/greeting.txt /fetched/\n\
         CMD [\"sh\", \"-c\", \"cat /fetched/greeting.txt; echo; stat -c '%a %Y' /fetched/greeting.txt\"]\n"
    );
    let b = build(&d, "t=fetched", &context(&[("Dockerfile", &dockerfile)]));
    built(&d, &b);
    // Mode 0600 and the Last-Modified date, as Docker gives a downloaded file.
    assert_eq!(
        ok(&d.berth(&["run", "--rm", "fetched"])),
        "hello over http\n600 1700000000\n"
    );
    let missing = format!("FROM busybox\nADD {server}/missing /x\n");
    let b = build(&d, "t=missing", &context(&[("Dockerfile", &missing)]));
    let error = b.error().unwrap_or_default();
    assert!(error.contains("404"), "{}", b.reply.text());
    assert!(!d.berth(&["image", "inspect", "missing"]).status.success());
}

#[test]
fn a_missing_base_image_is_pulled_from_a_local_registry() {
    if !require(&[DockerRegistry]) {
        return;
    }
    let Some(d) = daemon() else { return };
    let registry = berth_testkit::Registry::start();
    let base = format!("{}/base/busybox:1", registry.addr);
    ok(&d.berth(&["tag", "busybox", &base]));
    ok(&d.berth(&["push", &base]));
    ok(&d.berth(&["rmi", &base]));
    let dockerfile =
        format!("FROM {base}\nRUN echo on a pulled base > /note\nCMD [\"cat\", \"/note\"]\n");
    let b = build(&d, "t=onpulled", &context(&[("Dockerfile", &dockerfile)]));
    built(&d, &b);
    assert!(
        b.output().contains("1: Pulling from base/busybox\n"),
        "{}",
        b.output()
    );
    assert_eq!(
        ok(&d.berth(&["run", "--rm", "onpulled"])),
        "on a pulled base\n"
    );
    // `pull=1` asks the registry again even though the image is here now.
    let again = build(
        &d,
        "t=onpulled&pull=1",
        &context(&[("Dockerfile", &dockerfile)]),
    );
    built(&d, &again);
    assert!(
        again.output().contains("Status: Image is up to date"),
        "{}",
        again.output()
    );
}

#[test]
fn from_hello_world_needs_no_registry_even_after_rmi() {
    let Some(d) = daemon() else { return };
    ok(&d.berth(&["rmi", "hello-world"]));
    let b = build(
        &d,
        "t=greeter",
        &context(&[("Dockerfile", "FROM hello-world\nLABEL greeter=yes\n")]),
    );
    built(&d, &b);
    assert!(ok(&d.berth(&["run", "--rm", "greeter"])).contains("Hello from"));
}

/// Build output with what differs between any two builds masked: image and container ids.
fn masked_ids(text: &str) -> String {
    text.split_inclusive(['\n', ' '])
        .map(|word| {
            let bare = word.trim_end();
            let hex = bare.strip_prefix("sha256:").unwrap_or(bare);
            let is_id = (hex.len() == 12 || hex.len() == 64)
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
            if is_id {
                word.replace(bare, "<id>")
            } else {
                word.to_string()
            }
        })
        .collect()
}

/// The same Dockerfile through the docker CLI against berthd and against a real Docker: the
/// same step lines, RUN output, cache lines and result lines. One deliberate difference:
/// Docker creates (and never starts) a container for a step that only changes the config
/// (ENV, LABEL, CMD...), printing "Running in" and "Removing intermediate container" for it;
/// berth commits such a step without one. Those silent container lines are left out of both
/// sides before comparing.
#[test]
fn build_output_matches_dockers_classic_builder() {
    use berth_testkit::reference_docker_host;
    if !require(&[DockerCli, ReferenceDocker]) {
        return;
    }
    let Some(d) = daemon() else { return };
    let reference = reference_docker_host().unwrap();
    let base = "berth-build-compare-base:latest";
    let tag = "berth-build-compare:latest";
    let docker = |host: &str, dir: &Path, args: &[&str]| -> Output {
        let mut cmd = std::process::Command::new("docker");
        cmd.env("DOCKER_HOST", host)
            .env("DOCKER_BUILDKIT", "0")
            .env_remove("DOCKER_CONTEXT")
            .current_dir(dir)
            .args(args);
        cmd.output().unwrap()
    };
    /// Removes the test's images from the reference Docker, pass or fail (with the
    /// intermediate images under them).
    struct Cleanup<'a>(&'a [&'a str]);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            let mut args = vec!["rmi", "--force"];
            args.extend(self.0);
            berth_testkit::reference_docker(&args, &[]);
        }
    }
    let _cleanup = Cleanup(&[tag, base]);
    let ctx = tempfile::tempdir().unwrap();
    let busybox = berth_testkit::busybox_rootfs_tar();
    let imported =
        berth_testkit::reference_docker(&["import", "-c", "CMD [\"sh\"]", "-", base], &busybox);
    assert!(imported.status.success(), "{}", stderr(&imported));
    ok(&d.berth(&["tag", "busybox", base]));
    write_context(
        ctx.path(),
        &[
            (
                "Dockerfile",
                &format!(
                    "FROM {base}\nARG WHO=nobody\nENV GREETING=hi\nWORKDIR /app\n\
                     COPY data.txt .\nRUN echo \"$GREETING $WHO\" && cat data.txt\n\
                     RUN rm /etc/passwd\nLABEL compare=yes\nCMD [\"cat\", \"data.txt\"]\n"
                ),
            ),
            ("data.txt", "some data\n"),
        ],
    );
    let build = |host: &str| {
        let out = docker(
            host,
            ctx.path(),
            &["build", "--build-arg", "WHO=you", "-t", tag, "."],
        );
        assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
        masked_ids(&stdout(&out)).replace(
            " ---> Running in <id>\nRemoving intermediate container <id>\n",
            "",
        )
    };
    let docker_host = d.host();
    let (ours, theirs) = (build(&docker_host), build(&reference));
    // And again: every step from the cache.
    let (ours_cached, theirs_cached) = (build(&docker_host), build(&reference));
    assert_eq!(ours, theirs);
    assert_eq!(ours_cached, theirs_cached);
}

#[test]
fn run_steps_honour_user_and_leave_volume_writes_out() {
    let Some(d) = daemon() else { return };
    let dockerfile = "FROM busybox\n\
                      VOLUME /data\n\
                      RUN echo lost > /data/x && echo kept > /kept\n\
                      USER nobody\n\
                      RUN id -u > /tmp/uid\n\
                      CMD [\"sh\", \"-c\", \"ls /data; cat /kept /tmp/uid\"]\n";
    let b = build(&d, "t=voluser", &context(&[("Dockerfile", dockerfile)]));
    built(&d, &b);
    // What a RUN writes under a VOLUME is not part of the image, as in Docker.
    assert_eq!(ok(&d.berth(&["run", "--rm", "voluser"])), "kept\n65534\n");
    // The steps' anonymous volumes went with their containers.
    assert_eq!(ok(&d.berth(&["volume", "ls", "-q"])), "");
}

#[test]
fn a_daemon_killed_mid_build_leaves_no_image_and_builds_again() {
    let Some(mut d) = daemon() else { return };
    let before = image_ids(&d);
    let dockerfile = "FROM busybox\nCOPY data.txt /\n\
                      RUN echo step-started && sleep 1 && cat /data.txt\n\
                      CMD [\"cat\", \"/data.txt\"]\n";
    let ctx = context(&[("Dockerfile", dockerfile), ("data.txt", "survived\n")]);
    let _connection = start_build_until(&d, "t=crashed", &ctx, "step-started");
    // The step's container is running (and recorded so) once its output flows.
    std::thread::sleep(std::time::Duration::from_millis(100));
    d.kill9();
    d.restart();
    assert_eq!(image_ids(&d), before);
    // The step's container outlived berthd, as every container does; it ends on its own.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let status = ok(&d.berth(&["ps", "-a", "--format", "{{.Status}}"]));
        if status.starts_with("Exited (0)") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The COPY step came through the crash in the cache; the RUN runs again.
    let b = build(&d, "t=crashed", &ctx);
    built(&d, &b);
    assert_eq!(
        b.output().matches(" ---> Using cache").count(),
        1,
        "{}",
        b.output()
    );
    assert_eq!(ok(&d.berth(&["run", "--rm", "crashed"])), "survived\n");
}

// BuildKit-era Dockerfile syntax: here-documents, RUN --mount, --secret, COPY --parents.

/// `berth build -t tag [extra...]` of a directory holding `files`.
fn cli_build(d: &Daemon, tag: &str, files: &[(&str, &str)], extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    write_context(dir.path(), files);
    let mut args = vec!["build", "-t", tag];
    args.extend_from_slice(extra);
    args.push(dir.path().to_str().unwrap());
    d.berth(&args)
}

fn cli_built(d: &Daemon, out: &Output) {
    assert!(
        out.status.success(),
        "{}{}\nberthd log:\n{}",
        stdout(out),
        stderr(out),
        d.log()
    );
}

fn run_sh(d: &Daemon, image: &str, script: &str) -> String {
    ok(&d.berth(&["run", "--rm", image, "sh", "-c", script]))
}

#[test]
fn heredocs_in_run_and_copy_end_up_in_the_image() {
    let Some(d) = daemon() else { return };
    let dockerfile = "FROM busybox\n\
                      ENV WHO=world\n\
                      RUN <<EOF\n\
                      echo one > /one\n\
                      echo two >> /one\n\
                      EOF\n\
                      RUN cat <<-X > /chomped && cat <<'Y' > /literal\n\
                      \t\ttabbed $WHO\n\
                      \tX\n\
                      $WHO stays\n\
                      Y\n\
                      RUN <<EOF\n\
                      #!/bin/sh\n\
                      echo script > /script-out\n\
                      EOF\n\
                      COPY <<a.txt <<\"b.txt\" /dir/\n\
                      hello $WHO\n\
                      a.txt\n\
                      literal $WHO\n\
                      b.txt\n";
    let out = cli_build(&d, "heredocs", &[("Dockerfile", dockerfile)], &[]);
    cli_built(&d, &out);
    assert_eq!(
        run_sh(
            &d,
            "heredocs",
            "cat /one /chomped /literal /script-out /dir/a.txt /dir/b.txt; ls /dev/pipes 2>&1 | wc -l"
        ),
        "one\ntwo\ntabbed world\n$WHO stays\nscript\nhello world\nliteral $WHO\n1\n"
    );
}

#[test]
fn cache_mounts_persist_across_builds_and_stay_out_of_the_image() {
    let Some(d) = daemon() else { return };
    let first = "FROM busybox\n\
                 RUN --mount=type=cache,target=/cache,id=e2e-cache echo first > /cache/seen\n";
    cli_built(
        &d,
        &cli_build(&d, "cache-one", &[("Dockerfile", first)], &[]),
    );
    let second = "FROM busybox\n\
                  RUN --mount=type=cache,target=/cache,id=e2e-cache,sharing=locked cp /cache/seen /copied\n";
    cli_built(
        &d,
        &cli_build(&d, "cache-two", &[("Dockerfile", second)], &[]),
    );
    assert_eq!(
        run_sh(
            &d,
            "cache-two",
            "cat /copied; test -e /cache && echo leaked; true"
        ),
        "first\n"
    );
    assert_eq!(
        run_sh(&d, "cache-one", "test -e /cache && echo leaked; echo none"),
        "none\n"
    );
    // The directory lives in the data root, not in any layer.
    let dirs = d.data_root().join("build/cache-mounts");
    let found = std::fs::read_dir(&dirs)
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path().join("seen")).ok())
        .collect::<Vec<_>>();
    assert_eq!(found, ["first\n"]);
    // builder prune takes the cache directories with the cached steps.
    let pruned = ok(&d.berth(&["builder", "prune", "-f"]));
    assert!(pruned.contains("Total reclaimed space: "), "{pruned}");
    assert!(
        !pruned.contains("space: 0B"),
        "the cache's bytes are counted: {pruned}"
    );
    assert_eq!(std::fs::read_dir(&dirs).unwrap().count(), 0);
    let third = "FROM busybox\n\
                 RUN --mount=type=cache,target=/cache,id=e2e-cache ls /cache > /listed\n";
    cli_built(
        &d,
        &cli_build(&d, "cache-three", &[("Dockerfile", third)], &[]),
    );
    assert_eq!(run_sh(&d, "cache-three", "cat /listed; echo end"), "end\n");
}

#[test]
fn bind_mounts_from_a_stage_and_the_context_and_tmpfs() {
    let Some(d) = daemon() else { return };
    let dockerfile = "FROM busybox AS src\n\
                      RUN mkdir /out && echo from-stage > /out/f\n\
                      FROM busybox\n\
                      RUN --mount=type=bind,from=src,source=/out,target=/in cp /in/f /got\n\
                      RUN --mount=from=src,source=/out,target=/in,rw echo scribble > /in/f && cat /in/f > /rw\n\
                      RUN --mount=type=tmpfs,target=/scratch,size=1m echo t > /scratch/x && grep -q ' /scratch tmpfs' /proc/mounts && echo tmpfs > /tmpfs-seen\n\
                      RUN --mount=source=ctxdir,target=/ctx cat /ctx/c.txt > /ctx-got\n\
                      COPY --from=src /out/f /orig\n";
    let files = [
        ("Dockerfile", dockerfile),
        ("ctxdir/c.txt", "from-context\n"),
    ];
    cli_built(&d, &cli_build(&d, "binds", &files, &[]));
    assert_eq!(
        run_sh(
            &d,
            "binds",
            "cat /got /rw /tmpfs-seen /ctx-got /orig; ls -d /in /scratch /ctx 2>/dev/null; true"
        ),
        "from-stage\nscribble\ntmpfs\nfrom-context\nfrom-stage\n"
    );
}

const SECRET: &str = "s3cr3t-e2e-7f1c9a";

#[test]
fn secrets_are_readable_in_run_and_found_nowhere_in_the_image() {
    let Some(d) = daemon() else { return };
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("foo.txt");
    std::fs::write(&secret_file, SECRET).unwrap();
    let src = format!("id=foo,src={}", secret_file.display());
    // The Dockerfile holds the secret upper-cased only, so its bytes appear nowhere else.
    let upper = SECRET.to_uppercase();
    let dockerfile = format!(
        "FROM busybox\n\
         RUN --mount=type=secret,id=foo test \"$(tr a-z A-Z < /run/secrets/foo)\" = {upper} && wc -c < /run/secrets/foo > /len\n\
         RUN --mount=type=secret,id=foo,env=FOO_ENV,required test \"$(echo $FOO_ENV | tr a-z A-Z)\" = {upper} && echo env-ok > /env-ok\n"
    );
    let out = cli_build(
        &d,
        "secretive",
        &[("Dockerfile", &dockerfile)],
        &["--secret", &src],
    );
    cli_built(&d, &out);
    assert!(!stdout(&out).contains(SECRET) && !stderr(&out).contains(SECRET));
    assert_eq!(
        run_sh(
            &d,
            "secretive",
            "cat /len /env-ok; ls /run/secrets 2>/dev/null; true"
        ),
        format!("{}\nenv-ok\n", SECRET.len())
    );
    let tar = dir.path().join("image.tar");
    ok(&d.berth(&["save", "-o", tar.to_str().unwrap(), "secretive"]));
    let bytes = std::fs::read(&tar).unwrap();
    assert!(bytes.len() > 1000);
    assert!(
        !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
        "the secret is in the saved image"
    );
    for args in [
        vec!["history", "--no-trunc", "secretive"],
        vec!["image", "inspect", "secretive"],
        vec!["ps", "-a", "--no-trunc"],
    ] {
        let text = ok(&d.berth(&args));
        assert!(!text.contains(SECRET), "{args:?}: {text}");
    }
    // No step container outlives its step.
    assert_eq!(ok(&d.berth(&["ps", "-aq"])), "");
}

#[test]
fn missing_secrets_and_bad_mounts_fail_naming_the_line_and_tag_nothing() {
    let Some(d) = daemon() else { return };
    let cases = [
        (
            "FROM busybox\nRUN --mount=type=secret,id=foo,required true\n",
            "line 2: secret foo is required but was not given",
        ),
        (
            "FROM busybox\n\nRUN --mount=type=cache true\n",
            "line 3: cache mount requires a target",
        ),
        (
            "FROM busybox\nRUN --mount=type=nfs,target=/x true\n",
            "line 2: unsupported mount type \"nfs\"",
        ),
        (
            "FROM busybox\nRUN --mount=type=cache,target=/x,sharing=maybe true\n",
            "line 2: unsupported sharing value \"maybe\"",
        ),
        (
            "FROM busybox\nRUN --mount=source=../etc,target=/x true\n",
            "line 2: mount source ../etc leads outside the build context",
        ),
        (
            "FROM busybox\nRUN <<EOF\necho no end\n",
            "line 2: unterminated heredoc",
        ),
    ];
    for (dockerfile, message) in cases {
        let out = cli_build(&d, "broken", &[("Dockerfile", dockerfile)], &[]);
        assert!(!out.status.success(), "{dockerfile}");
        assert!(
            stderr(&out).contains(message),
            "{dockerfile}: {}",
            stderr(&out)
        );
        assert!(!d.berth(&["image", "inspect", "broken"]).status.success());
    }
    let out = cli_build(
        &d,
        "broken",
        &[("Dockerfile", "FROM busybox\n")],
        &["--secret", "id=foo,src=/surely/not/here"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("failed to read secret foo from /surely/not/here"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn copy_parents_and_link_keep_the_layout() {
    let Some(d) = daemon() else { return };
    let dockerfile = "FROM busybox\n\
                      COPY --parents a/x.txt b/c/y.txt /p/\n\
                      COPY --parents ./src/./lib/m.txt /q/\n\
                      COPY --link a/x.txt /linked\n";
    let files = [
        ("Dockerfile", dockerfile),
        ("a/x.txt", "x\n"),
        ("b/c/y.txt", "y\n"),
        ("src/lib/m.txt", "m\n"),
    ];
    cli_built(&d, &cli_build(&d, "parents", &files, &[]));
    assert_eq!(
        run_sh(&d, "parents", "find /p /q /linked -type f | sort"),
        "/linked\n/p/a/x.txt\n/p/b/c/y.txt\n/q/lib/m.txt\n"
    );
}
