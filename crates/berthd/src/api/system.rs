//! `/_ping`, `/version`, `/info`.

use super::http::{Reply, Result, builder, full, json};
use super::{API_VERSION, MIN_API_VERSION};
use berth_engine::Engine;
use hyper::{Method, StatusCode};
use serde_json::json;

const VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn ping(method: &Method) -> Reply {
    let body = if method == Method::HEAD { "" } else { "OK" };
    builder(StatusCode::OK)
        .header("Content-Type", "text/plain; charset=utf-8")
        .header("Cache-Control", "no-cache, no-store, must-revalidate")
        .header("Pragma", "no-cache")
        .header("Builder-Version", "1")
        .body(full(body))
        .expect("valid reply")
}

fn kernel_version() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Go's name for this machine's architecture, as Docker reports it.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "s390x" => "s390x",
        "powerpc64" => "ppc64le",
        "riscv64" => "riscv64",
        other => other,
    }
}

pub async fn version() -> Result {
    let details = json!({
        "ApiVersion": API_VERSION, "Arch": go_arch(), "BuildTime": "", "Experimental": "false",
        "GitCommit": "", "GoVersion": "", "KernelVersion": kernel_version(),
        "MinAPIVersion": MIN_API_VERSION, "Os": "linux"
    });
    Ok(json(
        StatusCode::OK,
        &json!({
            "Platform": {"Name": "berth"},
            "Components": [{"Name": "Engine", "Version": VERSION, "Details": details}],
            "Version": VERSION,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "",
            "GoVersion": "",
            "Os": "linux",
            "Arch": go_arch(),
            "KernelVersion": kernel_version(),
            "BuildTime": ""
        }),
    ))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn mem_total() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

fn operating_system() -> String {
    let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

pub fn info(engine: &Engine) -> Result {
    let (total, running, paused, stopped) = engine.container_counts()?;
    let cfg = engine.config();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(json(
        StatusCode::OK,
        &json!({
            "ID": "", "Containers": total, "ContainersRunning": running,
            "ContainersPaused": paused, "ContainersStopped": stopped,
            "Images": engine.image_count()?, "Driver": "overlay2",
            "DriverStatus": [],
            "Plugins": {"Volume": [], "Network": [], "Authorization": null, "Log": berth_engine::containers::LOG_DRIVERS},
            "MemoryLimit": true, "SwapLimit": true, "KernelMemoryTCP": false, "CpuCfsPeriod": true,
            "CpuCfsQuota": true, "CPUShares": true, "CPUSet": true, "PidsLimit": true,
            "IPv4Forwarding": true, "BridgeNfIptables": false, "BridgeNfIp6tables": false,
            "Debug": false, "NFd": 0, "OomKillDisable": false, "NGoroutines": 0,
            "SystemTime": berth_engine::clock::now(), "LoggingDriver": cfg.default_log.driver,
            "CgroupDriver": "cgroupfs", "CgroupVersion": engine.cgroup_version().to_string(), "NEventsListener": 0,
            "KernelVersion": kernel_version(), "OperatingSystem": operating_system(),
            "OSVersion": "", "OSType": "linux", "Architecture": std::env::consts::ARCH,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {"AllowNondistributableArtifactsCIDRs": null, "AllowNondistributableArtifactsHostnames": null, "InsecureRegistryCIDRs": ["127.0.0.0/8"], "IndexConfigs": {}, "Mirrors": null},
            "NCPU": cpus, "MemTotal": mem_total(), "GenericResources": null,
            "DockerRootDir": cfg.data_root, "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
            "Name": hostname(), "Labels": [], "ExperimentalBuild": false,
            "ServerVersion": VERSION,
            "Runtimes": {"berth": {"path": cfg.shim_binary}}, "DefaultRuntime": "berth",
            "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false, "Error": "", "RemoteManagers": null},
            "LiveRestoreEnabled": true, "Isolation": "", "InitBinary": "",
            "ContainerdCommit": {"ID": ""}, "RuncCommit": {"ID": ""}, "InitCommit": {"ID": ""},
            "SecurityOptions": [],
            "Warnings": null
        }),
    ))
}
