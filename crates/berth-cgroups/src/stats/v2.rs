//! Usage from a v2 cgroup (pure v2 hosts).

use std::path::Path;

use super::{CpuStats, CpuThrottling, MemoryStats, Stats, parse, pids_stats, read_flat_keyed};
use crate::cgroup_file;
use crate::error::{Error, Result};

pub(super) fn collect(dir: &Path) -> Result<Stats> {
    Ok(Stats {
        cpu: Some(cpu(dir)?),
        memory: present(dir, "memory.current")
            .then(|| memory(dir))
            .transpose()?,
        pids: present(dir, "pids.current")
            .then(|| pids_stats(dir))
            .transpose()?,
        io: match cgroup_file::read_optional(&dir.join("io.stat"))? {
            Some(text) => Some(cgroup_file::parse_with(
                &dir.join("io.stat"),
                &text,
                parse::io_stat,
            )?),
            None => None,
        },
    })
}

fn present(dir: &Path, file: &str) -> bool {
    dir.join(file).exists()
}

/// `cpu.stat` is there in every v2 cgroup; the throttling keys only with the cpu controller.
fn cpu(dir: &Path) -> Result<CpuStats> {
    let path = dir.join("cpu.stat");
    let stat = read_flat_keyed(&path)?;
    let get = |key: &str| stat.get(key).copied().unwrap_or_default() * 1000;
    if !stat.contains_key("usage_usec") {
        return Err(Error::Parse {
            path,
            reason: "no usage_usec".into(),
        });
    }
    Ok(CpuStats {
        usage_total_ns: get("usage_usec"),
        usage_user_ns: get("user_usec"),
        usage_system_ns: get("system_usec"),
        usage_per_cpu_ns: Vec::new(),
        throttling: CpuThrottling {
            periods: stat.get("nr_periods").copied().unwrap_or_default(),
            throttled_periods: stat.get("nr_throttled").copied().unwrap_or_default(),
            throttled_time_ns: get("throttled_usec"),
        },
    })
}

fn memory(dir: &Path) -> Result<MemoryStats> {
    let stat = read_flat_keyed(&dir.join("memory.stat"))?;
    let max = dir.join("memory.max");
    let peak = dir.join("memory.peak");
    Ok(MemoryStats {
        usage: cgroup_file::read_number(&dir.join("memory.current"))?,
        max_usage: match cgroup_file::read_optional(&peak)? {
            Some(text) => Some(cgroup_file::parse_with(
                &peak,
                &text,
                cgroup_file::parse_number,
            )?),
            None => None,
        },
        limit: cgroup_file::parse_with(&max, &cgroup_file::read(&max)?, parse::limit)?,
        failcnt: None,
        inactive_file: stat.get("inactive_file").copied().unwrap_or_default(),
        stat,
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::cgroup::Cgroup;
    use crate::layout::Layout;

    #[test]
    fn stats_from_v2_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("berth/x");
        std::fs::create_dir_all(&dir).unwrap();
        let fixtures = PathBuf::from(
            std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"),
        )
        .join("tests/fixtures/v2");
        for entry in std::fs::read_dir(&fixtures).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
        let layout = Layout::V2 {
            root: tmp.path().to_owned(),
        };
        let stats = Cgroup::open(&layout, "berth/x").unwrap().stats().unwrap();
        let cpu = stats.cpu.unwrap();
        assert_eq!(cpu.usage_total_ns, 3_000_000_000);
        assert_eq!(cpu.usage_user_ns, 2_000_000_000);
        assert_eq!(cpu.throttling.throttled_periods, 12);
        assert_eq!(cpu.throttling.throttled_time_ns, 1_532_000_000);
        assert!(cpu.usage_per_cpu_ns.is_empty());
        let memory = stats.memory.unwrap();
        assert_eq!(memory.usage, 6_172_672);
        assert_eq!(memory.max_usage, Some(8_388_608));
        assert_eq!(memory.limit, Some(268_435_456));
        assert_eq!(memory.inactive_file, 1_003_520);
        assert_eq!(stats.pids.unwrap().limit, Some(100));
        assert_eq!(stats.io.unwrap()[1].read_bytes, 20480);

        // Without the memory, pids and io controllers only cpu.stat remains.
        for file in ["memory.current", "pids.current", "io.stat"] {
            std::fs::remove_file(dir.join(file)).unwrap();
        }
        let stats = Cgroup::open(&layout, "berth/x").unwrap().stats().unwrap();
        assert!(stats.cpu.is_some());
        assert!(stats.memory.is_none() && stats.pids.is_none() && stats.io.is_none());
    }
}
