//! What can make a command fail, how docker words it, and the one place that decides the
//! process's exit status.

use std::fmt;
use std::io;
use std::path::Path;
use std::process::ExitCode;

use bollard::errors::Error as ApiError;
use clap::error::ErrorKind;

use crate::format::template::TemplateError;

#[derive(Debug)]
pub enum CliError {
    /// An exit status passed through silently: the container's or exec'd command's (`run`,
    /// `start -a`, `attach`, `exec`), or 128 + the signal that interrupted a command.
    ContainerExit(i64),
    /// The command line did not parse (or asked for help): clap's message as is.
    Usage(clap::Error),
    /// A failure docker prints with a pointer to the command's help (`berth: ...` and
    /// "Run 'berth COMMAND --help'"): `run` failing before the container's status is known,
    /// and flags of `run` and `create` that do not make a valid container. Docker's
    /// 125/126/127 statuses.
    Hinted {
        command: &'static str,
        message: String,
    },
    /// A `-f` template of `inspect`, `info` or `version` that does not parse: docker's
    /// status 64.
    BadFormat(String),
    /// Anything else: the message, status 1.
    Failed(String),
}

/// The message a failure prints (without `run`'s decoration).
impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::ContainerExit(status) => write!(f, "exit status {status}"),
            CliError::Usage(error) => write!(f, "{error}"),
            CliError::Hinted { message, .. }
            | CliError::BadFormat(message)
            | CliError::Failed(message) => f.write_str(message),
        }
    }
}

impl CliError {
    /// Rewords a failure as part of `run`.
    pub fn in_run(self) -> Self {
        self.with_hint("run")
    }

    /// Rewords a plain failure with a pointer to `command`'s help.
    pub fn with_hint(self, command: &'static str) -> Self {
        match self {
            CliError::Failed(message) => CliError::Hinted { command, message },
            other => other,
        }
    }

    /// The process exit status for this failure.
    pub fn exit_code(&self) -> ExitCode {
        let status: i64 = match self {
            // A status outside 0..=255 wraps, as the kernel would.
            CliError::ContainerExit(status) => *status & 0xff,
            // Help asked for, or shown because nothing was asked: not a failure, as in docker.
            CliError::Usage(error)
                if !error.use_stderr()
                    || error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
            {
                0
            }
            CliError::Usage(_) => 125,
            CliError::Hinted { message, .. } => run_status(message),
            CliError::BadFormat(_) => 64,
            CliError::Failed(_) => 1,
        };
        ExitCode::from(status as u8)
    }

    /// Prints the failure where docker prints it.
    pub fn report(&self) {
        match self {
            CliError::ContainerExit(_) => {}
            CliError::Usage(error) => {
                // Help goes to stdout, errors to stderr; nothing to do if that fails.
                let _ = error.print();
            }
            CliError::Hinted { command, message } => {
                eprintln!("berth: {message}\n\nRun 'berth {command} --help' for more information");
            }
            CliError::BadFormat(message) | CliError::Failed(message) => eprintln!("{message}"),
        }
    }
}

/// Docker's statuses for a container that could not be run: 127 when the command does not
/// exist, 126 when it cannot be executed, 125 for every other failure.
fn run_status(message: &str) -> i64 {
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
    {
        127
    } else if message.contains("permission denied") {
        126
    } else {
        125
    }
}

impl From<ApiError> for CliError {
    fn from(error: ApiError) -> Self {
        CliError::Failed(describe(&error))
    }
}

/// A `-f` template that does not parse, as `inspect`, `info` and `version` report it.
pub fn bad_format(error: TemplateError) -> CliError {
    CliError::BadFormat(format!("template parsing error: {error}"))
}

/// A template failure, with the words the command's docker counterpart puts before it.
pub fn template_failure(context: &'static str) -> impl Fn(TemplateError) -> CliError {
    move |error| CliError::Failed(format!("{context}: {error}"))
}

impl From<io::Error> for CliError {
    fn from(error: io::Error) -> Self {
        CliError::Failed(os_message(&error))
    }
}

/// An API error as docker words it.
pub fn describe(error: &ApiError) -> String {
    match error {
        ApiError::DockerResponseServerError { message, .. } => {
            format!("Error response from daemon: {message}")
        }
        ApiError::DockerStreamError { error } => error.clone(),
        ApiError::DockerContainerWaitError { error, .. } => error.clone(),
        other if is_connection_error(other) => format!("error during connect: {error}"),
        other => other.to_string(),
    }
}

/// Whether the request never got an answer from a daemon.
pub fn is_connection_error(error: &ApiError) -> bool {
    matches!(
        error,
        ApiError::HyperLegacyError { .. }
            | ApiError::HyperResponseError { .. }
            | ApiError::IOError { .. }
            | ApiError::RequestTimeoutError
            | ApiError::SocketNotFoundError(_)
    )
}

/// Whether the daemon answered 404 (no such container, image, ...).
pub fn is_not_found(error: &ApiError) -> bool {
    matches!(
        error,
        ApiError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// An OS error in Go's words ("no such file or directory"), without Rust's "(os error 2)".
pub fn os_message(error: &io::Error) -> String {
    let text = error.to_string();
    let text = match text.find(" (os error") {
        Some(end) => &text[..end],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// "open PATH: no such file or directory", as Go reports a failed open.
pub fn open_error(path: &Path, error: &io::Error) -> CliError {
    CliError::Failed(format!("open {}: {}", path.display(), os_message(error)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_statuses_follow_docker() {
        let exec = "failed to create task: exec: \"nosuch\": executable file not found in $PATH";
        assert_eq!(run_status(exec), 127);
        assert_eq!(run_status("exec: \"/etc\": permission denied"), 126);
        assert_eq!(
            run_status("Conflict. The container name \"/x\" is already in use"),
            125
        );
    }

    #[test]
    fn exit_codes() {
        assert_eq!(CliError::ContainerExit(3).exit_code(), ExitCode::from(3));
        assert_eq!(
            CliError::ContainerExit(256 + 2).exit_code(),
            ExitCode::from(2)
        );
        assert_eq!(CliError::Failed("x".into()).exit_code(), ExitCode::from(1));
        assert_eq!(
            CliError::Failed("boom".into())
                .with_hint("create")
                .exit_code(),
            ExitCode::from(125)
        );
        assert_eq!(
            CliError::Failed("x".into()).in_run().exit_code(),
            ExitCode::from(125)
        );
        assert_eq!(
            CliError::ContainerExit(7).in_run().exit_code(),
            ExitCode::from(7)
        );
        assert_eq!(
            CliError::BadFormat("x".into()).exit_code(),
            ExitCode::from(64)
        );
    }

    #[test]
    fn daemon_errors_are_prefixed() {
        let error = ApiError::DockerResponseServerError {
            status_code: 404,
            message: "No such container: x".into(),
        };
        assert_eq!(
            describe(&error),
            "Error response from daemon: No such container: x"
        );
        assert!(is_not_found(&error));
    }

    #[test]
    fn os_errors_read_like_go() {
        let error = io::Error::from_raw_os_error(2);
        assert_eq!(os_message(&error), "no such file or directory");
        let CliError::Failed(message) = open_error(Path::new("/tmp/nosuch"), &error) else {
            panic!("open_error is a plain failure");
        };
        assert_eq!(message, "open /tmp/nosuch: no such file or directory");
    }
}
