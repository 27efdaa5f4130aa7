//! The log file with Docker's rotation (`max-size`, `max-file`, `compress`): when an entry
//! would take the file past `max_size`, `log` becomes `log.1`, `log.1` becomes `log.2`, ...
//! and the oldest beyond `max_files` goes; with one file, the file starts over. With
//! compression the rotated files are `log.1.gz`, `log.2.gz`, ..., gzipped by a child process
//! (see `compression`); a rotation waits for the previous compression, never a write.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use berth_shim_proto::log_files::rotated_path;
use nix::unistd::Pid;

use crate::compression::Compression;

/// Where encoded entries go, a batch at a time: `ends` holds the offset just past each entry
/// of `buf`, so that a file is only ever cut between entries.
pub trait EntrySink {
    fn write_entries(&mut self, buf: &[u8], ends: &[usize]) -> io::Result<()>;

    /// A child process of the shim was reaped by someone else.
    fn reaped(&mut self, _pid: Pid) {}
}

impl EntrySink for Vec<u8> {
    fn write_entries(&mut self, buf: &[u8], _ends: &[usize]) -> io::Result<()> {
        self.extend_from_slice(buf);
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Rotation {
    /// 0: never rotate.
    pub max_size: u64,
    /// Files kept, the current one included (at least 1).
    pub max_files: u32,
    /// Gzip rotated files.
    pub compress: bool,
}

pub struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: Rotation,
    mode: u32,
    /// The compression of `log.1` still running, if any. When the shim ends first, it
    /// finishes on its own.
    compressing: Option<Compression>,
}

fn open(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(mode)
        .open(path)
}

impl RotatingFile {
    pub fn open(path: &Path, rotation: Rotation, mode: u32) -> io::Result<Self> {
        let file = open(path, mode)?;
        let size = file.metadata()?.len();
        let rotation = Rotation {
            max_files: rotation.max_files.max(1),
            ..rotation
        };
        let mut this = Self {
            path: path.to_path_buf(),
            file,
            size,
            rotation,
            mode,
            compressing: None,
        };
        // A compression cut short (the shim ended first) is done again.
        if this.compresses() && rotated_path(path, 1, false).exists() {
            this.start_compression()?;
        }
        Ok(this)
    }

    fn compresses(&self) -> bool {
        self.rotation.compress && self.rotation.max_files > 1
    }

    fn start_compression(&mut self) -> io::Result<()> {
        let plain = rotated_path(&self.path, 1, false);
        let gz = rotated_path(&self.path, 1, true);
        self.compressing = Some(Compression::start(&plain, &gz, self.mode)?);
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let max_files = self.rotation.max_files;
        if max_files == 1 {
            self.file.set_len(0)?;
        } else {
            if let Some(previous) = self.compressing.take() {
                previous.wait();
            }
            let gz = self.rotation.compress;
            let _ = std::fs::remove_file(rotated_path(&self.path, max_files - 1, gz));
            for n in (1..max_files - 1).rev() {
                let _ = std::fs::rename(
                    rotated_path(&self.path, n, gz),
                    rotated_path(&self.path, n + 1, gz),
                );
            }
            std::fs::rename(&self.path, rotated_path(&self.path, 1, false))?;
            self.file = open(&self.path, self.mode)?;
            if gz {
                self.start_compression()?;
            }
        }
        self.size = 0;
        Ok(())
    }
}

impl EntrySink for RotatingFile {
    /// Writes whole entries while they fit; the entry that would not fit starts a new file.
    /// An entry longer than the limit gets a file of its own.
    fn write_entries(&mut self, buf: &[u8], ends: &[usize]) -> io::Result<()> {
        let max_size = self.rotation.max_size;
        let (mut start, mut next) = (0, 0);
        while next < ends.len() {
            let room = max_size.saturating_sub(self.size);
            let mut end = start;
            while next < ends.len() && (max_size == 0 || (ends[next] - start) as u64 <= room) {
                end = ends[next];
                next += 1;
            }
            if end == start {
                if self.size > 0 {
                    self.rotate()?;
                    continue;
                }
                end = ends[next];
                next += 1;
            }
            self.file.write_all(&buf[start..end])?;
            self.size += (end - start) as u64;
            start = end;
        }
        Ok(())
    }

    fn reaped(&mut self, pid: Pid) {
        if self.compressing.as_ref().is_some_and(|c| c.pid() == pid) {
            self.compressing = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `lines` as one batch, each line one entry.
    fn write_lines(f: &mut RotatingFile, lines: &str) {
        let mut ends = Vec::new();
        for (i, b) in lines.bytes().enumerate() {
            if b == b'\n' {
                ends.push(i + 1);
            }
        }
        f.write_entries(lines.as_bytes(), &ends).unwrap();
    }

    fn rotation(max_size: u64, max_files: u32) -> Rotation {
        Rotation {
            max_size,
            max_files,
            compress: false,
        }
    }

    #[test]
    fn rotates_and_keeps_max_files() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("c-json.log");
        let mut f = RotatingFile::open(&path, rotation(10, 3), 0o640).unwrap();
        for chunk in ["aaaaaaaa\n", "bbbbbbbb\n", "cccccccc\n", "dddddddd\n"] {
            write_lines(&mut f, chunk);
        }
        // A batch of entries is split between entries.
        let batch_path = d.path().join("batch.log");
        let mut batch = RotatingFile::open(&batch_path, rotation(20, 2), 0o640).unwrap();
        write_lines(&mut batch, "111111111\n222222222\n333333333\n");
        assert_eq!(std::fs::read_to_string(&batch_path).unwrap(), "333333333\n");
        let read = |n| std::fs::read_to_string(rotated_path(&path, n, false)).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "dddddddd\n");
        assert_eq!(read(1), "cccccccc\n");
        assert_eq!(read(2), "bbbbbbbb\n");
        assert!(!rotated_path(&path, 3, false).exists());
        let one_path = d.path().join("one.log");
        let mut one = RotatingFile::open(&one_path, rotation(10, 1), 0o640).unwrap();
        write_lines(&mut one, "aaaaaaaa\n");
        write_lines(&mut one, "bbbbbbbb\n");
        assert_eq!(std::fs::read_to_string(&one_path).unwrap(), "bbbbbbbb\n");
        // An entry bigger than the limit is written whole, in a file of its own.
        let big_path = d.path().join("big.log");
        let mut big = RotatingFile::open(&big_path, rotation(4, 2), 0o640).unwrap();
        write_lines(&mut big, "ab\nlonger than four\n");
        assert_eq!(
            std::fs::read_to_string(&big_path).unwrap(),
            "longer than four\n"
        );
    }

    #[test]
    fn rotated_files_are_gzipped_in_order() {
        use std::io::Read;
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("container.log");
        let compressed = Rotation {
            compress: true,
            ..rotation(10, 3)
        };
        let mut f = RotatingFile::open(&path, compressed, 0o640).unwrap();
        for chunk in ["aaaaaaaa\n", "bbbbbbbb\n", "cccccccc\n", "dddddddd\n"] {
            write_lines(&mut f, chunk);
        }
        if let Some(c) = f.compressing.take() {
            c.wait();
        }
        let gunzip = |n| {
            let mut s = String::new();
            flate2::read::GzDecoder::new(File::open(rotated_path(&path, n, true)).unwrap())
                .read_to_string(&mut s)
                .unwrap();
            s
        };
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "dddddddd\n");
        assert_eq!(gunzip(1), "cccccccc\n");
        assert_eq!(gunzip(2), "bbbbbbbb\n");
        assert!(!rotated_path(&path, 1, false).exists());
        assert!(!rotated_path(&path, 3, true).exists());
    }
}
