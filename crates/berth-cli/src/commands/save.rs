//! `save`: images as a tar archive, to a file (written whole or not at all) or to a
//! redirected stdout. The writing is shared with `export`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::fs::{self, OpenOptions};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::cli::SaveArgs;
use crate::client::Connector;
use crate::error::{CliError, is_connection_error, open_error, os_message};

pub async fn run(connector: &Connector, args: SaveArgs) -> Result<(), CliError> {
    check_output(args.output.as_deref(), "failed to save image").await?;
    let docker = connector.connect().await?;
    let names: Vec<&str> = args.images.iter().map(String::as_str).collect();
    let archive = docker.export_images(&names);
    write_archive(args.output.as_deref(), archive).await
}

/// Checks, before anything is asked of the daemon, where an archive is to go: a file whose
/// directory exists (`failure` is what docker says failed if not), or a stdout that is not
/// a terminal.
pub async fn check_output(output: Option<&Path>, failure: &str) -> Result<(), CliError> {
    match output {
        Some(path) => check_output_dir(path, failure).await,
        None if std::io::stdout().is_terminal() => Err(CliError::Failed(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect".to_string(),
        )),
        None => Ok(()),
    }
}

/// Writes an archive to the file `output`, or to stdout without one.
pub async fn write_archive<S>(output: Option<&Path>, archive: S) -> Result<(), CliError>
where
    S: Stream<Item = Result<Bytes, bollard::errors::Error>> + Unpin,
{
    match output {
        Some(path) => save_to_file(path, archive).await,
        None => copy(archive, &mut tokio::io::stdout()).await,
    }
}

async fn copy<S>(mut archive: S, out: &mut (impl AsyncWrite + Unpin)) -> Result<(), CliError>
where
    S: Stream<Item = Result<Bytes, bollard::errors::Error>> + Unpin,
{
    let mut started = false;
    while let Some(chunk) = archive.next().await {
        let chunk = match chunk {
            // The daemon answered, then the connection broke: the archive is cut short.
            Err(error) if started && is_connection_error(&error) => {
                return Err(CliError::Failed("unexpected EOF".to_string()));
            }
            other => other?,
        };
        started = true;
        out.write_all(&chunk).await?;
    }
    out.flush().await?;
    Ok(())
}

/// Writes to a temporary file beside `path` and renames it into place, so a failed save
/// never leaves a truncated archive under the requested name.
async fn save_to_file<S>(path: &Path, archive: S) -> Result<(), CliError>
where
    S: Stream<Item = Result<Bytes, bollard::errors::Error>> + Unpin,
{
    let temp = temp_path(path);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .await
        .map_err(|e| open_error(&temp, &e))?;
    let written = async {
        copy(archive, &mut file).await?;
        file.sync_all().await?;
        fs::rename(&temp, path).await?;
        Ok(())
    }
    .await;
    if written.is_err() {
        // Best effort: the temporary file is ours and useless now.
        let _ = fs::remove_file(&temp).await;
    }
    written
}

/// Fails early, before the daemon starts exporting, when the file cannot be created there.
async fn check_output_dir(path: &Path, failure: &str) -> Result<(), CliError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => return Ok(()),
    };
    match fs::metadata(dir).await {
        Ok(_) => Ok(()),
        Err(error) => Err(CliError::Failed(format!(
            "{failure}: invalid output path: stat {}: {}",
            dir.display(),
            os_message(&error)
        ))),
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.berth-tmp-{}", std::process::id()))
}
