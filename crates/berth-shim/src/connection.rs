//! One client on the shim socket: request lines in, answer lines out; after an `Attach` or an
//! `Exec`, the process's output out (framed, or raw for a terminal) and the client's bytes in
//! as the process's stdin. Everything is non-blocking and buffered, so a slow client never
//! stalls the shim.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;

use berth_shim_proto::{Envelope, Response, frame_header};
use nix::poll::PollFlags;

use crate::output::Stream;

/// Longest request line accepted.
const MAX_REQUEST: usize = 64 * 1024;
const READ_CHUNK: usize = 16 * 1024;

/// Whose output a connection receives and whose stdin it feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    Init,
    /// An exec, by its index in the monitor's list.
    Exec(usize),
}

/// What an attached (or exec) connection carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription {
    pub feed: Feed,
    /// Stdout, stderr.
    pub streams: [bool; 2],
    /// Output is a terminal's: sent as it is, not in frames.
    pub raw: bool,
    /// The client's bytes after the answer line go to the process's stdin.
    pub stdin: bool,
}

pub struct Connection {
    stream: UnixStream,
    input: Vec<u8>,
    output: Vec<u8>,
    /// How much of `output` is already written.
    written: usize,
    subscription: Option<Subscription>,
    /// Sent `Wait`; answered when the container has exited.
    pub waiting: bool,
    read_closed: bool,
    /// The end of the client's input was reported by [`Connection::take_input_end`].
    end_reported: bool,
    closing: bool,
    broken: bool,
}

impl Connection {
    pub fn new(stream: UnixStream) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        Ok(Self {
            stream,
            input: Vec::new(),
            output: Vec::new(),
            written: 0,
            subscription: None,
            waiting: false,
            read_closed: false,
            end_reported: false,
            closing: false,
            broken: false,
        })
    }

    /// Reads what the client sent, until nothing more is available or `limit` bytes are
    /// buffered. After a subscription without stdin, input is read and dropped.
    pub fn read_input(&mut self, limit: usize) {
        let mut chunk = [0u8; READ_CHUNK];
        while self.input.len() < limit {
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    self.read_closed = true;
                    break;
                }
                Ok(_) if self.subscription.is_some_and(|s| !s.stdin) => {}
                Ok(n) => self.input.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.broken = true;
                    break;
                }
            }
        }
    }

    /// The next complete request line, parsed. `None` once subscribed: what follows is input.
    pub fn next_request(&mut self) -> Option<Result<Envelope, String>> {
        while self.subscription.is_none() {
            let Some(newline) = self.input.iter().position(|b| *b == b'\n') else {
                if self.input.len() > MAX_REQUEST {
                    self.input.clear();
                    self.closing = true;
                    return Some(Err(format!("request longer than {MAX_REQUEST} bytes")));
                }
                return None;
            };
            let line: Vec<u8> = self.input.drain(..=newline).collect();
            let line = line.trim_ascii();
            if !line.is_empty() {
                return Some(serde_json::from_slice(line).map_err(|e| format!("bad request: {e}")));
            }
        }
        None
    }

    /// The client's bytes for the process's stdin, read so far.
    pub fn take_input(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.input)
    }

    /// True once, when the client's input has ended (or the client is gone) and all of it
    /// has been taken.
    pub fn take_input_end(&mut self) -> bool {
        let ended =
            (self.read_closed || self.broken) && self.input.is_empty() && !self.end_reported;
        self.end_reported |= ended;
        ended
    }

    pub fn subscription(&self) -> Option<Subscription> {
        self.subscription
    }

    /// From now on the connection carries output (and takes input) only.
    pub fn subscribe(&mut self, subscription: Subscription) {
        self.subscription = Some(subscription);
        if !subscription.stdin {
            self.input.clear();
        }
    }

    /// Whether output of `stream` from `feed` goes to this connection.
    pub fn wants(&self, feed: Feed, stream: Stream) -> bool {
        self.subscription
            .is_some_and(|s| s.feed == feed && s.streams[stream.index()])
    }

    pub fn send(&mut self, response: &Response) {
        // A `Response` always serializes.
        if let Ok(line) = serde_json::to_vec(response) {
            self.output.extend_from_slice(&line);
            self.output.push(b'\n');
        }
        self.flush();
    }

    /// Queues output of `stream`: in frames, or as it is for a terminal's.
    pub fn send_output(&mut self, stream: Stream, data: &[u8]) {
        if self.subscription.is_some_and(|s| s.raw) {
            self.output.extend_from_slice(data);
        } else {
            for piece in data.chunks(u32::MAX as usize) {
                let len = u32::try_from(piece.len()).unwrap_or(u32::MAX);
                self.output
                    .extend_from_slice(&frame_header(stream.frame_id(), len));
                self.output.extend_from_slice(piece);
            }
        }
        self.flush();
    }

    /// Writes as much buffered output as the socket takes.
    pub fn flush(&mut self) {
        while self.written < self.output.len() && !self.broken {
            match (&self.stream).write(&self.output[self.written..]) {
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.broken = true,
            }
        }
        if self.written == self.output.len() {
            self.output.clear();
            self.written = 0;
        } else if self.written > self.output.len() / 2 {
            self.output.drain(..self.written);
            self.written = 0;
        }
    }

    /// Bytes waiting to be written.
    pub fn pending(&self) -> usize {
        self.output.len() - self.written
    }

    /// `POLLIN` unless the input has ended or `may_read` says the process cannot take more.
    pub fn poll_flags(&self, may_read: bool) -> PollFlags {
        let mut flags = PollFlags::empty();
        if !self.read_closed && may_read {
            flags |= PollFlags::POLLIN;
        }
        if self.pending() > 0 {
            flags |= PollFlags::POLLOUT;
        }
        flags
    }

    /// The client is gone.
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }

    /// Close once everything buffered is written.
    pub fn close_when_flushed(&mut self) {
        self.closing = true;
    }

    pub fn is_done(&self) -> bool {
        let idle = self.pending() == 0;
        self.broken
            || (self.closing && idle)
            || (self.read_closed
                && self.input.is_empty()
                && idle
                && self.subscription.is_none()
                && !self.waiting)
    }
}

impl AsFd for Connection {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use berth_shim_proto::{PROTOCOL_VERSION, Request};

    use super::*;

    fn pair() -> (Connection, UnixStream) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        (Connection::new(ours).unwrap(), theirs)
    }

    fn requests(conn: &mut Connection) -> Vec<Result<Envelope, String>> {
        conn.read_input(usize::MAX);
        std::iter::from_fn(|| conn.next_request()).collect()
    }

    fn subscription(raw: bool, stdin: bool) -> Subscription {
        Subscription {
            feed: Feed::Init,
            streams: [true, false],
            raw,
            stdin,
        }
    }

    #[test]
    fn requests_are_lines_and_may_arrive_in_pieces() {
        let (mut conn, mut client) = pair();
        client
            .write_all(b"{\"v\":1,\"op\":\"state\"}\n{\"v\":1,\"op\":\"ki")
            .unwrap();
        let first = requests(&mut conn);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].as_ref().unwrap().request, Request::State);
        client
            .write_all(b"ll\",\"signal\":15}\nnot json\n")
            .unwrap();
        let next = requests(&mut conn);
        assert_eq!(
            next[0].as_ref().unwrap().request,
            Request::Kill { signal: 15 }
        );
        assert_eq!(next[0].as_ref().unwrap().v, PROTOCOL_VERSION);
        assert!(next[1].as_ref().unwrap_err().starts_with("bad request"));
    }

    #[test]
    fn bytes_after_a_stdin_attach_line_are_input_up_to_the_end() {
        let (mut conn, mut client) = pair();
        client
            .write_all(b"{\"v\":1,\"op\":\"attach\",\"stdout\":true,\"stderr\":false,\"stdin\":true}\nhello\n{\"not\":\"a request\"}\n")
            .unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        conn.read_input(usize::MAX);
        assert!(conn.next_request().unwrap().is_ok());
        conn.subscribe(subscription(false, true));
        assert!(conn.next_request().is_none());
        assert!(!conn.take_input_end(), "input is left");
        assert_eq!(conn.take_input(), b"hello\n{\"not\":\"a request\"}\n");
        assert!(conn.take_input_end());
        assert!(!conn.take_input_end(), "reported once");
        assert!(!conn.is_done(), "a subscribed connection stays for output");
    }

    #[test]
    fn attached_connections_get_frames_of_their_streams_only_or_raw_bytes() {
        let (mut conn, mut client) = pair();
        conn.subscribe(subscription(false, false));
        assert!(conn.wants(Feed::Init, Stream::Stdout));
        assert!(!conn.wants(Feed::Init, Stream::Stderr));
        assert!(!conn.wants(Feed::Exec(0), Stream::Stdout));
        conn.send_output(Stream::Stdout, b"hi\n");
        let mut got = [0u8; 11];
        client.read_exact(&mut got).unwrap();
        assert_eq!(got, [1, 0, 0, 0, 0, 0, 0, 3, b'h', b'i', b'\n']);

        let (mut conn, mut client) = pair();
        conn.subscribe(subscription(true, false));
        conn.send_output(Stream::Stdout, b"\x1b[1mtty\r\n");
        let mut got = [0u8; 9];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"\x1b[1mtty\r\n");
    }

    #[test]
    fn a_half_closed_client_still_gets_its_answer() {
        let (mut conn, client) = pair();
        conn.waiting = true;
        client.shutdown(std::net::Shutdown::Write).unwrap();
        assert!(requests(&mut conn).is_empty());
        assert!(!conn.is_done(), "waiting for the exit");
        conn.waiting = false;
        conn.send(&Response {
            ok: true,
            ..Default::default()
        });
        assert!(conn.is_done());
        drop(conn);
        let mut line = String::new();
        (&client).read_to_string(&mut line).unwrap_or_default();
        assert_eq!(line, "{\"ok\":true}\n");
    }
}
