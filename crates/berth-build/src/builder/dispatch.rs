//! The instructions that only change the image config (committed as empty layers), and RUN.

use std::collections::BTreeMap;

use crate::cache::BuildCache;
use crate::config::{ContainerConfig, Empty, HealthConfig};
use crate::error::{BuildError, Result};
use crate::expansion::{self, Vars};
use crate::gofmt;
use crate::host::BuildHost;
use crate::instructions::{CommandLine, Healthcheck, Instruction, KeyValue, Step};

use super::run::command_argv;
use super::{Builder, StageState};

impl<H: BuildHost + ?Sized, C: BuildCache + ?Sized> Builder<'_, H, C> {
    pub(super) fn dispatch(&mut self, state: &mut StageState, step: &Step) -> Result<()> {
        let mut config = state.image.config.config.clone();
        let env = self.env(state);
        let vars = Vars::new(env.iter().map(String::as_str));
        let expand = |word: &str| expansion::expand(word, self.escape, &vars);
        let comment = match &step.instruction {
            Instruction::From { .. } => {
                return Err(BuildError::invalid("FROM can only start a stage"));
            }
            Instruction::Run(run) => return self.run(state, run, step.line),
            Instruction::Copy(args) => return self.copy(state, args, false),
            Instruction::Add(args) => return self.copy(state, args, true),
            Instruction::Workdir(path) => {
                let path = expand(path)?;
                return self.workdir(state, &path);
            }
            Instruction::Cmd(command) => {
                let cmd = command_argv(&config, command);
                let comment = format!("CMD {}", gofmt::quote_list(&cmd));
                config.cmd = Some(cmd);
                self.commit_nop(state, &comment, config)?;
                if !matches!(command, CommandLine::Exec(words) if words.is_empty()) {
                    state.cmd_set = true;
                }
                return Ok(());
            }
            Instruction::Entrypoint(command) => {
                let entrypoint = command_argv(&config, command);
                let comment = format!("ENTRYPOINT {}", gofmt::quote_list(&entrypoint));
                config.entrypoint = Some(entrypoint);
                if !state.cmd_set {
                    config.cmd = None;
                }
                comment
            }
            Instruction::Env(pairs) => {
                let mut comment = String::from("ENV");
                for KeyValue { key, value } in pairs {
                    let (key, value) = (expand(key)?, expand(value)?);
                    comment.push_str(&format!(" {key}={value}"));
                    config.set_env(&key, &value);
                }
                comment
            }
            Instruction::Label {
                pairs,
                expand: expands,
            } => {
                let mut comment = String::from("LABEL");
                let labels = config.labels.get_or_insert_with(BTreeMap::new);
                for KeyValue { key, value } in pairs {
                    let (key, value) = if *expands {
                        (expand(key)?, expand(value)?)
                    } else {
                        (key.clone(), value.clone())
                    };
                    comment.push_str(&format!(" {key}={value}"));
                    labels.insert(key, value);
                }
                comment
            }
            Instruction::Arg(pairs) => {
                let mut parts = Vec::new();
                for (key, default) in pairs {
                    let key = expand(key)?;
                    let default = default.as_deref().map(expand).transpose()?;
                    parts.push(match &default {
                        Some(value) => format!("{key}={value}"),
                        None => key.clone(),
                    });
                    self.args.declare(&mut state.args, &key, default);
                }
                format!("ARG {}", parts.join(" "))
            }
            Instruction::Expose(words) => {
                let mut ports = Vec::new();
                for word in words {
                    ports.extend(expansion::expand_words(word, self.escape, &vars)?);
                }
                let exposed = config.exposed_ports.get_or_insert_with(BTreeMap::new);
                for port in &ports {
                    for spec in port_specs(port)? {
                        exposed.insert(spec, Empty {});
                    }
                }
                format!("EXPOSE {}", ports.join(" "))
            }
            Instruction::Volume(words) => {
                let mut volumes = Vec::new();
                for word in words {
                    let volume = expand(word)?;
                    if volume.trim().is_empty() {
                        return Err(BuildError::invalid(
                            "VOLUME specified can not be an empty string",
                        ));
                    }
                    volumes.push(volume);
                }
                let set = config.volumes.get_or_insert_with(BTreeMap::new);
                for volume in &volumes {
                    set.insert(volume.clone(), Empty {});
                }
                format!("VOLUME {}", gofmt::plain_list(&volumes))
            }
            Instruction::User(user) => {
                config.user = expand(user)?;
                format!("USER {}", config.user)
            }
            Instruction::StopSignal(signal) => {
                let signal = expand(signal)?;
                check_signal(&signal)?;
                config.stop_signal = signal;
                format!("STOPSIGNAL {}", config.stop_signal)
            }
            Instruction::Maintainer(name) => {
                state.maintainer = name.clone();
                format!("MAINTAINER {name}")
            }
            Instruction::Healthcheck(health) => {
                if let Some(old) = &config.healthcheck
                    && old.test.first().is_some_and(|t| t != "NONE")
                {
                    let note = format!(
                        "Note that overriding previous HEALTHCHECK: {}",
                        gofmt::plain_list(&old.test)
                    );
                    self.out.line(&note);
                }
                let health = health_config(health);
                let comment = format!("HEALTHCHECK {}", go_health(&health));
                config.healthcheck = Some(health);
                comment
            }
            Instruction::Shell(shell) => {
                config.shell = Some(shell.clone());
                format!("SHELL {}", gofmt::plain_list(shell))
            }
            Instruction::Onbuild(trigger) => {
                config
                    .on_build
                    .get_or_insert_with(Vec::new)
                    .push(trigger.clone());
                format!("ONBUILD {trigger}")
            }
        };
        self.commit_nop(state, &comment, config)
    }

    /// Commits a config-only step; its history reads `/bin/sh -c #(nop)  <comment>`.
    fn commit_nop(
        &mut self,
        state: &mut StageState,
        comment: &str,
        config: ContainerConfig,
    ) -> Result<()> {
        let created_by = format!("{} #(nop)  {comment}", config.shell().join(" "));
        self.commit(state, created_by, config, |_, _| Ok(None))
    }
}

fn health_config(h: &Healthcheck) -> HealthConfig {
    HealthConfig {
        test: h.test.clone(),
        interval: h.interval,
        timeout: h.timeout,
        start_period: h.start_period,
        start_interval: h.start_interval,
        retries: h.retries,
    }
}

/// Go's `%q` of Docker's `*HealthConfig`, which is what its history shows.
fn go_health(h: &HealthConfig) -> String {
    format!(
        "&{{{} {} {} {} {} {}}}",
        gofmt::quote_list(&h.test),
        gofmt::quote(&gofmt::duration(h.interval)),
        gofmt::quote(&gofmt::duration(h.timeout)),
        gofmt::quote(&gofmt::duration(h.start_period)),
        gofmt::quote(&gofmt::duration(h.start_interval)),
        gofmt::quote_rune(h.retries),
    )
}

/// `80`, `80/udp`, `8000-8002/tcp` as `port/proto` keys.
fn port_specs(spec: &str) -> Result<Vec<String>> {
    let (ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(BuildError::invalid(format!("invalid proto: {proto}")));
    }
    let invalid = || BuildError::invalid(format!("invalid containerPort: {ports}"));
    let parse = |p: &str| p.parse::<u16>().map_err(|_| invalid());
    let (start, end) = match ports.split_once('-') {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => {
            let p = parse(ports)?;
            (p, p)
        }
    };
    if end < start {
        return Err(BuildError::invalid(format!(
            "invalid range specified for containerPort: {ports}"
        )));
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

const SIGNALS: [&str; 35] = [
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL",
    "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP",
    "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", "RTMIN",
];

/// Docker's `signal.ParseSignal`: a non-zero number or a Linux signal name, `SIG` optional.
fn check_signal(raw: &str) -> Result<()> {
    let invalid = || BuildError::invalid(format!("Invalid signal: {raw}"));
    if let Ok(n) = raw.parse::<i64>() {
        return if n == 0 { Err(invalid()) } else { Ok(()) };
    }
    let upper = raw.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let realtime = |prefix: &str, max: u32| {
        name.strip_prefix(prefix)
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| (1..=max).contains(&n))
    };
    if SIGNALS.contains(&name)
        || name == "RTMAX"
        || realtime("RTMIN+", 15)
        || realtime("RTMAX-", 14)
    {
        Ok(())
    } else {
        Err(invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(port_specs("80").unwrap(), ["80/tcp"]);
        assert_eq!(port_specs("53/UDP").unwrap(), ["53/udp"]);
        assert_eq!(
            port_specs("8000-8002").unwrap(),
            ["8000/tcp", "8001/tcp", "8002/tcp"]
        );
        assert_eq!(
            port_specs("x").unwrap_err().to_string(),
            "invalid containerPort: x"
        );
        assert_eq!(
            port_specs("80/icmp").unwrap_err().to_string(),
            "invalid proto: icmp"
        );
        assert!(port_specs("9-1").is_err());
    }

    #[test]
    fn signals() {
        for ok in ["SIGTERM", "term", "9", "RTMIN+3", "SIGRTMAX-1", "SIGRTMAX"] {
            check_signal(ok).unwrap();
        }
        for bad in ["0", "SIGNOPE", "RTMIN+16", ""] {
            assert!(check_signal(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_signal("FOO").unwrap_err().to_string(),
            "Invalid signal: FOO"
        );
    }

    #[test]
    fn health_history_is_gos_struct_format() {
        let h = HealthConfig {
            test: vec![
                "CMD-SHELL".into(),
                "curl -f http://localhost/ || exit 1".into(),
            ],
            interval: 300_000_000_000,
            timeout: 3_000_000_000,
            start_period: 0,
            start_interval: 0,
            retries: 3,
        };
        assert_eq!(
            go_health(&h),
            r#"&{["CMD-SHELL" "curl -f http://localhost/ || exit 1"] "5m0s" "3s" "0s" "0s" '\x03'}"#
        );
    }
}
