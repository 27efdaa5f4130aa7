//! What every container process does in its own namespaces just before `execve`, whether it is
//! the container's init or a process run later with `exec`: stdio, rlimits, capabilities and
//! user, working directory, command lookup, umask, `no_new_privs`, and the seccomp filter (at
//! the point [`crate::seccomp`] explains).

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rustix::fs::Mode;

use crate::Stdio;
use crate::error::{ExecError, SetupError, errno_text};
use crate::executable;
use crate::process_plan::ProcessPlan;
use crate::rlimits;
use crate::seccomp::Filter;
use crate::sys;
use crate::terminal;
use crate::user;

/// The resolved command, ready for `execve`.
pub(crate) struct Command<'a> {
    path: CString,
    args: Vec<CString>,
    env: Vec<CString>,
    /// A filter loaded right before `execve`.
    seccomp: Option<&'a Filter>,
}

impl Command<'_> {
    /// Returns only if the seccomp filter could not be loaded or `execve` failed.
    pub(crate) fn exec(&self) -> SetupError {
        if let Some(filter) = self.seccomp
            && let Err(e) = filter.load()
        {
            return e;
        }
        let errno = match nix::unistd::execve(&self.path, &self.args, &self.env) {
            Err(errno) => errno as i32,
            Ok(never) => match never {},
        };
        ExecError::Execve {
            path: self.path.to_string_lossy().into_owned(),
            errno,
            reason: errno_text(errno),
        }
        .into()
    }
}

/// Gives the process its stdio: the caller's descriptors, or a new pty in the current mount
/// namespace, whose master is returned.
pub(crate) fn setup_stdio(
    stdio: &Stdio<'_>,
    process: &ProcessPlan,
) -> Result<Option<OwnedFd>, SetupError> {
    match *stdio {
        Stdio::Descriptors {
            stdin,
            stdout,
            stderr,
        } => install_stdio(stdin, stdout, stderr).map(|()| None),
        Stdio::Terminal => terminal::open_as_stdio(process.console_size).map(Some),
    }
}

/// Puts the descriptors on 0, 1 and 2 (without the close-on-exec flag).
pub(crate) fn install_stdio(
    stdin: BorrowedFd<'_>,
    stdout: BorrowedFd<'_>,
    stderr: BorrowedFd<'_>,
) -> Result<(), SetupError> {
    let dup = |fd: BorrowedFd<'_>| {
        // A copy above 2 first: a source may itself be 0, 1 or 2.
        fd.try_clone_to_owned()
            .map_err(|e| SetupError::sys("dup stdio", e))
    };
    let (stdin, stdout, stderr) = (dup(stdin)?, dup(stdout)?, dup(stderr)?);
    let install = |result: nix::Result<()>| result.map_err(|e| SetupError::sys("dup2 stdio", e));
    install(nix::unistd::dup2_stdin(&stdin))?;
    install(nix::unistd::dup2_stdout(&stdout))?;
    install(nix::unistd::dup2_stderr(&stderr))
}

/// Applies `process` to the calling process and resolves its command; what is left is
/// `execve`. Every descriptor from 3 up is marked close-on-exec.
pub(crate) fn prepare(process: &ProcessPlan) -> Result<Command<'_>, SetupError> {
    if let Some(adj) = process.oom_score_adj {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| SetupError::path("write", "/proc/self/oom_score_adj", e))?;
    }
    rlimits::apply(&process.rlimits)?;
    let env = with_home(&process.env, process.user.uid);

    let capabilities = match &process.capabilities {
        Some(caps) => {
            let held = rustix::thread::capabilities(None)
                .map_err(|e| SetupError::sys("capget", e))?
                .permitted;
            Some(caps.within(held))
        }
        None => None,
    };
    if let Some(caps) = &capabilities {
        caps.limit_bounding_set()?;
    }
    let keep_caps = |on| {
        rustix::thread::set_keep_capabilities(on).map_err(|e| SetupError::sys("PR_SET_KEEPCAPS", e))
    };
    keep_caps(true)?;
    // Without no_new_privs, loading a filter takes CAP_SYS_ADMIN: now, while it is held.
    let (early, late) = match (&process.seccomp, process.no_new_privileges) {
        (Some(filter), false) => (Some(filter), None),
        (filter, _) => (None, filter.as_ref()),
    };
    if let Some(filter) = early {
        filter.load()?;
    }
    process.user.switch()?;
    keep_caps(false)?;
    if let Some(caps) = &capabilities {
        caps.apply_sets()?;
    }

    rustix::process::chdir(&process.cwd).map_err(|e| SetupError::path("chdir", &process.cwd, e))?;
    let path = executable::resolve(
        &process.args[0],
        executable::path_var(&env),
        executable::probe,
    )?;
    rustix::process::umask(Mode::from_raw_mode(process.umask));
    if process.no_new_privileges {
        rustix::thread::set_no_new_privs(true)
            .map_err(|e| SetupError::sys("PR_SET_NO_NEW_PRIVS", e))?;
    }
    sys::set_cloexec_from(3).map_err(|e| SetupError::sys("close_range", e))?;

    // The plan refused NUL bytes in args and env; a path found by lookup is built from them.
    let cstring = |s: Vec<u8>| {
        CString::new(s).map_err(|e| SetupError::sys("command", std::io::Error::other(e)))
    };
    Ok(Command {
        path: cstring(path.into_os_string().into_vec())?,
        args: process
            .args
            .iter()
            .map(|a| cstring(a.clone().into_bytes()))
            .collect::<Result<_, _>>()?,
        env: env
            .into_iter()
            .map(|e| cstring(e.into_bytes()))
            .collect::<Result<_, _>>()?,
        seccomp: late,
    })
}

/// `env` plus `HOME` from the image's `/etc/passwd` (or `/`) when the spec sets none.
fn with_home(env: &[String], uid: u32) -> Vec<String> {
    let mut env = env.to_vec();
    if !env.iter().any(|kv| kv.starts_with("HOME=")) {
        let passwd = read_image_file(Path::new("/etc/passwd")).unwrap_or_default();
        let home = user::home_in_passwd(&passwd, uid).unwrap_or_else(|| "/".into());
        env.push(format!("HOME={home}"));
    }
    env
}

/// Largest image file read during setup.
const MAX_IMAGE_FILE: u64 = 1024 * 1024;

/// A small regular file from the image. The image is untrusted: a fifo there must not block
/// the process, nor a huge file exhaust its memory.
fn read_image_file(path: &Path) -> Option<String> {
    let file = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    file.take(MAX_IMAGE_FILE).read_to_string(&mut text).ok()?;
    Some(text)
}
