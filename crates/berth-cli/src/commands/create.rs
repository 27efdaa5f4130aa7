//! `create`, and the container creation `run` shares: the configuration built from the
//! flags, and the pull docker does when the image is not there.

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, HostConfig, HostConfigLogConfig, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{CreateContainerOptions, CreateImageOptions};
use futures_util::StreamExt;

use super::env::environment;
use crate::cli::{ContainerArgs, CreateArgs};
use crate::client::Connector;
use crate::error::{CliError, is_not_found};
use crate::reference::Reference;
use crate::{output, terminal};

pub async fn run(connector: &Connector, args: CreateArgs) -> Result<(), CliError> {
    let config = prepare(&args.container, false).map_err(|e| e.with_hint("create"))?;
    let docker = connector.connect().await?;
    let id = create_container(&docker, &args.container, config).await?;
    output::line(&id);
    Ok(())
}

/// The create request for the flags of `create`, or of `run` (`detach`: `run -d`), with what
/// the flags refer to: the env files, our environment, our terminal's size. Its failures are
/// the flags' fault, which docker reports with a pointer to the command's help.
pub fn prepare(args: &ContainerArgs, detach: bool) -> Result<ContainerCreateBody, CliError> {
    let env = environment(&args.env, &args.env_file)?;
    container_config(args, detach, env, terminal::stdout_size()).map_err(CliError::Failed)
}

/// Creates the container, pulling the image first if the daemon does not have it. Returns
/// the container's ID.
pub async fn create_container(
    docker: &Docker,
    args: &ContainerArgs,
    config: ContainerCreateBody,
) -> Result<String, CliError> {
    let reference = Reference::parse(args.image()).map_err(CliError::Failed)?;
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

/// The create request for the flags. `env` is the assembled environment; `console` the
/// size (rows, columns) of our terminal, which a TTY starts with.
fn container_config(
    args: &ContainerArgs,
    detach: bool,
    env: Vec<String>,
    console: Option<(u16, u16)>,
) -> Result<ContainerCreateBody, String> {
    let restart_policy = restart_policy(args.restart.as_deref())?;
    let restarts = restart_policy
        .as_ref()
        .is_some_and(|policy| policy.name != Some(RestartPolicyNameEnum::NO));
    if args.rm && restarts {
        return Err("conflicting options: cannot specify both --restart and --rm".to_string());
    }
    let labels: HashMap<String, String> = args
        .label
        .iter()
        .map(|label| match label.split_once('=') {
            Some((key, value)) => (key.to_string(), value.to_string()),
            None => (label.clone(), String::new()),
        })
        .collect();
    // Without `-a`, stdout and stderr; stdin with `-i`. Nothing is attached to with `-d`.
    let attach = |stream: &str| !detach && args.attach.iter().any(|s| s == stream);
    let attach_stdin = attach("stdin") || (!detach && args.interactive);
    let attach_output = |stream: &str| attach(stream) || (!detach && args.attach.is_empty());
    Ok(ContainerCreateBody {
        image: Some(args.image().to_string()),
        cmd: (!args.command().is_empty()).then(|| args.command().to_vec()),
        // `--entrypoint ""` resets the image's entrypoint, which docker sends as [""].
        entrypoint: args.entrypoint.clone().map(|e| vec![e]),
        env: (!env.is_empty()).then_some(env),
        labels: (!labels.is_empty()).then_some(labels),
        working_dir: args.workdir.clone(),
        hostname: args.hostname.clone(),
        user: args.user.clone(),
        attach_stdin: Some(attach_stdin),
        attach_stdout: Some(attach_output("stdout")),
        attach_stderr: Some(attach_output("stderr")),
        tty: Some(args.tty),
        open_stdin: Some(args.interactive),
        // The container's stdin closes when the client attached to it at start goes.
        stdin_once: Some(args.interactive && attach_stdin),
        stop_signal: args.stop_signal.clone(),
        stop_timeout: args.stop_timeout,
        host_config: Some(HostConfig {
            auto_remove: Some(args.rm),
            init: args.init,
            readonly_rootfs: Some(args.read_only),
            restart_policy,
            log_config: args.log_driver.clone().map(|driver| HostConfigLogConfig {
                typ: Some(driver),
                config: None,
            }),
            console_size: console.map(|(rows, columns)| vec![rows.into(), columns.into()]),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// `--restart`: `no`, `always`, `unless-stopped` or `on-failure`, the last with an optional
/// `:MAX_RETRIES`; worded as docker and its daemon word what is wrong with it.
fn restart_policy(policy: Option<&str>) -> Result<Option<RestartPolicy>, String> {
    let Some(policy) = policy.filter(|policy| !policy.is_empty()) else {
        return Ok(None);
    };
    let (name, count) = match policy.split_once(':') {
        Some(("", _)) => {
            return Err(
                "invalid restart policy format: no policy provided before colon".to_string(),
            );
        }
        Some((name, count)) => (name, count),
        None => (policy, ""),
    };
    let maximum_retry_count = match count {
        "" => None,
        count => Some(count.parse::<i64>().map_err(|_| {
            "invalid restart policy format: maximum retry count must be an integer".to_string()
        })?),
    };
    let name = name
        .parse::<RestartPolicyNameEnum>()
        .map_err(|_| format!("invalid restart policy '{name}'"))?;
    Ok(Some(RestartPolicy {
        name: Some(name),
        maximum_retry_count,
    }))
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

    fn config(argv: &[&str]) -> ContainerCreateBody {
        container_config(&args(argv), false, Vec::new(), None).unwrap()
    }

    fn host_config(argv: &[&str]) -> HostConfig {
        config(argv).host_config.unwrap()
    }

    #[test]
    fn image_and_command() {
        let config = config(&["busybox", "sh", "-c", "exit 3"]);
        assert_eq!(config.image.as_deref(), Some("busybox"));
        assert_eq!(
            config.cmd,
            Some(vec!["sh".into(), "-c".into(), "exit 3".into()])
        );
        assert_eq!(config.entrypoint, None);
        assert_eq!(config.host_config.unwrap().auto_remove, Some(false));
    }

    #[test]
    fn no_command_keeps_the_image_default() {
        assert_eq!(config(&["busybox"]).cmd, None);
    }

    #[test]
    fn the_environment_is_passed_as_assembled() {
        let env = vec!["FROM_FILE=x".to_string(), "A=1".to_string()];
        let config = container_config(&args(&["busybox"]), false, env.clone(), None).unwrap();
        assert_eq!(config.env, Some(env));
        assert_eq!(self::config(&["busybox"]).env, None);
    }

    #[test]
    fn labels_entrypoint_workdir_hostname_rm() {
        let config = config(&[
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
        ]);
        let labels = config.labels.unwrap();
        assert_eq!(labels["a"], "b=c");
        assert_eq!(labels["flag"], "");
        assert_eq!(config.entrypoint, Some(vec![String::new()]));
        assert_eq!(config.working_dir.as_deref(), Some("/srv"));
        assert_eq!(config.hostname.as_deref(), Some("box"));
        assert_eq!(config.host_config.unwrap().auto_remove, Some(true));
    }

    /// (stdin, stdout, stderr, open stdin, stdin once)
    fn streams(config: &ContainerCreateBody) -> (bool, bool, bool, bool, bool) {
        (
            config.attach_stdin.unwrap(),
            config.attach_stdout.unwrap(),
            config.attach_stderr.unwrap(),
            config.open_stdin.unwrap(),
            config.stdin_once.unwrap(),
        )
    }

    #[test]
    fn attached_streams() {
        // By default stdout and stderr; `-i` adds stdin, kept open and closed with the client.
        assert_eq!(
            streams(&config(&["busybox"])),
            (false, true, true, false, false)
        );
        assert_eq!(
            streams(&config(&["-i", "busybox"])),
            (true, true, true, true, true)
        );
        // `-a` picks the streams, in any case.
        assert_eq!(
            streams(&config(&["-a", "STDERR", "busybox"])),
            (false, false, true, false, false)
        );
        assert_eq!(
            streams(&config(&["-a", "stdin", "-a", "stdout", "busybox"])),
            (true, true, false, false, false)
        );
        // Detached: nothing attached, but stdin stays open for a later attach.
        let detached = container_config(&args(&["-i", "busybox"]), true, Vec::new(), None);
        assert_eq!(
            streams(&detached.unwrap()),
            (false, false, false, true, false)
        );
    }

    #[test]
    fn tty_user_stop_and_console_size() {
        let config = container_config(
            &args(&[
                "-t",
                "-u",
                "1:2",
                "--stop-signal",
                "SIGUSR1",
                "--stop-timeout",
                "3",
                "busybox",
            ]),
            false,
            Vec::new(),
            Some((33, 101)),
        )
        .unwrap();
        assert_eq!(config.tty, Some(true));
        assert_eq!(config.user.as_deref(), Some("1:2"));
        assert_eq!(config.stop_signal.as_deref(), Some("SIGUSR1"));
        assert_eq!(config.stop_timeout, Some(3));
        assert_eq!(
            config.host_config.unwrap().console_size,
            Some(vec![33, 101])
        );
        let plain = self::config(&["busybox"]);
        assert_eq!(plain.tty, Some(false));
        assert_eq!(plain.stop_timeout, None);
        assert_eq!(plain.host_config.unwrap().console_size, None);
    }

    #[test]
    fn init_read_only_and_log_driver() {
        let host = host_config(&["--init", "--read-only", "--log-driver", "none", "busybox"]);
        assert_eq!(host.init, Some(true));
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.log_config.unwrap().typ.as_deref(), Some("none"));
        // Only sent when given, so the daemon's default applies otherwise.
        assert_eq!(host_config(&["--init=false", "busybox"]).init, Some(false));
        let host = host_config(&["busybox"]);
        assert_eq!((host.init, host.log_config), (None, None));
    }

    #[test]
    fn restart_policies() {
        let policy = host_config(&["--restart", "on-failure:3", "busybox"]).restart_policy;
        assert_eq!(
            policy,
            Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::ON_FAILURE),
                maximum_retry_count: Some(3),
            })
        );
        let policy = host_config(&["--restart", "unless-stopped", "busybox"]).restart_policy;
        assert_eq!(
            policy.unwrap().name,
            Some(RestartPolicyNameEnum::UNLESS_STOPPED)
        );
        assert_eq!(host_config(&["busybox"]).restart_policy, None);
        // `no` is the one policy `--rm` goes with.
        assert!(
            container_config(
                &args(&["--rm", "--restart", "no", "busybox"]),
                false,
                Vec::new(),
                None
            )
            .is_ok()
        );
    }

    #[test]
    fn bad_restart_policies_are_worded_as_docker_words_them() {
        let error =
            |argv: &[&str]| container_config(&args(argv), false, Vec::new(), None).unwrap_err();
        assert_eq!(
            error(&["--restart", "on-failure:x", "busybox"]),
            "invalid restart policy format: maximum retry count must be an integer"
        );
        assert_eq!(
            error(&["--restart", ":3", "busybox"]),
            "invalid restart policy format: no policy provided before colon"
        );
        assert_eq!(
            error(&["--restart", "bogus", "busybox"]),
            "invalid restart policy 'bogus'"
        );
        assert_eq!(
            error(&["--rm", "--restart", "always", "busybox"]),
            "conflicting options: cannot specify both --restart and --rm"
        );
    }
}
