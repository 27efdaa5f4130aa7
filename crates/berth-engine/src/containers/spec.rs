//! The OCI runtime spec a container runs with: Docker's defaults (capabilities, masked and
//! read-only paths, the standard mounts) plus what the container's config asks for.

use super::model::Container;
use super::namespaces::{Namespace, NamespacePlan, Shm};
use super::security;
use super::user::ProcessUser;
use crate::error::{Error, Result};
use serde_json::json;
use std::path::Path;

/// Docker's default capability set; every other capability is dropped.
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every capability the kernel knows, for privileged processes.
pub const ALL_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The capability sets of a process that has `names`.
fn capability_sets(names: &[&str]) -> serde_json::Value {
    json!({"bounding": names, "effective": names, "permitted": names, "inheritable": [], "ambient": []})
}

/// Every capability, for privileged execs.
pub fn all_capabilities() -> Result<oci_spec::runtime::LinuxCapabilities> {
    serde_json::from_value(capability_sets(ALL_CAPABILITIES))
        .map_err(|e| Error::internal(format!("capability set: {e}")))
}

/// Paths hidden from the container, as Docker hides them.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths the container sees read-only.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Files berthd writes per container and binds over the image's copies.
pub struct EtcFiles<'a> {
    pub hostname: &'a Path,
    pub hosts: &'a Path,
    pub resolv_conf: &'a Path,
}

/// The container's seccomp filter: Docker's default for its capabilities, a custom profile,
/// or none (`--privileged`, `seccomp=unconfined`).
fn seccomp_profile(
    privileged: bool,
    options: &security::SecurityOptions,
    caps: &[&str],
) -> Result<Option<serde_json::Value>> {
    if privileged || options.seccomp_unconfined {
        return Ok(None);
    }
    if let Some(custom) = &options.seccomp_profile {
        let profile: oci_spec::runtime::LinuxSeccomp = serde_json::from_str(custom)
            .map_err(|e| Error::invalid(format!("Decoding seccomp profile failed: {e}")))?;
        return Ok(Some(serde_json::to_value(profile)?));
    }
    let caps: Vec<String> = caps.iter().map(|c| c.to_string()).collect();
    Ok(Some(serde_json::to_value(
        berth_runtime::seccomp::docker_default_profile(&caps),
    )?))
}

/// The namespaces the init gets: a new mount namespace always, the others as planned.
fn namespaces(plan: &NamespacePlan) -> Vec<serde_json::Value> {
    let kinds = [
        ("pid", &plan.pid),
        ("network", &plan.network),
        ("ipc", &plan.ipc),
        ("uts", &plan.uts),
        ("cgroup", &plan.cgroup),
    ];
    let mut out = vec![json!({"type": "mount"})];
    out.extend(kinds.into_iter().filter_map(|(kind, ns)| match ns {
        Namespace::New => Some(json!({"type": kind})),
        Namespace::Join(path) => Some(json!({"type": kind, "path": path})),
        Namespace::Host => None,
    }));
    out
}

/// `/dev/shm`, unless `--ipc none`.
fn shm_mount(shm: &Shm) -> Option<serde_json::Value> {
    match shm {
        Shm::Private(size) => Some(json!({
            "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", format!("size={size}")]
        })),
        Shm::Bind(source) => Some(json!({
            "destination": "/dev/shm", "type": "bind", "source": source, "options": ["rbind", "rprivate"]
        })),
        Shm::Unmounted => None,
    }
}

/// Where the container's process runs: its namespaces and its cgroup (`None` on a host
/// without cgroups).
pub struct Placement<'a> {
    pub namespaces: &'a NamespacePlan,
    pub cgroups_path: Option<&'a str>,
}

/// `user_mounts` (volumes, binds, tmpfs) replace a default mount of the same destination.
pub fn build(
    c: &Container,
    rootfs: &Path,
    etc: &EtcFiles<'_>,
    user: &ProcessUser,
    user_mounts: &[serde_json::Value],
    placement: &Placement<'_>,
    init_binary: &Path,
) -> Result<oci_spec::runtime::Spec> {
    let hc = &c.host_config;
    let privileged = security::privileged(hc);
    let caps = security::capabilities(hc)?;
    let caps: Vec<&str> = caps.iter().map(String::as_str).collect();
    let (devices, _) = security::devices(hc)?;
    let options = security::security_options(hc)?;
    let tty = c.config["Tty"].as_bool().unwrap_or(false);
    let console = &hc["ConsoleSize"];
    let mut env: Vec<String> = c.config["Env"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.into());
    }
    if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
        env.push(format!(
            "HOSTNAME={}",
            c.config["Hostname"].as_str().unwrap_or_default()
        ));
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user.home));
    }
    let cwd = match c.config["WorkingDir"].as_str() {
        Some(w) if !w.is_empty() => w,
        _ => "/",
    };
    // `--init`: berth's small init runs as pid 1 and the command as its child.
    let init = hc["Init"].as_bool().unwrap_or(false);
    let args: Vec<&str> = init
        .then_some(["/sbin/docker-init", "--"])
        .into_iter()
        .flatten()
        .chain(std::iter::once(c.path.as_str()))
        .chain(c.args.iter().map(String::as_str))
        .collect();
    let bind = |dest: &str, src: &Path| json!({"destination": dest, "type": "bind", "source": src, "options": ["rbind", "rprivate"]});
    let spec = json!({
        "ociVersion": "1.2.0",
        "root": {"path": rootfs, "readonly": c.host_config["ReadonlyRootfs"].as_bool().unwrap_or(false)},
        "hostname": c.config["Hostname"],
        "process": {
            "terminal": tty,
            "consoleSize": {"height": console[0].as_u64().unwrap_or(0), "width": console[1].as_u64().unwrap_or(0)},
            "oomScoreAdj": hc["OomScoreAdj"].as_i64().unwrap_or(0),
            "user": {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids},
            "args": args,
            "env": env,
            "cwd": cwd,
            "capabilities": capability_sets(&caps),
            // The runtime lowers these to the host's hard limits where they are smaller.
            "rlimits": security::rlimits(hc)?,
            "noNewPrivileges": options.no_new_privileges
        },
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": if privileged { json!(["nosuid", "noexec", "nodev"]) } else { json!(["nosuid", "noexec", "nodev", "ro"]) }},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", if privileged { "rw" } else { "ro" }]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            bind("/etc/resolv.conf", etc.resolv_conf),
            bind("/etc/hostname", etc.hostname),
            bind("/etc/hosts", etc.hosts)
        ],
        "linux": {
            "namespaces": namespaces(placement.namespaces),
            "maskedPaths": if privileged { &[][..] } else { MASKED_PATHS },
            "readonlyPaths": if privileged { &[][..] } else { READONLY_PATHS },
            "devices": devices,
            "sysctl": security::sysctls(hc)?
        }
    });
    let mut spec = spec;
    if let Some(profile) = seccomp_profile(privileged, &options, &caps)? {
        spec["linux"]["seccomp"] = profile;
    }
    if init {
        spec["mounts"].as_array_mut().expect("mounts literal").push(json!({
            "destination": "/sbin/docker-init", "type": "bind", "source": init_binary, "options": ["bind", "ro"]
        }));
    }
    let mounts = spec["mounts"].as_array_mut().expect("mounts literal");
    mounts.extend(shm_mount(&placement.namespaces.shm));
    if placement.namespaces.uts == Namespace::Host {
        spec.as_object_mut()
            .expect("spec literal")
            .remove("hostname");
    } else if let Some(domain) = c.config["Domainname"].as_str().filter(|d| !d.is_empty()) {
        spec["domainname"] = json!(domain);
    }
    if let Some(path) = placement.cgroups_path {
        spec["linux"]["cgroupsPath"] = json!(format!("/{path}"));
    }
    if let Some(defaults) = spec["mounts"].as_array_mut() {
        defaults.retain(|d| {
            !user_mounts
                .iter()
                .any(|u| u["destination"] == d["destination"])
        });
        defaults.extend(user_mounts.iter().cloned());
    }
    serde_json::from_value(spec)
        .map_err(|e| Error::internal(format!("building the runtime spec: {e}")))
}
