//! The build's output stream: Docker's step lines and RUN output, held back in quiet mode (and
//! shown only if the build fails).

use crate::host::Progress;

pub(crate) struct Output<'a> {
    sink: &'a mut dyn Progress,
    quiet: bool,
    held: String,
}

impl<'a> Output<'a> {
    pub(crate) fn new(sink: &'a mut dyn Progress, quiet: bool) -> Self {
        Self {
            sink,
            quiet,
            held: String::new(),
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

    /// A failed build: in quiet mode, what was held back is shown after all.
    pub(crate) fn failed(&mut self) {
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
}
