//! A process's output streams, as the shim reads them: the read ends of its stdout and stderr
//! pipes, or the master of its pty (everything the process writes to a terminal is "stdout").

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use berth_shim_proto::{STREAM_STDERR, STREAM_STDOUT};
use nix::fcntl::OFlag;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub const ALL: [Stream; 2] = [Stream::Stdout, Stream::Stderr];

    pub fn index(self) -> usize {
        match self {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        }
    }

    /// As in the json-file log.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    /// As in attach frames.
    pub fn frame_id(self) -> u8 {
        match self {
            Stream::Stdout => STREAM_STDOUT,
            Stream::Stderr => STREAM_STDERR,
        }
    }
}

/// A pipe's read end or a pty master, non-blocking.
pub struct OutputReader {
    file: File,
}

/// What one read gave.
pub enum Chunk {
    Data(usize),
    /// Nothing available right now.
    Empty,
    /// Every writer has closed the pipe, or every holder of the pty's slave has.
    Eof,
}

impl OutputReader {
    /// A pipe for one stream: the reader (kept here) and the writer (for the process).
    pub fn pipe() -> io::Result<(Self, OwnedFd)> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
        // Only our end is non-blocking: the process's writes block when the pipe is full.
        nix::fcntl::fcntl(&write, nix::fcntl::FcntlArg::F_SETFL(OFlag::empty()))?;
        Ok((
            Self {
                file: File::from(read),
            },
            write,
        ))
    }

    /// Reads a pty through `master`, a duplicate of the master descriptor. The master is made
    /// non-blocking for every holder (the flag belongs to the open file, not the descriptor).
    pub fn terminal(master: OwnedFd) -> io::Result<Self> {
        set_nonblocking(&master)?;
        Ok(Self {
            file: File::from(master),
        })
    }

    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<Chunk> {
        loop {
            return match self.file.read(buf) {
                Ok(0) => Ok(Chunk::Eof),
                Ok(n) => Ok(Chunk::Data(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Chunk::Empty),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A pty master reads EIO once the last slave descriptor is closed (after what
                // was written before has been read).
                Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EIO as i32) => Ok(Chunk::Eof),
                Err(e) => Err(e),
            };
        }
    }
}

/// Adds `O_NONBLOCK` to the open file behind `fd`.
pub fn set_nonblocking(fd: &impl AsFd) -> io::Result<()> {
    let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL)?;
    let flags = OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(flags))?;
    Ok(())
}

impl AsFd for OutputReader {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}
