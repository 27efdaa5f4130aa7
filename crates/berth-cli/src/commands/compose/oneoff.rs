//! `compose exec` and `compose run`: a command in a service's running container, or in a
//! one-off container of the service. Both find or make the container through berth-compose,
//! then drive the session as `berth exec` and `berth run` do (terminals, stdin, signals, the
//! exit status passed on).

use std::collections::BTreeMap;

use berth_compose::orchestrate::RunOptions;
use berth_compose::plan::labels;
use berth_compose::units::shell_words;
use berth_compose::{Compose, Project};

use super::failed;
use crate::cli::{ComposeExecArgs, ComposeRunArgs, ExecArgs};
use crate::client::Connector;
use crate::commands::exec;
use crate::commands::start::{AttachedStart, Caller, start_attached};
use crate::error::CliError;
use crate::session::Streams;
use crate::{output, terminal};

pub(super) async fn exec(
    connector: &Connector,
    compose: &Compose,
    project: &Project,
    args: &ComposeExecArgs,
) -> Result<(), CliError> {
    let (service, command) = args
        .argv
        .split_first()
        .expect("clap requires the service and a command");
    let index = args.index.unwrap_or(1);
    let running = compose
        .ps(&project.name, std::slice::from_ref(service), false)
        .await
        .map_err(failed)?;
    let container = running
        .iter()
        .filter(|c| c.labels.get(labels::ONEOFF).map(String::as_str) != Some("True"))
        .find(|c| c.number == index)
        .ok_or_else(|| match index {
            1 => CliError::Failed(format!("service {service:?} is not running")),
            n => CliError::Failed(format!("service {service:?} is not running container #{n}")),
        })?;
    let exec_args = ExecArgs {
        detach: args.detach,
        detach_keys: None,
        interactive: true,
        tty: !args.no_tty,
        env: args.env.clone(),
        env_file: Vec::new(),
        user: args.user.clone(),
        workdir: args.workdir.clone(),
        privileged: args.privileged,
        argv: std::iter::once(container.id.clone())
            .chain(command.iter().cloned())
            .collect(),
    };
    exec::run(connector, exec_args).await
}

pub(super) async fn run(
    connector: &Connector,
    compose: &Compose,
    project: &Project,
    args: &ComposeRunArgs,
) -> Result<(), CliError> {
    let (service, command) = args.argv.split_first().expect("clap requires the service");
    let tty = !args.no_tty;
    if !args.detach {
        terminal::check_tty(args.interactive, tty).map_err(CliError::Failed)?;
    }
    let entrypoint = args
        .entrypoint
        .as_deref()
        .map(shell_words)
        .transpose()
        .map_err(|e| CliError::Failed(format!("invalid --entrypoint: {e}")))?;
    let options = RunOptions {
        service: service.clone(),
        command: (!command.is_empty()).then(|| command.to_vec()),
        entrypoint,
        env: args.env.clone(),
        user: args.user.clone(),
        workdir: args.workdir.clone(),
        name: args.name.clone(),
        labels: labels_of(&args.labels)?,
        volumes: args.volumes.clone(),
        publish: args.publish.clone(),
        service_ports: args.service_ports,
        no_deps: args.no_deps,
        build: args.build,
        detach: args.detach,
        tty,
        interactive: args.interactive,
    };
    let oneoff = compose.run(project, &options).await.map_err(failed)?;
    if args.detach {
        output::line(&oneoff.name);
        return Ok(());
    }
    let docker = connector.connect().await?;
    let start = AttachedStart {
        id: &oneoff.id,
        streams: Streams {
            stdin: args.interactive,
            output: true,
            tty,
            detach_keys: None,
        },
        stdout: true,
        stderr: true,
        sig_proxy: true,
        auto_remove: false,
        caller: Caller::Run,
    };
    let ended = start_attached(&docker, connector.host(), start).await;
    if args.rm {
        compose
            .remove_container(&oneoff.id, true)
            .await
            .map_err(failed)?;
    }
    ended
}

/// `-l key=value` (a bare key is an empty label, as docker compose takes it).
fn labels_of(specs: &[String]) -> Result<BTreeMap<String, String>, CliError> {
    specs
        .iter()
        .map(|spec| {
            let (key, value) = spec.split_once('=').unwrap_or((spec, ""));
            if key.is_empty() {
                return Err(CliError::Failed(format!("invalid label {spec:?}")));
            }
            Ok((key.to_string(), value.to_string()))
        })
        .collect()
}
