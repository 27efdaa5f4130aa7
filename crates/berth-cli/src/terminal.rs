//! Our own terminal: whether a stream is one, its size, and the raw mode an interactive
//! session puts it in (keys go to the container as typed, its terminal echoes them).

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use rustix::termios::{self, OptionalActions, Termios};

/// Whether `fd` is a terminal.
pub fn is_terminal(fd: impl AsFd) -> bool {
    termios::isatty(fd)
}

/// Whether our stdin is a terminal.
pub fn stdin_is_terminal() -> bool {
    is_terminal(rustix::stdio::stdin())
}

/// Whether our stdout is a terminal (whose size a container's terminal then follows).
pub fn stdout_is_terminal() -> bool {
    is_terminal(rustix::stdio::stdout())
}

/// The size of the terminal on our stdout as (rows, columns), if it is one with a size: the
/// size a container's terminal is given.
pub fn stdout_size() -> Option<(u16, u16)> {
    size(rustix::stdio::stdout())
}

fn size(fd: impl AsFd) -> Option<(u16, u16)> {
    let size = termios::tcgetwinsize(fd).ok()?;
    (size.ws_row != 0 || size.ws_col != 0).then_some((size.ws_row, size.ws_col))
}

/// "the input device is not a TTY", as docker refuses `-it` with a stdin that is not one.
pub fn check_tty(attach_stdin: bool, tty: bool) -> Result<(), String> {
    if tty && attach_stdin && !stdin_is_terminal() {
        return Err("the input device is not a TTY".to_string());
    }
    Ok(())
}

/// A terminal in raw mode until this is dropped, which puts back the settings it had:
/// whatever way a session ends (its end, an error, a panic), the terminal is restored.
pub struct RawMode<'fd> {
    fd: BorrowedFd<'fd>,
    saved: Termios,
}

impl<'fd> RawMode<'fd> {
    /// Puts the terminal `fd` in raw mode (cfmakeraw: no echo, no line editing, no signals
    /// from keys, no output processing).
    pub fn enable(fd: BorrowedFd<'fd>) -> io::Result<Self> {
        let saved = termios::tcgetattr(fd)?;
        let mut raw = saved.clone();
        raw.make_raw();
        termios::tcsetattr(fd, OptionalActions::Now, &raw)?;
        Ok(RawMode { fd, saved })
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        // Nothing more can be done if the terminal is gone.
        let _ = termios::tcsetattr(self.fd, OptionalActions::Now, &self.saved);
    }
}

/// Our stdin in raw mode, if it is a terminal and `NORAW` is not set (docker's escape
/// hatch for terminals that misbehave in raw mode).
pub fn raw_stdin() -> io::Result<Option<RawMode<'static>>> {
    if std::env::var_os("NORAW").is_some() || !stdin_is_terminal() {
        return Ok(None);
    }
    RawMode::enable(rustix::stdio::stdin()).map(Some)
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;
    use std::os::fd::OwnedFd;

    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    use rustix::termios::{InputModes, LocalModes, OutputModes, Winsize};

    use super::*;

    /// A pseudo-terminal: the master, and the terminal side a program would see.
    fn pty() -> (OwnedFd, OwnedFd) {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let terminal = OpenOptions::new()
            .read(true)
            .write(true)
            .open(name.to_str().unwrap())
            .unwrap();
        (master, terminal.into())
    }

    #[test]
    fn raw_mode_is_undone_when_dropped() {
        let (_master, terminal) = pty();
        let before = termios::tcgetattr(&terminal).unwrap();
        assert!(
            before
                .local_modes
                .contains(LocalModes::ICANON | LocalModes::ECHO)
        );
        {
            let _raw = RawMode::enable(terminal.as_fd()).unwrap();
            let raw = termios::tcgetattr(&terminal).unwrap();
            assert!(!raw.local_modes.intersects(
                LocalModes::ICANON | LocalModes::ECHO | LocalModes::ISIG | LocalModes::IEXTEN
            ));
            assert!(
                !raw.input_modes
                    .intersects(InputModes::ICRNL | InputModes::IXON)
            );
            assert!(!raw.output_modes.contains(OutputModes::OPOST));
        }
        let after = termios::tcgetattr(&terminal).unwrap();
        assert_eq!(after.local_modes, before.local_modes);
        assert_eq!(after.input_modes, before.input_modes);
        assert_eq!(after.output_modes, before.output_modes);
        assert_eq!(after.control_modes, before.control_modes);
    }

    #[test]
    fn raw_mode_is_undone_when_a_session_panics() {
        let (_master, terminal) = pty();
        let before = termios::tcgetattr(&terminal).unwrap();
        let fd = terminal.as_fd();
        let panicked = std::panic::catch_unwind(|| {
            let _raw = RawMode::enable(fd).unwrap();
            panic!("session failed");
        });
        assert!(panicked.is_err());
        let after = termios::tcgetattr(&terminal).unwrap();
        assert_eq!(after.local_modes, before.local_modes);
    }

    #[test]
    fn raw_mode_needs_a_terminal() {
        let file = not_a_terminal();
        assert!(!is_terminal(&file));
        assert!(RawMode::enable(file.as_fd()).is_err());
    }

    #[test]
    fn size_of_a_terminal() {
        let (master, terminal) = pty();
        let winsize = Winsize {
            ws_row: 33,
            ws_col: 101,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        termios::tcsetwinsize(&master, winsize).unwrap();
        assert!(is_terminal(&terminal));
        assert_eq!(size(&terminal), Some((33, 101)));
        assert_eq!(size(not_a_terminal()), None);
    }

    fn not_a_terminal() -> OwnedFd {
        OpenOptions::new()
            .read(true)
            .open("/dev/null")
            .unwrap()
            .into()
    }
}
