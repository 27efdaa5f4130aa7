//! An attached session over a hijacked attach or exec connection, run as docker's CLI runs
//! one: our stdin goes into the connection (through the detach keys watch with a TTY) and
//! is half-closed at its end; the output comes back raw with a TTY, in frames without; our
//! terminal is raw while a TTY session reads it.

pub mod escape;
pub mod frames;
pub mod resize;
pub mod signals;

use std::future::Future;

use tokio::io::{AsyncReadExt, AsyncWriteExt, WriteHalf};
use tokio::task::JoinHandle;
use tokio_util::codec::FramedRead;

use self::escape::{DEFAULT_KEYS, Escape, parse_keys};
use self::frames::Frames;
use crate::client::raw::Connection;
use crate::error::{CliError, os_message};
use crate::{output, terminal};

/// What a session copies, and how.
pub struct Streams {
    /// Our stdin goes to the process.
    pub stdin: bool,
    /// The process's stdout or stderr (or both) come back.
    pub output: bool,
    /// The process has a terminal: one raw stream, our terminal raw while our stdin is
    /// read, the detach keys watched here.
    pub tty: bool,
    /// `--detach-keys` as given.
    pub detach_keys: Option<String>,
}

impl Streams {
    /// The `--detach-keys` to pass on, if any: an empty flag means the default, as in
    /// docker.
    pub fn detach_keys(&self) -> Option<&str> {
        self.detach_keys.as_deref().filter(|keys| !keys.is_empty())
    }
}

/// How a session ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The output ended; with no output attached, our stdin did.
    Closed,
    /// The detach keys were typed: the process goes on without us.
    Detached,
}

/// Runs the session until the output ends or the user detaches. The terminal is back to
/// what it was when this returns, however it returns.
pub async fn run(connection: Connection, streams: &Streams) -> Result<Ended, CliError> {
    let interactive = streams.stdin && streams.tty;
    let escape = interactive.then(|| Escape::new(detach_keys(streams.detach_keys())));
    let _raw = if interactive {
        terminal::raw_stdin().map_err(|e| {
            CliError::Failed(format!(
                "unable to setup input stream: unable to set IO streams as raw terminal: {}",
                os_message(&e)
            ))
        })?
    } else {
        None
    };
    let (reader, writer) = tokio::io::split(connection);
    let input = pump_input(writer, streams.stdin, escape);
    let output = output::copy_container_output(FramedRead::new(reader, Frames::new(streams.tty)));
    tokio::pin!(input, output);
    tokio::select! {
        copied = &mut output, if streams.output => copied.map(|()| Ended::Closed),
        detached = &mut input => {
            if detached {
                return Ok(Ended::Detached);
            }
            if streams.output {
                output.await?;
            }
            Ok(Ended::Closed)
        }
    }
}

/// The keys to watch for; a sequence that does not parse falls back to the default, with
/// a warning, as docker does.
fn detach_keys(spec: Option<&str>) -> Vec<u8> {
    match spec.map(parse_keys) {
        None => DEFAULT_KEYS.to_vec(),
        Some(Ok(keys)) => keys,
        Some(Err(error)) => {
            eprintln!("WARNING: invalid detach escape keys, using default: {error}");
            DEFAULT_KEYS.to_vec()
        }
    }
}

/// Copies our stdin (if attached) into the connection until it ends, then half-closes the
/// connection so the process sees the end of its input while its output still comes back.
/// Returns true if the detach keys ended it instead.
async fn pump_input(
    mut connection: WriteHalf<Connection>,
    stdin: bool,
    mut escape: Option<Escape>,
) -> bool {
    if stdin {
        let mut stdin = tokio::io::stdin();
        let mut buffer = vec![0; 32 * 1024];
        let mut forward = Vec::new();
        loop {
            let read = match stdin.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            let (data, detached) = match escape.as_mut() {
                Some(escape) => {
                    forward.clear();
                    let detached = escape.scan(&buffer[..read], &mut forward);
                    (&forward[..], detached)
                }
                None => (&buffer[..read], false),
            };
            let written = connection.write_all(data).await;
            if detached {
                return true;
            }
            // The process no longer reads; its end shows in the output.
            if written.is_err() {
                break;
            }
        }
    }
    // A failure here means the connection is gone, which the output side reports.
    let _ = connection.shutdown().await;
    false
}

/// A background task that ends when its owner drops it.
pub struct Task<T = ()>(JoinHandle<T>);

impl<T: Send + 'static> Task<T> {
    pub fn spawn(future: impl Future<Output = T> + Send + 'static) -> Self {
        Task(tokio::spawn(future))
    }

    /// Waits for what the task returns. Dropping this wait leaves the task running.
    pub async fn join(&mut self) -> T {
        match (&mut self.0).await {
            Ok(value) => value,
            // Only dropping the Task cancels it, so this is a panic: pass it on.
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
