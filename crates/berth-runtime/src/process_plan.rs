//! `spec.process` (and the container's `linux.seccomp`), checked and turned into what the
//! container init, or an exec'd process, applies just before it executes the command.

use std::path::PathBuf;

use oci_spec::runtime::{LinuxSeccomp, Process};

use crate::Stdio;
use crate::capabilities::CapabilityPlan;
use crate::error::SpecError;
use crate::rlimits::{self, RlimitRequest};
use crate::seccomp::{Arch, Filter};
use crate::user::UserPlan;

/// The umask a container process starts with unless the spec sets one (Docker's).
const DEFAULT_UMASK: u32 = 0o022;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcessPlan {
    pub args: Vec<String>,
    pub env: Vec<String>,
    /// Absolute, in the container.
    pub cwd: PathBuf,
    pub user: UserPlan,
    pub umask: u32,
    pub no_new_privileges: bool,
    pub rlimits: Vec<RlimitRequest>,
    /// `None` leaves the capabilities as they are (all of them, for root).
    pub capabilities: Option<CapabilityPlan>,
    pub oom_score_adj: Option<i32>,
    /// The container's seccomp filter, compiled.
    pub seccomp: Option<Filter>,
    /// `process.terminal`: the process gets a pty instead of the caller's descriptors.
    pub terminal: bool,
    /// `process.consoleSize` as (rows, columns), the pty's initial size.
    pub console_size: Option<(u16, u16)>,
}

impl ProcessPlan {
    pub(crate) fn new(
        process: &Process,
        seccomp: Option<&LinuxSeccomp>,
    ) -> Result<Self, SpecError> {
        let unsupported = [
            (
                "an AppArmor profile",
                process
                    .apparmor_profile()
                    .as_ref()
                    .is_some_and(|p| !p.is_empty()),
            ),
            (
                "an SELinux label",
                process
                    .selinux_label()
                    .as_ref()
                    .is_some_and(|l| !l.is_empty()),
            ),
            ("process.scheduler", process.scheduler().is_some()),
            ("process.ioPriority", process.io_priority().is_some()),
            (
                "process.execCPUAffinity",
                process.exec_cpu_affinity().is_some(),
            ),
            ("process.commandLine", process.command_line().is_some()),
        ];
        if let Some((what, _)) = unsupported.iter().find(|(_, present)| *present) {
            return Err(SpecError::Unsupported((*what).to_string()));
        }
        let args = process.args().clone().unwrap_or_default();
        if args.is_empty() {
            return Err(SpecError::Missing("process.args"));
        }
        let env = process.env().clone().unwrap_or_default();
        if args.iter().any(|a| a.contains('\0')) {
            return Err(SpecError::NulByte {
                what: "process.args",
            });
        }
        if env.iter().any(|e| e.contains('\0')) {
            return Err(SpecError::NulByte {
                what: "process.env",
            });
        }
        if !process.cwd().is_absolute() {
            return Err(SpecError::RelativePath(process.cwd().clone()));
        }
        let seccomp = seccomp
            .map(|seccomp| {
                let native = Arch::native().ok_or_else(|| {
                    SpecError::Unsupported(format!("seccomp on {}", std::env::consts::ARCH))
                })?;
                Filter::compile(seccomp, native)
            })
            .transpose()?;
        let user = process.user();
        Ok(Self {
            args,
            env,
            cwd: process.cwd().clone(),
            user: UserPlan {
                uid: user.uid(),
                gid: user.gid(),
                additional_gids: user.additional_gids().clone().unwrap_or_default(),
            },
            umask: user.umask().unwrap_or(DEFAULT_UMASK),
            no_new_privileges: process.no_new_privileges().unwrap_or(false),
            rlimits: rlimits::from_spec(process.rlimits().as_deref().unwrap_or_default()),
            capabilities: process.capabilities().as_ref().map(CapabilityPlan::new),
            oom_score_adj: process.oom_score_adj(),
            seccomp,
            terminal: process.terminal() == Some(true),
            console_size: process.console_size().map(|size| {
                let clamp = |n: u64| u16::try_from(n).unwrap_or(u16::MAX);
                (clamp(size.height()), clamp(size.width()))
            }),
        })
    }
}

impl ProcessPlan {
    /// Whether `stdio` is what `process.terminal` asks for.
    pub(crate) fn check_stdio(&self, stdio: &Stdio<'_>) -> Result<(), SpecError> {
        if self.terminal == matches!(stdio, Stdio::Terminal) {
            Ok(())
        } else {
            Err(SpecError::StdioMismatch {
                terminal: self.terminal,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_process_is_a_root_shell_without_new_privileges() {
        let plan = ProcessPlan::new(&Process::default(), None).unwrap();
        assert_eq!(plan.args, ["sh"]);
        assert_eq!(plan.cwd, PathBuf::from("/"));
        assert_eq!((plan.user.uid, plan.user.gid), (0, 0));
        assert_eq!(plan.umask, 0o022);
        assert!(plan.no_new_privileges);
        assert_eq!(plan.rlimits.len(), 1);
        assert!(plan.capabilities.is_some());
        assert!(!plan.terminal);
    }

    #[test]
    fn a_terminal_keeps_its_initial_size() {
        let mut p = Process::default();
        p.set_terminal(Some(true));
        p.set_console_size(Some(
            oci_spec::runtime::BoxBuilder::default()
                .height(40u64)
                .width(1u64 << 20)
                .build()
                .unwrap(),
        ));
        let plan = ProcessPlan::new(&p, None).unwrap();
        assert!(plan.terminal);
        assert_eq!(plan.console_size, Some((40, u16::MAX)));
        assert_eq!(plan.check_stdio(&Stdio::Terminal), Ok(()));
        let null = std::fs::File::open("/dev/null").unwrap();
        let fd = std::os::fd::AsFd::as_fd(&null);
        let descriptors = Stdio::Descriptors {
            stdin: fd,
            stdout: fd,
            stderr: fd,
        };
        assert_eq!(
            plan.check_stdio(&descriptors),
            Err(SpecError::StdioMismatch { terminal: true })
        );
    }

    #[test]
    fn what_cannot_be_honoured_is_refused() {
        let mut p = Process::default();
        p.set_args(Some(vec![]));
        assert_eq!(
            ProcessPlan::new(&p, None),
            Err(SpecError::Missing("process.args"))
        );

        let mut p = Process::default();
        p.set_env(Some(vec!["A=\0".into()]));
        assert!(matches!(
            ProcessPlan::new(&p, None),
            Err(SpecError::NulByte { .. })
        ));

        let mut p = Process::default();
        p.set_cwd("work".into());
        assert!(matches!(
            ProcessPlan::new(&p, None),
            Err(SpecError::RelativePath(_))
        ));

        let mut p = Process::default();
        p.set_apparmor_profile(Some("docker-default".into()));
        assert!(matches!(
            ProcessPlan::new(&p, None),
            Err(SpecError::Unsupported(_))
        ));
    }
}
