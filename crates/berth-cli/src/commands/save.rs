//! `save`: images as a tar archive, to a file (written whole or not at all) or to a
//! redirected stdout.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::fs::{self, OpenOptions};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::cli::SaveArgs;
use crate::client::Connector;
use crate::error::{CliError, open_error, os_message};

pub async fn run(connector: &Connector, args: SaveArgs) -> Result<(), CliError> {
    if args.output.is_none() && std::io::stdout().is_terminal() {
        return Err(CliError::Failed(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect".to_string(),
        ));
    }
    if let Some(path) = &args.output {
        check_output_dir(path).await?;
    }
    let docker = connector.connect().await?;
    let names: Vec<&str> = args.images.iter().map(String::as_str).collect();
    let archive = docker.export_images(&names);
    match &args.output {
        Some(path) => save_to_file(path, archive).await,
        None => copy(archive, &mut tokio::io::stdout()).await,
    }
}

async fn copy<S>(mut archive: S, out: &mut (impl AsyncWrite + Unpin)) -> Result<(), CliError>
where
    S: Stream<Item = Result<Bytes, bollard::errors::Error>> + Unpin,
{
    while let Some(chunk) = archive.next().await {
        out.write_all(&chunk?).await?;
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
async fn check_output_dir(path: &Path) -> Result<(), CliError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => return Ok(()),
    };
    match fs::metadata(dir).await {
        Ok(_) => Ok(()),
        Err(error) => Err(CliError::Failed(format!(
            "failed to save image: invalid output path: stat {}: {}",
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
