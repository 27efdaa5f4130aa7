//! The device nodes a container's `/dev` gets: the defaults every container has, and those the
//! spec adds (`--device`).

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use crate::error::SpecError;
use crate::rootfs_plan::in_root;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeviceKind {
    Char,
    Block,
    Fifo,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Device {
    /// Relative to the container's root, e.g. `dev/null`.
    pub path: PathBuf,
    pub kind: DeviceKind,
    pub major: u32,
    pub minor: u32,
    /// Permission bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// `/dev/null`, `zero`, `full`, `random`, `urandom` and `tty`: what every container gets.
pub(crate) fn defaults() -> Vec<Device> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .into_iter()
    .map(|(name, major, minor)| Device {
        path: Path::new("dev").join(name),
        kind: DeviceKind::Char,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

pub(crate) fn from_spec(device: &LinuxDevice) -> Result<Device, SpecError> {
    let invalid = |reason: &str| SpecError::Device {
        path: device.path().clone(),
        reason: reason.to_string(),
    };
    let kind = match device.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => DeviceKind::Char,
        LinuxDeviceType::B => DeviceKind::Block,
        LinuxDeviceType::P => DeviceKind::Fifo,
        LinuxDeviceType::A => return Err(invalid("device type \"a\" is only for cgroup rules")),
    };
    let number = |n: i64| u32::try_from(n).map_err(|_| invalid("device number out of range"));
    Ok(Device {
        path: in_root(device.path())?,
        kind,
        major: number(device.major())?,
        minor: number(device.minor())?,
        mode: device.file_mode().unwrap_or(0o666) & 0o7777,
        uid: device.uid().unwrap_or(0),
        gid: device.gid().unwrap_or(0),
    })
}

/// The defaults followed by the spec's devices; a spec device replaces a default at its path.
pub(crate) fn merge(spec_devices: Vec<Device>) -> Vec<Device> {
    let mut all: Vec<Device> = defaults()
        .into_iter()
        .filter(|d| !spec_devices.iter().any(|s| s.path == d.path))
        .collect();
    all.extend(spec_devices);
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceBuilder;

    #[test]
    fn spec_devices_override_defaults_and_keep_their_mode() {
        let fuse = LinuxDeviceBuilder::default()
            .path("/dev/fuse")
            .typ(LinuxDeviceType::C)
            .major(10)
            .minor(229)
            .file_mode(0o620u32)
            .build()
            .unwrap();
        let null = LinuxDeviceBuilder::default()
            .path("/dev/null")
            .typ(LinuxDeviceType::C)
            .major(1)
            .minor(3)
            .uid(7u32)
            .build()
            .unwrap();
        let all = merge(vec![from_spec(&fuse).unwrap(), from_spec(&null).unwrap()]);
        let paths: Vec<_> = all.iter().map(|d| d.path.to_str().unwrap()).collect();
        assert_eq!(
            paths,
            [
                "dev/zero",
                "dev/full",
                "dev/random",
                "dev/urandom",
                "dev/tty",
                "dev/fuse",
                "dev/null"
            ]
        );
        assert_eq!(all[5].mode, 0o620);
        assert_eq!(all[6].uid, 7);
    }

    #[test]
    fn cgroup_only_type_is_refused() {
        let any = LinuxDeviceBuilder::default()
            .path("/dev/x")
            .typ(LinuxDeviceType::A)
            .build()
            .unwrap();
        assert!(from_spec(&any).is_err());
    }
}
