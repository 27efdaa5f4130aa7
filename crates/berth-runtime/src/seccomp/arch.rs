//! The system call ABIs a filter can tell apart, and their syscall numbers by name.
//!
//! A process on an x86-64 host can call the kernel three ways: x86-64, i386 (`int 0x80`) and
//! x32 (x86-64 with bit 30 set in the syscall number); on an arm64 host, arm64 and 32-bit arm.
//! The kernel reports the ABI of each call as its `AUDIT_ARCH_*` value, except x32, which only
//! its number tells.

use std::collections::HashMap;

use oci_spec::runtime::Arch as SpecArch;

/// Bit 30 of an x32 syscall number (`__X32_SYSCALL_BIT`).
pub(crate) const X32_SYSCALL_BIT: u32 = 0x4000_0000;

// `AUDIT_ARCH_*` (linux/audit.h): the ELF machine, with bits for 64-bit and little-endian.
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
const AUDIT_ARCH_ARM: u32 = 0x4000_0028;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Arch {
    X86_64,
    X86,
    X32,
    Aarch64,
    Arm,
}

/// x32's own numbers for the calls whose x86-64 versions take 64-bit structures (the kernel's
/// 512 to 547); every other x32 call has its x86-64 number with [`X32_SYSCALL_BIT`].
const X32_SPECIFIC: [&str; 36] = [
    "rt_sigaction",
    "rt_sigreturn",
    "ioctl",
    "readv",
    "writev",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "execve",
    "ptrace",
    "rt_sigpending",
    "rt_sigtimedwait",
    "rt_sigqueueinfo",
    "sigaltstack",
    "timer_create",
    "mq_notify",
    "kexec_load",
    "waitid",
    "set_robust_list",
    "get_robust_list",
    "vmsplice",
    "move_pages",
    "preadv",
    "pwritev",
    "rt_tgsigqueueinfo",
    "recvmmsg",
    "sendmmsg",
    "process_vm_readv",
    "process_vm_writev",
    "setsockopt",
    "getsockopt",
    "io_setup",
    "io_submit",
    "execveat",
    "preadv2",
    "pwritev2",
];
const X32_SPECIFIC_FIRST: u32 = 512;

/// 32-bit arm's private calls (`__ARM_NR_BASE` + n), absent from the generic table.
const ARM_PRIVATE: [(&str, u32); 6] = [
    ("breakpoint", 0x0f_0001),
    ("cacheflush", 0x0f_0002),
    ("usr26", 0x0f_0003),
    ("usr32", 0x0f_0004),
    ("set_tls", 0x0f_0005),
    ("get_tls", 0x0f_0006),
];

impl Arch {
    /// The ABI of this build's target, if filters can be built for it.
    pub(crate) fn native() -> Option<Self> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Self::X86_64),
            "aarch64" => Some(Self::Aarch64),
            _ => None,
        }
    }

    /// The ABIs a process on a host of `self` (a native ABI) can use, `self` first.
    pub(crate) fn family(self) -> &'static [Arch] {
        match self {
            Self::X86_64 | Self::X86 | Self::X32 => &[Self::X86_64, Self::X86, Self::X32],
            Self::Aarch64 | Self::Arm => &[Self::Aarch64, Self::Arm],
        }
    }

    /// The ABI an OCI architecture names, if this runtime can filter it.
    pub(crate) fn from_spec(arch: SpecArch) -> Option<Self> {
        match arch {
            SpecArch::ScmpArchX86_64 => Some(Self::X86_64),
            SpecArch::ScmpArchX86 => Some(Self::X86),
            SpecArch::ScmpArchX32 => Some(Self::X32),
            SpecArch::ScmpArchAarch64 => Some(Self::Aarch64),
            SpecArch::ScmpArchArm => Some(Self::Arm),
            _ => None,
        }
    }

    /// The `AUDIT_ARCH_*` value the kernel reports for a call through this ABI.
    pub(crate) fn audit(self) -> u32 {
        match self {
            Self::X86_64 | Self::X32 => AUDIT_ARCH_X86_64,
            Self::X86 => AUDIT_ARCH_I386,
            Self::Aarch64 => AUDIT_ARCH_AARCH64,
            Self::Arm => AUDIT_ARCH_ARM,
        }
    }

    /// Whether arguments are 64 bits wide; a 32-bit ABI's are compared on their low half.
    pub(crate) fn is_64_bit(self) -> bool {
        matches!(self, Self::X86_64 | Self::Aarch64)
    }

    /// The ABI's syscalls by name, with their numbers as the filter sees them.
    pub(crate) fn numbers(self) -> HashMap<&'static str, u32> {
        // Every number up to the table's last (the crate's own iterator stops short of it).
        fn table<S>(
            last: S,
            new: fn(usize) -> Option<S>,
            name: fn(&S) -> &'static str,
            id: fn(&S) -> i32,
        ) -> HashMap<&'static str, u32> {
            let last = usize::try_from(id(&last)).expect("syscall numbers are positive");
            (0..=last)
                .filter_map(new)
                .filter_map(|s| Some((name(&s), u32::try_from(id(&s)).ok()?)))
                .collect()
        }
        match self {
            Self::X86_64 => table(
                syscalls::x86_64::Sysno::last(),
                syscalls::x86_64::Sysno::new,
                syscalls::x86_64::Sysno::name,
                syscalls::x86_64::Sysno::id,
            ),
            Self::X86 => table(
                syscalls::x86::Sysno::last(),
                syscalls::x86::Sysno::new,
                syscalls::x86::Sysno::name,
                syscalls::x86::Sysno::id,
            ),
            Self::X32 => {
                let mut numbers = Self::X86_64.numbers();
                for (nr, name) in (X32_SPECIFIC_FIRST..).zip(X32_SPECIFIC) {
                    numbers.insert(name, nr);
                }
                numbers.values_mut().for_each(|nr| *nr |= X32_SYSCALL_BIT);
                numbers
            }
            Self::Aarch64 => table(
                syscalls::aarch64::Sysno::last(),
                syscalls::aarch64::Sysno::new,
                syscalls::aarch64::Sysno::name,
                syscalls::aarch64::Sysno::id,
            ),
            Self::Arm => {
                let mut numbers = table(
                    syscalls::arm::Sysno::last(),
                    syscalls::arm::Sysno::new,
                    syscalls::arm::Sysno::name,
                    syscalls::arm::Sysno::id,
                );
                numbers.extend(ARM_PRIVATE);
                numbers
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(arch: Arch, name: &str) -> Option<u32> {
        arch.numbers().get(name).copied()
    }

    #[test]
    fn numbers_follow_each_abi() {
        assert_eq!(number(Arch::X86_64, "read"), Some(0));
        assert_eq!(number(Arch::X86_64, "mount"), Some(165));
        assert_eq!(number(Arch::X86, "read"), Some(3));
        assert_eq!(number(Arch::X86, "socketcall"), Some(102));
        assert_eq!(number(Arch::X32, "read"), Some(X32_SYSCALL_BIT));
        assert_eq!(number(Arch::X32, "ioctl"), Some(X32_SYSCALL_BIT | 514));
        assert_eq!(number(Arch::X32, "pwritev2"), Some(X32_SYSCALL_BIT | 547));
        assert_eq!(number(Arch::Aarch64, "openat"), Some(56));
        assert_eq!(number(Arch::Arm, "set_tls"), Some(0x0f_0005));
        assert_eq!(number(Arch::Arm, "chown32"), Some(212));
    }

    #[test]
    fn tables_run_to_their_last_call() {
        let last = syscalls::x86_64::Sysno::last();
        assert_eq!(number(Arch::X86_64, last.name()), Some(last.id() as u32));
        let last = syscalls::arm::Sysno::last();
        assert_eq!(number(Arch::Arm, last.name()), Some(last.id() as u32));
    }

    #[test]
    fn calls_an_abi_lacks_have_no_number() {
        assert_eq!(number(Arch::Aarch64, "open"), None);
        assert_eq!(number(Arch::X86_64, "socketcall"), None);
        assert_eq!(number(Arch::X86_64, "no_such_call"), None);
    }

    #[test]
    fn spec_architectures_map_to_abis() {
        assert_eq!(Arch::from_spec(SpecArch::ScmpArchX32), Some(Arch::X32));
        assert_eq!(Arch::from_spec(SpecArch::ScmpArchS390x), None);
        for arch in [Arch::X86_64, Arch::X86, Arch::X32, Arch::Aarch64, Arch::Arm] {
            let spec = match arch {
                Arch::X86_64 => SpecArch::ScmpArchX86_64,
                Arch::X86 => SpecArch::ScmpArchX86,
                Arch::X32 => SpecArch::ScmpArchX32,
                Arch::Aarch64 => SpecArch::ScmpArchAarch64,
                Arch::Arm => SpecArch::ScmpArchArm,
            };
            // The OCI values are the audit ones, except x32's (made distinct from x86-64's).
            if arch != Arch::X32 {
                assert_eq!(spec as u32, arch.audit());
            }
            assert!(arch.family().contains(&arch));
        }
    }
}
