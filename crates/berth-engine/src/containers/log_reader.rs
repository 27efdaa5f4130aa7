//! Reading a container's log files (see `berth_shim_proto::log_files`): the rotated files,
//! oldest first and gzipped or not, then the current one, decoded into entries; and
//! following the current file across rotations.
//!
//! A follower remembers the last entry it consumed by its time and how many entries with
//! that same time it has consumed. When the file it reads is rotated away (or truncated, with
//! one file), it reads the files that appeared since, skipping what it has already seen; so
//! even several rotations between two looks lose nothing that is still on disk.

use berth_shim_proto::log_files::{self, LogFormat, rotated_path};
use berth_shim_proto::{STREAM_STDERR, STREAM_STDOUT};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub stream: u8,
    /// Nanoseconds since the epoch.
    pub time: i64,
    pub line: Vec<u8>,
    pub attrs: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct JsonLine {
    log: String,
    stream: String,
    time: String,
    #[serde(default)]
    attrs: BTreeMap<String, String>,
}

fn decode_json(line: &[u8]) -> Option<Entry> {
    let l: JsonLine = serde_json::from_slice(line).ok()?;
    let stream = match l.stream.as_str() {
        "stdout" => STREAM_STDOUT,
        "stderr" => STREAM_STDERR,
        _ => return None,
    };
    let time = crate::clock::parse(&l.time)?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some(Entry {
        stream,
        time: i64::try_from(time).ok()?,
        line: l.log.into_bytes(),
        attrs: l.attrs,
    })
}

/// Decodes entries from a byte stream, keeping an unfinished last entry for the next read.
pub struct EntryReader<R> {
    source: R,
    format: LogFormat,
    buf: Vec<u8>,
    /// Bytes taken from `source` so far.
    consumed: u64,
    /// A `local` file that could not be decoded: nothing more is read from it.
    broken: bool,
}

const READ_SIZE: usize = 64 * 1024;

impl<R: Read> EntryReader<R> {
    pub fn new(source: R, format: LogFormat) -> Self {
        Self {
            source,
            format,
            buf: Vec::new(),
            consumed: 0,
            broken: false,
        }
    }

    /// The next complete entry, or None at the (current) end of the source.
    pub fn next_entry(&mut self) -> Option<Entry> {
        loop {
            if let Some(entry) = self.decode() {
                return Some(entry);
            }
            if self.broken || !self.fill() {
                return None;
            }
        }
    }

    /// Reads more bytes; false when none came.
    fn fill(&mut self) -> bool {
        let start = self.buf.len();
        self.buf.resize(start + READ_SIZE, 0);
        let n = loop {
            match self.source.read(&mut self.buf[start..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(n) => break n,
                Err(_) => break 0,
            }
        };
        self.buf.truncate(start + n);
        self.consumed += n as u64;
        n > 0
    }

    /// Takes one entry off the buffer; lines that are not entries (a damaged json-file line)
    /// are skipped.
    fn decode(&mut self) -> Option<Entry> {
        loop {
            match self.format {
                LogFormat::JsonFile => {
                    let end = self.buf.iter().position(|b| *b == b'\n')?;
                    let entry = decode_json(&self.buf[..end]);
                    self.buf.drain(..=end);
                    if entry.is_some() {
                        return entry;
                    }
                }
                LogFormat::Local => match log_files::decode_local(&self.buf) {
                    Ok(None) => return None,
                    Ok(Some((e, used))) => {
                        let entry = Entry {
                            stream: e.stream,
                            time: e.time_nanos,
                            line: e.line.to_vec(),
                            attrs: e
                                .attrs
                                .iter()
                                .map(|(k, v)| (k.to_string(), v.to_string()))
                                .collect(),
                        };
                        self.buf.drain(..used);
                        return Some(entry);
                    }
                    Err(_) => {
                        self.broken = true;
                        self.buf.clear();
                        return None;
                    }
                },
            }
        }
    }
}

/// A container's log files.
#[derive(Debug, Clone)]
pub struct LogFiles {
    pub path: PathBuf,
    pub format: LogFormat,
}

impl LogFiles {
    /// Opens rotated file `n`: the plain file while it exists, its gzip otherwise.
    fn open_rotated(&self, n: u32) -> Option<EntryReader<Box<dyn Read + Send>>> {
        let source: Box<dyn Read + Send> = match File::open(rotated_path(&self.path, n, false)) {
            Ok(f) => Box::new(f),
            Err(_) => {
                let gz = File::open(rotated_path(&self.path, n, true)).ok()?;
                Box::new(flate2::read::GzDecoder::new(io::BufReader::new(gz)))
            }
        };
        Some(EntryReader::new(source, self.format))
    }

    fn open_current(&self) -> Option<Current> {
        let file = File::open(&self.path).ok()?;
        let inode = file.metadata().ok()?.ino();
        Some(Current {
            reader: EntryReader::new(file, self.format),
            inode,
        })
    }
}

/// The file being written, as one reader opened it.
pub struct Current {
    reader: EntryReader<File>,
    inode: u64,
}

/// Where a reader is: the time of the last entry consumed, and how many entries with that
/// time it has consumed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Mark {
    time: i64,
    same: usize,
}

impl Mark {
    fn advance(&mut self, e: &Entry) {
        if self.same > 0 && e.time == self.time {
            self.same += 1;
        } else {
            *self = Mark {
                time: e.time,
                same: 1,
            };
        }
    }
}

/// Reads every entry of a container's log in order, then (when following) what is added.
pub struct LogCursor {
    files: LogFiles,
    current: Option<Current>,
    mark: Mark,
}

impl LogCursor {
    pub fn new(files: LogFiles) -> Self {
        Self {
            files,
            current: None,
            mark: Mark::default(),
        }
    }

    /// Everything on disk now, oldest first, to `sink`; stops early when `sink` says false.
    pub fn read_all(&mut self, sink: &mut impl FnMut(Entry) -> bool) -> bool {
        self.catch_up(None, sink)
    }

    fn read_current(&mut self, sink: &mut impl FnMut(Entry) -> bool) -> bool {
        let Some(current) = &mut self.current else {
            return true;
        };
        while let Some(e) = current.reader.next_entry() {
            self.mark.advance(&e);
            if !sink(e) {
                return false;
            }
        }
        true
    }

    /// What was added since the last read, across rotations; false when `sink` said so.
    pub fn read_new(&mut self, sink: &mut impl FnMut(Entry) -> bool) -> bool {
        if !self.read_current(sink) {
            return false;
        }
        let replaced = match (&self.current, std::fs::metadata(&self.files.path)) {
            (Some(c), Ok(m)) => m.ino() != c.inode || m.len() < c.reader.consumed,
            (None, Ok(_)) => true,
            (_, Err(_)) => false,
        };
        if !replaced {
            return true;
        }
        // What the old file got before it was rotated, then the files written since.
        if !self.read_current(sink) {
            return false;
        }
        let old_inode = self.current.take().map(|c| c.inode);
        self.catch_up(old_inode, sink)
    }

    /// Reads the files that may hold entries after the mark (all of them for a new cursor),
    /// skipping those up to it; `old_inode` is the file just read to its end, if any.
    ///
    /// The writer may rotate meanwhile. Files are opened newest first (the current one, then
    /// `.1`, `.2`, ...) and read from the open descriptors: a rotation in between moves a file
    /// to a number not opened yet, so it is opened twice rather than missed, and a file seen
    /// twice (same inode, or same first entry once gzipped) is read once.
    fn catch_up(&mut self, old_inode: Option<u64>, sink: &mut impl FnMut(Entry) -> bool) -> bool {
        let current = self.files.open_current();
        let current_inode = current.as_ref().map(|c| c.inode);
        // Found by its inode, the file just read is known whole: nothing after it is skipped.
        let mut mark = self.mark;
        let mut opened: Vec<(EntryReader<Box<dyn Read + Send>>, Entry)> = Vec::new();
        let mut missing = 0;
        for n in 1.. {
            let plain = std::fs::metadata(rotated_path(&self.files.path, n, false));
            let plain_inode = plain.ok().map(|m| m.ino());
            if old_inode.is_some() && plain_inode == old_inode {
                mark = Mark::default();
                break;
            }
            let Some(mut reader) = self.files.open_rotated(n) else {
                // A rotation renames one file at a time: one number may be missing briefly.
                missing += 1;
                if missing == 2 {
                    break;
                }
                continue;
            };
            missing = 0;
            if plain_inode.is_some() && plain_inode == current_inode {
                continue;
            }
            let Some(first) = reader.next_entry() else {
                continue;
            };
            if opened.iter().any(|(_, f)| *f == first) {
                continue;
            }
            let older = first.time < self.mark.time;
            opened.push((reader, first));
            if older {
                break;
            }
        }
        let mut skip = Skip { mark, seen_same: 0 };
        for (mut reader, first) in opened.into_iter().rev() {
            let entries = std::iter::once(first).chain(std::iter::from_fn(|| reader.next_entry()));
            if !deliver(&mut self.mark, entries, &mut skip, sink) {
                return false;
            }
        }
        self.current = current;
        let Some(current) = &mut self.current else {
            return true;
        };
        let entries = std::iter::from_fn(|| current.reader.next_entry());
        deliver(&mut self.mark, entries, &mut skip, sink)
    }
}

/// Passes on the entries `skip` has not seen, advancing `mark`.
fn deliver(
    mark: &mut Mark,
    entries: impl Iterator<Item = Entry>,
    skip: &mut Skip,
    sink: &mut impl FnMut(Entry) -> bool,
) -> bool {
    for e in entries {
        if skip.seen(&e) {
            continue;
        }
        mark.advance(&e);
        if !sink(e) {
            return false;
        }
    }
    true
}

/// Recognises entries a follower has already consumed (those up to its mark).
struct Skip {
    mark: Mark,
    seen_same: usize,
}

impl Skip {
    fn seen(&mut self, e: &Entry) -> bool {
        if self.mark.same == 0 {
            return false;
        }
        if e.time < self.mark.time {
            return true;
        }
        if e.time == self.mark.time && self.seen_same < self.mark.same {
            self.seen_same += 1;
            return true;
        }
        false
    }
}

/// The log of container `id` in `dir`, where the driver's writer puts it.
pub fn log_path(dir: &Path, id: &str, format: LogFormat) -> PathBuf {
    match format {
        LogFormat::JsonFile => dir.join(format!("{id}-json.log")),
        LogFormat::Local => dir.join("local-logs").join("container.log"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn entry(time: i64, line: &str) -> Entry {
        Entry {
            stream: STREAM_STDOUT,
            time,
            line: format!("{line}\n").into_bytes(),
            attrs: BTreeMap::new(),
        }
    }

    fn local_bytes(entries: &[Entry]) -> Vec<u8> {
        let mut out = Vec::new();
        for e in entries {
            log_files::encode_local(&mut out, e.stream, e.time, &[], &e.line);
        }
        out
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn collect(cursor: &mut LogCursor, all: bool) -> Vec<String> {
        let mut out = Vec::new();
        let mut sink = |e: Entry| {
            out.push(String::from_utf8(e.line).unwrap().trim_end().to_string());
            true
        };
        if all {
            cursor.read_all(&mut sink);
        } else {
            cursor.read_new(&mut sink);
        }
        out
    }

    #[test]
    fn json_lines_decode_with_attrs_and_damaged_ones_are_skipped() {
        let text = "{\"log\":\"a\\n\",\"stream\":\"stderr\",\"attrs\":{\"k\":\"v\"},\"time\":\"2026-01-01T00:00:00.5Z\"}\n\
                    not json\n\
                    {\"log\":\"b\",\"stream\":\"stdout\",\"time\":\"2026-01-01T00:00:01Z\"}\n\
                    {\"log\":\"unfinished";
        let mut r = EntryReader::new(text.as_bytes(), LogFormat::JsonFile);
        let a = r.next_entry().unwrap();
        assert_eq!(
            (a.stream, a.line.as_slice(), a.attrs["k"].as_str()),
            (STREAM_STDERR, b"a\n".as_slice(), "v")
        );
        assert_eq!(a.time % 1_000_000_000, 500_000_000);
        assert_eq!(r.next_entry().unwrap().line, b"b");
        assert!(r.next_entry().is_none(), "the unfinished line waits");
    }

    #[test]
    fn rotated_files_gzipped_or_not_are_read_oldest_first() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("container.log");
        let files = LogFiles {
            path: path.clone(),
            format: LogFormat::Local,
        };
        std::fs::write(
            rotated_path(&path, 2, true),
            gzip(&local_bytes(&[entry(1, "one"), entry(2, "two")])),
        )
        .unwrap();
        // Being compressed: both names exist; the plain one is read.
        std::fs::write(
            rotated_path(&path, 1, false),
            local_bytes(&[entry(3, "three")]),
        )
        .unwrap();
        std::fs::write(rotated_path(&path, 1, true), b"half a gzip").unwrap();
        std::fs::write(&path, local_bytes(&[entry(4, "four")])).unwrap();
        let mut cursor = LogCursor::new(files);
        assert_eq!(collect(&mut cursor, true), ["one", "two", "three", "four"]);
    }

    #[test]
    fn a_follower_reads_across_rotations_without_loss_or_repeats() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("c-json.log");
        let json = |t: i64, l: &str| {
            let secs = t / 1_000_000_000;
            format!(
                "{{\"log\":\"{l}\\n\",\"stream\":\"stdout\",\"time\":\"{}\"}}\n",
                humantime::format_rfc3339_nanos(
                    std::time::UNIX_EPOCH
                        + std::time::Duration::new(secs as u64, (t % 1_000_000_000) as u32)
                )
            )
        };
        let files = LogFiles {
            path: path.clone(),
            format: LogFormat::JsonFile,
        };
        let s = 1_800_000_000_000_000_000i64;
        std::fs::write(&path, json(s, "a") + &json(s + 1, "b")).unwrap();
        let mut cursor = LogCursor::new(files);
        assert_eq!(collect(&mut cursor, true), ["a", "b"]);
        // The writer adds a line with b's time, rotates, writes another file (two entries with
        // the same time across the cut), and rotates again, all between two looks.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(json(s + 1, "b2").as_bytes()).unwrap();
        std::fs::rename(&path, rotated_path(&path, 1, false)).unwrap();
        std::fs::write(&path, json(s + 1, "b3") + &json(s + 2, "c")).unwrap();
        std::fs::rename(rotated_path(&path, 1, false), rotated_path(&path, 2, false)).unwrap();
        let compressed = gzip(&std::fs::read(&path).unwrap());
        std::fs::write(rotated_path(&path, 1, true), compressed).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, json(s + 3, "d")).unwrap();
        assert_eq!(collect(&mut cursor, false), ["b2", "b3", "c", "d"]);
        assert!(collect(&mut cursor, false).is_empty());
        // One file, truncated and started over (seen as such once it is shorter than what
        // was read of it).
        std::fs::write(&path, json(s + 3, "d") + &json(s + 3, "d2")).unwrap();
        assert_eq!(collect(&mut cursor, false), ["d2"]);
        std::fs::write(&path, json(s + 4, "e")).unwrap();
        assert_eq!(collect(&mut cursor, false), ["e"]);
    }

    #[test]
    fn a_corrupt_local_file_ends_its_reading() {
        let mut bytes = local_bytes(&[entry(1, "ok")]);
        bytes.extend_from_slice(&[0xff; 16]);
        let mut r = EntryReader::new(bytes.as_slice(), LogFormat::Local);
        assert!(r.next_entry().is_some());
        assert!(r.next_entry().is_none());
    }
}
