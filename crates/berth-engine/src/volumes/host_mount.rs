//! Mounting a volume made from local driver options (`-o type=tmpfs -o device=tmpfs -o
//! o=size=64m`) on its `_data` directory while containers use it.

use nix::mount::{MntFlags, MsFlags};
use std::path::Path;

/// Mount flags by name; everything else in `o` goes to the filesystem as data.
fn split_options(o: &str) -> (MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for opt in o.split(',').filter(|s| !s.is_empty()) {
        match opt {
            "ro" => flags |= MsFlags::MS_RDONLY,
            "nosuid" => flags |= MsFlags::MS_NOSUID,
            "nodev" => flags |= MsFlags::MS_NODEV,
            "noexec" => flags |= MsFlags::MS_NOEXEC,
            "sync" => flags |= MsFlags::MS_SYNCHRONOUS,
            "noatime" => flags |= MsFlags::MS_NOATIME,
            "rw" | "defaults" => {}
            other => data.push(other),
        }
    }
    (flags, data.join(","))
}

fn is_mounted(target: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let target = target.to_string_lossy();
    info.lines().any(|l| l.split(' ').nth(4) == Some(&*target))
}

/// Mounts unless something is mounted there already.
pub fn mount_once(target: &Path, device: &str, fstype: &str, o: &str) -> nix::Result<()> {
    if is_mounted(target) {
        return Ok(());
    }
    let (flags, data) = split_options(o);
    let device = if device.is_empty() { fstype } else { device };
    nix::mount::mount(
        Some(device),
        target,
        Some(fstype),
        flags,
        Some(data.as_str()),
    )
}

pub fn unmount_if_mounted(target: &Path) {
    if is_mounted(target) {
        let _ = nix::mount::umount2(target, MntFlags::MNT_DETACH);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_data_are_split() {
        let (flags, data) = split_options("size=64m,ro,uid=1000,noexec");
        assert_eq!(flags, MsFlags::MS_RDONLY | MsFlags::MS_NOEXEC);
        assert_eq!(data, "size=64m,uid=1000");
    }
}
