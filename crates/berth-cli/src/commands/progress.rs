//! The JSON progress messages of a pull or push (`{"status","id","progressDetail"}` lines,
//! `{"error"}` for a failure), shown as docker shows them: one line per layer updated in
//! place on a terminal, and only the steps (no byte counts) otherwise.

use std::io::Write;

use futures_util::{Stream, StreamExt};
use serde::Deserialize;

use crate::error::CliError;

const BAR_WIDTH: usize = 50;

#[derive(Debug, Default, Deserialize)]
pub struct Message {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default, rename = "progressDetail")]
    pub progress_detail: Option<ProgressDetail>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default, rename = "errorDetail")]
    pub error_detail: Option<ErrorDetail>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ProgressDetail {
    #[serde(default)]
    pub current: Option<i64>,
    #[serde(default)]
    pub total: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ErrorDetail {
    #[serde(default)]
    pub message: Option<String>,
}

impl Message {
    /// The failure the message reports, if it reports one.
    fn failure(&self) -> Option<String> {
        self.error.clone().or_else(|| {
            self.error_detail
                .as_ref()
                .and_then(|detail| detail.message.clone())
        })
    }

    /// Whether it only moves a byte count on.
    fn is_progress(&self) -> bool {
        self.progress_detail
            .as_ref()
            .is_some_and(|detail| detail.current.is_some_and(|c| c > 0))
    }
}

/// Draws the messages of one pull or push.
pub struct Renderer {
    terminal: bool,
    quiet: bool,
    /// The layers with a line of their own, in the order of their lines.
    ids: Vec<String>,
}

impl Renderer {
    pub fn new(terminal: bool, quiet: bool) -> Self {
        Renderer {
            terminal,
            quiet,
            ids: Vec::new(),
        }
    }

    /// Shows one message; a message with an error ends the operation with it.
    pub fn show(&mut self, message: &Message) -> Result<(), CliError> {
        if let Some(failure) = message.failure() {
            return Err(CliError::Failed(failure));
        }
        if self.quiet {
            return Ok(());
        }
        let text = self.text(message);
        if text.is_empty() {
            return Ok(());
        }
        let mut stdout = std::io::stdout().lock();
        // A closed stdout is nobody's concern; the pull goes on.
        let _ = match (&message.id, self.terminal) {
            (Some(id), true) => match self.ids.iter().position(|known| known == id) {
                Some(index) => {
                    let up = self.ids.len() - index;
                    write!(stdout, "\x1b[{up}A\r\x1b[2K{text}\x1b[{up}B\r")
                }
                None => {
                    self.ids.push(id.clone());
                    writeln!(stdout, "{text}")
                }
            },
            (Some(_), false) if message.is_progress() => Ok(()),
            (None, _) => {
                self.ids.clear();
                writeln!(stdout, "{text}")
            }
            (Some(_), false) => writeln!(stdout, "{text}"),
        };
        let _ = stdout.flush();
        Ok(())
    }

    /// The line for a message: `id: status`, and a bar on a terminal when sizes are known.
    fn text(&self, message: &Message) -> String {
        let status = message.status.as_deref().unwrap_or_default();
        let mut text = match &message.id {
            Some(id) => format!("{id}: {status}"),
            None => status.to_string(),
        };
        if self.terminal
            && let Some(detail) = &message.progress_detail
            && let (Some(current), Some(total)) = (detail.current, detail.total)
            && total > 0
        {
            text.push(' ');
            text.push_str(&bar(current, total));
        }
        text
    }
}

/// Docker's progress bar: `[=====>     ]  1.2MB/3.4MB`.
pub fn bar(current: i64, total: i64) -> String {
    use crate::format::units::human_size;
    let filled = (BAR_WIDTH as f64 * (current.clamp(0, total) as f64 / total as f64)) as usize;
    let mut bar = "=".repeat(filled);
    if filled < BAR_WIDTH {
        bar.push('>');
        bar.push_str(&" ".repeat(BAR_WIDTH - filled - 1));
    }
    format!(
        "[{bar}] {:>8}/{}",
        human_size(current, 3),
        human_size(total, 3)
    )
}

/// Reads the daemon's JSON lines from `body` and shows each.
pub async fn render<S, E>(body: S, renderer: &mut Renderer) -> Result<(), CliError>
where
    S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut body = body;
    let mut pending: Vec<u8> = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| CliError::Failed(e.to_string()))?;
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            show_line(&line, renderer)?;
        }
    }
    show_line(&pending, renderer)
}

fn show_line(line: &[u8], renderer: &mut Renderer) -> Result<(), CliError> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let message: Message = serde_json::from_slice(line)
        .map_err(|e| CliError::Failed(format!("invalid progress message from the daemon: {e}")))?;
    renderer.show(&message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars() {
        assert_eq!(bar(0, 1000), format!("[>{}]       0B/1kB", " ".repeat(49)));
        assert!(bar(1000, 1000).starts_with(&format!("[{}]", "=".repeat(50))));
    }

    #[test]
    fn messages() {
        let message: Message = serde_json::from_str(
            r#"{"status":"Downloading","id":"abc","progressDetail":{"current":5,"total":10}}"#,
        )
        .unwrap();
        assert!(message.is_progress());
        let renderer = Renderer::new(false, false);
        assert_eq!(renderer.text(&message), "abc: Downloading");
        let error: Message =
            serde_json::from_str(r#"{"errorDetail":{"message":"denied"},"error":"denied"}"#)
                .unwrap();
        assert_eq!(error.failure().as_deref(), Some("denied"));
    }
}
