//! A volume plugin spoken to over Docker's volume plugin protocol: a small plugin written
//! for the test (JSON over HTTP on a unix socket, its volumes directories under its own root)
//! serves `docker volume create -d`, the containers that use its volumes, and `volume rm`.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use berth_testkit::{Daemon, Requirement::*, ok, require, stderr};
use serde_json::{Value, json};

/// The test's plugin: its socket in `dir`, its volumes under `root`, and the calls it got.
struct TestPlugin {
    calls: Arc<Mutex<Vec<String>>>,
    root: PathBuf,
}

impl TestPlugin {
    fn start(dir: &Path, name: &str) -> Self {
        let root = dir.join("volumes");
        std::fs::create_dir_all(&root).unwrap();
        let listener = UnixListener::bind(dir.join(format!("{name}.sock"))).unwrap();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let (log, volumes) = (calls.clone(), root.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serve(stream, &volumes, &log);
            }
        });
        Self { calls, root }
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

/// Answers one request of the protocol.
fn serve(mut stream: UnixStream, root: &Path, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let path = request_line
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let name = request["Name"].as_str().unwrap_or_default();
    let volume = root.join(name);
    let method = path.trim_start_matches("/VolumeDriver.");
    log.lock().unwrap().push(
        format!(
            "{method} {name} {}",
            request["ID"].as_str().unwrap_or_default()
        )
        .trim_end()
        .to_string(),
    );
    let answer = match method {
        "/Plugin.Activate" => json!({"Implements": ["VolumeDriver"]}),
        "Create" if name == "refused" => json!({"Err": "the test plugin refuses this one"}),
        "Create" => {
            std::fs::create_dir_all(&volume).unwrap();
            json!({"Err": ""})
        }
        "Mount" | "Path" => json!({"Mountpoint": volume, "Err": ""}),
        "Remove" => {
            std::fs::remove_dir_all(&volume).unwrap();
            json!({"Err": ""})
        }
        "Capabilities" => json!({"Capabilities": {"Scope": "local"}}),
        _ => json!({"Err": ""}),
    };
    let text = answer.to_string();
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.plugins.v1+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}

#[test]
fn a_plugin_creates_mounts_and_removes_its_volumes() {
    if !require(&[Root, Busybox, DockerCli]) {
        return;
    }
    let plugins = tempfile::tempdir().unwrap();
    let plugin = TestPlugin::start(plugins.path(), "testvol");
    let d = Daemon::start_with_config(json!({"plugin-dirs": [plugins.path()]}));
    d.load_busybox();

    ok(&d.docker(&[
        "volume",
        "create",
        "-d",
        "testvol",
        "-o",
        "speed=fast",
        "pv",
    ]));
    assert!(plugin.root.join("pv").is_dir(), "the plugin made it");
    assert_eq!(
        ok(&d.docker(&[
            "volume",
            "inspect",
            "-f",
            "{{.Driver}} {{.Options.speed}}",
            "pv"
        ])),
        "testvol fast\n"
    );
    let id = ok(&d.docker(&[
        "run",
        "-d",
        "-v",
        "pv:/data",
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]));
    let id = id.trim();
    assert_eq!(ok(&d.docker(&["wait", id])), "0\n");
    assert_eq!(
        std::fs::read_to_string(plugin.root.join("pv/f")).unwrap(),
        "kept\n",
        "the container wrote into the plugin's volume"
    );
    let calls = plugin.calls();
    let mount = format!("Mount pv {id}");
    let unmount = format!("Unmount pv {id}");
    let position = |call: &str| calls.iter().position(|c| c == call);
    assert!(position("Create pv").is_some(), "{calls:?}");
    assert!(
        position(&mount) < position(&unmount) && position(&mount).is_some(),
        "{calls:?}"
    );

    ok(&d.docker(&["rm", id]));
    ok(&d.docker(&["volume", "rm", "pv"]));
    assert!(plugin.calls().contains(&"Remove pv".to_string()));
    assert!(!plugin.root.join("pv").exists());

    // A plugin's refusal is the error, and nothing is recorded; an unknown driver is not found.
    let refused = d.docker(&["volume", "create", "-d", "testvol", "refused"]);
    assert!(
        stderr(&refused).contains("the test plugin refuses this one"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(ok(&d.docker(&["volume", "ls", "-q"])), "");
    let missing = d.docker(&["volume", "create", "-d", "nosuch", "x1"]);
    assert!(
        stderr(&missing).contains("plugin \"nosuch\" not found"),
        "{}",
        stderr(&missing)
    );
}
