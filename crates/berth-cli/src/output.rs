//! Writing to our own stdout and stderr. Output that nobody reads any more (`berth ps |
//! head -1`) ends quietly instead of failing the command.

use std::io::{self, Write};

use bollard::container::LogOutput;
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::error::CliError;

/// Prints `text` as is.
pub fn print(text: &str) {
    let mut stdout = io::stdout().lock();
    // A closed stdout is not an error worth reporting; there is nobody left to read it.
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// Prints `text` and a newline.
pub fn line(text: &str) {
    print(&format!("{text}\n"));
}

/// Copies a container's demultiplexed output to our stdout and stderr until it ends (a TTY's
/// single stream goes to stdout).
pub async fn copy_container_output<S, E>(mut output: S) -> Result<(), CliError>
where
    S: Stream<Item = Result<LogOutput, E>> + Unpin,
    CliError: From<E>,
{
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    while let Some(chunk) = output.next().await {
        let written = match chunk? {
            LogOutput::StdErr { message } => write_chunk(&mut stderr, &message).await,
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                write_chunk(&mut stdout, &message).await
            }
            LogOutput::StdIn { .. } => Ok(()),
        };
        match written {
            Err(error) if error.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
            other => other?,
        }
    }
    Ok(())
}

async fn write_chunk(out: &mut (impl AsyncWrite + Unpin), bytes: &[u8]) -> io::Result<()> {
    out.write_all(bytes).await?;
    out.flush().await
}
