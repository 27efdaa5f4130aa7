//! Docker's default seccomp profile, for the engine to put in a container's spec.
//!
//! Everything is refused with `EPERM` except the calls below. Most are always allowed; some
//! only with arguments that cannot escape the container (no namespaces from `clone`, no
//! `AF_ALG` or `AF_VSOCK` sockets, only harmless `personality` values); the rest come with the
//! capability that makes them meaningful (`mount` with `CAP_SYS_ADMIN`, `ptrace`'s cousins with
//! `CAP_SYS_PTRACE`...), exactly as Docker decides: a capability counts when it is in the
//! container's bounding set. Names an architecture lacks are skipped when the filter is built.

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder,
    LinuxSeccompOperator, LinuxSyscall,
};

/// Files, directories and descriptors.
#[rustfmt::skip]
const FILES: &[&str] = &[
    "open", "openat", "openat2", "creat", "close", "close_range", "dup", "dup2", "dup3",
    "read", "readv", "pread64", "preadv", "preadv2", "write", "writev", "pwrite64", "pwritev",
    "pwritev2", "lseek", "_llseek", "sendfile", "sendfile64", "splice", "tee", "vmsplice",
    "copy_file_range", "readahead", "fadvise64", "fadvise64_64", "fallocate", "truncate",
    "truncate64", "ftruncate", "ftruncate64", "fsync", "fdatasync", "sync", "syncfs",
    "sync_file_range", "cachestat", "fcntl", "fcntl64", "flock", "ioctl", "pipe", "pipe2",
    // Metadata.
    "stat", "stat64", "lstat", "lstat64", "fstat", "fstat64", "fstatat64", "newfstatat",
    "statx", "statfs", "statfs64", "fstatfs", "fstatfs64", "access", "faccessat",
    "faccessat2", "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "chown32", "fchown",
    "fchown32", "lchown", "lchown32", "fchownat", "umask", "utime", "utimes", "utimensat",
    "utimensat_time64", "futimesat", "name_to_handle_at",
    // The tree.
    "chdir", "fchdir", "getcwd", "getdents", "getdents64", "mkdir", "mkdirat", "mknod",
    "mknodat", "rmdir", "link", "linkat", "symlink", "symlinkat", "readlink", "readlinkat",
    "rename", "renameat", "renameat2", "unlink", "unlinkat", "statmount", "listmount",
];

/// Extended attributes.
#[rustfmt::skip]
const XATTRS: &[&str] = &[
    "getxattr", "lgetxattr", "fgetxattr", "getxattrat", "setxattr", "lsetxattr", "fsetxattr",
    "setxattrat", "listxattr", "llistxattr", "flistxattr", "listxattrat", "removexattr",
    "lremovexattr", "fremovexattr", "removexattrat",
];

/// Waiting for descriptors, and descriptors that are events.
#[rustfmt::skip]
const EVENTS: &[&str] = &[
    "select", "_newselect", "pselect6", "pselect6_time64", "poll", "ppoll", "ppoll_time64",
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_wait",
    "epoll_wait_old", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "signalfd",
    "signalfd4", "timerfd_create", "timerfd_settime", "timerfd_settime64", "timerfd_gettime",
    "timerfd_gettime64", "inotify_init", "inotify_init1", "inotify_add_watch",
    "inotify_rm_watch", "fanotify_mark",
];

/// Linux AIO (not `io_uring`, which Docker refuses).
#[rustfmt::skip]
const ASYNC_IO: &[&str] = &[
    "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
    "io_pgetevents_time64",
];

/// Memory.
#[rustfmt::skip]
const MEMORY: &[&str] = &[
    "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync",
    "mlock", "mlock2", "mlockall", "munlock", "munlockall", "remap_file_pages", "membarrier",
    "memfd_create", "memfd_secret", "mseal", "map_shadow_stack", "pkey_alloc", "pkey_free",
    "pkey_mprotect", "process_mrelease",
];

/// Processes and threads: their life, limits, and what they may learn about themselves.
#[rustfmt::skip]
const PROCESSES: &[&str] = &[
    "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid", "waitpid",
    "getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid",
    "set_tid_address", "set_robust_list", "get_robust_list", "rseq", "restart_syscall",
    "futex", "futex_time64", "futex_wait", "futex_wake", "futex_requeue", "futex_waitv",
    "get_thread_area", "set_thread_area", "prctl", "capget", "capset", "seccomp",
    "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self", "getrlimit",
    "ugetrlimit", "setrlimit", "prlimit64", "getrusage", "getpriority", "setpriority",
    "ioprio_get", "ioprio_set", "pidfd_open", "pidfd_send_signal", "getcpu", "getrandom",
    "uname", "sysinfo", "times", "uretprobe", "riscv_hwprobe",
];

/// Scheduling.
#[rustfmt::skip]
const SCHEDULING: &[&str] = &[
    "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getattr",
    "sched_setattr", "sched_getparam", "sched_setparam", "sched_getscheduler",
    "sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min",
    "sched_rr_get_interval", "sched_rr_get_interval_time64",
];

/// User and group ids (changing them still takes `CAP_SETUID`/`CAP_SETGID`).
#[rustfmt::skip]
const IDS: &[&str] = &[
    "getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid",
    "getegid32", "getresuid", "getresuid32", "getresgid", "getresgid32", "getgroups",
    "getgroups32", "setuid", "setuid32", "setgid", "setgid32", "setreuid", "setreuid32",
    "setregid", "setregid32", "setresuid", "setresuid32", "setresgid", "setresgid32",
    "setfsuid", "setfsuid32", "setfsgid", "setfsgid32", "setgroups", "setgroups32",
];

/// Signals.
#[rustfmt::skip]
const SIGNALS: &[&str] = &[
    "kill", "tkill", "tgkill", "rt_sigaction", "rt_sigprocmask", "sigprocmask",
    "rt_sigpending", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64",
    "rt_sigqueueinfo", "rt_tgsigqueueinfo", "rt_sigreturn", "sigreturn", "sigaltstack",
    "pause", "alarm",
];

/// Clocks and timers (setting the clock still takes `CAP_SYS_TIME`).
#[rustfmt::skip]
const TIME: &[&str] = &[
    "time", "gettimeofday", "clock_gettime", "clock_gettime64", "clock_getres",
    "clock_getres_time64", "clock_nanosleep", "clock_nanosleep_time64", "nanosleep",
    "adjtimex", "clock_adjtime", "clock_adjtime64", "getitimer", "setitimer", "timer_create",
    "timer_delete", "timer_settime", "timer_settime64", "timer_gettime", "timer_gettime64",
    "timer_getoverrun",
];

/// Sockets, once made (`socket` itself is below, with its families).
#[rustfmt::skip]
const SOCKETS: &[&str] = &[
    "socketpair", "bind", "listen", "accept", "accept4", "connect", "getsockname",
    "getpeername", "getsockopt", "setsockopt", "shutdown", "send", "sendto", "sendmsg",
    "sendmmsg", "recv", "recvfrom", "recvmsg", "recvmmsg", "recvmmsg_time64", "socketcall",
];

/// System V IPC and POSIX message queues (private to the IPC namespace).
#[rustfmt::skip]
const IPC: &[&str] = &[
    "ipc", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semtimedop",
    "semtimedop_time64", "semctl", "shmget", "shmat", "shmdt", "shmctl", "mq_open",
    "mq_unlink", "mq_timedsend", "mq_timedsend_time64", "mq_timedreceive",
    "mq_timedreceive_time64", "mq_notify", "mq_getsetattr",
];

/// Calls of one architecture family, allowed there (names as `std::env::consts::ARCH`).
#[rustfmt::skip]
const BY_ARCH: &[(&[&str], &[&str])] = &[
    (&["x86_64"], &["arch_prctl"]),
    (&["x86_64", "x86"], &["modify_ldt"]),
    (
        &["aarch64", "arm"],
        &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "sync_file_range2",
            "breakpoint",
            "cacheflush",
            "set_tls",
        ],
    ),
    (&["powerpc64"], &["sync_file_range2", "swapcontext"]),
    (
        &["s390x"],
        &["s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"],
    ),
    (&["riscv64"], &["riscv_flush_icache"]),
];

/// Calls a capability makes meaningful, allowed when the container has it.
#[rustfmt::skip]
const BY_CAPABILITY: &[(&str, &[&str])] = &[
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    (
        "CAP_SYS_ADMIN",
        &[
            // Mounting and namespaces.
            "mount", "umount", "umount2", "mount_setattr", "move_mount", "open_tree",
            "fsopen", "fsconfig", "fsmount", "fspick", "setns", "unshare", "clone",
            "clone3", "sethostname", "setdomainname",
            // Kernel facilities that are host-wide.
            "bpf", "perf_event_open", "fanotify_init", "lookup_dcookie", "quotactl",
            "quotactl_fd", "syslog", "lsm_get_self_attr", "lsm_set_self_attr",
            "lsm_list_modules",
        ],
    ),
    ("CAP_SYS_BOOT", &["reboot"]),
    ("CAP_SYS_CHROOT", &["chroot"]),
    (
        "CAP_SYS_MODULE",
        &["init_module", "finit_module", "delete_module"],
    ),
    ("CAP_SYS_PACCT", &["acct"]),
    (
        "CAP_SYS_PTRACE",
        &[
            "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise",
            "pidfd_getfd", "kcmp",
        ],
    ),
    ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    (
        "CAP_SYS_TIME",
        &["settimeofday", "stime", "clock_settime", "clock_settime64"],
    ),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    (
        "CAP_SYS_NICE",
        &["mbind", "get_mempolicy", "set_mempolicy", "set_mempolicy_home_node"],
    ),
    ("CAP_SYSLOG", &["syslog"]),
    ("CAP_BPF", &["bpf"]),
    ("CAP_PERFMON", &["perf_event_open"]),
];

/// Allowed from Linux 4.8 on, where seccomp is checked again after a tracer changes a call:
/// a process may trace and read its own children without `CAP_SYS_PTRACE`.
const TRACING: &[&str] = &["ptrace", "process_vm_readv", "process_vm_writev"];

/// The `clone` flags that create namespaces (`CLONE_NEWNS`, `NEWCGROUP`, `NEWUTS`, `NEWIPC`,
/// `NEWUSER`, `NEWPID`, `NEWNET`): a `clone` without `CAP_SYS_ADMIN` may set none of them.
const CLONE_NAMESPACE_FLAGS: u64 = 0x7e02_0000;

/// Socket families refused: `AF_ALG` (the kernel's crypto API, a recurrent source of exploits)
/// and `AF_VSOCK` (reaches the host's hypervisor sockets, across network namespaces).
const AF_ALG: u64 = 38;
const AF_VSOCK: u64 = 40;

/// `personality` values allowed: `PER_LINUX`, `PER_LINUX32`, `UNAME26`, both, and the query.
const PERSONALITIES: &[u64] = &[0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];

/// Docker's default profile for a container whose bounding set is `caps` (`"CAP_SYS_ADMIN"`...),
/// on this machine's architecture and kernel.
pub fn docker_default_profile(caps: &[String]) -> LinuxSeccomp {
    let has = |cap: &str| caps.iter().any(|c| c == cap);
    let arch = std::env::consts::ARCH;
    let mut syscalls: Vec<LinuxSyscall> = [
        FILES, XATTRS, EVENTS, ASYNC_IO, MEMORY, PROCESSES, SCHEDULING, IDS, SIGNALS, TIME,
        SOCKETS, IPC,
    ]
    .into_iter()
    .map(|names| allow(names, Vec::new()))
    .collect();
    if kernel_at_least(4, 8) {
        syscalls.push(allow(TRACING, Vec::new()));
    }

    // socket(2): every family but the two refused, i.e. below AF_ALG, the one between them,
    // and above AF_VSOCK.
    for (op, family) in [
        (LinuxSeccompOperator::ScmpCmpLt, AF_ALG),
        (LinuxSeccompOperator::ScmpCmpEq, AF_ALG + 1),
        (LinuxSeccompOperator::ScmpCmpGt, AF_VSOCK),
    ] {
        syscalls.push(allow(&["socket"], vec![arg(0, op, family, None)]));
    }
    for value in PERSONALITIES {
        let equal = arg(0, LinuxSeccompOperator::ScmpCmpEq, *value, None);
        syscalls.push(allow(&["personality"], vec![equal]));
    }

    for (arches, names) in BY_ARCH {
        if arches.contains(&arch) {
            syscalls.push(allow(names, Vec::new()));
        }
    }
    for (cap, names) in BY_CAPABILITY {
        if has(cap) {
            syscalls.push(allow(names, Vec::new()));
        }
    }
    if !has("CAP_SYS_ADMIN") {
        // clone without namespace flags (s390's clone takes the flags second), and clone3,
        // whose flags are out of a filter's reach, answered ENOSYS so the C library falls
        // back to clone.
        let flags_index = if arch == "s390x" { 1 } else { 0 };
        let no_namespaces = arg(
            flags_index,
            LinuxSeccompOperator::ScmpCmpMaskedEq,
            CLONE_NAMESPACE_FLAGS,
            Some(0),
        );
        syscalls.push(allow(&["clone"], vec![no_namespaces]));
        syscalls.push(syscall(
            &["clone3"],
            LinuxSeccompAction::ScmpActErrno,
            Some(libc::ENOSYS as u32),
            Vec::new(),
        ));
    }

    let mut profile = LinuxSeccomp::default();
    profile.set_default_action(LinuxSeccompAction::ScmpActErrno);
    profile.set_default_errno_ret(Some(libc::EPERM as u32));
    profile.set_architectures(Some(architectures(arch).to_vec()));
    profile.set_syscalls(Some(syscalls));
    profile
}

/// The ABIs of a machine of `arch`, as Docker lists them: its own and those it also runs.
fn architectures(arch: &str) -> &'static [Arch] {
    match arch {
        "x86_64" => &[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32],
        "aarch64" => &[Arch::ScmpArchAarch64, Arch::ScmpArchArm],
        "s390x" => &[Arch::ScmpArchS390x, Arch::ScmpArchS390],
        "riscv64" => &[Arch::ScmpArchRiscv64],
        "loongarch64" => &[Arch::ScmpArchLoongarch64],
        _ => &[],
    }
}

fn allow(names: &[&str], args: Vec<LinuxSeccompArg>) -> LinuxSyscall {
    syscall(names, LinuxSeccompAction::ScmpActAllow, None, args)
}

fn syscall(
    names: &[&str],
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    args: Vec<LinuxSeccompArg>,
) -> LinuxSyscall {
    let mut syscall = LinuxSyscall::default();
    syscall.set_names(names.iter().map(|n| n.to_string()).collect());
    syscall.set_action(action);
    syscall.set_errno_ret(errno_ret);
    syscall.set_args((!args.is_empty()).then_some(args));
    syscall
}

fn arg(
    index: usize,
    op: LinuxSeccompOperator,
    value: u64,
    value_two: Option<u64>,
) -> LinuxSeccompArg {
    let arg = LinuxSeccompArgBuilder::default()
        .index(index)
        .op(op)
        .value(value);
    match value_two {
        Some(two) => arg.value_two(two),
        None => arg,
    }
    .build()
    .expect("every field of a seccomp argument has a default")
}

/// Whether the running kernel is `major.minor` or newer; an unreadable version counts as older.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let uname = rustix::system::uname();
    let release = uname.release().to_string_lossy();
    parse_release(&release).is_some_and(|version| version >= (major, minor))
}

/// `6.18.0-1-amd64` -> (6, 18).
fn parse_release(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(['.', '-', '+']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::Arch as Abi;
    use crate::seccomp::Filter;
    use crate::seccomp::bpf::tests::run;

    const ALLOW: u32 = 0x7fff_0000;
    const EPERM: u32 = 0x0005_0000 | libc::EPERM as u32;
    const ENOSYS: u32 = 0x0005_0000 | libc::ENOSYS as u32;

    fn caps(names: &[&str]) -> Vec<String> {
        names.iter().map(|c| c.to_string()).collect()
    }

    /// Every name the profile allows without conditions.
    fn unconditional(profile: &LinuxSeccomp) -> Vec<String> {
        profile
            .syscalls()
            .iter()
            .flatten()
            .filter(|s| s.action() == LinuxSeccompAction::ScmpActAllow && s.args().is_none())
            .flat_map(|s| s.names().clone())
            .collect()
    }

    /// What the profile, compiled for x86-64, answers to `name` with `args`.
    fn decide(profile: &LinuxSeccomp, abi: Abi, name: &str, args: &[u64]) -> u32 {
        let filter = Filter::compile(profile, Abi::X86_64).unwrap();
        let mut data = vec![abi.numbers()[name], abi.audit(), 0, 0];
        for i in 0..6 {
            let value = args.get(i).copied().unwrap_or(0);
            data.extend([value as u32, (value >> 32) as u32]);
        }
        run(&filter.program, &data)
    }

    #[test]
    fn everything_else_is_refused_with_eperm() {
        let profile = docker_default_profile(&[]);
        assert_eq!(profile.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(profile.default_errno_ret(), Some(libc::EPERM as u32));
        if std::env::consts::ARCH == "x86_64" {
            assert_eq!(
                profile.architectures().as_deref(),
                Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..])
            );
        }
        let allowed = unconditional(&profile);
        for name in [
            "read",
            "openat",
            "execve",
            "clock_gettime",
            "socketcall",
            "capset",
        ] {
            assert!(allowed.iter().any(|n| n == name), "{name}");
        }
        for name in [
            "mount",
            "unshare",
            "setns",
            "reboot",
            "kexec_load",
            "io_uring_setup",
        ] {
            assert!(!allowed.iter().any(|n| n == name), "{name}");
        }
    }

    #[test]
    fn capabilities_add_their_groups() {
        let plain = unconditional(&docker_default_profile(&[]));
        let admin = unconditional(&docker_default_profile(&caps(&["CAP_SYS_ADMIN"])));
        let added: Vec<&String> = admin.iter().filter(|n| !plain.contains(n)).collect();
        for name in [
            "mount", "umount2", "unshare", "setns", "clone", "clone3", "bpf",
        ] {
            assert!(added.iter().any(|n| *n == name), "{name}");
        }
        for (cap, name) in [
            ("CAP_SYS_PTRACE", "kcmp"),
            ("CAP_SYS_PTRACE", "pidfd_getfd"),
            ("CAP_SYS_BOOT", "reboot"),
            ("CAP_SYS_MODULE", "finit_module"),
            ("CAP_SYS_TIME", "settimeofday"),
            ("CAP_SYS_NICE", "mbind"),
            ("CAP_SYSLOG", "syslog"),
            ("CAP_SYS_RAWIO", "iopl"),
            ("CAP_SYS_PACCT", "acct"),
            ("CAP_SYS_CHROOT", "chroot"),
            ("CAP_SYS_TTY_CONFIG", "vhangup"),
            ("CAP_DAC_READ_SEARCH", "open_by_handle_at"),
            ("CAP_BPF", "bpf"),
            ("CAP_PERFMON", "perf_event_open"),
        ] {
            assert!(!plain.iter().any(|n| n == name), "{name} without {cap}");
            let with = unconditional(&docker_default_profile(&caps(&[cap])));
            assert!(with.iter().any(|n| n == name), "{name} with {cap}");
        }
    }

    #[test]
    fn clone_creates_namespaces_only_with_cap_sys_admin() {
        const CLONE_NEWUSER: u64 = 0x1000_0000;
        const CLONE_NEWNS: u64 = 0x0002_0000;
        const THREAD_FLAGS: u64 = 0x003d_0f00;
        let plain = docker_default_profile(&[]);
        assert_eq!(decide(&plain, Abi::X86_64, "clone", &[THREAD_FLAGS]), ALLOW);
        assert_eq!(
            decide(&plain, Abi::X86_64, "clone", &[CLONE_NEWUSER]),
            EPERM
        );
        assert_eq!(
            decide(&plain, Abi::X86_64, "clone", &[CLONE_NEWNS | 17]),
            EPERM
        );
        assert_eq!(decide(&plain, Abi::X86_64, "clone3", &[]), ENOSYS);
        assert_eq!(
            decide(&plain, Abi::X86_64, "unshare", &[CLONE_NEWUSER]),
            EPERM
        );
        assert_eq!(decide(&plain, Abi::X86, "clone", &[CLONE_NEWUSER]), EPERM);
        assert_eq!(decide(&plain, Abi::X86, "clone", &[17]), ALLOW);

        let admin = docker_default_profile(&caps(&["CAP_SYS_ADMIN"]));
        assert_eq!(
            decide(&admin, Abi::X86_64, "clone", &[CLONE_NEWUSER]),
            ALLOW
        );
        assert_eq!(decide(&admin, Abi::X86_64, "clone3", &[]), ALLOW);
        assert_eq!(decide(&admin, Abi::X86_64, "mount", &[]), ALLOW);
    }

    #[test]
    fn sockets_personalities_and_tracing_follow_their_rules() {
        let profile = docker_default_profile(&[]);
        for (family, expected) in [
            (libc::AF_UNIX, ALLOW),
            (libc::AF_INET, ALLOW),
            (libc::AF_NETLINK, ALLOW),
            (libc::AF_ALG, EPERM),
            (libc::AF_NFC, ALLOW),
            (libc::AF_VSOCK, EPERM),
            (libc::AF_XDP, ALLOW),
        ] {
            let args = [family as u64];
            assert_eq!(
                decide(&profile, Abi::X86_64, "socket", &args),
                expected,
                "{family}"
            );
        }
        for (persona, expected) in [(0, ALLOW), (8, ALLOW), (0xffff_ffff, ALLOW), (4, EPERM)] {
            assert_eq!(
                decide(&profile, Abi::X86_64, "personality", &[persona]),
                expected,
                "{persona:#x}"
            );
        }
        // Since 4.8 a process may trace its own children; the rest of the family needs
        // CAP_SYS_PTRACE.
        let tracing = if kernel_at_least(4, 8) { ALLOW } else { EPERM };
        assert_eq!(decide(&profile, Abi::X86_64, "ptrace", &[]), tracing);
        assert_eq!(decide(&profile, Abi::X86_64, "kcmp", &[]), EPERM);
        assert_eq!(decide(&profile, Abi::X86_64, "process_madvise", &[]), EPERM);
    }

    #[test]
    fn the_profile_fits_one_filter() {
        let all: Vec<String> = BY_CAPABILITY.iter().map(|(c, _)| c.to_string()).collect();
        for caps in [Vec::new(), all] {
            let filter = Filter::compile(&docker_default_profile(&caps), Abi::X86_64).unwrap();
            assert!(filter.program.len() < 1000, "{}", filter.program.len());
        }
    }

    #[test]
    fn kernel_releases_parse() {
        assert_eq!(parse_release("6.18.0-1-amd64"), Some((6, 18)));
        assert_eq!(parse_release("4.8"), Some((4, 8)));
        assert_eq!(parse_release("5.15.0+"), Some((5, 15)));
        assert_eq!(parse_release("garbage"), None);
    }
}
