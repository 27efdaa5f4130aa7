//! `logs` (and the attached `up`): the output of the project's containers merged into one
//! stream, each line tagged with its container, and a prefixer that writes lines the way
//! docker compose does (`web-1  | hello`, coloured per container).

use std::collections::HashMap;
use std::pin::Pin;

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions as ApiLogsOptions;
use bytes::Bytes;
use futures_util::StreamExt;

use super::{Compose, OneOffFilter, id_of, label_of, name_of, number_of};
use crate::error::Error;
use crate::plan::labels;

/// `logs`'s flags.
#[derive(Debug, Clone, Default)]
pub struct LogsOptions {
    /// Services whose logs are shown; empty: all.
    pub services: Vec<String>,
    /// `-f`: keep streaming until the containers stop; each stop is reported.
    pub follow: bool,
    /// `--tail`: lines from the end of each log (`None`: all).
    pub tail: Option<u64>,
    pub timestamps: bool,
    /// `--since`, `--until`: Unix seconds.
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// `--index`: only this container number.
    pub index: Option<u32>,
}

/// One item of a project's log stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEvent {
    /// Output of a container. `container` is the name shown as prefix: `<service>-<n>`, or
    /// the `container_name` when the service sets one.
    Line {
        container: String,
        service: String,
        stderr: bool,
        text: Bytes,
    },
    /// With `follow`: a container stopped.
    Exited {
        container: String,
        service: String,
        code: i64,
    },
}

/// A merged log stream; it ends when every container's log ends.
pub type Stream = Pin<Box<dyn futures_util::Stream<Item = Result<LogEvent, Error>> + Send>>;

impl Compose {
    /// The logs of `project`'s service containers.
    pub async fn logs(&self, project: &str, opts: &LogsOptions) -> Result<Stream, Error> {
        let containers = self
            .containers(project, &opts.services, OneOffFilter::Exclude)
            .await?;
        let mut streams: Vec<Stream> = Vec::new();
        for c in containers {
            if opts.index.is_some_and(|i| i != number_of(&c)) {
                continue;
            }
            let id = id_of(&c);
            let service = label_of(&c, labels::SERVICE)
                .unwrap_or_default()
                .to_string();
            let shown = shown_name(project, &service, number_of(&c), &name_of(&c));
            let api = ApiLogsOptions {
                follow: opts.follow,
                stdout: true,
                stderr: true,
                since: opts.since.and_then(|s| i32::try_from(s).ok()).unwrap_or(0),
                until: opts.until.and_then(|s| i32::try_from(s).ok()).unwrap_or(0),
                timestamps: opts.timestamps,
                tail: opts
                    .tail
                    .map_or_else(|| "all".to_string(), |t| t.to_string()),
            };
            let (name, svc) = (shown.clone(), service.clone());
            let lines = self.docker.logs(&id, Some(api)).map(move |item| {
                let (stderr, text) = match item? {
                    LogOutput::StdErr { message } => (true, message),
                    LogOutput::StdOut { message }
                    | LogOutput::Console { message }
                    | LogOutput::StdIn { message } => (false, message),
                };
                Ok(LogEvent::Line {
                    container: name.clone(),
                    service: svc.clone(),
                    stderr,
                    text,
                })
            });
            if opts.follow {
                let docker = self.docker.clone();
                let exit = futures_util::stream::once(async move {
                    match docker.inspect_container(&id, None).await {
                        Ok(info) => Some(Ok(LogEvent::Exited {
                            container: shown,
                            service,
                            code: info.state.and_then(|s| s.exit_code).unwrap_or_default(),
                        })),
                        Err(e) => {
                            let e = Error::from(e);
                            // Removed meanwhile (`run --rm`): nothing to report.
                            (!e.is_not_found()).then_some(Err(e))
                        }
                    }
                })
                .filter_map(futures_util::future::ready);
                streams.push(Box::pin(lines.chain(exit)));
            } else {
                streams.push(Box::pin(lines));
            }
        }
        Ok(Box::pin(futures_util::stream::select_all(streams)))
    }
}

/// The name a container's lines are prefixed with: `<service>-<n>` for a container named
/// `<project>-<service>-<n>`, else its name (`container_name`).
pub(crate) fn shown_name(project: &str, service: &str, number: u32, name: &str) -> String {
    if name == format!("{project}-{service}-{number}") {
        format!("{service}-{number}")
    } else {
        name.to_string()
    }
}

/// ANSI colours given to containers in turn, as docker compose does.
const COLORS: &[&str] = &["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"];

/// Formats log events as `name  | line`, names padded to the longest, each container in its
/// own colour when `color`.
#[derive(Debug, Clone)]
pub struct LogPrefixer {
    width: usize,
    color: bool,
    assigned: HashMap<String, &'static str>,
}

impl LogPrefixer {
    /// `names`: the containers that will appear, to pad prefixes to the same width.
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(names: I, color: bool) -> Self {
        let width = names
            .into_iter()
            .map(|n| n.as_ref().chars().count())
            .max()
            .unwrap_or(0);
        LogPrefixer {
            width,
            color,
            assigned: HashMap::new(),
        }
    }

    /// `text` in the colour of container `name`.
    fn paint(&mut self, name: &str, text: &str) -> String {
        if !self.color {
            return text.to_string();
        }
        let next = COLORS[self.assigned.len() % COLORS.len()];
        let code = *self.assigned.entry(name.to_string()).or_insert(next);
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    /// The text to print for `event`: every line prefixed, ending with a newline.
    pub fn format(&mut self, event: &LogEvent) -> String {
        match event {
            LogEvent::Line {
                container, text, ..
            } => {
                self.width = self.width.max(container.chars().count());
                let pad = format!("{container:<w$} |", w = self.width + 1);
                let prefix = self.paint(container, &pad);
                let text = String::from_utf8_lossy(text);
                let mut out = String::new();
                for line in text.split_terminator('\n') {
                    out.push_str(&prefix);
                    out.push(' ');
                    out.push_str(line.strip_suffix('\r').unwrap_or(line));
                    out.push('\n');
                }
                out
            }
            LogEvent::Exited {
                container, code, ..
            } => {
                let text = format!("{container} exited with code {code}");
                self.paint(container, &text) + "\n"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        let mut p = LogPrefixer::new(["web-1", "db-1"], false);
        let line = LogEvent::Line {
            container: "db-1".into(),
            service: "db".into(),
            stderr: false,
            text: Bytes::from_static(b"a\nb\r\n"),
        };
        assert_eq!(p.format(&line), "db-1   | a\ndb-1   | b\n");
        let exit = LogEvent::Exited {
            container: "web-1".into(),
            service: "web".into(),
            code: 3,
        };
        assert_eq!(p.format(&exit), "web-1 exited with code 3\n");
        let mut c = LogPrefixer::new(["web-1"], true);
        assert!(c.format(&line).starts_with("\x1b[36mdb-1   |\x1b[0m a\n"));
    }
}
