//! `process.capabilities`: the five capability sets, and the order of operations that keeps
//! the right ones across the switch to the container's user.

use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};
use rustix::thread::{CapabilitySet, CapabilitySets};

use crate::error::SetupError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CapabilityPlan {
    pub bounding: CapabilitySet,
    pub effective: CapabilitySet,
    pub permitted: CapabilitySet,
    pub inheritable: CapabilitySet,
    pub ambient: CapabilitySet,
}

impl CapabilityPlan {
    pub(crate) fn new(caps: &LinuxCapabilities) -> Self {
        let set = |caps: &Option<Capabilities>| {
            caps.iter()
                .flatten()
                .fold(CapabilitySet::empty(), |acc, cap| acc | bit(*cap))
        };
        Self {
            bounding: set(caps.bounding()),
            effective: set(caps.effective()),
            permitted: set(caps.permitted()),
            inheritable: set(caps.inheritable()),
            ambient: set(caps.ambient()),
        }
    }

    /// The plan limited to `held`, the capabilities the calling process has (its permitted
    /// set). One the runtime lacks itself (a host whose bounding set has no
    /// `CAP_SYS_RESOURCE`, say) cannot be given, and asking for it (a privileged container
    /// asks for all) must not keep the container from starting: Docker leaves such
    /// capabilities out too.
    pub(crate) fn within(&self, held: CapabilitySet) -> Self {
        Self {
            bounding: self.bounding & held,
            effective: self.effective & held,
            permitted: self.permitted & held,
            inheritable: self.inheritable & held,
            ambient: self.ambient & held,
        }
    }

    /// Step 1, while still fully privileged: drops everything outside the bounding set.
    pub(crate) fn limit_bounding_set(&self) -> Result<(), SetupError> {
        for n in 0..u64::BITS {
            let cap = CapabilitySet::from_bits_retain(1 << n);
            if self.bounding.contains(cap) {
                continue;
            }
            match rustix::thread::remove_capability_from_bounding_set(cap) {
                Ok(()) => {}
                // Past the last capability this kernel knows.
                Err(rustix::io::Errno::INVAL) => break,
                Err(e) => return Err(SetupError::sys("drop capability from the bounding set", e)),
            }
        }
        Ok(())
    }

    /// Step 3, after the user switch (made with `PR_SET_KEEPCAPS`): sets the effective,
    /// permitted and inheritable sets, then the ambient set.
    pub(crate) fn apply_sets(&self) -> Result<(), SetupError> {
        rustix::thread::set_capabilities(
            None,
            CapabilitySets {
                effective: self.effective,
                permitted: self.permitted,
                inheritable: self.inheritable,
            },
        )
        .map_err(|e| SetupError::sys("capset", e))?;
        rustix::thread::clear_ambient_capability_set()
            .map_err(|e| SetupError::sys("clear ambient capabilities", e))?;
        for n in 0..u64::BITS {
            let cap = CapabilitySet::from_bits_retain(1 << n);
            if self.ambient.contains(cap) {
                rustix::thread::configure_capability_in_ambient_set(cap, true)
                    .map_err(|e| SetupError::sys("raise ambient capability", e))?;
            }
        }
        Ok(())
    }
}

fn bit(cap: Capability) -> CapabilitySet {
    match cap {
        Capability::AuditControl => CapabilitySet::AUDIT_CONTROL,
        Capability::AuditRead => CapabilitySet::AUDIT_READ,
        Capability::AuditWrite => CapabilitySet::AUDIT_WRITE,
        Capability::BlockSuspend => CapabilitySet::BLOCK_SUSPEND,
        Capability::Bpf => CapabilitySet::BPF,
        Capability::CheckpointRestore => CapabilitySet::CHECKPOINT_RESTORE,
        Capability::Chown => CapabilitySet::CHOWN,
        Capability::DacOverride => CapabilitySet::DAC_OVERRIDE,
        Capability::DacReadSearch => CapabilitySet::DAC_READ_SEARCH,
        Capability::Fowner => CapabilitySet::FOWNER,
        Capability::Fsetid => CapabilitySet::FSETID,
        Capability::IpcLock => CapabilitySet::IPC_LOCK,
        Capability::IpcOwner => CapabilitySet::IPC_OWNER,
        Capability::Kill => CapabilitySet::KILL,
        Capability::Lease => CapabilitySet::LEASE,
        Capability::LinuxImmutable => CapabilitySet::LINUX_IMMUTABLE,
        Capability::MacAdmin => CapabilitySet::MAC_ADMIN,
        Capability::MacOverride => CapabilitySet::MAC_OVERRIDE,
        Capability::Mknod => CapabilitySet::MKNOD,
        Capability::NetAdmin => CapabilitySet::NET_ADMIN,
        Capability::NetBindService => CapabilitySet::NET_BIND_SERVICE,
        Capability::NetBroadcast => CapabilitySet::NET_BROADCAST,
        Capability::NetRaw => CapabilitySet::NET_RAW,
        Capability::Perfmon => CapabilitySet::PERFMON,
        Capability::Setgid => CapabilitySet::SETGID,
        Capability::Setfcap => CapabilitySet::SETFCAP,
        Capability::Setpcap => CapabilitySet::SETPCAP,
        Capability::Setuid => CapabilitySet::SETUID,
        Capability::SysAdmin => CapabilitySet::SYS_ADMIN,
        Capability::SysBoot => CapabilitySet::SYS_BOOT,
        Capability::SysChroot => CapabilitySet::SYS_CHROOT,
        Capability::SysModule => CapabilitySet::SYS_MODULE,
        Capability::SysNice => CapabilitySet::SYS_NICE,
        Capability::SysPacct => CapabilitySet::SYS_PACCT,
        Capability::SysPtrace => CapabilitySet::SYS_PTRACE,
        Capability::SysRawio => CapabilitySet::SYS_RAWIO,
        Capability::SysResource => CapabilitySet::SYS_RESOURCE,
        Capability::SysTime => CapabilitySet::SYS_TIME,
        Capability::SysTtyConfig => CapabilitySet::SYS_TTY_CONFIG,
        Capability::Syslog => CapabilitySet::SYSLOG,
        Capability::WakeAlarm => CapabilitySet::WAKE_ALARM,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_capabilities_map_to_kernel_bits() {
        let plan = CapabilityPlan::new(&LinuxCapabilities::default());
        let expected =
            CapabilitySet::AUDIT_WRITE | CapabilitySet::KILL | CapabilitySet::NET_BIND_SERVICE;
        assert_eq!(plan.bounding, expected);
        assert_eq!(plan.effective, expected);
        assert_eq!(plan.permitted, expected);
        assert_eq!(bit(Capability::Chown).bits(), 1 << 0);
        assert_eq!(bit(Capability::CheckpointRestore).bits(), 1 << 40);
    }

    #[test]
    fn capabilities_the_runtime_lacks_are_left_out() {
        let all = CapabilitySet::from_bits_retain((1 << 41) - 1);
        let plan = CapabilityPlan {
            bounding: all,
            effective: all,
            permitted: all,
            inheritable: all,
            ambient: CapabilitySet::SYS_RESOURCE | CapabilitySet::KILL,
        };
        let held = all - CapabilitySet::SYS_RESOURCE;
        let within = plan.within(held);
        assert_eq!(within.permitted, held);
        assert_eq!(within.bounding, held);
        assert_eq!(within.ambient, CapabilitySet::KILL);
    }

    #[test]
    fn a_missing_set_is_empty() {
        let mut caps = LinuxCapabilities::default();
        caps.set_ambient(None);
        assert!(CapabilityPlan::new(&caps).ambient.is_empty());
    }
}
