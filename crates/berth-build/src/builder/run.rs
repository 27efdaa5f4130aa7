//! RUN: the command line (here-documents included) run in a container by the host, with the
//! step's `--mount`s and `--network`, its changes committed as a layer.

use crate::cache::BuildCache;
use crate::config::ContainerConfig;
use crate::error::{BuildError, Result};
use crate::heredoc;
use crate::host::{BuildHost, RunExit, RunStep};
use crate::instructions::{CommandLine, RunArgs};

use super::console::StepOutput;
use super::run_mounts::Script;
use super::{Builder, StageState};

impl<H: BuildHost + ?Sized, C: BuildCache + ?Sized> Builder<'_, H, C> {
    pub(super) fn run(&mut self, state: &mut StageState, run: &RunArgs, line: usize) -> Result<()> {
        let config = state.image.config.config.clone();
        let (argv, script) = run_argv(&config, run);
        let in_scope = self.args.in_scope(&state.args, config.env());
        let recorded = self.args.recorded(&state.args, &in_scope);
        // Build args are part of the history line, so changing one misses the cache.
        let mut saved = Vec::new();
        if !recorded.is_empty() {
            saved.push(format!("|{}", recorded.len()));
            saved.extend(recorded);
        }
        saved.extend(argv.iter().cloned());
        let created_by = saved.join(" ");
        let plan = self.plan_mounts(state, &run.mounts, line)?;
        let mut key_extra = plan.key.clone();
        if let Some(network) = &run.network {
            key_extra.push_str(&format!("\nnetwork={network}"));
        }
        let network_mode = match run.network.as_deref() {
            None | Some("default") => self.options.network_mode.clone(),
            Some(mode) => mode.to_owned(),
        };
        let mut env = config.env().to_vec();
        env.extend(in_scope);
        env.extend(plan.env.iter().cloned());
        // A container that saw a secret never outlives its step.
        let secret = plan.has_secrets();
        let step = RunStep {
            image: String::new(),
            layers: Vec::new(),
            cmd: argv,
            env,
            user: config.user.clone(),
            working_dir: config.working_dir.clone(),
            volumes: config
                .volumes
                .as_ref()
                .map(|v| v.keys().cloned().collect())
                .unwrap_or_default(),
            network_mode,
            mounts: Vec::new(),
            remove_on_success: self.options.remove || self.options.force_remove || secret,
            remove_on_failure: self.options.force_remove || secret,
        };
        self.commit_keyed(state, created_by, &key_extra, config, move |b, state| {
            let prepared = b.prepare_mounts(&plan, script.as_ref())?;
            let step = RunStep {
                image: state.image.id_str().to_owned(),
                layers: state.image.chain(),
                mounts: prepared.mounts.clone(),
                ..step
            };
            let mut output = StepOutput {
                out: &mut b.out,
                container: None,
            };
            let exit = b.host.run(&step, &mut output).map_err(BuildError::Host)?;
            let container = output.container;
            drop(prepared);
            match exit {
                RunExit::Failed { code } => Err(BuildError::NonZeroExit {
                    command: step.cmd.join(" "),
                    code,
                }),
                RunExit::Succeeded { diff } => {
                    if step.remove_on_success
                        && let Some(id) = container
                    {
                        b.out.line(&format!("Removing intermediate container {id}"));
                    }
                    b.layer_from_diff(state, diff)
                }
            }
        })
    }
}

/// Where a here-document that starts with `#!` is run from, as in Docker's frontend.
const SCRIPT_DIR: &str = "/dev/pipes";

/// The argv of a RUN, CMD or ENTRYPOINT: the shell form runs in the image's shell.
pub(super) fn command_argv(config: &ContainerConfig, command: &CommandLine) -> Vec<String> {
    match command {
        CommandLine::Exec(words) => words.clone(),
        CommandLine::Shell(line) => {
            let mut argv = config.shell();
            argv.push(line.clone());
            argv
        }
    }
}

/// A RUN's argv, here-documents included as Docker's frontend does: a line that is only
/// `<<EOF` runs the document itself (a `#!` script from a file, else as the shell command);
/// otherwise the documents are put back after the line for the shell to read.
fn run_argv(config: &ContainerConfig, run: &RunArgs) -> (Vec<String>, Option<Script>) {
    let CommandLine::Shell(line) = &run.command else {
        return (command_argv(config, &run.command), None);
    };
    let Some(first) = run.heredocs.first() else {
        return (command_argv(config, &run.command), None);
    };
    let mut argv = config.shell();
    if heredoc::parse_word(line.trim()).is_some() {
        let body = first.body();
        if body.starts_with("#!") {
            let name = first.name.replace('/', "_");
            let target = format!("{SCRIPT_DIR}/{name}");
            argv.push(target.clone());
            return (argv, Some(Script { target, body }));
        }
        argv.push(body);
        return (argv, None);
    }
    let mut full = line.clone();
    for doc in &run.heredocs {
        full.push('\n');
        full.push_str(&doc.content);
        full.push_str(&doc.name);
    }
    argv.push(full);
    (argv, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heredoc::Heredoc;

    fn run_args(line: &str, docs: &[(&str, &str, bool)]) -> RunArgs {
        RunArgs {
            command: CommandLine::Shell(line.into()),
            heredocs: docs
                .iter()
                .map(|(name, content, chomp)| Heredoc {
                    name: (*name).into(),
                    content: (*content).into(),
                    expand: true,
                    chomp: *chomp,
                })
                .collect(),
            mounts: Vec::new(),
            network: None,
        }
    }

    #[test]
    fn a_lone_heredoc_is_the_shell_command() {
        let config = ContainerConfig::default();
        let (argv, script) = run_argv(
            &config,
            &run_args("<<-EOF", &[("EOF", "\techo $A\n", true)]),
        );
        assert_eq!(argv, ["/bin/sh", "-c", "echo $A\n"]);
        assert!(script.is_none());
    }

    #[test]
    fn a_shebang_heredoc_runs_as_a_script() {
        let config = ContainerConfig::default();
        let (argv, script) = run_argv(
            &config,
            &run_args("<<EOF", &[("EOF", "#!/bin/busybox sh\necho\n", false)]),
        );
        assert_eq!(argv, ["/bin/sh", "-c", "/dev/pipes/EOF"]);
        let script = script.unwrap();
        assert_eq!(script.target, "/dev/pipes/EOF");
        assert_eq!(script.body, "#!/bin/busybox sh\necho\n");
    }

    #[test]
    fn other_heredocs_go_back_to_the_shell() {
        let config = ContainerConfig::default();
        let run = run_args(
            "python3 <<EOF > /out && cat <<-'B'",
            &[("EOF", "print(1)\n", false), ("B", "\tb\n", true)],
        );
        let (argv, _) = run_argv(&config, &run);
        assert_eq!(
            argv[2],
            "python3 <<EOF > /out && cat <<-'B'\nprint(1)\nEOF\n\tb\nB"
        );
    }
}
