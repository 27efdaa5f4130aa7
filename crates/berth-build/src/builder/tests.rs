//! Whole builds against the FakeHost test double (RUN is recorded and answered with a canned
//! diff; nothing is run).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::build;
use crate::error::{BuildError, Result};
use crate::host::{BuiltImage, StepMount};
use crate::options::BuildOptions;
use crate::testing::{FakeHost, MemoryCache, TarBuilder, e, entries, running_as_root};

fn busybox_rootfs() -> Vec<u8> {
    TarBuilder::new()
        .dir("bin", 0o755)
        .file("bin/sh", 0o755, b"ELF")
        .dir("etc", 0o755)
        .file(
            "etc/passwd",
            0o644,
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\napp:x:1000:1000::/app:/bin/sh\n",
        )
        .file("etc/group", 0o644, b"root:x:0:\napp:x:1000:\n")
        .dir("tmp", 0o1777)
        .dir("usr", 0o755)
        .finish()
}

fn busybox_config() -> Value {
    json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"]},
        "history": [
            {"created": "2024-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:0123 in / "},
            {"created": "2024-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]", "empty_layer": true}
        ]
    })
}

fn host() -> FakeHost {
    let mut host = FakeHost::new();
    host.add_image("busybox", busybox_config(), &[busybox_rootfs()]);
    host
}

fn options(host: &FakeHost) -> BuildOptions {
    let mut options = BuildOptions::new(host.tmp_dir());
    options.tags = vec!["app".to_owned()];
    options
}

struct Outcome {
    result: Result<BuiltImage>,
    output: String,
}

impl Outcome {
    fn image(&self) -> &BuiltImage {
        match &self.result {
            Ok(image) => image,
            Err(e) => panic!("build failed: {e}\n{}", self.output),
        }
    }

    fn config(&self) -> Value {
        serde_json::from_slice(&self.image().config).unwrap()
    }

    fn error(&self) -> String {
        match &self.result {
            Ok(_) => panic!("build succeeded:\n{}", self.output),
            Err(e) => e.to_string(),
        }
    }

    fn lines(&self) -> Vec<&str> {
        self.output.lines().collect()
    }
}

fn run_build(
    host: &mut FakeHost,
    cache: &mut MemoryCache,
    context: Vec<u8>,
    options: &BuildOptions,
) -> Outcome {
    let mut output = String::new();
    let mut sink = |t: &str| output.push_str(t);
    let result = build(host, cache, &context[..], options, &mut sink);
    Outcome { result, output }
}

fn context(dockerfile: &str) -> TarBuilder {
    TarBuilder::new().file("Dockerfile", 0o644, dockerfile.as_bytes())
}

/// Replaces 12-hex-digit ids in output lines so they can be compared.
fn masked(line: &str) -> String {
    line.split(' ')
        .map(|word| {
            let is_id = word.len() == 12 && word.bytes().all(|b| b.is_ascii_hexdigit());
            if is_id { "<id>" } else { word }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

const MULTI_STAGE: &str = r#"ARG BASE=busybox
FROM $BASE AS build
ENV GREETING="hello world" OTHER=$BASE
WORKDIR /src
COPY . .
RUN make
FROM busybox
LABEL org.example.v=1
COPY --from=build /src/hello.txt /usr/local/share/
USER nobody
EXPOSE 8080 53/udp
CMD ["sh", "-c", "echo $GREETING"]
"#;

fn multi_stage_host() -> FakeHost {
    let mut host = host();
    host.run_results.insert(
        "/bin/sh -c make".to_owned(),
        (
            0,
            TarBuilder::new()
                .dir("src", 0o755)
                .file_owned("src/hello.txt", 0o640, 1000, 1000, b"hi")
                .finish(),
        ),
    );
    host
}

#[test]
fn a_multi_stage_build_produces_docker_shaped_config_history_and_output() {
    let mut host = multi_stage_host();
    let mut cache = MemoryCache::default();
    let ctx = context(MULTI_STAGE)
        .file("main.c", 0o644, b"int main;")
        .finish();
    let opts = options(&host);
    let outcome = run_build(&mut host, &mut cache, ctx, &opts);
    let image = outcome.image().clone();

    let lines: Vec<String> = outcome.lines().iter().map(|l| masked(l)).collect();
    assert_eq!(
        lines,
        [
            "Step 1/12 : ARG BASE=busybox",
            "Step 2/12 : FROM $BASE AS build",
            "(fake) resolved busybox",
            " ---> <id>",
            "Step 3/12 : ENV GREETING=\"hello world\" OTHER=$BASE",
            " ---> <id>",
            "Step 4/12 : WORKDIR /src",
            " ---> <id>",
            "Step 5/12 : COPY . .",
            " ---> <id>",
            "Step 6/12 : RUN make",
            " ---> Running in <id>",
            "ran /bin/sh -c make",
            "Removing intermediate container <id>",
            " ---> <id>",
            "Step 7/12 : FROM busybox",
            "(fake) resolved busybox",
            " ---> <id>",
            "Step 8/12 : LABEL org.example.v=1",
            " ---> <id>",
            "Step 9/12 : COPY --from=build /src/hello.txt /usr/local/share/",
            " ---> <id>",
            "Step 10/12 : USER nobody",
            " ---> <id>",
            "Step 11/12 : EXPOSE 8080 53/udp",
            " ---> <id>",
            "Step 12/12 : CMD [\"sh\", \"-c\", \"echo $GREETING\"]",
            " ---> <id>",
            "Successfully built <id>",
            "Successfully tagged app:latest",
        ]
    );
    assert!(outcome.output.ends_with(&format!(
        "Successfully built {}\nSuccessfully tagged app:latest\n",
        &image.id.hex()[..12]
    )));

    // The one RUN ran in the first stage, with its ENV, WORKDIR and all its layers.
    assert_eq!(host.recorded().runs.len(), 1);
    let run = &host.recorded().runs[0].clone();
    assert_eq!(run.cmd, ["/bin/sh", "-c", "make"]);
    // A meta ARG is not in scope inside a stage unless declared there again.
    assert_eq!(
        run.env,
        [
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            "GREETING=hello world",
            "OTHER="
        ]
    );
    assert_eq!(run.working_dir, "/src");
    assert_eq!(run.layers.len(), 3, "base, WORKDIR, COPY");
    assert_eq!(run.network_mode, "default");
    assert!(run.remove_on_success && !run.remove_on_failure);

    // Only the final image is stored and tagged.
    assert_eq!(host.recorded().stored, std::slice::from_ref(&image));
    assert_eq!(host.recorded().tags, ["app:latest"]);
    assert_eq!(image.id, berth_image::Digest::of(&image.config));

    let config = outcome.config();
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["os"], "linux");
    let c = &config["config"];
    assert_eq!(c["Env"], json!(["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]));
    assert_eq!(c["Cmd"], json!(["sh", "-c", "echo $GREETING"]));
    assert_eq!(c["User"], "nobody");
    assert_eq!(c["ExposedPorts"], json!({"53/udp": {}, "8080/tcp": {}}));
    assert_eq!(c["Labels"], json!({"org.example.v": "1"}));
    assert_eq!(c["WorkingDir"], "");
    assert!(c["Image"].as_str().unwrap().starts_with("sha256:"));

    let history: Vec<(String, bool)> = config["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["created_by"].as_str().unwrap().to_owned(),
                h["empty_layer"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    let copy_line = &history[3].0;
    assert!(
        copy_line.starts_with("/bin/sh -c #(nop) COPY file:")
            && copy_line.ends_with(" in /usr/local/share/ "),
        "{copy_line}"
    );
    assert_eq!(
        history,
        [
            ("/bin/sh -c #(nop) ADD file:0123 in / ".to_owned(), false),
            ("/bin/sh -c #(nop)  CMD [\"sh\"]".to_owned(), true),
            ("/bin/sh -c #(nop)  LABEL org.example.v=1".to_owned(), true),
            (copy_line.clone(), false),
            ("/bin/sh -c #(nop)  USER nobody".to_owned(), true),
            ("/bin/sh -c #(nop)  EXPOSE 8080 53/udp".to_owned(), true),
            (
                "/bin/sh -c #(nop)  CMD [\"sh\" \"-c\" \"echo $GREETING\"]".to_owned(),
                true
            ),
        ]
    );
    let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
    assert_eq!(diff_ids.len(), 2);
    assert_eq!(image.layers.len(), 2);
    assert_eq!(diff_ids[1], image.layers[1].diff_id.as_str());

    // COPY --from keeps the owner the file had in the other stage (which only root can
    // reproduce in the test double's mounts); new parents are root's.
    let owner = if running_as_root() { 1000 } else { 0 };
    let copied = entries(&host.layer_tar(&image.layers[1]));
    assert_eq!(
        copied,
        [
            e("usr", 'd', 0o755, 0, 0, ""),
            e("usr/local", 'd', 0o755, 0, 0, ""),
            e("usr/local/share", 'd', 0o755, 0, 0, ""),
            e("usr/local/share/hello.txt", 'f', 0o640, owner, owner, "hi"),
        ]
    );
}

#[test]
fn context_copies_land_below_workdir_owned_by_root() {
    let mut host = host();
    let mut cache = MemoryCache::default();
    let ctx = context("FROM busybox\nWORKDIR /app\nCOPY --chown=app . ./\n")
        .file_owned("src/a.txt", 0o600, 501, 20, b"A")
        .file(
            ".dockerignore",
            0o644,
            b"secret\nDockerfile\n.dockerignore\n",
        )
        .file("secret", 0o600, b"password")
        .finish();
    let opts = options(&host);
    let outcome = run_build(&mut host, &mut cache, ctx, &opts);
    let image = outcome.image();
    let workdir_layer = entries(&host.layer_tar(&image.layers[1]));
    assert_eq!(workdir_layer, [e("app", 'd', 0o755, 0, 0, "")]);
    let copied = entries(&host.layer_tar(&image.layers[2]));
    assert_eq!(
        copied,
        [
            e("app", 'd', 0o755, 0, 0, ""),
            e("app/src", 'd', 0o755, 1000, 1000, ""),
            e("app/src/a.txt", 'f', 0o600, 1000, 1000, "A"),
        ]
    );
    let history = outcome.config()["history"].clone();
    let line = history[3]["created_by"].as_str().unwrap();
    assert!(
        line.starts_with("/bin/sh -c #(nop) COPY --chown=appdir:"),
        "{line}"
    );
    assert!(line.ends_with(" in /app/ "), "{line}");
    assert_eq!(history[2]["created_by"], "/bin/sh -c #(nop) WORKDIR /app");
}

#[test]
fn a_second_build_is_served_from_the_cache() {
    let mut host = multi_stage_host();
    let mut cache = MemoryCache::default();
    let ctx = || {
        context(MULTI_STAGE)
            .file("main.c", 0o644, b"int main;")
            .finish()
    };
    let opts = options(&host);
    let first = run_build(&mut host, &mut cache, ctx(), &opts)
        .image()
        .clone();
    assert_eq!(host.recorded().runs.len(), 1);

    let again = run_build(&mut host, &mut cache, ctx(), &opts);
    assert_eq!(again.image().id, first.id);
    assert_eq!(host.recorded().runs.len(), 1, "RUN came from the cache");
    assert_eq!(again.output.matches(" ---> Using cache").count(), 9);

    // A changed file misses from its COPY on; the steps before still hit.
    let changed = context(MULTI_STAGE)
        .file("main.c", 0o644, b"int main(void);")
        .finish();
    let third = run_build(&mut host, &mut cache, changed, &opts);
    assert_eq!(host.recorded().runs.len(), 2);
    let lines = third.lines();
    let at = |step: &str| lines.iter().position(|l| l.starts_with(step)).unwrap();
    assert_eq!(lines[at("Step 3/12") + 1], " ---> Using cache");
    assert_eq!(lines[at("Step 4/12") + 1], " ---> Using cache");
    assert_ne!(lines[at("Step 5/12") + 1], " ---> Using cache");
    // The second stage's COPY takes the same bytes, so it hits again after the rebuild.
    assert_eq!(lines[at("Step 9/12") + 1], " ---> Using cache");
    assert_eq!(third.image().id, first.id);

    // --no-cache runs everything (and makes a new image: new timestamps).
    let mut no_cache = opts.clone();
    no_cache.no_cache = true;
    let fourth = run_build(&mut host, &mut cache, ctx(), &no_cache);
    assert_eq!(host.recorded().runs.len(), 3);
    assert!(!fourth.output.contains("Using cache"));
    assert_ne!(fourth.image().id, first.id);
}

#[test]
fn build_args_feed_run_and_its_history() {
    let mut host = host();
    let mut cache = MemoryCache::default();
    let dockerfile = "FROM busybox\nARG V=1\nARG W\nRUN echo $V\n";
    let mut opts = options(&host);
    opts.build_args = BTreeMap::from([
        ("V".to_owned(), Some("2".to_owned())),
        (
            "http_proxy".to_owned(),
            Some("http://proxy:3128".to_owned()),
        ),
        ("NOT_DECLARED".to_owned(), Some("x".to_owned())),
    ]);
    let outcome = run_build(&mut host, &mut cache, context(dockerfile).finish(), &opts);
    let config = outcome.config();
    assert_eq!(
        config["history"][2]["created_by"],
        "/bin/sh -c #(nop)  ARG V=1"
    );
    assert_eq!(
        config["history"][3]["created_by"],
        "/bin/sh -c #(nop)  ARG W"
    );
    assert_eq!(
        config["history"][4]["created_by"],
        "|1 V=2 /bin/sh -c echo $V"
    );
    assert_eq!(
        host.recorded().runs[0].env,
        [
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            "V=2",
            "http_proxy=http://proxy:3128"
        ]
    );
    assert!(
        outcome
            .output
            .contains("[Warning] One or more build-args [NOT_DECLARED] were not consumed\n")
    );
    // Build args stay out of the image's ENV.
    assert_eq!(
        config["config"]["Env"],
        json!(["PATH=/usr/sbin:/usr/bin:/sbin:/bin"])
    );

    // Another value misses the cache for the RUN.
    opts.build_args.insert("V".to_owned(), Some("3".to_owned()));
    run_build(&mut host, &mut cache, context(dockerfile).finish(), &opts).image();
    assert_eq!(host.recorded().runs.len(), 2);
}

#[test]
fn a_bare_arg_in_a_stage_takes_the_meta_value() {
    let mut host = host();
    let mut cache = MemoryCache::default();
    let dockerfile = "ARG TAG=box\nFROM busy$TAG\nARG TAG\nLABEL tag=$TAG\n";
    let opts = options(&host);
    let outcome = run_build(&mut host, &mut cache, context(dockerfile).finish(), &opts);
    assert_eq!(host.recorded().pulls, ["busybox"]);
    assert_eq!(outcome.config()["config"]["Labels"], json!({"tag": "box"}));
}

#[test]
fn metadata_instructions() {
    let mut host = host();
    let mut cache = MemoryCache::default();
    let dockerfile = r#"FROM busybox
MAINTAINER Jane <jane@example.com>
SHELL ["/bin/ash", "-eo", "pipefail", "-c"]
ENTRYPOINT top -b
STOPSIGNAL SIGQUIT
VOLUME /data
HEALTHCHECK --interval=30s --retries=2 CMD wget -q localhost || exit 1
ONBUILD COPY . /src
"#;
    let opts = options(&host);
    let outcome = run_build(&mut host, &mut cache, context(dockerfile).finish(), &opts);
    let config = outcome.config();
    let c = &config["config"];
    assert_eq!(config["author"], "Jane <jane@example.com>");
    assert_eq!(c["Shell"], json!(["/bin/ash", "-eo", "pipefail", "-c"]));
    assert_eq!(
        c["Entrypoint"],
        json!(["/bin/ash", "-eo", "pipefail", "-c", "top -b"])
    );
    assert_eq!(
        c["Cmd"],
        Value::Null,
        "ENTRYPOINT resets the base image's CMD"
    );
    assert_eq!(c["StopSignal"], "SIGQUIT");
    assert_eq!(c["Volumes"], json!({"/data": {}}));
    assert_eq!(
        c["Healthcheck"],
        json!({"Test": ["CMD-SHELL", "wget -q localhost || exit 1"], "Interval": 30_000_000_000i64, "Retries": 2})
    );
    assert_eq!(c["OnBuild"], json!(["COPY . /src"]));
    let created_by: Vec<&str> = config["history"]
        .as_array()
        .unwrap()
        .iter()
        .skip(2)
        .map(|h| h["created_by"].as_str().unwrap())
        .collect();
    assert_eq!(
        created_by,
        [
            "/bin/sh -c #(nop)  MAINTAINER Jane <jane@example.com>",
            "/bin/ash -eo pipefail -c #(nop)  SHELL [/bin/ash -eo pipefail -c]",
            "/bin/ash -eo pipefail -c #(nop)  ENTRYPOINT [\"/bin/ash\" \"-eo\" \"pipefail\" \"-c\" \"top -b\"]",
            "/bin/ash -eo pipefail -c #(nop)  STOPSIGNAL SIGQUIT",
            "/bin/ash -eo pipefail -c #(nop)  VOLUME [/data]",
            "/bin/ash -eo pipefail -c #(nop)  HEALTHCHECK &{[\"CMD-SHELL\" \"wget -q localhost || exit 1\"] \"30s\" \"0s\" \"0s\" \"0s\" '\\x02'}",
            "/bin/ash -eo pipefail -c #(nop)  ONBUILD COPY . /src",
        ]
    );
    assert_eq!(config["history"][3]["author"], "Jane <jane@example.com>");
    assert!(config["history"][3]["empty_layer"].as_bool().unwrap());
}

#[test]
fn onbuild_triggers_run_when_the_image_is_a_base() {
    let mut host = host();
    let mut config = busybox_config();
    config["config"]["OnBuild"] = json!(["RUN echo triggered"]);
    host.add_image("onbuild-base", config, &[busybox_rootfs()]);
    let mut cache = MemoryCache::default();
    let opts = options(&host);
    let outcome = run_build(
        &mut host,
        &mut cache,
        context("FROM onbuild-base\nCMD [\"x\"]\n").finish(),
        &opts,
    );
    assert!(outcome.output.contains("# Executing 1 build trigger\n"));
    assert_eq!(
        host.recorded().runs[0].cmd,
        ["/bin/sh", "-c", "echo triggered"]
    );
    let config = outcome.config();
    assert_eq!(config["config"]["OnBuild"], Value::Null);
    assert_eq!(
        config["history"][2]["created_by"],
        "/bin/sh -c echo triggered"
    );
}

#[test]
fn target_label_options_and_scratch() {
    let mut host = host();
    let mut cache = MemoryCache::default();
    let dockerfile = "FROM scratch AS base\nCOPY a.txt /\nFROM base AS next\nRUN exit 1\n";
    let ctx = || context(dockerfile).file("a.txt", 0o644, b"A").finish();
    let mut opts = options(&host);
    opts.target = Some("BASE".to_owned());
    opts.labels = BTreeMap::from([
        ("b".to_owned(), "2".to_owned()),
        ("a".to_owned(), "$1".to_owned()),
    ]);
    let outcome = run_build(&mut host, &mut cache, ctx(), &opts);
    let lines = outcome.lines();
    assert_eq!(lines[0], "Step 1/4 : FROM scratch AS base");
    assert_eq!(lines[1], " ---> ");
    assert_eq!(lines[4], "Step 3/4 : LABEL a=$1");
    assert!(
        host.recorded().runs.is_empty(),
        "the stage after the target is not built"
    );
    let config = outcome.config();
    assert_eq!(config["config"]["Labels"], json!({"a": "$1", "b": "2"}));
    assert_eq!(
        config["config"]["Env"],
        json!(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
    );
    assert_eq!(config["architecture"], crate::config::host_architecture());
    assert_eq!(
        entries(&host.layer_tar(&outcome.image().layers[0])),
        [e("a.txt", 'f', 0o644, 0, 0, "A")]
    );

    opts.target = Some("nope".to_owned());
    let missing = run_build(&mut host, &mut cache, ctx(), &opts);
    assert_eq!(
        missing.error(),
        "failed to reach build target nope in Dockerfile"
    );

    let opts = options(&host);
    let only_scratch = run_build(
        &mut host,
        &mut cache,
        context("FROM scratch\n").finish(),
        &opts,
    );
    assert_eq!(
        only_scratch.error(),
        "No image was generated. Is your Dockerfile empty?"
    );
}

#[test]
fn an_empty_run_diff_makes_no_layer() {
    let mut host = host();
    host.run_results
        .insert("/bin/sh -c true".to_owned(), (0, vec![0; 1024]));
    let mut cache = MemoryCache::default();
    let opts = options(&host);
    let outcome = run_build(
        &mut host,
        &mut cache,
        context("FROM busybox\nRUN true\n").finish(),
        &opts,
    );
    let config = outcome.config();
    assert_eq!(outcome.image().layers.len(), 1);
    assert_eq!(config["history"][2]["empty_layer"], true);
    assert_eq!(config["history"][2]["created_by"], "/bin/sh -c true");
}

#[test]
fn add_unpacks_local_archives_and_fetches_urls() {
    use std::io::Write;
    let mut host = host();
    host.downloads.insert(
        "https://example.com/files/tool.sh".to_owned(),
        b"#!/bin/sh\n".to_vec(),
    );
    let inner = TarBuilder::new().file("lib/x.so", 0o755, b"so").finish();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&inner).unwrap();
    let ctx = context(
        "FROM busybox\nADD vendor.tgz /opt/\nADD https://example.com/files/tool.sh /usr/\n",
    )
    .file("vendor.tgz", 0o644, &gz.finish().unwrap())
    .finish();
    let mut cache = MemoryCache::default();
    let opts = options(&host);
    let outcome = run_build(&mut host, &mut cache, ctx, &opts);
    let image = outcome.image();
    assert_eq!(
        entries(&host.layer_tar(&image.layers[1])),
        [
            e("opt", 'd', 0o755, 0, 0, ""),
            e("opt/lib", 'd', 0o755, 0, 0, ""),
            e("opt/lib/x.so", 'f', 0o755, 0, 0, "so"),
        ]
    );
    assert_eq!(
        entries(&host.layer_tar(&image.layers[2])),
        [
            e("usr", 'd', 0o755, 0, 0, ""),
            e("usr/tool.sh", 'f', 0o600, 0, 0, "#!/bin/sh\n"),
        ]
    );
}

#[test]
fn failures_stop_the_build_with_dockers_messages() {
    let mut host = host();
    host.run_results
        .insert("/bin/sh -c exit 3".to_owned(), (3, Vec::new()));
    let mut cache = MemoryCache::default();
    let opts = options(&host);
    let mut fails = |dockerfile: &str| {
        let outcome = run_build(&mut host, &mut cache, context(dockerfile).finish(), &opts);
        (outcome.error(), outcome.output)
    };
    assert_eq!(
        fails("FROM busybox\nRUN exit 3\n").0,
        "The command '/bin/sh -c exit 3' returned a non-zero code: 3"
    );
    assert_eq!(
        fails("FROM busybox\nCOPY nothing /\n").0,
        "COPY failed: file not found in build context or excluded by .dockerignore: stat nothing: file does not exist"
    );
    assert_eq!(
        fails("FROM busybox\nCOPY *.none /\n").0,
        "COPY failed: no source files were specified"
    );
    assert_eq!(
        fails("FROM busybox\nCOPY ../up /\n").0,
        "COPY failed: forbidden path outside the build context: ../up ()"
    );
    assert_eq!(
        fails("FROM busybox\nCOPY Dockerfile Dockerfile /dst\n").0,
        "When using COPY with more than one source file, the destination must be a directory and end with a /"
    );
    assert_eq!(
        fails("FROM busybox\nCOPY --chown=ghost Dockerfile /\n").0,
        "COPY failed: can't find uid for user ghost: no such user: ghost"
    );
    assert_eq!(
        fails("FROM busybox\nSTOPSIGNAL NOPE\n").0,
        "Invalid signal: NOPE"
    );
    assert_eq!(
        fails("FROM busybox\nVOLUME $UNSET\n").0,
        "VOLUME specified can not be an empty string"
    );
    assert_eq!(
        fails("FROM busybox\nEXPOSE 99999\n").0,
        "invalid containerPort: 99999"
    );
    assert_eq!(
        fails("FROM busybox\nENV A=${B\n").0,
        "failed to process \"${B\": syntax error: missing '}'"
    );
    assert_eq!(
        fails("FROM ghost\n").0,
        "pull access denied for ghost, repository does not exist"
    );
    let (error, output) = fails("FROM busybox\nRUN true\nFOOO bar\n");
    assert_eq!(
        error,
        "dockerfile parse error on line 3: unknown instruction: FOOO"
    );
    assert!(output.is_empty(), "nothing runs when the Dockerfile is bad");
    assert_eq!(
        fails("FROM busybox\nCOPY --from=0 / /\n").0,
        "invalid from flag value 0: stage 0 is not built before this one"
    );
    let missing = run_build(&mut host, &mut cache, TarBuilder::new().finish(), &opts);
    assert_eq!(
        missing.error(),
        "Cannot locate specified Dockerfile: Dockerfile"
    );
    let bad_context = run_build(
        &mut host,
        &mut cache,
        TarBuilder::new()
            .file("../Dockerfile", 0o644, b"FROM x")
            .finish(),
        &opts,
    );
    assert!(matches!(bad_context.result, Err(BuildError::Context(_))));
    assert!(host.recorded().stored.is_empty());
}

#[test]
fn quiet_builds_print_only_the_id_unless_they_fail() {
    let mut host = host();
    let mut cache = MemoryCache::default();
    let mut opts = options(&host);
    opts.quiet = true;
    let ok = run_build(
        &mut host,
        &mut cache,
        context("FROM busybox\nCMD [\"x\"]\n").finish(),
        &opts,
    );
    assert_eq!(ok.output, format!("{}\n", ok.image().id));
    host.run_results
        .insert("/bin/sh -c false".to_owned(), (1, Vec::new()));
    let failed = run_build(
        &mut host,
        &mut cache,
        context("FROM busybox\nRUN false\n").finish(),
        &opts,
    );
    assert!(failed.output.starts_with("Step 1/2 : FROM busybox\n"));
    assert!(failed.output.contains("ran /bin/sh -c false\n"));
}

#[test]
fn the_escape_directive_applies_to_expansion() {
    let mut host = host();
    let mut cache = MemoryCache::default();
    let dockerfile = "# escape=`\nFROM busybox\nENV A=x`$y B=c:\\dir\n";
    let opts = options(&host);
    let outcome = run_build(&mut host, &mut cache, context(dockerfile).finish(), &opts);
    assert_eq!(
        outcome.config()["config"]["Env"],
        json!(["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "A=x$y", "B=c:\\dir"])
    );
}

#[test]
fn a_lone_dockerfile_body_and_a_lowercase_name_work() {
    let mut host = host();
    let mut cache = MemoryCache::default();
    let opts = options(&host);
    let lone = run_build(
        &mut host,
        &mut cache,
        b"FROM busybox\nENV A=1\n".to_vec(),
        &opts,
    );
    assert_eq!(lone.config()["config"]["Env"][1], "A=1");
    let lower = TarBuilder::new()
        .file("dockerfile", 0o644, b"FROM busybox\nUSER app\n")
        .finish();
    assert_eq!(
        run_build(&mut host, &mut cache, lower, &opts).config()["config"]["User"],
        "app"
    );
}

#[test]
fn copy_heredocs_become_files_expanded_unless_quoted() {
    let mut host = host();
    let mut cache = MemoryCache::default();
    let dockerfile = "FROM busybox\nENV WHO=world\nCOPY <<a.txt <<-\"b.txt\" /dir/\nhello $WHO\na.txt\n\tliteral $WHO\n\tb.txt\nCOPY <<EOF /one\n'quoted' \\$WHO\nEOF\n";
    let opts = options(&host);
    let outcome = run_build(&mut host, &mut cache, context(dockerfile).finish(), &opts);
    let image = outcome.image();
    let layer = entries(&host.layer_tar(&image.layers[1]));
    assert_eq!(
        layer[1..],
        [
            e("dir/a.txt", 'f', 0o644, 0, 0, "hello world\n"),
            e("dir/b.txt", 'f', 0o644, 0, 0, "literal $WHO\n"),
        ]
    );
    let layer = entries(&host.layer_tar(&image.layers[2]));
    assert_eq!(layer, [e("one", 'f', 0o644, 0, 0, "'quoted' $WHO\n")]);
}

#[test]
fn run_heredocs_reach_the_shell() {
    let mut host = host();
    let mut cache = MemoryCache::default();
    let dockerfile =
        "FROM busybox\nRUN <<EOF\necho a\necho b\nEOF\nRUN cat <<X >/f && cat <<Y\n1\nX\n2\nY\n";
    let opts = options(&host);
    run_build(&mut host, &mut cache, context(dockerfile).finish(), &opts).image();
    assert_eq!(
        host.recorded().runs[0].cmd,
        ["/bin/sh", "-c", "echo a\necho b\n"]
    );
    assert_eq!(
        host.recorded().runs[1].cmd[2],
        "cat <<X >/f && cat <<Y\n1\nX\n2\nY"
    );
    assert!(host.recorded().runs[0].mounts.is_empty());
}

#[test]
fn copy_parents_keeps_directories_below_the_pivot() {
    let mut host = host();
    let mut cache = MemoryCache::default();
    let ctx = context(
        "FROM busybox\nCOPY --parents x/a.txt y/* /p/\nCOPY --parents ./src/./lib/m.rs /q/\n",
    )
    .file("x/a.txt", 0o644, b"xa")
    .file("y/b.txt", 0o644, b"yb")
    .file("src/lib/m.rs", 0o644, b"m")
    .finish();
    let opts = options(&host);
    let outcome = run_build(&mut host, &mut cache, ctx, &opts);
    let image = outcome.image();
    let paths = |i: usize| -> Vec<String> {
        entries(&host.layer_tar(&image.layers[i]))
            .into_iter()
            .filter(|e| e.kind == 'f')
            .map(|e| e.path)
            .collect()
    };
    assert_eq!(paths(1), ["p/x/a.txt", "p/y/b.txt"]);
    assert_eq!(paths(2), ["q/lib/m.rs"]);
}

#[test]
fn run_mounts_are_prepared_and_join_the_cache_key_but_secret_values_do_not() {
    let mut host = host();
    let mut cache = MemoryCache::default();
    let dockerfile = "FROM busybox AS base\nFROM busybox\nRUN --mount=type=secret,id=tok,mode=0440 --mount=type=secret,id=tok,env=TOK --mount=type=cache,target=/c --mount=type=tmpfs,target=/t,size=1m --mount=from=base,source=/etc,target=/e --mount=source=ctx,target=/src use\n";
    let ctx = || {
        context(dockerfile)
            .file("ctx/in.txt", 0o644, b"in")
            .finish()
    };
    let mut opts = options(&host);
    opts.secrets.insert("tok", b"s3cret".to_vec());
    let first = run_build(&mut host, &mut cache, ctx(), &opts);
    let id = first.image().id.clone();
    let step = &host.recorded().runs[0].clone();
    assert!(step.env.contains(&"TOK=s3cret".to_owned()));
    assert!(step.remove_on_success && step.remove_on_failure);
    let targets: Vec<&str> = step.mounts.iter().map(|m| m.target()).collect();
    assert_eq!(targets, ["/run/secrets/tok", "/c", "/t", "/e", "/src"]);
    assert_eq!(
        host.recorded().mounted[0],
        ("/run/secrets/tok".to_owned(), b"s3cret".to_vec())
    );
    assert_eq!(host.recorded().mounted[2].1, b"group\npasswd");
    assert_eq!(host.recorded().mounted[3].1, b"in.txt");
    let history = first.config()["history"].to_string();
    assert!(!history.contains("s3cret") && !first.config().to_string().contains("s3cret"));

    // Another secret value: the same step, from the cache.
    opts.secrets.insert("tok", b"other".to_vec());
    let again = run_build(&mut host, &mut cache, ctx(), &opts);
    assert_eq!(again.image().id, id);
    assert_eq!(host.recorded().runs.len(), 1);

    // Another mount option, or other content in a bound source: the step runs again.
    let changed = dockerfile.replace("target=/c ", "target=/c,id=other ");
    let changed = context(&changed).file("ctx/in.txt", 0o644, b"in").finish();
    run_build(&mut host, &mut cache, changed, &opts).image();
    assert_eq!(host.recorded().runs.len(), 2);
    let other_ctx = context(dockerfile)
        .file("ctx/in.txt", 0o644, b"changed")
        .finish();
    run_build(&mut host, &mut cache, other_ctx, &opts).image();
    assert_eq!(host.recorded().runs.len(), 3);
}

#[test]
fn cache_mount_dirs_are_kept_between_runs() {
    let mut host = host();
    let mut cache = MemoryCache::default();
    let opts = options(&host);
    let first = "FROM busybox\nRUN --mount=type=cache,target=/c,id=keep one\n";
    run_build(&mut host, &mut cache, context(first).finish(), &opts).image();
    let first = host.recorded().runs[0].clone();
    let StepMount::Bind { source, .. } = &first.mounts[0] else {
        panic!("{:?}", first.mounts)
    };
    std::fs::write(source.join("kept"), "x").unwrap();
    let second = "FROM busybox\nRUN --mount=type=cache,target=/c,id=keep two\n";
    run_build(&mut host, &mut cache, context(second).finish(), &opts).image();
    assert_eq!(
        host.recorded().mounted[1],
        ("/c".to_owned(), b"kept".to_vec())
    );
}

#[test]
fn bad_mounts_fail_naming_their_line_and_store_nothing() {
    let cases = [
        (
            "FROM busybox\nRUN --mount=type=secret,id=tok,required true\n",
            "dockerfile parse error on line 2: secret tok is required but was not given (berth build --secret id=tok,src=...)",
        ),
        (
            "FROM busybox\n\nRUN --mount=source=../x,target=/x true\n",
            "dockerfile parse error on line 3: mount source ../x leads outside the build context",
        ),
        (
            "FROM busybox\nARG T=weird\nRUN --mount=type=$T,target=/x true\n",
            "dockerfile parse error on line 3: unsupported mount type \"weird\"",
        ),
        (
            "FROM busybox\nRUN --mount=type=cache true\n",
            "dockerfile parse error on line 2: cache mount requires a target",
        ),
        (
            "FROM busybox\nRUN <<EOF\necho never ends\n",
            "dockerfile parse error on line 2: unterminated heredoc",
        ),
    ];
    for (dockerfile, message) in cases {
        let mut host = host();
        let mut cache = MemoryCache::default();
        let opts = options(&host);
        let outcome = run_build(&mut host, &mut cache, context(dockerfile).finish(), &opts);
        assert_eq!(outcome.error(), message, "{dockerfile}");
        assert!(
            host.recorded().runs.is_empty()
                && host.recorded().stored.is_empty()
                && host.recorded().tags.is_empty()
        );
    }
}

/// Two stages that need nothing from each other, one that is not needed, and a final stage
/// copying from both.
const DIAMOND: &str = "FROM busybox AS a\nRUN make a\nLABEL a=1\n\
                       FROM busybox AS b\nRUN make b\n\
                       FROM busybox AS unused\nRUN make unused\n\
                       FROM busybox\nCOPY --from=a /a.txt /\nCOPY --from=b /b.txt /\n";

fn diamond_host() -> FakeHost {
    let mut host = host();
    for name in ["a", "b"] {
        let file = format!("{name}.txt");
        let diff = TarBuilder::new()
            .file(&file, 0o644, name.as_bytes())
            .finish();
        host.run_results
            .insert(format!("/bin/sh -c make {name}"), (0, diff));
    }
    host
}

#[test]
fn independent_stages_run_at_once_and_only_needed_stages_are_built() {
    let mut host = diamond_host();
    host.rendezvous = 2;
    let mut cache = MemoryCache::default();
    let opts = options(&host);
    let first = run_build(&mut host, &mut cache, context(DIAMOND).finish(), &opts);
    let image = first.image().clone();
    {
        let recorded = host.recorded();
        assert_eq!(recorded.most_running, 2, "the two RUNs overlapped");
        let mut commands: Vec<String> = recorded.runs.iter().map(|r| r.cmd.join(" ")).collect();
        commands.sort();
        assert_eq!(commands, ["/bin/sh -c make a", "/bin/sh -c make b"]);
    }
    assert_eq!(
        entries(&host.layer_tar(&image.layers[2])),
        [e("b.txt", 'f', 0o644, 0, 0, "b")]
    );

    // Each step's lines stay together, steps are numbered over the needed stages only, and
    // each stage's steps come in order.
    let lines: Vec<String> = first.lines().iter().map(|l| masked(l)).collect();
    let steps: Vec<&String> = lines.iter().filter(|l| l.starts_with("Step ")).collect();
    assert_eq!(steps.len(), 8, "{lines:#?}");
    assert!(steps.iter().all(|l| l.contains("/8 : ")), "{lines:#?}");
    let at = |step: &str| lines.iter().position(|l| l.starts_with(step)).unwrap();
    assert!(at("Step 1/8") < at("Step 2/8") && at("Step 2/8") < at("Step 3/8"));
    assert!(at("Step 4/8") < at("Step 5/8"));
    assert!(at("Step 6/8") > at("Step 3/8") && at("Step 6/8") > at("Step 5/8"));
    for run in ["Step 2/8 : RUN make a", "Step 5/8 : RUN make b"] {
        let i = at(run);
        let command = &run[run.len() - 6..];
        assert_eq!(
            lines[i + 1..i + 5],
            [
                " ---> Running in <id>".to_owned(),
                format!("ran /bin/sh -c {command}"),
                "Removing intermediate container <id>".to_owned(),
                " ---> <id>".to_owned(),
            ],
            "{lines:#?}"
        );
    }

    // The same input again: the same image, every step from the cache.
    host.rendezvous = 0;
    let again = run_build(&mut host, &mut cache, context(DIAMOND).finish(), &opts);
    assert_eq!(again.image().id, image.id);
    assert_eq!(host.recorded().runs.len(), 2);
    assert_eq!(again.output.matches(" ---> Using cache").count(), 5);
}

#[test]
fn a_failing_stage_fails_the_build_and_the_others_stop() {
    let mut host = diamond_host();
    host.run_results
        .insert("/bin/sh -c make b".to_owned(), (2, Vec::new()));
    let mut cache = MemoryCache::default();
    let opts = options(&host);
    let outcome = run_build(&mut host, &mut cache, context(DIAMOND).finish(), &opts);
    assert_eq!(
        outcome.error(),
        "The command '/bin/sh -c make b' returned a non-zero code: 2"
    );
    let recorded = host.recorded();
    assert!(recorded.stored.is_empty() && recorded.tags.is_empty());
    assert!(
        !outcome.output.contains("COPY --from"),
        "the final stage never started:\n{}",
        outcome.output
    );
}

#[test]
fn the_same_step_in_two_stages_at_once_is_made_once() {
    let mut host = host();
    let mut cache = MemoryCache::default();
    let dockerfile = "FROM busybox AS a\nRUN make\nFROM busybox AS b\nRUN make\n\
                      FROM busybox\nCOPY --from=a /etc/group /a\nCOPY --from=b /etc/group /b\n";
    let opts = options(&host);
    let outcome = run_build(&mut host, &mut cache, context(dockerfile).finish(), &opts);
    outcome.image();
    assert_eq!(host.recorded().runs.len(), 1, "{}", outcome.output);
    assert_eq!(outcome.output.matches(" ---> Using cache").count(), 1);
}
