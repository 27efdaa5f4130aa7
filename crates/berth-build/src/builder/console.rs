//! The output of stages built at the same time, kept readable: one stage at a time has the
//! console and streams its step as it happens (a RUN's output live); the others hold their
//! current step's lines and show each step whole once the console is free. A step is never
//! cut into by another's lines, and every stage's steps stay in order.

use std::collections::BTreeMap;
use std::sync::mpsc::Sender;

use crate::host::{Progress, RunOutput};
use crate::progress::Output;

/// What a stage's thread reports to the thread that owns the output.
pub(super) enum Event<T> {
    Text {
        stage: usize,
        text: String,
    },
    /// The stage ended a step: its lines so far may be shown.
    StepDone {
        stage: usize,
    },
    /// The stage is built, or failed.
    Finished {
        stage: usize,
        result: T,
    },
}

/// Decides when a stage's text reaches the build's output.
pub(super) struct Console<'o, 'a> {
    out: &'o mut Output<'a>,
    /// The stage streaming its step now.
    owner: Option<usize>,
    /// The step under way of each other stage, held.
    held: BTreeMap<usize, String>,
    /// Whole steps of other stages, in the order they ended, shown when the owner's ends.
    ended: Vec<String>,
}

impl<'o, 'a> Console<'o, 'a> {
    pub(super) fn new(out: &'o mut Output<'a>) -> Self {
        Self {
            out,
            owner: None,
            held: BTreeMap::new(),
            ended: Vec::new(),
        }
    }

    pub(super) fn text(&mut self, stage: usize, text: &str) {
        match self.owner {
            None => {
                self.owner = Some(stage);
                self.out.text(text);
            }
            Some(owner) if owner == stage => self.out.text(text),
            Some(_) => self.held.entry(stage).or_default().push_str(text),
        }
    }

    /// A step ended (or the stage did): shown now if it held the console, else queued whole.
    pub(super) fn step_done(&mut self, stage: usize) {
        if self.owner != Some(stage) {
            if let Some(text) = self.held.remove(&stage) {
                self.ended.push(text);
            }
            return;
        }
        self.owner = None;
        for text in std::mem::take(&mut self.ended) {
            self.out.text(&text);
        }
        // The next stage with a step under way goes on live from what it has so far.
        if let Some((next, text)) = self.held.pop_first() {
            self.owner = Some(next);
            self.out.text(&text);
        }
    }
}

/// A stage's side of the console: lines and raw RUN output sent to the output thread, UTF-8
/// sequences split between chunks joined first.
pub(super) struct StageOutput<T> {
    stage: usize,
    tx: Sender<Event<T>>,
    /// The start of a UTF-8 sequence split between two output chunks.
    partial: Vec<u8>,
}

impl<T> StageOutput<T> {
    pub(super) fn new(stage: usize, tx: Sender<Event<T>>) -> Self {
        Self {
            stage,
            tx,
            partial: Vec::new(),
        }
    }

    /// Another sender for the same stage (to report its end if its builder panics).
    pub(super) fn fresh(&self) -> Self {
        Self::new(self.stage, self.tx.clone())
    }

    /// Writes one line (a newline is added).
    pub(super) fn line(&mut self, text: &str) {
        self.text(&format!("{text}\n"));
    }

    pub(super) fn text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        // The receiver only goes away once every stage has finished.
        let _ = self.tx.send(Event::Text {
            stage: self.stage,
            text: text.to_owned(),
        });
    }

    /// Raw command output; invalid UTF-8 is replaced, split sequences are joined first.
    pub(super) fn bytes(&mut self, bytes: &[u8]) {
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

    pub(super) fn step_done(&mut self) {
        let partial = std::mem::take(&mut self.partial);
        self.text(&String::from_utf8_lossy(&partial));
        let _ = self.tx.send(Event::StepDone { stage: self.stage });
    }

    /// The stage's end, after anything it still held.
    pub(super) fn finish(mut self, result: T) {
        let partial = std::mem::take(&mut self.partial);
        self.text(&String::from_utf8_lossy(&partial));
        let _ = self.tx.send(Event::Finished {
            stage: self.stage,
            result,
        });
    }
}

impl<T> Progress for StageOutput<T> {
    fn write(&mut self, text: &str) {
        self.text(text);
    }
}

/// A RUN's output: ` ---> Running in <id>`, then what the command prints.
pub(super) struct StepOutput<'s, T> {
    pub(super) out: &'s mut StageOutput<T>,
    pub(super) container: Option<String>,
}

impl<T> RunOutput for StepOutput<'_, T> {
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

    fn shown(events: &[(usize, Option<&str>)]) -> String {
        let mut seen = String::new();
        let mut sink = |t: &str| seen.push_str(t);
        let mut out = Output::new(&mut sink, false);
        let mut console = Console::new(&mut out);
        for (stage, text) in events {
            match text {
                Some(text) => console.text(*stage, text),
                None => console.step_done(*stage),
            }
        }
        seen
    }

    #[test]
    fn the_first_stage_streams_and_the_others_show_whole_steps_after_it() {
        let seen = shown(&[
            (0, Some("Step 1/5 : RUN sleep\n")),
            (1, Some("Step 3/5 : RUN a\n")),
            (0, Some("zz")),
            (1, Some(" ---> 1\n")),
            (1, None),
            (1, Some("Step 4/5 : RUN b\nb-")),
            (0, Some("z\n ---> 0\n")),
            (0, None),
            (1, Some("out\n ---> 2\n")),
            (1, None),
        ]);
        assert_eq!(
            seen,
            "Step 1/5 : RUN sleep\nzzz\n ---> 0\n\
             Step 3/5 : RUN a\n ---> 1\n\
             Step 4/5 : RUN b\nb-out\n ---> 2\n"
        );
    }

    #[test]
    fn split_utf8_sequences_are_joined_per_stage() {
        let (tx, rx) = std::sync::mpsc::channel::<Event<()>>();
        let mut a = StageOutput::new(0, tx.clone());
        let mut b = StageOutput::new(1, tx);
        let bytes = "héllo".as_bytes();
        a.bytes(&bytes[..2]);
        b.bytes("ü".as_bytes());
        a.bytes(&bytes[2..]);
        a.bytes(b"\xff!");
        a.step_done();
        b.finish(());
        let mut texts = [String::new(), String::new()];
        for event in rx.try_iter() {
            if let Event::Text { stage, text } = event {
                texts[stage].push_str(&text);
            }
        }
        assert_eq!(texts, ["héllo\u{fffd}!", "ü"]);
    }
}
