//! berthd's side of the shim protocol (see `berth-shim-proto`): launching a shim and talking
//! to it over its socket.

use crate::error::{Error, Result};
use berth_shim_proto::{
    EXIT_FILE, Envelope, ExitStatus, Launched, PROTOCOL_VERSION, Request, Response, SOCKET_FILE,
};
use std::os::fd::AsRawFd;
use std::path::Path;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// An attach stream: Docker-framed output until the container exits.
pub type OutputStream = BufReader<UnixStream>;

/// Makes `at` a read-only bind mount of the shim binary; shims are run from there.
///
/// An exec'd process is the shim's image inside the container's namespaces until its
/// `execve`: a container process that reaches its `/proc/<pid>/exe` could reopen the binary
/// for writing and replace what every later start runs as root (CVE-2019-5736). Through a
/// read-only mount every such path is read-only. A mount left by an earlier berthd (perhaps
/// of an older binary) is replaced; shims still running keep the one they started from.
pub fn mount_read_only(binary: &Path, at: &Path) -> Result<()> {
    use nix::mount::{MntFlags, MsFlags, mount, umount2};
    let failed = |what: &str, e: nix::Error| {
        Error::internal(format!(
            "{what} {} on {}: {e}",
            binary.display(),
            at.display()
        ))
    };
    match umount2(at, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::Error::EINVAL | nix::Error::ENOENT) => {}
        Err(e) => return Err(failed("unmounting the old", e)),
    }
    std::fs::File::create(at)?;
    mount(
        Some(binary),
        at,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| failed("bind-mounting", e))?;
    let read_only = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    if let Err(e) = mount(None::<&str>, at, None::<&str>, read_only, None::<&str>) {
        let _ = umount2(at, MntFlags::MNT_DETACH);
        return Err(failed("making read-only", e));
    }
    Ok(())
}

/// Runs `berth-shim <exec dir>` and reads its one-line report. The shim has daemonized by the
/// time this returns; the container is created and waits for [`start`].
pub async fn launch(shim_binary: &Path, exec_dir: &Path) -> Result<Launched> {
    let out = tokio::process::Command::new(shim_binary)
        .arg(exec_dir)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .map_err(|e| Error::internal(format!("running {}: {e}", shim_binary.display())))?;
    let line = String::from_utf8_lossy(&out.stdout);
    let launched: Launched = serde_json::from_str(line.trim()).map_err(|e| {
        Error::internal(format!(
            "shim for {} answered {line:?} ({e})",
            exec_dir.display()
        ))
    })?;
    Ok(launched)
}

/// Connects through `/proc/self/fd/<exec dir>/shim.sock`: a unix socket path must fit in 108
/// bytes, and an exec dir under a long exec root would not.
async fn connect_socket(exec_dir: &Path) -> std::io::Result<UnixStream> {
    let dir = std::fs::File::open(exec_dir)?;
    let short = format!("/proc/self/fd/{}/{SOCKET_FILE}", dir.as_raw_fd());
    let stream = UnixStream::connect(short).await;
    drop(dir);
    stream
}

/// Sends `request` and returns the answer with the connection, which carries a stream after
/// an attach or exec.
pub async fn open(exec_dir: &Path, request: Request) -> Result<(OutputStream, Response)> {
    let stream = connect_socket(exec_dir).await.map_err(|e| {
        Error::internal(format!(
            "connect {}: {e}",
            exec_dir.join(SOCKET_FILE).display()
        ))
    })?;
    let mut stream = BufReader::new(stream);
    let mut line = serde_json::to_vec(&Envelope {
        v: PROTOCOL_VERSION,
        request,
    })?;
    line.push(b'\n');
    stream.get_mut().write_all(&line).await?;
    let mut answer = String::new();
    stream.read_line(&mut answer).await?;
    if answer.is_empty() {
        return Err(Error::internal(format!(
            "shim at {} closed the connection",
            exec_dir.display()
        )));
    }
    let response: Response = serde_json::from_str(&answer)
        .map_err(|e| Error::internal(format!("bad answer from shim: {e}")))?;
    if !response.ok {
        return Err(Error::internal(
            response.error.unwrap_or_else(|| "shim refused".into()),
        ));
    }
    Ok((stream, response))
}

pub async fn request(exec_dir: &Path, request: Request) -> Result<Response> {
    open(exec_dir, request).await.map(|(_, r)| r)
}

pub async fn start(exec_dir: &Path) -> Result<()> {
    request(exec_dir, Request::Start).await.map(drop)
}

pub async fn kill(exec_dir: &Path, signal: i32) -> Result<()> {
    request(exec_dir, Request::Kill { signal }).await.map(drop)
}

pub async fn attach(
    exec_dir: &Path,
    stdout: bool,
    stderr: bool,
    stdin: bool,
) -> Result<OutputStream> {
    open(
        exec_dir,
        Request::Attach {
            stdout,
            stderr,
            stdin,
        },
    )
    .await
    .map(|(s, _)| s)
}

/// Waits for the container to exit. When the shim is already gone (the container ended while
/// nobody listened), the exit record it left is the answer.
pub async fn wait(exec_dir: &Path) -> Result<ExitStatus> {
    match request(exec_dir, Request::Wait).await {
        Ok(Response {
            exit: Some(exit), ..
        }) => Ok(exit),
        Ok(_) | Err(_) => read_exit_record(exec_dir).await.ok_or_else(|| {
            Error::internal(format!(
                "shim for {} vanished without an exit record",
                exec_dir.display()
            ))
        }),
    }
}

pub async fn read_exit_record(exec_dir: &Path) -> Option<ExitStatus> {
    let bytes = tokio::fs::read(exec_dir.join(EXIT_FILE)).await.ok()?;
    serde_json::from_slice(&bytes).ok()
}
