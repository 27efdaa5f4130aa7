//! The container's log: its init's output cut into entries and written in the log driver's
//! format (Docker's `json-file`, or berth's framing for `local`, see
//! `berth_shim_proto::log_files`).
//!
//! Output is split at newlines; a line that grows past 16 KiB without one is written in
//! 16 KiB pieces (without a newline), and what is left when a stream ends is written as is.
//! Every entry of one chunk of output gets the time the chunk was read.

use std::collections::BTreeMap;
use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use berth_shim_proto::LogFormat;

use crate::json_log;
use crate::output::Stream;
use crate::rotating_file::EntrySink;
use crate::timestamp::rfc3339_nano;

/// Longest log entry; longer lines are split (Docker's copier buffer).
pub const MAX_ENTRY: usize = 16 * 1024;

/// How entries are encoded, with the container's attributes prepared for it.
enum Encoding {
    Json { attrs: Option<Vec<u8>> },
    Local { attrs: Vec<(String, String)> },
}

pub struct ContainerLog<W: EntrySink> {
    out: W,
    encoding: Encoding,
    /// The unfinished line of each stream.
    pending: [Vec<u8>; 2],
    /// Entries being encoded; written together per chunk of output.
    buf: Vec<u8>,
    /// Where each entry of `buf` ends.
    ends: Vec<usize>,
}

impl<W: EntrySink> ContainerLog<W> {
    pub fn new(out: W, format: LogFormat, attrs: &BTreeMap<String, String>) -> Self {
        let encoding = match format {
            LogFormat::JsonFile => Encoding::Json {
                attrs: json_log::render_attrs(attrs),
            },
            LogFormat::Local => Encoding::Local {
                attrs: attrs.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            },
        };
        Self {
            out,
            encoding,
            pending: [Vec::new(), Vec::new()],
            buf: Vec::new(),
            ends: Vec::new(),
        }
    }

    /// Logs `data` read from `stream` at `time`.
    pub fn write(&mut self, stream: Stream, data: &[u8], time: SystemTime) -> io::Result<()> {
        let mut pending = std::mem::take(&mut self.pending[stream.index()]);
        pending.extend_from_slice(data);
        let mut entries = Entries::new(&self.encoding, time);
        let mut rest = pending.as_slice();
        loop {
            let window = &rest[..rest.len().min(MAX_ENTRY)];
            let end = match window.iter().position(|b| *b == b'\n') {
                Some(newline) => newline + 1,
                None if rest.len() >= MAX_ENTRY => MAX_ENTRY,
                None => break,
            };
            entries.encode(&mut self.buf, &rest[..end], stream);
            self.ends.push(self.buf.len());
            rest = &rest[end..];
        }
        let kept = rest.len();
        pending.drain(..pending.len() - kept);
        self.pending[stream.index()] = pending;
        self.flush_buf()
    }

    /// Logs what is left of `stream` when it ends.
    pub fn finish(&mut self, stream: Stream, time: SystemTime) -> io::Result<()> {
        let rest = std::mem::take(&mut self.pending[stream.index()]);
        if !rest.is_empty() {
            Entries::new(&self.encoding, time).encode(&mut self.buf, &rest, stream);
            self.ends.push(self.buf.len());
        }
        self.flush_buf()
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let result = self.out.write_entries(&self.buf, &self.ends);
        self.buf.clear();
        self.ends.clear();
        result
    }

    pub fn sink_mut(&mut self) -> &mut W {
        &mut self.out
    }

    #[cfg(test)]
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// The entries of one chunk of output: they share its time, formatted once.
struct Entries<'a> {
    encoding: &'a Encoding,
    time: SystemTime,
    formatted: Option<String>,
}

impl<'a> Entries<'a> {
    fn new(encoding: &'a Encoding, time: SystemTime) -> Self {
        Self {
            encoding,
            time,
            formatted: None,
        }
    }

    fn encode(&mut self, buf: &mut Vec<u8>, line: &[u8], stream: Stream) {
        match self.encoding {
            Encoding::Json { attrs } => {
                let time = self
                    .formatted
                    .get_or_insert_with(|| rfc3339_nano(self.time));
                json_log::encode_entry(buf, line, stream.name(), attrs.as_deref(), time);
            }
            Encoding::Local { attrs } => {
                let nanos = match self.time.duration_since(UNIX_EPOCH) {
                    Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
                    Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
                };
                berth_shim_proto::log_files::encode_local(
                    buf,
                    stream.frame_id(),
                    nanos,
                    attrs,
                    line,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const T: &str = "2026-11-28T08:00:00.123456789Z";

    fn time() -> SystemTime {
        UNIX_EPOCH + Duration::new(1_795_852_800, 123_456_789)
    }

    fn logged(format: LogFormat, steps: &[(Stream, &[u8])], finish: bool) -> Vec<u8> {
        let mut log = ContainerLog::new(Vec::new(), format, &BTreeMap::new());
        for (stream, data) in steps {
            log.write(*stream, data, time()).unwrap();
        }
        if finish {
            log.finish(Stream::Stdout, time()).unwrap();
            log.finish(Stream::Stderr, time()).unwrap();
        }
        log.into_inner()
    }

    fn json(steps: &[(Stream, &[u8])], finish: bool) -> String {
        String::from_utf8(logged(LogFormat::JsonFile, steps, finish)).unwrap()
    }

    #[test]
    fn lines_are_split_and_streams_kept_apart() {
        let out = json(
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
        let out = json(&[(Stream::Stdout, &long)], false);
        assert_eq!(out.lines().count(), 2, "two full pieces, 10 bytes pending");
        assert!(
            out.lines()
                .all(|l| l.contains(&"a".repeat(MAX_ENTRY)) && !l.contains("\\n"))
        );
        let out = json(&[(Stream::Stdout, &long)], true);
        assert_eq!(out.lines().count(), 3);
        assert!(
            out.lines()
                .last()
                .unwrap()
                .starts_with(&format!("{{\"log\":\"{}\"", "a".repeat(10)))
        );
    }

    #[test]
    fn local_entries_carry_stream_time_attrs_and_line() {
        let attrs = BTreeMap::from([("env".to_string(), "prod".to_string())]);
        let mut log = ContainerLog::new(Vec::new(), LogFormat::Local, &attrs);
        log.write(Stream::Stderr, b"one\ntwo", time()).unwrap();
        log.finish(Stream::Stderr, time()).unwrap();
        let buf = log.into_inner();
        let (first, used) = berth_shim_proto::log_files::decode_local(&buf)
            .unwrap()
            .unwrap();
        assert_eq!(first.stream, Stream::Stderr.frame_id());
        assert_eq!(first.time_nanos, 1_795_852_800_123_456_789);
        assert_eq!(first.attrs, vec![("env", "prod")]);
        assert_eq!(first.line, b"one\n");
        let (second, _) = berth_shim_proto::log_files::decode_local(&buf[used..])
            .unwrap()
            .unwrap();
        assert_eq!(
            second.line, b"two",
            "the stream's last bytes, without a newline"
        );
    }
}
