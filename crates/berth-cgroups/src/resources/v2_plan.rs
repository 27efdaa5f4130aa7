//! The cgroup v2 files and values for a `LinuxResources`.
//!
//! Device rules are not part of it: v2 controls device access with an eBPF program attached to
//! the cgroup (`crate::devices`).

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use super::convert::{blkio_weight_to_io_weight, cpu_shares_to_weight};
use super::{
    FileWrite, HostFacts, block_throttles, checked_limit, cpuset, device_number, given,
    hugepage_size, pids_max,
};
use crate::error::{Error, Result};

pub(crate) fn plan(resources: &LinuxResources, facts: &HostFacts) -> Result<Vec<FileWrite>> {
    let mut plan = Vec::new();
    if let Some(memory) = resources.memory() {
        plan_memory(memory, facts, &mut plan)?;
    }
    if let Some(cpu) = resources.cpu() {
        plan_cpu(cpu, &mut plan)?;
        cpuset(cpu, &mut plan);
    }
    if let Some(pids) = resources.pids() {
        plan.extend(pids_max(pids.limit()));
    }
    if let Some(block_io) = resources.block_io() {
        plan_io(block_io, facts, &mut plan)?;
    }
    for limit in resources.hugepage_limits().iter().flatten() {
        let file = format!("hugetlb.{}.max", hugepage_size(limit)?);
        let value = checked_limit("hugepage limit", limit.limit())?;
        plan.push(FileWrite::new(file, max_or(value)));
    }
    if let Some(unified) = resources.unified() {
        let mut files: Vec<_> = unified.iter().collect();
        files.sort();
        for (file, value) in files {
            if file.is_empty() || file.contains('/') || file == "." || file == ".." {
                return Err(Error::InvalidResources(format!(
                    "unified: {file:?} is not a file name"
                )));
            }
            plan.push(FileWrite::new(file, value));
        }
    }
    Ok(plan)
}

/// v2 spells "unlimited" `max` where v1 takes -1.
fn max_or(value: i64) -> String {
    if value == -1 {
        "max".to_owned()
    } else {
        value.to_string()
    }
}

fn plan_memory(memory: &LinuxMemory, facts: &HostFacts, plan: &mut Vec<FileWrite>) -> Result<()> {
    let limit = given(memory.limit())
        .map(|v| checked_limit("memory limit", v))
        .transpose()?;
    let swap = given(memory.swap())
        .map(|v| checked_limit("memory+swap limit", v))
        .transpose()?;
    // OCI's swap is memory + swap; v2's memory.swap.max is the swap alone.
    let swap_max = match (limit, swap) {
        (Some(-1), None) | (_, Some(-1)) => Some("max".to_owned()),
        (_, None) => None,
        (None | Some(-1), Some(swap)) => {
            return Err(Error::InvalidResources(format!(
                "memory+swap limit {swap} needs a memory limit"
            )));
        }
        (Some(limit), Some(swap)) if swap < limit => {
            return Err(Error::InvalidResources(format!(
                "memory+swap limit {swap} is below the memory limit {limit}"
            )));
        }
        (Some(limit), Some(swap)) => Some((swap - limit).to_string()),
    };
    if let Some(limit) = limit {
        plan.push(FileWrite::new("memory.max", max_or(limit)));
    }
    if let Some(swap_max) = swap_max.filter(|_| facts.swap_accounting) {
        plan.push(FileWrite::new("memory.swap.max", swap_max));
    }
    if let Some(reservation) = given(memory.reservation()) {
        let reservation = checked_limit("memory reservation", reservation)?;
        plan.push(FileWrite::new("memory.low", max_or(reservation)));
    }
    Ok(())
}

fn plan_cpu(cpu: &LinuxCpu, plan: &mut Vec<FileWrite>) -> Result<()> {
    if given(cpu.realtime_runtime()).is_some() || given(cpu.realtime_period()).is_some() {
        return Err(Error::InvalidResources(
            "realtime cpu runtime and period cannot be set on cgroup v2".into(),
        ));
    }
    if let Some(shares) = given(cpu.shares()) {
        plan.push(FileWrite::new("cpu.weight", cpu_shares_to_weight(shares)));
    }
    let quota = given(cpu.quota())
        .map(|v| checked_limit("cpu quota", v))
        .transpose()?;
    let period = given(cpu.period());
    if quota.is_some() || period.is_some() {
        let quota = quota.map_or_else(|| "max".to_owned(), max_or);
        let value = match period {
            Some(period) => format!("{quota} {period}"),
            None => quota,
        };
        plan.push(FileWrite::new("cpu.max", value));
    }
    if let Some(burst) = cpu.burst() {
        plan.push(FileWrite::new("cpu.max.burst", burst));
    }
    if let Some(idle) = cpu.idle() {
        plan.push(FileWrite::new("cpu.idle", idle));
    }
    Ok(())
}

fn plan_io(block_io: &LinuxBlockIo, facts: &HostFacts, plan: &mut Vec<FileWrite>) -> Result<()> {
    // BFQ takes v1's 1..=1000 scale as is; io.weight has its own 1..=10000 one.
    let (file, weight): (_, fn(u16) -> u64) = if facts.bfq_weight {
        ("io.bfq.weight", u64::from)
    } else {
        ("io.weight", blkio_weight_to_io_weight)
    };
    if let Some(value) = given(block_io.weight()) {
        plan.push(FileWrite::new(file, weight(value)));
    }
    for device in block_io.weight_device().iter().flatten() {
        if let Some(value) = device.weight() {
            let number = device_number("weight device", device.major(), device.minor())?;
            plan.push(FileWrite::new(file, format!("{number} {}", weight(value))));
        }
    }
    for (throttle, devices) in block_throttles(block_io) {
        for device in devices {
            let number = device_number("io.max", device.major(), device.minor())?;
            let value = format!("{number} {}={}", throttle.v2_key(), device.rate());
            plan.push(FileWrite::new("io.max", value));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FACTS: HostFacts = HostFacts {
        swap_accounting: true,
        bfq_weight: false,
        memory_limit: None,
    };

    fn plan_of(resources: serde_json::Value, facts: HostFacts) -> Result<Vec<(String, String)>> {
        let resources: LinuxResources = serde_json::from_value(resources).unwrap();
        Ok(plan(&resources, &facts)?
            .into_iter()
            .map(|w| (w.file, w.value))
            .collect())
    }

    fn writes(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(f, v)| (f.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_docker_run_with_limits() {
        let plan = plan_of(
            json!({
                "memory": {"limit": 268435456, "reservation": 134217728, "swap": 536870912},
                "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1"},
                "pids": {"limit": 100},
                "blockIO": {
                    "weight": 500,
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 10}]
                },
                "devices": [{"allow": false, "access": "rwm"}],
                "hugepageLimits": [{"pageSize": "2MB", "limit": -1}]
            }),
            FACTS,
        )
        .unwrap();
        assert_eq!(
            plan,
            writes(&[
                ("memory.max", "268435456"),
                ("memory.swap.max", "268435456"),
                ("memory.low", "134217728"),
                ("cpu.weight", "100"),
                ("cpu.max", "50000 100000"),
                ("cpuset.cpus", "0-1"),
                ("pids.max", "100"),
                ("io.weight", "4950"),
                ("io.max", "8:0 rbps=1048576"),
                ("io.max", "8:0 wiops=10"),
                ("hugetlb.2MB.max", "max"),
            ])
        );
    }

    #[test]
    fn unlimited_memory_and_cpu() {
        let plan = plan_of(
            json!({"memory": {"limit": -1}, "cpu": {"quota": -1}}),
            FACTS,
        );
        assert_eq!(
            plan.unwrap(),
            writes(&[
                ("memory.max", "max"),
                ("memory.swap.max", "max"),
                ("cpu.max", "max"),
            ])
        );
        let plan = plan_of(json!({"cpu": {"period": 50000}}), FACTS);
        assert_eq!(plan.unwrap(), writes(&[("cpu.max", "max 50000")]));
        let plan = plan_of(json!({"memory": {"limit": 1048576, "swap": -1}}), FACTS);
        assert_eq!(
            plan.unwrap(),
            writes(&[("memory.max", "1048576"), ("memory.swap.max", "max")])
        );
    }

    #[test]
    fn swap_equal_to_memory_means_no_swap_and_is_skipped_without_accounting() {
        let request = json!({"memory": {"limit": 16777216, "swap": 16777216}});
        assert_eq!(
            plan_of(request.clone(), FACTS).unwrap(),
            writes(&[("memory.max", "16777216"), ("memory.swap.max", "0")])
        );
        let facts = HostFacts {
            swap_accounting: false,
            ..FACTS
        };
        assert_eq!(
            plan_of(request, facts).unwrap(),
            writes(&[("memory.max", "16777216")])
        );
    }

    #[test]
    fn bfq_weights_keep_the_v1_scale() {
        let facts = HostFacts {
            bfq_weight: true,
            ..FACTS
        };
        let plan = plan_of(
            json!({"blockIO": {"weight": 300, "weightDevice": [{"major": 8, "minor": 0, "weight": 50}]}}),
            facts,
        );
        assert_eq!(
            plan.unwrap(),
            writes(&[("io.bfq.weight", "300"), ("io.bfq.weight", "8:0 50")])
        );
    }

    #[test]
    fn unified_files_are_written_last_in_name_order() {
        let plan = plan_of(
            json!({"pids": {"limit": 5}, "unified": {"memory.oom.group": "1", "cpu.uclamp.max": "50"}}),
            FACTS,
        );
        assert_eq!(
            plan.unwrap(),
            writes(&[
                ("pids.max", "5"),
                ("cpu.uclamp.max", "50"),
                ("memory.oom.group", "1"),
            ])
        );
    }

    #[test]
    fn invalid_requests_are_refused() {
        for bad in [
            json!({"memory": {"swap": 1048576}}),
            json!({"memory": {"limit": 2097152, "swap": 1048576}}),
            json!({"cpu": {"realtimeRuntime": 950000}}),
            json!({"unified": {"../cgroup.procs": "1"}}),
            json!({"blockIO": {"throttleReadBpsDevice": [{"major": -1, "minor": 0, "rate": 1}]}}),
        ] {
            assert!(
                matches!(plan_of(bad.clone(), FACTS), Err(Error::InvalidResources(_))),
                "{bad}"
            );
        }
    }
}
