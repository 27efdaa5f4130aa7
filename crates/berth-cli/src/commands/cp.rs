//! `cp`: files between a container and the local filesystem, as tar archives through the
//! daemon's archive endpoint (`HEAD` for a path's stat, `GET` to read, `PUT` to extract).
//! `-` reads a tar archive from stdin or writes one to stdout; `-L` follows a source link;
//! `-a` keeps the archive's owners. Where what lands is decided by docker's rules (`archive`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use bollard::body_try_stream;
use bollard::query_parameters::UploadToContainerOptions;
use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use hyper::Method;
use tokio::io::AsyncWriteExt;
use tokio_util::io::{ReaderStream, StreamReader, SyncIoBridge};

use super::input_stream;
use crate::archive::{
    CopyInfo, Rebase, copy_info_destination_path, copy_info_source_path, extract,
    prepare_archive_copy, preserve_trailing_dot_or_separator, rebase_name, split_path_dir_entry,
    write_archive,
};
use crate::cli::CpArgs;
use crate::client::Connector;
use crate::client::raw::{Response, query, request};
use crate::error::{CliError, os_message};
use crate::format::units::human_size;
use crate::gopath::{clean, dir, join};
use crate::terminal;

/// Go's file mode bits, as the daemon reports a container path's mode.
const MODE_DIR: u32 = 1 << 31;
const MODE_SYMLINK: u32 = 1 << 27;
const MODE_DEVICE: u32 = 1 << 26;
const MODE_IRREGULAR: u32 = 1 << 19;

const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

/// A container path's stat, as the daemon sends it in `X-Docker-Container-Path-Stat`.
#[derive(Debug, serde::Deserialize)]
struct PathStat {
    mode: u32,
    #[serde(rename = "linkTarget", default)]
    link_target: String,
}

pub async fn run(connector: &Connector, args: CpArgs) -> Result<(), CliError> {
    let failed = |message: &str| Err(CliError::Failed(message.to_string()));
    if args.source.is_empty() {
        return failed("source can not be empty");
    }
    if args.destination.is_empty() {
        return failed("destination can not be empty");
    }
    // The closing report is for someone watching: left out when our output is not a
    // terminal.
    let quiet = args.quiet || !terminal::stdout_is_terminal();
    match (split(&args.source), split(&args.destination)) {
        ((Some(container), path), (None, destination)) => {
            copy_from(connector, &args, container, path, destination, quiet).await
        }
        ((None, source), (Some(container), path)) => {
            copy_to(connector, &args, source, container, path, quiet).await
        }
        ((Some(_), _), (Some(_), _)) => failed("copying between containers is not supported"),
        ((None, _), (None, _)) => failed("must specify at least one container source"),
    }
}

/// `CONTAINER:PATH` into its parts; a local path (absolute, without a colon, or with a
/// `.`-prefixed part before it) has no container.
fn split(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((container, path)) if !container.starts_with('.') => {
            ((!container.is_empty()).then_some(container), path)
        }
        _ => (None, arg),
    }
}

/// A local path made absolute, keeping the trailing `/` or `/.` it was written with.
fn local_path(path: &str) -> Result<String, CliError> {
    let absolute = if path.starts_with('/') {
        clean(path)
    } else {
        let cwd = std::env::current_dir()?;
        clean(&format!("{}/{path}", cwd.to_string_lossy()))
    };
    Ok(preserve_trailing_dot_or_separator(&absolute, path))
}

/// Whether the local destination can take the copy: its directory exists, and it is not a
/// device.
fn check_local_destination(path: &str) -> Result<(), CliError> {
    let parent = dir(&clean(path));
    let missing = |path: &str| {
        std::fs::metadata(path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
    };
    if parent != "." && missing(&parent) {
        return Err(CliError::Failed(format!(
            "invalid output path: directory {parent:?} does not exist"
        )));
    }
    match std::fs::metadata(path) {
        Ok(meta) if is_device(&meta) => Err(CliError::Failed(format!(
            "invalid output path: {path:?} must be a directory or a regular file: got a device"
        ))),
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(CliError::Failed(format!(
            "stat {path}: {}",
            os_message(&error)
        ))),
    }
}

fn is_device(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    meta.file_type().is_char_device() || meta.file_type().is_block_device()
}

fn archive_path(container: &str, path: &str) -> String {
    format!(
        "/containers/{container}/archive?{}",
        query(&[("path", path)])
    )
}

/// The stat the daemon sent with an archive response.
fn path_stat(response: &Response) -> Result<PathStat, String> {
    let header = response
        .headers
        .get(STAT_HEADER)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| format!("unable to decode container path stat header: no {STAT_HEADER}"))?;
    let json = base64::engine::general_purpose::STANDARD
        .decode(header)
        .map_err(|e| format!("unable to decode container path stat header: {e}"))?;
    serde_json::from_slice(&json)
        .map_err(|e| format!("unable to decode container path stat header: {e}"))
}

/// A container path's stat (`HEAD`); failing for a path that does not exist.
async fn stat(host: &str, container: &str, path: &str) -> Result<PathStat, String> {
    let response = request(host, Method::HEAD, &archive_path(container, path), None).await?;
    if response.status != 200 {
        return Err(format!("status {}", response.status));
    }
    path_stat(&response)
}

/// Where a container link points, as a path in the container.
fn link_target(path: &str, stat: &PathStat) -> String {
    if stat.link_target.starts_with('/') {
        stat.link_target.clone()
    } else {
        join(&[&split_path_dir_entry(path).0, &stat.link_target])
    }
}

async fn copy_from(
    connector: &Connector,
    args: &CpArgs,
    container: &str,
    source: &str,
    destination: &str,
    quiet: bool,
) -> Result<(), CliError> {
    let destination = match destination {
        "-" => destination.to_string(),
        path => local_path(path)?,
    };
    check_local_destination(&destination)?;
    connector.connect().await?;
    let host = connector.host();
    let mut source = source.to_string();
    let mut rebase = String::new();
    if args.follow_link
        && let Ok(stat) = stat(host, container, &source).await
        && stat.mode & MODE_SYMLINK != 0
    {
        (source, rebase) = rebase_name(&source, &link_target(&source, &stat));
    }
    let response = request(host, Method::GET, &archive_path(container, &source), None)
        .await
        .map_err(CliError::Failed)?;
    if response.status != 200 {
        return Err(CliError::Failed(response.error_message().await));
    }
    if destination == "-" {
        let mut body = Box::pin(response.into_stream());
        let mut stdout = tokio::io::stdout();
        while let Some(chunk) = body.next().await {
            stdout.write_all(&chunk?).await?;
        }
        stdout.flush().await?;
        return Ok(());
    }
    let stat = path_stat(&response).map_err(CliError::Failed)?;
    let src = CopyInfo {
        path: source.clone(),
        exists: true,
        is_dir: stat.mode & MODE_DIR != 0,
        rebase_name: rebase.clone(),
    };
    let mut rebases = Vec::new();
    if !rebase.is_empty() {
        rebases.push(Rebase::new(&split_path_dir_entry(&source).1, &rebase));
    }
    let progress = Progress::new(quiet);
    let body = progress.count(response.into_stream());
    let copied = async {
        let dst = copy_info_destination_path(&destination).map_err(CliError::Failed)?;
        let (dst_dir, renamed) = prepare_archive_copy(&src, &dst).map_err(CliError::Failed)?;
        rebases.extend(renamed);
        let reader = SyncIoBridge::new(StreamReader::new(Box::pin(body)));
        tokio::task::spawn_blocking(move || extract(reader, &dst_dir, &rebases))
            .await
            .map_err(|e| CliError::Failed(e.to_string()))?
            .map_err(CliError::Failed)
    }
    .await;
    progress.finish(&destination);
    copied
}

async fn copy_to(
    connector: &Connector,
    args: &CpArgs,
    source: &str,
    container: &str,
    destination: &str,
    quiet: bool,
) -> Result<(), CliError> {
    let source = match source {
        "-" => source.to_string(),
        path => local_path(path)?,
    };
    let docker = connector.connect().await?;
    let host = connector.host();
    let mut dst = CopyInfo {
        path: destination.to_string(),
        ..Default::default()
    };
    let mut dst_stat = stat(host, container, destination).await;
    if let Ok(found) = &dst_stat
        && found.mode & MODE_SYMLINK != 0
    {
        dst.path = link_target(destination, found);
        dst_stat = stat(host, container, &dst.path).await;
    }
    if let Ok(found) = &dst_stat {
        let problem = if found.mode & MODE_DEVICE != 0 {
            Some("got a device")
        } else if found.mode & MODE_IRREGULAR != 0 {
            Some("got an irregular file")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(CliError::Failed(format!(
                "destination \"{container}:{destination}\" must be a directory or a regular file: {problem}"
            )));
        }
        dst.exists = true;
        dst.is_dir = found.mode & MODE_DIR != 0;
    }
    let progress = Progress::new(quiet);
    let upload = |path: &str, body| {
        let options = UploadToContainerOptions {
            path: path.to_string(),
            no_overwrite_dir_non_dir: Some("true".to_string()),
            copy_uidgid: args.archive.then(|| "true".to_string()),
        };
        let docker = &docker;
        async move {
            docker
                .upload_to_container(container, Some(options), body)
                .await
                .map_err(CliError::from)
        }
    };
    let copied = if source == "-" {
        if !dst.is_dir {
            return Err(CliError::Failed(format!(
                "destination \"{container}:{destination}\" must be a directory"
            )));
        }
        let body = body_try_stream(input_stream(None).await?);
        upload(&dst.path, body).await
    } else {
        let src = copy_info_source_path(&source, args.follow_link).map_err(CliError::Failed)?;
        let (dst_dir, rebase) = prepare_archive_copy(&src, &dst).map_err(CliError::Failed)?;
        let (writer, reader) = tokio::io::duplex(64 * 1024);
        let writer = SyncIoBridge::new(writer);
        let rebases: Vec<Rebase> = rebase.into_iter().collect();
        let archived = tokio::task::spawn_blocking(move || write_archive(&src, &rebases, writer));
        let body = body_try_stream(progress.count(ReaderStream::new(reader)));
        let uploaded = upload(&dst_dir, body).await;
        let archived = archived
            .await
            .map_err(|e| CliError::Failed(e.to_string()))?;
        // The archive's own failure explains a failed upload best.
        archived.map_err(CliError::Failed).and(uploaded)
    };
    progress.finish(&format!("{container}:{}", dst.path));
    copied
}

/// The bytes copied, reported at the end unless quiet ("Successfully copied 5.12kB to
/// /tmp/x"), as docker reports them. (Docker's live progress line never shows: it cannot
/// see that its stderr is a terminal.)
struct Progress {
    quiet: bool,
    copied: Arc<AtomicU64>,
}

impl Progress {
    fn new(quiet: bool) -> Self {
        Progress {
            quiet,
            copied: Arc::default(),
        }
    }

    /// `stream`, counted.
    fn count<S>(
        &self,
        stream: S,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let copied = self.copied.clone();
        stream.inspect_ok(move |chunk| {
            copied.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        })
    }

    /// Reports the total, copied to `destination`; docker reports it whether the copy
    /// succeeded or not.
    fn finish(self, destination: &str) {
        if !self.quiet {
            let copied = self.copied.load(Ordering::Relaxed) as i64;
            eprintln!(
                "Successfully copied {} to {destination}",
                human_size(copied, 3)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_and_local_paths() {
        assert_eq!(split("web:/etc/hosts"), (Some("web"), "/etc/hosts"));
        assert_eq!(split("/abs:path"), (None, "/abs:path"));
        assert_eq!(split("./web:x"), (None, "./web:x"));
        assert_eq!(split("local"), (None, "local"));
        assert_eq!(split(":x"), (None, "x"));
        assert_eq!(split("web:"), (Some("web"), ""));
    }

    #[test]
    fn local_paths_keep_their_directory_marks() {
        let cwd = std::env::current_dir().unwrap();
        let cwd = cwd.to_string_lossy();
        assert_eq!(local_path("/a/../b/").unwrap(), "/b/");
        assert_eq!(local_path("d/.").unwrap(), format!("{cwd}/d/."));
        assert_eq!(local_path("x").unwrap(), format!("{cwd}/x"));
    }

    #[test]
    fn link_targets_in_the_container() {
        let stat = |target: &str| PathStat {
            mode: MODE_SYMLINK,
            link_target: target.to_string(),
        };
        assert_eq!(link_target("/etc/alt", &stat("/usr/x")), "/usr/x");
        assert_eq!(link_target("/etc/alt", &stat("../usr/x")), "/usr/x");
    }

    #[test]
    fn local_destinations() {
        assert!(check_local_destination("/tmp").is_ok());
        assert_eq!(
            check_local_destination("/nonexistent-berth-dir/x")
                .unwrap_err()
                .to_string(),
            "invalid output path: directory \"/nonexistent-berth-dir\" does not exist"
        );
        assert_eq!(
            check_local_destination("/dev/null")
                .unwrap_err()
                .to_string(),
            "invalid output path: \"/dev/null\" must be a directory or a regular file: got a device"
        );
    }
}
