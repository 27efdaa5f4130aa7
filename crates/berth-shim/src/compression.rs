//! Gzipping a rotated log file in a child process, so that the shim's loop (which reads the
//! container's output) never waits for it: the child renices itself, writes `<file>.gz` under
//! a temporary name, renames it into place and only then removes the plain file. A reader
//! that finds both takes the plain one; either holds every entry.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use flate2::Compression as Level;
use flate2::write::GzEncoder;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid};

/// A compression running in a child of the shim.
pub struct Compression {
    pid: Pid,
}

impl Compression {
    /// Starts gzipping `plain` into `gz` (file mode `mode`).
    pub fn start(plain: &Path, gz: &Path, mode: u32) -> io::Result<Self> {
        // SAFETY: the shim is single-threaded, so the child is a complete copy with no lock
        // held by a vanished thread; it only does file I/O and then `_exit`s.
        match unsafe { nix::unistd::fork() }? {
            ForkResult::Parent { child } => Ok(Self { pid: child }),
            ForkResult::Child => {
                // SAFETY: nice only changes this process's scheduling priority.
                unsafe { nix::libc::nice(10) };
                let code = i32::from(compress(plain, gz, mode).is_err());
                // SAFETY: `_exit` ends the child without running the parent's exit handlers
                // or flushing buffers it shares with the parent.
                unsafe { nix::libc::_exit(code) }
            }
        }
    }

    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Waits for the child to end (it may already have been reaped: then nothing to wait for).
    pub fn wait(self) {
        loop {
            match waitpid(self.pid, None) {
                Err(nix::errno::Errno::EINTR) => continue,
                _ => return,
            }
        }
    }
}

/// Gzips `plain` into `gz` through a temporary file, then removes `plain` unless it was
/// replaced meanwhile.
pub fn compress(plain: &Path, gz: &Path, mode: u32) -> io::Result<()> {
    let source = File::open(plain)?;
    let inode = source.metadata()?.ino();
    let mut tmp_name = gz.as_os_str().to_owned();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = Path::new(&tmp_name);
    let written = (|| {
        let out = File::options()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(tmp)?;
        let mut encoder = GzEncoder::new(BufWriter::new(out), Level::default());
        io::copy(&mut BufReader::new(source), &mut encoder)?;
        let mut out = encoder.finish()?;
        out.flush()?;
        out.get_ref().sync_all()?;
        std::fs::rename(tmp, gz)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(tmp);
        return Err(e);
    }
    if std::fs::metadata(plain).is_ok_and(|m| m.ino() == inode) {
        std::fs::remove_file(plain)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_gzip_replaces_the_plain_file() {
        let d = tempfile::tempdir().unwrap();
        let plain = d.path().join("c.log.1");
        let gz = d.path().join("c.log.1.gz");
        let content = "line\n".repeat(10_000);
        std::fs::write(&plain, &content).unwrap();
        compress(&plain, &gz, 0o640).unwrap();
        assert!(!plain.exists());
        let mut back = String::new();
        flate2::read::GzDecoder::new(File::open(&gz).unwrap())
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, content);
        assert_eq!(
            std::fs::read_dir(d.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
        assert!(compress(&plain, &gz, 0o640).is_err(), "nothing to compress");
    }
}
