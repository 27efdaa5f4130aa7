//! One service: every key read into the typed model.

use std::collections::BTreeMap;

use super::{
    Context, boolean, byte_size, dict, duration, entries, entries_or_empty, float, integer, seq,
    string, string_list, string_map, string_or_list, syntax, type_error, unknown,
};
use crate::error::{Error, invalid};
use crate::keypath;
use crate::model::{
    BindOptions, Build, Condition, Dependency, Deploy, Device, EnvFile, FileReference, Healthcheck,
    Logging, MountType, Port, PullPolicy, Resource, Resources, RestartPolicy, Service,
    ServiceNetwork, ServiceVolume, TmpfsOptions, Ulimit, VolumeOptions,
};
use crate::units::shell_words;
use crate::yaml::{Node, Value};

/// Keys of the specification that berth reads but does not act on.
const IGNORED: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "cgroup",
    "cpu_count",
    "cpu_percent",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "credential_spec",
    "develop",
    "device_cgroup_rules",
    "external_links",
    "gpus",
    "isolation",
    "label_file",
    "mem_swappiness",
    "oom_kill_disable",
    "post_start",
    "pre_stop",
    "storage_opt",
    "uts",
];

/// Keys of the specification that berth refuses: ignoring them would run something other
/// than what the file asks for (init containers, models the service is wired to).
const UNSUPPORTED: &[&str] = &["models", "pre_start"];

pub(crate) fn service(node: &Node, path: &str, cx: &mut Context<'_>) -> Result<Service, Error> {
    let mut s = Service::default();
    let mut environment = Vec::new();
    for (k, v) in entries_or_empty(node, path)? {
        let p = keypath(path, &k.name);
        let p = p.as_str();
        if v.value == Value::Null {
            continue;
        }
        match k.name.as_str() {
            "build" => s.build = Some(build(v, p, cx)?),
            "cap_add" => s.cap_add = string_list(v, p)?,
            "cap_drop" => s.cap_drop = string_list(v, p)?,
            "cgroup_parent" => s.cgroup_parent = Some(string(v, p)?),
            "command" => s.command = Some(command(v, p)?),
            "configs" => s.configs = file_refs(v, p)?,
            "container_name" => s.container_name = Some(container_name(v, p)?),
            "cpu_period" => s.cpu_period = Some(integer(v, p)?),
            "cpu_quota" => s.cpu_quota = Some(integer(v, p)?),
            "cpu_shares" => s.cpu_shares = Some(integer(v, p)?),
            "cpus" => s.cpus = Some(float(v, p)?),
            "cpuset" => s.cpuset = Some(string(v, p)?),
            "depends_on" => s.depends_on = depends_on(v, p)?,
            "deploy" => s.deploy = Some(deploy(v, p, cx)?),
            "devices" => s.devices = devices(v, p)?,
            "dns" => s.dns = string_or_list(v, p)?,
            "dns_opt" => s.dns_opt = string_list(v, p)?,
            "dns_search" => s.dns_search = string_or_list(v, p)?,
            "domainname" => s.domainname = Some(string(v, p)?),
            "entrypoint" => s.entrypoint = Some(command(v, p)?),
            "env_file" => s.env_file = env_files(v, p)?,
            "environment" => environment = dict(v, p, '=')?,
            "expose" => s.expose = string_list(v, p)?,
            "extends" => {
                return Err(invalid(&k.loc, p, "extends was not resolved"));
            }
            "extra_hosts" => s.extra_hosts = extra_hosts(v, p)?,
            "group_add" => s.group_add = string_list(v, p)?,
            "healthcheck" => s.healthcheck = Some(healthcheck(v, p)?),
            "hostname" => s.hostname = Some(string(v, p)?),
            "image" => s.image = Some(string(v, p)?),
            "init" => s.init = Some(boolean(v, p)?),
            "ipc" => s.ipc = Some(string(v, p)?),
            "labels" => s.labels = string_map(v, p)?,
            "links" => s.links = string_list(v, p)?,
            "logging" => s.logging = Some(logging(v, p)?),
            "mac_address" => s.mac_address = Some(string(v, p)?),
            "mem_limit" => s.mem_limit = Some(byte_size(v, p)?),
            "mem_reservation" => s.mem_reservation = Some(byte_size(v, p)?),
            "memswap_limit" => {
                s.memswap_limit = Some(match string(v, p)?.trim() {
                    "-1" => -1,
                    _ => byte_size(v, p)?.0,
                });
            }
            "network_mode" => s.network_mode = Some(string(v, p)?),
            "networks" => s.networks = networks(v, p)?,
            "oom_score_adj" => s.oom_score_adj = Some(integer(v, p)?),
            "pid" => s.pid = Some(string(v, p)?),
            "pids_limit" => s.pids_limit = Some(integer(v, p)?),
            "platform" => s.platform = Some(string(v, p)?),
            "ports" => s.ports = ports(v, p)?,
            "privileged" => s.privileged = boolean(v, p)?,
            "profiles" => s.profiles = string_list(v, p)?,
            "pull_policy" => s.pull_policy = Some(pull_policy(v, p, cx)?),
            "read_only" => s.read_only = boolean(v, p)?,
            "restart" => s.restart = Some(restart(v, p)?),
            "runtime" => s.runtime = Some(string(v, p)?),
            "scale" => s.scale = Some(integer(v, p)?),
            "secrets" => s.secrets = file_refs(v, p)?,
            "security_opt" => s.security_opt = string_list(v, p)?,
            "shm_size" => s.shm_size = Some(byte_size(v, p)?),
            "stdin_open" => s.stdin_open = boolean(v, p)?,
            "stop_grace_period" => s.stop_grace_period = Some(duration(v, p)?),
            "stop_signal" => s.stop_signal = Some(string(v, p)?),
            "sysctls" => s.sysctls = string_map(v, p)?,
            "tmpfs" => s.tmpfs = string_or_list(v, p)?,
            "tty" => s.tty = boolean(v, p)?,
            "ulimits" => s.ulimits = ulimits(v, p)?,
            "user" => s.user = Some(string(v, p)?),
            "userns_mode" => s.userns_mode = Some(string(v, p)?),
            "volumes" => s.volumes = volumes(v, p)?,
            "volumes_from" => s.volumes_from = string_list(v, p)?,
            "working_dir" => s.working_dir = Some(string(v, p)?),
            x if x.starts_with("x-") => {
                s.extensions.insert(k.name.clone(), v.to_json());
            }
            x if UNSUPPORTED.contains(&x) => {
                return Err(invalid(&k.loc, p, "is not supported by berth"));
            }
            x if IGNORED.contains(&x) => {
                cx.warnings
                    .insert(format!("{p} is not supported and is ignored"));
            }
            other => return Err(unknown(k, path, other)),
        }
    }
    if let (Some(scale), Some(replicas)) = (s.scale, s.deploy.as_ref().and_then(|d| d.replicas))
        && scale != replicas
    {
        return Err(invalid(
            &node.loc,
            path,
            format!("scale ({scale}) and deploy.replicas ({replicas}) differ"),
        ));
    }
    s.environment = resolve_environment(&s.env_file, environment, path, cx)?;
    Ok(s)
}

/// The container's environment: the env files in order, then `environment`, which wins. A
/// variable named without a value takes it from the project's environment.
fn resolve_environment(
    env_files: &[EnvFile],
    environment: Vec<(String, Option<String>, crate::yaml::Location)>,
    path: &str,
    cx: &Context<'_>,
) -> Result<BTreeMap<String, Option<String>>, Error> {
    let mut out = BTreeMap::new();
    for f in env_files {
        let file = std::path::Path::new(&f.path);
        if !f.required && !file.exists() {
            continue;
        }
        for (k, v) in crate::dotenv::read(file, cx.env)? {
            out.insert(k, v);
        }
    }
    for (k, v, loc) in environment {
        if k.is_empty() {
            return Err(invalid(
                &loc,
                &keypath(path, "environment"),
                "empty variable name",
            ));
        }
        let v = v.or_else(|| cx.env.get(&k).cloned());
        out.insert(k, v);
    }
    Ok(out)
}

fn command(v: &Node, p: &str) -> Result<Vec<String>, Error> {
    match &v.value {
        Value::Str(s, _) => shell_words(s).map_err(|m| invalid(&v.loc, p, m)),
        _ => string_list(v, p),
    }
}

fn container_name(v: &Node, p: &str) -> Result<String, Error> {
    let name = string(v, p)?;
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !ok {
        return Err(invalid(
            &v.loc,
            p,
            format!("invalid container name {name:?}"),
        ));
    }
    Ok(name)
}

fn restart(v: &Node, p: &str) -> Result<String, Error> {
    let r = string(v, p)?;
    let ok = match r.split_once(':') {
        Some(("on-failure", n)) => n.parse::<u32>().is_ok(),
        Some(_) => false,
        None => matches!(
            r.as_str(),
            "no" | "always" | "on-failure" | "unless-stopped"
        ),
    };
    if !ok {
        return Err(invalid(&v.loc, p, format!("invalid restart policy {r:?}")));
    }
    Ok(r)
}

fn pull_policy(v: &Node, p: &str, cx: &mut Context<'_>) -> Result<PullPolicy, Error> {
    let s = string(v, p)?;
    Ok(match s.as_str() {
        "always" => PullPolicy::Always,
        "never" => PullPolicy::Never,
        "missing" | "if_not_present" => PullPolicy::Missing,
        "build" => PullPolicy::Build,
        x if x == "daily" || x == "weekly" || x.starts_with("every_") => {
            cx.warnings
                .insert(format!("{p}: {x:?} is read as \"missing\""));
            PullPolicy::Missing
        }
        _ => return Err(invalid(&v.loc, p, format!("invalid pull policy {s:?}"))),
    })
}

fn build(v: &Node, path: &str, cx: &mut Context<'_>) -> Result<Build, Error> {
    let mut b = Build {
        context: ".".to_string(),
        dockerfile: "Dockerfile".to_string(),
        ..Build::default()
    };
    if let Value::Str(ctx, _) = &v.value {
        b.context = ctx.clone();
        return Ok(b);
    }
    for (k, v) in entries(v, path)? {
        let p = keypath(path, &k.name);
        let p = p.as_str();
        if v.value == Value::Null {
            continue;
        }
        match k.name.as_str() {
            "context" => b.context = string(v, p)?,
            "dockerfile" => b.dockerfile = string(v, p)?,
            "dockerfile_inline" => b.dockerfile_inline = Some(string(v, p)?),
            "args" => {
                b.args = dict(v, p, '=')?
                    .into_iter()
                    .map(|(k, val, _)| {
                        let val = val.or_else(|| cx.env.get(&k).cloned());
                        (k, val)
                    })
                    .collect();
            }
            "cache_from" => b.cache_from = string_list(v, p)?,
            "extra_hosts" => b.extra_hosts = extra_hosts(v, p)?,
            "labels" => b.labels = string_map(v, p)?,
            "network" => b.network = Some(string(v, p)?),
            "no_cache" => b.no_cache = boolean(v, p)?,
            "pull" => b.pull = boolean(v, p)?,
            "shm_size" => b.shm_size = Some(byte_size(v, p)?),
            "tags" => b.tags = string_list(v, p)?,
            "target" => b.target = Some(string(v, p)?),
            "additional_contexts"
            | "cache_to"
            | "isolation"
            | "platforms"
            | "privileged"
            | "secrets"
            | "ssh"
            | "ulimits"
            | "entitlements"
            | "provenance"
            | "sbom" => {
                cx.warnings.insert(format!(
                    "{p} needs BuildKit, which the classic build API berth uses lacks; ignored"
                ));
            }
            x if x.starts_with("x-") => {}
            other => return Err(unknown(k, path, other)),
        }
    }
    Ok(b)
}

fn depends_on(v: &Node, path: &str) -> Result<BTreeMap<String, Dependency>, Error> {
    let mut out = BTreeMap::new();
    if let Value::Seq(items) = &v.value {
        for (i, item) in items.iter().enumerate() {
            out.insert(
                string(item, &format!("{path}[{i}]"))?,
                Dependency::started(),
            );
        }
        return Ok(out);
    }
    for (k, v) in entries(v, path)? {
        let dp = keypath(path, &k.name);
        let mut d = Dependency::started();
        for (f, fv) in entries_or_empty(v, &dp)? {
            let fp = keypath(&dp, &f.name);
            match f.name.as_str() {
                "condition" => {
                    d.condition = match string(fv, &fp)?.as_str() {
                        "service_started" => Condition::ServiceStarted,
                        "service_healthy" => Condition::ServiceHealthy,
                        "service_completed_successfully" => Condition::ServiceCompletedSuccessfully,
                        other => {
                            return Err(invalid(
                                &fv.loc,
                                &fp,
                                format!(
                                    "invalid condition {other:?}: use service_started, service_healthy or service_completed_successfully"
                                ),
                            ));
                        }
                    }
                }
                "restart" => d.restart = boolean(fv, &fp)?,
                "required" => d.required = boolean(fv, &fp)?,
                x if x.starts_with("x-") => {}
                other => return Err(unknown(f, &dp, other)),
            }
        }
        out.insert(k.name.clone(), d);
    }
    Ok(out)
}

fn deploy(v: &Node, path: &str, cx: &mut Context<'_>) -> Result<Deploy, Error> {
    let mut d = Deploy::default();
    for (k, v) in entries(v, path)? {
        let p = keypath(path, &k.name);
        let p = p.as_str();
        if v.value == Value::Null {
            continue;
        }
        match k.name.as_str() {
            "mode" => {
                let mode = string(v, p)?;
                if !matches!(mode.as_str(), "replicated" | "global") {
                    return Err(invalid(&v.loc, p, format!("invalid mode {mode:?}")));
                }
                d.mode = Some(mode);
            }
            "replicas" => d.replicas = Some(integer(v, p)?),
            "labels" => d.labels = string_map(v, p)?,
            "resources" => {
                let mut r = Resources::default();
                for (k, v) in entries(v, p)? {
                    let rp = keypath(p, &k.name);
                    match k.name.as_str() {
                        "limits" => r.limits = Some(resource(v, &rp, cx)?),
                        "reservations" => r.reservations = Some(resource(v, &rp, cx)?),
                        x if x.starts_with("x-") => {}
                        other => return Err(unknown(k, p, other)),
                    }
                }
                d.resources = Some(r);
            }
            "restart_policy" => {
                let mut r = RestartPolicy::default();
                for (k, v) in entries(v, p)? {
                    let rp = keypath(p, &k.name);
                    match k.name.as_str() {
                        "condition" => {
                            let c = string(v, &rp)?;
                            if !matches!(c.as_str(), "none" | "on-failure" | "any") {
                                return Err(invalid(
                                    &v.loc,
                                    &rp,
                                    format!("invalid condition {c:?}"),
                                ));
                            }
                            r.condition = Some(c);
                        }
                        "delay" => r.delay = Some(duration(v, &rp)?),
                        "max_attempts" => r.max_attempts = Some(integer(v, &rp)?),
                        "window" => r.window = Some(duration(v, &rp)?),
                        x if x.starts_with("x-") => {}
                        other => return Err(unknown(k, p, other)),
                    }
                }
                d.restart_policy = Some(r);
            }
            "endpoint_mode" | "placement" | "update_config" | "rollback_config" => {
                cx.warnings.insert(format!("{p} is ignored (swarm only)"));
            }
            x if x.starts_with("x-") => {}
            other => return Err(unknown(k, path, other)),
        }
    }
    Ok(d)
}

fn resource(v: &Node, path: &str, cx: &mut Context<'_>) -> Result<Resource, Error> {
    let mut r = Resource::default();
    for (k, v) in entries(v, path)? {
        let p = keypath(path, &k.name);
        match k.name.as_str() {
            "cpus" => r.cpus = Some(float(v, &p)?),
            "memory" => r.memory = Some(byte_size(v, &p)?),
            "pids" => r.pids = Some(integer(v, &p)?),
            "devices" | "generic_resources" => {
                cx.warnings
                    .insert(format!("{p} is not supported and is ignored"));
            }
            x if x.starts_with("x-") => {}
            other => return Err(unknown(k, path, other)),
        }
    }
    Ok(r)
}

fn devices(v: &Node, path: &str) -> Result<Vec<Device>, Error> {
    let mut out = Vec::new();
    for (i, item) in seq(v, path)?.iter().enumerate() {
        let p = format!("{path}[{i}]");
        if let Value::Str(spec, _) = &item.value {
            let mut parts = spec.splitn(3, ':');
            let source = parts.next().unwrap_or_default().to_string();
            let target = parts.next().map_or_else(|| source.clone(), str::to_string);
            let permissions = parts.next().map(str::to_string);
            if !source.starts_with('/') {
                let why = if source.contains('=') && !spec.contains(':') {
                    "CDI device names are not supported by berth"
                } else {
                    "the host path must be absolute"
                };
                return Err(invalid(
                    &item.loc,
                    &p,
                    format!("invalid device {spec:?}: {why}"),
                ));
            }
            out.push(Device {
                source,
                target,
                permissions,
            });
            continue;
        }
        let mut d = Device {
            source: String::new(),
            target: String::new(),
            permissions: None,
        };
        for (k, v) in entries(item, &p)? {
            let kp = keypath(&p, &k.name);
            match k.name.as_str() {
                "source" => d.source = string(v, &kp)?,
                "target" => d.target = string(v, &kp)?,
                "permissions" => d.permissions = Some(string(v, &kp)?),
                other => return Err(unknown(k, &p, other)),
            }
        }
        if d.source.is_empty() {
            return Err(invalid(&item.loc, &p, "a device needs a source"));
        }
        if d.target.is_empty() {
            d.target = d.source.clone();
        }
        out.push(d);
    }
    Ok(out)
}

fn env_files(v: &Node, path: &str) -> Result<Vec<EnvFile>, Error> {
    let items: Vec<&Node> = match &v.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![v],
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let p = format!("{path}[{i}]");
        if let Value::Str(s, _) = &item.value {
            out.push(EnvFile {
                path: s.clone(),
                required: true,
            });
            continue;
        }
        let mut f = EnvFile {
            path: String::new(),
            required: true,
        };
        for (k, v) in entries(item, &p)? {
            let kp = keypath(&p, &k.name);
            match k.name.as_str() {
                "path" => f.path = string(v, &kp)?,
                "required" => f.required = boolean(v, &kp)?,
                "format" => {
                    let format = string(v, &kp)?;
                    if format != "raw" && format != "dotenv" {
                        return Err(invalid(
                            &v.loc,
                            &kp,
                            format!("unsupported format {format:?}"),
                        ));
                    }
                }
                other => return Err(unknown(k, &p, other)),
            }
        }
        if f.path.is_empty() {
            return Err(invalid(&item.loc, &p, "an env_file needs a path"));
        }
        out.push(f);
    }
    Ok(out)
}

/// `host:ip` or `host=ip` strings, or a mapping of host to one address or several.
fn extra_hosts(v: &Node, path: &str) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    match &v.value {
        Value::Map(entries) => {
            for (k, ip) in entries {
                let p = keypath(path, &k.name);
                for ip in string_or_list(ip, &p)? {
                    out.push(format!("{}:{ip}", k.name));
                }
            }
        }
        _ => {
            for (i, item) in seq(v, path)?.iter().enumerate() {
                let s = string(item, &format!("{path}[{i}]"))?;
                let (host, ip) =
                    s.split_once('=')
                        .or_else(|| s.split_once(':'))
                        .ok_or_else(|| {
                            invalid(
                                &item.loc,
                                &format!("{path}[{i}]"),
                                format!("invalid extra host {s:?}: use host:ip"),
                            )
                        })?;
                out.push(format!("{host}:{ip}"));
            }
        }
    }
    Ok(out)
}

fn file_refs(v: &Node, path: &str) -> Result<Vec<FileReference>, Error> {
    let mut out = Vec::new();
    for (i, item) in seq(v, path)?.iter().enumerate() {
        let p = format!("{path}[{i}]");
        if let Value::Str(s, _) = &item.value {
            out.push(FileReference {
                source: s.clone(),
                ..FileReference::default()
            });
            continue;
        }
        let mut r = FileReference::default();
        for (k, v) in entries(item, &p)? {
            let kp = keypath(&p, &k.name);
            match k.name.as_str() {
                "source" => r.source = string(v, &kp)?,
                "target" => r.target = Some(string(v, &kp)?),
                "uid" => r.uid = Some(string(v, &kp)?),
                "gid" => r.gid = Some(string(v, &kp)?),
                "mode" => r.mode = Some(file_mode(v, &kp)?),
                x if x.starts_with("x-") => {}
                other => return Err(unknown(k, &p, other)),
            }
        }
        if r.source.is_empty() {
            return Err(invalid(&item.loc, &p, "needs a source"));
        }
        out.push(r);
    }
    Ok(out)
}

/// A file mode: octal when written with a leading 0 (`0440`, `0o440`), else decimal.
fn file_mode(v: &Node, p: &str) -> Result<u32, Error> {
    let s = string(v, p)?;
    let t = s.trim();
    let parsed = if let Some(o) = t.strip_prefix("0o") {
        u32::from_str_radix(o, 8)
    } else if t.len() > 1 && t.starts_with('0') {
        u32::from_str_radix(&t[1..], 8)
    } else {
        t.parse()
    };
    match parsed {
        Ok(m) if m <= 0o7777 => Ok(m),
        _ => Err(invalid(&v.loc, p, format!("invalid file mode {s:?}"))),
    }
}

fn healthcheck(v: &Node, path: &str) -> Result<Healthcheck, Error> {
    let mut h = Healthcheck::default();
    for (k, v) in entries(v, path)? {
        let p = keypath(path, &k.name);
        let p = p.as_str();
        if v.value == Value::Null {
            continue;
        }
        match k.name.as_str() {
            "test" => {
                h.test = match &v.value {
                    Value::Str(s, _) => vec!["CMD-SHELL".to_string(), s.clone()],
                    _ => string_list(v, p)?,
                };
                match h.test.first().map(String::as_str) {
                    Some("NONE" | "CMD" | "CMD-SHELL") => {}
                    _ => {
                        return Err(invalid(
                            &v.loc,
                            p,
                            "a test list starts with NONE, CMD or CMD-SHELL",
                        ));
                    }
                }
            }
            "interval" => h.interval = Some(duration(v, p)?),
            "timeout" => h.timeout = Some(duration(v, p)?),
            "start_period" => h.start_period = Some(duration(v, p)?),
            "start_interval" => h.start_interval = Some(duration(v, p)?),
            "retries" => h.retries = Some(integer(v, p)?),
            "disable" => h.disable = boolean(v, p)?,
            x if x.starts_with("x-") => {}
            other => return Err(unknown(k, path, other)),
        }
    }
    Ok(h)
}

fn logging(v: &Node, path: &str) -> Result<Logging, Error> {
    let mut l = Logging::default();
    for (k, v) in entries(v, path)? {
        let p = keypath(path, &k.name);
        if v.value == Value::Null {
            continue;
        }
        match k.name.as_str() {
            "driver" => l.driver = Some(string(v, &p)?),
            "options" => l.options = string_map(v, &p)?,
            x if x.starts_with("x-") => {}
            other => return Err(unknown(k, path, other)),
        }
    }
    Ok(l)
}

fn networks(v: &Node, path: &str) -> Result<BTreeMap<String, Option<ServiceNetwork>>, Error> {
    let mut out = BTreeMap::new();
    if let Value::Seq(items) = &v.value {
        for (i, item) in items.iter().enumerate() {
            out.insert(string(item, &format!("{path}[{i}]"))?, None);
        }
        return Ok(out);
    }
    for (k, v) in entries(v, path)? {
        let np = keypath(path, &k.name);
        if v.value == Value::Null {
            out.insert(k.name.clone(), None);
            continue;
        }
        let mut n = ServiceNetwork::default();
        for (f, fv) in entries(v, &np)? {
            let p = keypath(&np, &f.name);
            if fv.value == Value::Null {
                continue;
            }
            match f.name.as_str() {
                "aliases" => n.aliases = string_list(fv, &p)?,
                "ipv4_address" => n.ipv4_address = Some(ip(fv, &p, true)?),
                "ipv6_address" => n.ipv6_address = Some(ip(fv, &p, false)?),
                "link_local_ips" => n.link_local_ips = string_list(fv, &p)?,
                "mac_address" => n.mac_address = Some(string(fv, &p)?),
                "driver_opts" => n.driver_opts = string_map(fv, &p)?,
                "priority" | "gw_priority" => n.priority = Some(integer(fv, &p)?),
                "interface_name" => n.interface_name = Some(string(fv, &p)?),
                x if x.starts_with("x-") => {}
                other => return Err(unknown(f, &np, other)),
            }
        }
        out.insert(k.name.clone(), Some(n));
    }
    Ok(out)
}

fn ip(v: &Node, p: &str, v4: bool) -> Result<String, Error> {
    let s = string(v, p)?;
    let ok = if v4 {
        s.parse::<std::net::Ipv4Addr>().is_ok()
    } else {
        s.parse::<std::net::Ipv6Addr>().is_ok()
    };
    if !ok {
        return Err(invalid(&v.loc, p, format!("invalid address {s:?}")));
    }
    Ok(s)
}

fn ports(v: &Node, path: &str) -> Result<Vec<Port>, Error> {
    let mut out = Vec::new();
    for (i, item) in seq(v, path)?.iter().enumerate() {
        let p = format!("{path}[{i}]");
        match &item.value {
            Value::Str(spec, _) => {
                out.extend(syntax::port(spec).map_err(|m| invalid(&item.loc, &p, m))?);
            }
            Value::Map(_) => out.push(long_port(item, &p)?),
            _ => return Err(type_error(item, &p, "a string or a mapping")),
        }
    }
    Ok(out)
}

fn long_port(v: &Node, path: &str) -> Result<Port, Error> {
    let mut port = Port {
        name: None,
        mode: "ingress".to_string(),
        host_ip: None,
        target: 0,
        published: None,
        protocol: "tcp".to_string(),
        app_protocol: None,
    };
    for (k, v) in entries(v, path)? {
        let p = keypath(path, &k.name);
        if v.value == Value::Null {
            continue;
        }
        match k.name.as_str() {
            "name" => port.name = Some(string(v, &p)?),
            "mode" => {
                port.mode = string(v, &p)?;
                if !matches!(port.mode.as_str(), "ingress" | "host") {
                    return Err(invalid(&v.loc, &p, format!("invalid mode {:?}", port.mode)));
                }
            }
            "host_ip" => {
                if string(v, &p)?.is_empty() {
                    continue;
                }
                port.host_ip = Some(ip(v, &p, true).or_else(|_| ip(v, &p, false))?);
            }
            "target" => {
                port.target = integer(v, &p)?;
                if port.target == 0 {
                    return Err(invalid(&v.loc, &p, "invalid port 0"));
                }
            }
            "published" => {
                let s = string(v, &p)?;
                // Checked with the short syntax's rules, as `published:target`.
                syntax::port(&format!("{s}:1"))
                    .map_err(|_| invalid(&v.loc, &p, format!("invalid port {s:?}")))?;
                port.published = Some(s);
            }
            "protocol" => {
                port.protocol = string(v, &p)?;
                if !matches!(port.protocol.as_str(), "tcp" | "udp" | "sctp") {
                    return Err(invalid(
                        &v.loc,
                        &p,
                        format!("invalid protocol {:?}", port.protocol),
                    ));
                }
            }
            "app_protocol" => port.app_protocol = Some(string(v, &p)?),
            x if x.starts_with("x-") => {}
            other => return Err(unknown(k, path, other)),
        }
    }
    if port.target == 0 {
        return Err(invalid(&v.loc, path, "a port needs a target"));
    }
    Ok(port)
}

fn ulimits(v: &Node, path: &str) -> Result<BTreeMap<String, Ulimit>, Error> {
    let mut out = BTreeMap::new();
    for (k, v) in entries(v, path)? {
        let p = keypath(path, &k.name);
        let u = if let Value::Map(_) = v.value {
            let (mut soft, mut hard) = (None, None);
            for (f, fv) in entries(v, &p)? {
                let fp = keypath(&p, &f.name);
                match f.name.as_str() {
                    "soft" => soft = Some(integer(fv, &fp)?),
                    "hard" => hard = Some(integer(fv, &fp)?),
                    other => return Err(unknown(f, &p, other)),
                }
            }
            let (Some(soft), Some(hard)) = (soft, hard) else {
                return Err(invalid(&v.loc, &p, "needs both soft and hard"));
            };
            if soft > hard {
                return Err(invalid(&v.loc, &p, "soft is greater than hard"));
            }
            Ulimit { soft, hard }
        } else {
            let n = integer(v, &p)?;
            Ulimit { soft: n, hard: n }
        };
        out.insert(k.name.clone(), u);
    }
    Ok(out)
}

fn volumes(v: &Node, path: &str) -> Result<Vec<ServiceVolume>, Error> {
    let mut out = Vec::new();
    for (i, item) in seq(v, path)?.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let vol = match &item.value {
            Value::Str(spec, _) => syntax::volume(spec).map_err(|m| invalid(&item.loc, &p, m))?,
            Value::Map(_) => long_volume(item, &p)?,
            _ => return Err(type_error(item, &p, "a string or a mapping")),
        };
        out.push(vol);
    }
    Ok(out)
}

fn long_volume(v: &Node, path: &str) -> Result<ServiceVolume, Error> {
    let mut kind = None;
    let mut vol = ServiceVolume {
        kind: MountType::Volume,
        source: None,
        target: String::new(),
        read_only: false,
        consistency: None,
        bind: None,
        volume: None,
        tmpfs: None,
    };
    for (k, v) in entries(v, path)? {
        let p = keypath(path, &k.name);
        let p = p.as_str();
        if v.value == Value::Null {
            continue;
        }
        match k.name.as_str() {
            "type" => {
                kind = Some(match string(v, p)?.as_str() {
                    "bind" => MountType::Bind,
                    "volume" => MountType::Volume,
                    "tmpfs" => MountType::Tmpfs,
                    other => {
                        return Err(invalid(
                            &v.loc,
                            p,
                            format!("unsupported volume type {other:?}"),
                        ));
                    }
                });
            }
            "source" => vol.source = Some(string(v, p)?),
            "target" => vol.target = string(v, p)?,
            "read_only" => vol.read_only = boolean(v, p)?,
            "consistency" => vol.consistency = Some(string(v, p)?),
            "bind" => {
                let mut b = BindOptions::default();
                for (k, v) in entries(v, p)? {
                    let bp = keypath(p, &k.name);
                    match k.name.as_str() {
                        "propagation" => {
                            let prop = string(v, &bp)?;
                            if !matches!(
                                prop.as_str(),
                                "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate"
                            ) {
                                return Err(invalid(
                                    &v.loc,
                                    &bp,
                                    format!("invalid propagation {prop:?}"),
                                ));
                            }
                            b.propagation = Some(prop);
                        }
                        "create_host_path" => b.create_host_path = boolean(v, &bp)?,
                        "selinux" => {
                            let z = string(v, &bp)?;
                            if z != "z" && z != "Z" {
                                return Err(invalid(
                                    &v.loc,
                                    &bp,
                                    format!("invalid selinux label {z:?}: use z or Z"),
                                ));
                            }
                            b.selinux = Some(z);
                        }
                        x if x.starts_with("x-") => {}
                        other => return Err(unknown(k, p, other)),
                    }
                }
                vol.bind = Some(b);
            }
            "volume" => {
                let mut o = VolumeOptions::default();
                for (k, v) in entries_or_empty(v, p)? {
                    let op = keypath(p, &k.name);
                    match k.name.as_str() {
                        "nocopy" => o.nocopy = boolean(v, &op)?,
                        "subpath" => o.subpath = Some(string(v, &op)?),
                        x if x.starts_with("x-") => {}
                        other => return Err(unknown(k, p, other)),
                    }
                }
                vol.volume = Some(o);
            }
            "tmpfs" => {
                let mut t = TmpfsOptions::default();
                for (k, v) in entries(v, p)? {
                    let tp = keypath(p, &k.name);
                    match k.name.as_str() {
                        "size" => t.size = Some(byte_size(v, &tp)?),
                        "mode" => t.mode = Some(file_mode(v, &tp)?),
                        x if x.starts_with("x-") => {}
                        other => return Err(unknown(k, p, other)),
                    }
                }
                vol.tmpfs = Some(t);
            }
            x if x.starts_with("x-") => {}
            other => return Err(unknown(k, path, other)),
        }
    }
    let Some(kind) = kind else {
        return Err(invalid(
            &v.loc,
            path,
            "a volume needs a type (bind, volume or tmpfs)",
        ));
    };
    vol.kind = kind;
    if !vol.target.starts_with('/') {
        return Err(invalid(
            &v.loc,
            path,
            format!("invalid target {:?}: must be an absolute path", vol.target),
        ));
    }
    let wrong_options = match kind {
        MountType::Bind => vol.volume.is_some() || vol.tmpfs.is_some(),
        MountType::Volume => vol.bind.is_some() || vol.tmpfs.is_some(),
        MountType::Tmpfs => vol.bind.is_some() || vol.volume.is_some() || vol.source.is_some(),
    };
    if wrong_options {
        return Err(invalid(
            &v.loc,
            path,
            "options or source that do not fit the volume's type",
        ));
    }
    if kind == MountType::Bind {
        match &vol.source {
            Some(s) if s.starts_with('/') => {}
            Some(s) => return Err(invalid(&v.loc, path, format!("invalid bind source {s:?}"))),
            None => return Err(invalid(&v.loc, path, "a bind mount needs a source")),
        }
    }
    Ok(vol)
}
