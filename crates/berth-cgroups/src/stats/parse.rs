//! Parsers for the stat files of both cgroup versions. Each takes the file's text and says
//! what did not fit; the caller adds the file's path.

use std::collections::BTreeMap;

use super::DeviceIo;
use crate::cgroup_file::parse_number;

/// `key value` lines (`memory.stat`, `cpu.stat`).
pub(crate) fn flat_keyed(text: &str) -> Result<BTreeMap<String, u64>, String> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let (key, value) = line
                .split_once(' ')
                .ok_or_else(|| format!("line {line:?} is not \"key value\""))?;
            Ok((key.to_owned(), parse_number(value)?))
        })
        .collect()
}

/// Space-separated numbers (`cpuacct.usage_percpu`).
pub(crate) fn numbers(text: &str) -> Result<Vec<u64>, String> {
    text.split_whitespace().map(parse_number).collect()
}

/// A limit file: a number, or `max` for none.
pub(crate) fn limit(text: &str) -> Result<Option<u64>, String> {
    match text.trim() {
        "max" => Ok(None),
        number => parse_number(number).map(Some),
    }
}

/// Read and write counts, by (major, minor) device number.
pub(crate) type DeviceCounts = BTreeMap<(u64, u64), (u64, u64)>;

/// Read and write counts per device from v1's `blkio.throttle.io_service_bytes*` (as bytes) or
/// `blkio.throttle.io_serviced*` (as operations): `major:minor Op value` lines, then a total.
pub(crate) fn v1_blkio(text: &str) -> Result<DeviceCounts, String> {
    let mut devices = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [device, op, value] = fields[..] else {
            continue; // the closing "Total N" line, or an empty file's "Total 0"
        };
        let counts: &mut (u64, u64) = devices.entry(device_number(device)?).or_default();
        match op {
            "Read" => counts.0 = parse_number(value)?,
            "Write" => counts.1 = parse_number(value)?,
            _ => {}
        }
    }
    Ok(devices)
}

/// v1's per-device byte and operation counts, merged.
pub(crate) fn v1_device_io(bytes: &DeviceCounts, ops: &DeviceCounts) -> Vec<DeviceIo> {
    let mut numbers: Vec<&(u64, u64)> = bytes.keys().chain(ops.keys()).collect();
    numbers.sort_unstable();
    numbers.dedup();
    numbers
        .into_iter()
        .map(|&(major, minor)| {
            let (read_bytes, write_bytes) = bytes.get(&(major, minor)).copied().unwrap_or_default();
            let (read_ops, write_ops) = ops.get(&(major, minor)).copied().unwrap_or_default();
            DeviceIo {
                major,
                minor,
                read_bytes,
                write_bytes,
                read_ops,
                write_ops,
            }
        })
        .collect()
}

/// v2's `io.stat`: `major:minor rbytes=.. wbytes=.. rios=.. wios=.. dbytes=.. dios=..` lines.
pub(crate) fn io_stat(text: &str) -> Result<Vec<DeviceIo>, String> {
    let mut devices = Vec::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let mut fields = line.split_whitespace();
        let (major, minor) = device_number(fields.next().unwrap_or_default())?;
        let mut io = DeviceIo {
            major,
            minor,
            ..DeviceIo::default()
        };
        for field in fields {
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| format!("{field:?} is not key=value"))?;
            let slot = match key {
                "rbytes" => &mut io.read_bytes,
                "wbytes" => &mut io.write_bytes,
                "rios" => &mut io.read_ops,
                "wios" => &mut io.write_ops,
                _ => continue,
            };
            *slot = parse_number(value)?;
        }
        devices.push(io);
    }
    Ok(devices)
}

fn device_number(text: &str) -> Result<(u64, u64), String> {
    let (major, minor) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?} is not a major:minor device number"))?;
    Ok((parse_number(major)?, parse_number(minor)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_keyed_files() {
        let stat = flat_keyed(include_str!("../../tests/fixtures/v2/cpu.stat")).unwrap();
        assert_eq!(stat["usage_usec"], 3_000_000);
        assert_eq!(stat["core_sched.force_idle_usec"], 0);
        let stat = flat_keyed(include_str!("../../tests/fixtures/v1/memory.stat")).unwrap();
        assert_eq!(stat["total_inactive_file"], 1_003_520);
        assert_eq!(stat["hierarchical_memory_limit"], 268_435_456);
        assert!(flat_keyed("usage_usec many\n").is_err());
        assert!(flat_keyed("lonely\n").is_err());
    }

    #[test]
    fn numbers_and_limits() {
        assert_eq!(numbers("1800 1200 \n"), Ok(vec![1800, 1200]));
        assert_eq!(limit("max\n"), Ok(None));
        assert_eq!(limit("100\n"), Ok(Some(100)));
        assert!(limit("-1").is_err());
    }

    #[test]
    fn v1_blkio_files_merge_per_device() {
        let bytes = v1_blkio(include_str!(
            "../../tests/fixtures/v1/blkio.throttle.io_service_bytes_recursive"
        ))
        .unwrap();
        let ops = v1_blkio(include_str!(
            "../../tests/fixtures/v1/blkio.throttle.io_serviced_recursive"
        ))
        .unwrap();
        assert_eq!(
            v1_device_io(&bytes, &ops),
            [
                DeviceIo {
                    major: 8,
                    minor: 0,
                    read_bytes: 20480,
                    write_bytes: 0,
                    read_ops: 5,
                    write_ops: 0
                },
                DeviceIo {
                    major: 8,
                    minor: 16,
                    read_bytes: 1_048_576,
                    write_bytes: 4096,
                    read_ops: 12,
                    write_ops: 1
                },
            ]
        );
        assert_eq!(v1_blkio("Total 0\n"), Ok(BTreeMap::new()));
    }

    #[test]
    fn v2_io_stat() {
        let devices = io_stat(include_str!("../../tests/fixtures/v2/io.stat")).unwrap();
        assert_eq!(devices.len(), 2);
        assert_eq!(
            devices[0],
            DeviceIo {
                major: 8,
                minor: 16,
                read_bytes: 1_048_576,
                write_bytes: 4096,
                read_ops: 12,
                write_ops: 1
            }
        );
        assert!(io_stat("8:0 rbytes\n").is_err());
        assert!(io_stat("sda rbytes=1\n").is_err());
    }
}
