//! `compose`: docker compose v2 on berth-compose. Each subcommand loads the project from the
//! global flags, then drives the daemon through the library, printing its events as docker
//! compose does (` ✔ Container app-web-1  Started` on a terminal, every step plainly
//! otherwise).

mod listing;
mod oneoff;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use berth_compose::orchestrate::{
    BuildOptions, DownOptions, Event, LogPrefixer, LogsOptions, RemoveImages, Status, UpOptions,
};
use berth_compose::{Compose, LoadOptions, Project};
use futures_util::StreamExt;
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::cli::{
    ComposeArgs, ComposeBuildArgs, ComposeCommand, ComposeConfigArgs, ComposeDownArgs,
    ComposeLogsArgs, ComposeLsArgs, ComposePsArgs, ComposeRmArgs, ComposeUpArgs,
};
use crate::client::Connector;
use crate::credentials;
use crate::error::{CliError, template_failure};
use crate::format::list::ListFormat;
use crate::format::time::ago;
use crate::output;

const PS_TABLE: &str = "table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}";

/// Whether `args` runs in the foreground with its own Ctrl-C handling (`up` attached, and
/// the sessions of `exec` and `run`).
pub fn handles_interrupts(args: &ComposeArgs) -> bool {
    match &args.command {
        ComposeCommand::Up(up) => !up.detach && !up.wait,
        ComposeCommand::Exec(exec) => !exec.detach,
        ComposeCommand::Run(run) => !run.detach,
        _ => false,
    }
}

pub async fn run(connector: &Connector, args: ComposeArgs) -> Result<(), CliError> {
    let load = |services: &[String]| load(&args, services);
    match &args.command {
        ComposeCommand::Config(config) => show_config(&load(&config.service)?, config),
        ComposeCommand::Ls(ls) => list_projects(&client(connector).await?, ls).await,
        ComposeCommand::Up(up) => {
            let project = load(&up.services)?;
            bring_up(&client(connector).await?, &project, up).await
        }
        ComposeCommand::Down(down) => {
            let project = load(&[])?;
            take_down(&client(connector).await?, &project, down).await
        }
        ComposeCommand::Ps(ps) => {
            let project = load(&ps.service)?;
            list_containers(&client(connector).await?, &project, ps).await
        }
        ComposeCommand::Logs(logs) => {
            let project = load(&logs.services)?;
            show_logs(&client(connector).await?, &project, logs).await
        }
        ComposeCommand::Start(start) => {
            let project = load(&start.services)?;
            let compose = client(connector).await?;
            compose
                .start(&project, &start.services)
                .await
                .map_err(failed)
        }
        ComposeCommand::Stop(stop) => {
            let project = load(&stop.services)?;
            let compose = client(connector).await?;
            compose
                .stop(&project, &stop.services, stop.timeout)
                .await
                .map_err(failed)
        }
        ComposeCommand::Restart(restart) => {
            let project = load(&restart.services)?;
            let compose = client(connector).await?;
            compose
                .restart(&project, &restart.services, restart.timeout)
                .await
                .map_err(failed)
        }
        ComposeCommand::Rm(rm) => {
            let project = load(&rm.services)?;
            remove(&client(connector).await?, &project, rm).await
        }
        ComposeCommand::Pull(pull) => {
            let project = load(&pull.services)?;
            let compose = client_for(connector, pull.quiet).await?;
            compose
                .pull(&project, &pull.services, pull.ignore_pull_failures)
                .await
                .map_err(failed)
        }
        ComposeCommand::Exec(exec) => {
            let project = load(&exec.argv[..1])?;
            oneoff::exec(connector, &client(connector).await?, &project, exec).await
        }
        ComposeCommand::Run(run) => {
            let project = load(&run.argv[..1])?;
            oneoff::run(connector, &client(connector).await?, &project, run).await
        }
        ComposeCommand::Build(build) => {
            let project = load(&build.services)?;
            let compose = client_for(connector, build.quiet).await?;
            compose
                .build(&project, &build_options(build)?)
                .await
                .map_err(failed)
        }
        ComposeCommand::Push(push) => {
            let project = load(&push.services)?;
            let compose = client_for(connector, push.quiet).await?;
            compose
                .push(&project, &push.services, push.ignore_push_failures)
                .await
                .map_err(failed)
        }
        ComposeCommand::Kill(kill) => {
            let project = load(&kill.services)?;
            let compose = client(connector).await?;
            compose
                .kill(&project, &kill.services, Some(&kill.signal))
                .await
                .map_err(failed)
        }
        ComposeCommand::Pause(targets) | ComposeCommand::Unpause(targets) => {
            let project = load(&targets.services)?;
            let compose = client(connector).await?;
            let done = match &args.command {
                ComposeCommand::Pause(_) => compose.pause(&project, &targets.services).await,
                _ => compose.unpause(&project, &targets.services).await,
            };
            done.map_err(failed)
        }
        ComposeCommand::Top(top) => {
            let project = load(&top.services)?;
            let compose = quiet_client(connector).await?;
            listing::top(&compose, &project.name, &top.services).await
        }
        ComposeCommand::Images(images) => {
            let project = load(&images.services)?;
            let compose = quiet_client(connector).await?;
            listing::images(&compose, &project.name, images).await
        }
        ComposeCommand::Port(port) => {
            let project = load(std::slice::from_ref(&port.service))?;
            let compose = quiet_client(connector).await?;
            listing::port(&compose, &project.name, port).await
        }
        ComposeCommand::Version(version) => {
            listing::version(version);
            Ok(())
        }
    }
}

/// `--build-arg KEY=value`, or `KEY` for the value in our environment (left out when unset).
fn build_options(args: &ComposeBuildArgs) -> Result<BuildOptions, CliError> {
    let mut build_args = BTreeMap::new();
    for spec in &args.build_args {
        match spec.split_once('=') {
            Some((key, value)) => {
                build_args.insert(key.to_string(), value.to_string());
            }
            None => {
                if let Ok(value) = std::env::var(spec) {
                    build_args.insert(spec.clone(), value);
                }
            }
        }
    }
    Ok(BuildOptions {
        services: args.services.clone(),
        no_cache: args.no_cache,
        pull: args.pull,
        args: build_args,
    })
}

fn failed(error: berth_compose::Error) -> CliError {
    CliError::Failed(error.to_string())
}

/// The project the global flags and `services` describe, its warnings printed.
fn load(args: &ComposeArgs, services: &[String]) -> Result<Project, CliError> {
    let project = berth_compose::load(&LoadOptions {
        files: args.files.clone(),
        project_name: args.project_name.clone(),
        project_directory: args.project_directory.clone(),
        env_files: args.env_files.clone(),
        profiles: args.profiles.clone(),
        services: services.to_vec(),
        ..Default::default()
    })
    .map_err(failed)?;
    for warning in &project.warnings {
        eprintln!("WARN[0000] {warning}");
    }
    Ok(project)
}

/// A compose client whose events go to stderr.
async fn client(connector: &Connector) -> Result<Compose, CliError> {
    let terminal = std::io::stderr().is_terminal();
    Ok(quiet_client(connector).await?.with_progress(move |event| {
        if let Some(line) = event_line(event, terminal) {
            eprintln!("{line}");
        }
    }))
}

/// A compose client: quiet, or printing its events.
async fn client_for(connector: &Connector, quiet: bool) -> Result<Compose, CliError> {
    match quiet {
        true => quiet_client(connector).await,
        false => client(connector).await,
    }
}

/// A compose client that prints nothing; its pulls and pushes send the credentials stored
/// by `login`, as docker compose does.
async fn quiet_client(connector: &Connector) -> Result<Compose, CliError> {
    let docker = connector.connect().await?;
    Ok(Compose::new(docker).with_credentials(credentials::for_image))
}

/// How docker compose shows an event: on a terminal, the finished steps with a check mark
/// (warnings with `!`); otherwise every step, plainly.
fn event_line(event: &Event, terminal: bool) -> Option<String> {
    if !terminal {
        return Some(event.to_string());
    }
    match &event.status {
        Status::Warning(_) => Some(format!(" ! {event}")),
        Status::Output(_) => Some(format!("   {event}")),
        status if is_final(status) => Some(format!(" \u{2714} {event}")),
        _ => None,
    }
}

fn is_final(status: &Status) -> bool {
    matches!(
        status,
        Status::Created
            | Status::Recreated
            | Status::Started
            | Status::Running
            | Status::Healthy
            | Status::Exited(_)
            | Status::Stopped
            | Status::Killed
            | Status::Removed
            | Status::Restarted
            | Status::Paused
            | Status::Unpaused
            | Status::Pulled
            | Status::Built
            | Status::Pushed
    )
}

fn show_config(project: &Project, args: &ComposeConfigArgs) -> Result<(), CliError> {
    if args.quiet {
        return Ok(());
    }
    if args.services {
        for name in project.services.keys() {
            output::line(name);
        }
        return Ok(());
    }
    let text = match args.format.as_str() {
        "json" => berth_compose::config::to_json(project),
        _ => berth_compose::config::to_yaml(project),
    };
    output::print(&text);
    if !text.ends_with('\n') {
        output::print("\n");
    }
    Ok(())
}

fn up_options(args: &ComposeUpArgs) -> UpOptions {
    UpOptions {
        services: args.services.clone(),
        build: args.build,
        no_build: args.no_build,
        force_recreate: args.force_recreate,
        no_recreate: args.no_recreate,
        remove_orphans: args.remove_orphans,
        scale: args.scale.iter().cloned().collect::<BTreeMap<_, _>>(),
        no_deps: args.no_deps,
        wait: args.wait,
        wait_timeout: args.wait_timeout.map(Duration::from_secs),
        timeout: args.timeout,
        ..Default::default()
    }
}

async fn bring_up(
    compose: &Compose,
    project: &Project,
    args: &ComposeUpArgs,
) -> Result<(), CliError> {
    let options = up_options(args);
    if args.detach || args.wait {
        return compose.up(project, &options).await.map_err(failed);
    }
    let mut logs = compose
        .up_attached(project, &options)
        .await
        .map_err(failed)?;
    let containers = compose
        .ps(&project.name, &args.services, true)
        .await
        .map_err(failed)?;
    let names: Vec<String> = containers.iter().map(|c| c.log_name()).collect();
    output::line(&format!("Attaching to {}", names.join(", ")));
    let mut prefix = LogPrefixer::new(names, std::io::stdout().is_terminal());
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            event = logs.next() => match event {
                Some(event) => output::print(&prefix.format(&event.map_err(failed)?)),
                None => return Ok(()),
            },
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
        }
    }
    drop(logs);
    eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
    tokio::select! {
        result = compose.stop(project, &args.services, args.timeout) => result.map_err(failed),
        _ = interrupt.recv() => Err(CliError::ContainerExit(130)),
    }
}

async fn take_down(
    compose: &Compose,
    project: &Project,
    args: &ComposeDownArgs,
) -> Result<(), CliError> {
    let options = DownOptions {
        volumes: args.volumes,
        remove_images: match args.rmi.as_deref() {
            Some("all") => Some(RemoveImages::All),
            Some("local") => Some(RemoveImages::Local),
            _ => None,
        },
        remove_orphans: args.remove_orphans,
        timeout: args.timeout,
    };
    compose.down(project, &options).await.map_err(failed)
}

async fn list_containers(
    compose: &Compose,
    project: &Project,
    args: &ComposePsArgs,
) -> Result<(), CliError> {
    let containers = compose
        .ps(&project.name, &args.service, args.all)
        .await
        .map_err(failed)?;
    if args.services {
        let mut services: Vec<&str> = containers.iter().map(|c| c.service.as_str()).collect();
        services.dedup();
        for service in services {
            output::line(service);
        }
        return Ok(());
    }
    let now = Timestamp::now();
    let rows: Vec<Value> = containers
        .iter()
        .map(|c| {
            let mut row = serde_json::to_value(c).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut row {
                map.insert("Command".into(), json!(quoted_command(&c.command)));
                map.insert("RunningFor".into(), json!(ago(c.created, now)));
                map.insert("Ports".into(), json!(c.ports()));
            }
            row
        })
        .collect();
    let headers = json!({
        "ID": "CONTAINER ID", "Name": "NAME", "Image": "IMAGE", "Command": "COMMAND",
        "Service": "SERVICE", "RunningFor": "CREATED", "Status": "STATUS", "Ports": "PORTS",
        "Project": "PROJECT", "State": "STATE", "Health": "HEALTH", "ExitCode": "EXIT CODE",
    });
    if args.format.as_deref() == Some("json") {
        for container in &containers {
            let line = serde_json::to_string(container).map_err(std::io::Error::other)?;
            output::line(&line);
        }
        return Ok(());
    }
    let format = ListFormat::new(args.format.as_deref(), PS_TABLE, args.quiet)
        .map_err(crate::error::bad_format)?;
    let text = format
        .render(&rows, &headers)
        .map_err(template_failure("template: ps"))?;
    output::print(&text);
    Ok(())
}

/// The COMMAND column: quoted, cut at 20 characters with an ellipsis.
fn quoted_command(command: &str) -> String {
    let mut chars = command.chars();
    let cut: String = chars.by_ref().take(19).collect();
    if chars.next().is_some() {
        format!("\"{cut}\u{2026}\"")
    } else {
        format!("\"{command}\"")
    }
}

async fn show_logs(
    compose: &Compose,
    project: &Project,
    args: &ComposeLogsArgs,
) -> Result<(), CliError> {
    let tail = match args.tail.as_str() {
        "all" | "-1" => None,
        n => Some(n.parse::<u64>().map_err(|_| {
            CliError::Failed(format!(
                "invalid --tail value {n:?}: expected a number or \"all\""
            ))
        })?),
    };
    let options = LogsOptions {
        services: args.services.clone(),
        follow: args.follow,
        tail,
        timestamps: args.timestamps,
        ..Default::default()
    };
    let mut logs = compose
        .logs(&project.name, &options)
        .await
        .map_err(failed)?;
    let containers = compose
        .ps(&project.name, &args.services, true)
        .await
        .map_err(failed)?;
    let color = !args.no_color && std::io::stdout().is_terminal();
    let mut prefix = LogPrefixer::new(containers.iter().map(|c| c.log_name()), color);
    while let Some(event) = logs.next().await {
        let event = event.map_err(failed)?;
        if args.no_log_prefix {
            if let berth_compose::orchestrate::LogEvent::Line { text, .. } = &event {
                output::print(&String::from_utf8_lossy(text));
            }
        } else {
            output::print(&prefix.format(&event));
        }
    }
    Ok(())
}

async fn remove(
    compose: &Compose,
    project: &Project,
    args: &ComposeRmArgs,
) -> Result<(), CliError> {
    // Without -f docker compose asks first; berth removes what is stopped as -f would.
    let removed = compose
        .rm(project, &args.services, args.stop, args.volumes)
        .await
        .map_err(failed)?;
    if removed.is_empty() {
        eprintln!("No stopped containers");
    }
    Ok(())
}

async fn list_projects(compose: &Compose, args: &ComposeLsArgs) -> Result<(), CliError> {
    let projects = compose.ls(args.all).await.map_err(failed)?;
    if args.quiet {
        for project in &projects {
            output::line(&project.name);
        }
    } else if args.format == "json" {
        let text = serde_json::to_string(&projects).map_err(std::io::Error::other)?;
        output::line(&text);
    } else {
        let mut text = "NAME\tSTATUS\tCONFIG FILES\n".to_string();
        for project in &projects {
            text.push_str(&format!(
                "{}\t{}\t{}\n",
                project.name, project.status, project.config_files
            ));
        }
        output::print(&crate::format::table::align(&text));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_compose::orchestrate::Resource;

    #[test]
    fn events_on_a_terminal_and_plain() {
        let event = |status| Event {
            resource: Resource::Container,
            name: "app-web-1".into(),
            status,
        };
        assert_eq!(
            event_line(&event(Status::Started), true).as_deref(),
            Some(" \u{2714} Container app-web-1  Started")
        );
        assert_eq!(event_line(&event(Status::Starting), true), None);
        assert_eq!(
            event_line(&event(Status::Starting), false).as_deref(),
            Some("Container app-web-1  Starting")
        );
    }

    #[test]
    fn commands_are_quoted_and_cut() {
        assert_eq!(quoted_command("sleep 1"), "\"sleep 1\"");
        assert_eq!(
            quoted_command("docker-entrypoint.sh postgres"),
            "\"docker-entrypoint.s\u{2026}\""
        );
    }
}
