//! The container configuration flags of `run` and `create` beyond the basics, grouped as
//! docker's help groups them: networking, storage, resources, security and health checks.

use bollard::models::{Mount, ResourcesBlkioWeightDevice, ResourcesUlimits, ThrottleDevice};
use clap::Args;
use jiff::SignedDuration;

use crate::format::time::parse_go_duration;
use crate::opts::mounts::parse_mount;
use crate::opts::network::{
    Attachment, parse_attachment, parse_dns_search, parse_extra_host, parse_ip_address,
    parse_mac_address,
};
use crate::opts::resources::{
    parse_cpus, parse_device_cgroup_rule, parse_memory_swap, parse_sysctl, parse_throttle_bps,
    parse_throttle_iops, parse_ulimit, parse_weight_device, ram_in_bytes,
};

#[derive(Debug, Args)]
pub struct NetworkFlags {
    /// Connect a container to a network
    #[arg(long = "network", alias = "net", value_name = "network", value_parser = parse_attachment)]
    pub networks: Vec<Attachment>,

    /// Add network-scoped alias for the container
    #[arg(long = "network-alias", alias = "net-alias", value_name = "list")]
    pub aliases: Vec<String>,

    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long = "ip", value_name = "string")]
    pub ipv4: Option<String>,

    /// IPv6 address (e.g., 2001:db8::33)
    #[arg(long = "ip6", value_name = "string")]
    pub ipv6: Option<String>,

    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(long = "mac-address", value_name = "string", value_parser = parse_mac_address)]
    pub mac_address: Option<String>,

    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long = "publish", value_name = "list")]
    pub publish: Vec<String>,

    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,

    /// Expose a port or a range of ports
    #[arg(long, value_name = "list")]
    pub expose: Vec<String>,

    /// Set custom DNS servers
    #[arg(long, value_name = "list", value_parser = parse_ip_address)]
    pub dns: Vec<String>,

    /// Set custom DNS search domains
    #[arg(long = "dns-search", value_name = "list", value_parser = parse_dns_search)]
    pub dns_search: Vec<String>,

    /// Set DNS options
    #[arg(long = "dns-option", alias = "dns-opt", value_name = "list")]
    pub dns_options: Vec<String>,

    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host", value_name = "list", value_parser = parse_extra_host)]
    pub extra_hosts: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StorageFlags {
    /// Bind mount a volume
    #[arg(short = 'v', long = "volume", value_name = "list")]
    pub volumes: Vec<String>,

    /// Attach a filesystem mount to the container
    #[arg(long = "mount", value_name = "mount", value_parser = parse_mount)]
    pub mounts: Vec<Mount>,

    /// Mount a tmpfs directory
    #[arg(long, value_name = "list")]
    pub tmpfs: Vec<String>,

    /// Mount volumes from the specified container(s)
    #[arg(long = "volumes-from", value_name = "list")]
    pub volumes_from: Vec<String>,

    /// Size of /dev/shm
    #[arg(long = "shm-size", value_name = "bytes", value_parser = ram_in_bytes)]
    pub shm_size: Option<i64>,
}

#[derive(Debug, Args)]
pub struct ResourceFlags {
    /// Memory limit
    #[arg(short = 'm', long, value_name = "bytes", value_parser = ram_in_bytes)]
    pub memory: Option<i64>,

    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long = "memory-swap", value_name = "bytes", allow_hyphen_values = true, value_parser = parse_memory_swap)]
    pub memory_swap: Option<i64>,

    /// Memory soft limit
    #[arg(long = "memory-reservation", value_name = "bytes", value_parser = ram_in_bytes)]
    pub memory_reservation: Option<i64>,

    /// Number of CPUs
    #[arg(long, value_name = "decimal", value_parser = parse_cpus)]
    pub cpus: Option<i64>,

    /// CPU shares (relative weight)
    #[arg(
        short = 'c',
        long = "cpu-shares",
        value_name = "int",
        allow_negative_numbers = true
    )]
    pub cpu_shares: Option<i64>,

    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period", value_name = "int", allow_negative_numbers = true)]
    pub cpu_period: Option<i64>,

    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", value_name = "int", allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,

    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus", value_name = "string")]
    pub cpuset_cpus: Option<String>,

    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems", value_name = "string")]
    pub cpuset_mems: Option<String>,

    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", value_name = "int", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,

    /// Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)
    #[arg(long = "blkio-weight", value_name = "uint16")]
    pub blkio_weight: Option<u16>,

    /// Tune host's OOM preferences (-1000 to 1000)
    #[arg(
        long = "oom-score-adj",
        value_name = "int",
        allow_negative_numbers = true
    )]
    pub oom_score_adj: Option<i64>,

    /// Optional parent cgroup for the container
    #[arg(long = "cgroup-parent", value_name = "string")]
    pub cgroup_parent: Option<String>,

    /// Ulimit options
    #[arg(long = "ulimit", value_name = "ulimit", allow_hyphen_values = true, value_parser = parse_ulimit)]
    pub ulimits: Vec<ResourcesUlimits>,

    /// Add a host device to the container
    #[arg(long = "device", value_name = "list")]
    pub devices: Vec<String>,

    /// Add a rule to the cgroup allowed devices list
    #[arg(long = "device-cgroup-rule", value_name = "list", value_parser = parse_device_cgroup_rule)]
    pub device_cgroup_rules: Vec<String>,

    /// Disable OOM Killer
    #[arg(long = "oom-kill-disable")]
    pub oom_kill_disable: bool,

    /// Tune container memory swappiness (0 to 100) (default -1)
    #[arg(
        long = "memory-swappiness",
        value_name = "int",
        allow_negative_numbers = true
    )]
    pub memory_swappiness: Option<i64>,

    /// Block IO weight (relative device weight)
    #[arg(long = "blkio-weight-device", value_name = "list", value_parser = parse_weight_device)]
    pub blkio_weight_device: Vec<ResourcesBlkioWeightDevice>,

    /// Limit read rate (bytes per second) from a device
    #[arg(long = "device-read-bps", value_name = "list", value_parser = parse_throttle_bps)]
    pub device_read_bps: Vec<ThrottleDevice>,

    /// Limit write rate (bytes per second) to a device
    #[arg(long = "device-write-bps", value_name = "list", value_parser = parse_throttle_bps)]
    pub device_write_bps: Vec<ThrottleDevice>,

    /// Limit read rate (IO per second) from a device
    #[arg(long = "device-read-iops", value_name = "list", value_parser = parse_throttle_iops)]
    pub device_read_iops: Vec<ThrottleDevice>,

    /// Limit write rate (IO per second) to a device
    #[arg(long = "device-write-iops", value_name = "list", value_parser = parse_throttle_iops)]
    pub device_write_iops: Vec<ThrottleDevice>,
}

/// Which namespaces the container shares, and its names and groups in them.
#[derive(Debug, Args)]
pub struct NamespaceFlags {
    /// IPC mode to use
    #[arg(long, value_name = "string")]
    pub ipc: Option<String>,

    /// PID namespace to use
    #[arg(long, value_name = "string")]
    pub pid: Option<String>,

    /// UTS namespace to use
    #[arg(long, value_name = "string")]
    pub uts: Option<String>,

    /// Cgroup namespace to use (host|private)
    #[arg(long, value_name = "string")]
    pub cgroupns: Option<String>,

    /// Container NIS domain name
    #[arg(long, value_name = "string")]
    pub domainname: Option<String>,

    /// Add additional groups to join
    #[arg(long = "group-add", value_name = "list")]
    pub group_add: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SecurityFlags {
    /// Add Linux capabilities
    #[arg(long = "cap-add", value_name = "list")]
    pub cap_add: Vec<String>,

    /// Drop Linux capabilities
    #[arg(long = "cap-drop", value_name = "list")]
    pub cap_drop: Vec<String>,

    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,

    /// Security Options
    #[arg(long = "security-opt", value_name = "list")]
    pub security_opt: Vec<String>,

    /// Sysctl options
    #[arg(long = "sysctl", value_name = "map", value_parser = parse_sysctl)]
    pub sysctls: Vec<(String, String)>,
}

#[derive(Debug, Args)]
pub struct HealthFlags {
    /// Command to run to check health
    #[arg(long = "health-cmd", value_name = "string")]
    pub cmd: Option<String>,

    /// Time between running the check (ms|s|m|h) (default 0s)
    #[arg(long = "health-interval", value_name = "duration", allow_hyphen_values = true, value_parser = parse_duration)]
    pub interval: Option<SignedDuration>,

    /// Maximum time to allow one check to run (ms|s|m|h) (default 0s)
    #[arg(long = "health-timeout", value_name = "duration", allow_hyphen_values = true, value_parser = parse_duration)]
    pub timeout: Option<SignedDuration>,

    /// Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)
    #[arg(long = "health-start-period", value_name = "duration", allow_hyphen_values = true, value_parser = parse_duration)]
    pub start_period: Option<SignedDuration>,

    /// Time between running the check during the start period (ms|s|m|h) (default 0s)
    #[arg(long = "health-start-interval", value_name = "duration", allow_hyphen_values = true, value_parser = parse_duration)]
    pub start_interval: Option<SignedDuration>,

    /// Consecutive failures needed to report unhealthy
    #[arg(
        long = "health-retries",
        value_name = "int",
        allow_negative_numbers = true
    )]
    pub retries: Option<i64>,

    /// Disable any container-specified HEALTHCHECK
    #[arg(long = "no-healthcheck")]
    pub disabled: bool,
}

/// A Go duration flag ("30s", "1m30s"), worded as Go reports one it cannot read.
fn parse_duration(text: &str) -> Result<SignedDuration, String> {
    parse_go_duration(text).ok_or_else(|| format!("time: invalid duration {text:?}"))
}
