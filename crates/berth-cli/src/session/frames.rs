//! What comes back on an attach or exec connection: with a TTY the terminal's bytes as they
//! are; without one, frames that say which stream each chunk belongs to (an 8-byte header:
//! the stream, three zero bytes, the length as a big-endian u32).

use std::io;

use bollard::container::LogOutput;
use bytes::{Buf, BytesMut};
use tokio_util::codec::Decoder;

const HEADER: usize = 8;

pub struct Frames {
    tty: bool,
}

impl Frames {
    pub fn new(tty: bool) -> Self {
        Frames { tty }
    }
}

impl Decoder for Frames {
    type Item = LogOutput;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<LogOutput>> {
        if self.tty {
            return Ok((!src.is_empty()).then(|| LogOutput::Console {
                message: src.split().freeze(),
            }));
        }
        let Some(header) = src.get(..HEADER) else {
            return Ok(None);
        };
        let stream = header[0];
        let length = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if src.len() < HEADER + length {
            src.reserve(HEADER + length - src.len());
            return Ok(None);
        }
        src.advance(HEADER);
        let message = src.split_to(length).freeze();
        match stream {
            0 => Ok(Some(LogOutput::StdIn { message })),
            1 => Ok(Some(LogOutput::StdOut { message })),
            2 => Ok(Some(LogOutput::StdErr { message })),
            // The daemon's own failure, sent in the stream once it had started.
            3 => Err(io::Error::other(format!(
                "error from daemon in stream: {}",
                String::from_utf8_lossy(&message)
            ))),
            other => Err(io::Error::other(format!(
                "Unrecognized input header: {other}"
            ))),
        }
    }

    /// A frame cut short by the end of the connection is dropped, as docker drops it.
    fn decode_eof(&mut self, src: &mut BytesMut) -> io::Result<Option<LogOutput>> {
        let item = self.decode(src)?;
        if item.is_none() {
            src.clear();
        }
        Ok(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
        let mut bytes = vec![stream, 0, 0, 0];
        bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        bytes.extend_from_slice(payload);
        bytes
    }

    fn decode_all(frames: &mut Frames, bytes: &[u8]) -> io::Result<Vec<LogOutput>> {
        let mut src = BytesMut::from(bytes);
        let mut items = Vec::new();
        while let Some(item) = frames.decode(&mut src)? {
            items.push(item);
        }
        Ok(items)
    }

    #[test]
    fn frames_are_split_by_stream() {
        let mut bytes = frame(1, b"out\n");
        bytes.extend(frame(2, b"err\n"));
        let items = decode_all(&mut Frames::new(false), &bytes).unwrap();
        assert!(matches!(&items[..], [
            LogOutput::StdOut { message: out },
            LogOutput::StdErr { message: err },
        ] if &out[..] == b"out\n" && &err[..] == b"err\n"));
    }

    #[test]
    fn a_frame_waits_for_all_its_bytes() {
        let bytes = frame(1, b"hello");
        let mut frames = Frames::new(false);
        let mut src = BytesMut::from(&bytes[..6]);
        assert!(frames.decode(&mut src).unwrap().is_none());
        src.extend_from_slice(&bytes[6..]);
        let item = frames.decode(&mut src).unwrap();
        assert!(matches!(item, Some(LogOutput::StdOut { message }) if &message[..] == b"hello"));
        // Cut short by the end of the connection: dropped.
        let mut src = BytesMut::from(&bytes[..10]);
        assert!(frames.decode_eof(&mut src).unwrap().is_none());
        assert!(src.is_empty());
    }

    #[test]
    fn a_tty_stream_is_passed_on_as_is() {
        // Bytes that would look like a frame header are the terminal's output too.
        let bytes = b"\x01\x00\x00\x00\x00\x00\x00\x05\r\n";
        let items = decode_all(&mut Frames::new(true), bytes).unwrap();
        assert!(matches!(&items[..], [LogOutput::Console { message }] if &message[..] == bytes));
    }

    #[test]
    fn daemon_errors_in_the_stream() {
        let error = decode_all(&mut Frames::new(false), &frame(3, b"boom")).unwrap_err();
        assert_eq!(error.to_string(), "error from daemon in stream: boom");
        let error = decode_all(&mut Frames::new(false), &frame(9, b"")).unwrap_err();
        assert_eq!(error.to_string(), "Unrecognized input header: 9");
    }
}
