//! The log file with Docker's json-file rotation (`max-size`, `max-file`): when a write would
//! take the file past `max_size`, `log` becomes `log.1`, `log.1` becomes `log.2`, ... and the
//! oldest beyond `max_files` goes; with one file, the file starts over.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    /// 0: never rotate.
    max_size: u64,
    /// Files kept, the current one included (at least 1).
    max_files: u32,
    mode: u32,
}

fn open(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(mode)
        .open(path)
}

fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

impl RotatingFile {
    pub fn open(path: &Path, max_size: u64, max_files: u32, mode: u32) -> io::Result<Self> {
        let file = open(path, mode)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path: path.to_path_buf(),
            file,
            size,
            max_size,
            max_files: max_files.max(1),
            mode,
        })
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.max_files == 1 {
            self.file.set_len(0)?;
        } else {
            let _ = std::fs::remove_file(numbered(&self.path, self.max_files - 1));
            for n in (1..self.max_files - 1).rev() {
                let _ = std::fs::rename(numbered(&self.path, n), numbered(&self.path, n + 1));
            }
            std::fs::rename(&self.path, numbered(&self.path, 1))?;
            self.file = open(&self.path, self.mode)?;
        }
        self.size = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    /// Writes whole lines while they fit; the line that would not fit starts a new file. A
    /// batch of lines is split so that no file grows past `max_size` by more than one line.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.max_size.saturating_sub(self.size) as usize;
        let chunk = if self.max_size == 0 || buf.len() <= room {
            buf
        } else {
            match buf[..room].iter().rposition(|b| *b == b'\n') {
                Some(end) => &buf[..=end],
                None if self.size > 0 => {
                    self.rotate()?;
                    return self.write(buf);
                }
                // A single line longer than the limit: it gets a file of its own.
                None => buf,
            }
        };
        let n = self.file.write(chunk)?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_and_keeps_max_files() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("c-json.log");
        let mut f = RotatingFile::open(&path, 10, 3, 0o640).unwrap();
        for chunk in ["aaaaaaaa\n", "bbbbbbbb\n", "cccccccc\n", "dddddddd\n"] {
            f.write_all(chunk.as_bytes()).unwrap();
        }
        // A batch of lines is split at a line boundary.
        let mut batch = RotatingFile::open(&d.path().join("batch.log"), 20, 2, 0o640).unwrap();
        batch
            .write_all(b"111111111\n222222222\n333333333\n")
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(d.path().join("batch.log")).unwrap(),
            "333333333\n"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "dddddddd\n");
        assert_eq!(
            std::fs::read_to_string(numbered(&path, 1)).unwrap(),
            "cccccccc\n"
        );
        assert_eq!(
            std::fs::read_to_string(numbered(&path, 2)).unwrap(),
            "bbbbbbbb\n"
        );
        assert!(!numbered(&path, 3).exists());
        let mut one = RotatingFile::open(&d.path().join("one.log"), 10, 1, 0o640).unwrap();
        one.write_all(b"aaaaaaaa\n").unwrap();
        one.write_all(b"bbbbbbbb\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(d.path().join("one.log")).unwrap(),
            "bbbbbbbb\n"
        );
    }
}
