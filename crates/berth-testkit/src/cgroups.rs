//! Removing the cgroups a test daemon's containers left behind (berthd was killed before it
//! could), in every mounted hierarchy.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Mount points of cgroup (v1) and cgroup2 hierarchies.
fn hierarchies() -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let fstype = right.split(' ').next()?;
            let mountpoint = left.split(' ').nth(4)?;
            (fstype == "cgroup" || fstype == "cgroup2").then(|| PathBuf::from(mountpoint))
        })
        .collect()
}

/// rmdir children first; a cgroup whose processes are still dying is retried briefly.
fn remove_dir_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_dir_tree(&e.path());
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while std::fs::remove_dir(dir).is_err() && dir.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Removes `<hierarchy>/<parent>` everywhere, and the shared `berth-test` parent when empty.
pub fn remove_tree(parent: &str) {
    for h in hierarchies() {
        remove_dir_tree(&h.join(parent));
        if let Some(shared) = Path::new(parent)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            let _ = std::fs::remove_dir(h.join(shared));
        }
    }
}
