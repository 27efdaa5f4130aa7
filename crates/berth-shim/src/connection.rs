//! One client on the shim socket: request lines in; response lines and, once attached, output
//! frames out. Everything is non-blocking and buffered, so a slow client never stalls the shim.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;

use berth_shim_proto::{Envelope, Response, frame_header};
use nix::poll::PollFlags;

use crate::output::Stream;

/// Longest request line accepted.
const MAX_REQUEST: usize = 64 * 1024;
const READ_CHUNK: usize = 4096;

pub struct Connection {
    stream: UnixStream,
    input: Vec<u8>,
    output: Vec<u8>,
    /// How much of `output` is already written.
    written: usize,
    /// After `Attach`: which streams this connection receives.
    attached: Option<[bool; 2]>,
    /// Sent `Wait`; answered when the container has exited.
    pub waiting: bool,
    read_closed: bool,
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
            attached: None,
            waiting: false,
            read_closed: false,
            closing: false,
            broken: false,
        })
    }

    /// Reads what the client sent and returns its complete request lines, parsed. Input after
    /// an `Attach` is read and dropped.
    pub fn read_requests(&mut self) -> Vec<Result<Envelope, String>> {
        let mut chunk = [0u8; READ_CHUNK];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    self.read_closed = true;
                    break;
                }
                Ok(n) if self.attached.is_none() => self.input.extend_from_slice(&chunk[..n]),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.broken = true;
                    break;
                }
            }
        }
        let mut requests = Vec::new();
        while let Some(newline) = self.input.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.input.drain(..=newline).collect();
            let line = line.trim_ascii();
            if !line.is_empty() {
                requests
                    .push(serde_json::from_slice(line).map_err(|e| format!("bad request: {e}")));
            }
        }
        if self.input.len() > MAX_REQUEST {
            self.input.clear();
            requests.push(Err(format!("request longer than {MAX_REQUEST} bytes")));
            self.closing = true;
        }
        requests
    }

    pub fn is_attached(&self) -> bool {
        self.attached.is_some()
    }

    /// From now on the connection carries only output frames of the chosen streams.
    pub fn attach(&mut self, stdout: bool, stderr: bool) {
        self.attached = Some([stdout, stderr]);
    }

    pub fn wants(&self, stream: Stream) -> bool {
        self.attached.is_some_and(|streams| streams[stream.index()])
    }

    pub fn send(&mut self, response: &Response) {
        // A `Response` always serializes.
        if let Ok(line) = serde_json::to_vec(response) {
            self.output.extend_from_slice(&line);
            self.output.push(b'\n');
        }
        self.flush();
    }

    pub fn send_frame(&mut self, stream: Stream, data: &[u8]) {
        for piece in data.chunks(u32::MAX as usize) {
            let len = u32::try_from(piece.len()).unwrap_or(u32::MAX);
            self.output
                .extend_from_slice(&frame_header(stream.frame_id(), len));
            self.output.extend_from_slice(piece);
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

    pub fn poll_flags(&self) -> PollFlags {
        let mut flags = PollFlags::empty();
        if !self.read_closed {
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
            || (self.read_closed && idle && self.attached.is_none() && !self.waiting)
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

    #[test]
    fn requests_are_lines_and_may_arrive_in_pieces() {
        let (mut conn, mut client) = pair();
        client
            .write_all(b"{\"v\":1,\"op\":\"state\"}\n{\"v\":1,\"op\":\"ki")
            .unwrap();
        let first = conn.read_requests();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].as_ref().unwrap().request, Request::State);
        client
            .write_all(b"ll\",\"signal\":15}\nnot json\n")
            .unwrap();
        let next = conn.read_requests();
        assert_eq!(
            next[0].as_ref().unwrap().request,
            Request::Kill { signal: 15 }
        );
        assert_eq!(next[0].as_ref().unwrap().v, PROTOCOL_VERSION);
        assert!(next[1].as_ref().unwrap_err().starts_with("bad request"));
    }

    #[test]
    fn attached_connections_get_frames_of_their_streams_only() {
        let (mut conn, mut client) = pair();
        conn.attach(true, false);
        assert!(conn.wants(Stream::Stdout) && !conn.wants(Stream::Stderr));
        conn.send_frame(Stream::Stdout, b"hi\n");
        let mut got = [0u8; 11];
        client.read_exact(&mut got).unwrap();
        assert_eq!(got, [1, 0, 0, 0, 0, 0, 0, 3, b'h', b'i', b'\n']);
    }

    #[test]
    fn a_half_closed_client_still_gets_its_answer() {
        let (mut conn, client) = pair();
        conn.waiting = true;
        client.shutdown(std::net::Shutdown::Write).unwrap();
        assert!(conn.read_requests().is_empty());
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
