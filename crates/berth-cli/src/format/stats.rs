//! `stats`: what one sample of a container's statistics shows, computed as docker computes
//! it (CPU % from the change since the previous sample, memory without the page cache), and
//! the row its templates see.

use std::collections::HashMap;

use bollard::models::{
    ContainerBlkioStats, ContainerMemoryStats, ContainerNetworkStats, ContainerStatsResponse,
};
use serde_json::{Value, json};

use super::containers::truncate_id;
use super::units::{binary_size, human_size};

pub const TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// What docker shows for a value it does not have.
const NO_VALUE: &str = "--";

pub fn headers() -> Value {
    json!({
        "Container": "CONTAINER",
        "Name": "NAME",
        "ID": "CONTAINER ID",
        "CPUPerc": "CPU %",
        "MemUsage": "MEM USAGE / LIMIT",
        "MemPerc": "MEM %",
        "NetIO": "NET I/O",
        "BlockIO": "BLOCK I/O",
        "PIDs": "PIDS",
    })
}

/// One container's latest figures. `invalid`: there are none to show (no sample in time,
/// or the stream failed), and the row shows dashes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entry {
    /// The container as it was asked for (name or ID).
    pub container: String,
    pub name: String,
    pub id: String,
    pub cpu_percentage: f64,
    pub memory: f64,
    pub memory_limit: f64,
    pub memory_percentage: f64,
    pub network_rx: f64,
    pub network_tx: f64,
    pub block_read: f64,
    pub block_write: f64,
    pub pids: u64,
    pub invalid: bool,
}

impl Entry {
    pub fn new(container: &str) -> Self {
        Entry {
            container: container.to_string(),
            ..Default::default()
        }
    }

    /// The figures of one sample.
    pub fn from_sample(container: &str, sample: &ContainerStatsResponse) -> Self {
        let memory_stats = sample.memory_stats.clone().unwrap_or_default();
        let memory = memory_without_cache(&memory_stats);
        let memory_limit = memory_stats.limit.unwrap_or_default() as f64;
        let (block_read, block_write) = block_io(sample.blkio_stats.as_ref());
        let (network_rx, network_tx) = network_io(sample.networks.as_ref());
        Entry {
            container: container.to_string(),
            name: sample.name.clone().unwrap_or_default(),
            id: sample.id.clone().unwrap_or_default(),
            cpu_percentage: cpu_percent(sample),
            memory,
            memory_limit,
            memory_percentage: memory_percent(memory, memory_limit),
            network_rx,
            network_tx,
            block_read: block_read as f64,
            block_write: block_write as f64,
            pids: sample
                .pids_stats
                .as_ref()
                .and_then(|p| p.current)
                .unwrap_or_default(),
            invalid: false,
        }
    }

    /// The figures are gone (no sample in time): zeros, shown as dashes.
    pub fn reset(&mut self) {
        *self = Entry {
            container: std::mem::take(&mut self.container),
            name: std::mem::take(&mut self.name),
            id: std::mem::take(&mut self.id),
            invalid: true,
            ..Default::default()
        };
    }
}

/// CPU use as a percentage of one CPU: the container's share of the system's CPU time since
/// the previous sample, times the CPUs online.
pub fn cpu_percent(sample: &ContainerStatsResponse) -> f64 {
    let cpu = sample.cpu_stats.clone().unwrap_or_default();
    let previous = sample.precpu_stats.clone().unwrap_or_default();
    let total = |stats: &bollard::models::ContainerCpuStats| {
        stats
            .cpu_usage
            .as_ref()
            .and_then(|u| u.total_usage)
            .unwrap_or_default() as f64
    };
    let cpu_delta = total(&cpu) - total(&previous);
    let system_delta = cpu.system_cpu_usage.unwrap_or_default() as f64
        - previous.system_cpu_usage.unwrap_or_default() as f64;
    let mut online = f64::from(cpu.online_cpus.unwrap_or_default());
    if online == 0.0 {
        online = cpu
            .cpu_usage
            .as_ref()
            .and_then(|u| u.percpu_usage.as_ref())
            .map_or(0, Vec::len) as f64;
    }
    if system_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / system_delta * online * 100.0
    } else {
        0.0
    }
}

/// Memory in use without the inactive page cache, which the kernel can reclaim (cgroup v1's
/// `total_inactive_file`, v2's `inactive_file`).
pub fn memory_without_cache(memory: &ContainerMemoryStats) -> f64 {
    let usage = memory.usage.unwrap_or_default();
    let stats = memory.stats.as_ref();
    let stat = |key: &str| stats.and_then(|s| s.get(key)).copied();
    if let Some(inactive) = stat("total_inactive_file")
        && inactive < usage
    {
        return (usage - inactive) as f64;
    }
    let inactive = stat("inactive_file").unwrap_or_default();
    if inactive < usage {
        return (usage - inactive) as f64;
    }
    usage as f64
}

pub fn memory_percent(used: f64, limit: f64) -> f64 {
    if limit == 0.0 {
        0.0
    } else {
        used / limit * 100.0
    }
}

/// Bytes read and written, summed over devices.
fn block_io(blkio: Option<&ContainerBlkioStats>) -> (u64, u64) {
    let entries = blkio
        .and_then(|b| b.io_service_bytes_recursive.as_deref())
        .unwrap_or_default();
    let mut totals = (0, 0);
    for entry in entries {
        let value = entry.value.unwrap_or_default();
        match entry.op.as_deref().and_then(|op| op.chars().next()) {
            Some('r' | 'R') => totals.0 += value,
            Some('w' | 'W') => totals.1 += value,
            _ => {}
        }
    }
    totals
}

/// Bytes received and sent, summed over interfaces.
fn network_io(networks: Option<&HashMap<String, ContainerNetworkStats>>) -> (f64, f64) {
    networks
        .into_iter()
        .flatten()
        .fold((0.0, 0.0), |(rx, tx), (_, n)| {
            (
                rx + n.rx_bytes.unwrap_or_default() as f64,
                tx + n.tx_bytes.unwrap_or_default() as f64,
            )
        })
}

/// The row for `entry`; `trunc` shortens the ID.
pub fn row(entry: &Entry, trunc: bool) -> Value {
    let valid = |text: String| {
        if entry.invalid {
            NO_VALUE.to_string()
        } else {
            text
        }
    };
    let percent = |value: f64| format!("{value:.2}%");
    let pair =
        |a: f64, b: f64| format!("{} / {}", human_size(a as i64, 3), human_size(b as i64, 3));
    json!({
        "Container": entry.container,
        "Name": entry.name.get(1..).filter(|n| !n.is_empty()).unwrap_or(NO_VALUE),
        "ID": if trunc { truncate_id(&entry.id) } else { entry.id.clone() },
        "CPUPerc": valid(percent(entry.cpu_percentage)),
        "MemUsage": if entry.invalid {
            "-- / --".to_string()
        } else {
            format!("{} / {}", binary_size(entry.memory as i64), binary_size(entry.memory_limit as i64))
        },
        "MemPerc": valid(percent(entry.memory_percentage)),
        "NetIO": valid(pair(entry.network_rx, entry.network_tx)),
        "BlockIO": valid(pair(entry.block_read, entry.block_write)),
        "PIDs": valid(entry.pids.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(value: Value) -> ContainerStatsResponse {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn cpu_percent_is_the_share_since_the_previous_sample() {
        let stats = sample(json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 400_000_000}, "system_cpu_usage": 20_000_000_000u64, "online_cpus": 4},
            "precpu_stats": {"cpu_usage": {"total_usage": 200_000_000}, "system_cpu_usage": 18_000_000_000u64},
        }));
        // 0.2s of 2s of system time, on 4 CPUs.
        assert!((cpu_percent(&stats) - 40.0).abs() < 1e-9);
        // Without online_cpus, the per-CPU list counts them.
        let stats = sample(json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 300, "percpu_usage": [1, 2]}, "system_cpu_usage": 1000},
            "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 600},
        }));
        assert!((cpu_percent(&stats) - 100.0).abs() < 1e-9);
        // No change, or no previous sample of the system: nothing.
        let idle = sample(json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000, "online_cpus": 1},
            "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 500},
        }));
        assert_eq!(cpu_percent(&idle), 0.0);
        assert_eq!(cpu_percent(&sample(json!({}))), 0.0);
    }

    #[test]
    fn memory_leaves_out_the_inactive_cache() {
        let memory = |value: Value| serde_json::from_value::<ContainerMemoryStats>(value).unwrap();
        // cgroup v1
        let v1 = memory(
            json!({"usage": 10_000, "limit": 40_000, "stats": {"total_inactive_file": 2_000, "inactive_file": 1}}),
        );
        assert_eq!(memory_without_cache(&v1), 8_000.0);
        // cgroup v2
        let v2 = memory(json!({"usage": 10_000, "stats": {"inactive_file": 4_000}}));
        assert_eq!(memory_without_cache(&v2), 6_000.0);
        // A cache figure larger than the usage is ignored.
        let odd =
            memory(json!({"usage": 10, "stats": {"total_inactive_file": 20, "inactive_file": 30}}));
        assert_eq!(memory_without_cache(&odd), 10.0);
        assert_eq!(memory_without_cache(&memory(json!({}))), 0.0);
        assert_eq!(memory_percent(8_000.0, 40_000.0), 20.0);
        assert_eq!(memory_percent(8_000.0, 0.0), 0.0);
    }

    #[test]
    fn rows_render_like_docker() {
        let stats = sample(json!({
            "name": "/web",
            "id": "15f071575ca6500474f7bd01836d89b9f0462395c4e8367622e60c78e313aaa1",
            "cpu_stats": {"cpu_usage": {"total_usage": 1_234_567}, "system_cpu_usage": 100_000_000, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 0}, "system_cpu_usage": 0},
            "memory_stats": {"usage": 3_461_120, "limit": 8_201_240_576u64, "stats": {"inactive_file": 0}},
            "networks": {"eth0": {"rx_bytes": 1_046, "tx_bytes": 0}, "eth1": {"rx_bytes": 1_000, "tx_bytes": 5}},
            "blkio_stats": {"io_service_bytes_recursive": [
                {"major": 8, "minor": 0, "op": "read", "value": 4_096},
                {"major": 8, "minor": 0, "op": "Write", "value": 1_000_000},
                {"major": 8, "minor": 0, "op": "total", "value": 1_004_096},
            ]},
            "pids_stats": {"current": 3},
        }));
        let entry = Entry::from_sample("web", &stats);
        let row = row(&entry, true);
        assert_eq!(row["Container"], "web");
        assert_eq!(row["Name"], "web");
        assert_eq!(row["ID"], "15f071575ca6");
        assert_eq!(row["CPUPerc"], "2.47%");
        assert_eq!(row["MemUsage"], "3.301MiB / 7.638GiB");
        assert_eq!(row["MemPerc"], "0.04%");
        assert_eq!(row["NetIO"], "2.05kB / 5B");
        assert_eq!(row["BlockIO"], "4.1kB / 1MB");
        assert_eq!(row["PIDs"], "3");

        let mut gone = entry.clone();
        gone.reset();
        let row = super::row(&gone, true);
        assert_eq!(row["Name"], "web");
        assert_eq!(row["CPUPerc"], "--");
        assert_eq!(row["MemUsage"], "-- / --");
        assert_eq!(row["PIDs"], "--");
        // A stopped container's sample: no name from the daemon shows dashes.
        let empty = super::row(&Entry::new("x"), false);
        assert_eq!(empty["Name"], "--");
        assert_eq!(empty["MemUsage"], "0B / 0B");
    }
}
