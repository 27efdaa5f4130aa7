//! Against a real daemon at `BERTH_COMPOSE_TEST_HOST` (a `unix://` socket: the reference
//! Docker today, berthd later). Published ports are reached on 127.0.0.1, so the tests run
//! in the daemon's network namespace; for the reference Docker:
//!
//! ```text
//! /work/shared/tools/reference-dockerd exec env BERTH_COMPOSE_TEST_HOST=unix:///tmp/refdocker.sock \
//!     cargo test -p berth-compose --test live
//! ```
//!
//! Without the variable the tests say why they skip; under `CI=true` they fail instead.
//! Each test uses a project of its own and removes everything it created.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_compose::orchestrate::{
    DownOptions, Event, ExecOptions, LogEvent, LogsOptions, RunOptions, Status, UpOptions,
};
use berth_compose::plan::{config_hash, labels};
use berth_compose::{Compose, LoadOptions, Project, load};
use bollard::Docker;
use bollard::exec::StartExecResults;
use bollard::query_parameters::{
    CreateImageOptions, InspectContainerOptions, ListContainersOptions, ListNetworksOptions,
    ListVolumesOptions,
};
use futures_util::StreamExt;

const IMAGE: &str = "busybox:latest";

/// The daemon to test against, or `None` (after saying why) when there is none.
async fn daemon() -> Option<Docker> {
    let Some(host) = std::env::var("BERTH_COMPOSE_TEST_HOST")
        .ok()
        .filter(|h| !h.is_empty())
    else {
        let why =
            "BERTH_COMPOSE_TEST_HOST is not set (a unix:// socket of a Docker-compatible daemon)";
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!("required under CI: {why}");
        }
        eprintln!("skipped: {why}");
        return None;
    };
    let path = host.strip_prefix("unix://").unwrap_or(&host);
    let docker = Docker::connect_with_unix(path, 120, bollard::API_DEFAULT_VERSION)
        .expect("connect to BERTH_COMPOSE_TEST_HOST")
        .negotiate_version()
        .await
        .expect("the daemon answers /version");
    ensure_busybox(&docker).await;
    Some(docker)
}

/// `busybox:latest`, imported from Debian's busybox-static when the daemon lacks it. One
/// import at a time: a second would move the tag to a new image, and the first test's
/// containers would then look out of date to `up`.
async fn ensure_busybox(docker: &Docker) {
    static IMPORT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = IMPORT.lock().await;
    if docker.inspect_image(IMAGE).await.is_ok() {
        return;
    }
    let rootfs = berth_testkit::busybox_rootfs_tar();
    let mut s = docker.create_image(
        Some(CreateImageOptions {
            from_src: Some("-".into()),
            repo: Some("busybox".into()),
            tag: Some("latest".into()),
            changes: vec!["CMD [\"sh\"]".into()],
            ..CreateImageOptions::default()
        }),
        Some(bollard::body_full(rootfs.into())),
        None,
    );
    while let Some(r) = s.next().await {
        r.expect("import busybox");
    }
}

fn unique(prefix: &str) -> String {
    let mut r = [0u8; 4];
    getrandom::fill(&mut r).unwrap();
    format!("{prefix}{}", hex::encode(r))
}

fn write(dir: &Path, yaml: &str) {
    std::fs::write(dir.join("compose.yaml"), yaml).unwrap();
}

fn project(dir: &Path, name: &str, vars: &[(&str, &str)]) -> Project {
    let mut env: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.insert("HOME".into(), "/root".into());
    load(&LoadOptions {
        project_name: Some(name.to_string()),
        working_dir: Some(dir.to_path_buf()),
        os_env: Some(env),
        ..LoadOptions::default()
    })
    .unwrap()
}

/// A client that records its progress events.
fn client(docker: &Docker) -> (Compose, Arc<Mutex<Vec<Event>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let c =
        Compose::new(docker.clone()).with_progress(move |e| sink.lock().unwrap().push(e.clone()));
    (c, events)
}

fn took(events: &Arc<Mutex<Vec<Event>>>) -> Vec<String> {
    std::mem::take(&mut *events.lock().unwrap())
        .into_iter()
        .filter(|e| !matches!(e.status, Status::Output(_)))
        .map(|e| format!("{} {} {}", e.resource, e.name, e.status))
        .collect()
}

async fn container_id(docker: &Docker, name: &str) -> String {
    docker
        .inspect_container(name, None::<InspectContainerOptions>)
        .await
        .unwrap()
        .id
        .unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Reads what the server on 127.0.0.1:`port` says, retrying while it starts.
async fn read_port(port: u16) -> String {
    use tokio::io::AsyncReadExt;
    for _ in 0..100 {
        if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 256];
            // The server writes one line; it need not close the connection after it.
            while let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_secs(2), s.read(&mut chunk)).await
            {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                if buf.ends_with(b"\n") {
                    return String::from_utf8_lossy(&buf).into_owned();
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nothing answered on 127.0.0.1:{port}");
}

type Outcome = Result<std::thread::Result<()>, tokio::time::error::Elapsed>;

/// Runs a scenario with a time limit, catching its panic so that the project is still taken
/// down before the test fails.
async fn guarded(secs: u64, scenario: impl std::future::Future<Output = ()>) -> Outcome {
    use futures_util::FutureExt;
    tokio::time::timeout(
        Duration::from_secs(secs),
        std::panic::AssertUnwindSafe(scenario).catch_unwind(),
    )
    .await
}

fn finish(outcome: Outcome) {
    match outcome {
        Err(_) => panic!("the scenario timed out"),
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Ok(Ok(())) => {}
    }
}

/// Everything the daemon holds with the project's label: containers, networks, volumes.
async fn leftovers(docker: &Docker, name: &str) -> Vec<String> {
    let filters = std::collections::HashMap::from([(
        "label".to_string(),
        vec![format!("{}={name}", labels::PROJECT)],
    )]);
    let mut out = Vec::new();
    for c in docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters.clone()),
            ..Default::default()
        }))
        .await
        .unwrap()
    {
        out.push(format!("container {:?}", c.names));
    }
    for n in docker
        .list_networks(Some(ListNetworksOptions {
            filters: Some(filters.clone()),
        }))
        .await
        .unwrap()
    {
        out.push(format!("network {:?}", n.name));
    }
    for v in docker
        .list_volumes(Some(ListVolumesOptions {
            filters: Some(filters),
        }))
        .await
        .unwrap()
        .volumes
        .unwrap_or_default()
    {
        out.push(format!("volume {}", v.name));
    }
    out
}

const TWO_SERVICES: &str = r#"
services:
  db:
    image: busybox:latest
    command: ["sh", "-c", "echo db-ready > /data/state; touch /tmp/ready; echo db-log; exec sleep 1000"]
    volumes: [data:/data]
    networks: [back]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      retries: 30
    stop_grace_period: 1s
    secrets: [token]
    configs:
      - source: greeting
        target: /etc/greeting
  web:
    image: busybox:latest
    command: ["sh", "-c", "echo web-started $$GREETING; cat /data/state; while true; do echo hello-from-web | nc -l -p 8080; done"]
    ports: ["127.0.0.1:${PORT}:8080"]
    volumes: ["data:/data:ro"]
    environment:
      - GREETING=${GREETING}
    networks: [default, back]
    depends_on:
      db: {condition: service_healthy}
    stop_grace_period: 1s
networks:
  back: {}
volumes:
  data: {}
secrets:
  token:
    file: ./token.txt
configs:
  greeting:
    content: hello
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_services_up_ps_logs_recreate_scale_down() {
    let Some(docker) = daemon().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), TWO_SERVICES);
    std::fs::write(dir.path().join("token.txt"), "s3cret\n").unwrap();
    let name = unique("bctest");
    let port = free_port().to_string();
    let (compose, events) = client(&docker);
    let p = project(dir.path(), &name, &[("PORT", &port), ("GREETING", "one")]);

    let result = guarded(
        240,
        scenario(&docker, &compose, &events, dir.path(), &name, &port, &p),
    )
    .await;
    // Whatever happened, the project is removed, and nothing of it may remain.
    compose
        .down(
            &p,
            &DownOptions {
                volumes: true,
                remove_orphans: true,
                timeout: Some(1),
                ..DownOptions::default()
            },
        )
        .await
        .unwrap();
    let left = leftovers(&docker, &name).await;
    finish(result);
    assert!(left.is_empty(), "down -v left {left:?}");
    assert!(
        docker
            .inspect_volume(&format!("{name}_data"))
            .await
            .is_err(),
        "the named volume survived down -v"
    );
}

async fn scenario(
    docker: &Docker,
    compose: &Compose,
    events: &Arc<Mutex<Vec<Event>>>,
    dir: &Path,
    name: &str,
    port: &str,
    p: &Project,
) {
    // up: network, volume, dependency order with the health condition, published port.
    compose.up(p, &UpOptions::default()).await.unwrap();
    let ev = took(events);
    let pos = |s: &str| {
        ev.iter()
            .position(|e| e == s)
            .unwrap_or_else(|| panic!("no {s:?} in {ev:#?}"))
    };
    pos(&format!("Network {name}_default Created"));
    pos(&format!("Network {name}_back Created"));
    pos(&format!("Volume {name}_data Created"));
    assert!(
        pos(&format!("Container {name}-db-1 Healthy"))
            < pos(&format!("Container {name}-web-1 Started"))
    );
    assert_eq!(read_port(port.parse().unwrap()).await, "hello-from-web\n");

    let web = docker
        .inspect_container(&format!("{name}-web-1"), None::<InspectContainerOptions>)
        .await
        .unwrap();
    let l = web.config.unwrap().labels.unwrap();
    assert_eq!(l[labels::PROJECT], name);
    assert_eq!(l[labels::SERVICE], "web");
    assert_eq!(l[labels::CONTAINER_NUMBER], "1");
    assert_eq!(l[labels::ONEOFF], "False");
    assert_eq!(l[labels::CONFIG_HASH], config_hash(&p.services["web"]));
    assert_eq!(l[labels::WORKING_DIR], dir.display().to_string());
    assert_eq!(
        l[labels::CONFIG_FILES],
        dir.join("compose.yaml").display().to_string()
    );
    assert!(l.contains_key(labels::VERSION));
    let nets = web.network_settings.unwrap().networks.unwrap();
    assert!(
        nets.contains_key(&format!("{name}_default")) && nets.contains_key(&format!("{name}_back"))
    );

    // ps
    let ps = compose.ps(name, &[], false).await.unwrap();
    let rows: Vec<(&str, &str, &str)> = ps
        .iter()
        .map(|c| (c.name.as_str(), c.service.as_str(), c.state.as_str()))
        .collect();
    let (db1, web1) = (format!("{name}-db-1"), format!("{name}-web-1"));
    assert_eq!(
        rows,
        [
            (db1.as_str(), "db", "running"),
            (web1.as_str(), "web", "running")
        ]
    );
    assert_eq!(ps[0].health, "healthy");
    assert_eq!(ps[0].log_name(), "db-1");
    assert_eq!(ps[1].image, IMAGE);
    assert!(
        ps[1]
            .ports()
            .contains(&format!("127.0.0.1:{port}->8080/tcp")),
        "{}",
        ps[1].ports()
    );
    let ls = compose.ls(false).await.unwrap();
    let mine = ls
        .iter()
        .find(|i| i.name == name)
        .expect("ls lists the project");
    assert_eq!(mine.status, "running(2)");
    assert_eq!(
        compose.port(name, "web", 8080, "tcp", None).await.unwrap(),
        Some(format!("127.0.0.1:{port}"))
    );

    // logs: both services, lines tagged with their container; the volume is shared.
    let mut logs = compose.logs(name, &LogsOptions::default()).await.unwrap();
    let mut lines = Vec::new();
    while let Some(e) = logs.next().await {
        if let LogEvent::Line {
            container, text, ..
        } = e.unwrap()
        {
            lines.push(format!(
                "{container}: {}",
                String::from_utf8_lossy(&text).trim_end()
            ));
        }
    }
    for want in ["web-1: web-started one", "web-1: db-ready", "db-1: db-log"] {
        assert!(lines.iter().any(|l| l == want), "no {want:?} in {lines:?}");
    }

    // exec: the other service is reachable by its name on the shared network.
    let (exec_id, started) = compose
        .exec(
            name,
            &ExecOptions {
                service: "web".into(),
                command: vec!["nslookup".into(), "db".into()],
                ..ExecOptions::default()
            },
        )
        .await
        .unwrap();
    let StartExecResults::Attached { mut output, .. } = started else {
        panic!("exec was not attached");
    };
    while output.next().await.is_some() {}
    assert_eq!(compose.exec_exit_code(&exec_id).await.unwrap(), Some(0));

    // up again, nothing changed: nothing recreated.
    let ids = (
        container_id(docker, &db1).await,
        container_id(docker, &web1).await,
    );
    compose.up(p, &UpOptions::default()).await.unwrap();
    let ev = took(events);
    assert!(ev.contains(&format!("Container {web1} Running")), "{ev:#?}");
    assert!(!ev.iter().any(|e| e.contains("Recreate")), "{ev:#?}");
    assert_eq!(ids.1, container_id(docker, &web1).await);

    // A changed variable changes web's configuration: web alone is recreated.
    let changed = project(dir, name, &[("PORT", port), ("GREETING", "two")]);
    compose.up(&changed, &UpOptions::default()).await.unwrap();
    let ev = took(events);
    assert!(
        ev.contains(&format!("Container {web1} Recreate")),
        "{ev:#?}"
    );
    assert!(
        ev.contains(&format!("Container {web1} Recreated")),
        "{ev:#?}"
    );
    assert!(ev.contains(&format!("Container {db1} Running")), "{ev:#?}");
    assert_eq!(ids.0, container_id(docker, &db1).await);
    let new_web = container_id(docker, &web1).await;
    assert_ne!(ids.1, new_web);
    assert_eq!(read_port(port.parse().unwrap()).await, "hello-from-web\n");

    // Scale db to 2, then back to 1.
    let scale = |n: u32| UpOptions {
        scale: BTreeMap::from([("db".to_string(), n)]),
        ..UpOptions::default()
    };
    compose.up(&changed, &scale(2)).await.unwrap();
    let names: Vec<String> = compose
        .ps(name, &["db".into()], false)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, [db1.clone(), format!("{name}-db-2")]);
    compose.up(&changed, &scale(1)).await.unwrap();
    let names: Vec<String> = compose
        .ps(name, &["db".into()], true)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, std::slice::from_ref(&db1));
    assert_eq!(
        new_web,
        container_id(docker, &web1).await,
        "scaling db touched web"
    );
    took(events);

    // run: a one-off container of the service, attached, with its exit code.
    let oneoff = compose
        .run(
            &changed,
            &RunOptions {
                service: "db".into(),
                command: Some(vec![
                    "sh".into(),
                    "-c".into(),
                    "cat /data/state /run/secrets/token /etc/greeting; exit 3".into(),
                ]),
                no_deps: true,
                ..RunOptions::default()
            },
        )
        .await
        .unwrap();
    assert!(
        oneoff.name.starts_with(&format!("{name}-db-run-")),
        "{}",
        oneoff.name
    );
    let mut attached = compose.attach(&oneoff).await.unwrap();
    compose.start_oneoff(&oneoff).await.unwrap();
    let mut out = String::new();
    while let Some(chunk) = attached.output.next().await {
        out.push_str(&chunk.unwrap().to_string());
    }
    // The volume, a secret from a file (bind-mounted) and a config with inline content
    // (uploaded before start).
    assert_eq!(out, "db-ready\ns3cret\nhello");
    assert_eq!(compose.wait_exit(&oneoff.id).await.unwrap(), 3);
    let info = docker
        .inspect_container(&oneoff.id, None::<InspectContainerOptions>)
        .await
        .unwrap();
    assert_eq!(info.config.unwrap().labels.unwrap()[labels::ONEOFF], "True");
    compose.remove_container(&oneoff.id, true).await.unwrap();

    // Attached mode: follow the logs, stop the project, see each container exit.
    let mut follow = compose
        .logs(
            name,
            &LogsOptions {
                follow: true,
                tail: Some(0),
                ..LogsOptions::default()
            },
        )
        .await
        .unwrap();
    compose.stop(&changed, &[], Some(1)).await.unwrap();
    let mut exited = Vec::new();
    while let Some(e) = tokio::time::timeout(Duration::from_secs(30), follow.next())
        .await
        .unwrap()
    {
        if let LogEvent::Exited { container, .. } = e.unwrap() {
            exited.push(container);
        }
    }
    exited.sort();
    assert_eq!(exited, ["db-1", "web-1"]);
    let ev = took(events);
    assert!(ev.contains(&format!("Container {web1} Stopped")), "{ev:#?}");

    // start brings them back, dependencies first.
    compose.start(&changed, &[]).await.unwrap();
    let ps = compose.ps(name, &[], false).await.unwrap();
    assert_eq!(ps.len(), 2);
    compose
        .stop(&changed, &["web".into()], Some(1))
        .await
        .unwrap();

    // Attached up: the output from then on, until the containers stop.
    let mut attached = compose
        .up_attached(&changed, &UpOptions::default())
        .await
        .unwrap();
    let mut seen = Vec::new();
    while let Some(e) = tokio::time::timeout(Duration::from_secs(30), attached.next())
        .await
        .unwrap()
    {
        match e.unwrap() {
            LogEvent::Line {
                container, text, ..
            } => {
                let line = format!("{container}: {}", String::from_utf8_lossy(&text).trim_end());
                if line == "web-1: web-started two" {
                    compose.stop(&changed, &[], Some(1)).await.unwrap();
                }
                seen.push(line);
            }
            LogEvent::Exited { container, .. } => seen.push(format!("{container} exited")),
        }
    }
    assert!(
        seen.contains(&"web-1: web-started two".to_string()),
        "{seen:?}"
    );
    assert!(
        !seen.contains(&"web-1: web-started one".to_string()),
        "{seen:?}"
    );
    assert!(
        seen.contains(&"web-1 exited".to_string()) && seen.contains(&"db-1 exited".to_string()),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_conditions_wait_and_orphans() {
    let Some(docker) = daemon().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let name = unique("bcdeps");
    let yaml = |init_exit: u8| {
        format!(
            r#"
services:
  init:
    image: busybox:latest
    command: ["sh", "-c", "echo init; exit {init_exit}"]
  app:
    image: busybox:latest
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    depends_on:
      init: {{condition: service_completed_successfully}}
  extra:
    image: busybox:latest
    command: ["sleep", "1000"]
    stop_grace_period: 1s
"#
        )
    };
    let (compose, events) = client(&docker);
    write(dir.path(), &yaml(0));
    let p = project(dir.path(), &name, &[]);
    let outcome = guarded(120, async {
        compose
            .up(
                &p,
                &UpOptions {
                    wait: true,
                    wait_timeout: Some(Duration::from_secs(60)),
                    ..UpOptions::default()
                },
            )
            .await
            .unwrap();
        let ev = took(&events);
        let pos = |s: String| {
            ev.iter()
                .position(|e| *e == s)
                .unwrap_or_else(|| panic!("no {s:?} in {ev:#?}"))
        };
        assert!(
            pos(format!("Container {name}-init-1 Exited (0)"))
                < pos(format!("Container {name}-app-1 Started"))
        );

        // A removed service's container is an orphan: reported, then removed on request.
        write(dir.path(), &yaml(0).replace("  extra:\n", "  other:\n"));
        let p2 = project(dir.path(), &name, &[]);
        compose
            .up(
                &p2,
                &UpOptions {
                    services: vec!["app".into()],
                    ..UpOptions::default()
                },
            )
            .await
            .unwrap();
        let ev = took(&events);
        assert!(
            ev.iter()
                .any(|e| e.contains("found orphan containers")
                    && e.contains(&format!("{name}-extra-1"))),
            "{ev:#?}"
        );
        compose
            .up(
                &p2,
                &UpOptions {
                    services: vec!["app".into()],
                    remove_orphans: true,
                    ..UpOptions::default()
                },
            )
            .await
            .unwrap();
        assert!(took(&events).contains(&format!("Container {name}-extra-1 Removed")));

        // A dependency that fails stops `up` with its exit code.
        write(dir.path(), &yaml(1));
        let failing = project(dir.path(), &name, &[]);
        let e = compose
            .up(
                &failing,
                &UpOptions {
                    force_recreate: true,
                    ..UpOptions::default()
                },
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("service \"init\" didn't complete successfully: exit 1"),
            "{e}"
        );
    })
    .await;
    // Taken down by name alone, as `down -p name` does without the files: everything is
    // found by its labels (the containers are then orphans of an empty model).
    compose
        .down(
            &Project::named(&name),
            &DownOptions {
                volumes: true,
                remove_orphans: true,
                timeout: Some(1),
                ..DownOptions::default()
            },
        )
        .await
        .unwrap();
    let left = leftovers(&docker, &name).await;
    finish(outcome);
    assert!(left.is_empty(), "down left {left:?}");
}
