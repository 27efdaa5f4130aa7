//! The socketpair between the caller and the container init. The init reports `Ready` (or why
//! it failed) and waits; the caller sends `Start`; the init executes the command, which closes
//! its end (close-on-exec), or reports why `execve` failed. A `SOCK_SEQPACKET` socket keeps
//! messages whole and reports the other side's exit as end-of-file.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType};

const READY: u8 = b'R';
const FAILED: u8 = b'F';
const START: u8 = b'S';
/// Longest message; a failure text is cut to fit.
const MAX_MESSAGE: usize = 4096;
const HEADER: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Report {
    Ready,
    Failed { exit_code: i32, message: String },
}

fn encode(report: &Report) -> Vec<u8> {
    match report {
        Report::Ready => vec![READY],
        Report::Failed { exit_code, message } => {
            let mut end = message.len().min(MAX_MESSAGE - HEADER);
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            let mut bytes = Vec::with_capacity(HEADER + end);
            bytes.push(FAILED);
            bytes.extend_from_slice(&exit_code.to_le_bytes());
            bytes.extend_from_slice(&message.as_bytes()[..end]);
            bytes
        }
    }
}

fn decode(bytes: &[u8]) -> Option<Report> {
    match bytes {
        [READY] => Some(Report::Ready),
        [FAILED, code @ ..] if code.len() >= 4 => {
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
        let (a, b) = nix::sys::socket::socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        Ok((Self(a), Self(b)))
    }

    pub(crate) fn send_report(&self, report: &Report) -> io::Result<()> {
        self.send(&encode(report))
    }

    /// The next report, or `None` if the init closed its end (it exited, or executed the
    /// command).
    pub(crate) fn recv_report(&self) -> io::Result<Option<Report>> {
        match self.recv()? {
            None => Ok(None),
            Some(bytes) => decode(&bytes).map(Some).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "malformed message from container init",
                )
            }),
        }
    }

    pub(crate) fn send_start(&self) -> io::Result<()> {
        self.send(&[START])
    }

    /// Waits for `Start`: `true` when it came, `false` if the caller closed its end instead.
    pub(crate) fn wait_start(&self) -> io::Result<bool> {
        match self.recv()? {
            Some(bytes) if bytes == [START] => Ok(true),
            Some(_) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "unexpected sync message",
            )),
            None => Ok(false),
        }
    }

    fn send(&self, bytes: &[u8]) -> io::Result<()> {
        loop {
            match nix::sys::socket::send(self.0.as_raw_fd(), bytes, MsgFlags::MSG_NOSIGNAL) {
                Err(Errno::EINTR) => continue,
                other => return other.map(drop).map_err(io::Error::from),
            }
        }
    }

    fn recv(&self) -> io::Result<Option<Vec<u8>>> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        loop {
            match nix::sys::socket::recv(self.0.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
                Ok(0) => return Ok(None),
                Ok(n) => {
                    buf.truncate(n);
                    return Ok(Some(buf));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip() {
        for report in [
            Report::Ready,
            Report::Failed {
                exit_code: 127,
                message: r#"exec: "foo": executable file not found in $PATH"#.into(),
            },
        ] {
            assert_eq!(decode(&encode(&report)), Some(report));
        }
        assert_eq!(decode(b""), None);
        assert_eq!(decode(b"F12"), None);
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let message = "é".repeat(MAX_MESSAGE);
        let bytes = encode(&Report::Failed {
            exit_code: 125,
            message,
        });
        assert!(bytes.len() <= MAX_MESSAGE);
        assert!(matches!(
            decode(&bytes),
            Some(Report::Failed { exit_code: 125, .. })
        ));
    }

    #[test]
    fn messages_and_end_of_file_cross_the_socket() {
        let (caller, init) = SyncSocket::pair().unwrap();
        init.send_report(&Report::Ready).unwrap();
        assert_eq!(caller.recv_report().unwrap(), Some(Report::Ready));
        caller.send_start().unwrap();
        assert!(init.wait_start().unwrap());
        drop(init);
        assert_eq!(caller.recv_report().unwrap(), None);
    }
}
