//! `shim.log` in the exec dir: what went wrong, one timestamped line each. Nothing else
//! reads the shim's stderr once it has daemonized.

use std::fmt::Display;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::SystemTime;

use crate::timestamp::rfc3339_nano;

pub struct ShimLog {
    file: Option<File>,
}

impl ShimLog {
    /// Opens (appends to) `path`; if that fails, errors are dropped: there is nowhere else
    /// to put them.
    pub fn open(path: &Path) -> Self {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .ok();
        Self { file }
    }

    pub fn error(&mut self, message: impl Display) {
        if let Some(file) = &mut self.file {
            let line = format!("{} error: {message}\n", rfc3339_nano(SystemTime::now()));
            // Best effort: a failing log cannot be reported anywhere.
            let _ = file.write_all(line.as_bytes());
        }
    }
}
