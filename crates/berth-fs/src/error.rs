use std::io;
use std::path::{Path, PathBuf};

/// A failed filesystem operation, naming what was attempted and on which path.
#[derive(Debug, thiserror::Error)]
#[error("{op} {}: {source}", path.display())]
pub struct Error {
    op: &'static str,
    path: PathBuf,
    #[source]
    source: io::Error,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(op: &'static str, path: impl Into<PathBuf>, source: impl Into<io::Error>) -> Self {
        Self {
            op,
            path: path.into(),
            source: source.into(),
        }
    }

    /// The operation that failed, e.g. `"open"` or `"mkdir"`.
    pub fn op(&self) -> &'static str {
        self.op
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn kind(&self) -> io::ErrorKind {
        self.source.kind()
    }

    pub fn io_error(&self) -> &io::Error {
        &self.source
    }
}

impl From<Error> for io::Error {
    fn from(err: Error) -> Self {
        io::Error::new(err.kind(), err)
    }
}
