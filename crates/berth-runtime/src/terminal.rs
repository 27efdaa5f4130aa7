//! Pseudo-terminals for `process.terminal`, made the way runc's console socket makes them: the
//! process itself opens a pty in the devpts instance of the mount namespace it runs in (the
//! container's, mounted `newinstance`), makes the slave its controlling terminal and its stdio,
//! and hands the master to the caller over the sync socket.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{Mode, OFlags};
use rustix::pty::OpenptFlags;
use rustix::termios::Winsize;

use crate::error::SetupError;

/// The multiplexer of the container's own devpts instance. `/dev/ptmx` may be the host's
/// device node (a spec that binds the host's `/dev`); this one never is.
const CONTAINER_PTMX: &str = "/dev/pts/ptmx";

/// The master side of a process's pty, held by the caller: output is read from it, input
/// written to it, and the window size set on it.
#[derive(Debug)]
pub struct Terminal {
    master: OwnedFd,
}

impl Terminal {
    pub(crate) fn new(master: OwnedFd) -> Self {
        Self { master }
    }

    /// Sets the window size (`TIOCSWINSZ`); the process gets `SIGWINCH`.
    pub fn resize(&self, height: u16, width: u16) -> io::Result<()> {
        set_size(self.master.as_fd(), height, width)
    }
}

impl AsFd for Terminal {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.master.as_fd()
    }
}

impl From<Terminal> for OwnedFd {
    fn from(terminal: Terminal) -> Self {
        terminal.master
    }
}

fn set_size(fd: BorrowedFd<'_>, height: u16, width: u16) -> io::Result<()> {
    let size = Winsize {
        ws_row: height,
        ws_col: width,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(fd, size)?;
    Ok(())
}

/// Opens a pty in the current mount namespace's `/dev/pts`, sized `size` (rows, columns) if
/// given, and makes its slave this process's controlling terminal (in a new session) and its
/// stdin, stdout and stderr. Returns the master, close-on-exec.
pub(crate) fn open_as_stdio(size: Option<(u16, u16)>) -> Result<OwnedFd, SetupError> {
    let master = rustix::fs::open(
        CONTAINER_PTMX,
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| SetupError::path("open", CONTAINER_PTMX, e))?;
    rustix::pty::unlockpt(&master).map_err(|e| SetupError::sys("unlockpt", e))?;
    if let Some((height, width)) = size {
        set_size(master.as_fd(), height, width).map_err(|e| SetupError::sys("TIOCSWINSZ", e))?;
    }
    // The slave through the master itself: no path lookup that could reach another devpts.
    let slave = rustix::pty::ioctl_tiocgptpeer(
        &master,
        OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC,
    )
    .map_err(|e| SetupError::sys("TIOCGPTPEER", e))?;
    rustix::process::setsid().map_err(|e| SetupError::sys("setsid", e))?;
    rustix::process::ioctl_tiocsctty(&slave).map_err(|e| SetupError::sys("TIOCSCTTY", e))?;
    crate::process_setup::install_stdio(slave.as_fd(), slave.as_fd(), slave.as_fd())?;
    Ok(master)
}
