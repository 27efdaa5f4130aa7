//! `GET /containers/{id}/logs`: reads the log the shim writes (`json-file` or `local`, see
//! `log_reader`) and frames it as Docker does, optionally following it until the container
//! stops.

use super::log_config;
use super::log_reader::{Entry, LogCursor, LogFiles};
use super::model::Container;
use crate::Engine;
use crate::error::Result;
use berth_shim_proto::{STREAM_STDERR, STREAM_STDOUT, frame_header};
use bytes::Bytes;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub stdout: bool,
    pub stderr: bool,
    pub follow: bool,
    pub timestamps: bool,
    /// Each line starts with its attributes (`--details`).
    pub details: bool,
    /// Only the last N lines; `None` for all.
    pub tail: Option<usize>,
    pub since: Option<SystemTime>,
    pub until: Option<SystemTime>,
}

/// How often a followed log is checked for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(50);

fn nanos(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

impl LogOptions {
    /// Whether the options keep `e`.
    fn keeps(&self, e: &Entry) -> bool {
        let stream = match e.stream {
            STREAM_STDOUT => self.stdout,
            STREAM_STDERR => self.stderr,
            _ => false,
        };
        stream
            && self.since.is_none_or(|s| e.time >= nanos(s))
            && self.until.is_none_or(|u| e.time <= nanos(u))
    }

    /// One entry as Docker sends it: `[time ][attributes ]line`, framed unless the container
    /// has a TTY.
    fn frame(&self, e: &Entry, tty: bool) -> Bytes {
        let mut payload = Vec::with_capacity(e.line.len() + 48);
        if self.timestamps {
            let at = UNIX_EPOCH + Duration::from_nanos(e.time.max(0) as u64);
            payload.extend_from_slice(humantime::format_rfc3339_nanos(at).to_string().as_bytes());
            payload.push(b' ');
        }
        if self.details {
            payload.extend_from_slice(details(&e.attrs).as_bytes());
            payload.push(b' ');
        }
        payload.extend_from_slice(&e.line);
        let mut out = Vec::with_capacity(payload.len() + 8);
        if !tty {
            out.extend_from_slice(&frame_header(e.stream, payload.len() as u32));
        }
        out.extend_from_slice(&payload);
        Bytes::from(out)
    }
}

/// Docker's `--details` prefix: `key=value` pairs sorted by key, joined by commas, both sides
/// query-escaped.
fn details(attrs: &BTreeMap<String, String>) -> String {
    attrs
        .iter()
        .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Engine {
    /// Where container `c`'s log is and what it holds; None with the `none` driver.
    pub(crate) fn log_files(&self, c: &Container) -> Result<Option<LogFiles>> {
        let Some(settings) = log_config::settings(&c.host_config["LogConfig"])? else {
            return Ok(None);
        };
        Ok(Some(LogFiles {
            path: super::log_reader::log_path(&self.container_dir(&c.id), &c.id, settings.format),
            format: settings.format,
        }))
    }

    pub fn container_logs(&self, name: &str, opts: LogOptions) -> Result<mpsc::Receiver<Bytes>> {
        let id = self.resolve_container(name)?;
        let c = self.container_record(&id)?;
        let Some(files) = self.log_files(&c)? else {
            return Err(crate::Error::invalid(
                "configured logging driver does not support reading",
            ));
        };
        let tty = c.config["Tty"].as_bool().unwrap_or(false);
        let mut exits = self.live.get(&id).exits.subscribe();
        let seen = exits.borrow_and_update().count;
        let follow = opts.follow && c.state.running();
        let (tx, rx) = mpsc::channel(64);
        tokio::task::spawn_blocking(move || {
            // Sends what the options keep; false once the client has gone.
            let mut send =
                |e: Entry| !opts.keeps(&e) || tx.blocking_send(opts.frame(&e, tty)).is_ok();
            let mut cursor = LogCursor::new(files);
            match opts.tail {
                None => {
                    if !cursor.read_all(&mut send) {
                        return;
                    }
                }
                Some(n) => {
                    let mut last = VecDeque::with_capacity(n.min(4096));
                    cursor.read_all(&mut |e| {
                        if n > 0 && opts.keeps(&e) {
                            if last.len() == n {
                                last.pop_front();
                            }
                            last.push_back(e);
                        }
                        true
                    });
                    if !last.into_iter().all(&mut send) {
                        return;
                    }
                }
            }
            if !follow {
                return;
            }
            loop {
                let stopped = {
                    let e = exits.borrow();
                    e.count > seen || e.removed
                };
                std::thread::sleep(FOLLOW_POLL);
                if !cursor.read_new(&mut send) || stopped {
                    return;
                }
            }
        });
        Ok(rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(stream: u8, line: &str) -> Entry {
        Entry {
            stream,
            time: 1_767_225_600_000_000_000, // 2026-01-01T00:00:00Z
            line: line.as_bytes().to_vec(),
            attrs: BTreeMap::new(),
        }
    }

    #[test]
    fn frames_and_filters() {
        let opts = LogOptions {
            stdout: true,
            stderr: false,
            timestamps: true,
            ..Default::default()
        };
        let e = entry(STREAM_STDOUT, "hi\n");
        assert!(opts.keeps(&e));
        let out = opts.frame(&e, false);
        assert_eq!(&out[..8], &[1, 0, 0, 0, 0, 0, 0, 34]);
        assert_eq!(&out[8..], b"2026-01-01T00:00:00.000000000Z hi\n");
        assert!(!opts.keeps(&entry(STREAM_STDERR, "e\n")));
        let later = LogOptions {
            stdout: true,
            since: Some(UNIX_EPOCH + Duration::from_secs(1_767_225_601)),
            ..Default::default()
        };
        assert!(!later.keeps(&e));
    }

    #[test]
    fn details_are_dockers_prefix() {
        let opts = LogOptions {
            stdout: true,
            details: true,
            ..Default::default()
        };
        let mut e = entry(STREAM_STDOUT, "hi\n");
        assert_eq!(
            &opts.frame(&e, true)[..],
            b" hi\n",
            "no attributes: a bare space"
        );
        e.attrs = BTreeMap::from([
            ("zeta".to_string(), "a b&c".to_string()),
            ("alpha".to_string(), "1".to_string()),
        ]);
        assert_eq!(&opts.frame(&e, true)[..], b"alpha=1,zeta=a+b%26c hi\n");
    }
}
