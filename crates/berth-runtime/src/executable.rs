//! Finding the command to run in the container's `PATH`, with Go's `exec.LookPath` rules and
//! messages (what Docker users see): done before the container reports ready, so a missing
//! command fails `create` with exit code 127.

use std::io;
use std::path::{Path, PathBuf};

use crate::error::{ExecError, errno_text};

/// Used when the container's environment has no `PATH` (the value Docker and runc use).
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What a candidate path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Candidate {
    Dir,
    File { executable: bool },
}

/// Resolves `name`: a name with a `/` is taken as a path (relative to the working directory),
/// anything else is searched in `path_var` (`PATH`'s value; an empty entry means `.`).
/// `probe` stats a candidate as the container's user.
pub(crate) fn resolve(
    name: &str,
    path_var: Option<&str>,
    mut probe: impl FnMut(&Path) -> io::Result<Candidate>,
) -> Result<PathBuf, ExecError> {
    if name.contains('/') {
        return match probe(Path::new(name)) {
            Ok(Candidate::File { executable: true }) => Ok(PathBuf::from(name)),
            Ok(Candidate::File { executable: false }) => {
                Err(ExecError::NotExecutable { name: name.into() })
            }
            Ok(Candidate::Dir) => Err(ExecError::IsDirectory { name: name.into() }),
            Err(e) => {
                let errno = e.raw_os_error().unwrap_or(libc::ENOENT);
                Err(ExecError::Stat {
                    name: name.into(),
                    errno,
                    reason: errno_text(errno),
                })
            }
        };
    }
    if !name.is_empty() {
        for dir in path_var.unwrap_or(DEFAULT_PATH).split(':') {
            let candidate = Path::new(if dir.is_empty() { "." } else { dir }).join(name);
            if let Ok(Candidate::File { executable: true }) = probe(&candidate) {
                return Ok(candidate);
            }
        }
    }
    Err(ExecError::NotInPath { name: name.into() })
}

/// `PATH`'s value in a list of `KEY=value` strings (the last one wins, as in a shell).
pub(crate) fn path_var(env: &[String]) -> Option<&str> {
    env.iter().rev().find_map(|kv| kv.strip_prefix("PATH="))
}

/// The real probe: `stat`, then `access(X_OK)` with the process's (already switched) ids.
pub(crate) fn probe(path: &Path) -> io::Result<Candidate> {
    if std::fs::metadata(path)?.is_dir() {
        return Ok(Candidate::Dir);
    }
    let executable = rustix::fs::access(path, rustix::fs::Access::EXEC_OK).is_ok();
    Ok(Candidate::File { executable })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn fs(entries: &[(&str, Candidate)]) -> impl FnMut(&Path) -> io::Result<Candidate> {
        let map: HashMap<PathBuf, Candidate> = entries
            .iter()
            .map(|(p, c)| (PathBuf::from(p), *c))
            .collect();
        move |p| {
            map.get(p)
                .copied()
                .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))
        }
    }

    const EXE: Candidate = Candidate::File { executable: true };
    const DATA: Candidate = Candidate::File { executable: false };

    #[test]
    fn searches_path_in_order_skipping_what_cannot_run() {
        let probe = fs(&[("/usr/bin/sh", DATA), ("/bin/sh", EXE), ("/sbin/sh", EXE)]);
        assert_eq!(
            resolve("sh", Some("/usr/bin:/bin:/sbin"), probe).unwrap(),
            Path::new("/bin/sh")
        );
        assert_eq!(
            resolve("ls", None, fs(&[("/usr/bin/ls", EXE)])).unwrap(),
            Path::new("/usr/bin/ls")
        );
        assert_eq!(
            resolve("tool", Some(":/x"), fs(&[("./tool", EXE)])).unwrap(),
            Path::new("./tool")
        );
    }

    #[test]
    fn not_found_in_path_is_127_with_dockers_message() {
        let err = resolve(
            "nonexistent",
            Some("/bin"),
            fs(&[("/bin/nonexistent", DATA)]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"exec: "nonexistent": executable file not found in $PATH"#
        );
        assert_eq!(err.exit_code(), 127);
    }

    #[test]
    fn paths_are_checked_directly() {
        let err = resolve("/x", None, fs(&[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"exec: "/x": stat /x: no such file or directory"#
        );
        assert_eq!(err.exit_code(), 127);
        let err = resolve("/etc/passwd", None, fs(&[("/etc/passwd", DATA)])).unwrap_err();
        assert_eq!(err.to_string(), r#"exec: "/etc/passwd": permission denied"#);
        assert_eq!(err.exit_code(), 126);
        let err = resolve("/bin", None, fs(&[("/bin", Candidate::Dir)])).unwrap_err();
        assert_eq!(err.exit_code(), 126);
        assert_eq!(
            resolve("./run", None, fs(&[("./run", EXE)])).unwrap(),
            Path::new("./run")
        );
    }

    #[test]
    fn the_last_path_variable_wins() {
        let env = vec!["PATH=/a".to_string(), "HOME=/".into(), "PATH=/b".into()];
        assert_eq!(path_var(&env), Some("/b"));
        assert_eq!(path_var(&[]), None);
    }
}
