//! Starting berthd on first use, so that `berth run hello-world` works as the very first
//! command: find the binary, start it detached in its own session with its output in a log
//! file, and wait until it answers.

use std::env;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bollard::Docker;

use crate::error::os_message;

const READY_TIMEOUT: Duration = Duration::from_secs(10);
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Where berthd's output goes: the system log directory, else the exec root.
const LOG_FILES: [&str; 2] = ["/var/log/berthd.log", "/run/berth/berthd.log"];

/// Starts berthd and returns a client once it answers on `host`.
pub async fn start_berthd(host: &str) -> Result<Docker, String> {
    let binary = find_berthd().ok_or("no berthd next to berth or in PATH")?;
    let (log, log_path) = open_log()?;
    let mut child = spawn_detached(&binary, log)
        .map_err(|e| format!("cannot start {}: {}", binary.display(), os_message(&e)))?;
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(docker) = super::open(host).await {
            return Ok(docker);
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("berthd exited ({status}); see {log_path}"));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "no answer within {}s; see {log_path}",
                READY_TIMEOUT.as_secs()
            ));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// `berthd` beside the running `berth`, else the first one in PATH.
fn find_berthd() -> Option<PathBuf> {
    let beside = env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("berthd")));
    let in_path = env::var_os("PATH")
        .into_iter()
        .flat_map(|path| env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("berthd"));
    beside.into_iter().chain(in_path).find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn open_log() -> Result<(File, String), String> {
    let mut failures = Vec::new();
    for path in LOG_FILES {
        if let Some(dir) = Path::new(path).parent() {
            // A missing directory shows up as the open error below.
            let _ = fs::create_dir_all(dir);
        }
        match OpenOptions::new().create(true).append(true).open(path) {
            Ok(file) => return Ok((file, path.to_string())),
            Err(e) => failures.push(format!("open {path}: {}", os_message(&e))),
        }
    }
    Err(failures.join("; "))
}

fn spawn_detached(binary: &Path, log: File) -> io::Result<Child> {
    let mut command = Command::new(binary);
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: the closure runs in the forked child before exec and only calls setsid(2),
    // which is async-signal-safe and touches no memory shared with the parent. A new session
    // detaches berthd from our terminal, so it outlives this command and its Ctrl-C.
    unsafe {
        command.pre_exec(|| rustix::process::setsid().map(drop).map_err(io::Error::from));
    }
    command.spawn()
}
