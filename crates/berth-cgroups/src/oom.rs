//! How many times the kernel's OOM killer killed a process of the cgroup: Docker's
//! `State.OOMKilled` is whether this is above zero when the container exits.

use crate::cgroup::Cgroup;
use crate::cgroup_file::{parse_with, read_optional};
use crate::error::Result;
use crate::stats::parse::flat_keyed;

impl Cgroup {
    /// The `oom_kill` count of the memory controller: v1 `memory.oom_control` (kernels since
    /// 4.13 report it) or v2 `memory.events`. `None` without a memory controller or a kernel
    /// that does not count.
    pub fn oom_kills(&self) -> Result<Option<u64>> {
        let file = match self.v2_resource_dir() {
            Some(dir) => dir.join("memory.events"),
            None => match self.v1_dir("memory") {
                Some(dir) => dir.join("memory.oom_control"),
                None => return Ok(None),
            },
        };
        let Some(text) = read_optional(&file)? else {
            return Ok(None);
        };
        let counts = parse_with(&file, &text, flat_keyed)?;
        Ok(counts.get("oom_kill").copied())
    }
}
