//! The shim's end of a process's stdin: a pipe's write end, or its pty master. Bytes from
//! clients are buffered and written as fast as the process reads them; a full buffer stops
//! the shim from reading those clients, so nothing is dropped and nothing grows without bound.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::fcntl::OFlag;

use crate::output::set_nonblocking;

/// Clients are not read while this much input waits for the process.
const HIGH_WATER: usize = 64 * 1024;

pub struct StdinWriter {
    file: File,
    buf: Vec<u8>,
    /// How much of `buf` is already written.
    written: usize,
    /// Close (the process sees end-of-file) once `buf` is written.
    closing: bool,
    /// The process's end is gone.
    broken: bool,
}

impl StdinWriter {
    fn new(file: File) -> Self {
        Self {
            file,
            buf: Vec::new(),
            written: 0,
            closing: false,
            broken: false,
        }
    }

    /// A pipe for the process's stdin: the writer (kept here) and the read end (for the
    /// process, blocking).
    pub fn pipe() -> io::Result<(Self, OwnedFd)> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        set_nonblocking(&write)?;
        Ok((Self::new(File::from(write)), read))
    }

    /// Writes into a pty through `master`, a duplicate of the master descriptor.
    pub fn terminal(master: OwnedFd) -> io::Result<Self> {
        set_nonblocking(&master)?;
        Ok(Self::new(File::from(master)))
    }

    /// Whether more client input may be taken.
    pub fn has_room(&self) -> bool {
        !self.closing && self.pending() < HIGH_WATER
    }

    /// Queues `data` and writes what the process takes now. Input after
    /// [`StdinWriter::close_when_flushed`] is dropped.
    pub fn push(&mut self, data: &[u8]) {
        if !self.closing {
            self.buf.extend_from_slice(data);
        }
        self.flush();
    }

    pub fn flush(&mut self) {
        while self.written < self.buf.len() && !self.broken {
            match self.file.write(&self.buf[self.written..]) {
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // EPIPE: the process closed its stdin or exited; EIO: its pty is gone.
                Err(_) => self.broken = true,
            }
        }
        if self.written == self.buf.len() {
            self.buf.clear();
            self.written = 0;
        } else if self.written > self.buf.len() / 2 {
            self.buf.drain(..self.written);
            self.written = 0;
        }
    }

    /// Bytes waiting for the process.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.written
    }

    /// The process gets end-of-file once what is queued is written.
    pub fn close_when_flushed(&mut self) {
        self.closing = true;
    }

    /// Nothing more will be written: drop it (which closes the descriptor).
    pub fn is_done(&self) -> bool {
        self.broken || (self.closing && self.pending() == 0)
    }
}

impl AsFd for StdinWriter {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn input_is_queued_while_the_pipe_is_full_and_eof_follows_it() {
        let (mut writer, read) = StdinWriter::pipe().unwrap();
        let mut reader = File::from(read);
        let big = vec![b'x'; 256 * 1024];
        writer.push(&big);
        assert!(writer.pending() > 0, "a pipe holds less than 256 KiB");
        assert!(!writer.has_room());
        writer.close_when_flushed();
        writer.push(b"dropped");
        let mut got = Vec::new();
        let mut chunk = vec![0; 64 * 1024];
        while !writer.is_done() {
            let n = reader.read(&mut chunk).unwrap();
            got.extend_from_slice(&chunk[..n]);
            writer.flush();
        }
        drop(writer);
        reader.read_to_end(&mut got).unwrap();
        assert_eq!(got, big);
    }

    #[test]
    fn a_closed_reader_breaks_the_writer() {
        let (mut writer, read) = StdinWriter::pipe().unwrap();
        drop(read);
        writer.push(b"nobody reads this");
        assert!(writer.is_done());
    }
}
