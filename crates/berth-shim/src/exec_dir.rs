//! The container's exec dir: the files berthd and the shim share (see `berth-shim-proto`).

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use berth_shim_proto::{
    CONFIG_FILE, EXIT_FILE, ExitStatus, INIT_PID_FILE, PROTOCOL_VERSION, SHIM_PID_FILE,
    SOCKET_FILE, ShimConfig,
};
use nix::sys::stat::Mode;

/// Where errors of the shim go.
pub const SHIM_LOG_FILE: &str = "shim.log";

pub struct ExecDir {
    path: PathBuf,
}

impl ExecDir {
    /// `path` made absolute (the daemon changes its directory to `/`).
    pub fn new(path: &Path) -> io::Result<Self> {
        Ok(Self {
            path: std::path::absolute(path)?,
        })
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub fn read_config(&self) -> Result<ShimConfig, String> {
        let path = self.file(CONFIG_FILE);
        let bytes = std::fs::read(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
        let config: ShimConfig =
            serde_json::from_slice(&bytes).map_err(|e| format!("parse {}: {e}", path.display()))?;
        if config.version > PROTOCOL_VERSION {
            return Err(format!(
                "shim protocol version {} is newer than this shim's ({PROTOCOL_VERSION})",
                config.version
            ));
        }
        Ok(config)
    }

    /// Written whole or not at all, but not forced to disk: they name live processes, which
    /// a crash ends too (and `fsync` would sit on the launch path).
    pub fn write_pids(&self, shim_pid: i32, init_pid: i32) -> io::Result<()> {
        replace_file(&self.file(SHIM_PID_FILE), shim_pid.to_string().as_bytes())?;
        replace_file(&self.file(INIT_PID_FILE), init_pid.to_string().as_bytes())
    }

    /// Written atomically and durably: berthd may read it long after the shim is gone.
    pub fn write_exit(&self, exit: &ExitStatus) -> io::Result<()> {
        let json = serde_json::to_vec(exit).map_err(io::Error::other)?;
        berth_fs::atomic_write(&self.file(EXIT_FILE), &json)?;
        Ok(())
    }

    /// Binds `shim.sock` (mode 0600, replacing a stale one), non-blocking.
    pub fn bind_socket(&self) -> io::Result<UnixListener> {
        let path = self.file(SOCKET_FILE);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        // Bound through /proc/self/fd/<dir>: a socket path must fit in 108 bytes, and the exec
        // dir under a long exec root would not. berthd connects the same way.
        let dir = std::fs::File::open(&self.path)?;
        let short = format!("/proc/self/fd/{}/{SOCKET_FILE}", dir.as_raw_fd());
        // The socket is created with the umask applied: only the owner may connect.
        let previous = nix::sys::stat::umask(Mode::from_bits_truncate(0o177));
        let bound = UnixListener::bind(short);
        drop(dir);
        nix::sys::stat::umask(previous);
        let listener = bound?;
        listener.set_nonblocking(true)?;
        Ok(listener)
    }

    pub fn remove_socket(&self) -> io::Result<()> {
        std::fs::remove_file(self.file(SOCKET_FILE))
    }
}

/// Replaces `path` through a temporary file and a rename, so readers never see a partial file.
fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    std::fs::write(&temp, bytes)?;
    std::fs::rename(&temp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_files_and_exit_record_are_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let exec_dir = ExecDir::new(dir.path()).unwrap();
        exec_dir.write_pids(10, 11).unwrap();
        exec_dir.write_pids(20, 21).unwrap();
        assert_eq!(
            std::fs::read_to_string(exec_dir.file(SHIM_PID_FILE)).unwrap(),
            "20"
        );
        assert_eq!(
            std::fs::read_to_string(exec_dir.file(INIT_PID_FILE)).unwrap(),
            "21"
        );
        let exit = ExitStatus {
            exit_code: 137,
            finished_at: "2026-11-28T08:00:00Z".into(),
        };
        exec_dir.write_exit(&exit).unwrap();
        let written: ExitStatus =
            serde_json::from_slice(&std::fs::read(exec_dir.file(EXIT_FILE)).unwrap()).unwrap();
        assert_eq!(written, exit);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            3,
            "no temporary files left"
        );
    }

    #[test]
    fn a_newer_protocol_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let exec_dir = ExecDir::new(dir.path()).unwrap();
        let mut config = serde_json::json!({
            "version": PROTOCOL_VERSION + 1,
            "id": "x",
            "spec": {"ociVersion": "1.0.2"},
            "rootfs": {"layers_root": "/l", "lowerdirs": ["a"], "upperdir": "/u", "workdir": "/w"},
            "log_path": null
        });
        std::fs::write(exec_dir.file(CONFIG_FILE), config.to_string()).unwrap();
        assert!(exec_dir.read_config().unwrap_err().contains("newer"));
        config["version"] = PROTOCOL_VERSION.into();
        std::fs::write(exec_dir.file(CONFIG_FILE), config.to_string()).unwrap();
        assert_eq!(exec_dir.read_config().unwrap().id, "x");
    }
}
