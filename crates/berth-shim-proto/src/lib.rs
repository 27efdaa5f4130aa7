//! The contract between berthd and a `berth-shim`: the files in a container's exec dir and the
//! messages on the shim's unix socket. Nothing else lives here.
//!
//! # Lifecycle
//! 1. berthd writes [`ShimConfig`] to `<exec dir>/shim.json` and runs `berth-shim <exec dir>`.
//! 2. The shim daemonizes, creates the container (namespaces, rootfs, everything up to the final
//!    `execve`, which waits), binds `<exec dir>/shim.sock`, writes `shim.pid` and `init.pid`, and
//!    the process berthd ran prints one [`Launched`] JSON line on stdout and exits: 0 on success,
//!    non-zero on failure (then [`Launched::error`] says why and nothing is left running).
//! 3. berthd connects any attach streams, then sends [`Request::Start`]; the container `execve`s.
//! 4. When the container's init exits the shim writes [`ExitStatus`] to `exit.json` (atomically),
//!    answers every pending [`Request::Wait`], closes attach streams and exits.
//!
//! # Wire format
//! Each request is one JSON line ([`Envelope`]); each answer is one JSON line ([`Response`]).
//! After a successful `Attach` answer the connection carries only output frames in Docker's
//! multiplexed format: an 8-byte header `[stream, 0, 0, 0, len (u32 big endian)]` then `len`
//! bytes, stream 1 = stdout, 2 = stderr. The shim closes it after the last output.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub mod log_files;
pub use log_files::LogFormat;

/// Bumped when a message changes incompatibly. A shim answers requests of any version it knows;
/// berthd reads the version a shim was started with from [`ShimConfig::version`].
pub const PROTOCOL_VERSION: u32 = 1;

/// File names inside a container's exec dir.
pub const CONFIG_FILE: &str = "shim.json";
pub const SOCKET_FILE: &str = "shim.sock";
pub const EXIT_FILE: &str = "exit.json";
pub const SHIM_PID_FILE: &str = "shim.pid";
pub const INIT_PID_FILE: &str = "init.pid";
/// The empty directory the rootfs is mounted on, inside the container's mount namespace only.
pub const ROOTFS_DIR: &str = "rootfs";

/// Everything a shim needs to run one container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShimConfig {
    pub version: u32,
    /// The container's full 64-hex id.
    pub id: String,
    /// The OCI runtime spec: process (args, env, cwd, user, terminal), hostname, mounts,
    /// namespaces. `root.path` is the rootfs mount point (`<exec dir>/rootfs`).
    pub spec: oci_spec::runtime::Spec,
    /// The overlay that becomes the container's root, mounted inside its mount namespace so
    /// it disappears with the container.
    pub rootfs: OverlayMount,
    /// Where the container log goes; `None` disables logging (`--log-driver none`).
    pub log_path: Option<PathBuf>,
    /// What the log holds: `json-file` lines or `local` entries (see [`log_files`]).
    #[serde(default)]
    pub log_format: LogFormat,
    /// `--log-opt max-size` in bytes: the log rotates before it grows past it (0: never).
    #[serde(default)]
    pub log_max_size: u64,
    /// `--log-opt max-file`: files kept, the current one included.
    #[serde(default)]
    pub log_max_files: u32,
    /// `--log-opt compress`: rotated files are gzipped (`<log>.1.gz`, ...).
    #[serde(default)]
    pub log_compress: bool,
    /// Attributes every entry carries (`--log-opt labels=`, `env=`, `tag=`...), which
    /// `logs --details` shows.
    #[serde(default)]
    pub log_attrs: BTreeMap<String, String>,
    /// Keep the container's stdin open for attach (`docker run -i`, Config.OpenStdin). Without
    /// it the container's stdin is /dev/null. With `spec.process.terminal` the container gets a
    /// pty instead of pipes, and output is raw (not framed).
    #[serde(default)]
    pub open_stdin: bool,
    /// Close the container's stdin when the first attached client's stdin ends
    /// (Config.StdinOnce, set by `docker run -i` without `-d`).
    #[serde(default)]
    pub stdin_once: bool,
}

/// An overlayfs mount: lower layers, top first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverlayMount {
    /// Directory the `lowerdirs` are relative to; the mounter `chdir`s here first so the option
    /// string stays short (overlay options must fit in one page).
    pub layers_root: PathBuf,
    /// Lower directories relative to `layers_root`, top-most first.
    pub lowerdirs: Vec<PathBuf>,
    pub upperdir: PathBuf,
    pub workdir: PathBuf,
}

/// The one line the launched shim process prints before it exits.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Launched {
    /// Host pid of the long-running shim (absent on failure).
    pub shim_pid: Option<i32>,
    /// Host pid of the container's init (absent on failure).
    pub init_pid: Option<i32>,
    /// Why the container could not be created.
    pub error: Option<String>,
    /// The exit code Docker gives such a failure: 127 (command not found), 126 (cannot execute),
    /// 125 otherwise.
    pub exit_code: Option<i32>,
}

/// One request line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub v: u32,
    #[serde(flatten)]
    pub request: Request,
}

// One request is parsed per connection, so Exec's inline Process costs nothing worth boxing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Let the created container `execve`.
    Start,
    /// Turn this connection into an output stream (see the crate docs). With `stdin`, bytes
    /// the client sends after the answer line go to the container's stdin (or its pty); the
    /// client's end-of-file closes that stdin when the container was started `stdin_once`.
    Attach {
        stdout: bool,
        stderr: bool,
        #[serde(default)]
        stdin: bool,
    },
    /// Set the terminal size of the container's pty, or of an exec's pty when `exec_id` is given.
    Resize {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exec_id: Option<String>,
        height: u16,
        width: u16,
    },
    /// Run another process in the container's namespaces (`docker exec`). The answer carries
    /// its host pid in `init_pid`; then, like an attach, the connection carries the process's
    /// output (framed unless `process.terminal`) and takes its stdin when `stdin` is set,
    /// until the process has exited and its output is drained.
    Exec {
        exec_id: String,
        process: oci_spec::runtime::Process,
        #[serde(default)]
        stdin: bool,
        #[serde(default)]
        stdout: bool,
        #[serde(default)]
        stderr: bool,
    },
    /// The state of an exec: `init_pid` while it runs, `exit` once it has ended.
    ExecState { exec_id: String },
    /// Configure network interfaces berthd moved into the container's network namespace
    /// (rename, MAC, MTU, addresses, up, default route) and bring `lo` up. Sent after the
    /// launch and before `Start`, and for `network connect` of a running container. The shim
    /// does it in a short-lived child that joins the namespace, so berthd never calls setns.
    Network {
        interfaces: Vec<berth_net::container_side::ContainerInterface>,
    },
    /// Delete an interface of the container's network namespace (`network disconnect` of a
    /// link that has no host end to delete, such as a macvlan link), from a child in it.
    RemoveInterface { name: String },
    /// Send a signal to the container's init.
    Kill { signal: i32 },
    /// Answer once the container has exited.
    Wait,
    /// Answer now with the current state.
    State,
}

/// One answer line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_pid: Option<i32>,
    /// Set once the container has exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<ExitStatus>,
}

/// How a container ended, as recorded in `exit.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    /// The exit code, or 128 + signal number when the init was killed by a signal.
    pub exit_code: i32,
    /// RFC 3339 with nanoseconds, UTC.
    pub finished_at: String,
}

/// Stream numbers in output frames, as in Docker's multiplexed stream format.
pub const STREAM_STDOUT: u8 = 1;
pub const STREAM_STDERR: u8 = 2;

/// Builds the 8-byte frame header for `len` bytes of `stream`.
pub fn frame_header(stream: u8, len: u32) -> [u8; 8] {
    let l = len.to_be_bytes();
    [stream, 0, 0, 0, l[0], l[1], l[2], l[3]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_are_tagged_by_op() {
        let line = serde_json::to_string(&Envelope {
            v: PROTOCOL_VERSION,
            request: Request::Kill { signal: 9 },
        })
        .unwrap();
        assert_eq!(line, r#"{"v":1,"op":"kill","signal":9}"#);
        // Fields added later default, so an older peer's lines still parse.
        let back: Envelope =
            serde_json::from_str(r#"{"v":1,"op":"attach","stdout":true,"stderr":false}"#).unwrap();
        assert_eq!(
            back.request,
            Request::Attach {
                stdout: true,
                stderr: false,
                stdin: false,
            }
        );
    }

    #[test]
    fn frame_header_is_docker_stdcopy() {
        assert_eq!(frame_header(STREAM_STDERR, 258), [2, 0, 0, 0, 0, 0, 1, 2]);
    }
}
