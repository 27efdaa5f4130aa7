//! Freezing and thawing a cgroup (`docker pause` / `unpause`): the v1 freezer controller when
//! mounted (v1 and hybrid hosts), else v2's `cgroup.freeze`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cgroup::Cgroup;
use crate::cgroup_file;
use crate::error::{Error, Result};
use crate::layout::CGROUP_ROOT;

/// How long a freeze or thaw may take before it is reported as failed.
const TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_POLL: Duration = Duration::from_micros(100);
const MAX_POLL: Duration = Duration::from_millis(10);

pub(crate) enum Freezer {
    /// A v1 freezer cgroup's `freezer.state`.
    V1 { state: PathBuf },
    /// A v2 cgroup's directory (`cgroup.freeze`, `cgroup.events`).
    V2 { dir: PathBuf },
}

impl Cgroup {
    /// Stops every process in the cgroup and returns once all of them are frozen. If they do
    /// not all freeze within 10 s the cgroup is thawed again and [`Error::Timeout`] returned.
    pub fn freeze(&self) -> Result<()> {
        let freezer = self.freezer()?;
        let result = freezer.set(true);
        if result.is_err() {
            // Leave no half-frozen container behind; the freeze error is the one to report.
            let _thawed = freezer.set(false);
        }
        result
    }

    /// Resumes the processes of a frozen cgroup and returns once the kernel reports it thawed.
    pub fn thaw(&self) -> Result<()> {
        self.freezer()?.set(false)
    }

    /// Whether the cgroup is frozen (a freeze still in progress is not).
    pub fn frozen(&self) -> Result<bool> {
        self.freezer()?.is_frozen()
    }

    pub(crate) fn freezer(&self) -> Result<Freezer> {
        if let Some(dir) = self.v1_dir("freezer") {
            return Ok(Freezer::V1 {
                state: dir.join("freezer.state"),
            });
        }
        match self.unified_dir() {
            Some(dir) => Ok(Freezer::V2 { dir }),
            None => Err(Error::ControllerMissing {
                controller: "freezer".into(),
                path: Path::new(CGROUP_ROOT).join("freezer"),
            }),
        }
    }
}

impl Freezer {
    fn set(&self, frozen: bool) -> Result<()> {
        match self {
            Freezer::V1 { state } => {
                let wanted = if frozen { "FROZEN" } else { "THAWED" };
                // Writing again nudges tasks that were busy (in a vfork, say) on the last try.
                wait_until(state, wanted, || {
                    cgroup_file::write(state, wanted)?;
                    Ok(cgroup_file::read(state)?.trim() == wanted)
                })
            }
            Freezer::V2 { dir } => {
                cgroup_file::write(&dir.join("cgroup.freeze"), if frozen { "1" } else { "0" })?;
                let events = dir.join("cgroup.events");
                let wanted = if frozen { "frozen 1" } else { "frozen 0" };
                wait_until(&events, wanted, || Ok(v2_frozen(&events)? == frozen))
            }
        }
    }

    fn is_frozen(&self) -> Result<bool> {
        match self {
            Freezer::V1 { state } => Ok(cgroup_file::read(state)?.trim() == "FROZEN"),
            Freezer::V2 { dir } => v2_frozen(&dir.join("cgroup.events")),
        }
    }
}

fn v2_frozen(events: &Path) -> Result<bool> {
    let text = cgroup_file::read(events)?;
    cgroup_file::parse_with(events, &text, parse_frozen)
}

/// The `frozen` key of a `cgroup.events` file.
fn parse_frozen(events: &str) -> Result<bool, String> {
    let value = events
        .lines()
        .find_map(|line| line.strip_prefix("frozen "))
        .ok_or("no \"frozen\" key")?;
    match value.trim() {
        "0" => Ok(false),
        "1" => Ok(true),
        other => Err(format!("frozen is {other:?}")),
    }
}

/// Polls `check` until it holds, backing off from 100 µs to 10 ms, for at most [`TIMEOUT`].
fn wait_until(
    path: &Path,
    expected: &'static str,
    mut check: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let start = Instant::now();
    let mut delay = FIRST_POLL;
    loop {
        if check()? {
            return Ok(());
        }
        if start.elapsed() >= TIMEOUT {
            return Err(Error::Timeout {
                path: path.to_owned(),
                expected,
                waited: start.elapsed(),
            });
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(MAX_POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_key_of_cgroup_events() {
        assert_eq!(parse_frozen("populated 1\nfrozen 1\n"), Ok(true));
        assert_eq!(parse_frozen("populated 0\nfrozen 0\n"), Ok(false));
        assert!(parse_frozen("populated 1\n").is_err());
    }
}
