//! The cgroup v1 files and values for a `LinuxResources`, in the order they must be written.

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxDeviceCgroup, LinuxMemory, LinuxResources};

use super::{
    FileWrite, HostFacts, block_throttles, checked_limit, cpuset, device_number, given,
    hugepage_size, pids_max,
};
use crate::devices::DeviceRule;
use crate::error::{Error, Result};

const MEMORY_LIMIT: &str = "memory.limit_in_bytes";
const MEMSW_LIMIT: &str = "memory.memsw.limit_in_bytes";

pub(crate) fn plan(resources: &LinuxResources, facts: &HostFacts) -> Result<Vec<FileWrite>> {
    if resources.unified().as_ref().is_some_and(|u| !u.is_empty()) {
        return Err(Error::InvalidResources(
            "`unified` sets cgroup v2 files, but this host's limits live in v1 hierarchies".into(),
        ));
    }
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
        plan_block_io(block_io, facts, &mut plan)?;
    }
    for rule in resources.devices().iter().flatten() {
        plan.push(device_rule(rule)?);
    }
    for limit in resources.hugepage_limits().iter().flatten() {
        let file = format!("hugetlb.{}.limit_in_bytes", hugepage_size(limit)?);
        plan.push(FileWrite::new(
            file,
            checked_limit("hugepage limit", limit.limit())?,
        ));
    }
    Ok(plan)
}

fn plan_memory(memory: &LinuxMemory, facts: &HostFacts, plan: &mut Vec<FileWrite>) -> Result<()> {
    let limit = given(memory.limit())
        .map(|v| checked_limit("memory limit", v))
        .transpose()?;
    let mut swap = given(memory.swap())
        .map(|v| checked_limit("memory+swap limit", v))
        .transpose()?;
    // Unlimited memory with no word on swap means unlimited memory+swap, as runc reads it.
    if limit == Some(-1) && swap.is_none() {
        swap = Some(-1);
    }
    if let (Some(limit), Some(swap)) = (limit, swap)
        && swap != -1
        && (limit == -1 || swap < limit)
    {
        return Err(Error::InvalidResources(format!(
            "memory+swap limit {swap} is below the memory limit {limit}"
        )));
    }
    if !facts.swap_accounting {
        swap = None;
    }
    match (limit, swap) {
        (Some(limit), Some(swap)) => {
            // The kernel keeps memory+swap >= memory at every step: raise memory+swap first
            // when it grows past the current memory limit, lower memory first otherwise.
            let swap_first = swap == -1 || facts.memory_limit.is_some_and(|current| current < swap);
            let limit = FileWrite::new(MEMORY_LIMIT, limit);
            let swap = FileWrite::new(MEMSW_LIMIT, swap);
            plan.extend(if swap_first {
                [swap, limit]
            } else {
                [limit, swap]
            });
        }
        (Some(limit), None) => plan.push(FileWrite::new(MEMORY_LIMIT, limit)),
        (None, Some(swap)) => plan.push(FileWrite::new(MEMSW_LIMIT, swap)),
        (None, None) => {}
    }
    if let Some(reservation) = given(memory.reservation()) {
        let reservation = checked_limit("memory reservation", reservation)?;
        plan.push(FileWrite::new("memory.soft_limit_in_bytes", reservation));
    }
    if let Some(swappiness) = memory.swappiness() {
        if swappiness > 100 {
            return Err(Error::InvalidResources(format!(
                "memory swappiness {swappiness} is above 100"
            )));
        }
        plan.push(FileWrite::new("memory.swappiness", swappiness));
    }
    if let Some(disable) = memory.disable_oom_killer() {
        plan.push(FileWrite::new("memory.oom_control", u8::from(disable)));
    }
    Ok(())
}

fn plan_cpu(cpu: &LinuxCpu, plan: &mut Vec<FileWrite>) -> Result<()> {
    if let Some(shares) = given(cpu.shares()) {
        plan.push(FileWrite::new("cpu.shares", shares));
    }
    // The period first: the quota is checked against it.
    if let Some(period) = given(cpu.period()) {
        plan.push(FileWrite::new("cpu.cfs_period_us", period));
    }
    if let Some(quota) = given(cpu.quota()) {
        let quota = checked_limit("cpu quota", quota)?;
        plan.push(FileWrite::new("cpu.cfs_quota_us", quota));
    }
    if let Some(burst) = cpu.burst() {
        plan.push(FileWrite::new("cpu.cfs_burst_us", burst));
    }
    if let Some(period) = given(cpu.realtime_period()) {
        plan.push(FileWrite::new("cpu.rt_period_us", period));
    }
    if let Some(runtime) = given(cpu.realtime_runtime()) {
        let runtime = checked_limit("cpu realtime runtime", runtime)?;
        plan.push(FileWrite::new("cpu.rt_runtime_us", runtime));
    }
    if let Some(idle) = cpu.idle() {
        plan.push(FileWrite::new("cpu.idle", idle));
    }
    Ok(())
}

fn plan_block_io(
    block_io: &LinuxBlockIo,
    facts: &HostFacts,
    plan: &mut Vec<FileWrite>,
) -> Result<()> {
    let prefix = if facts.bfq_weight {
        "blkio.bfq."
    } else {
        "blkio."
    };
    if let Some(weight) = given(block_io.weight()) {
        plan.push(FileWrite::new(format!("{prefix}weight"), weight));
    }
    for device in block_io.weight_device().iter().flatten() {
        if let Some(weight) = device.weight() {
            let number = device_number("weight device", device.major(), device.minor())?;
            plan.push(FileWrite::new(
                format!("{prefix}weight_device"),
                format!("{number} {weight}"),
            ));
        }
    }
    for (throttle, devices) in block_throttles(block_io) {
        let file = format!("blkio.throttle.{}_device", throttle.v1_name());
        for device in devices {
            let number = device_number(&file, device.major(), device.minor())?;
            plan.push(FileWrite::new(&file, format!("{number} {}", device.rate())));
        }
    }
    Ok(())
}

/// A device rule as the devices controller reads it: `type major:minor access`.
fn device_rule(rule: &LinuxDeviceCgroup) -> Result<FileWrite> {
    let rule = DeviceRule::parse(rule)?;
    let file = if rule.allow {
        "devices.allow"
    } else {
        "devices.deny"
    };
    Ok(FileWrite::new(file, rule))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    const SWAP: HostFacts = HostFacts {
        swap_accounting: true,
        bfq_weight: false,
        memory_limit: Some(9_223_372_036_854_771_712),
    };

    #[test]
    fn a_docker_run_with_limits() {
        let plan = plan_of(
            json!({
                "memory": {"limit": 268435456, "reservation": 134217728, "swap": 536870912},
                "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"},
                "pids": {"limit": 100},
                "blockIO": {"weight": 300},
                "devices": [
                    {"allow": false, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 136, "access": "rwm"}
                ]
            }),
            SWAP,
        )
        .unwrap();
        assert_eq!(
            plan,
            writes(&[
                // Memory limit first: the current limit (unlimited) is above the new swap.
                ("memory.limit_in_bytes", "268435456"),
                ("memory.memsw.limit_in_bytes", "536870912"),
                ("memory.soft_limit_in_bytes", "134217728"),
                ("cpu.shares", "512"),
                ("cpu.cfs_period_us", "100000"),
                ("cpu.cfs_quota_us", "50000"),
                ("cpuset.cpus", "0-1"),
                ("cpuset.mems", "0"),
                ("pids.max", "100"),
                ("blkio.weight", "300"),
                ("devices.deny", "a *:* rwm"),
                ("devices.allow", "c 1:3 rwm"),
                ("devices.allow", "c 136:* rwm"),
            ])
        );
    }

    #[test]
    fn memory_and_swap_are_ordered_against_the_current_limit() {
        let raise = HostFacts {
            memory_limit: Some(16 << 20),
            ..SWAP
        };
        let plan = plan_of(
            json!({"memory": {"limit": 67108864, "swap": 134217728}}),
            raise,
        )
        .unwrap();
        assert_eq!(
            plan,
            writes(&[
                ("memory.memsw.limit_in_bytes", "134217728"),
                ("memory.limit_in_bytes", "67108864"),
            ])
        );
        let plan = plan_of(json!({"memory": {"limit": -1}}), raise).unwrap();
        assert_eq!(
            plan,
            writes(&[
                ("memory.memsw.limit_in_bytes", "-1"),
                ("memory.limit_in_bytes", "-1"),
            ])
        );
    }

    #[test]
    fn swap_is_skipped_without_swap_accounting() {
        let facts = HostFacts {
            swap_accounting: false,
            ..SWAP
        };
        let plan = plan_of(
            json!({"memory": {"limit": 1048576, "swap": 2097152}}),
            facts,
        );
        assert_eq!(
            plan.unwrap(),
            writes(&[("memory.limit_in_bytes", "1048576")])
        );
    }

    #[test]
    fn zero_means_unset_and_negative_pids_mean_max() {
        let plan = plan_of(
            json!({"memory": {"limit": 0, "swap": 0}, "cpu": {"shares": 0, "quota": 0}, "pids": {"limit": -1}}),
            SWAP,
        );
        assert_eq!(plan.unwrap(), writes(&[("pids.max", "max")]));
        let plan = plan_of(json!({"pids": {"limit": 0}}), SWAP);
        assert_eq!(plan.unwrap(), vec![]);
    }

    #[test]
    fn bfq_weights_and_throttles() {
        let facts = HostFacts {
            bfq_weight: true,
            ..SWAP
        };
        let plan = plan_of(
            json!({"blockIO": {
                "weight": 200,
                "weightDevice": [{"major": 8, "minor": 0, "weight": 500}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 100}]
            }}),
            facts,
        )
        .unwrap();
        assert_eq!(
            plan,
            writes(&[
                ("blkio.bfq.weight", "200"),
                ("blkio.bfq.weight_device", "8:0 500"),
                ("blkio.throttle.read_bps_device", "8:0 1048576"),
                ("blkio.throttle.write_iops_device", "8:16 100"),
            ])
        );
    }

    #[test]
    fn hugepages_swappiness_and_oom_killer() {
        let plan = plan_of(
            json!({
                "memory": {"swappiness": 0, "disableOOMKiller": true},
                "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]
            }),
            SWAP,
        )
        .unwrap();
        assert_eq!(
            plan,
            writes(&[
                ("memory.swappiness", "0"),
                ("memory.oom_control", "1"),
                ("hugetlb.2MB.limit_in_bytes", "4194304"),
            ])
        );
    }

    #[test]
    fn invalid_requests_are_refused_before_any_write() {
        for bad in [
            json!({"memory": {"limit": 1048576, "swap": 524288}}),
            json!({"memory": {"limit": -2}}),
            json!({"memory": {"swappiness": 101}}),
            json!({"devices": [{"allow": true, "type": "c", "access": "rwx"}]}),
            json!({"devices": [{"allow": true, "type": "p"}]}),
            json!({"hugepageLimits": [{"pageSize": "../x", "limit": 1}]}),
            json!({"unified": {"memory.max": "1"}}),
        ] {
            assert!(
                matches!(plan_of(bad.clone(), SWAP), Err(Error::InvalidResources(_))),
                "{bad}"
            );
        }
    }
}
