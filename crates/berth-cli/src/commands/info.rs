//! `info`: a summary of the daemon, in docker's layout or through a template.

use bollard::models::SystemInfo;
use serde_json::json;

use crate::cli::InfoArgs;
use crate::client::Connector;
use crate::error::{CliError, bad_format, template_failure};
use crate::format::table::align_with;
use crate::format::template::{MissingKey, Template};
use crate::format::units::binary_size;
use crate::output;

pub async fn run(connector: &Connector, args: InfoArgs) -> Result<(), CliError> {
    let template = args
        .format
        .as_deref()
        .map(Template::parse)
        .transpose()
        .map_err(bad_format)?;
    let client = json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "Debug": false,
    });
    if template.is_none() {
        let client = format!(
            " Version:\t{}\n Debug Mode:\tfalse\n",
            env!("CARGO_PKG_VERSION")
        );
        output::print(&format!("Client:\n{}", align_with(&client, 0, 1)));
    }
    let info = async { Ok::<_, CliError>(connector.connect().await?.info().await?) }.await;
    let info = match (info, &template) {
        (Ok(info), _) => info,
        (Err(error), None) => {
            output::print("\nServer:\n");
            return Err(error);
        }
        (Err(error), Some(_)) => return Err(error),
    };
    match template {
        Some(template) => {
            let mut data =
                serde_json::to_value(&info).map_err(|e| CliError::Failed(e.to_string()))?;
            if let Some(map) = data.as_object_mut() {
                map.insert("ClientInfo".to_string(), client);
            }
            let text = template.execute(&data, MissingKey::Zero);
            output::line(&text.map_err(template_failure("template parsing error"))?);
        }
        None => {
            output::print(&render_server(&info));
            for warning in info.warnings.iter().flatten() {
                eprintln!("{warning}");
            }
        }
    }
    Ok(())
}

fn render_server(info: &SystemInfo) -> String {
    let mut out = String::from("\nServer:\n");
    let mut line = |indent: usize, text: String| {
        out.push_str(&" ".repeat(indent));
        out.push_str(&text);
        out.push('\n');
    };
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let number = |value: Option<i64>| value.unwrap_or_default();
    line(1, format!("Containers: {}", number(info.containers)));
    line(2, format!("Running: {}", number(info.containers_running)));
    line(2, format!("Paused: {}", number(info.containers_paused)));
    line(2, format!("Stopped: {}", number(info.containers_stopped)));
    line(1, format!("Images: {}", number(info.images)));
    line(1, format!("Server Version: {}", text(&info.server_version)));
    line(1, format!("Storage Driver: {}", text(&info.driver)));
    for pair in info.driver_status.iter().flatten() {
        if let [key, value] = pair.as_slice() {
            line(2, format!("{key}: {value}"));
        }
    }
    line(1, format!("Logging Driver: {}", text(&info.logging_driver)));
    if let Some(driver) = info.cgroup_driver {
        line(1, format!("Cgroup Driver: {driver}"));
    }
    if let Some(version) = info.cgroup_version {
        line(1, format!("Cgroup Version: {version}"));
    }
    if let Some(plugins) = &info.plugins {
        line(1, "Plugins:".to_string());
        for (name, list) in [
            ("Volume", &plugins.volume),
            ("Network", &plugins.network),
            ("Authorization", &plugins.authorization),
            ("Log", &plugins.log),
        ] {
            if let Some(list) = list.as_ref().filter(|l| !l.is_empty()) {
                line(2, format!("{name}: {}", list.join(" ")));
            }
        }
    }
    let swarm = info
        .swarm
        .as_ref()
        .and_then(|s| s.local_node_state)
        .map(|s| s.to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "inactive".to_string());
    line(1, format!("Swarm: {swarm}"));
    if let Some(runtimes) = info.runtimes.as_ref().filter(|r| !r.is_empty()) {
        let mut names: Vec<&String> = runtimes.keys().collect();
        names.sort();
        let names: Vec<&str> = names.into_iter().map(String::as_str).collect();
        line(1, format!("Runtimes: {}", names.join(" ")));
        line(
            1,
            format!("Default Runtime: {}", text(&info.default_runtime)),
        );
    }
    if let Some(init) = &info.init_binary {
        line(1, format!("Init Binary: {init}"));
    }
    for (name, commit) in [
        ("containerd", &info.containerd_commit),
        ("runc", &info.runc_commit),
        ("init", &info.init_commit),
    ] {
        if let Some(commit) = commit {
            line(1, format!("{name} version: {}", text(&commit.id)));
        }
    }
    if let Some(options) = info.security_options.as_ref().filter(|o| !o.is_empty()) {
        line(1, "Security Options:".to_string());
        for option in options {
            security_option(option, &mut line);
        }
    }
    line(1, format!("Kernel Version: {}", text(&info.kernel_version)));
    line(
        1,
        format!("Operating System: {}", text(&info.operating_system)),
    );
    line(1, format!("OSType: {}", text(&info.os_type)));
    line(1, format!("Architecture: {}", text(&info.architecture)));
    line(1, format!("CPUs: {}", number(info.ncpu)));
    line(
        1,
        format!("Total Memory: {}", binary_size(number(info.mem_total))),
    );
    line(1, format!("Name: {}", text(&info.name)));
    line(1, format!("ID: {}", text(&info.id)));
    line(
        1,
        format!("Docker Root Dir: {}", text(&info.docker_root_dir)),
    );
    line(1, format!("Debug Mode: {}", info.debug.unwrap_or(false)));
    for (name, value) in [
        ("HTTP Proxy", &info.http_proxy),
        ("HTTPS Proxy", &info.https_proxy),
        ("No Proxy", &info.no_proxy),
    ] {
        if let Some(value) = value.as_ref().filter(|v| !v.is_empty()) {
            line(1, format!("{name}: {value}"));
        }
    }
    if let Some(labels) = info.labels.as_ref().filter(|l| !l.is_empty()) {
        line(1, "Labels:".to_string());
        for label in labels {
            line(2, label.clone());
        }
    }
    line(
        1,
        format!("Experimental: {}", info.experimental_build.unwrap_or(false)),
    );
    let insecure = info
        .registry_config
        .as_ref()
        .and_then(|r| r.insecure_registry_cidrs.as_ref())
        .filter(|c| !c.is_empty());
    if let Some(cidrs) = insecure {
        line(1, "Insecure Registries:".to_string());
        for cidr in cidrs {
            line(2, cidr.clone());
        }
    }
    line(
        1,
        format!(
            "Live Restore Enabled: {}",
            info.live_restore_enabled.unwrap_or(false)
        ),
    );
    if let Some(pools) = info
        .default_address_pools
        .as_ref()
        .filter(|p| !p.is_empty())
    {
        line(1, "Default Address Pools:".to_string());
        for pool in pools {
            line(
                3,
                format!(
                    "Base: {}, Size: {}",
                    text(&pool.base),
                    pool.size.unwrap_or_default()
                ),
            );
        }
    }
    out
}

/// "name=seccomp,profile=default" as docker lists it: the name, then its settings.
fn security_option(option: &str, line: &mut impl FnMut(usize, String)) {
    for (i, pair) in option.split(',').enumerate() {
        let (key, value) = pair.split_once('=').unwrap_or(("name", pair));
        if i == 0 || key == "name" {
            line(2, value.to_string());
        } else {
            let mut key = key.to_string();
            if let Some(first) = key.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            line(3, format!("{key}: {value}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lines() {
        let info: SystemInfo = serde_json::from_value(json!({
            "Containers": 3, "ContainersRunning": 1, "ContainersPaused": 0, "ContainersStopped": 2,
            "Images": 4, "ServerVersion": "0.1.0", "Driver": "overlay2",
            "DriverStatus": [["Backing Filesystem", "extfs"]],
            "SecurityOptions": ["name=seccomp,profile=default", "name=cgroupns"],
            "MemTotal": 25_275_645_952_i64, "NCPU": 2,
        }))
        .unwrap();
        let text = render_server(&info);
        assert!(
            text.starts_with(
                "\nServer:\n Containers: 3\n  Running: 1\n  Paused: 0\n  Stopped: 2\n Images: 4\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(" Storage Driver: overlay2\n  Backing Filesystem: extfs\n"),
            "{text}"
        );
        assert!(
            text.contains(" Security Options:\n  seccomp\n   Profile: default\n  cgroupns\n"),
            "{text}"
        );
        assert!(
            text.contains(" CPUs: 2\n Total Memory: 23.54GiB\n"),
            "{text}"
        );
        assert!(text.contains(" Swarm: inactive\n"), "{text}");
    }
}
