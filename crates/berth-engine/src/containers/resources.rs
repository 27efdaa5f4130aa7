//! A container's cgroup: Docker's resource flags (HostConfig) as OCI resources, the cgroup's
//! path, and the stats Docker's `/stats` shows.

use super::model::Container;
use crate::error::{Error, Result};
use berth_cgroups::Stats;
use serde_json::{Map, Value, json};

/// Docker's CPU period when `--cpus` sets a quota.
const CPU_PERIOD: i64 = 100_000;

fn positive(v: &Value) -> Option<i64> {
    v.as_i64().filter(|n| *n > 0)
}

/// The OCI resources for a container's HostConfig, with Docker's meanings: a memory limit
/// without `--memory-swap` allows as much swap again; `--cpus` becomes a quota per 100 ms.
pub fn from_host_config(hc: &Value) -> Result<oci_spec::runtime::LinuxResources> {
    let mut memory = Map::new();
    if let Some(limit) = positive(&hc["Memory"]) {
        memory.insert("limit".into(), json!(limit));
        match hc["MemorySwap"].as_i64().unwrap_or(0) {
            0 => {
                memory.insert("swap".into(), json!(limit * 2));
            }
            -1 => {
                memory.insert("swap".into(), json!(-1));
            }
            swap if swap < limit => {
                return Err(Error::invalid(
                    "Minimum memoryswap limit should be larger than memory limit, see usage",
                ));
            }
            swap => {
                memory.insert("swap".into(), json!(swap));
            }
        }
    }
    if let Some(reservation) = positive(&hc["MemoryReservation"]) {
        memory.insert("reservation".into(), json!(reservation));
    }
    if hc["OomKillDisable"].as_bool() == Some(true) {
        memory.insert("disableOOMKiller".into(), json!(true));
    }
    if let Some(swappiness) = hc["MemorySwappiness"].as_i64().filter(|s| *s >= 0) {
        memory.insert("swappiness".into(), json!(swappiness));
    }
    let mut cpu = Map::new();
    if let Some(shares) = positive(&hc["CpuShares"]) {
        cpu.insert("shares".into(), json!(shares));
    }
    let nano = positive(&hc["NanoCpus"]);
    if nano.is_some()
        && (positive(&hc["CpuQuota"]).is_some() || positive(&hc["CpuPeriod"]).is_some())
    {
        return Err(Error::invalid(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ));
    }
    if let Some(nano) = nano {
        cpu.insert("period".into(), json!(CPU_PERIOD));
        cpu.insert("quota".into(), json!(nano * CPU_PERIOD / 1_000_000_000));
    }
    if let Some(quota) = positive(&hc["CpuQuota"]) {
        cpu.insert("quota".into(), json!(quota));
    }
    if let Some(period) = positive(&hc["CpuPeriod"]) {
        cpu.insert("period".into(), json!(period));
    }
    for (key, field) in [("cpus", "CpusetCpus"), ("mems", "CpusetMems")] {
        if let Some(v) = hc[field].as_str().filter(|v| !v.is_empty()) {
            cpu.insert(key.into(), json!(v));
        }
    }
    let mut resources = json!({});
    if !memory.is_empty() {
        resources["memory"] = Value::Object(memory);
    }
    if !cpu.is_empty() {
        resources["cpu"] = Value::Object(cpu);
    }
    // A negative limit is "unlimited", written as such so an update can lift a limit.
    match hc["PidsLimit"].as_i64() {
        Some(limit) if limit > 0 => resources["pids"] = json!({"limit": limit}),
        Some(limit) if limit < 0 => resources["pids"] = json!({"limit": -1}),
        _ => {}
    }
    let block_io = block_io(hc)?;
    if !block_io.is_empty() {
        resources["blockIO"] = Value::Object(block_io);
    }
    let (_, device_rules) = super::security::devices(hc)?;
    resources["devices"] = json!(device_rules);
    serde_json::from_value(resources).map_err(|e| Error::invalid(format!("invalid resources: {e}")))
}

/// `--blkio-weight`, `--blkio-weight-device` and the `--device-{read,write}-{bps,iops}`
/// throttles, per block device named by its host path.
fn block_io(hc: &Value) -> Result<Map<String, Value>> {
    let mut block_io = Map::new();
    if let Some(weight) = positive(&hc["BlkioWeight"]) {
        block_io.insert("weight".into(), json!(weight));
    }
    let lists = [
        ("BlkioWeightDevice", "weightDevice", "Weight", "weight"),
        (
            "BlkioDeviceReadBps",
            "throttleReadBpsDevice",
            "Rate",
            "rate",
        ),
        (
            "BlkioDeviceWriteBps",
            "throttleWriteBpsDevice",
            "Rate",
            "rate",
        ),
        (
            "BlkioDeviceReadIOps",
            "throttleReadIOPSDevice",
            "Rate",
            "rate",
        ),
        (
            "BlkioDeviceWriteIOps",
            "throttleWriteIOPSDevice",
            "Rate",
            "rate",
        ),
    ];
    for (field, oci, value_field, oci_value) in lists {
        let mut devices = Vec::new();
        for entry in hc[field].as_array().into_iter().flatten() {
            let path = entry["Path"].as_str().unwrap_or_default();
            let (major, minor) = block_device(path)?;
            let value = entry[value_field].as_u64().ok_or_else(|| {
                Error::invalid(format!(
                    "{field}: {path} needs a non-negative {value_field}"
                ))
            })?;
            devices.push(json!({"major": major, "minor": minor, oci_value: value}));
        }
        if !devices.is_empty() {
            block_io.insert(oci.into(), Value::Array(devices));
        }
    }
    Ok(block_io)
}

/// The major and minor numbers of the block device at `path` on the host.
fn block_device(path: &str) -> Result<(u64, u64)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::invalid(format!("error getting device {path}: {e}")))?;
    if !meta.file_type().is_block_device() {
        return Err(Error::invalid(format!("{path} is not a block device")));
    }
    Ok((
        libc::major(meta.rdev()).into(),
        libc::minor(meta.rdev()).into(),
    ))
}

/// `<cgroup parent>/<id>`: the container's own parent when it named one, else berthd's.
pub fn cgroup_path(c: &Container, default_parent: &str) -> String {
    let parent = c.host_config["CgroupParent"]
        .as_str()
        .filter(|p| !p.is_empty())
        .unwrap_or(default_parent);
    format!("{}/{}", parent.trim_matches('/'), c.id)
}

/// Total CPU time of the host in nanoseconds, from /proc/stat (Docker's system_cpu_usage).
fn system_cpu_usage() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .next()
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(7)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    ticks * (1_000_000_000 / hz)
}

fn cpu_json(s: &Stats, online: usize) -> Value {
    let Some(cpu) = &s.cpu else {
        return json!({"cpu_usage": {"total_usage": 0}, "throttling_data": {}});
    };
    json!({
        "cpu_usage": {
            "total_usage": cpu.usage_total_ns,
            "percpu_usage": cpu.usage_per_cpu_ns,
            "usage_in_kernelmode": cpu.usage_system_ns,
            "usage_in_usermode": cpu.usage_user_ns
        },
        "system_cpu_usage": system_cpu_usage(),
        "online_cpus": online,
        "throttling_data": {
            "periods": cpu.throttling.periods,
            "throttled_periods": cpu.throttling.throttled_periods,
            "throttled_time": cpu.throttling.throttled_time_ns
        }
    })
}

/// One `/containers/{id}/stats` sample in Docker's shape; `previous` fills `precpu_stats`.
pub fn stats_json(
    c: &Container,
    now: &Stats,
    previous: Option<&Stats>,
    read: &str,
    preread: &str,
) -> Value {
    let online = std::thread::available_parallelism().map_or(1, |n| n.get());
    let memory = now.memory.as_ref().map_or(json!({}), |m| {
        json!({"usage": m.usage, "max_usage": m.max_usage, "limit": m.limit.unwrap_or(0), "failcnt": m.failcnt, "stats": m.stat})
    });
    let io: Vec<Value> = now
        .io
        .iter()
        .flatten()
        .flat_map(|d| {
            [("read", d.read_bytes), ("write", d.write_bytes)].map(
                |(op, value)| json!({"major": d.major, "minor": d.minor, "op": op, "value": value}),
            )
        })
        .collect();
    json!({
        "name": format!("/{}", c.name),
        "id": c.id,
        "read": read,
        "preread": preread,
        "pids_stats": now.pids.as_ref().map_or(json!({}), |p| json!({"current": p.current, "limit": p.limit})),
        "blkio_stats": {"io_service_bytes_recursive": io},
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu_json(now, online),
        "precpu_stats": previous.map_or(json!({"cpu_usage": {"total_usage": 0}, "throttling_data": {}}), |p| cpu_json(p, online)),
        "memory_stats": memory
    })
}

impl crate::Engine {
    /// `GET /containers/{id}/stats`: one sample (`stream=false`, after a second so CPU use can
    /// be computed; at once with `one-shot`), or one a second until the client goes.
    pub async fn stats_stream(
        self: &std::sync::Arc<Self>,
        name: &str,
        stream: bool,
        one_shot: bool,
    ) -> Result<tokio::sync::mpsc::Receiver<bytes::Bytes>> {
        let (c, first) = self.container_stats(name).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let engine = self.clone();
        tokio::spawn(async move {
            let mut previous: Option<(Stats, String)> = None;
            let mut current = (first, crate::clock::now());
            loop {
                let wait_for_previous = previous.is_none() && !one_shot;
                if !wait_for_previous {
                    let (prev, preread) = match &previous {
                        Some((s, t)) => (Some(s), t.as_str()),
                        None => (None, crate::clock::ZERO_TIME),
                    };
                    let body =
                        stats_json(&c, &current.0, prev, &current.1, preread).to_string() + "\n";
                    if tx.send(bytes::Bytes::from(body)).await.is_err() || !stream {
                        return;
                    }
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                let Ok((_, next)) = engine.container_stats(&c.id).await else {
                    return;
                };
                previous = Some(std::mem::replace(&mut current, (next, crate::clock::now())));
            }
        });
        Ok(rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_flags_become_oci_resources() {
        let r = from_host_config(&json!({"Memory": 1000, "NanoCpus": 1_500_000_000i64, "PidsLimit": 10, "CpusetCpus": "0"})).unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["memory"]["limit"], 1000);
        assert_eq!(v["memory"]["swap"], 2000);
        assert_eq!(v["cpu"]["quota"], 150_000);
        assert_eq!(v["cpu"]["period"], 100_000);
        assert_eq!(v["cpu"]["cpus"], "0");
        assert_eq!(v["pids"]["limit"], 10);
        assert!(from_host_config(&json!({"Memory": 1000, "MemorySwap": 500})).is_err());
        assert!(from_host_config(&json!({"NanoCpus": 1, "CpuQuota": 5})).is_err());
        let none =
            serde_json::to_value(from_host_config(&json!({"PidsLimit": 0, "Memory": 0})).unwrap())
                .unwrap();
        assert!(
            none.get("memory").is_none() && none.get("pids").is_none(),
            "{none}"
        );
        let unlimited = from_host_config(&json!({"PidsLimit": -1})).unwrap();
        assert_eq!(
            serde_json::to_value(&unlimited).unwrap()["pids"]["limit"],
            -1
        );
    }
}
