//! Docker's range checks on the resource flags, made at create and update so a value the
//! kernel would refuse (or silently clamp) fails early, with Docker's words, and nothing is
//! created or changed.

use serde_json::Value;

use crate::error::{Error, Result};

/// The smallest memory limit Docker accepts (6 MiB): below it a container cannot even start.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// Checks the resource fields of a HostConfig (or of an update's body, which has the same
/// names) against Docker's ranges and this host's CPUs.
pub fn validate(hc: &Value) -> Result<()> {
    let int = |field: &str| hc[field].as_i64().unwrap_or(0);
    let memory = int("Memory");
    if memory < 0 || (memory > 0 && memory < MIN_MEMORY) {
        return Err(Error::invalid("Minimum memory limit allowed is 6MB"));
    }
    if int("MemorySwap") > 0 && memory == 0 {
        return Err(Error::invalid(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ));
    }
    let reservation = int("MemoryReservation");
    if reservation < 0 || (reservation > 0 && reservation < MIN_MEMORY) {
        return Err(Error::invalid("Minimum memory reservation allowed is 6MB"));
    }
    if memory > 0 && reservation > memory {
        return Err(Error::invalid(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ));
    }
    if let Some(swappiness) = hc["MemorySwappiness"].as_i64()
        && swappiness != -1
        && !(0..=100).contains(&swappiness)
    {
        return Err(Error::invalid(format!(
            "Invalid value: {swappiness}, valid memory swappiness range is 0-100"
        )));
    }
    let cpus = host_cpus();
    let nano = int("NanoCpus");
    if nano < 0 || nano > cpus * 1_000_000_000 {
        return Err(Error::invalid(format!(
            "Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
        )));
    }
    if int("CpuShares") < 0 {
        return Err(Error::invalid(format!(
            "invalid CPU shares ({}): value must be a positive integer",
            int("CpuShares")
        )));
    }
    let period = int("CpuPeriod");
    if period != 0 && !(1000..=1_000_000).contains(&period) {
        return Err(Error::invalid(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ));
    }
    let quota = int("CpuQuota");
    if quota > 0 && quota < 1000 {
        return Err(Error::invalid(
            "CPU cfs quota can not be less than 1ms (i.e. 1000)",
        ));
    }
    let weight = int("BlkioWeight");
    if weight != 0 && !(10..=1000).contains(&weight) {
        return Err(Error::invalid("Range of blkio weight is from 10 to 1000"));
    }
    let oom_score_adj = int("OomScoreAdj");
    if !(-1000..=1000).contains(&oom_score_adj) {
        return Err(Error::invalid(format!(
            "Invalid value {oom_score_adj}, range for oom score adj is [-1000, 1000]"
        )));
    }
    if let Some(set) = hc["CpusetCpus"].as_str().filter(|s| !s.is_empty()) {
        check_cpu_set(set, cpus)?;
    }
    Ok(())
}

/// The CPUs this process may run on.
fn host_cpus() -> i64 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as i64)
}

/// `0-3,5`: every listed CPU must exist on this host.
fn check_cpu_set(set: &str, cpus: i64) -> Result<()> {
    let unavailable = || {
        Error::invalid(format!(
            "Requested CPUs are not available - requested {set}, available: 0-{}",
            cpus - 1
        ))
    };
    let invalid = || Error::invalid(format!("Invalid value {set} for cpuset cpus"));
    for part in set.split(',') {
        let (first, last) = part.split_once('-').unwrap_or((part, part));
        let first: i64 = first.trim().parse().map_err(|_| invalid())?;
        let last: i64 = last.trim().parse().map_err(|_| invalid())?;
        if first > last || first < 0 {
            return Err(invalid());
        }
        if last >= cpus {
            return Err(unavailable());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(hc: Value) -> String {
        validate(&hc).unwrap_err().to_string()
    }

    #[test]
    fn values_within_dockers_ranges_pass() {
        validate(
            &json!({"Memory": 16 << 20, "MemorySwap": -1, "MemoryReservation": 8 << 20,
            "NanoCpus": 500_000_000, "CpuShares": 512, "CpuPeriod": 50_000, "CpuQuota": -1,
            "BlkioWeight": 300, "OomScoreAdj": -500, "CpusetCpus": "0", "MemorySwappiness": -1}),
        )
        .unwrap();
        validate(&json!({})).unwrap();
    }

    #[test]
    fn values_out_of_range_are_refused_with_dockers_words() {
        assert!(refused(json!({"Memory": 1000})).contains("Minimum memory limit allowed is 6MB"));
        assert!(refused(json!({"MemorySwap": 100 << 20})).contains("always set the Memory"));
        assert!(
            refused(json!({"Memory": 8 << 20, "MemoryReservation": 16 << 20}))
                .contains("memory reservation")
        );
        assert!(refused(json!({"NanoCpus": 1000 * 1_000_000_000i64})).contains("Range of CPUs"));
        assert!(refused(json!({"NanoCpus": -1})).contains("Range of CPUs"));
        assert!(refused(json!({"CpuPeriod": 10})).contains("CPU cfs period"));
        assert!(refused(json!({"CpuQuota": 10})).contains("CPU cfs quota"));
        assert!(refused(json!({"BlkioWeight": 5})).contains("blkio weight"));
        assert!(refused(json!({"OomScoreAdj": 1001})).contains("oom score adj"));
        assert!(refused(json!({"MemorySwappiness": 101})).contains("swappiness"));
        assert!(refused(json!({"CpusetCpus": "0-4096"})).contains("not available"));
        assert!(refused(json!({"CpusetCpus": "a"})).contains("Invalid value a"));
        assert!(refused(json!({"CpuShares": -2})).contains("CPU shares"));
    }
}
