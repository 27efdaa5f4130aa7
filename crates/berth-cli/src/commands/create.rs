//! `create`, and the container creation `run` shares: the configuration built from the
//! flags, and the pull docker does when the image is not there.

use std::collections::HashMap;
use std::fs;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptions, CreateImageOptions};
use futures_util::StreamExt;

use crate::cli::{ContainerArgs, CreateArgs};
use crate::client::Connector;
use crate::error::{CliError, is_not_found, open_error};
use crate::output;
use crate::reference::Reference;

pub async fn run(connector: &Connector, args: CreateArgs) -> Result<(), CliError> {
    let docker = connector.connect().await?;
    let id = create_container(&docker, &args.container, false).await?;
    output::line(&id);
    Ok(())
}

/// Creates the container (attached: stdout and stderr will be attached before it starts),
/// pulling the image first if the daemon does not have it. Returns the container's ID.
pub async fn create_container(
    docker: &Docker,
    args: &ContainerArgs,
    attached: bool,
) -> Result<String, CliError> {
    let reference = Reference::parse(args.image()).map_err(CliError::Failed)?;
    let config = container_config(args, attached, read_env_files(args)?, |name| {
        std::env::var(name).ok()
    });
    let options = CreateContainerOptions {
        name: args.name.clone(),
        ..Default::default()
    };
    let created = match docker
        .create_container(Some(options.clone()), config.clone())
        .await
    {
        Err(error) if is_not_found(&error) => {
            eprintln!(
                "Unable to find image '{}' locally",
                reference.with_default_tag()
            );
            pull(docker, &reference).await?;
            docker.create_container(Some(options), config).await?
        }
        other => other?,
    };
    for warning in &created.warnings {
        eprintln!("WARNING: {warning}");
    }
    Ok(created.id)
}

/// Pulls an image, showing the daemon's progress messages one per line, as docker does when
/// its output is not a terminal.
async fn pull(docker: &Docker, reference: &Reference) -> Result<(), CliError> {
    let from_image = match &reference.digest {
        Some(digest) => format!("{}@{digest}", reference.name),
        None => reference.name.clone(),
    };
    let options = CreateImageOptions {
        from_image: Some(from_image),
        tag: reference.tag_or_default().map(String::from),
        ..Default::default()
    };
    let mut progress = docker.create_image(Some(options), None, None);
    while let Some(message) = progress.next().await {
        let message = message?;
        if let Some(status) = message.status {
            match message.id {
                Some(id) => eprintln!("{id}: {status}"),
                None => eprintln!("{status}"),
            }
        }
    }
    Ok(())
}

/// The create request for the flags. `env_files` holds the `--env-file` entries;
/// `lookup` reads our own environment for `-e NAME` without a value.
fn container_config(
    args: &ContainerArgs,
    attached: bool,
    env_files: Vec<String>,
    lookup: impl Fn(&str) -> Option<String>,
) -> ContainerCreateBody {
    let mut env = env_files;
    env.extend(args.env.iter().map(|entry| match entry.split_once('=') {
        Some(_) => entry.clone(),
        None => match lookup(entry) {
            Some(value) => format!("{entry}={value}"),
            // Docker passes the bare name; the daemon then drops it from the image's env.
            None => entry.clone(),
        },
    }));
    let labels: HashMap<String, String> = args
        .label
        .iter()
        .map(|label| match label.split_once('=') {
            Some((key, value)) => (key.to_string(), value.to_string()),
            None => (label.clone(), String::new()),
        })
        .collect();
    ContainerCreateBody {
        image: Some(args.image().to_string()),
        cmd: (!args.command().is_empty()).then(|| args.command().to_vec()),
        // `--entrypoint ""` resets the image's entrypoint, which docker sends as [""].
        entrypoint: args.entrypoint.clone().map(|e| vec![e]),
        env: (!env.is_empty()).then_some(env),
        labels: (!labels.is_empty()).then_some(labels),
        working_dir: args.workdir.clone(),
        hostname: args.hostname.clone(),
        attach_stdin: Some(false),
        attach_stdout: Some(attached),
        attach_stderr: Some(attached),
        tty: Some(false),
        open_stdin: Some(false),
        host_config: Some(HostConfig {
            auto_remove: Some(args.rm),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn read_env_files(args: &ContainerArgs) -> Result<Vec<String>, CliError> {
    let mut env = Vec::new();
    for path in &args.env_file {
        let bytes = fs::read(path).map_err(|e| open_error(path, &e))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            CliError::Failed(format!(
                "env file {} contains invalid utf8 bytes",
                path.display()
            ))
        })?;
        env.extend(parse_env_file(&text, |name| std::env::var(name).ok())?);
    }
    Ok(env)
}

/// Docker's env-file format: `NAME=value` lines taken literally, `NAME` alone taken from
/// our environment, blank lines and `#` comments skipped.
fn parse_env_file(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>, CliError> {
    let mut env = Vec::new();
    for line in text.trim_start_matches('\u{feff}').lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some(("", _)) => {
                return Err(CliError::Failed(format!(
                    "no variable name on line '{line}'"
                )));
            }
            Some((name, _)) if name.contains(char::is_whitespace) => {
                return Err(CliError::Failed(format!(
                    "variable '{name}' contains whitespaces"
                )));
            }
            Some(_) => env.push(line.to_string()),
            None => {
                let name = line.trim_end();
                env.push(match lookup(name) {
                    Some(value) => format!("{name}={value}"),
                    None => name.to_string(),
                });
            }
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn args(argv: &[&str]) -> ContainerArgs {
        let cli = Cli::try_parse_from(["berth", "create"].iter().chain(argv)).unwrap();
        match cli.command {
            Some(Command::Create(create)) => create.container,
            other => panic!("not create: {other:?}"),
        }
    }

    fn lookup(name: &str) -> Option<String> {
        (name == "HOME").then(|| "/root".to_string())
    }

    #[test]
    fn image_and_command() {
        let config = container_config(
            &args(&["busybox", "sh", "-c", "exit 3"]),
            true,
            Vec::new(),
            lookup,
        );
        assert_eq!(config.image.as_deref(), Some("busybox"));
        assert_eq!(
            config.cmd,
            Some(vec!["sh".into(), "-c".into(), "exit 3".into()])
        );
        assert_eq!(config.entrypoint, None);
        assert_eq!(config.attach_stdout, Some(true));
        assert_eq!(config.host_config.unwrap().auto_remove, Some(false));
    }

    #[test]
    fn no_command_keeps_the_image_default() {
        let config = container_config(&args(&["busybox"]), false, Vec::new(), lookup);
        assert_eq!(config.cmd, None);
        assert_eq!(config.attach_stdout, Some(false));
    }

    #[test]
    fn env_files_come_first_and_bare_names_come_from_our_environment() {
        let config = container_config(
            &args(&["-e", "A=1", "-e", "HOME", "-e", "UNSET", "busybox"]),
            false,
            vec!["FROM_FILE=x".into()],
            lookup,
        );
        assert_eq!(
            config.env,
            Some(vec![
                "FROM_FILE=x".into(),
                "A=1".into(),
                "HOME=/root".into(),
                "UNSET".into()
            ])
        );
    }

    #[test]
    fn labels_entrypoint_workdir_hostname_rm() {
        let config = container_config(
            &args(&[
                "-l",
                "a=b=c",
                "--label",
                "flag",
                "--entrypoint",
                "",
                "-w",
                "/srv",
                "-h",
                "box",
                "--rm",
                "busybox",
            ]),
            false,
            Vec::new(),
            lookup,
        );
        let labels = config.labels.unwrap();
        assert_eq!(labels["a"], "b=c");
        assert_eq!(labels["flag"], "");
        assert_eq!(config.entrypoint, Some(vec![String::new()]));
        assert_eq!(config.working_dir.as_deref(), Some("/srv"));
        assert_eq!(config.hostname.as_deref(), Some("box"));
        assert_eq!(config.host_config.unwrap().auto_remove, Some(true));
    }

    #[test]
    fn env_file_format() {
        let text = "\u{feff}# comment\n\n  A=1 2\nHOME\nUNSET  \nB=\n";
        assert_eq!(
            parse_env_file(text, lookup).unwrap(),
            ["A=1 2", "HOME=/root", "UNSET", "B="]
        );
        assert!(parse_env_file("BAD NAME=1", lookup).is_err());
        assert!(parse_env_file("=1", lookup).is_err());
    }
}
