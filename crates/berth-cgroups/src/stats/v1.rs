//! Usage from v1 hierarchies (v1 and hybrid hosts).

use std::path::Path;

use super::parse::DeviceCounts;
use super::{
    CpuStats, CpuThrottling, DeviceIo, MemoryStats, Stats, parse, pids_stats, read_flat_keyed,
};
use crate::cgroup::Cgroup;
use crate::cgroup_file;
use crate::error::Result;

/// v1 reports "no limit" as the largest page-aligned 63-bit number (2^63 - page size); any limit
/// this high is none.
const UNLIMITED: u64 = 1 << 62;

pub(super) fn collect(cgroup: &Cgroup) -> Result<Stats> {
    let cpu = match cgroup.v1_dir("cpuacct") {
        Some(acct) => Some(cpu(&acct, cgroup.v1_dir("cpu").as_deref())?),
        None => None,
    };
    Ok(Stats {
        cpu,
        memory: cgroup.v1_dir("memory").map(|d| memory(&d)).transpose()?,
        pids: cgroup.v1_dir("pids").map(|d| pids_stats(&d)).transpose()?,
        io: match cgroup.v1_dir("blkio") {
            Some(dir) => io(&dir)?,
            None => None,
        },
    })
}

fn cpu(acct: &Path, cpu: Option<&Path>) -> Result<CpuStats> {
    let throttling = match cpu {
        Some(dir) => {
            let stat = read_flat_keyed(&dir.join("cpu.stat"))?;
            let get = |key: &str| stat.get(key).copied().unwrap_or_default();
            CpuThrottling {
                periods: get("nr_periods"),
                throttled_periods: get("nr_throttled"),
                throttled_time_ns: get("throttled_time"),
            }
        }
        None => CpuThrottling::default(),
    };
    let per_cpu = acct.join("cpuacct.usage_percpu");
    Ok(CpuStats {
        usage_total_ns: cgroup_file::read_number(&acct.join("cpuacct.usage"))?,
        usage_user_ns: cgroup_file::read_number(&acct.join("cpuacct.usage_user"))?,
        usage_system_ns: cgroup_file::read_number(&acct.join("cpuacct.usage_sys"))?,
        usage_per_cpu_ns: cgroup_file::parse_with(
            &per_cpu,
            &cgroup_file::read(&per_cpu)?,
            parse::numbers,
        )?,
        throttling,
    })
}

fn memory(dir: &Path) -> Result<MemoryStats> {
    let stat = read_flat_keyed(&dir.join("memory.stat"))?;
    let limit: u64 = cgroup_file::read_number(&dir.join("memory.limit_in_bytes"))?;
    Ok(MemoryStats {
        usage: cgroup_file::read_number(&dir.join("memory.usage_in_bytes"))?,
        max_usage: Some(cgroup_file::read_number(
            &dir.join("memory.max_usage_in_bytes"),
        )?),
        limit: (limit < UNLIMITED).then_some(limit),
        failcnt: Some(cgroup_file::read_number(&dir.join("memory.failcnt"))?),
        inactive_file: stat.get("total_inactive_file").copied().unwrap_or_default(),
        stat,
    })
}

/// Block io from the throttling layer's counters, which count every request whatever the io
/// scheduler (the `_recursive` files include cgroups below, on kernels that have them).
/// `None` when the kernel has neither.
fn io(dir: &Path) -> Result<Option<Vec<DeviceIo>>> {
    let Some(bytes) = read_counts(dir, "blkio.throttle.io_service_bytes")? else {
        return Ok(None);
    };
    let ops = read_counts(dir, "blkio.throttle.io_serviced")?.unwrap_or_default();
    Ok(Some(parse::v1_device_io(&bytes, &ops)))
}

fn read_counts(dir: &Path, name: &str) -> Result<Option<DeviceCounts>> {
    for path in [dir.join(format!("{name}_recursive")), dir.join(name)] {
        if let Some(text) = cgroup_file::read_optional(&path)? {
            return cgroup_file::parse_with(&path, &text, parse::v1_blkio).map(Some);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::layout::{Layout, V1Hierarchy};

    /// A plain directory tree laid out like a v1 host, holding the fixture files.
    fn fake_v1_host(root: &Path) -> Layout {
        let fixtures = PathBuf::from(
            std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"),
        )
        .join("tests/fixtures/v1");
        let controllers = ["cpu", "cpuacct", "memory", "pids", "blkio"];
        for controller in controllers {
            std::fs::create_dir_all(root.join(controller).join("berth/x")).unwrap();
        }
        for entry in std::fs::read_dir(&fixtures).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let controller = name.split('.').next().unwrap();
            std::fs::copy(
                fixtures.join(&name),
                root.join(controller).join("berth/x").join(&name),
            )
            .unwrap();
        }
        Layout::V1 {
            hierarchies: controllers
                .iter()
                .map(|c| V1Hierarchy {
                    mountpoint: root.join(c),
                    controllers: vec![c.to_string()],
                })
                .collect(),
        }
    }

    #[test]
    fn stats_from_v1_files() {
        let tmp = tempfile::tempdir().unwrap();
        let stats = Cgroup::open(&fake_v1_host(tmp.path()), "berth/x")
            .unwrap()
            .stats()
            .unwrap();
        let cpu = stats.cpu.unwrap();
        assert_eq!(
            (cpu.usage_total_ns, cpu.usage_user_ns, cpu.usage_system_ns),
            (3_000_000_000, 2_000_000_000, 1_000_000_000)
        );
        assert_eq!(cpu.usage_per_cpu_ns, [1_800_000_000, 1_200_000_000]);
        assert_eq!(
            cpu.throttling,
            CpuThrottling {
                periods: 40,
                throttled_periods: 12,
                throttled_time_ns: 1_532_000_000
            }
        );
        let memory = stats.memory.unwrap();
        assert_eq!(memory.usage, 5_570_560);
        assert_eq!(memory.max_usage, Some(8_388_608));
        assert_eq!(memory.limit, None);
        assert_eq!(memory.failcnt, Some(0));
        assert_eq!(memory.inactive_file, 1_003_520);
        assert_eq!(memory.stat["total_rss"], 4_325_376);
        assert_eq!(
            stats.pids,
            Some(super::super::PidsStats {
                current: 3,
                limit: None
            })
        );
        let io = stats.io.unwrap();
        assert_eq!(io.len(), 2);
        assert_eq!((io[1].read_bytes, io[1].read_ops), (1_048_576, 12));
    }

    #[test]
    fn absent_hierarchies_give_no_section() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::V1 {
            hierarchies: vec![V1Hierarchy {
                mountpoint: tmp.path().join("freezer"),
                controllers: vec!["freezer".into()],
            }],
        };
        let stats = Cgroup::open(&layout, "berth/x").unwrap().stats().unwrap();
        assert_eq!(stats, Stats::default());
    }
}
