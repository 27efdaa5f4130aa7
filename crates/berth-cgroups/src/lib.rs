//! Containers' cgroups on cgroup v1, v2 and hybrid hosts.
//!
//! [`Layout::detect`] finds the host's hierarchies; a [`Cgroup`] is one container's cgroup in
//! all of them. berthd [creates](Cgroup::create) it and [applies](Cgroup::apply) the OCI
//! resources before the container's init exists (the init joins it itself, from the spec's
//! `linux.cgroupsPath`), and [removes](Cgroup::remove) it after exit, reading the
//! [OOM kills](Cgroup::oom_kills) first; it reads [stats](Cgroup::stats),
//! [freezes](Cgroup::freeze) and [thaws](Cgroup::thaw) for pause/unpause, re-applies limits
//! for `docker update`, and lists [pids](Cgroup::pids) for `docker top`.
//!
//! | | v1 | hybrid | pure v2 |
//! |---|---|---|---|
//! | directories | one per hierarchy (incl. `name=systemd`) | v1 ones + one in the v2 tree | one |
//! | limits, stats | v1 files | v1 files | v2 files |
//! | freezer | `freezer.state` | `freezer.state` | `cgroup.freeze` |
//! | `SIGKILL` to all | freeze, signal each, thaw | `cgroup.kill` | `cgroup.kill` |
//! | device rules | `devices.allow`/`deny` | `devices.allow`/`deny` | eBPF device filter |
//!
//! On a hybrid host every limit goes to the v1 hierarchies; a controller the host left to the
//! v2 tree (not mounted as v1) is not used.
//!
//! Nothing here spawns a process: it reads and writes files under `/sys/fs/cgroup`, makes and
//! removes directories there, and on pure v2 loads and attaches device filter programs with
//! `bpf(2)` (which needs `CAP_SYS_ADMIN`, or `CAP_BPF` with `CAP_NET_ADMIN`). Everything
//! blocks (briefly; `freeze` up to 10 s), so async callers use a blocking thread.

mod cgroup;
mod cgroup_file;
mod cgroup_path;
mod devices;
mod error;
mod freezer;
mod kill;
mod layout;
mod oom;
mod resources;
mod stats;

pub use cgroup::Cgroup;
pub use error::{Error, Result};
pub use layout::{CGROUP_ROOT, Layout, V1Hierarchy};
pub use stats::{CpuStats, CpuThrottling, DeviceIo, MemoryStats, PidsStats, Stats};
