//! `create`, and the container creation `run` shares: the configuration built from the
//! flags, and the pull docker does when the image is not there.

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, DeviceRequest, HealthConfig, HostConfig, HostConfigCgroupnsModeEnum,
    HostConfigLogConfig, NetworkingConfig, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{CreateContainerOptions, CreateImageOptions};
use futures_util::StreamExt;

use super::env::{environment, labels};
use crate::cli::{ContainerArgs, CreateArgs, HealthFlags};
use crate::client::Connector;
use crate::error::{CliError, is_not_found};
use crate::opts::mounts::{tmpfs, volumes};
use crate::opts::network::{EndpointFlags, endpoints};
use crate::opts::ports::ports;
use crate::opts::resources::{capabilities, devices, security_options, ulimits};
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
/// the flags refer to: the env and label files, our environment, our terminal's size. Its
/// failures are the flags' fault, which docker reports with a pointer to the command's help.
pub fn prepare(args: &ContainerArgs, detach: bool) -> Result<ContainerCreateBody, CliError> {
    let resolved = Resolved {
        env: environment(&args.env, &args.env_file)?,
        labels: labels(&args.label, &args.label_file)?,
        console: terminal::stdout_size(),
    };
    container_config(args, detach, resolved).map_err(CliError::Failed)
}

/// Creates the container, pulling the image as `--pull` says: first (`always`), when the
/// daemon does not have it (`missing`, the default) or never. Returns the container's ID.
pub async fn create_container(
    docker: &Docker,
    args: &ContainerArgs,
    config: ContainerCreateBody,
) -> Result<String, CliError> {
    let reference = Reference::parse(args.image()).map_err(CliError::Failed)?;
    let platform = args.platform.clone().unwrap_or_default();
    let options = CreateContainerOptions {
        name: args.name.clone(),
        platform: platform.clone(),
    };
    if args.pull == "always" {
        pull(docker, &reference, platform.clone()).await?;
    }
    let created = match docker
        .create_container(Some(options.clone()), config.clone())
        .await
    {
        Err(error) if is_not_found(&error) && args.pull == "missing" => {
            eprintln!(
                "Unable to find image '{}' locally",
                reference.with_default_tag()
            );
            pull(docker, &reference, platform).await?;
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
async fn pull(docker: &Docker, reference: &Reference, platform: String) -> Result<(), CliError> {
    let from_image = match &reference.digest {
        Some(digest) => format!("{}@{digest}", reference.name),
        None => reference.name.clone(),
    };
    let options = CreateImageOptions {
        from_image: Some(from_image),
        tag: reference.tag_or_default().map(String::from),
        platform,
        ..Default::default()
    };
    let credentials = crate::credentials::for_image(&reference.name);
    let mut progress = docker.create_image(Some(options), None, credentials);
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

/// What the flags point to outside themselves: the environment assembled from `-e` and the
/// env files, the labels from `-l` and the label files, and the size (rows, columns) of our
/// terminal, which a TTY starts with.
#[derive(Default)]
struct Resolved {
    env: Vec<String>,
    labels: Vec<String>,
    console: Option<(u16, u16)>,
}

/// The create request for the flags, in docker's shape: what the flags leave unset is left
/// to the daemon's defaults.
/// `--log-driver` and `--log-opt key=value` (a bare key has an empty value, as in docker);
/// sent only when given, so that the daemon's defaults apply otherwise.
fn log_config(
    driver: Option<&str>,
    opts: &[String],
) -> Result<Option<HostConfigLogConfig>, String> {
    if driver == Some("none") && !opts.is_empty() {
        return Err("invalid logging opts for driver none".into());
    }
    if driver.is_none() && opts.is_empty() {
        return Ok(None);
    }
    let config = opts
        .iter()
        .map(|o| match o.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (o.clone(), String::new()),
        })
        .collect();
    Ok(Some(HostConfigLogConfig {
        typ: driver.map(str::to_string),
        config: Some(config),
    }))
}

fn container_config(
    args: &ContainerArgs,
    detach: bool,
    resolved: Resolved,
) -> Result<ContainerCreateBody, String> {
    let (network, storage, resources, security, namespaces) = (
        &args.network,
        &args.storage,
        &args.resources,
        &args.security,
        &args.namespaces,
    );
    let ports = ports(&network.publish, &network.expose)?;
    let volumes = volumes(&storage.volumes)?;
    let devices = devices(&resources.devices)?;
    let labels = crate::opts::kv_map(&resolved.labels);
    // Docker's default policy is "no", sent as such.
    let restart_policy = restart_policy(Some(args.restart.as_deref().unwrap_or("no")))?;
    let (security_opt, unconfined_paths) = security_options(&security.security_opt)?;
    let healthcheck = healthcheck(&args.health)?;
    let restarts = restart_policy
        .as_ref()
        .is_some_and(|policy| policy.name != Some(RestartPolicyNameEnum::NO));
    if args.rm && restarts {
        return Err("conflicting options: cannot specify both --restart and --rm".to_string());
    }
    let (network_mode, endpoints) = endpoints(
        &network.networks,
        &EndpointFlags {
            aliases: &network.aliases,
            ipv4: network.ipv4.as_deref(),
            ipv6: network.ipv6.as_deref(),
            mac_address: network.mac_address.as_deref(),
        },
    )?;
    let some = |list: &[String]| (!list.is_empty()).then(|| list.to_vec());
    // Without `-a`, stdout and stderr; stdin with `-i`. Nothing is attached to with `-d`.
    let attach = |stream: &str| !detach && args.attach.iter().any(|s| s == stream);
    let attach_stdin = attach("stdin") || (!detach && args.interactive);
    let attach_output = |stream: &str| attach(stream) || (!detach && args.attach.is_empty());
    let env = resolved.env;
    Ok(ContainerCreateBody {
        image: Some(args.image().to_string()),
        cmd: (!args.command().is_empty()).then(|| args.command().to_vec()),
        // `--entrypoint ""` resets the image's entrypoint, which docker sends as [""].
        entrypoint: args.entrypoint.clone().map(|e| vec![e]),
        env: (!env.is_empty()).then_some(env),
        labels,
        working_dir: args.workdir.clone(),
        hostname: args.hostname.clone(),
        domainname: namespaces.domainname.clone(),
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
        exposed_ports: (!ports.exposed.is_empty()).then(|| ports.exposed.into_iter().collect()),
        volumes: some(&volumes.anonymous),
        healthcheck,
        host_config: Some(HostConfig {
            auto_remove: Some(args.rm),
            init: args.init,
            readonly_rootfs: Some(args.read_only),
            restart_policy,
            log_config: log_config(args.log_driver.as_deref(), &args.log_opt)?,
            console_size: resolved
                .console
                .map(|(rows, columns)| vec![rows.into(), columns.into()]),
            binds: some(&volumes.binds),
            mounts: (!storage.mounts.is_empty()).then(|| storage.mounts.clone()),
            tmpfs: tmpfs(&storage.tmpfs),
            volumes_from: some(&storage.volumes_from),
            shm_size: storage.shm_size,
            network_mode: Some(network_mode),
            port_bindings: Some(
                ports
                    .bindings
                    .into_iter()
                    .map(|(port, bindings)| (port, Some(bindings)))
                    .collect(),
            ),
            publish_all_ports: Some(network.publish_all),
            // Never null, as docker sends them: a container created before the daemon
            // defaulted them may still have nulls.
            dns: Some(network.dns.clone()),
            dns_search: Some(network.dns_search.clone()),
            dns_options: Some(network.dns_options.clone()),
            extra_hosts: some(&network.extra_hosts),
            memory: resources.memory,
            memory_swap: resources.memory_swap,
            memory_reservation: resources.memory_reservation,
            nano_cpus: resources.cpus,
            cpu_shares: resources.cpu_shares,
            cpu_period: resources.cpu_period,
            cpu_quota: resources.cpu_quota,
            cpuset_cpus: resources.cpuset_cpus.clone(),
            cpuset_mems: resources.cpuset_mems.clone(),
            pids_limit: resources.pids_limit,
            blkio_weight: resources.blkio_weight,
            oom_score_adj: resources.oom_score_adj,
            cgroup_parent: resources.cgroup_parent.clone(),
            ulimits: Some(ulimits(&resources.ulimits)),
            devices: Some(devices.mappings),
            blkio_weight_device: Some(resources.blkio_weight_device.clone()),
            blkio_device_read_bps: Some(resources.device_read_bps.clone()),
            blkio_device_write_bps: Some(resources.device_write_bps.clone()),
            blkio_device_read_iops: Some(resources.device_read_iops.clone()),
            blkio_device_write_iops: Some(resources.device_write_iops.clone()),
            oom_kill_disable: resources.oom_kill_disable.then_some(true),
            memory_swappiness: resources.memory_swappiness,
            ipc_mode: namespaces.ipc.clone(),
            pid_mode: namespaces.pid.clone(),
            uts_mode: namespaces.uts.clone(),
            cgroupns_mode: namespaces
                .cgroupns
                .as_deref()
                .map(cgroupns_mode)
                .transpose()?,
            group_add: some(&namespaces.group_add),
            device_requests: (!devices.cdi.is_empty()).then(|| {
                vec![DeviceRequest {
                    driver: Some("cdi".to_string()),
                    device_ids: Some(devices.cdi),
                    ..Default::default()
                }]
            }),
            device_cgroup_rules: some(&resources.device_cgroup_rules),
            cap_add: capabilities(&security.cap_add),
            cap_drop: capabilities(&security.cap_drop),
            privileged: Some(security.privileged),
            security_opt: (!security_opt.is_empty()).then_some(security_opt),
            // `--security-opt systempaths=unconfined`: nothing masked, nothing read-only.
            masked_paths: unconfined_paths.then(Vec::new),
            readonly_paths: unconfined_paths.then(Vec::new),
            sysctls: (!security.sysctls.is_empty())
                .then(|| security.sysctls.iter().cloned().collect()),
            ..Default::default()
        }),
        networking_config: Some(NetworkingConfig {
            endpoints_config: (!endpoints.is_empty()).then_some(endpoints),
        }),
        ..Default::default()
    })
}

/// `--cgroupns`, checked as docker checks it before sending.
fn cgroupns_mode(mode: &str) -> Result<HostConfigCgroupnsModeEnum, String> {
    match mode {
        "" => Ok(HostConfigCgroupnsModeEnum::EMPTY),
        "private" => Ok(HostConfigCgroupnsModeEnum::PRIVATE),
        "host" => Ok(HostConfigCgroupnsModeEnum::HOST),
        _ => Err("--cgroupns: invalid CGROUP mode".to_string()),
    }
}

/// `--health-*` as the image's health check overridden, or `--no-healthcheck` as none;
/// nothing when neither is given, so the image's own applies.
fn healthcheck(flags: &HealthFlags) -> Result<Option<HealthConfig>, String> {
    let nanos = |duration: Option<jiff::SignedDuration>| {
        duration
            .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
            .filter(|n| *n != 0)
    };
    let (interval, timeout, start_period, start_interval) = (
        nanos(flags.interval),
        nanos(flags.timeout),
        nanos(flags.start_period),
        nanos(flags.start_interval),
    );
    let retries = flags.retries.filter(|r| *r != 0);
    let cmd = flags.cmd.as_deref().filter(|c| !c.is_empty());
    let settings = cmd.is_some()
        || interval.is_some()
        || timeout.is_some()
        || start_period.is_some()
        || start_interval.is_some()
        || retries.is_some();
    if flags.disabled {
        if settings {
            return Err("--no-healthcheck conflicts with --health-* options".to_string());
        }
        return Ok(Some(HealthConfig {
            test: Some(vec!["NONE".to_string()]),
            ..Default::default()
        }));
    }
    if !settings {
        return Ok(None);
    }
    for (value, flag) in [
        (interval, "interval"),
        (timeout, "timeout"),
        (retries, "retries"),
        (start_period, "start-period"),
        (start_interval, "start-interval"),
    ] {
        if value.is_some_and(|v| v < 0) {
            return Err(format!("--health-{flag} cannot be negative"));
        }
    }
    Ok(Some(HealthConfig {
        test: cmd.map(|cmd| vec!["CMD-SHELL".to_string(), cmd.to_string()]),
        interval,
        timeout,
        retries,
        start_period,
        start_interval,
    }))
}

/// `--restart`: `no`, `always`, `unless-stopped` or `on-failure`, the last with an optional
/// `:MAX_RETRIES`; worded as docker and its daemon word what is wrong with it.
pub(super) fn restart_policy(policy: Option<&str>) -> Result<Option<RestartPolicy>, String> {
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
        let args = args(argv);
        let resolved = Resolved {
            labels: args.label.clone(),
            ..Default::default()
        };
        container_config(&args, false, resolved).unwrap()
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
        let resolved = Resolved {
            env: env.clone(),
            ..Default::default()
        };
        let config = container_config(&args(&["busybox"]), false, resolved).unwrap();
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
        let detached = container_config(&args(&["-i", "busybox"]), true, Resolved::default());
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
            Resolved {
                console: Some((33, 101)),
                ..Default::default()
            },
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
        let log = host_config(&[
            "--log-opt",
            "max-size=1m",
            "--log-opt",
            "compress=true",
            "busybox",
        ])
        .log_config
        .unwrap();
        assert_eq!(log.typ, None, "the daemon's default driver");
        let opts = log.config.unwrap();
        assert_eq!(
            (opts["max-size"].as_str(), opts["compress"].as_str()),
            ("1m", "true")
        );
        assert!(log_config(Some("none"), &["max-size=1m".into()]).is_err());
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
        assert_eq!(
            host_config(&["busybox"]).restart_policy.unwrap().name,
            Some(RestartPolicyNameEnum::NO)
        );
        assert_eq!(
            host_config(&["--restart", "", "busybox"]).restart_policy,
            None
        );
        // `no` is the one policy `--rm` goes with.
        assert!(
            container_config(
                &args(&["--rm", "--restart", "no", "busybox"]),
                false,
                Resolved::default()
            )
            .is_ok()
        );
    }

    #[test]
    fn bad_restart_policies_are_worded_as_docker_words_them() {
        let error =
            |argv: &[&str]| container_config(&args(argv), false, Resolved::default()).unwrap_err();
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

    #[test]
    fn ports_storage_and_resources_reach_the_host_config() {
        let config = config(&[
            "-p",
            "127.0.0.1:8080:80",
            "--expose",
            "90",
            "-P",
            "-v",
            "/srv:/srv:ro",
            "-v",
            "/anon",
            "--mount",
            "type=tmpfs,target=/run/t,tmpfs-size=1m",
            "--tmpfs",
            "/scratch:size=1m",
            "-m",
            "64m",
            "--memory-swap",
            "-1",
            "--cpus",
            "1.5",
            "--pids-limit",
            "-1",
            "--ulimit",
            "nofile=10:20",
            "--device",
            "/dev/fuse",
            "--cap-add",
            "net_admin",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "--shm-size",
            "1g",
            "busybox",
        ]);
        assert_eq!(
            config.exposed_ports,
            Some(vec!["80/tcp".to_string(), "90/tcp".to_string()])
        );
        assert_eq!(config.volumes, Some(vec!["/anon".to_string()]));
        let host = config.host_config.unwrap();
        let bindings = host.port_bindings.unwrap();
        let binding = &bindings["80/tcp"].as_ref().unwrap()[0];
        assert_eq!(binding.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(binding.host_port.as_deref(), Some("8080"));
        assert_eq!(host.publish_all_ports, Some(true));
        assert_eq!(host.binds, Some(vec!["/srv:/srv:ro".to_string()]));
        assert_eq!(host.mounts.unwrap()[0].target.as_deref(), Some("/run/t"));
        assert_eq!(host.tmpfs.unwrap()["/scratch"], "size=1m");
        assert_eq!(host.memory, Some(64 << 20));
        assert_eq!(host.memory_swap, Some(-1));
        assert_eq!(host.nano_cpus, Some(1_500_000_000));
        assert_eq!(host.pids_limit, Some(-1));
        assert_eq!(host.ulimits.unwrap()[0].hard, Some(20));
        assert_eq!(
            host.devices.unwrap()[0].path_in_container.as_deref(),
            Some("/dev/fuse")
        );
        assert_eq!(host.cap_add, Some(vec!["CAP_NET_ADMIN".to_string()]));
        assert_eq!(host.sysctls.unwrap()["net.ipv4.ip_forward"], "1");
        assert_eq!(host.shm_size, Some(1 << 30));
        // Docker's empty defaults, sent as such.
        assert_eq!(host.dns, Some(Vec::new()));
        assert_eq!(host.blkio_device_read_bps, Some(Vec::new()));
        assert_eq!(host.network_mode.as_deref(), Some("default"));
    }

    #[test]
    fn networks_and_health_checks() {
        let config = config(&[
            "--network",
            "front",
            "--network-alias",
            "web",
            "--ip",
            "10.1.0.5",
            "--health-cmd",
            "curl -f localhost",
            "--health-interval",
            "30s",
            "--health-retries",
            "3",
            "busybox",
        ]);
        assert_eq!(
            config.host_config.unwrap().network_mode.as_deref(),
            Some("front")
        );
        let endpoints = config.networking_config.unwrap().endpoints_config.unwrap();
        assert_eq!(endpoints["front"].aliases, Some(vec!["web".to_string()]));
        let health = config.healthcheck.unwrap();
        assert_eq!(
            health.test,
            Some(vec![
                "CMD-SHELL".to_string(),
                "curl -f localhost".to_string()
            ])
        );
        assert_eq!(health.interval, Some(30_000_000_000));
        assert_eq!(health.retries, Some(3));
        assert_eq!(health.timeout, None);
        let disabled = self::config(&["--no-healthcheck", "busybox"]).healthcheck;
        assert_eq!(disabled.unwrap().test, Some(vec!["NONE".to_string()]));
        assert_eq!(self::config(&["busybox"]).healthcheck, None);
    }

    #[test]
    fn flag_errors_are_worded_as_docker_words_them() {
        let error =
            |argv: &[&str]| container_config(&args(argv), false, Resolved::default()).unwrap_err();
        assert_eq!(error(&["-p", "80/icmp", "busybox"]), "invalid proto: icmp");
        assert_eq!(
            error(&["--device", "/dev/a:b", "busybox"]),
            "b is not an absolute path"
        );
        assert_eq!(
            error(&["--no-healthcheck", "--health-retries", "1", "busybox"]),
            "--no-healthcheck conflicts with --health-* options"
        );
        assert_eq!(
            error(&["--health-timeout", "-1s", "--health-cmd", "x", "busybox"]),
            "--health-timeout cannot be negative"
        );
        assert_eq!(
            error(&["--network", "bridge", "--network-alias", "x", "busybox"]),
            "network-scoped aliases are only supported for user-defined networks"
        );
        // Values checked as the flags are read are clap's errors.
        for argv in [
            ["--ulimit", "bogus=1"],
            ["-m", "lots"],
            ["--cpus", "x"],
            ["--mount", "type=bind"],
            ["--sysctl", "kernel.hostname=x"],
        ] {
            let parsed = Cli::try_parse_from(["berth", "create", argv[0], argv[1], "busybox"]);
            assert!(parsed.is_err(), "{argv:?}");
        }
    }
}
