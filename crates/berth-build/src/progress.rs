//! The build's output stream: Docker's step lines and RUN output, held back in quiet mode (and
//! shown only if the build fails).

use crate::host::{Progress, RunOutput};

pub(crate) struct Output<'a> {
    sink: &'a mut dyn Progress,
    quiet: bool,
    held: String,
    /// The start of a UTF-8 sequence split between two output chunks.
    partial: Vec<u8>,
}

impl<'a> Output<'a> {
    pub(crate) fn new(sink: &'a mut dyn Progress, quiet: bool) -> Self {
        Self {
            sink,
            quiet,
            held: String::new(),
            partial: Vec::new(),
        }
    }

    /// Writes one line (a newline is added).
    pub(crate) fn line(&mut self, text: &str) {
        self.text(&format!("{text}\n"));
    }

    pub(crate) fn text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if self.quiet {
            self.held.push_str(text);
        } else {
            self.sink.write(text);
        }
    }

    /// Raw command output; invalid UTF-8 is replaced, split sequences are joined first.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        let mut data = std::mem::take(&mut self.partial);
        data.extend_from_slice(bytes);
        let valid = match std::str::from_utf8(&data) {
            Ok(_) => data.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => data.len(),
        };
        self.partial = data.split_off(valid);
        self.text(&String::from_utf8_lossy(&data));
    }

    /// A failed build: in quiet mode, what was held back is shown after all.
    pub(crate) fn failed(&mut self) {
        let partial = std::mem::take(&mut self.partial);
        self.text(&String::from_utf8_lossy(&partial));
        if self.quiet && !self.held.is_empty() {
            self.sink.write(&std::mem::take(&mut self.held));
        }
    }

    /// A successful build: in quiet mode only the image id is shown.
    pub(crate) fn succeeded(&mut self, id: &str) {
        if self.quiet {
            self.sink.write(&format!("{id}\n"));
        }
    }
}

impl Progress for Output<'_> {
    fn write(&mut self, text: &str) {
        self.text(text);
    }
}

/// A RUN's output: ` ---> Running in <id>`, then what the command prints.
pub(crate) struct StepOutput<'o, 'a> {
    pub(crate) out: &'o mut Output<'a>,
    pub(crate) container: Option<String>,
}

impl RunOutput for StepOutput<'_, '_> {
    fn started(&mut self, container_id: &str) {
        let short: String = container_id.chars().take(12).collect();
        self.out.line(&format!(" ---> Running in {short}"));
        self.container = Some(short);
    }

    fn output(&mut self, bytes: &[u8]) {
        self.out.bytes(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_output_is_held_until_the_end() {
        let mut seen = String::new();
        let mut sink = |t: &str| seen.push_str(t);
        let mut out = Output::new(&mut sink, true);
        out.line("Step 1/1 : FROM x");
        out.succeeded("sha256:abc");
        assert_eq!(seen, "sha256:abc\n");

        let mut seen = String::new();
        let mut sink = |t: &str| seen.push_str(t);
        let mut out = Output::new(&mut sink, true);
        out.line("Step 1/1 : FROM x");
        out.failed();
        assert_eq!(seen, "Step 1/1 : FROM x\n");
    }

    #[test]
    fn split_utf8_sequences_are_joined() {
        let mut seen = String::new();
        let mut sink = |t: &str| seen.push_str(t);
        let mut out = Output::new(&mut sink, false);
        let bytes = "héllo".as_bytes();
        out.bytes(&bytes[..2]);
        out.bytes(&bytes[2..]);
        out.bytes(b"\xff!");
        assert_eq!(seen, "héllo\u{fffd}!");
    }
}
