//! Applying OCI `LinuxResources` to a cgroup.
//!
//! The resources are first turned into a plan — the files to write and their values, in order
//! (see [`v1_plan`] and [`v2_plan`]) — from the request and a few facts read from the host; then
//! the plan is written. Only the plan's first step depends on the cgroup version.
//!
//! What is applied, and where:
//!
//! | resource | v1 and hybrid (v1 hierarchies) | pure v2 |
//! |---|---|---|
//! | memory limit / reservation | `memory.limit_in_bytes` / `memory.soft_limit_in_bytes` | `memory.max` / `memory.low` |
//! | memory swap (memory + swap) | `memory.memsw.limit_in_bytes` | `memory.swap.max` = swap − memory |
//! | swappiness, OOM killer off | `memory.swappiness`, `memory.oom_control` | not applied: v2 has neither |
//! | cpu shares | `cpu.shares` | `cpu.weight` (converted) |
//! | cpu quota, period, burst | `cpu.cfs_quota_us`, `cpu.cfs_period_us`, `cpu.cfs_burst_us` | `cpu.max`, `cpu.max.burst` |
//! | cpu realtime runtime/period | `cpu.rt_runtime_us`, `cpu.rt_period_us` | refused: v2 cannot express it |
//! | cpu idle | `cpu.idle` | `cpu.idle` |
//! | cpus, mems | `cpuset.cpus`, `cpuset.mems` | same |
//! | pids limit | `pids.max` | same |
//! | block io weight, per device | `blkio.weight(_device)` or `blkio.bfq.*` | `io.bfq.weight`, else `io.weight` (converted) |
//! | block io throttling | `blkio.throttle.{read,write}_{bps,iops}_device` | `io.max` |
//! | devices | `devices.deny` / `devices.allow`, in order | an eBPF device filter with v1's verdicts, replacing the cgroup's earlier one (`crate::devices`) |
//! | hugepage limits | `hugetlb.<size>.limit_in_bytes` | `hugetlb.<size>.max` |
//! | unified (raw v2 files) | refused | written as given, last |
//!
//! Not applied anywhere: kernel memory limits (deprecated, ignored by kernels since 5.16/6.x),
//! the CFQ-only leaf weights, `network` (net_cls/net_prio) and `rdma`. Without swap accounting
//! (no `memsw` / `memory.swap.max` file) the swap limit is skipped, as Docker does.
//!
//! As in the OCI runtimes, a 0 for a memory, swap, cpu or pids value means "not set". An empty
//! or absent device list leaves the device rules as they are. On pure v2 a device list is read
//! as an allowlist (as runc does: without a leading `a` rule, everything else is denied), and
//! a rule that would take access from part of an earlier, wider one is refused, where v1
//! silently ignores it.

mod convert;
mod v1_plan;
mod v2_plan;

use std::path::Path;

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxHugepageLimit, LinuxResources, LinuxThrottleDevice,
};

use crate::cgroup::Cgroup;
use crate::cgroup_file;
use crate::devices::DeviceFilter;
use crate::error::{Error, Result};
use crate::layout::CGROUP_ROOT;

/// One write of a plan: `value` into the file `file` of the cgroup's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileWrite {
    pub file: String,
    pub value: String,
}

impl FileWrite {
    pub(crate) fn new(file: impl Into<String>, value: impl ToString) -> Self {
        Self {
            file: file.into(),
            value: value.to_string(),
        }
    }

    /// The controller owning the file: its name up to the first dot (`memory.max` → memory).
    pub(crate) fn controller(&self) -> &str {
        self.file.split('.').next().unwrap_or_default()
    }
}

/// What a plan needs to know about the host and the cgroup's current state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct HostFacts {
    /// Swap can be limited: v1 `memory.memsw.limit_in_bytes` or v2 `memory.swap.max` exists.
    pub swap_accounting: bool,
    /// Block io weights go to the BFQ scheduler's files (`blkio.bfq.weight`, `io.bfq.weight`).
    pub bfq_weight: bool,
    /// v1 only: the current `memory.limit_in_bytes`. Memory + swap must never drop below the
    /// memory limit, so it decides which of the two is written first.
    pub memory_limit: Option<i64>,
}

impl Cgroup {
    /// Applies `resources` to the cgroup: to its v1 hierarchies on v1 and hybrid hosts, to its
    /// v2 directory on pure v2 hosts (see the module documentation for the mapping). Values are
    /// checked before anything is written; a value the kernel refuses stops the update with an
    /// error naming the file and the value, leaving the writes before it in place.
    ///
    /// On pure v2, device rules replace the cgroup's device filter first; no rules (an update
    /// of other limits) leave it as it is. The filter applies to every later open or mknod by
    /// the cgroup's processes, so apply before the container's process runs its own code.
    pub fn apply(&self, resources: &LinuxResources) -> Result<()> {
        match self.v2_resource_dir() {
            Some(dir) => {
                let facts = HostFacts {
                    swap_accounting: dir.join("memory.swap.max").exists(),
                    bfq_weight: dir.join("io.bfq.weight").exists(),
                    memory_limit: None,
                };
                let device_filter = match resources.devices().as_deref() {
                    None | Some([]) => None,
                    Some(rules) => Some(DeviceFilter::compile(rules)?),
                };
                let writes = v2_plan::plan(resources, &facts)?;
                if let Some(filter) = device_filter {
                    filter.install(&dir)?;
                }
                for write in writes {
                    write_file(&dir, &write)?;
                }
            }
            None => {
                for write in v1_plan::plan(resources, &self.v1_facts(resources)?)? {
                    let dir = self.v1_dir(write.controller()).ok_or_else(|| {
                        Error::ControllerMissing {
                            controller: write.controller().to_owned(),
                            path: Path::new(CGROUP_ROOT).join(write.controller()),
                        }
                    })?;
                    write_file(&dir, &write)?;
                }
            }
        }
        Ok(())
    }

    fn v1_facts(&self, resources: &LinuxResources) -> Result<HostFacts> {
        let memory = self.v1_dir("memory");
        let blkio = self.v1_dir("blkio");
        let memory_limit = match &memory {
            Some(dir) if resources.memory().is_some() => Some(cgroup_file::read_number(
                &dir.join("memory.limit_in_bytes"),
            )?),
            _ => None,
        };
        Ok(HostFacts {
            swap_accounting: memory
                .is_some_and(|dir| dir.join("memory.memsw.limit_in_bytes").exists()),
            bfq_weight: blkio.is_some_and(|dir| {
                !dir.join("blkio.weight").exists() && dir.join("blkio.bfq.weight").exists()
            }),
            memory_limit,
        })
    }
}

fn write_file(dir: &Path, write: &FileWrite) -> Result<()> {
    let path = dir.join(&write.file);
    cgroup_file::write(&path, &write.value).map_err(|e| match e {
        Error::Write { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            Error::ControllerMissing {
                controller: write.controller().to_owned(),
                path,
            }
        }
        other => other,
    })
}

/// The value if it is set: OCI runtimes read 0 as "leave unchanged".
fn given<T: Default + PartialEq>(value: Option<T>) -> Option<T> {
    value.filter(|v| *v != T::default())
}

/// A byte or count limit: positive, or -1 for unlimited.
fn checked_limit(what: &str, value: i64) -> Result<i64> {
    if value < -1 {
        return Err(Error::InvalidResources(format!(
            "{what} {value} is negative (only -1, unlimited, is allowed)"
        )));
    }
    Ok(value)
}

/// A block device number from the spec.
fn device_number(what: &str, major: i64, minor: i64) -> Result<String> {
    if major < 0 || minor < 0 {
        return Err(Error::InvalidResources(format!(
            "{what}: device {major}:{minor} has a negative number"
        )));
    }
    Ok(format!("{major}:{minor}"))
}

/// `cpuset.cpus` and `cpuset.mems`: the same files on v1 and v2.
fn cpuset(cpu: &LinuxCpu, plan: &mut Vec<FileWrite>) {
    for (file, value) in [("cpuset.cpus", cpu.cpus()), ("cpuset.mems", cpu.mems())] {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            plan.push(FileWrite::new(file, value));
        }
    }
}

/// `pids.max` (the same on v1 and v2): a negative limit is unlimited, 0 leaves it unchanged.
fn pids_max(limit: i64) -> Option<FileWrite> {
    match limit {
        0 => None,
        ..0 => Some(FileWrite::new("pids.max", "max")),
        _ => Some(FileWrite::new("pids.max", limit)),
    }
}

/// One kind of block io throttling.
#[derive(Debug, Clone, Copy)]
enum Throttle {
    ReadBps,
    WriteBps,
    ReadIops,
    WriteIops,
}

impl Throttle {
    /// As in v1's `blkio.throttle.<name>_device`.
    fn v1_name(self) -> &'static str {
        match self {
            Throttle::ReadBps => "read_bps",
            Throttle::WriteBps => "write_bps",
            Throttle::ReadIops => "read_iops",
            Throttle::WriteIops => "write_iops",
        }
    }

    /// As in v2's `io.max` lines (`8:0 rbps=1048576`).
    fn v2_key(self) -> &'static str {
        match self {
            Throttle::ReadBps => "rbps",
            Throttle::WriteBps => "wbps",
            Throttle::ReadIops => "riops",
            Throttle::WriteIops => "wiops",
        }
    }
}

fn block_throttles(block_io: &LinuxBlockIo) -> [(Throttle, &[LinuxThrottleDevice]); 4] {
    fn list(devices: &Option<Vec<LinuxThrottleDevice>>) -> &[LinuxThrottleDevice] {
        devices.as_deref().unwrap_or_default()
    }
    [
        (Throttle::ReadBps, list(block_io.throttle_read_bps_device())),
        (
            Throttle::WriteBps,
            list(block_io.throttle_write_bps_device()),
        ),
        (
            Throttle::ReadIops,
            list(block_io.throttle_read_iops_device()),
        ),
        (
            Throttle::WriteIops,
            list(block_io.throttle_write_iops_device()),
        ),
    ]
}

/// The page size of a hugepage limit (`2MB`, `1GB`), checked because it becomes part of a file
/// name.
fn hugepage_size(limit: &LinuxHugepageLimit) -> Result<&str> {
    let size = limit.page_size().as_str();
    let number = ["KB", "MB", "GB"]
        .iter()
        .find_map(|unit| size.strip_suffix(unit));
    let valid = number.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if !valid {
        return Err(Error::InvalidResources(format!(
            "hugepage size {size:?} is not a number followed by KB, MB or GB"
        )));
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{Layout, V1Hierarchy};

    #[test]
    fn controller_of_a_file() {
        assert_eq!(FileWrite::new("memory.max", 1).controller(), "memory");
        assert_eq!(
            FileWrite::new("hugetlb.2MB.limit_in_bytes", 1).controller(),
            "hugetlb"
        );
    }

    #[test]
    fn hugepage_sizes() {
        let limit = |size: &str| {
            serde_json::from_value::<LinuxHugepageLimit>(
                serde_json::json!({"pageSize": size, "limit": 1}),
            )
            .unwrap()
        };
        assert_eq!(hugepage_size(&limit("2MB")).unwrap(), "2MB");
        assert_eq!(hugepage_size(&limit("1GB")).unwrap(), "1GB");
        for bad in ["", "MB", "2mb", "2MB/../x", "../2MB", "2 MB"] {
            assert!(hugepage_size(&limit(bad)).is_err(), "{bad:?}");
        }
    }

    /// Plain directories stand in for cgroupfs: v1 files are written as on a host, and a
    /// device filter cannot be installed on a directory that is not a cgroup.
    #[test]
    fn device_rules_go_to_v1_files_on_hybrid_hosts_and_to_a_filter_on_pure_v2() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = |hierarchy: &str| tmp.path().join(hierarchy).join("ctr");
        let files = [
            ("devices", "devices.allow"),
            ("devices", "devices.deny"),
            ("pids", "pids.max"),
            ("unified", "pids.max"),
        ];
        for (hierarchy, file) in files {
            std::fs::create_dir_all(dir(hierarchy)).unwrap();
            std::fs::write(dir(hierarchy).join(file), "").unwrap();
        }
        let read = |hierarchy: &str, file: &str| {
            std::fs::read_to_string(dir(hierarchy).join(file)).unwrap()
        };
        let resources: LinuxResources = serde_json::from_value(serde_json::json!({
            "devices": [
                {"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}
            ],
            "pids": {"limit": 10}
        }))
        .unwrap();

        let hybrid = Layout::Hybrid {
            hierarchies: ["devices", "pids"]
                .map(|controller| V1Hierarchy {
                    mountpoint: tmp.path().join(controller),
                    controllers: vec![controller.into()],
                })
                .into(),
            unified: tmp.path().join("unified"),
        };
        Cgroup::open(&hybrid, "ctr")
            .unwrap()
            .apply(&resources)
            .unwrap();
        assert_eq!(read("devices", "devices.deny"), "a *:* rwm");
        assert_eq!(read("devices", "devices.allow"), "c 1:3 rwm");
        assert_eq!(read("pids", "pids.max"), "10");

        let v2 = Layout::V2 {
            root: tmp.path().join("unified"),
        };
        let err = Cgroup::open(&v2, "ctr")
            .unwrap()
            .apply(&resources)
            .unwrap_err();
        assert!(matches!(err, Error::DeviceFilter { .. }), "{err}");
        assert_eq!(
            read("unified", "pids.max"),
            "",
            "nothing is written before the filter is in place"
        );
    }
}
