//! The socketpair between the caller and a process it is setting up (a container init, or the
//! processes of an `exec`). The process reports `Ready` (or why it failed) and, for an init,
//! waits; the caller sends `Start`; the process executes the command, which closes its end
//! (close-on-exec), or reports why `execve` failed. A pty's master travels as a descriptor
//! (`SCM_RIGHTS`) with a `Terminal` report. A `SOCK_SEQPACKET` socket keeps messages whole and
//! reports the other side's exit as end-of-file.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::io::Errno;
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, SocketFlags, SocketType,
};

const READY: u8 = b'R';
const FAILED: u8 = b'F';
const TERMINAL: u8 = b'T';
const SPAWNED: u8 = b'P';
const START: u8 = b'S';
/// Longest message; a failure text is cut to fit.
const MAX_MESSAGE: usize = 4096;
const HEADER: usize = 5;

#[derive(Debug)]
pub(crate) enum Report {
    Ready,
    Failed {
        exit_code: i32,
        message: String,
    },
    /// The master of the process's pty.
    Terminal(OwnedFd),
    /// The caller-visible pid of the process an exec forked into the container's pid namespace.
    Spawned {
        pid: i32,
    },
}

fn encode(report: &Report) -> (Vec<u8>, Option<BorrowedFd<'_>>) {
    match report {
        Report::Ready => (vec![READY], None),
        Report::Terminal(master) => (vec![TERMINAL], Some(master.as_fd())),
        Report::Spawned { pid } => {
            let mut bytes = vec![SPAWNED];
            bytes.extend_from_slice(&pid.to_le_bytes());
            (bytes, None)
        }
        Report::Failed { exit_code, message } => {
            let mut end = message.len().min(MAX_MESSAGE - HEADER);
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            let mut bytes = Vec::with_capacity(HEADER + end);
            bytes.push(FAILED);
            bytes.extend_from_slice(&exit_code.to_le_bytes());
            bytes.extend_from_slice(&message.as_bytes()[..end]);
            (bytes, None)
        }
    }
}

fn decode(bytes: &[u8], fd: Option<OwnedFd>) -> Option<Report> {
    match (bytes, fd) {
        ([READY], None) => Some(Report::Ready),
        ([TERMINAL], Some(fd)) => Some(Report::Terminal(fd)),
        ([SPAWNED, pid @ ..], None) => Some(Report::Spawned {
            pid: i32::from_le_bytes(pid.try_into().ok()?),
        }),
        ([FAILED, code @ ..], None) if code.len() >= 4 => {
            let exit_code = i32::from_le_bytes(code[..4].try_into().ok()?);
            let message = String::from_utf8_lossy(&code[4..]).into_owned();
            Some(Report::Failed { exit_code, message })
        }
        _ => None,
    }
}

#[derive(Debug)]
pub(crate) struct SyncSocket(OwnedFd);

impl SyncSocket {
    /// Both ends, close-on-exec.
    pub(crate) fn pair() -> io::Result<(Self, Self)> {
        let (a, b) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )?;
        Ok((Self(a), Self(b)))
    }

    pub(crate) fn send_report(&self, report: &Report) -> io::Result<()> {
        let (bytes, fd) = encode(report);
        self.send(&bytes, fd)
    }

    /// The next report, or `None` once every process holding the other end has closed it (it
    /// exited, or executed the command).
    pub(crate) fn recv_report(&self) -> io::Result<Option<Report>> {
        match self.recv()? {
            None => Ok(None),
            Some((bytes, fd)) => decode(&bytes, fd).map(Some).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "malformed message from the container process",
                )
            }),
        }
    }

    pub(crate) fn send_start(&self) -> io::Result<()> {
        self.send(&[START], None)
    }

    /// Waits for `Start`: `true` when it came, `false` if the caller closed its end instead.
    pub(crate) fn wait_start(&self) -> io::Result<bool> {
        match self.recv()? {
            Some((bytes, None)) if bytes == [START] => Ok(true),
            Some(_) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "unexpected sync message",
            )),
            None => Ok(false),
        }
    }

    fn send(&self, bytes: &[u8], fd: Option<BorrowedFd<'_>>) -> io::Result<()> {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        let fds: Vec<BorrowedFd<'_>> = fd.into_iter().collect();
        if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(&fds)) {
            return Err(io::Error::other(
                "descriptor does not fit the control buffer",
            ));
        }
        let iov = [IoSlice::new(bytes)];
        loop {
            match rustix::net::sendmsg(&self.0, &iov, &mut control, SendFlags::NOSIGNAL) {
                Err(Errno::INTR) => continue,
                other => return other.map(drop).map_err(io::Error::from),
            }
        }
    }

    /// One message and the descriptor that came with it, or `None` at end-of-file.
    fn recv(&self) -> io::Result<Option<(Vec<u8>, Option<OwnedFd>)>> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        loop {
            let mut control = RecvAncillaryBuffer::new(&mut space);
            let received = rustix::net::recvmsg(
                &self.0,
                &mut [IoSliceMut::new(&mut buf)],
                &mut control,
                RecvFlags::CMSG_CLOEXEC,
            );
            let len = match received {
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
                Ok(msg) => msg.bytes,
            };
            // Any descriptor beyond the first is closed with the buffer.
            let fd = control.drain().find_map(|message| match message {
                RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
                _ => None,
            });
            if len == 0 && fd.is_none() {
                return Ok(None);
            }
            buf.truncate(len.min(MAX_MESSAGE));
            return Ok(Some((buf, fd)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(report: &Report) -> Option<Report> {
        let (bytes, fd) = encode(report);
        decode(&bytes, fd.map(|fd| fd.try_clone_to_owned().unwrap()))
    }

    #[test]
    fn reports_round_trip() {
        assert!(matches!(round_trip(&Report::Ready), Some(Report::Ready)));
        assert!(matches!(
            round_trip(&Report::Spawned { pid: 4242 }),
            Some(Report::Spawned { pid: 4242 })
        ));
        let message = r#"exec: "foo": executable file not found in $PATH"#;
        let failed = Report::Failed {
            exit_code: 127,
            message: message.into(),
        };
        match round_trip(&failed) {
            Some(Report::Failed {
                exit_code,
                message: m,
            }) => {
                assert_eq!((exit_code, m.as_str()), (127, message));
            }
            other => panic!("{other:?}"),
        }
        assert!(decode(b"", None).is_none());
        assert!(decode(b"F12", None).is_none());
        assert!(
            decode(b"T", None).is_none(),
            "a terminal without its descriptor"
        );
        let devnull = std::fs::File::open("/dev/null").unwrap();
        assert!(
            decode(b"R", Some(devnull.into())).is_none(),
            "a descriptor nobody expects"
        );
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let message = "é".repeat(MAX_MESSAGE);
        let (bytes, _) = encode(&Report::Failed {
            exit_code: 125,
            message,
        });
        assert!(bytes.len() <= MAX_MESSAGE);
        assert!(matches!(
            decode(&bytes, None),
            Some(Report::Failed { exit_code: 125, .. })
        ));
    }

    #[test]
    fn messages_descriptors_and_end_of_file_cross_the_socket() {
        let (caller, init) = SyncSocket::pair().unwrap();
        init.send_report(&Report::Ready).unwrap();
        assert!(matches!(caller.recv_report().unwrap(), Some(Report::Ready)));
        let (read, write) = std::io::pipe().unwrap();
        init.send_report(&Report::Terminal(write.into())).unwrap();
        let Some(Report::Terminal(fd)) = caller.recv_report().unwrap() else {
            panic!("no descriptor");
        };
        std::io::Write::write_all(&mut std::fs::File::from(fd), b"through").unwrap();
        let mut got = [0u8; 7];
        std::io::Read::read_exact(&mut { read }, &mut got).unwrap();
        assert_eq!(&got, b"through");
        caller.send_start().unwrap();
        assert!(init.wait_start().unwrap());
        drop(init);
        assert!(caller.recv_report().unwrap().is_none());
    }
}
