//! Reading and writing cgroupfs files, with errors that name the file.

use std::io::{self, Write};
use std::path::Path;
use std::str::FromStr;

use crate::error::{Error, Result};

pub(crate) fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })
}

/// The file's content, `None` when it does not exist (its controller is absent).
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Writes `value` in one `write(2)`: cgroupfs takes each write as one command.
pub(crate) fn write(path: &Path, value: &str) -> Result<()> {
    let error = |source| Error::Write {
        path: path.to_owned(),
        value: value.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(error)?;
    let written = file.write(value.as_bytes()).map_err(error)?;
    if written != value.len() {
        return Err(error(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("short write: {written} of {} bytes", value.len()),
        )));
    }
    Ok(())
}

/// Parses `text` read from `path` with a pure parser, naming the file when it does not fit.
pub(crate) fn parse_with<T>(
    path: &Path,
    text: &str,
    parser: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T> {
    parser(text).map_err(|reason| Error::Parse {
        path: path.to_owned(),
        reason,
    })
}

/// A file holding one number.
pub(crate) fn read_number<T: FromStr>(path: &Path) -> Result<T> {
    let text = read(path)?;
    parse_with(path, &text, parse_number)
}

pub(crate) fn parse_number<T: FromStr>(text: &str) -> Result<T, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("expected a number, found {:?}", text.trim()))
}

/// The pids listed in a `cgroup.procs` file.
pub(crate) fn parse_pids(text: &str) -> Result<Vec<i32>, String> {
    text.split_whitespace().map(parse_number).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_pid_lists() {
        assert_eq!(parse_number::<u64>("42\n"), Ok(42));
        assert!(parse_number::<u64>("max\n").is_err());
        assert_eq!(parse_pids("1\n23\n456\n"), Ok(vec![1, 23, 456]));
        assert_eq!(parse_pids(""), Ok(vec![]));
    }

    #[test]
    fn errors_name_the_file_and_value() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("memory.max");
        let err = write(&missing, "1024").unwrap_err().to_string();
        assert!(
            err.contains("memory.max") && err.contains("\"1024\""),
            "{err}"
        );
        let err = read(&missing).unwrap_err().to_string();
        assert!(err.contains("memory.max"), "{err}");
        assert!(read_optional(&missing).unwrap().is_none());
    }
}
