//! berthd's configuration: `/etc/berth/daemon.json` (Docker's key names) under command-line
//! flags, which win.

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const DEFAULT_CONFIG_FILE: &str = "/etc/berth/daemon.json";
pub const DEFAULT_DATA_ROOT: &str = "/var/lib/berth";
pub const DEFAULT_EXEC_ROOT: &str = "/run/berth";
pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

#[derive(Debug, Parser)]
#[command(name = "berthd", version, about = "The berth container engine daemon")]
pub struct Flags {
    /// Daemon configuration file (Docker's daemon.json keys)
    #[arg(long, default_value = DEFAULT_CONFIG_FILE)]
    pub config_file: PathBuf,
    /// Root of persistent state
    #[arg(long)]
    pub data_root: Option<PathBuf>,
    /// Root of runtime state
    #[arg(long)]
    pub exec_root: Option<PathBuf>,
    /// Socket to listen on (unix:///path)
    #[arg(short = 'H', long = "host")]
    pub hosts: Vec<String>,
    /// Log level: debug, info, warn, error
    #[arg(short = 'l', long)]
    pub log_level: Option<String>,
    /// Debug logging
    #[arg(short = 'D', long)]
    pub debug: bool,
    /// The default bridge network's Linux bridge (default berth0)
    #[arg(short = 'b', long)]
    pub bridge: Option<String>,
    /// The default bridge's address and subnet (default 10.58.0.1/16)
    #[arg(long)]
    pub bip: Option<String>,
    /// Parent cgroup of containers' cgroups
    #[arg(long)]
    pub cgroup_parent: Option<String>,
    /// The berth-shim binary (default: next to berthd)
    #[arg(long, hide = true)]
    pub shim_binary: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct File {
    data_root: Option<PathBuf>,
    exec_root: Option<PathBuf>,
    #[serde(default)]
    hosts: Vec<String>,
    log_level: Option<String>,
    debug: Option<bool>,
    cgroup_parent: Option<String>,
    bridge: Option<String>,
    bip: Option<String>,
    #[serde(default)]
    default_address_pools: Vec<AddressPoolEntry>,
    /// berth's own: where volume plugins are looked for (Docker's directories by default).
    plugin_dirs: Option<Vec<PathBuf>>,
    #[serde(default)]
    insecure_registries: Vec<String>,
    #[serde(default)]
    registry_mirrors: Vec<String>,
    max_concurrent_downloads: Option<usize>,
    log_driver: Option<String>,
    #[serde(default)]
    log_opts: std::collections::BTreeMap<String, String>,
}

/// One entry of `default-address-pools`: `{"base": "10.59.0.0/16", "size": 24}`.
#[derive(Debug, Deserialize)]
struct AddressPoolEntry {
    base: String,
    size: u8,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    pub socket: PathBuf,
    pub log_level: String,
    pub shim_binary: PathBuf,
    pub cgroup_parent: String,
    pub network: berth_engine::networks::NetworkConfig,
    pub plugin_dirs: Vec<PathBuf>,
    pub registry: berth_registry::ClientConfig,
    pub default_log: berth_engine::containers::DefaultLogConfig,
}

/// Where Docker looks for (legacy) plugins: sockets, then spec files.
const DEFAULT_PLUGIN_DIRS: [&str; 3] = [
    "/run/docker/plugins",
    "/etc/docker/plugins",
    "/usr/lib/docker/plugins",
];

fn read_file(path: &Path, explicit: bool) -> Result<File> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("invalid configuration file {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(File::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn unix_socket(host: &str) -> Result<PathBuf> {
    match host.strip_prefix("unix://") {
        Some(p) if p.starts_with('/') => Ok(PathBuf::from(p)),
        _ => bail!("unsupported host {host:?}: berthd listens on unix:///absolute/path sockets"),
    }
}

impl Config {
    pub fn load(flags: Flags) -> Result<Self> {
        let explicit = flags.config_file != Path::new(DEFAULT_CONFIG_FILE);
        let file = read_file(&flags.config_file, explicit)?;
        let hosts = if flags.hosts.is_empty() {
            file.hosts
        } else {
            flags.hosts
        };
        let host = match hosts.as_slice() {
            [] => DEFAULT_HOST.to_string(),
            [one] => one.clone(),
            _ => bail!("berthd listens on one socket; got {hosts:?}"),
        };
        let debug = flags.debug || file.debug.unwrap_or(false);
        let log_level = flags
            .log_level
            .or(file.log_level)
            .unwrap_or_else(|| if debug { "debug" } else { "info" }.into());
        let shim_binary = match flags.shim_binary {
            Some(p) => p,
            None => std::env::current_exe()?.with_file_name("berth-shim"),
        };
        let defaults = berth_registry::ClientConfig::default();
        let mut network = berth_engine::networks::NetworkConfig::default();
        if let Some(bridge) = flags.bridge.or(file.bridge) {
            if bridge.is_empty() || bridge.len() > 15 {
                bail!("invalid bridge name {bridge:?}: 1 to 15 characters");
            }
            network.bridge = bridge;
        }
        if let Some(bip) = flags.bip.or(file.bip) {
            network.bip = bip
                .parse()
                .with_context(|| format!("invalid bip {bip:?}"))?;
        }
        if !file.default_address_pools.is_empty() {
            network.pools = file
                .default_address_pools
                .iter()
                .map(|p| {
                    let base = p.base.parse().with_context(|| {
                        format!("invalid default-address-pools base {:?}", p.base)
                    })?;
                    Ok(berth_net::ipam::AddressPool { base, size: p.size })
                })
                .collect::<Result<_>>()?;
        }
        let default_log = berth_engine::containers::DefaultLogConfig {
            driver: file
                .log_driver
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| "json-file".into()),
            opts: file.log_opts,
        };
        default_log.validate().map_err(|e| {
            anyhow::anyhow!("invalid log-driver/log-opts in daemon.json: {}", e.message)
        })?;
        Ok(Config {
            default_log,
            data_root: flags
                .data_root
                .or(file.data_root)
                .unwrap_or_else(|| DEFAULT_DATA_ROOT.into()),
            exec_root: flags
                .exec_root
                .or(file.exec_root)
                .unwrap_or_else(|| DEFAULT_EXEC_ROOT.into()),
            socket: unix_socket(&host)?,
            log_level,
            shim_binary,
            cgroup_parent: flags
                .cgroup_parent
                .or(file.cgroup_parent)
                .unwrap_or_else(|| "berth".into()),
            network,
            plugin_dirs: file
                .plugin_dirs
                .unwrap_or_else(|| DEFAULT_PLUGIN_DIRS.iter().map(PathBuf::from).collect()),
            registry: berth_registry::ClientConfig {
                insecure_registries: file.insecure_registries,
                registry_mirrors: file.registry_mirrors,
                max_concurrent_downloads: file
                    .max_concurrent_downloads
                    .unwrap_or(defaults.max_concurrent_downloads),
                ..defaults
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file() {
        let dir = std::env::temp_dir().join(format!("berthd-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("daemon.json");
        std::fs::write(
            &file,
            r#"{"data-root": "/srv/berth", "hosts": ["unix:///tmp/x.sock"], "debug": true}"#,
        )
        .unwrap();
        let flags = Flags::parse_from([
            "berthd",
            "--config-file",
            file.to_str().unwrap(),
            "--exec-root",
            "/tmp/e",
        ]);
        let c = Config::load(flags).unwrap();
        assert_eq!(c.data_root, PathBuf::from("/srv/berth"));
        assert_eq!(c.exec_root, PathBuf::from("/tmp/e"));
        assert_eq!(c.socket, PathBuf::from("/tmp/x.sock"));
        assert_eq!(c.log_level, "debug");
        std::fs::write(&file, "{not json").unwrap();
        let flags = Flags::parse_from(["berthd", "--config-file", file.to_str().unwrap()]);
        assert!(
            Config::load(flags)
                .unwrap_err()
                .to_string()
                .contains("invalid configuration file")
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(unix_socket("tcp://0.0.0.0:2375").is_err());
    }

    #[test]
    fn registry_and_plugin_settings_come_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("daemon.json");
        std::fs::write(
            &file,
            r#"{"insecure-registries": ["10.0.0.0/8"], "registry-mirrors": ["https://m.example"],
                "max-concurrent-downloads": 5, "plugin-dirs": ["/srv/plugins"]}"#,
        )
        .unwrap();
        let c = Config::load(Flags::parse_from([
            "berthd",
            "--config-file",
            file.to_str().unwrap(),
        ]))
        .unwrap();
        assert_eq!(c.registry.insecure_registries, ["10.0.0.0/8"]);
        assert_eq!(c.registry.registry_mirrors, ["https://m.example"]);
        assert_eq!(c.registry.max_concurrent_downloads, 5);
        assert_eq!(c.plugin_dirs, [PathBuf::from("/srv/plugins")]);
        std::fs::write(&file, "{}").unwrap();
        let c = Config::load(Flags::parse_from([
            "berthd",
            "--config-file",
            file.to_str().unwrap(),
        ]))
        .unwrap();
        assert_eq!(c.registry.max_concurrent_downloads, 3);
        assert_eq!(c.plugin_dirs[0], PathBuf::from("/run/docker/plugins"));
    }

    #[test]
    fn log_defaults_come_from_the_file_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("daemon.json");
        let load = |json: &str| {
            std::fs::write(&file, json).unwrap();
            Config::load(Flags::parse_from([
                "berthd",
                "--config-file",
                file.to_str().unwrap(),
            ]))
        };
        let c = load(r#"{"log-driver": "local", "log-opts": {"max-size": "10m"}}"#).unwrap();
        assert_eq!(c.default_log.driver, "local");
        assert_eq!(c.default_log.opts["max-size"], "10m");
        assert_eq!(load("{}").unwrap().default_log.driver, "json-file");
        let e = load(r#"{"log-opts": {"max-sise": "10m"}}"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("unknown log opt 'max-sise' for json-file log driver"),
            "{e}"
        );
        assert!(load(r#"{"log-driver": "nosuch"}"#).is_err());
    }
}
