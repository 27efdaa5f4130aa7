//! The shim's signals arrive on a `signalfd` in its poll loop: `SIGCHLD` to reap; `SIGTERM`,
//! `SIGINT` and `SIGHUP` are caught so they cannot kill the monitor of a running container
//! (the container is stopped through the socket).

use std::io;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

/// Blocks the signals the shim handles and returns the descriptor that delivers them. The
/// container does not inherit the mask: the runtime resets it.
pub fn listen() -> io::Result<SignalFd> {
    let mut mask = SigSet::empty();
    for signal in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
    ] {
        mask.add(signal);
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None)?;
    Ok(SignalFd::with_flags(
        &mask,
        SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC,
    )?)
}

/// Drains the pending signals; returns those other than `SIGCHLD` (to be logged).
pub fn drain(fd: &SignalFd) -> Vec<u32> {
    let mut others = Vec::new();
    while let Ok(Some(info)) = fd.read_signal() {
        if info.ssi_signo != Signal::SIGCHLD as u32 {
            others.push(info.ssi_signo);
        }
    }
    others
}
