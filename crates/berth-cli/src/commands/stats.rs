//! `stats`: containers' resource use, once (`--no-stream`) or refreshed in place every half
//! second. Each container's samples are read by a task of its own; without names, the
//! running containers (all with `-a`), and those that start later, are shown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{EventsOptions, ListContainersOptions, StatsOptions};
use futures_util::StreamExt;
use tokio::sync::oneshot;

use crate::cli::StatsArgs;
use crate::client::Connector;
use crate::error::{CliError, describe, template_failure};
use crate::format::list::ListFormat;
use crate::format::stats::{self, Entry, TABLE};
use crate::output;

/// How long a container may take to send a sample before it shows as dashes.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the streaming table is redrawn.
const REFRESH: Duration = Duration::from_millis(500);

/// The containers shown, in the order they came, with their latest figures and whether
/// reading them failed.
#[derive(Default)]
struct Board {
    slots: Vec<(Entry, Option<String>)>,
}

type Shared = Arc<Mutex<Board>>;

impl Board {
    /// Adds `container` unless it is shown already; returns whether it was added.
    fn add(&mut self, container: &str) -> bool {
        if self
            .slots
            .iter()
            .any(|(entry, _)| entry.container == container)
        {
            return false;
        }
        self.slots.push((Entry::new(container), None));
        true
    }

    fn remove(&mut self, container: &str) {
        self.slots.retain(|(entry, _)| entry.container != container);
    }

    fn update(&mut self, container: &str, change: impl FnOnce(&mut Entry, &mut Option<String>)) {
        if let Some((entry, error)) = self
            .slots
            .iter_mut()
            .find(|(entry, _)| entry.container == container)
        {
            change(entry, error);
        }
    }
}

pub async fn run(connector: &Connector, args: StatsArgs) -> Result<(), CliError> {
    let format = ListFormat::new(args.format.as_deref(), TABLE, false)
        .map_err(template_failure("template parsing error"))?;
    let docker = connector.connect().await?;
    let board: Shared = Arc::default();
    let stream = !args.no_stream;
    let show_all = args.containers.is_empty();
    let mut first_samples = Vec::new();
    let mut watching = None;
    if show_all {
        if stream {
            watching = Some(tokio::spawn(follow_events(
                docker.clone(),
                board.clone(),
                args.all,
            )));
        }
        let options = ListContainersOptions {
            all: args.all,
            ..Default::default()
        };
        for container in docker.list_containers(Some(options)).await? {
            let id: String = container.id.unwrap_or_default().chars().take(12).collect();
            first_samples.extend(start_collecting(&docker, &board, &id, stream));
        }
    } else {
        for container in &args.containers {
            first_samples.extend(start_collecting(&docker, &board, container, stream));
        }
    }
    for first in first_samples {
        // A collector that ended without a word has recorded why.
        let _ = first.await;
    }
    if !show_all {
        let errors: Vec<String> = board
            .lock()
            .map_err(|_| poisoned())?
            .slots
            .iter()
            .filter_map(|(_, error)| error.clone())
            .collect();
        if !errors.is_empty() {
            return Err(CliError::Failed(errors.join("\n")));
        }
    }
    let mut ticks = tokio::time::interval(REFRESH);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let (rows, empty) = {
            let board = board.lock().map_err(|_| poisoned())?;
            let rows: Vec<_> = board
                .slots
                .iter()
                .map(|(entry, _)| stats::row(entry, !args.no_trunc))
                .collect();
            (rows, board.slots.is_empty())
        };
        let table = format
            .render(&rows, &stats::headers())
            .map_err(template_failure("template parsing error"))?;
        output::print(&if stream { redraw(&table) } else { table });
        if !stream || (empty && !show_all) {
            return Ok(());
        }
        // The event stream failing ends the command with its failure.
        if let Some(task) = watching.as_mut().filter(|task| task.is_finished()) {
            return task.await.unwrap_or(Ok(()));
        }
    }
}

fn poisoned() -> CliError {
    CliError::Failed("stats collector panicked".to_string())
}

/// The table drawn over the previous one, byte for byte as docker draws it: from the top
/// left, the table; then from the top left again, each line of it cleared to its end; then
/// whatever the previous table had below cleared.
fn redraw(table: &str) -> String {
    let first = format!("\x1b[H{table}");
    let mut out = first.clone();
    for line in first.split('\n') {
        out.push_str(line);
        out.push_str(" \x1b[K\n");
    }
    out.push_str("\x1b[J");
    out
}

/// Shows `container` and starts reading its samples; returns what tells of the first one,
/// unless it was shown already.
fn start_collecting(
    docker: &Docker,
    board: &Shared,
    container: &str,
    stream: bool,
) -> Option<oneshot::Receiver<()>> {
    if !board.lock().ok()?.add(container) {
        return None;
    }
    let (first, first_sample) = oneshot::channel();
    tokio::spawn(collect(
        docker.clone(),
        board.clone(),
        container.to_string(),
        stream,
        first,
    ));
    Some(first_sample)
}

/// Reads `container`'s samples into the board: each one replaces the figures; none within
/// the timeout, or a failure, leaves dashes. `first` is told after the first outcome.
async fn collect(
    docker: Docker,
    board: Shared,
    container: String,
    stream: bool,
    first: oneshot::Sender<()>,
) {
    let mut first = Some(first);
    let mut samples = docker.stats(
        &container,
        Some(StatsOptions {
            stream,
            one_shot: false,
        }),
    );
    let update = |change: &mut dyn FnMut(&mut Entry, &mut Option<String>)| {
        if let Ok(mut board) = board.lock() {
            board.update(&container, change);
        }
    };
    loop {
        let ended = match tokio::time::timeout(SAMPLE_TIMEOUT, samples.next()).await {
            Err(_) => {
                update(&mut |entry, error| {
                    entry.reset();
                    *error = Some("timeout waiting for stats".to_string());
                });
                false
            }
            Ok(Some(Ok(sample))) => {
                update(&mut |entry, error| {
                    *entry = Entry::from_sample(&container, &sample);
                    *error = None;
                });
                false
            }
            Ok(Some(Err(failure))) => {
                update(&mut |entry, error| {
                    entry.invalid = true;
                    *error = Some(describe(&failure));
                });
                true
            }
            Ok(None) => {
                update(&mut |entry, _| entry.invalid = true);
                true
            }
        };
        if let Some(first) = first.take() {
            let _ = first.send(());
        }
        if ended || !stream {
            return;
        }
    }
}

/// Keeps the board in step with the daemon's container events: started containers (created
/// ones with `-a`) are added, and without `-a` dead ones are taken off.
async fn follow_events(docker: Docker, board: Shared, all: bool) -> Result<(), CliError> {
    let filters = HashMap::from([("type".to_string(), vec!["container".to_string()])]);
    let options = EventsOptions {
        filters: Some(filters),
        ..Default::default()
    };
    let mut events = docker.events(Some(options));
    while let Some(event) = events.next().await {
        let event = event?;
        let id: String = event
            .actor
            .and_then(|actor| actor.id)
            .unwrap_or_default()
            .chars()
            .take(12)
            .collect();
        match event.action.as_deref() {
            Some("start") => {
                start_collecting(&docker, &board, &id, true);
            }
            Some("create") if all => {
                start_collecting(&docker, &board, &id, true);
            }
            Some("die") if !all => {
                if let Ok(mut board) = board.lock() {
                    board.remove(&id);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redraws_in_place() {
        assert_eq!(
            redraw("A   B\n1   2\n"),
            "\x1b[HA   B\n1   2\n\x1b[HA   B \x1b[K\n1   2 \x1b[K\n \x1b[K\n\x1b[J"
        );
    }

    #[test]
    fn board_keeps_one_slot_per_container() {
        let mut board = Board::default();
        assert!(board.add("a"));
        assert!(board.add("b"));
        assert!(!board.add("a"));
        board.update("b", |entry, error| {
            entry.pids = 3;
            *error = Some("x".into());
        });
        assert_eq!(board.slots[1].0.pids, 3);
        board.remove("a");
        assert_eq!(board.slots.len(), 1);
        assert_eq!(board.slots[0].0.container, "b");
    }
}
