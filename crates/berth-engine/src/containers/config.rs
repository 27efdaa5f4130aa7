//! Turning a create request and an image's config into the container's Config and HostConfig,
//! as Docker merges them, with every key Docker's inspect shows.

use crate::error::{Error, Result};
use serde_json::{Map, Value, json};

/// What a create request resolves to.
pub struct Resolved {
    pub config: Value,
    pub host_config: Value,
    pub path: String,
    pub args: Vec<String>,
}

/// Docker's Config keys with their zero values, in Docker's order.
fn config_defaults() -> Value {
    json!({
        "Hostname": "", "Domainname": "", "User": "",
        "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
        "Tty": false, "OpenStdin": false, "StdinOnce": false,
        "Env": null, "Cmd": null, "Image": "", "Volumes": null, "WorkingDir": "",
        "Entrypoint": null, "OnBuild": null, "Labels": {}
    })
}

/// Docker's HostConfig keys with the defaults `docker run` ends up with.
fn host_config_defaults() -> Value {
    json!({
        "Binds": null, "ContainerIDFile": "",
        "LogConfig": {"Type": "", "Config": {}},
        "NetworkMode": "bridge", "PortBindings": {},
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": false, "VolumeDriver": "", "VolumesFrom": null, "ConsoleSize": [0, 0],
        "CapAdd": null, "CapDrop": null, "CgroupnsMode": "private",
        "Dns": [], "DnsOptions": [], "DnsSearch": [], "ExtraHosts": null, "GroupAdd": null,
        "IpcMode": "private", "Cgroup": "", "Links": null, "OomScoreAdj": 0, "PidMode": "",
        "Privileged": false, "PublishAllPorts": false, "ReadonlyRootfs": false,
        "SecurityOpt": null, "UTSMode": "", "UsernsMode": "", "ShmSize": 67108864,
        "Runtime": "berth", "Isolation": "", "CpuShares": 0, "Memory": 0, "NanoCpus": 0,
        "CgroupParent": "", "BlkioWeight": 0, "BlkioWeightDevice": [],
        "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [], "BlkioDeviceReadIOps": [],
        "BlkioDeviceWriteIOps": [], "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0,
        "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "", "Devices": [],
        "DeviceCgroupRules": null, "DeviceRequests": null, "MemoryReservation": 0,
        "MemorySwap": 0, "MemorySwappiness": null, "OomKillDisable": null, "PidsLimit": null,
        "Ulimits": [], "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
        "MaskedPaths": crate::containers::spec::MASKED_PATHS,
        "ReadonlyPaths": crate::containers::spec::READONLY_PATHS
    })
}

/// Overlays `over`'s keys on `base`, ignoring nulls so a client's absent field keeps the default.
fn overlay(mut base: Value, over: &Value) -> Value {
    if let (Some(b), Some(o)) = (base.as_object_mut(), over.as_object()) {
        for (k, v) in o {
            if !v.is_null() {
                b.insert(k.clone(), v.clone());
            }
        }
    }
    base
}

fn strings(v: &Value) -> Option<Vec<String>> {
    let items = v.as_array()?;
    items
        .iter()
        .map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// Image env first; a container variable replaces the image's of the same name in place.
fn merge_env(image: &[String], container: &[String]) -> Vec<String> {
    let key = |e: &str| e.split_once('=').map_or(e, |(k, _)| k).to_string();
    let mut out = image.to_vec();
    for e in container {
        match out.iter().position(|o| key(o) == key(e)) {
            Some(i) => out[i] = e.clone(),
            None => out.push(e.clone()),
        }
    }
    out
}

fn merge_maps(image: &Value, container: &Value) -> Value {
    let mut m: Map<String, Value> = image.as_object().cloned().unwrap_or_default();
    if let Some(c) = container.as_object() {
        m.extend(c.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    Value::Object(m)
}

/// `body` is the create request (Config fields at top level plus HostConfig); `image` is the
/// image config's `config` object; `image_name` is what the user typed.
pub fn resolve(id: &str, body: &Value, image: &Value, image_name: &str) -> Result<Resolved> {
    if !body.is_object() {
        return Err(Error::invalid(
            "config cannot be empty in order to create a container",
        ));
    }
    let mut config = overlay(config_defaults(), body);
    if let Some(c) = config.as_object_mut() {
        c.remove("HostConfig");
        c.remove("NetworkingConfig");
    }

    // An explicit entrypoint drops the image's Cmd, as in Docker. `--entrypoint ""` sends [""].
    let user_entrypoint = strings(&body["Entrypoint"]);
    let user_cmd = strings(&body["Cmd"]).filter(|c| !c.is_empty());
    let (entrypoint, cmd) = match user_entrypoint {
        Some(ep) => {
            let ep: Vec<String> = ep.into_iter().filter(|s| !s.is_empty()).collect();
            (ep, user_cmd.unwrap_or_default())
        }
        None => (
            strings(&image["Entrypoint"]).unwrap_or_default(),
            user_cmd
                .or_else(|| strings(&image["Cmd"]))
                .unwrap_or_default(),
        ),
    };
    let mut argv = entrypoint.iter().chain(cmd.iter()).cloned();
    let Some(path) = argv.next() else {
        return Err(Error::invalid("No command specified"));
    };
    let args: Vec<String> = argv.collect();

    let env = merge_env(
        &strings(&image["Env"]).unwrap_or_default(),
        &strings(&body["Env"]).unwrap_or_default(),
    );
    let working_dir = match body["WorkingDir"].as_str().filter(|w| !w.is_empty()) {
        Some(w) => w.to_string(),
        None => image["WorkingDir"].as_str().unwrap_or("").to_string(),
    };
    if !working_dir.is_empty() && !working_dir.starts_with('/') {
        return Err(Error::invalid(format!(
            "the working directory '{working_dir}' is invalid, it needs to be an absolute path"
        )));
    }
    let user = match body["User"].as_str().filter(|u| !u.is_empty()) {
        Some(u) => u.to_string(),
        None => image["User"].as_str().unwrap_or("").to_string(),
    };
    let c = config.as_object_mut().expect("config is an object");
    let host_uts = body["HostConfig"]["UTSMode"].as_str() == Some("host");
    if host_uts && c["Hostname"].as_str().is_some_and(|h| !h.is_empty()) {
        return Err(Error::invalid(
            "conflicting options: hostname and the UTS mode",
        ));
    }
    if c["Hostname"].as_str().is_none_or(str::is_empty) {
        // A container on the host's network or UTS namespace has the host's name, as in Docker.
        let on_host_network = body["HostConfig"]["NetworkMode"].as_str() == Some("host");
        let hostname = if on_host_network || host_uts {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .unwrap_or_default()
                .trim()
                .to_string()
        } else {
            id[..12].to_string()
        };
        c.insert("Hostname".into(), json!(hostname));
    }
    c.insert(
        "Env".into(),
        if env.is_empty() {
            Value::Null
        } else {
            json!(env)
        },
    );
    c.insert(
        "Cmd".into(),
        if cmd.is_empty() {
            Value::Null
        } else {
            json!(cmd)
        },
    );
    c.insert(
        "Entrypoint".into(),
        if entrypoint.is_empty() {
            Value::Null
        } else {
            json!(entrypoint)
        },
    );
    c.insert("Image".into(), json!(image_name));
    c.insert("WorkingDir".into(), json!(working_dir));
    c.insert("User".into(), json!(user));
    c.insert(
        "Labels".into(),
        merge_maps(&image["Labels"], &body["Labels"]),
    );
    for key in ["ExposedPorts", "Volumes"] {
        let merged = merge_maps(&image[key], &body[key]);
        if merged.as_object().is_some_and(|m| !m.is_empty()) {
            c.insert(key.into(), merged);
        }
    }
    for key in ["StopSignal", "Healthcheck", "OnBuild", "Shell"] {
        if body[key].is_null() && !image[key].is_null() {
            c.insert(key.into(), image[key].clone());
        }
    }

    let mut host_config = overlay(host_config_defaults(), &body["HostConfig"]);
    let hc = host_config
        .as_object_mut()
        .expect("host config is an object");
    if matches!(hc["NetworkMode"].as_str(), Some("" | "default")) {
        hc.insert("NetworkMode".into(), json!("bridge"));
    }
    // An empty mode is the daemon's default, which inspect shows by name.
    for mode in ["IpcMode", "CgroupnsMode"] {
        if hc[mode].as_str() == Some("") {
            hc.insert(mode.into(), json!("private"));
        }
    }
    // The daemon's default driver and options are merged in by the caller (`log_config`).
    let policy = hc["RestartPolicy"]["Name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let retries = hc["RestartPolicy"]["MaximumRetryCount"]
        .as_i64()
        .unwrap_or(0);
    match policy.as_str() {
        "" | "no" | "always" | "unless-stopped" | "on-failure" => {}
        other => return Err(Error::invalid(format!("invalid restart policy '{other}'"))),
    }
    if retries < 0 {
        return Err(Error::invalid(
            "invalid restart policy: maximum retry count cannot be negative",
        ));
    }
    if retries > 0 && policy != "on-failure" {
        return Err(Error::invalid(
            "invalid restart policy: maximum retry count can only be used with 'on-failure'",
        ));
    }
    if hc["AutoRemove"].as_bool().unwrap_or(false) && !matches!(policy.as_str(), "" | "no") {
        return Err(Error::invalid(
            "conflicting options: cannot specify both --restart and --rm",
        ));
    }
    if policy.is_empty() {
        hc.insert(
            "RestartPolicy".into(),
            json!({"Name": "no", "MaximumRetryCount": 0}),
        );
    }
    Ok(Resolved {
        config,
        host_config,
        path,
        args,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn image() -> Value {
        json!({"Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"], "WorkingDir": "/srv",
               "Labels": {"from": "image"}})
    }

    #[test]
    fn image_defaults_fill_the_gaps() {
        let r = resolve(ID, &json!({"Image": "busybox"}), &image(), "busybox").unwrap();
        assert_eq!(r.path, "sh");
        assert!(r.args.is_empty());
        assert_eq!(r.config["Hostname"], "0123456789ab");
        assert_eq!(r.config["WorkingDir"], "/srv");
        assert_eq!(r.config["Image"], "busybox");
        assert_eq!(r.config["Labels"]["from"], "image");
        assert_eq!(r.host_config["NetworkMode"], "bridge");
        assert_eq!(r.host_config["RestartPolicy"]["Name"], "no");
        assert!(r.config.get("HostConfig").is_none());
    }

    #[test]
    fn user_values_win() {
        let body = json!({"Env": ["A=2", "B=3"], "Cmd": ["echo", "hi"], "WorkingDir": "/tmp",
                          "Labels": {"x": "y"}, "HostConfig": {"AutoRemove": true, "NetworkMode": "default"}});
        let r = resolve(ID, &body, &image(), "busybox").unwrap();
        assert_eq!(r.config["Env"], json!(["PATH=/bin", "A=2", "B=3"]));
        assert_eq!(
            (r.path.as_str(), r.args.clone()),
            ("echo", vec!["hi".to_string()])
        );
        assert_eq!(r.config["Labels"], json!({"from": "image", "x": "y"}));
        assert_eq!(r.host_config["AutoRemove"], true);
        assert_eq!(r.host_config["NetworkMode"], "bridge");
    }

    #[test]
    fn entrypoint_replaces_image_cmd() {
        let r = resolve(ID, &json!({"Entrypoint": ["env"]}), &image(), "b").unwrap();
        assert_eq!(r.path, "env");
        assert!(r.args.is_empty());
        assert_eq!(r.config["Cmd"], Value::Null);
        let r = resolve(
            ID,
            &json!({"Entrypoint": [""], "Cmd": ["ls"]}),
            &image(),
            "b",
        )
        .unwrap();
        assert_eq!(r.path, "ls");
    }

    #[test]
    fn bad_requests_are_refused() {
        let e = resolve(ID, &json!({}), &json!({}), "b").err().unwrap();
        assert_eq!(e.message, "No command specified");
        let e = resolve(ID, &json!({"WorkingDir": "rel"}), &image(), "b")
            .err()
            .unwrap();
        assert!(e.message.contains("needs to be an absolute path"));
    }
}
