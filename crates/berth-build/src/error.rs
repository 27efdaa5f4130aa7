use std::io;

/// An error from the engine's side of a build (pulling, running, storing), passed through as is.
pub type HostError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a build failed. Messages are Docker's, so clients that match on them keep working.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Dockerfile does not parse; `line` is where the offending instruction starts.
    #[error("dockerfile parse error on line {line}: {message}")]
    Parse { line: usize, message: String },

    /// The Dockerfile is missing, empty or unreadable as a whole.
    #[error("{0}")]
    Dockerfile(String),

    /// The build context archive is malformed or unsafe; nothing was built.
    #[error("invalid build context: {0}")]
    Context(String),

    #[error("error reading .dockerignore: {0}")]
    Dockerignore(String),

    /// A `$VAR` expansion failed (bad syntax, `${X:?}` on an unset variable).
    #[error("failed to process {word:?}: {message}")]
    Expansion { word: String, message: String },

    /// COPY or ADD could not collect its sources or place them.
    #[error("{instruction} failed: {message}")]
    Copy {
        instruction: &'static str,
        message: String,
    },

    /// A RUN step exited with a non-zero status.
    #[error("The command '{command}' returned a non-zero code: {code}")]
    NonZeroExit { command: String, code: i64 },

    #[error("failed to reach build target {0} in Dockerfile")]
    TargetNotFound(String),

    /// An instruction whose arguments are only checked when it runs (a signal name, a port,
    /// a user for `--chown`, a stage for `--from`).
    #[error("{0}")]
    Invalid(String),

    /// The engine failed to pull, run, store or tag.
    #[error("{0}")]
    Host(HostError),

    /// The engine broke the builder's contract (a layer on the wrong parent, a bad config).
    #[error("build host: {0}")]
    Contract(String),

    /// Another stage of the build failed first: this one stopped before its next step.
    #[error("stopped: another stage of the build failed")]
    Stopped,

    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
}

pub type Result<T, E = BuildError> = std::result::Result<T, E>;

impl BuildError {
    pub(crate) fn parse(line: usize, message: impl Into<String>) -> Self {
        Self::Parse {
            line,
            message: message.into(),
        }
    }

    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }
}
