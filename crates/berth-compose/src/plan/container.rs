//! A service's container as an Engine API create request.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    ContainerCreateBody, DeviceMapping, EndpointIpamConfig, EndpointSettings, HealthConfig,
    HostConfig, HostConfigLogConfig, Mount, MountBindOptions, MountBindOptionsPropagationEnum,
    MountTmpfsOptions, MountType as ApiMountType, MountVolumeOptions, NetworkingConfig,
    PortBinding, ResourcesUlimits, RestartPolicy, RestartPolicyNameEnum,
};

use super::{container_name, image_name, labels};
use crate::error::Error;
use crate::model::{FileReference, MountType, Project, Service, ServiceVolume};

/// The endpoint driver option that names the container's interface on a network (Engine 28),
/// which is what a service network's `interface_name` sets.
const IFNAME_OPTION: &str = "com.docker.network.endpoint.ifname";

/// Which container of a service is planned, and what the plan needs from the daemon.
#[derive(Debug, Clone, Default)]
pub struct Instance {
    /// The container number (`com.docker.compose.container-number`).
    pub number: u32,
    /// For `run`: the random slug that names a one-off container.
    pub oneoff_slug: Option<String>,
    /// The ID of the image the container runs, recorded in `com.docker.compose.image`.
    pub image_id: Option<String>,
    /// Anonymous volumes of the container being replaced, by target, to keep their data.
    pub anonymous_volumes: BTreeMap<String, String>,
    /// The container this one replaces (`com.docker.compose.replace`).
    pub replaces: Option<String>,
}

/// A file written into the container after it is created (a secret or config whose content
/// is not a host file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub target: String,
    pub content: Vec<u8>,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
}

/// Everything needed to create one container.
#[derive(Debug, Clone)]
pub struct ContainerPlan {
    pub name: String,
    pub body: ContainerCreateBody,
    /// Networks joined after create: before API 1.44 a container is created on one network.
    pub extra_networks: Vec<(String, EndpointSettings)>,
    pub platform: Option<String>,
    pub uploads: Vec<Upload>,
}

/// Plans container `inst` of service `name`.
pub fn plan(
    project: &Project,
    name: &str,
    s: &Service,
    inst: &Instance,
) -> Result<ContainerPlan, Error> {
    let container = match &inst.oneoff_slug {
        Some(slug) => format!(
            "{}-{name}-run-{}",
            project.name,
            slug.get(..12).unwrap_or(slug)
        ),
        None => container_name(project, name, s, inst.number),
    };
    let mut body = ContainerCreateBody {
        image: Some(image_name(project, name, s)),
        hostname: s.hostname.clone(),
        domainname: s.domainname.clone(),
        user: s.user.clone(),
        tty: Some(s.tty),
        open_stdin: Some(s.stdin_open),
        env: Some(
            s.environment
                .iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
                .collect(),
        ),
        cmd: s.command.clone(),
        entrypoint: s.entrypoint.clone(),
        working_dir: s.working_dir.clone(),
        labels: Some(container_labels(project, name, s, inst)),
        stop_signal: s.stop_signal.clone(),
        stop_timeout: s
            .stop_grace_period
            .map(|d| d.as_nanos().div_euclid(1_000_000_000)),
        healthcheck: s.healthcheck.as_ref().map(|h| {
            if h.disable {
                return HealthConfig {
                    test: Some(vec!["NONE".to_string()]),
                    ..HealthConfig::default()
                };
            }
            HealthConfig {
                test: (!h.test.is_empty()).then(|| h.test.clone()),
                interval: h.interval.map(|d| d.as_nanos()),
                timeout: h.timeout.map(|d| d.as_nanos()),
                retries: h.retries.map(i64::from),
                start_period: h.start_period.map(|d| d.as_nanos()),
                start_interval: h.start_interval.map(|d| d.as_nanos()),
            }
        }),
        ..ContainerCreateBody::default()
    };
    let mut exposed: Vec<String> = s
        .ports
        .iter()
        .map(|p| format!("{}/{}", p.target, p.protocol))
        .collect();
    exposed.extend(s.expose.iter().flat_map(|e| expose_ports(e)));
    exposed.sort();
    exposed.dedup();
    if !exposed.is_empty() {
        body.exposed_ports = Some(exposed);
    }

    let mut host = host_config(project, s);
    let (binds, mounts) = volumes(project, s, inst);
    let (secret_mounts, uploads) = files(project, s)?;
    host.binds = (!binds.is_empty()).then_some(binds);
    let mounts: Vec<Mount> = mounts.into_iter().chain(secret_mounts).collect();
    host.mounts = (!mounts.is_empty()).then_some(mounts);

    let mut extra_networks = Vec::new();
    match &s.network_mode {
        Some(mode) => host.network_mode = Some(resolve_mode(project, mode)),
        None => {
            let mut nets: Vec<(&String, Option<&crate::model::ServiceNetwork>)> =
                s.networks.iter().map(|(k, v)| (k, v.as_ref())).collect();
            nets.sort_by_key(|(k, v)| (-v.and_then(|n| n.priority).unwrap_or(0), (*k).clone()));
            let mut endpoints = HashMap::new();
            for (i, (key, cfg)) in nets.into_iter().enumerate() {
                let Some(net) = project.networks.get(key) else {
                    continue;
                };
                let mut aliases = Vec::new();
                if inst.oneoff_slug.is_none() {
                    aliases.push(name.to_string());
                }
                let mut ep = EndpointSettings::default();
                if let Some(c) = cfg {
                    aliases.extend(c.aliases.iter().cloned());
                    if c.ipv4_address.is_some()
                        || c.ipv6_address.is_some()
                        || !c.link_local_ips.is_empty()
                    {
                        ep.ipam_config = Some(EndpointIpamConfig {
                            ipv4_address: c.ipv4_address.clone(),
                            ipv6_address: c.ipv6_address.clone(),
                            link_local_ips: (!c.link_local_ips.is_empty())
                                .then(|| c.link_local_ips.clone()),
                        });
                    }
                    ep.mac_address = c.mac_address.clone();
                    let mut driver_opts = c.driver_opts.clone();
                    if let Some(ifname) = &c.interface_name {
                        driver_opts.insert(IFNAME_OPTION.to_string(), ifname.clone());
                    }
                    if !driver_opts.is_empty() {
                        ep.driver_opts = Some(driver_opts.into_iter().collect());
                    }
                }
                ep.aliases = Some(aliases);
                if i == 0 {
                    if !s.links.is_empty() {
                        ep.links = Some(links(project, s));
                    }
                    host.network_mode = Some(net.name.clone());
                    endpoints.insert(net.name.clone(), ep);
                } else {
                    extra_networks.push((net.name.clone(), ep));
                }
            }
            if !endpoints.is_empty() {
                body.networking_config = Some(NetworkingConfig {
                    endpoints_config: Some(endpoints),
                });
            }
        }
    }
    body.host_config = Some(host);
    Ok(ContainerPlan {
        name: container,
        body,
        extra_networks,
        platform: s.platform.clone(),
        uploads,
    })
}

fn container_labels(
    project: &Project,
    name: &str,
    s: &Service,
    inst: &Instance,
) -> HashMap<String, String> {
    let mut l: HashMap<String, String> = s.labels.clone().into_iter().collect();
    let files: Vec<String> = project
        .config_files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    let env_files: Vec<String> = project
        .env_files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    let depends: Vec<String> = s
        .depends_on
        .iter()
        .map(|(d, dep)| format!("{d}:{}:{}", dep.condition.as_str(), dep.restart))
        .collect();
    for (k, v) in [
        (labels::PROJECT, project.name.clone()),
        (labels::SERVICE, name.to_string()),
        (labels::CONTAINER_NUMBER, inst.number.to_string()),
        (
            labels::ONEOFF,
            if inst.oneoff_slug.is_some() {
                "True"
            } else {
                "False"
            }
            .to_string(),
        ),
        (labels::CONFIG_HASH, super::config_hash(s)),
        (
            labels::WORKING_DIR,
            project.working_dir.display().to_string(),
        ),
        (labels::CONFIG_FILES, files.join(",")),
        (labels::VERSION, super::VERSION.to_string()),
        (labels::DEPENDS_ON, depends.join(",")),
    ] {
        l.insert(k.to_string(), v);
    }
    if !env_files.is_empty() {
        l.insert(labels::ENVIRONMENT_FILE.to_string(), env_files.join(","));
    }
    if let Some(id) = &inst.image_id {
        l.insert(labels::IMAGE.to_string(), id.clone());
    }
    if let Some(slug) = &inst.oneoff_slug {
        l.insert(labels::SLUG.to_string(), slug.clone());
    }
    if let Some(old) = &inst.replaces {
        l.insert(labels::REPLACE.to_string(), old.clone());
    }
    l
}

/// `expose` entries: `80`, `80/udp`, `8000-8002`.
fn expose_ports(e: &str) -> Vec<String> {
    let (ports, proto) = e.split_once('/').unwrap_or((e, "tcp"));
    match ports.split_once('-') {
        Some((lo, hi)) => match (lo.parse::<u16>(), hi.parse::<u16>()) {
            (Ok(lo), Ok(hi)) if lo <= hi => (lo..=hi).map(|p| format!("{p}/{proto}")).collect(),
            _ => vec![format!("{ports}/{proto}")],
        },
        None => vec![format!("{ports}/{proto}")],
    }
}

/// `service:x` as the API's `container:<x's first container>`.
fn resolve_mode(project: &Project, mode: &str) -> String {
    match mode.strip_prefix("service:") {
        Some(other) => match project.service(other) {
            Some(o) => format!("container:{}", container_name(project, other, o, 1)),
            None => mode.to_string(),
        },
        None => mode.to_string(),
    }
}

fn links(project: &Project, s: &Service) -> Vec<String> {
    s.links
        .iter()
        .map(|l| {
            let (svc, alias) = l.split_once(':').unwrap_or((l, l));
            let target = project
                .service(svc)
                .map_or_else(|| svc.to_string(), |o| container_name(project, svc, o, 1));
            format!("{target}:{alias}")
        })
        .collect()
}

fn host_config(project: &Project, s: &Service) -> HostConfig {
    let limits = s
        .deploy
        .as_ref()
        .and_then(|d| d.resources.as_ref())
        .and_then(|r| r.limits.as_ref());
    let reservations = s
        .deploy
        .as_ref()
        .and_then(|d| d.resources.as_ref())
        .and_then(|r| r.reservations.as_ref());
    let cpus = s.cpus.or_else(|| limits.and_then(|l| l.cpus));
    let mut port_bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for p in &s.ports {
        let key = format!("{}/{}", p.target, p.protocol);
        let binding = PortBinding {
            host_ip: p.host_ip.clone(),
            host_port: p.published.clone(),
        };
        port_bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(binding);
    }
    let restart_policy = match (
        &s.restart,
        s.deploy.as_ref().and_then(|d| d.restart_policy.as_ref()),
    ) {
        (Some(r), _) => Some(restart_policy(r)),
        (None, Some(rp)) => Some(RestartPolicy {
            name: Some(match rp.condition.as_deref() {
                Some("none") => RestartPolicyNameEnum::NO,
                Some("on-failure") => RestartPolicyNameEnum::ON_FAILURE,
                _ => RestartPolicyNameEnum::ALWAYS,
            }),
            maximum_retry_count: rp.max_attempts.map(i64::from),
        }),
        (None, None) => None,
    };
    let volumes_from: Vec<String> = s
        .volumes_from
        .iter()
        .map(|v| match v.strip_prefix("container:") {
            Some(c) => c.to_string(),
            None => {
                let (svc, mode) = match v.split_once(':') {
                    Some((svc, m)) => (svc, Some(m)),
                    None => (v.as_str(), None),
                };
                let target = project
                    .service(svc)
                    .map_or_else(|| svc.to_string(), |o| container_name(project, svc, o, 1));
                match mode {
                    Some(m) => format!("{target}:{m}"),
                    None => target,
                }
            }
        })
        .collect();
    let tmpfs: HashMap<String, String> = s
        .tmpfs
        .iter()
        .map(|t| match t.split_once(':') {
            Some((p, o)) => (p.to_string(), o.to_string()),
            None => (t.clone(), String::new()),
        })
        .collect();
    let some_vec = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    HostConfig {
        port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
        restart_policy,
        memory: s
            .mem_limit
            .or_else(|| limits.and_then(|l| l.memory))
            .map(|b| b.0),
        memory_reservation: s
            .mem_reservation
            .or_else(|| reservations.and_then(|r| r.memory))
            .map(|b| b.0),
        memory_swap: s.memswap_limit,
        nano_cpus: cpus.map(|c| (c * 1e9).round() as i64),
        cpu_shares: s.cpu_shares,
        cpu_period: s.cpu_period,
        cpu_quota: s.cpu_quota,
        cpuset_cpus: s.cpuset.clone(),
        pids_limit: s.pids_limit.or_else(|| limits.and_then(|l| l.pids)),
        init: s.init,
        readonly_rootfs: Some(s.read_only),
        privileged: Some(s.privileged),
        cap_add: some_vec(&s.cap_add),
        cap_drop: some_vec(&s.cap_drop),
        ulimits: (!s.ulimits.is_empty()).then(|| {
            s.ulimits
                .iter()
                .map(|(n, u)| ResourcesUlimits {
                    name: Some(n.clone()),
                    soft: Some(u.soft),
                    hard: Some(u.hard),
                })
                .collect()
        }),
        sysctls: (!s.sysctls.is_empty()).then(|| s.sysctls.clone().into_iter().collect()),
        extra_hosts: some_vec(&s.extra_hosts),
        dns: some_vec(&s.dns),
        dns_search: some_vec(&s.dns_search),
        dns_options: some_vec(&s.dns_opt),
        log_config: s.logging.as_ref().map(|l| HostConfigLogConfig {
            typ: l.driver.clone(),
            config: (!l.options.is_empty()).then(|| l.options.clone().into_iter().collect()),
        }),
        pid_mode: s.pid.as_deref().map(|m| resolve_mode(project, m)),
        ipc_mode: s.ipc.as_deref().map(|m| resolve_mode(project, m)),
        shm_size: s.shm_size.map(|b| b.0),
        devices: (!s.devices.is_empty()).then(|| {
            s.devices
                .iter()
                .map(|d| DeviceMapping {
                    path_on_host: Some(d.source.clone()),
                    path_in_container: Some(d.target.clone()),
                    cgroup_permissions: Some(
                        d.permissions.clone().unwrap_or_else(|| "rwm".to_string()),
                    ),
                })
                .collect()
        }),
        security_opt: some_vec(&s.security_opt),
        group_add: some_vec(&s.group_add),
        userns_mode: s.userns_mode.clone(),
        cgroup_parent: s.cgroup_parent.clone(),
        runtime: s.runtime.clone(),
        oom_score_adj: s.oom_score_adj,
        tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
        volumes_from: (!volumes_from.is_empty()).then_some(volumes_from),
        ..HostConfig::default()
    }
}

fn restart_policy(r: &str) -> RestartPolicy {
    let (name, count) = match r.split_once(':') {
        Some((n, c)) => (n, c.parse().ok()),
        None => (r, None),
    };
    RestartPolicy {
        name: Some(match name {
            "always" => RestartPolicyNameEnum::ALWAYS,
            "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
            "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
            _ => RestartPolicyNameEnum::NO,
        }),
        maximum_retry_count: count,
    }
}

/// Bind mounts that may create their host path go in `Binds` (as `docker run -v` does);
/// everything else is a `Mount`.
fn volumes(project: &Project, s: &Service, inst: &Instance) -> (Vec<String>, Vec<Mount>) {
    let mut binds = Vec::new();
    let mut mounts = Vec::new();
    for v in &s.volumes {
        match v.kind {
            MountType::Bind if v.bind.as_ref().is_some_and(|b| b.create_host_path) => {
                binds.push(bind_string(v));
            }
            MountType::Bind => mounts.push(Mount {
                typ: Some(ApiMountType::BIND),
                source: v.source.clone(),
                target: Some(v.target.clone()),
                read_only: Some(v.read_only),
                consistency: v.consistency.clone(),
                bind_options: v.bind.as_ref().map(|b| MountBindOptions {
                    propagation: b.propagation.as_deref().map(propagation),
                    ..MountBindOptions::default()
                }),
                ..Mount::default()
            }),
            MountType::Volume => {
                let source = match &v.source {
                    Some(key) => Some(
                        project
                            .volumes
                            .get(key)
                            .map_or_else(|| key.clone(), |vol| vol.name.clone()),
                    ),
                    None => inst.anonymous_volumes.get(&v.target).cloned(),
                };
                mounts.push(Mount {
                    typ: Some(ApiMountType::VOLUME),
                    source,
                    target: Some(v.target.clone()),
                    read_only: Some(v.read_only),
                    consistency: v.consistency.clone(),
                    volume_options: v
                        .volume
                        .as_ref()
                        .filter(|o| o.nocopy || o.subpath.is_some())
                        .map(|o| MountVolumeOptions {
                            no_copy: Some(o.nocopy),
                            subpath: o.subpath.clone(),
                            ..MountVolumeOptions::default()
                        }),
                    ..Mount::default()
                });
            }
            MountType::Tmpfs => mounts.push(Mount {
                typ: Some(ApiMountType::TMPFS),
                target: Some(v.target.clone()),
                read_only: Some(v.read_only),
                tmpfs_options: v.tmpfs.as_ref().map(|t| MountTmpfsOptions {
                    size_bytes: t.size.map(|b| b.0),
                    mode: t.mode.map(i64::from),
                    ..MountTmpfsOptions::default()
                }),
                ..Mount::default()
            }),
        }
    }
    (binds, mounts)
}

fn bind_string(v: &ServiceVolume) -> String {
    let mut opts = Vec::new();
    if v.read_only {
        opts.push("ro".to_string());
    }
    if let Some(b) = &v.bind {
        opts.extend(b.selinux.clone());
        opts.extend(b.propagation.clone());
    }
    let src = v.source.clone().unwrap_or_default();
    if opts.is_empty() {
        format!("{src}:{}", v.target)
    } else {
        format!("{src}:{}:{}", v.target, opts.join(","))
    }
}

fn propagation(p: &str) -> MountBindOptionsPropagationEnum {
    match p {
        "shared" => MountBindOptionsPropagationEnum::SHARED,
        "rshared" => MountBindOptionsPropagationEnum::RSHARED,
        "slave" => MountBindOptionsPropagationEnum::SLAVE,
        "rslave" => MountBindOptionsPropagationEnum::RSLAVE,
        "private" => MountBindOptionsPropagationEnum::PRIVATE,
        _ => MountBindOptionsPropagationEnum::RPRIVATE,
    }
}

/// Secrets (under `/run/secrets/`) and configs (at `/<name>` unless a target is given): a
/// host file is bind-mounted read-only; content from a variable or inline is uploaded.
fn files(project: &Project, s: &Service) -> Result<(Vec<Mount>, Vec<Upload>), Error> {
    let mut mounts = Vec::new();
    let mut uploads = Vec::new();
    let groups: [(&[FileReference], _, &str); 2] = [
        (&s.secrets, &project.secrets, "/run/secrets/"),
        (&s.configs, &project.configs, "/"),
    ];
    for (refs, defined, dir) in groups {
        for r in refs {
            let Some(obj) = defined.get(&r.source) else {
                continue;
            };
            if obj.external {
                return Err(Error::Failed(format!(
                    "{} is external: external secrets and configs need swarm mode, which berth does not run",
                    r.source
                )));
            }
            let target = match &r.target {
                Some(t) if t.starts_with('/') => t.clone(),
                Some(t) => format!("{dir}{t}"),
                None => format!("{dir}{}", r.source),
            };
            if let Some(file) = &obj.file {
                mounts.push(Mount {
                    typ: Some(ApiMountType::BIND),
                    source: Some(file.clone()),
                    target: Some(target),
                    read_only: Some(true),
                    ..Mount::default()
                });
                continue;
            }
            let content = match (&obj.environment, &obj.content) {
                (Some(var), _) => project.environment.get(var).cloned().ok_or_else(|| {
                    Error::Failed(format!(
                        "{} needs the variable {var}, which is not set",
                        r.source
                    ))
                })?,
                (None, Some(c)) => c.clone(),
                (None, None) => String::new(),
            };
            uploads.push(Upload {
                target,
                content: content.into_bytes(),
                mode: r.mode.unwrap_or(0o444),
                uid: r.uid.as_deref().and_then(|u| u.parse().ok()).unwrap_or(0),
                gid: r.gid.as_deref().and_then(|g| g.parse().ok()).unwrap_or(0),
            });
        }
    }
    Ok((mounts, uploads))
}
