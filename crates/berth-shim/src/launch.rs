//! The daemon's startup: config to a created container, pid files and a bound socket, then
//! the report to the launcher. On failure nothing is left running.

use std::ffi::CStr;
use std::os::unix::net::UnixListener;

use berth_runtime::{Container, EXIT_RUNTIME_FAILURE};
use berth_shim_proto::{Launched, ShimConfig};
use nix::sys::signalfd::SignalFd;
use nix::unistd::Pid;

use crate::container_log::ContainerLog;
use crate::daemon::Notifier;
use crate::exec_dir::{ExecDir, SHIM_LOG_FILE};
use crate::monitor::Monitor;
use crate::process_io::{self, PendingIo, ProcessIo, Wanted};
use crate::rotating_file::{RotatingFile, Rotation};
use crate::shim_log::ShimLog;
use crate::signals;

/// The shim's name in `ps` and `/proc/<pid>/comm`.
const PROCESS_NAME: &CStr = c"berth-shim";
/// Mode of the log files, as Docker creates them.
const LOG_MODE: u32 = 0o640;

/// What the monitor starts from.
pub struct Started {
    pub signals: SignalFd,
    pub listener: UnixListener,
    pub container: Container,
    pub io: ProcessIo,
    pub stdin_once: bool,
    pub log: Option<ContainerLog<RotatingFile>>,
    /// The container's seccomp profile: every exec'd process gets it too.
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
}

struct Failure {
    message: String,
    exit_code: i32,
}

impl Failure {
    fn new(context: &str, err: impl std::fmt::Display) -> Self {
        Self {
            message: format!("{context}: {err}"),
            exit_code: EXIT_RUNTIME_FAILURE,
        }
    }
}

/// Runs in the daemon: creates the container and tells the launcher how it went.
pub fn launch(exec_dir: ExecDir, config: ShimConfig, notifier: Notifier) -> Option<Monitor> {
    let mut shim_log = ShimLog::open(&exec_dir.file(SHIM_LOG_FILE));
    match start(&exec_dir, &config) {
        Ok(started) => {
            notifier.send(&Launched {
                shim_pid: Some(std::process::id() as i32),
                init_pid: Some(started.container.pid()),
                error: None,
                exit_code: None,
            });
            Some(Monitor::new(exec_dir, shim_log, started))
        }
        Err(failure) => {
            shim_log.error(&failure.message);
            notifier.send(&Launched {
                shim_pid: None,
                init_pid: None,
                error: Some(failure.message),
                exit_code: Some(failure.exit_code),
            });
            None
        }
    }
}

fn start(exec_dir: &ExecDir, config: &ShimConfig) -> Result<Started, Failure> {
    nix::sys::prctl::set_name(PROCESS_NAME).map_err(|e| Failure::new("set process name", e))?;
    // Orphans in the container (no pid namespace, or escaped descendants) are reaped here.
    nix::sys::prctl::set_child_subreaper(true).map_err(|e| Failure::new("become subreaper", e))?;
    let signals = signals::listen().map_err(|e| Failure::new("signalfd", e))?;
    let log = match &config.log_path {
        None => None,
        Some(path) => {
            let rotation = Rotation {
                max_size: config.log_max_size,
                max_files: config.log_max_files,
                compress: config.log_compress,
            };
            let file = RotatingFile::open(path, rotation, LOG_MODE)
                .map_err(|e| Failure::new(&format!("open log {}", path.display()), e))?;
            Some(ContainerLog::new(
                file,
                config.log_format,
                &config.log_attrs,
            ))
        }
    };
    // A terminal's output is all "stdout"; without `open_stdin` the container reads /dev/null.
    let wanted = Wanted {
        terminal: config
            .spec
            .process()
            .as_ref()
            .is_some_and(|p| p.terminal() == Some(true)),
        stdin: config.open_stdin,
        stdout: true,
        stderr: true,
    };
    let (pending, child) = process_io::prepare(wanted).map_err(|e| Failure::new("stdio", e))?;
    let created = berth_runtime::create(&config.spec, &config.rootfs, child.as_stdio());
    // Only the container may hold its ends: its exit must end the streams.
    drop(child);
    let mut container = created.map_err(|e| Failure {
        message: e.to_string(),
        exit_code: e.exit_code(),
    })?;

    match finish(exec_dir, &mut container, pending) {
        Ok((io, listener)) => Ok(Started {
            signals,
            listener,
            container,
            io,
            stdin_once: config.stdin_once,
            log,
            seccomp: config
                .spec
                .linux()
                .as_ref()
                .and_then(|l| l.seccomp().clone()),
        }),
        Err(failure) => {
            abandon(container);
            Err(failure)
        }
    }
}

/// The rest of the setup once the container exists: the shim's ends of its stdio, the pid
/// files and the socket.
fn finish(
    exec_dir: &ExecDir,
    container: &mut Container,
    pending: PendingIo,
) -> Result<(ProcessIo, UnixListener), Failure> {
    let io = pending
        .finish(container.take_terminal())
        .map_err(|e| Failure::new("terminal", e))?;
    exec_dir
        .write_pids(std::process::id() as i32, container.pid())
        .map_err(|e| Failure::new("write pid files", e))?;
    let listener = exec_dir
        .bind_socket()
        .map_err(|e| Failure::new("bind shim socket", e))?;
    Ok((io, listener))
}

/// Ends a created container that will not be started, and reaps its init.
fn abandon(container: Container) {
    let pid = Pid::from_raw(container.pid());
    drop(container);
    let _ = nix::sys::wait::waitpid(pid, None);
}
