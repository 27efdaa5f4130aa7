//! Container logs as Docker keeps them: json-file with gzipped rotation, the `local` driver,
//! `logs --details`, the daemon's default driver and options, and refused options, through
//! the real docker CLI.

use berth_testkit::{Daemon, Requirement::*, ok, require, stderr};
use std::path::Path;

fn daemon_with(config: serde_json::Value) -> Option<Daemon> {
    require(&[Root, Busybox, DockerCli]).then(|| {
        let d = Daemon::start_with_config(config);
        d.load_busybox();
        d
    })
}

/// A shell command printing `n` numbered lines of about 60 bytes, as fast as it can.
fn writer(n: usize) -> String {
    format!("seq 1 {n} | sed 's/^/line-/;s/$/-padding-padding-padding-padding-padding-pad/'")
}

/// Checks that `logs` holds exactly lines 1..=n of `writer`, in order.
fn assert_every_line(logs: &str, n: usize) {
    let lines: Vec<&str> = logs.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let expected = format!("line-{}-", i + 1);
        assert!(
            line.starts_with(&expected),
            "line {i} of {}: {line:?}",
            lines.len()
        );
    }
    assert_eq!(lines.len(), n, "every line, once");
}

fn files_of(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Waits until no plain rotated file is left (the compressions have finished).
fn wait_for_compression(dir: &Path, log_name: &str) -> Vec<String> {
    for _ in 0..200 {
        let names = files_of(dir);
        let plain_rotated = names
            .iter()
            .any(|n| n.starts_with(&format!("{log_name}.")) && !n.ends_with(".gz"));
        if !plain_rotated {
            return names;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("rotated files still uncompressed: {:?}", files_of(dir));
}

#[test]
fn compressed_json_file_rotation_keeps_every_line_in_order() {
    let Some(d) = daemon_with(serde_json::json!({})) else {
        return;
    };
    const LINES: usize = 60_000;
    let run = d.docker(&[
        "run",
        "--name",
        "fast",
        "--log-opt",
        "max-size=1m",
        "--log-opt",
        "max-file=12",
        "--log-opt",
        "compress=true",
        "busybox",
        "sh",
        "-c",
        &writer(LINES),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let log = ok(&d.docker(&["inspect", "-f", "{{.LogPath}}", "fast"]))
        .trim()
        .to_string();
    let log = Path::new(&log);
    let log_name = log.file_name().unwrap().to_string_lossy().into_owned();
    let names = wait_for_compression(log.parent().unwrap(), &log_name);
    let gz = |n: u32| format!("{log_name}.{n}.gz");
    assert!(
        names.contains(&gz(1)) && names.contains(&gz(2)),
        "rotated files are gzipped as Docker names them: {names:?}"
    );
    assert!(std::fs::metadata(log).unwrap().len() <= 1_000_000);
    assert_every_line(&ok(&d.docker(&["logs", "fast"])), LINES);
    let tail = ok(&d.docker(&["logs", "--tail", "2", "fast"]));
    assert!(tail.starts_with(&format!("line-{}-", LINES - 1)), "{tail}");
}

#[test]
fn local_driver_rotates_compresses_and_follows_across_rotation() {
    let Some(d) = daemon_with(serde_json::json!({})) else {
        return;
    };
    const LINES: usize = 40_000;
    // Written after a pause, so that `logs -f` is following before the rotations.
    let script = format!("sleep 1; {}", writer(LINES));
    let id = ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "local",
        "--log-driver",
        "local",
        "--log-opt",
        "max-size=500k",
        "--log-opt",
        "max-file=10",
        "busybox",
        "sh",
        "-c",
        &script,
    ]))
    .trim()
    .to_string();
    let followed = ok(&d.docker(&["logs", "-f", "local"]));
    assert_every_line(&followed, LINES);
    assert_eq!(
        ok(&d.docker(&[
            "inspect",
            "-f",
            "{{.LogPath}}|{{json .HostConfig.LogConfig}}",
            "local"
        ]))
        .trim(),
        r#"|{"Type":"local","Config":{"max-file":"10","max-size":"500k"}}"#,
        "Docker hides the local driver's path"
    );
    let dir = d
        .data_root()
        .join("containers")
        .join(&id)
        .join("local-logs");
    let names = wait_for_compression(&dir, "container.log");
    assert!(
        names.contains(&"container.log.1.gz".to_string()),
        "compressed by default: {names:?}"
    );
    assert_every_line(&ok(&d.docker(&["logs", "local"])), LINES);
    let tail = ok(&d.docker(&["logs", "-n", "1", "-t", "local"]));
    let (time, line) = tail.split_once(' ').unwrap();
    assert_eq!(time.len(), "2026-01-01T00:00:00.000000000Z".len(), "{time}");
    assert!(line.starts_with(&format!("line-{LINES}-")), "{tail}");
}

#[test]
fn details_prefix_each_line_with_the_log_attributes() {
    let Some(d) = daemon_with(serde_json::json!({})) else {
        return;
    };
    for (name, driver) in [("attrs-json", "json-file"), ("attrs-local", "local")] {
        ok(&d.docker(&[
            "run",
            "--name",
            name,
            "--log-driver",
            driver,
            "--label",
            "team=core",
            "--label",
            "com.example.tier=web",
            "--env",
            "STAGE=pre prod",
            "--log-opt",
            "labels=team",
            "--log-opt",
            "env=STAGE",
            "--log-opt",
            "labels-regex=^com\\.example\\.",
            "busybox",
            "sh",
            "-c",
            "echo hi; echo oops >&2",
        ]));
        let out = d.docker(&["logs", "--details", name]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "STAGE=pre+prod,com.example.tier=web,team=core hi\n",
            "{driver}"
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "STAGE=pre+prod,com.example.tier=web,team=core oops\n"
        );
        let berth = d.berth(&["logs", "--details", name]);
        assert_eq!(
            berth.stdout, out.stdout,
            "berth's CLI prints the same bytes"
        );
    }
    ok(&d.docker(&["run", "--name", "plain", "busybox", "echo", "hi"]));
    assert_eq!(ok(&d.docker(&["logs", "--details", "plain"])), " hi\n");
    assert_eq!(ok(&d.docker(&["logs", "plain"])), "hi\n");
}

#[test]
fn daemon_log_defaults_apply_merge_and_show() {
    let Some(d) = daemon_with(serde_json::json!({
        "log-driver": "local",
        "log-opts": {"max-size": "1m", "max-file": "4"}
    })) else {
        return;
    };
    assert_eq!(
        ok(&d.docker(&["info", "-f", "{{.LoggingDriver}}"])).trim(),
        "local"
    );
    let config = |name: &str| {
        ok(&d.docker(&["inspect", "-f", "{{json .HostConfig.LogConfig}}", name]))
            .trim()
            .to_string()
    };
    let id = ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "dflt",
        "busybox",
        "echo",
        "from-local",
    ]))
    .trim()
    .to_string();
    ok(&d.docker(&["wait", "dflt"]));
    assert_eq!(
        config("dflt"),
        r#"{"Type":"local","Config":{"max-file":"4","max-size":"1m"}}"#
    );
    assert_eq!(ok(&d.docker(&["logs", "dflt"])), "from-local\n");
    assert!(
        d.data_root()
            .join("containers")
            .join(&id)
            .join("local-logs/container.log")
            .exists(),
        "the default driver wrote the log"
    );
    ok(&d.docker(&[
        "create",
        "--name",
        "mine",
        "--log-opt",
        "max-file=9",
        "busybox",
        "true",
    ]));
    assert_eq!(
        config("mine"),
        r#"{"Type":"local","Config":{"max-file":"9","max-size":"1m"}}"#,
        "the container's option replaces the default's, the others stay"
    );
    ok(&d.docker(&[
        "create",
        "--name",
        "json",
        "--log-driver",
        "json-file",
        "busybox",
        "true",
    ]));
    assert_eq!(
        config("json"),
        r#"{"Type":"json-file","Config":{}}"#,
        "another driver takes none of the defaults"
    );
}

#[test]
fn bad_log_options_are_refused_and_nothing_is_created() {
    let Some(d) = daemon_with(serde_json::json!({})) else {
        return;
    };
    let refused: [(&[&str], &str); 6] = [
        (
            &["--log-opt", "foo=bar"],
            "unknown log opt 'foo' for json-file log driver",
        ),
        (
            &["--log-driver", "local", "--log-opt", "foo=bar"],
            "unknown log opt 'foo' for log driver local",
        ),
        (
            &["--log-driver", "nosuch"],
            "logger: no log driver named 'nosuch' is registered",
        ),
        (&["--log-opt", "max-size=-1"], "invalid size: '-1'"),
        (
            &["--log-opt", "max-file=0"],
            "max-file cannot be less than 1",
        ),
        (
            &["--log-driver", "local", "--log-opt", "max-file=1"],
            "compression cannot be enabled when max file count is 1",
        ),
    ];
    for (options, message) in refused {
        let mut args = vec!["create", "--name", "refused"];
        args.extend_from_slice(options);
        args.extend_from_slice(&["busybox", "true"]);
        let out = d.docker(&args);
        assert!(!out.status.success(), "{options:?} was accepted");
        assert!(
            stderr(&out).contains(message),
            "{options:?}: {}",
            stderr(&out)
        );
        assert_eq!(ok(&d.docker(&["ps", "-aq"])), "", "nothing was created");
    }
    let out = d.berth(&["create", "--log-opt", "foo=bar", "busybox", "true"]);
    assert!(
        !out.status.success()
            && stderr(&out).contains("unknown log opt 'foo' for json-file log driver"),
        "berth's CLI sends --log-opt: {}",
        stderr(&out)
    );
    assert_eq!(ok(&d.docker(&["ps", "-aq"])), "", "nothing was created");
    assert_eq!(
        files_of(&d.data_root().join("containers")),
        Vec::<String>::new(),
        "no container directory is left"
    );
}
