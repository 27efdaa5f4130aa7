//! The environment `-e` and `--env-file` give a container (`run`, `create`) or a command
//! in one (`exec`), assembled as docker assembles it; and the labels of `-l` and
//! `--label-file`, read from the same line format.

use std::fs;
use std::path::PathBuf;

use crate::error::{CliError, open_error};

/// The `--env-file` entries in order, then the `-e` ones. A bare `NAME` takes our own
/// value; without one it is passed as is, and the daemon drops it from the image's
/// environment.
pub fn environment(env: &[String], env_files: &[PathBuf]) -> Result<Vec<String>, CliError> {
    let lookup = |name: &str| std::env::var(name).ok();
    let mut entries = read_files(env_files, lookup)?;
    entries.extend(env.iter().map(|entry| resolve(entry, lookup)));
    Ok(entries)
}

/// The `--label-file` entries in order, then the `-l` ones; a bare `NAME` is a label with
/// an empty value.
pub fn labels(labels: &[String], label_files: &[PathBuf]) -> Result<Vec<String>, CliError> {
    let mut entries = read_files(label_files, |_| None)?;
    entries.extend(labels.iter().cloned());
    Ok(entries)
}

fn read_files(
    files: &[PathBuf],
    lookup: impl Fn(&str) -> Option<String> + Copy,
) -> Result<Vec<String>, CliError> {
    let mut entries = Vec::new();
    for path in files {
        let bytes = fs::read(path).map_err(|e| open_error(path, &e))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            CliError::Failed(format!(
                "env file {} contains invalid utf8 bytes",
                path.display()
            ))
        })?;
        entries.extend(parse_env_file(&text, lookup)?);
    }
    Ok(entries)
}

/// `NAME=value` as is; `NAME` with our value if we have one.
fn resolve(entry: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    if entry.contains('=') {
        return entry.to_string();
    }
    match lookup(entry) {
        Some(value) => format!("{entry}={value}"),
        None => entry.to_string(),
    }
}

/// Docker's env-file format: `NAME=value` lines taken literally, `NAME` alone taken from
/// our environment, blank lines and `#` comments skipped.
fn parse_env_file(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>, CliError> {
    let mut env = Vec::new();
    for line in text.trim_start_matches('\u{feff}').lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some(("", _)) => {
                return Err(CliError::Failed(format!(
                    "no variable name on line '{line}'"
                )));
            }
            Some((name, _)) if name.contains(char::is_whitespace) => {
                return Err(CliError::Failed(format!(
                    "variable '{name}' contains whitespaces"
                )));
            }
            Some(_) => env.push(line.to_string()),
            None => env.push(resolve(line.trim_end(), &lookup)),
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        (name == "HOME").then(|| "/root".to_string())
    }

    #[test]
    fn bare_names_come_from_our_environment() {
        assert_eq!(resolve("A=1", lookup), "A=1");
        assert_eq!(resolve("HOME=/x", lookup), "HOME=/x");
        assert_eq!(resolve("HOME", lookup), "HOME=/root");
        assert_eq!(resolve("UNSET", lookup), "UNSET");
        assert_eq!(resolve("EMPTY=", lookup), "EMPTY=");
    }

    #[test]
    fn env_file_format() {
        let text = "\u{feff}# comment\n\n  A=1 2\nHOME\nUNSET  \nB=\n";
        assert_eq!(
            parse_env_file(text, lookup).unwrap(),
            ["A=1 2", "HOME=/root", "UNSET", "B="]
        );
        assert!(parse_env_file("BAD NAME=1", lookup).is_err());
        assert!(parse_env_file("=1", lookup).is_err());
    }

    #[test]
    fn env_files_come_first() {
        let dir = std::env::temp_dir().join(format!("berth-env-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("env");
        fs::write(&file, "FROM_FILE=x\nPATH\n").unwrap();
        let env = environment(&["A=1".to_string()], std::slice::from_ref(&file)).unwrap();
        assert_eq!(env[0], "FROM_FILE=x");
        assert!(env[1].starts_with("PATH="));
        assert_eq!(env[2], "A=1");
        // Labels never take values from our environment.
        let labels = labels(&["a=1".to_string()], &[file]).unwrap();
        assert_eq!(labels, ["FROM_FILE=x", "PATH", "a=1"]);
        let missing = environment(&[], &[dir.join("nosuch")]).unwrap_err();
        assert_eq!(
            missing.to_string(),
            format!(
                "open {}: no such file or directory",
                dir.join("nosuch").display()
            )
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
