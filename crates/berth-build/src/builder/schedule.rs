//! Building the stages a target needs: each stage on a thread of its own once the stages it
//! depends on are built, at most [`parallel_stages`] at a time, their output shown through a
//! [`Console`]. The same step reached by two stages at once is made once ([`InFlight`]). The
//! first stage to fail fails the build; the others stop before their next step, and the host
//! is told to stop the RUN steps they have under way.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use crate::args::BuildArgs;
use crate::cache::BuildCache;
use crate::context::BuildContext;
use crate::error::{BuildError, Result};
use crate::host::BuildHost;
use crate::instructions::Stage;
use crate::options::BuildOptions;
use crate::progress::Output;

use super::console::{Console, Event, StageOutput};
use super::graph::StageGraph;
use super::in_flight::InFlight;
use super::{Builder, ImageState};

/// A stage's image and the names of the ARGs it declared, or why it failed.
pub(super) type StageResult = Result<(ImageState, BTreeSet<String>)>;

/// What to build.
pub(super) struct Plan {
    pub(super) graph: StageGraph,
    /// The stages the target needs, the target last.
    pub(super) needed: Vec<usize>,
    /// By stage: the number of the step before its FROM.
    pub(super) first_steps: Vec<usize>,
    pub(super) total: usize,
}

/// What every stage builds with.
pub(super) struct Shared<'b, H: ?Sized, C: ?Sized> {
    pub(super) host: &'b H,
    pub(super) cache: &'b C,
    pub(super) context: &'b BuildContext,
    pub(super) options: &'b BuildOptions,
    pub(super) escape: char,
    /// After the meta ARGs.
    pub(super) args: &'b BuildArgs<'b>,
    pub(super) stages: &'b [Stage],
}

/// How many stages are built at once: one per CPU, and at least two, so that stages that
/// mostly wait (a download, a `sleep`) overlap on a single CPU too.
fn parallel_stages() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .max(2)
}

/// Builds the plan's stages; returns the target's image and what each stage declared.
pub(super) fn build_stages<H, C>(
    shared: &Shared<'_, H, C>,
    plan: &Plan,
    out: &mut Output<'_>,
) -> Result<(ImageState, Vec<BTreeSet<String>>)>
where
    H: BuildHost + ?Sized,
    C: BuildCache + ?Sized,
{
    let limit = parallel_stages();
    let stop = AtomicBool::new(false);
    let in_flight = InFlight::default();
    let mut console = Console::new(out);
    let (tx, rx) = mpsc::channel::<Event<StageResult>>();
    let mut waiting = plan.needed.clone();
    let mut built: BTreeMap<usize, ImageState> = BTreeMap::new();
    let mut declared = Vec::new();
    let mut failure = None;
    std::thread::scope(|scope| {
        let mut running = 0;
        loop {
            if failure.is_none() && running < limit {
                let done: BTreeSet<usize> = built.keys().copied().collect();
                for stage in plan.graph.ready(&waiting, &done) {
                    if running == limit {
                        break;
                    }
                    waiting.retain(|s| *s != stage);
                    running += 1;
                    let builder =
                        stage_builder(shared, plan, stage, &built, (&stop, &in_flight), &tx);
                    let definition = &shared.stages[stage];
                    scope.spawn(move || run_caught(builder, definition));
                }
            }
            if running == 0 {
                break;
            }
            // A stage always ends with `Finished` (even a panicking one), and `tx` is held
            // here: this never fails while one runs.
            let Ok(event) = rx.recv() else { break };
            match event {
                Event::Text { stage, text } => console.text(stage, &text),
                Event::StepDone { stage } => console.step_done(stage),
                Event::Finished { stage, result } => {
                    running -= 1;
                    console.step_done(stage);
                    match result {
                        Ok((image, args)) => {
                            built.insert(stage, image);
                            declared.push(args);
                        }
                        Err(e) if failure.is_none() => {
                            stop.store(true, Ordering::Relaxed);
                            shared.host.abandon_running_steps();
                            failure = Some(e);
                        }
                        Err(_) => {}
                    }
                }
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    let target = plan.needed.last().copied().unwrap_or_default();
    let image = built
        .remove(&target)
        .ok_or_else(|| BuildError::Contract("the target stage was not built".to_owned()))?;
    Ok((image, declared))
}

/// The builder of `stage`, given the stages built so far.
fn stage_builder<'b, H: ?Sized, C: ?Sized>(
    shared: &Shared<'b, H, C>,
    plan: &Plan,
    stage: usize,
    built: &BTreeMap<usize, ImageState>,
    (stop, in_flight): (&'b AtomicBool, &'b InFlight),
    tx: &mpsc::Sender<Event<StageResult>>,
) -> Builder<'b, H, C> {
    let earlier = shared.stages[..stage]
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.clone(), built.get(&i).cloned()))
        .collect();
    Builder {
        host: shared.host,
        cache: shared.cache,
        context: shared.context,
        options: shared.options,
        out: StageOutput::new(stage, tx.clone()),
        escape: shared.escape,
        args: shared.args.clone(),
        earlier,
        step: plan.first_steps[stage],
        total: plan.total,
        stop,
        in_flight,
    }
}

/// Runs a stage's builder; a panic is reported as the stage's failure, then goes on.
fn run_caught<H, C>(builder: Builder<'_, H, C>, stage: &Stage)
where
    H: BuildHost + ?Sized,
    C: BuildCache + ?Sized,
{
    let out = builder.out.fresh();
    if let Err(panic) = panic::catch_unwind(AssertUnwindSafe(|| builder.run_stage(stage))) {
        let failed = BuildError::Contract("a stage's builder panicked".to_owned());
        out.finish(Err(failed));
        panic::resume_unwind(panic);
    }
}
