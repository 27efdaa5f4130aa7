//! What a container may do: capabilities (`--cap-add/--cap-drop`, `--privileged`), devices
//! and the device cgroup rules, rlimits (`--ulimit`), sysctls and security options, turned
//! into the pieces of the OCI spec, with Docker's defaults and Docker's errors.

use super::spec::{ALL_CAPABILITIES, DEFAULT_CAPABILITIES};
use crate::error::{Error, Result};
use serde_json::{Value, json};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

pub fn privileged(hc: &Value) -> bool {
    hc["Privileged"].as_bool().unwrap_or(false)
}

/// `NET_ADMIN`, `cap_net_admin` and `CAP_NET_ADMIN` all name the same capability.
fn normalize_cap(name: &str) -> Result<String> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    if full == "CAP_ALL" || ALL_CAPABILITIES.contains(&full.as_str()) {
        Ok(full)
    } else {
        Err(Error::invalid(format!(
            "invalid CapAdd: unknown capability: \"{name}\""
        )))
    }
}

/// The capabilities this host can give: those in berthd's bounding set (root may lack some,
/// e.g. CAP_SYS_RESOURCE in some sandboxes). ALL_CAPABILITIES is in capability-number order.
fn host_capabilities() -> Vec<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let bounding = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(u64::MAX);
    ALL_CAPABILITIES
        .iter()
        .enumerate()
        .filter(|(bit, _)| bounding & (1 << bit) != 0)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// The capability set: Docker's defaults, minus `CapDrop`, plus `CapAdd` (`ALL` in either);
/// `--privileged` and `ALL` mean every capability the host can give.
pub fn capabilities(hc: &Value) -> Result<Vec<String>> {
    if privileged(hc) {
        return Ok(host_capabilities());
    }
    let add = strings(&hc["CapAdd"])
        .iter()
        .map(|c| normalize_cap(c))
        .collect::<Result<Vec<_>>>()?;
    let drop = strings(&hc["CapDrop"])
        .iter()
        .map(|c| normalize_cap(c))
        .collect::<Result<Vec<_>>>()?;
    let mut caps: Vec<String> = if drop.iter().any(|c| c == "CAP_ALL") {
        Vec::new()
    } else {
        DEFAULT_CAPABILITIES
            .iter()
            .filter(|c| !drop.iter().any(|d| d == *c))
            .map(|c| c.to_string())
            .collect()
    };
    let available = host_capabilities();
    if add.iter().any(|c| c == "CAP_ALL") {
        return Ok(available);
    }
    for c in add {
        if !available.contains(&c) {
            return Err(Error::invalid(format!(
                "capability {c} is not available on this host"
            )));
        }
        if !caps.contains(&c) {
            caps.push(c);
        }
    }
    Ok(caps)
}

/// Docker's default device cgroup: nothing but mknod, and the standard devices.
fn default_device_rules() -> Vec<Value> {
    let allow = |kind: &str, major: i64, minor: Option<i64>, access: &str| json!({"allow": true, "type": kind, "major": major, "minor": minor, "access": access});
    vec![
        json!({"allow": false, "access": "rwm"}),
        json!({"allow": true, "type": "c", "access": "m"}),
        json!({"allow": true, "type": "b", "access": "m"}),
        allow("c", 1, Some(3), "rwm"),    // null
        allow("c", 1, Some(5), "rwm"),    // zero
        allow("c", 1, Some(7), "rwm"),    // full
        allow("c", 1, Some(8), "rwm"),    // random
        allow("c", 1, Some(9), "rwm"),    // urandom
        allow("c", 5, Some(0), "rwm"),    // tty
        allow("c", 5, Some(1), "rwm"),    // console
        allow("c", 5, Some(2), "rwm"),    // ptmx
        allow("c", 136, None, "rwm"),     // pts/*
        allow("c", 10, Some(200), "rwm"), // net/tun
    ]
}

/// One host device node as an OCI device entry at `container_path`.
fn device_entry(host_path: &Path, container_path: &str) -> Result<(Value, Value)> {
    let meta = std::fs::metadata(host_path).map_err(|e| {
        Error::invalid(format!(
            "error gathering device information while adding custom device \"{}\": {e}",
            host_path.display()
        ))
    })?;
    let kind = if meta.file_type().is_char_device() {
        "c"
    } else if meta.file_type().is_block_device() {
        "b"
    } else {
        return Err(Error::invalid(format!(
            "\"{}\" is not a device node",
            host_path.display()
        )));
    };
    let (major, minor) = (
        libc::major(meta.rdev()) as i64,
        libc::minor(meta.rdev()) as i64,
    );
    let device = json!({"path": container_path, "type": kind, "major": major, "minor": minor,
                        "fileMode": meta.mode() & 0o7777, "uid": meta.uid(), "gid": meta.gid()});
    Ok((
        device,
        json!({"allow": true, "type": kind, "major": major, "minor": minor, "access": "rwm"}),
    ))
}

/// Nodes every container gets from the runtime already (`/dev/ptmx` is its devpts link).
const RUNTIME_DEVICES: &[&str] = &[
    "null", "zero", "full", "random", "urandom", "tty", "ptmx", "console",
];

/// Every device node directly under the host's /dev, for privileged containers.
fn host_devices() -> Vec<(Value, Value)> {
    let Ok(entries) = std::fs::read_dir("/dev") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| !RUNTIME_DEVICES.contains(&e.file_name().to_string_lossy().as_ref()))
        .filter_map(|e| {
            let path = e.path();
            let name = path.to_string_lossy().into_owned();
            let t = e.file_type().ok()?;
            (t.is_char_device() || t.is_block_device())
                .then(|| device_entry(&path, &name).ok())
                .flatten()
        })
        .collect()
}

/// `linux.devices` and the device cgroup rules.
pub fn devices(hc: &Value) -> Result<(Vec<Value>, Vec<Value>)> {
    if privileged(hc) {
        let (devices, _): (Vec<Value>, Vec<Value>) = host_devices().into_iter().unzip();
        return Ok((devices, vec![json!({"allow": true, "access": "rwm"})]));
    }
    let mut devices = Vec::new();
    let mut rules = default_device_rules();
    for d in hc["Devices"].as_array().into_iter().flatten() {
        let host = d["PathOnHost"].as_str().unwrap_or("");
        let inside = d["PathInContainer"]
            .as_str()
            .filter(|p| !p.is_empty())
            .unwrap_or(host);
        let (device, mut rule) = device_entry(Path::new(host), inside)?;
        if let Some(access) = d["CgroupPermissions"].as_str().filter(|a| !a.is_empty()) {
            rule["access"] = json!(access);
        }
        devices.push(device);
        rules.push(rule);
    }
    for rule in strings(&hc["DeviceCgroupRules"]) {
        rules.push(parse_cgroup_rule(&rule)?);
    }
    Ok((devices, rules))
}

/// `c 13:* rwm` as an OCI device rule.
fn parse_cgroup_rule(rule: &str) -> Result<Value> {
    let bad = || Error::invalid(format!("invalid device cgroup format '{rule}'"));
    let parts: Vec<&str> = rule.split_whitespace().collect();
    let [kind, numbers, access] = parts.as_slice() else {
        return Err(bad());
    };
    if !matches!(*kind, "a" | "b" | "c")
        || access.is_empty()
        || !access.chars().all(|c| "rwm".contains(c))
    {
        return Err(bad());
    }
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    let num = |s: &str| -> Result<Value> {
        if s == "*" {
            Ok(Value::Null)
        } else {
            s.parse::<i64>().map(Value::from).map_err(|_| bad())
        }
    };
    Ok(
        json!({"allow": true, "type": kind, "major": num(major)?, "minor": num(minor)?, "access": access}),
    )
}

/// `--ulimit` entries as OCI rlimits (the runtime lowers them to the host's hard limits).
pub fn rlimits(hc: &Value) -> Result<Vec<Value>> {
    let mut out =
        vec![json!({"type": "RLIMIT_NOFILE", "hard": 1_048_576u64, "soft": 1_048_576u64})];
    for u in hc["Ulimits"].as_array().into_iter().flatten() {
        let name = u["Name"].as_str().unwrap_or("");
        let kind = format!("RLIMIT_{}", name.to_ascii_uppercase());
        const KNOWN: &[&str] = &[
            "core",
            "cpu",
            "data",
            "fsize",
            "locks",
            "memlock",
            "msgqueue",
            "nice",
            "nofile",
            "nproc",
            "rss",
            "rtprio",
            "rttime",
            "sigpending",
            "stack",
            "as",
        ];
        if !KNOWN.contains(&name) {
            return Err(Error::invalid(format!("invalid ulimit type: {name}")));
        }
        let (soft, hard) = (
            u["Soft"].as_i64().unwrap_or(0),
            u["Hard"].as_i64().unwrap_or(0),
        );
        if soft > hard && hard >= 0 {
            return Err(Error::invalid(format!(
                "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            )));
        }
        let limit = |v: i64| if v < 0 { u64::MAX } else { v as u64 };
        out.retain(|r| r["type"] != kind.as_str());
        out.push(json!({"type": kind, "soft": limit(soft), "hard": limit(hard)}));
    }
    Ok(out)
}

/// Namespaced sysctls only, as Docker allows, and only for namespaces the container owns: not
/// the host's or another container's.
pub fn sysctls(hc: &Value) -> Result<Value> {
    let shared = |mode: &str| mode == "host" || mode.starts_with("container:");
    let shared_network = shared(hc["NetworkMode"].as_str().unwrap_or_default());
    let shared_ipc = shared(hc["IpcMode"].as_str().unwrap_or_default());
    let Some(map) = hc["Sysctls"].as_object() else {
        return Ok(json!({}));
    };
    for key in map.keys() {
        // A key names a file under /proc/sys: no empty, `.` or `..` parts, whether written
        // with dots or slashes.
        if key
            .split(['.', '/'])
            .any(|part| part.is_empty() || part == "..")
        {
            return Err(Error::invalid(format!("sysctl '{key}' is not allowed")));
        }
        let ipc = key.starts_with("kernel.shm")
            || key.starts_with("kernel.msg")
            || key == "kernel.sem"
            || key.starts_with("fs.mqueue.");
        let net = key.starts_with("net.");
        if !(ipc || net) {
            return Err(Error::invalid(format!("sysctl '{key}' is not allowed")));
        }
        if net && shared_network {
            return Err(Error::invalid(format!(
                "sysctl '{key}' not allowed in host network namespace"
            )));
        }
        if ipc && shared_ipc {
            return Err(Error::invalid(format!(
                "sysctl '{key}' not allowed in host IPC namespace"
            )));
        }
    }
    Ok(Value::Object(map.clone()))
}

/// What `--security-opt` asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SecurityOptions {
    pub no_new_privileges: bool,
    pub seccomp_unconfined: bool,
    /// A profile given as JSON (the docker CLI sends the file's content).
    pub seccomp_profile: Option<String>,
}

pub fn security_options(hc: &Value) -> Result<SecurityOptions> {
    let mut out = SecurityOptions::default();
    for opt in strings(&hc["SecurityOpt"]) {
        let (key, value) = opt.split_once(['=', ':']).unwrap_or((&opt, "true"));
        match key {
            "no-new-privileges" => {
                out.no_new_privileges = value
                    .parse()
                    .map_err(|_| Error::invalid(format!("invalid --security-opt 2: {opt:?}")))?;
            }
            "seccomp" if value == "unconfined" => out.seccomp_unconfined = true,
            "seccomp" => out.seccomp_profile = Some(value.to_string()),
            // No AppArmor or SELinux on berth's hosts: accepted and not applied, as dockerd
            // does where those modules are absent.
            "apparmor" | "label" => {}
            _ => return Err(Error::invalid(format!("invalid --security-opt 1: {opt:?}"))),
        }
    }
    Ok(out)
}

/// Refuses at create what the start would refuse, as Docker does.
pub fn validate(hc: &Value) -> Result<()> {
    capabilities(hc)?;
    devices(hc)?;
    rlimits(hc)?;
    sysctls(hc)?;
    security_options(hc)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_arithmetic() {
        let caps =
            capabilities(&json!({"CapAdd": ["NET_ADMIN"], "CapDrop": ["chown", "CAP_KILL"]}))
                .unwrap();
        assert!(caps.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(
            !caps.contains(&"CAP_CHOWN".to_string()) && !caps.contains(&"CAP_KILL".to_string())
        );
        assert_eq!(
            capabilities(&json!({"CapDrop": ["ALL"], "CapAdd": ["SETUID"]})).unwrap(),
            vec!["CAP_SETUID"]
        );
        assert_eq!(
            capabilities(&json!({"Privileged": true})).unwrap(),
            host_capabilities()
        );
        assert!(
            capabilities(&json!({"CapAdd": ["BOGUS"]}))
                .unwrap_err()
                .message
                .contains("unknown capability")
        );
    }

    #[test]
    fn devices_and_rules() {
        let (devices, rules) = devices(&json!({"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "rw"}], "DeviceCgroupRules": ["c 13:* rwm"]})).unwrap();
        assert_eq!(devices[0]["path"], "/dev/mynull");
        assert_eq!(
            (devices[0]["major"].as_i64(), devices[0]["minor"].as_i64()),
            (Some(1), Some(3))
        );
        assert_eq!(
            rules[0],
            json!({"allow": false, "access": "rwm"}),
            "deny by default"
        );
        assert!(
            rules
                .iter()
                .any(|r| r["major"] == 13 && r["minor"].is_null())
        );
        assert!(devices_err("/etc/passwd"));
        assert!(parse_cgroup_rule("x 1:2 rwm").is_err() && parse_cgroup_rule("c 1:2 rwz").is_err());
    }

    fn devices_err(path: &str) -> bool {
        devices(&json!({"Devices": [{"PathOnHost": path}]})).is_err()
    }

    #[test]
    fn ulimits_sysctls_and_options() {
        let r = rlimits(&json!({"Ulimits": [{"Name": "nofile", "Soft": 100, "Hard": 200}, {"Name": "nproc", "Soft": -1, "Hard": -1}]})).unwrap();
        assert!(r.contains(&json!({"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200})));
        assert!(rlimits(&json!({"Ulimits": [{"Name": "bogus", "Soft": 1, "Hard": 1}]})).is_err());
        assert!(rlimits(&json!({"Ulimits": [{"Name": "nofile", "Soft": 2, "Hard": 1}]})).is_err());
        assert!(sysctls(&json!({"Sysctls": {"net.ipv4.ip_forward": "1"}})).is_ok());
        assert!(sysctls(&json!({"Sysctls": {"kernel.hostname": "x"}})).is_err());
        assert!(sysctls(&json!({"Sysctls": {"net./../../kernel/core_pattern": "x"}})).is_err());
        assert!(sysctls(&json!({"Sysctls": {"net..ipv4": "x"}})).is_err());
        for (mode, key) in [
            ("NetworkMode", "net.ipv4.ip_forward"),
            ("IpcMode", "kernel.shmmax"),
        ] {
            for shared in ["host", "container:db"] {
                let hc = json!({"Sysctls": {key: "1"}, mode: shared});
                assert!(sysctls(&hc).is_err(), "{hc}");
            }
        }
        let o =
            security_options(&json!({"SecurityOpt": ["no-new-privileges", "seccomp=unconfined"]}))
                .unwrap();
        assert!(o.no_new_privileges && o.seccomp_unconfined);
        assert!(security_options(&json!({"SecurityOpt": ["bogus=1"]})).is_err());
    }
}
