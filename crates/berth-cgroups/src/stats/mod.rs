//! Resource usage of a cgroup: what `docker stats` and the Engine API's
//! `/containers/{id}/stats` report.

pub(crate) mod parse;
mod v1;
mod v2;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::cgroup::Cgroup;
use crate::cgroup_file;
use crate::error::Result;

/// A snapshot of a cgroup's usage. A section is `None` when its controller is absent (not
/// mounted on v1, not enabled on v2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub cpu: Option<CpuStats>,
    pub memory: Option<MemoryStats>,
    pub pids: Option<PidsStats>,
    /// Block io per device.
    pub io: Option<Vec<DeviceIo>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuStats {
    pub usage_total_ns: u64,
    pub usage_user_ns: u64,
    pub usage_system_ns: u64,
    /// Usage per CPU, by CPU number: v1 only (`cpuacct.usage_percpu`), empty on v2.
    pub usage_per_cpu_ns: Vec<u64>,
    pub throttling: CpuThrottling,
}

/// CFS bandwidth control: how often the cgroup ran out of quota (all 0 without a quota).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuThrottling {
    pub periods: u64,
    pub throttled_periods: u64,
    pub throttled_time_ns: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// Bytes charged, page cache included: v1 `memory.usage_in_bytes`, v2 `memory.current`.
    pub usage: u64,
    /// Highest usage seen: v1 `memory.max_usage_in_bytes`, v2 `memory.peak` (Linux 5.19+).
    pub max_usage: Option<u64>,
    /// `None` when unlimited.
    pub limit: Option<u64>,
    /// How often usage hit the limit: v1 only.
    pub failcnt: Option<u64>,
    /// Inactive page cache, which `docker stats` subtracts from `usage`: v1
    /// `total_inactive_file`, v2 `inactive_file` (0 when absent).
    pub inactive_file: u64,
    /// `memory.stat` as the kernel reports it (its keys differ between v1 and v2).
    pub stat: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidsStats {
    pub current: u64,
    /// `None` when unlimited.
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceIo {
    pub major: u64,
    pub minor: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub read_ops: u64,
    pub write_ops: u64,
}

impl Cgroup {
    /// The cgroup's current usage: from its v1 hierarchies on v1 and hybrid hosts, from its v2
    /// directory on pure v2 hosts.
    pub fn stats(&self) -> Result<Stats> {
        match self.v2_resource_dir() {
            Some(dir) => v2::collect(&dir),
            None => v1::collect(self),
        }
    }
}

/// `pids.current` and `pids.max`, the same files on v1 and v2.
fn pids_stats(dir: &Path) -> Result<PidsStats> {
    let max = dir.join("pids.max");
    Ok(PidsStats {
        current: cgroup_file::read_number(&dir.join("pids.current"))?,
        limit: cgroup_file::parse_with(&max, &cgroup_file::read(&max)?, parse::limit)?,
    })
}

/// A flat-keyed file (`key value` lines) read into a map.
fn read_flat_keyed(path: &Path) -> Result<BTreeMap<String, u64>> {
    cgroup_file::parse_with(path, &cgroup_file::read(path)?, parse::flat_keyed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_serialize_with_their_field_names() {
        let stats = Stats {
            pids: Some(PidsStats {
                current: 3,
                limit: None,
            }),
            ..Stats::default()
        };
        let json = serde_json::to_value(&stats).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"cpu": null, "memory": null, "pids": {"current": 3, "limit": null}, "io": null})
        );
        assert_eq!(serde_json::from_value::<Stats>(json).unwrap(), stats);
    }
}
