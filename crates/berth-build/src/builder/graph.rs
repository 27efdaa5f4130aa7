//! Which stages a build needs and which wait for which: a stage depends on the earlier stages
//! it starts from (`FROM <stage>`), copies from (`COPY --from=<stage>`) or mounts
//! (`RUN --mount=from=<stage>`). Stages that do not depend on each other may be built at the
//! same time.

use std::collections::BTreeSet;

use crate::instructions::{Instruction, Stage};
use crate::run_mount;

/// The dependencies between a Dockerfile's stages.
#[derive(Debug)]
pub(super) struct StageGraph {
    /// For each stage, the earlier stages it needs.
    deps: Vec<BTreeSet<usize>>,
}

/// What a `--from` or `from=` value names, as far as can be told before the build runs.
enum Refers {
    Stage(usize),
    /// A `$VAR` only known while the stage builds: any earlier stage, to be safe.
    AnyEarlier,
    /// An image (or nothing the build knows: the step reports it).
    Other,
}

impl StageGraph {
    /// `from_images[i]` is stage `i`'s FROM image as expanded with the meta ARGs (`None` when
    /// it does not expand: that stage fails by itself).
    pub(super) fn new(stages: &[Stage], from_images: &[Option<String>]) -> Self {
        let deps = stages
            .iter()
            .enumerate()
            .map(|(index, stage)| {
                let mut deps = BTreeSet::new();
                let from = from_images.get(index).cloned().flatten();
                if let Some(from) = from
                    && let Some(j) = by_name(stages, index, &from)
                {
                    deps.insert(j);
                }
                for reference in stage_references(stage) {
                    match refers(stages, index, &reference) {
                        Refers::Stage(j) => {
                            deps.insert(j);
                        }
                        Refers::AnyEarlier => deps.extend(0..index),
                        Refers::Other => {}
                    }
                }
                deps
            })
            .collect();
        Self { deps }
    }

    /// The stages `stage` needs directly.
    pub(super) fn deps(&self, stage: usize) -> &BTreeSet<usize> {
        &self.deps[stage]
    }

    /// `target` and every stage it needs, directly or not, in Dockerfile order.
    pub(super) fn closure(&self, target: usize) -> Vec<usize> {
        let mut needed = BTreeSet::from([target]);
        let mut todo = vec![target];
        while let Some(stage) = todo.pop() {
            for &dep in &self.deps[stage] {
                if needed.insert(dep) {
                    todo.push(dep);
                }
            }
        }
        needed.into_iter().collect()
    }

    /// Of `waiting`, the stages whose dependencies are all `done`: they can run together.
    pub(super) fn ready(&self, waiting: &[usize], done: &BTreeSet<usize>) -> Vec<usize> {
        waiting
            .iter()
            .copied()
            .filter(|&stage| self.deps(stage).is_subset(done))
            .collect()
    }
}

/// The first stage before `before` named `name` (case-insensitive), as FROM looks it up.
fn by_name(stages: &[Stage], before: usize, name: &str) -> Option<usize> {
    let lower = name.to_ascii_lowercase();
    stages[..before]
        .iter()
        .position(|s| s.name.as_deref() == Some(lower.as_str()))
}

/// A `--from` value: an earlier stage's name, else an earlier stage's index.
fn refers(stages: &[Stage], before: usize, reference: &str) -> Refers {
    if reference.contains('$') {
        return Refers::AnyEarlier;
    }
    if let Some(j) = by_name(stages, before, reference) {
        return Refers::Stage(j);
    }
    match reference.parse::<usize>() {
        Ok(j) if j < before => Refers::Stage(j),
        _ => Refers::Other,
    }
}

/// The `--from` of the stage's COPY and ADD steps and the `from=` of its RUN mounts, as
/// written. A mount that names a variable counts as `$` (any earlier stage).
fn stage_references(stage: &Stage) -> Vec<String> {
    let mut references = Vec::new();
    for step in &stage.steps {
        match &step.instruction {
            Instruction::Copy(args) | Instruction::Add(args) => {
                references.extend(args.from.clone());
            }
            Instruction::Run(run) => {
                for raw in &run.mounts {
                    if raw.contains('$') {
                        references.push("$".to_owned());
                        continue;
                    }
                    let literal = |v: &str| Ok(v.to_owned());
                    if let Ok(mount) = run_mount::parse(raw, &literal) {
                        references.extend(mount.from);
                    }
                }
            }
            _ => {}
        }
    }
    references
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instructions::parse_dockerfile;

    fn graph(dockerfile: &str) -> StageGraph {
        let parsed = parse_dockerfile(dockerfile).unwrap();
        let from_images: Vec<Option<String>> = parsed
            .stages
            .iter()
            .map(|s| match &s.from.instruction {
                Instruction::From { image, .. } => Some(image.clone()),
                _ => None,
            })
            .collect();
        StageGraph::new(&parsed.stages, &from_images)
    }

    fn set(stages: &[usize]) -> BTreeSet<usize> {
        stages.iter().copied().collect()
    }

    const DIAMOND: &str = "FROM busybox AS a\nRUN sleep 2\n\
                           FROM busybox AS b\nRUN sleep 2\n\
                           FROM busybox AS unused\nRUN true\n\
                           FROM busybox\nCOPY --from=a /x /a\nCOPY --from=B /x /b\n";

    #[test]
    fn independent_stages_are_ready_together_and_the_final_one_after_them() {
        let g = graph(DIAMOND);
        assert_eq!(g.deps(0), &set(&[]));
        assert_eq!(g.deps(3), &set(&[0, 1]));
        let needed = g.closure(3);
        assert_eq!(needed, [0, 1, 3], "the unused stage is not built");
        assert_eq!(g.ready(&needed, &set(&[])), [0, 1]);
        assert_eq!(g.ready(&[3], &set(&[0])), Vec::<usize>::new());
        assert_eq!(g.ready(&[3], &set(&[0, 1])), [3]);
    }

    #[test]
    fn from_a_stage_mounts_and_indexes_are_dependencies() {
        let g = graph(
            "FROM busybox AS base\n\
             FROM base AS child\n\
             FROM busybox AS tools\n\
             FROM busybox\n\
             RUN --mount=type=bind,from=tools,target=/t true\n\
             RUN --mount=type=cache,target=/c,from=0 true\n\
             COPY --from=1 /x /x\n",
        );
        assert_eq!(g.deps(1), &set(&[0]));
        assert_eq!(g.deps(2), &set(&[]));
        assert_eq!(g.deps(3), &set(&[0, 1, 2]));
        assert_eq!(g.closure(1), [0, 1]);
        assert_eq!(g.ready(&[0, 1, 2], &set(&[])), [0, 2]);
    }

    #[test]
    fn images_later_stages_and_self_references_are_not_dependencies() {
        let g = graph(
            "FROM busybox AS a\n\
             COPY --from=alpine /x /x\n\
             COPY --from=later /x /x\n\
             COPY --from=a /x /x\n\
             COPY --from=5 /x /x\n\
             FROM busybox AS later\n",
        );
        assert_eq!(g.deps(0), &set(&[]));
        assert_eq!(g.deps(1), &set(&[]));
        assert_eq!(g.closure(1), [1]);
    }

    #[test]
    fn a_variable_reference_waits_for_every_earlier_stage() {
        let g = graph(
            "FROM busybox AS a\n\
             FROM busybox AS b\n\
             FROM busybox AS c\n\
             ARG SRC=a\n\
             COPY --from=$SRC /x /x\n\
             FROM busybox\n\
             RUN --mount=from=${SRC},target=/s true\n",
        );
        assert_eq!(g.deps(2), &set(&[0, 1]));
        assert_eq!(g.deps(3), &set(&[0, 1, 2]));
    }
}
