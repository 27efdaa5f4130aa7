//! The raw system calls that have no safe wrapper: cloning the container init, resetting its
//! signal state, marking descriptors close-on-exec, and loading a seccomp filter. All of this
//! crate's `unsafe` is here.

use std::io;

use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow};
use nix::unistd::Pid;

use crate::seccomp::Instruction;

pub(crate) enum Forked {
    Child,
    Parent(Pid),
}

/// The number of threads in this process.
pub(crate) fn thread_count() -> io::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/task")?.count())
}

/// `fork()` into new namespaces (`flags`), or as a sibling (`CLONE_PARENT`): `clone3`, or
/// `clone` where `clone3` is unavailable (older kernels, some seccomp filters). The child gets
/// `SIGCHLD` as its exit signal; with `CLONE_PARENT`, the caller's own (which `clone3` refuses
/// to be given explicitly).
///
/// # Safety
/// The process must be single-threaded. The child is a copy with only the calling thread, so
/// a lock held by any other thread (the allocator's, stdio's) would never be released there.
pub(crate) unsafe fn clone_process(flags: CloneFlags) -> io::Result<Forked> {
    let exit_signal = if flags.contains(CloneFlags::CLONE_PARENT) {
        0
    } else {
        libc::SIGCHLD as u64
    };
    let flags = u64::try_from(flags.bits()).expect("CLONE_* flags are positive");
    let mut args = libc::clone_args {
        flags,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal,
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: 0,
    };
    // SAFETY: `args` is a valid `clone_args` of the size passed, and lives across the call.
    // Without CLONE_VM and without a stack the child runs on a copy of this address space and
    // stack, exactly like fork(); the caller guarantees there is no other thread.
    let mut ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &raw mut args,
            std::mem::size_of::<libc::clone_args>(),
        )
    };
    if ret == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
        // SAFETY: the same fork-like clone through the older syscall: a null stack means the
        // child uses a copy of this one; no tid or tls pointers are passed.
        ret = unsafe { libc::syscall(libc::SYS_clone, flags | exit_signal, 0, 0, 0, 0) };
    }
    match ret {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(Pid::from_raw(
            i32::try_from(pid).expect("pids fit in an i32"),
        ))),
    }
}

/// Restores every signal's default disposition and unblocks all signals, so the command does
/// not inherit what the caller ignores or blocks (`execve` keeps both).
pub(crate) fn reset_signals() -> io::Result<()> {
    // SAFETY: an all-zero `sigaction` is a valid value (no flags, empty mask); it is then set
    // to SIG_DFL, which installs no handler code at all. Numbers the kernel refuses (SIGKILL,
    // SIGSTOP, the libc-reserved real-time ones) just fail with EINVAL.
    unsafe {
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        for signal in 1..=64 {
            libc::sigaction(signal, &default, std::ptr::null_mut());
        }
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)?;
    Ok(())
}

/// Marks every descriptor from `first` up close-on-exec, whoever opened it.
pub(crate) fn set_cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: with CLOSE_RANGE_CLOEXEC, close_range closes nothing, so no descriptor owned by
    // Rust code is invalidated; it only sets FD_CLOEXEC.
    let ret =
        unsafe { libc::close_range(first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC as libc::c_int) };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Ends the process at once: no atexit handlers, no flushing of stdio buffers that are copies
/// of the caller's.
pub(crate) fn exit_immediately(code: i32) -> ! {
    // SAFETY: _exit only terminates the process; no Rust invariant depends on code after it.
    unsafe { libc::_exit(code) }
}

/// Attaches the BPF `program` to the calling thread with `seccomp(SECCOMP_SET_MODE_FILTER)`.
/// Takes `no_new_privs` or `CAP_SYS_ADMIN`.
pub(crate) fn load_seccomp_filter(program: &[Instruction], flags: u32) -> io::Result<()> {
    let filter: Vec<libc::sock_filter> = program
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    let len = u16::try_from(filter.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "seccomp program too long"))?;
    let prog = libc::sock_fprog {
        len,
        filter: filter.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` points to `len` initialized instructions in `filter`, which outlives the
    // call; the kernel only reads them (it copies the program), and takes no other pointer.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &raw const prog,
        )
    };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
