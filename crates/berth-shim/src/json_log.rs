//! The container log in Docker's `json-file` format: one object per line,
//! `{"log":"hello\n","stream":"stdout","time":"2026-11-28T08:00:00.123456789Z"}`.
//!
//! Output is split at newlines; a line that grows past 16 KiB without one is written in
//! 16 KiB pieces (without a newline), and what is left when a stream ends is written as is.
//! Strings are escaped exactly as Docker's encoder does (`<`, `>`, `&` as `\u00XX`, invalid
//! UTF-8 as `\ufffd`), so `docker logs`-style readers see identical bytes.

use std::io::{self, Write};

use crate::output::Stream;

/// Longest log entry; longer lines are split (Docker's copier buffer).
pub const MAX_ENTRY: usize = 16 * 1024;

pub struct JsonLog<W: Write> {
    out: W,
    /// The unfinished line of each stream.
    pending: [Vec<u8>; 2],
    /// Entries being formatted; written with one `write` per chunk of output.
    buf: Vec<u8>,
}

impl<W: Write> JsonLog<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            pending: [Vec::new(), Vec::new()],
            buf: Vec::new(),
        }
    }

    /// Logs `data` read from `stream` at `time` (already formatted).
    pub fn write(&mut self, stream: Stream, data: &[u8], time: &str) -> io::Result<()> {
        let mut pending = std::mem::take(&mut self.pending[stream.index()]);
        pending.extend_from_slice(data);
        let mut rest = pending.as_slice();
        loop {
            let window = &rest[..rest.len().min(MAX_ENTRY)];
            let end = match window.iter().position(|b| *b == b'\n') {
                Some(newline) => newline + 1,
                None if rest.len() >= MAX_ENTRY => MAX_ENTRY,
                None => break,
            };
            self.format_entry(&rest[..end], stream, time);
            rest = &rest[end..];
        }
        let kept = rest.len();
        pending.drain(..pending.len() - kept);
        self.pending[stream.index()] = pending;
        self.flush_buf()
    }

    /// Logs what is left of `stream` when it ends.
    pub fn finish(&mut self, stream: Stream, time: &str) -> io::Result<()> {
        let rest = std::mem::take(&mut self.pending[stream.index()]);
        if !rest.is_empty() {
            self.format_entry(&rest, stream, time);
        }
        self.flush_buf()
    }

    fn format_entry(&mut self, line: &[u8], stream: Stream, time: &str) {
        self.buf.extend_from_slice(b"{\"log\":");
        escape_into(&mut self.buf, line);
        self.buf.extend_from_slice(b",\"stream\":\"");
        self.buf.extend_from_slice(stream.name().as_bytes());
        self.buf.extend_from_slice(b"\",\"time\":\"");
        self.buf.extend_from_slice(time.as_bytes());
        self.buf.extend_from_slice(b"\"}\n");
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let result = self.out.write_all(&self.buf);
        self.buf.clear();
        result
    }
}

/// Writes `bytes` as a JSON string, as Docker's json-file encoder does.
fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' | '\\' => out.extend_from_slice(&[b'\\', c as u8]),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\u{0}'..='\u{1f}' | '<' | '>' | '&' => {
                    let b = c as u8;
                    out.extend_from_slice(b"\\u00");
                    out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
                }
                '\u{2028}' | '\u{2029}' => {
                    out.extend_from_slice(b"\\u202");
                    out.push(HEX[(c as usize) & 0xf]);
                }
                _ => {
                    let mut utf8 = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                }
            }
        }
        // Each invalid byte becomes one replacement character, as Go's decoder yields.
        for _ in chunk.invalid() {
            out.extend_from_slice(b"\\ufffd");
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "2026-11-28T08:00:00.123456789Z";

    fn logged(steps: &[(Stream, &[u8])], finish: bool) -> String {
        let mut log = JsonLog::new(Vec::new());
        for (stream, data) in steps {
            log.write(*stream, data, T).unwrap();
        }
        if finish {
            log.finish(Stream::Stdout, T).unwrap();
            log.finish(Stream::Stderr, T).unwrap();
        }
        String::from_utf8(log.out).unwrap()
    }

    #[test]
    fn lines_are_split_and_streams_kept_apart() {
        let out = logged(
            &[
                (Stream::Stdout, b"hello\nwor"),
                (Stream::Stderr, b"oops\n"),
                (Stream::Stdout, b"ld\n"),
            ],
            false,
        );
        assert_eq!(
            out,
            format!(
                "{{\"log\":\"hello\\n\",\"stream\":\"stdout\",\"time\":\"{T}\"}}\n\
                 {{\"log\":\"oops\\n\",\"stream\":\"stderr\",\"time\":\"{T}\"}}\n\
                 {{\"log\":\"world\\n\",\"stream\":\"stdout\",\"time\":\"{T}\"}}\n"
            )
        );
    }

    #[test]
    fn long_lines_are_cut_at_16k_and_the_rest_flushed_at_the_end() {
        let long = vec![b'a'; MAX_ENTRY * 2 + 10];
        let out = logged(&[(Stream::Stdout, &long)], false);
        assert_eq!(out.lines().count(), 2, "two full pieces, 10 bytes pending");
        assert!(
            out.lines()
                .all(|l| l.contains(&"a".repeat(MAX_ENTRY)) && !l.contains("\\n"))
        );
        let out = logged(&[(Stream::Stdout, &long)], true);
        assert_eq!(out.lines().count(), 3);
        assert!(
            out.lines()
                .last()
                .unwrap()
                .starts_with(&format!("{{\"log\":\"{}\"", "a".repeat(10)))
        );
    }

    #[test]
    fn escaping_matches_dockers_encoder() {
        let mut out = Vec::new();
        escape_into(&mut out, b"q\"b\\\t<&>\r\x01\xff\xe2\x80\xa8\xc3\xa9");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#""q\"b\\\u0009\u003c\u0026\u003e\r\u0001\ufffd\u2028é""#
        );
    }

    #[test]
    fn every_entry_is_valid_json() {
        let out = logged(&[(Stream::Stderr, b"\x00\x1b[31mred\x1b[0m \xfe\n")], false);
        let entry: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
        assert_eq!(entry["log"], "\u{0}\u{1b}[31mred\u{1b}[0m \u{fffd}\n");
        assert_eq!(entry["stream"], "stderr");
    }
}
