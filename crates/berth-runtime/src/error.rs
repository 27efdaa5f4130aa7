//! What can go wrong, with the exit codes Docker gives each failure.

use std::io;
use std::path::PathBuf;

/// Exit code for a command that cannot be found (`docker run image nonexistent`).
pub const EXIT_NOT_FOUND: i32 = 127;
/// Exit code for a command that was found but cannot be executed.
pub const EXIT_CANNOT_EXECUTE: i32 = 126;
/// Exit code for every other failure to create or start a container.
pub const EXIT_RUNTIME_FAILURE: i32 = 125;

/// Why a container could not be created or started.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec is invalid or asks for something this runtime does not do.
    #[error("invalid container spec: {0}")]
    Spec(#[from] SpecError),
    /// A system call made by the caller's process failed.
    #[error("{op}: {source}")]
    Os {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    /// The container init reported that it could not set itself up or execute the command.
    #[error("{message}")]
    Init { exit_code: i32, message: String },
    /// The container init ended without reporting why.
    #[error("container init exited unexpectedly: {status}")]
    InitDied { status: String },
    /// Work done in a container's namespace failed.
    #[error("{message}")]
    InNamespace { message: String },
    /// The process `exec` forked into the container ended without reporting why.
    #[error("the exec process exited unexpectedly: {status}")]
    ExecDied { status: String },
    /// `create` and `exec` fork, which is only sound from a single-threaded process.
    #[error("berth-runtime must be used from a single-threaded process (found {threads} threads)")]
    MultiThreaded { threads: usize },
}

impl Error {
    pub(crate) fn os(op: &'static str, source: impl Into<io::Error>) -> Self {
        Self::Os {
            op,
            source: source.into(),
        }
    }

    /// The exit code Docker reports for this failure: [`EXIT_NOT_FOUND`],
    /// [`EXIT_CANNOT_EXECUTE`] or [`EXIT_RUNTIME_FAILURE`].
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Init { exit_code, .. } => *exit_code,
            _ => EXIT_RUNTIME_FAILURE,
        }
    }
}

/// A spec this runtime refuses before creating anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("{0} is not supported")]
    Unsupported(String),
    #[error("{0} must be an absolute path")]
    RelativePath(PathBuf),
    #[error("linux.cgroupsPath {} must be absolute, without ..", .0.display())]
    CgroupsPath(PathBuf),
    #[error("namespace {0} is listed twice")]
    DuplicateNamespace(String),
    #[error("a hostname or domainname needs a private UTS namespace")]
    HostnameWithoutUts,
    #[error("mount on {}: {reason}", destination.display())]
    Mount {
        destination: PathBuf,
        reason: String,
    },
    #[error("device {}: {reason}", path.display())]
    Device { path: PathBuf, reason: String },
    #[error("overlay options are {len} bytes; they must fit in one page ({max} bytes)")]
    OverlayOptionsTooLong { len: usize, max: usize },
    #[error("seccomp: {0}")]
    Seccomp(String),
    #[error("sysctl {key:?} {reason}")]
    Sysctl { key: String, reason: &'static str },
    #[error("{what} contains a NUL byte")]
    NulByte { what: &'static str },
    #[error("process.terminal is {terminal}, but {}", if *terminal { "stdio descriptors were given" } else { "a terminal was asked for" })]
    StdioMismatch { terminal: bool },
}

/// A failure inside the container init before it could execute the command. Its text and exit
/// code travel to the caller over the sync socket and become [`Error::Init`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum SetupError {
    #[error("{op} {}: {source}", path.display())]
    Path {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{op}: {source}")]
    Sys {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Exec(#[from] ExecError),
}

impl SetupError {
    pub(crate) fn path(
        op: &'static str,
        path: impl Into<PathBuf>,
        source: impl Into<io::Error>,
    ) -> Self {
        Self::Path {
            op,
            path: path.into(),
            source: source.into(),
        }
    }

    pub(crate) fn sys(op: &'static str, source: impl Into<io::Error>) -> Self {
        Self::Sys {
            op,
            source: source.into(),
        }
    }

    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            Self::Exec(e) => e.exit_code(),
            _ => EXIT_RUNTIME_FAILURE,
        }
    }
}

/// The command cannot be run, in the words Docker (through Go's `exec.LookPath` and runc) uses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ExecError {
    #[error("exec: \"{name}\": executable file not found in $PATH")]
    NotInPath { name: String },
    #[error("exec: \"{name}\": stat {name}: {reason}")]
    Stat {
        name: String,
        errno: i32,
        reason: String,
    },
    #[error("exec: \"{name}\": permission denied")]
    NotExecutable { name: String },
    #[error("exec: \"{name}\": is a directory")]
    IsDirectory { name: String },
    #[error("exec {path}: {reason}")]
    Execve {
        path: String,
        errno: i32,
        reason: String,
    },
}

impl ExecError {
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            Self::NotInPath { .. } => EXIT_NOT_FOUND,
            Self::Stat { errno, .. } | Self::Execve { errno, .. } => match *errno {
                libc::EACCES | libc::EPERM | libc::ENOEXEC | libc::EISDIR => EXIT_CANNOT_EXECUTE,
                _ => EXIT_NOT_FOUND,
            },
            Self::NotExecutable { .. } | Self::IsDirectory { .. } => EXIT_CANNOT_EXECUTE,
        }
    }
}

/// `strerror` as Go prints it: "no such file or directory", not "No such file or directory
/// (os error 2)".
pub(crate) fn errno_text(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    let text = match text.rfind(" (os error") {
        Some(at) => &text[..at],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_text_reads_like_go() {
        assert_eq!(errno_text(libc::ENOENT), "no such file or directory");
        assert_eq!(errno_text(libc::EACCES), "permission denied");
    }

    #[test]
    fn exec_errors_carry_docker_messages_and_codes() {
        let e = ExecError::NotInPath { name: "foo".into() };
        assert_eq!(
            e.to_string(),
            r#"exec: "foo": executable file not found in $PATH"#
        );
        assert_eq!(e.exit_code(), 127);
        let e = ExecError::Stat {
            name: "/x".into(),
            errno: libc::ENOENT,
            reason: errno_text(libc::ENOENT),
        };
        assert_eq!(
            e.to_string(),
            r#"exec: "/x": stat /x: no such file or directory"#
        );
        assert_eq!(e.exit_code(), 127);
        assert_eq!(
            ExecError::NotExecutable {
                name: "/etc".into()
            }
            .exit_code(),
            126
        );
        let init = Error::Init {
            exit_code: 126,
            message: "x".into(),
        };
        assert_eq!(init.exit_code(), 126);
        assert_eq!(Error::from(SpecError::HostnameWithoutUts).exit_code(), 125);
    }
}
