use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Why a cgroup operation failed. Every variant that touched a file names it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The kernel refused a value (or the file could not be opened).
    #[error("writing {value:?} to {}: {source}", path.display())]
    Write {
        path: PathBuf,
        value: String,
        #[source]
        source: io::Error,
    },

    #[error("creating cgroup {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("removing cgroup {}: {source}", path.display())]
    RemoveDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("unexpected content in {}: {reason}", path.display())]
    Parse { path: PathBuf, reason: String },

    #[error("no cgroup hierarchy is mounted under /sys/fs/cgroup (according to {})", path.display())]
    NoHierarchy { path: PathBuf },

    #[error("invalid cgroup path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },

    /// The controller that `path` belongs to is not mounted (v1) or not enabled (v2), or this
    /// kernel lacks that one setting.
    #[error("{} does not exist: no {controller} controller here, or not this setting of it", path.display())]
    ControllerMissing { controller: String, path: PathBuf },

    /// A resource request that no kernel would accept, or that this cgroup version cannot express.
    #[error("invalid resources: {0}")]
    InvalidResources(String),

    /// The kernel refused the device filter program; the verifier's log says why.
    #[error("loading the eBPF device filter: {source}; verifier log:\n{verifier_log}")]
    DeviceFilterLoad {
        #[source]
        source: io::Error,
        verifier_log: String,
    },

    /// A `bpf(2)` call on a cgroup's device filters failed.
    #[error("{operation} on {}: {source}", path.display())]
    DeviceFilter {
        operation: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{} did not report {expected:?} within {waited:?}", path.display())]
    Timeout {
        path: PathBuf,
        expected: &'static str,
        waited: Duration,
    },

    #[error("invalid signal number {0}")]
    InvalidSignal(i32),

    #[error("invalid process id {0}")]
    InvalidPid(i32),

    #[error("sending signal {signal} to process {pid}: {source}")]
    Signal {
        pid: i32,
        signal: i32,
        #[source]
        source: io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
