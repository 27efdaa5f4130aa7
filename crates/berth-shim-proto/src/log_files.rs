//! The container log files: the shim writes them, berthd reads them.
//!
//! # Rotation
//! `<log>` is the file being written. With `max-file` N > 1 it is renamed `<log>.1` when it is
//! full, `<log>.1` becomes `<log>.2`, and so on up to `<log>.(N-1)`. With compression each
//! rotated file is gzipped in the background: `<log>.1` becomes `<log>.1.gz` (written under a
//! temporary name, renamed into place, then the plain file is removed), and the older ones are
//! `<log>.2.gz` ... as Docker names them. A reader takes `<log>.n` when it exists and
//! `<log>.n.gz` otherwise.
//!
//! # `local` entries
//! The `local` driver's file is a sequence of entries, each framed by its length so that a file
//! can be read forwards (and, if ever needed, backwards):
//!
//! ```text
//! u32 len (big endian) | body (len bytes) | u32 len (big endian, again)
//! body: u8 stream (1 stdout, 2 stderr) | i64 time (ns since the epoch, big endian)
//!       | u16 attribute count | per attribute: u16 key len, key, u16 value len, value
//!       | the line (the rest; it ends with '\n' unless it was cut or was the stream's last)
//! ```
//!
//! Only berth reads this format (Docker's is protobuf); it is not an interface to other tools.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What a log file holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// Docker's `json-file`: one JSON object a line.
    #[default]
    JsonFile,
    /// berth's framing of the `local` driver (see the module docs).
    Local,
}

/// The `n`th rotated file of `log` (n >= 1), gzipped or not.
pub fn rotated_path(log: &Path, n: u32, compressed: bool) -> PathBuf {
    let mut name = log.as_os_str().to_owned();
    name.push(format!(".{n}"));
    if compressed {
        name.push(".gz");
    }
    PathBuf::from(name)
}

/// The longest `local` entry body a reader accepts (lines are cut at 16 KiB by the writer).
pub const MAX_LOCAL_BODY: usize = 1 << 20;

/// One decoded `local` entry, borrowing from the buffer it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalEntry<'a> {
    pub stream: u8,
    pub time_nanos: i64,
    pub attrs: Vec<(&'a str, &'a str)>,
    pub line: &'a [u8],
}

/// Appends one framed entry to `out`.
pub fn encode_local(
    out: &mut Vec<u8>,
    stream: u8,
    time_nanos: i64,
    attrs: &[(String, String)],
    line: &[u8],
) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.push(stream);
    out.extend_from_slice(&time_nanos.to_be_bytes());
    let count = attrs.len().min(usize::from(u16::MAX));
    out.extend_from_slice(&(count as u16).to_be_bytes());
    for (key, value) in &attrs[..count] {
        for s in [key, value] {
            let bytes = &s.as_bytes()[..s.len().min(usize::from(u16::MAX))];
            out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
            out.extend_from_slice(bytes);
        }
    }
    out.extend_from_slice(line);
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
}

/// A `local` file that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptEntry(pub &'static str);

impl std::fmt::Display for CorruptEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "corrupt log entry: {}", self.0)
    }
}

impl std::error::Error for CorruptEntry {}

/// Decodes the entry at the start of `buf`: the entry and the bytes it took, or `None` when
/// `buf` holds only part of it (the writer has not finished it yet).
pub fn decode_local(buf: &[u8]) -> Result<Option<(LocalEntry<'_>, usize)>, CorruptEntry> {
    let Some(len) = buf.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
    if !(11..=MAX_LOCAL_BODY).contains(&len) {
        return Err(CorruptEntry("length out of range"));
    }
    let Some(framed) = buf.get(..len + 8) else {
        return Ok(None);
    };
    if framed[len + 4..] != framed[..4] {
        return Err(CorruptEntry("trailing length differs"));
    }
    let mut body = Cursor(&framed[4..len + 4]);
    let stream = body.take(1)?[0];
    let time_nanos = i64::from_be_bytes(body.take(8)?.try_into().expect("8 bytes"));
    let count = body.u16()?;
    let mut attrs = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let key = body.string()?;
        let value = body.string()?;
        attrs.push((key, value));
    }
    let entry = LocalEntry {
        stream,
        time_nanos,
        attrs,
        line: body.0,
    };
    Ok(Some((entry, len + 8)))
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CorruptEntry> {
        if self.0.len() < n {
            return Err(CorruptEntry("entry is truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u16(&mut self) -> Result<u16, CorruptEntry> {
        Ok(u16::from_be_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }

    fn string(&mut self) -> Result<&'a str, CorruptEntry> {
        let len = self.u16()?;
        std::str::from_utf8(self.take(usize::from(len))?)
            .map_err(|_| CorruptEntry("attribute is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_names_are_dockers() {
        let log = Path::new("/c/local-logs/container.log");
        assert_eq!(
            rotated_path(log, 2, true),
            Path::new("/c/local-logs/container.log.2.gz")
        );
        assert_eq!(
            rotated_path(log, 1, false),
            Path::new("/c/local-logs/container.log.1")
        );
    }

    #[test]
    fn local_entries_round_trip_and_partial_ones_wait() {
        let attrs = vec![("env".to_string(), "prod".to_string())];
        let mut buf = Vec::new();
        encode_local(&mut buf, 1, 1_795_852_800_123_456_789, &attrs, b"hello\n");
        encode_local(&mut buf, 2, -5, &[], b"no newline");
        let (first, used) = decode_local(&buf).unwrap().unwrap();
        assert_eq!(
            first,
            LocalEntry {
                stream: 1,
                time_nanos: 1_795_852_800_123_456_789,
                attrs: vec![("env", "prod")],
                line: b"hello\n",
            }
        );
        let (second, rest) = decode_local(&buf[used..]).unwrap().unwrap();
        assert_eq!((second.stream, second.time_nanos), (2, -5));
        assert_eq!(second.line, b"no newline");
        assert_eq!(used + rest, buf.len());
        for cut in 0..used {
            assert_eq!(decode_local(&buf[..cut]), Ok(None), "cut at {cut}");
        }
    }

    #[test]
    fn corrupt_entries_are_refused() {
        let mut buf = Vec::new();
        encode_local(&mut buf, 1, 0, &[], b"x\n");
        let mut bad = buf.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(decode_local(&bad).is_err());
        assert!(decode_local(&[0xff, 0xff, 0xff, 0xff, 0]).is_err());
        // An attribute longer than its body.
        let mut lying = Vec::new();
        encode_local(&mut lying, 1, 0, &[], b"");
        lying[13..15].copy_from_slice(&1u16.to_be_bytes());
        assert!(decode_local(&lying).is_err());
    }
}
