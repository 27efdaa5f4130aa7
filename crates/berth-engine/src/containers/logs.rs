//! `GET /containers/{id}/logs`: reads the json-file log the shim writes and frames it as
//! Docker does, optionally following it until the container stops.

use crate::error::Result;
use crate::{Engine, clock};
use berth_shim_proto::{STREAM_STDERR, STREAM_STDOUT, frame_header};
use bytes::Bytes;
use serde::Deserialize;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub stdout: bool,
    pub stderr: bool,
    pub follow: bool,
    pub timestamps: bool,
    /// Only the last N lines; `None` for all.
    pub tail: Option<usize>,
    pub since: Option<SystemTime>,
    pub until: Option<SystemTime>,
}

/// `--log-opt max-size` (Docker's units: `10k`, `10m`, `1g`), 0 when unset.
pub fn max_size(host_config: &serde_json::Value) -> Result<u64> {
    let Some(v) = host_config["LogConfig"]["Config"]["max-size"]
        .as_str()
        .filter(|v| !v.is_empty())
    else {
        return Ok(0);
    };
    let lower = v.to_ascii_lowercase();
    let (digits, unit) = lower.split_at(
        lower
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(lower.len()),
    );
    let factor: u64 = match unit.trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return Err(crate::Error::invalid(format!("invalid max-size: {v}"))),
    };
    digits
        .parse::<u64>()
        .map(|n| n * factor)
        .map_err(|_| crate::Error::invalid(format!("invalid max-size: {v}")))
}

/// `--log-opt max-file`, 1 when unset; only meaningful with max-size, as in Docker.
pub fn max_files(host_config: &serde_json::Value) -> Result<u32> {
    let Some(v) = host_config["LogConfig"]["Config"]["max-file"]
        .as_str()
        .filter(|v| !v.is_empty())
    else {
        return Ok(1);
    };
    match v.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(crate::Error::invalid(format!(
            "invalid value for max-file: {v}: should be a number greater than 0"
        ))),
    }
}

/// The rotated log files, oldest first: `log.N` ... `log.1`.
fn rotated_files(path: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut rotated: Vec<std::path::PathBuf> = (1..)
        .map(|n| std::path::PathBuf::from(format!("{}.{n}", path.display())))
        .take_while(|p| p.exists())
        .collect();
    rotated.reverse();
    rotated
}

#[derive(Deserialize)]
struct Line {
    log: String,
    stream: String,
    time: String,
}

/// How often a followed log is checked for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(50);

impl LogOptions {
    /// One log line as Docker sends it (framed unless the container has a TTY), or None when
    /// the options filter it out.
    fn frame(&self, raw: &str, tty: bool) -> Option<Bytes> {
        let line: Line = serde_json::from_str(raw).ok()?;
        let stream = match line.stream.as_str() {
            "stdout" if self.stdout => STREAM_STDOUT,
            "stderr" if self.stderr => STREAM_STDERR,
            _ => return None,
        };
        let time = clock::parse(&line.time);
        if self.since.is_some_and(|s| time.is_some_and(|t| t < s))
            || self.until.is_some_and(|u| time.is_some_and(|t| t > u))
        {
            return None;
        }
        let mut payload = String::new();
        if self.timestamps {
            payload.push_str(&line.time);
            payload.push(' ');
        }
        payload.push_str(&line.log);
        let mut out = Vec::with_capacity(payload.len() + 8);
        if !tty {
            out.extend_from_slice(&frame_header(stream, payload.len() as u32));
        }
        out.extend_from_slice(payload.as_bytes());
        Some(Bytes::from(out))
    }
}

impl Engine {
    pub fn container_logs(&self, name: &str, opts: LogOptions) -> Result<mpsc::Receiver<Bytes>> {
        let id = self.resolve_container(name)?;
        let c = self.container_record(&id)?;
        if c.host_config["LogConfig"]["Type"] == "none" {
            return Err(crate::Error::invalid(
                "configured logging driver does not support reading",
            ));
        }
        let tty = c.config["Tty"].as_bool().unwrap_or(false);
        let path = self.log_path(&id);
        let mut exits = self.live.get(&id).exits.subscribe();
        let seen = exits.borrow_and_update().count;
        let follow = opts.follow && c.state.running();
        let (tx, rx) = mpsc::channel(64);
        tokio::task::spawn_blocking(move || {
            // Sends what the options keep; false once the client has gone.
            let send = |lines: &[String]| {
                lines
                    .iter()
                    .filter_map(|l| opts.frame(l, tty))
                    .all(|b| tx.blocking_send(b).is_ok())
            };
            // Rotated files first, oldest first, then the current one (followed).
            let mut lines: Vec<String> = Vec::new();
            for rotated in rotated_files(&path) {
                if let Ok(f) = std::fs::File::open(rotated) {
                    read_lines(&mut BufReader::new(f), &mut lines);
                }
            }
            let Ok(file) = std::fs::File::open(&path) else {
                return;
            };
            let mut reader = BufReader::new(file);
            let mut pos = read_lines(&mut reader, &mut lines);
            if let Some(n) = opts.tail {
                lines.retain(|l| opts.frame(l, tty).is_some());
                lines.drain(..lines.len().saturating_sub(n));
            }
            if !send(&lines) || !follow {
                return;
            }
            loop {
                let stopped = {
                    let e = exits.borrow();
                    e.count > seen || e.removed
                };
                std::thread::sleep(FOLLOW_POLL);
                let mut fresh = Vec::new();
                if reader.seek(SeekFrom::Start(pos)).is_err() {
                    return;
                }
                pos += read_lines(&mut reader, &mut fresh);
                if !send(&fresh) || stopped {
                    return;
                }
            }
        });
        Ok(rx)
    }
}

/// Reads complete lines; returns how many bytes they took (a partial last line is left for
/// the next read).
fn read_lines(reader: &mut impl BufRead, out: &mut Vec<String>) -> u64 {
    let mut consumed = 0u64;
    let mut buf = String::new();
    loop {
        buf.clear();
        match reader.read_line(&mut buf) {
            Ok(0) | Err(_) => return consumed,
            Ok(n) if buf.ends_with('\n') => {
                consumed += n as u64;
                out.push(buf.trim_end_matches('\n').to_string());
            }
            Ok(_) => return consumed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_filters() {
        let opts = LogOptions {
            stdout: true,
            stderr: false,
            timestamps: true,
            ..Default::default()
        };
        let out = opts
            .frame(
                r#"{"log":"hi\n","stream":"stdout","time":"2026-01-01T00:00:00Z"}"#,
                false,
            )
            .unwrap();
        assert_eq!(&out[..8], &[1, 0, 0, 0, 0, 0, 0, 24]);
        assert_eq!(&out[8..], b"2026-01-01T00:00:00Z hi\n");
        assert!(
            opts.frame(
                r#"{"log":"e\n","stream":"stderr","time":"2026-01-01T00:00:00Z"}"#,
                false
            )
            .is_none()
        );
        assert!(opts.frame("garbage", false).is_none());
    }

    #[test]
    fn partial_lines_wait() {
        let mut r = std::io::Cursor::new(b"{\"a\":1}\n{\"b\"".to_vec());
        let mut lines = Vec::new();
        assert_eq!(read_lines(&mut r, &mut lines), 8);
        assert_eq!(lines, vec!["{\"a\":1}".to_string()]);
    }
}
