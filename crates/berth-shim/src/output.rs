//! The container's output streams: the read ends of its stdout and stderr pipes.

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

/// A pipe's read end, non-blocking.
pub struct OutputPipe {
    file: File,
}

/// What one read gave.
pub enum Chunk {
    Data(usize),
    /// Nothing available right now.
    Empty,
    /// Every writer has closed the pipe.
    Eof,
}

impl OutputPipe {
    /// A pipe for one stream: the reader (kept here) and the writer (for the container).
    pub fn new() -> io::Result<(Self, OwnedFd)> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
        // Only our end is non-blocking: the container's writes block when the pipe is full.
        nix::fcntl::fcntl(&write, nix::fcntl::FcntlArg::F_SETFL(OFlag::empty()))?;
        Ok((
            Self {
                file: File::from(read),
            },
            write,
        ))
    }

    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<Chunk> {
        loop {
            return match self.file.read(buf) {
                Ok(0) => Ok(Chunk::Eof),
                Ok(n) => Ok(Chunk::Data(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Chunk::Empty),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
        }
    }
}

impl AsFd for OutputPipe {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}
