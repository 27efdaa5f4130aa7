//! Daemonizing: the process berthd runs forks; the child detaches (new session, stdio on
//! `/dev/null`, `/` as its directory) and becomes the long-running shim; the parent waits for
//! the child's [`Launched`] report over a pipe, prints it as one JSON line and exits.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::AsFd;

use berth_runtime::EXIT_RUNTIME_FAILURE;
use berth_shim_proto::Launched;
use nix::fcntl::OFlag;
use nix::unistd::ForkResult;

pub enum Role {
    /// The process berthd started: waits for the report.
    Launcher(Report),
    /// The detached shim: sends the report.
    Daemon(Notifier),
}

/// The launcher's end of the report pipe.
pub struct Report(File);

/// The daemon's end of the report pipe.
pub struct Notifier(File);

/// Forks; the child is detached before this returns in it.
pub fn fork() -> io::Result<Role> {
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    // SAFETY: the shim is single-threaded here (nothing has spawned a thread), so the child
    // is a complete copy with no lock held by a vanished thread.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Parent { .. } => {
            drop(write);
            Ok(Role::Launcher(Report(File::from(read))))
        }
        ForkResult::Child => {
            drop(read);
            detach()?;
            Ok(Role::Daemon(Notifier(File::from(write))))
        }
    }
}

fn detach() -> io::Result<()> {
    nix::unistd::setsid()?;
    // berthd reads the launcher's stdout to its end: the daemon must not hold it.
    let null = File::options().read(true).write(true).open("/dev/null")?;
    nix::unistd::dup2_stdin(null.as_fd())?;
    nix::unistd::dup2_stdout(null.as_fd())?;
    nix::unistd::dup2_stderr(null.as_fd())?;
    std::env::set_current_dir("/")
}

impl Report {
    /// The daemon's report. Reads one line only: the container init holds a copy of the pipe
    /// until it executes, so the end of the pipe may come much later.
    pub fn wait(self) -> Launched {
        let mut line = String::new();
        let _ = BufReader::new(self.0).read_line(&mut line);
        serde_json::from_str(line.trim()).unwrap_or_else(|_| Launched {
            shim_pid: None,
            init_pid: None,
            error: Some("berth-shim exited before reporting".into()),
            exit_code: Some(EXIT_RUNTIME_FAILURE),
        })
    }
}

impl Notifier {
    pub fn send(mut self, launched: &Launched) {
        if let Ok(mut line) = serde_json::to_vec(launched) {
            line.push(b'\n');
            // If the launcher is gone there is no one left to tell.
            let _ = self.0.write_all(&line);
        }
    }
}
