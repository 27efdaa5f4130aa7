//! Resource and isolation flags: sizes in docker's units (`64m`, `1g`), `--cpus`,
//! `--ulimit`, `--device`, `--device-cgroup-rule`, `--sysctl` and `--security-opt`.

use std::fs;

use bollard::models::{
    DeviceMapping, ResourcesBlkioWeightDevice, ResourcesUlimits, ThrottleDevice,
};

use super::{parse_int, parse_uint, strconv_error};
use crate::error::os_message;
use crate::gopath::clean;

/// go-units' RAMInBytes: a number (fractions allowed) with an optional binary unit suffix
/// (`k`, `m`, `g`, `t`, `p`, each optionally followed by `b` or `ib`, in any case), or a plain
/// byte count; a space may separate them. Truncated to whole bytes.
pub fn ram_in_bytes(text: &str) -> Result<i64, String> {
    let Some(separator) = text.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ') else {
        return Err(format!("invalid size: '{text}'"));
    };
    let (number, suffix) = if text.as_bytes()[separator] == b' ' {
        (&text[..separator], &text[separator + 1..])
    } else {
        text.split_at(separator + 1)
    };
    let size: f64 = parse_float(number)?;
    if size < 0.0 {
        return Err(format!("invalid size: '{text}'"));
    }
    if suffix.is_empty() {
        return Ok(size as i64);
    }
    let bad_suffix = || format!("invalid suffix: '{}'", suffix.to_lowercase());
    let lower = suffix.to_lowercase();
    if lower.len() > 3 {
        return Err(bad_suffix());
    }
    let unit: f64 = match lower.as_bytes()[0] {
        b'b' if lower.len() == 1 => return Ok(size as i64),
        b'k' => 1024.0,
        b'm' => 1024.0 * 1024.0,
        b'g' => 1024.0 * 1024.0 * 1024.0,
        b't' => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        b'p' => 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad_suffix()),
    };
    match &lower[1..] {
        "" | "b" | "ib" => Ok((size * unit) as i64),
        _ => Err(bad_suffix()),
    }
}

/// Go's `strconv.ParseFloat(text, 64)` for the decimal forms sizes are written in.
fn parse_float(text: &str) -> Result<f64, String> {
    let valid = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    match text.parse::<f64>() {
        Ok(value) if valid => Ok(value),
        _ => Err(strconv_error("ParseFloat", text, false)),
    }
}

/// `--memory-swap`: a size, or -1 for unlimited swap.
pub fn parse_memory_swap(text: &str) -> Result<i64, String> {
    if text == "-1" {
        return Ok(-1);
    }
    ram_in_bytes(text)
}

/// `--cpus`: a decimal number of CPUs as nano-CPUs; more than nine decimals is refused as
/// docker refuses it ("value is too precise").
pub fn parse_cpus(text: &str) -> Result<i64, String> {
    let not_rational = || format!("failed to parse {text} as a rational number");
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if (whole.is_empty() && fraction.is_empty())
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(not_rational());
    }
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > 9 {
        return Err("value is too precise".to_string());
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| not_rational())?
    };
    let nanos: i64 = format!("{fraction:0<9}").parse().unwrap_or(0);
    let total = whole
        .checked_mul(1_000_000_000)
        .and_then(|w| w.checked_add(nanos))
        .ok_or_else(not_rational)?;
    Ok(if negative { -total } else { total })
}

/// The resource limits `--ulimit` may set, as go-units names them.
const ULIMITS: [&str; 15] = [
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// `--ulimit NAME=SOFT[:HARD]` (the hard limit defaults to the soft one; -1 is unlimited).
pub fn parse_ulimit(text: &str) -> Result<ResourcesUlimits, String> {
    let Some((name, limits)) = text.split_once('=') else {
        return Err(format!("invalid ulimit argument: {text}"));
    };
    if !ULIMITS.contains(&name) {
        return Err(format!("invalid ulimit type: {name}"));
    }
    let values: Vec<&str> = limits.split(':').collect();
    let (soft, hard) = match values.as_slice() {
        [soft] => {
            let soft = parse_int(soft)?;
            (soft, soft)
        }
        [soft, hard] => {
            let hard = parse_int(hard)?;
            (parse_int(soft)?, hard)
        }
        _ => {
            return Err(format!(
                "too many limit value arguments - {limits}, can only have up to two, `soft[:hard]`"
            ));
        }
    };
    if hard != -1 {
        if soft == -1 {
            return Err(format!(
                "ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: {hard}"
            ));
        }
        if soft > hard {
            return Err(format!(
                "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            ));
        }
    }
    Ok(ResourcesUlimits {
        name: Some(name.to_string()),
        soft: Some(soft),
        hard: Some(hard),
    })
}

/// The ulimits as docker sends them: one per name (the last given wins), sorted by name.
pub fn ulimits(given: &[ResourcesUlimits]) -> Vec<ResourcesUlimits> {
    let mut by_name: Vec<ResourcesUlimits> = Vec::new();
    for ulimit in given {
        by_name.retain(|u| u.name != ulimit.name);
        by_name.push(ulimit.clone());
    }
    by_name.sort_by(|a, b| a.name.cmp(&b.name));
    by_name
}

/// `--cap-add`/`--cap-drop` as docker's client sends them: upper case, with the `CAP_`
/// prefix (but `ALL`), each once, sorted.
pub fn capabilities(given: &[String]) -> Option<Vec<String>> {
    let mut capabilities: Vec<String> = given
        .iter()
        .map(|capability| {
            let capability = capability.to_uppercase();
            if capability == "ALL" || capability.starts_with("CAP_") {
                capability
            } else {
                format!("CAP_{capability}")
            }
        })
        .collect();
    capabilities.sort();
    capabilities.dedup();
    (!capabilities.is_empty()).then_some(capabilities)
}

/// `--device-cgroup-rule`: `TYPE MAJOR:MINOR ACCESS`, as `c 1:3 rwm` or `b *:* r`.
pub fn parse_device_cgroup_rule(text: &str) -> Result<String, String> {
    let invalid = || format!("invalid device cgroup format '{text}'");
    let mut parts = text.splitn(3, ' ');
    let (Some(kind), Some(numbers), Some(access)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    let number = |n: &str| n == "*" || (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let valid = matches!(kind, "a" | "b" | "c")
        && numbers
            .split_once(':')
            .is_some_and(|(major, minor)| number(major) && number(minor))
        && (1..=3).contains(&access.len())
        && access.bytes().all(|b| matches!(b, b'r' | b'w' | b'm'));
    if valid {
        Ok(text.to_string())
    } else {
        Err(invalid())
    }
}

/// The device path of a `<device-path>:<value>` flag, which must be under /dev.
fn device_and_value(text: &str) -> Result<(&str, &str), String> {
    let (path, value) = text
        .split_once(':')
        .filter(|(_, value)| !value.contains(':'))
        .ok_or_else(|| format!("bad format: {text}"))?;
    if !path.starts_with("/dev/") {
        return Err(format!("bad format for device path: {path}"));
    }
    Ok((path, value))
}

/// `--device-read-bps` and `--device-write-bps`: `<device-path>:<rate>[<unit>]`.
pub fn parse_throttle_bps(text: &str) -> Result<ThrottleDevice, String> {
    let (path, rate) = device_and_value(text)?;
    let rate = ram_in_bytes(rate).map_err(|_| {
        format!(
            "invalid rate for device: {text}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb"
        )
    })?;
    Ok(ThrottleDevice {
        path: Some(path.to_string()),
        rate: Some(rate),
    })
}

/// `--device-read-iops` and `--device-write-iops`: `<device-path>:<number>`.
pub fn parse_throttle_iops(text: &str) -> Result<ThrottleDevice, String> {
    let (path, rate) = device_and_value(text)?;
    let rate = parse_uint(rate, 64).map_err(|_| {
        format!(
            "invalid rate for device: {text}. The correct format is <device-path>:<number>. Number must be a positive integer"
        )
    })?;
    Ok(ThrottleDevice {
        path: Some(path.to_string()),
        rate: i64::try_from(rate).ok(),
    })
}

/// `--blkio-weight-device`: `<device-path>:<weight>`, the weight between 10 and 1000.
pub fn parse_weight_device(text: &str) -> Result<ResourcesBlkioWeightDevice, String> {
    let (path, weight) = device_and_value(text)?;
    let weight = parse_uint(weight, 16)
        .ok()
        .filter(|w| (10..=1000).contains(w))
        .ok_or_else(|| format!("invalid weight for device: {text}"))?;
    Ok(ResourcesBlkioWeightDevice {
        path: Some(path.to_string()),
        weight: Some(weight as usize),
    })
}

/// `--sysctl KEY=VALUE`: only the namespaced sysctls docker lets a container set.
pub fn parse_sysctl(text: &str) -> Result<(String, String), String> {
    const ALLOWED: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let not_allowed = || format!("sysctl '{text}' is not allowed");
    let (key, value) = text
        .split_once('=')
        .filter(|(key, _)| !key.is_empty())
        .ok_or_else(not_allowed)?;
    if ALLOWED.contains(&key) || key.starts_with("net.") || key.starts_with("fs.mqueue.") {
        Ok((key.to_string(), value.to_string()))
    } else {
        Err(not_allowed())
    }
}

/// What `--device` entries become: device mappings, and CDI device names (`vendor/class=name`)
/// to request from the CDI driver.
#[derive(Debug, Default, PartialEq)]
pub struct Devices {
    pub mappings: Vec<DeviceMapping>,
    pub cdi: Vec<String>,
}

/// `--device HOST[:CONTAINER][:PERMISSIONS]` entries, checked as docker checks them for a
/// Linux daemon (after the flags are read: its failures point at the command's help).
pub fn devices(entries: &[String]) -> Result<Devices, String> {
    let mut devices = Devices::default();
    for entry in entries {
        if is_cdi_name(entry) {
            devices.cdi.push(entry.clone());
            continue;
        }
        let validated = validate_device_path(entry)?;
        devices.mappings.push(device_mapping(&validated)?);
    }
    Ok(devices)
}

/// Whether `text` names a CDI device: `vendor.com/class=name`.
fn is_cdi_name(text: &str) -> bool {
    let Some((kind, name)) = text.split_once('=') else {
        return false;
    };
    let Some((vendor, class)) = kind.split_once('/') else {
        return false;
    };
    let alnum_start_end = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    let vendor_ok = alnum_start_end(vendor)
        && vendor
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    let class_ok = alnum_start_end(class)
        && class
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c));
    let name_ok = alnum_start_end(name)
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c));
    vendor_ok && class_ok && name_ok
}

/// Whether `mode` is a device permission set: some of r, w, m, each at most once.
fn is_device_mode(mode: &str) -> bool {
    !mode.is_empty()
        && mode.bytes().all(|b| matches!(b, b'r' | b'w' | b'm'))
        && mode
            .bytes()
            .enumerate()
            .all(|(i, b)| !mode[i + 1..].contains(b as char))
}

/// Docker's path check for a device: `[HOST:]CONTAINER[:MODE]` with an absolute container
/// path. Returns the entry with the path cleaned, as docker passes it on.
fn validate_device_path(entry: &str) -> Result<String, String> {
    let bad_format = || format!("bad format for path: {entry}");
    if entry.matches(':').count() > 2 {
        return Err(bad_format());
    }
    let parts: Vec<&str> = entry.splitn(3, ':').collect();
    if parts[0].is_empty() {
        return Err(bad_format());
    }
    let (container_path, validated) = match parts.as_slice() {
        [path] => (*path, clean(path)),
        [path, mode] if is_device_mode(mode) => (*path, format!("{}:{mode}", clean(path))),
        [host, path] => (*path, format!("{host}:{}", clean(path))),
        [_, path, mode] => {
            if !is_device_mode(mode) {
                return Err(format!("bad mode specified: {mode}"));
            }
            (*path, entry.to_string())
        }
        _ => return Err(bad_format()),
    };
    if !container_path.starts_with('/') {
        return Err(format!("{container_path} is not an absolute path"));
    }
    Ok(validated)
}

/// The mapping for a checked `--device` entry: the same path in the container unless one is
/// given, and `rwm` unless permissions are.
fn device_mapping(entry: &str) -> Result<DeviceMapping, String> {
    let parts: Vec<&str> = entry.splitn(4, ':').collect();
    let (host, mut container, mut permissions) = (parts[0], "", "rwm");
    match parts.as_slice() {
        [_] => {}
        [_, second] => {
            if is_device_mode(second) {
                permissions = second;
            } else {
                container = second;
            }
        }
        [_, second, third] => {
            permissions = third;
            if is_device_mode(second) {
                permissions = second;
            } else {
                container = second;
            }
        }
        _ => return Err(format!("invalid device specification: {entry}")),
    }
    if container.is_empty() {
        container = host;
    }
    Ok(DeviceMapping {
        path_on_host: Some(host.to_string()),
        path_in_container: Some(container.to_string()),
        cgroup_permissions: Some(permissions.to_string()),
    })
}

/// `--security-opt` entries as docker sends them: `KEY=VALUE` (or the older `KEY:VALUE`), a
/// bare `no-new-privileges`, a seccomp profile file read and sent inline. The client-side
/// `systempaths=unconfined` is taken out; it is returned as `true` (no masked or read-only
/// paths).
pub fn security_options(entries: &[String]) -> Result<(Vec<String>, bool), String> {
    let mut options = Vec::new();
    let mut unconfined_paths = false;
    for entry in entries {
        let (key, value) = match entry.split_once('=') {
            Some(pair) => pair,
            None if entry == "no-new-privileges" => (entry.as_str(), ""),
            None => entry.split_once(':').unwrap_or((entry, "")),
        };
        if value.is_empty() && key != "no-new-privileges" {
            return Err(format!("Invalid --security-opt: {entry:?}"));
        }
        if entry == "systempaths=unconfined" {
            unconfined_paths = true;
            continue;
        }
        if key == "seccomp" && value != "builtin" && value != "unconfined" {
            let text = fs::read(value).map_err(|e| {
                format!(
                    "opening seccomp profile ({value}) failed: open {value}: {}",
                    os_message(&e)
                )
            })?;
            let profile: serde_json::Value = serde_json::from_slice(&text).map_err(|e| {
                format!("compacting json for seccomp profile ({value}) failed: {e}")
            })?;
            options.push(format!("seccomp={profile}"));
            continue;
        }
        options.push(entry.clone());
    }
    Ok((options, unconfined_paths))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_docker_units() {
        assert_eq!(ram_in_bytes("64m"), Ok(64 * 1024 * 1024));
        assert_eq!(ram_in_bytes("1g"), Ok(1 << 30));
        assert_eq!(ram_in_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(ram_in_bytes("1.5k"), Ok(1536));
        assert_eq!(ram_in_bytes("512"), Ok(512));
        assert_eq!(ram_in_bytes("10b"), Ok(10));
        assert_eq!(ram_in_bytes("2 MB"), Ok(2 << 20));
        assert_eq!(ram_in_bytes("0.5"), Ok(0));
        assert_eq!(ram_in_bytes("x").unwrap_err(), "invalid size: 'x'");
        assert_eq!(ram_in_bytes("").unwrap_err(), "invalid size: ''");
        assert_eq!(ram_in_bytes("-1").unwrap_err(), "invalid size: '-1'");
        assert_eq!(ram_in_bytes("1q").unwrap_err(), "invalid suffix: 'q'");
        assert_eq!(ram_in_bytes("1kbb").unwrap_err(), "invalid suffix: 'kbb'");
        assert_eq!(ram_in_bytes("1MX").unwrap_err(), "invalid suffix: 'mx'");
        assert_eq!(
            ram_in_bytes("1.2.3m").unwrap_err(),
            "strconv.ParseFloat: parsing \"1.2.3\": invalid syntax"
        );
        assert_eq!(parse_memory_swap("-1"), Ok(-1));
        assert_eq!(parse_memory_swap("1g"), Ok(1 << 30));
    }

    #[test]
    fn cpus_are_nano_cpus() {
        assert_eq!(parse_cpus("1.5"), Ok(1_500_000_000));
        assert_eq!(parse_cpus("2"), Ok(2_000_000_000));
        assert_eq!(parse_cpus(".25"), Ok(250_000_000));
        assert_eq!(parse_cpus("0.000000001"), Ok(1));
        assert_eq!(parse_cpus("1.0000000000"), Ok(1_000_000_000));
        assert_eq!(
            parse_cpus("0.0000000001").unwrap_err(),
            "value is too precise"
        );
        assert_eq!(
            parse_cpus("one").unwrap_err(),
            "failed to parse one as a rational number"
        );
    }

    #[test]
    fn ulimits_follow_go_units() {
        let nofile = parse_ulimit("nofile=1024:2048").unwrap();
        assert_eq!(
            (nofile.name.as_deref(), nofile.soft, nofile.hard),
            (Some("nofile"), Some(1024), Some(2048))
        );
        let nproc = parse_ulimit("nproc=100").unwrap();
        assert_eq!((nproc.soft, nproc.hard), (Some(100), Some(100)));
        let unlimited = parse_ulimit("core=-1").unwrap();
        assert_eq!((unlimited.soft, unlimited.hard), (Some(-1), Some(-1)));
        assert_eq!(
            parse_ulimit("nofile").unwrap_err(),
            "invalid ulimit argument: nofile"
        );
        assert_eq!(parse_ulimit("as=1").unwrap_err(), "invalid ulimit type: as");
        assert_eq!(
            parse_ulimit("nofile=2:1").unwrap_err(),
            "ulimit soft limit must be less than or equal to hard limit: 2 > 1"
        );
        assert_eq!(
            parse_ulimit("nofile=-1:10").unwrap_err(),
            "ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: 10"
        );
        assert_eq!(
            parse_ulimit("nofile=1:2:3").unwrap_err(),
            "too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`"
        );
        assert_eq!(
            parse_ulimit("nofile=x").unwrap_err(),
            "strconv.ParseInt: parsing \"x\": invalid syntax"
        );
        let merged = ulimits(&[
            parse_ulimit("nproc=1").unwrap(),
            parse_ulimit("core=0").unwrap(),
            parse_ulimit("nproc=2").unwrap(),
        ]);
        let names: Vec<_> = merged
            .iter()
            .map(|u| (u.name.clone().unwrap(), u.soft))
            .collect();
        assert_eq!(
            names,
            [
                ("core".to_string(), Some(0)),
                ("nproc".to_string(), Some(2))
            ]
        );
        assert!(ulimits(&[]).is_empty());
    }

    #[test]
    fn devices_follow_docker() {
        let mapping = |host: &str, container: &str, permissions: &str| DeviceMapping {
            path_on_host: Some(host.into()),
            path_in_container: Some(container.into()),
            cgroup_permissions: Some(permissions.into()),
        };
        let parsed = devices(&[
            "/dev/fuse".into(),
            "/dev/sda:/dev/xvda/".into(),
            "/dev/null:r".into(),
            "/dev/zero:/dev/z:rw".into(),
            "nvidia.com/gpu=all".into(),
        ])
        .unwrap();
        assert_eq!(
            parsed.mappings,
            [
                mapping("/dev/fuse", "/dev/fuse", "rwm"),
                mapping("/dev/sda", "/dev/xvda", "rwm"),
                mapping("/dev/null", "/dev/null", "r"),
                mapping("/dev/zero", "/dev/z", "rw"),
            ]
        );
        assert_eq!(parsed.cdi, ["nvidia.com/gpu=all"]);
        let error = |entry: &str| devices(&[entry.to_string()]).unwrap_err();
        assert_eq!(error("a:b:c:d"), "bad format for path: a:b:c:d");
        assert_eq!(error(":/dev/x"), "bad format for path: :/dev/x");
        assert_eq!(error("/dev/a:/dev/b:x"), "bad mode specified: x");
        assert_eq!(error("/dev/a:dev/b"), "dev/b is not an absolute path");
        assert_eq!(error("/dev/a:rr"), "rr is not an absolute path");
    }

    #[test]
    fn capabilities_are_normalized() {
        let given = ["net_admin", "CAP_SYS_TIME", "all", "NET_ADMIN"].map(String::from);
        assert_eq!(
            capabilities(&given),
            Some(vec![
                "ALL".to_string(),
                "CAP_NET_ADMIN".to_string(),
                "CAP_SYS_TIME".to_string()
            ])
        );
        assert_eq!(capabilities(&[]), None);
    }

    #[test]
    fn device_cgroup_rules_and_sysctls() {
        assert!(parse_device_cgroup_rule("c 1:3 rwm").is_ok());
        assert!(parse_device_cgroup_rule("b *:* r").is_ok());
        assert!(parse_device_cgroup_rule("a 7:* mw").is_ok());
        assert_eq!(
            parse_device_cgroup_rule("x 1:3 r").unwrap_err(),
            "invalid device cgroup format 'x 1:3 r'"
        );
        assert!(parse_device_cgroup_rule("c 1:3 rwmr").is_err());
        assert!(parse_device_cgroup_rule("c 1 r").is_err());
        assert_eq!(
            parse_sysctl("net.ipv4.ip_forward=1"),
            Ok(("net.ipv4.ip_forward".into(), "1".into()))
        );
        assert!(parse_sysctl("kernel.shmmax=1").is_ok());
        assert!(parse_sysctl("fs.mqueue.msg_max=10").is_ok());
        assert_eq!(
            parse_sysctl("kernel.hostname=x").unwrap_err(),
            "sysctl 'kernel.hostname=x' is not allowed"
        );
        assert_eq!(
            parse_sysctl("net.core").unwrap_err(),
            "sysctl 'net.core' is not allowed"
        );
    }

    #[test]
    fn security_options_follow_docker() {
        let entries = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            security_options(&entries(&[
                "no-new-privileges",
                "label=disable",
                "apparmor:unconfined",
                "seccomp=unconfined",
                "systempaths=unconfined",
            ])),
            Ok((
                entries(&[
                    "no-new-privileges",
                    "label=disable",
                    "apparmor:unconfined",
                    "seccomp=unconfined"
                ]),
                true
            ))
        );
        assert_eq!(
            security_options(&entries(&["bogus"])).unwrap_err(),
            "Invalid --security-opt: \"bogus\""
        );
        let profile =
            std::env::temp_dir().join(format!("berth-seccomp-test-{}", std::process::id()));
        fs::write(&profile, "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n").unwrap();
        let option = format!("seccomp={}", profile.display());
        let (sent, _) = security_options(&[option]).unwrap();
        assert_eq!(sent, ["seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\"}"]);
        fs::remove_file(&profile).unwrap();
        let missing = security_options(&["seccomp=/nosuch.json".to_string()]).unwrap_err();
        assert_eq!(
            missing,
            "opening seccomp profile (/nosuch.json) failed: open /nosuch.json: no such file or directory"
        );
    }
}
