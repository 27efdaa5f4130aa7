//! The stdio of one process (the container's init or an exec) as the shim holds it: its
//! output readers, its stdin writer and, with a terminal, the pty master it resizes.
//!
//! Before the process exists, [`prepare`] makes both ends: the shim's ([`PendingIo`]) and
//! the process's ([`ChildStdio`], handed to the runtime and closed right after, so only the
//! process holds them and its exit ends the streams).

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use berth_runtime::{Stdio, Terminal};

use crate::output::{Chunk, OutputReader, Stream};
use crate::stdin::StdinWriter;

/// Which streams the process gets. A stream not wanted is `/dev/null` (for a terminal, the
/// pty carries all three and its output is read regardless).
#[derive(Debug, Clone, Copy)]
pub struct Wanted {
    pub terminal: bool,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// The process's ends.
pub enum ChildStdio {
    Descriptors {
        stdin: OwnedFd,
        stdout: OwnedFd,
        stderr: OwnedFd,
    },
    Terminal,
}

impl ChildStdio {
    pub fn as_stdio(&self) -> Stdio<'_> {
        match self {
            Self::Descriptors {
                stdin,
                stdout,
                stderr,
            } => Stdio::Descriptors {
                stdin: stdin.as_fd(),
                stdout: stdout.as_fd(),
                stderr: stderr.as_fd(),
            },
            Self::Terminal => Stdio::Terminal,
        }
    }
}

/// The shim's ends, until the process (and its pty) exists.
pub struct PendingIo {
    outputs: [Option<OutputReader>; 2],
    stdin: Option<StdinWriter>,
    /// With a terminal: whether clients may write to it.
    terminal_stdin: bool,
}

pub fn prepare(wanted: Wanted) -> io::Result<(PendingIo, ChildStdio)> {
    if wanted.terminal {
        let pending = PendingIo {
            outputs: [None, None],
            stdin: None,
            terminal_stdin: wanted.stdin,
        };
        return Ok((pending, ChildStdio::Terminal));
    }
    let null = || -> io::Result<OwnedFd> {
        Ok(File::options()
            .read(true)
            .write(true)
            .open("/dev/null")?
            .into())
    };
    let output = |want: bool| -> io::Result<(Option<OutputReader>, OwnedFd)> {
        if want {
            let (reader, writer) = OutputReader::pipe()?;
            Ok((Some(reader), writer))
        } else {
            Ok((None, null()?))
        }
    };
    let (stdout_reader, stdout) = output(wanted.stdout)?;
    let (stderr_reader, stderr) = output(wanted.stderr)?;
    let (stdin_writer, stdin) = if wanted.stdin {
        let (writer, reader) = StdinWriter::pipe()?;
        (Some(writer), reader)
    } else {
        (None, null()?)
    };
    let pending = PendingIo {
        outputs: [stdout_reader, stderr_reader],
        stdin: stdin_writer,
        terminal_stdin: false,
    };
    Ok((
        pending,
        ChildStdio::Descriptors {
            stdin,
            stdout,
            stderr,
        },
    ))
}

impl PendingIo {
    /// The shim's ends once the process exists, with its pty if it has one.
    pub fn finish(self, terminal: Option<Terminal>) -> io::Result<ProcessIo> {
        let Some(terminal) = terminal else {
            return Ok(ProcessIo {
                outputs: self.outputs,
                stdin: self.stdin,
                terminal: None,
            });
        };
        let dup = || terminal.as_fd().try_clone_to_owned();
        let stdin = if self.terminal_stdin {
            Some(StdinWriter::terminal(dup()?)?)
        } else {
            None
        };
        Ok(ProcessIo {
            outputs: [Some(OutputReader::terminal(dup()?)?), None],
            stdin,
            terminal: Some(terminal),
        })
    }
}

pub struct ProcessIo {
    /// Stdout and stderr, `None` once at their end (or never there).
    outputs: [Option<OutputReader>; 2],
    stdin: Option<StdinWriter>,
    terminal: Option<Terminal>,
}

impl ProcessIo {
    /// Output is a terminal's: passed on raw, not in frames.
    pub fn is_raw(&self) -> bool {
        self.terminal.is_some()
    }

    pub fn output_fd(&self, stream: Stream) -> Option<BorrowedFd<'_>> {
        self.outputs[stream.index()].as_ref().map(AsFd::as_fd)
    }

    /// Reads `stream`; at its end (or on an error, returned) it is closed.
    pub fn read(&mut self, stream: Stream, buf: &mut [u8]) -> io::Result<Chunk> {
        let slot = &mut self.outputs[stream.index()];
        let Some(reader) = slot else {
            return Ok(Chunk::Eof);
        };
        let chunk = reader.read(buf);
        if matches!(chunk, Ok(Chunk::Eof) | Err(_)) {
            *slot = None;
        }
        chunk
    }

    /// Stops reading `stream`, as if it had ended.
    pub fn close_output(&mut self, stream: Stream) {
        self.outputs[stream.index()] = None;
    }

    /// Whether every output stream has ended.
    pub fn outputs_done(&self) -> bool {
        self.outputs.iter().all(Option::is_none)
    }

    pub fn stdin(&mut self) -> Option<&mut StdinWriter> {
        self.stdin.as_mut()
    }

    /// Closes stdin if its writer is done with it.
    pub fn release_stdin(&mut self) {
        if self.stdin.as_ref().is_some_and(StdinWriter::is_done) {
            self.stdin = None;
        }
    }

    pub fn stdin_ref(&self) -> Option<&StdinWriter> {
        self.stdin.as_ref()
    }

    /// Sets the pty's size; a process without a terminal has nothing to resize (Docker
    /// accepts the request all the same).
    pub fn resize(&self, height: u16, width: u16) -> io::Result<()> {
        match &self.terminal {
            Some(terminal) => terminal.resize(height, width),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn streams_not_wanted_are_dev_null_and_wanted_ones_pipes() {
        let wanted = Wanted {
            terminal: false,
            stdin: true,
            stdout: true,
            stderr: false,
        };
        let (pending, child) = prepare(wanted).unwrap();
        let mut io = pending.finish(None).unwrap();
        assert!(!io.is_raw());
        assert!(io.output_fd(Stream::Stderr).is_none());
        let ChildStdio::Descriptors { stdin, stdout, .. } = child else {
            panic!("descriptors expected");
        };
        File::from(stdout).write_all(b"out").unwrap();
        let mut buf = [0u8; 16];
        assert!(matches!(
            io.read(Stream::Stdout, &mut buf),
            Ok(Chunk::Data(3))
        ));
        assert!(matches!(io.read(Stream::Stdout, &mut buf), Ok(Chunk::Eof)));
        assert!(io.outputs_done());
        io.stdin().unwrap().push(b"in");
        let mut got = [0u8; 2];
        std::io::Read::read_exact(&mut File::from(stdin), &mut got).unwrap();
        assert_eq!(&got, b"in");
        assert!(io.resize(24, 80).is_ok(), "no terminal: nothing to do");
    }
}
