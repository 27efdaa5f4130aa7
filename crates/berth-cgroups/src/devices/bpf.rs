//! The `bpf(2)` calls a device filter needs, on cgroup v2 directories. Every `unsafe` of the
//! crate's eBPF support is here.
//!
//! Each command takes a `union bpf_attr`; a caller fills only the leading fields it uses. The
//! layouts below are those of `include/uapi/linux/bpf.h`.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::insn::Insn;
use crate::error::{Error, Result};

/// `enum bpf_cmd`
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;

/// `enum bpf_prog_type`
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `enum bpf_attach_type`
const BPF_CGROUP_DEVICE: u32 = 6;
/// Several programs may be attached to the cgroup (and its parents and children): the kernel
/// runs them all and an access needs every one to allow it.
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The most programs the kernel attaches to one cgroup for one attach type
/// (`BPF_CGROUP_MAX_PROGS`).
const MAX_ATTACHED: usize = 64;
/// Room for all of `union bpf_attr` (under 200 bytes in Linux 6.x). Every call passes this
/// much, zeroed past the command's fields: the kernel writes some answers past the fields a
/// caller fills (`query.revision` since Linux 6.15), which must land in memory of ours.
const ATTR_SIZE: usize = 256;
/// Room for the verifier's log; it is cut there.
const VERIFIER_LOG_SIZE: usize = 64 * 1024;

/// No helper the program calls is GPL-only, so any license string is accepted.
const LICENSE: &[u8] = b"Apache-2.0\0";
/// Shown by `bpftool prog` (at most 15 bytes and a NUL).
const PROGRAM_NAME: &[u8] = b"berth_devices";

/// The `BPF_PROG_LOAD` part of `union bpf_attr`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

/// The `BPF_PROG_ATTACH` / `BPF_PROG_DETACH` part.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

/// The `BPF_PROG_QUERY` part.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct ProgQueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _padding: u32,
}

/// The `BPF_*_GET_FD_BY_ID` part.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct GetFdByIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// Calls `bpf(cmd, attr)`, with `attr` at the start of a zeroed `union bpf_attr`, and copies
/// back what the kernel wrote into `attr`'s fields.
///
/// # Safety
///
/// `attr` must be the leading fields of `union bpf_attr` for `cmd`, with no padding bytes, and
/// every address in it must point to memory that is valid, of the size given beside it, for the
/// call.
unsafe fn bpf<T: Copy>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    const { assert!(size_of::<T>() <= ATTR_SIZE && align_of::<T>() <= align_of::<u64>()) };
    let mut union = [0u64; ATTR_SIZE / 8];
    let start = union.as_mut_ptr().cast::<T>();
    // SAFETY: `union` is large and aligned enough for a `T` (checked above).
    unsafe { start.write(*attr) };
    // SAFETY: the caller vouches for `attr`'s layout and the addresses in it; the kernel reads
    // and writes at most `ATTR_SIZE` bytes of `union`.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, cmd, start, ATTR_SIZE) };
    // SAFETY: as for the write; the kernel stored only integers, valid for any `T` made of them.
    *attr = unsafe { start.read() };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Takes ownership of a descriptor the kernel returned (bpf descriptors are close-on-exec).
fn owned_fd(fd: libc::c_long) -> OwnedFd {
    let fd = i32::try_from(fd).expect("a descriptor fits in an int");
    // SAFETY: the kernel just returned this new descriptor, and nothing else holds it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn fd_number(fd: BorrowedFd<'_>) -> u32 {
    u32::try_from(fd.as_raw_fd()).expect("an open descriptor is not negative")
}

/// Loads a device filter program. When the kernel refuses it, the error comes with the
/// verifier's log (empty when the refusal came before the verifier ran).
pub(super) fn load_device_program(program: &[Insn]) -> Result<OwnedFd> {
    match load(program, None) {
        Ok(fd) => Ok(fd),
        // Loading again with the log on costs time only when something is wrong.
        Err(source) => {
            let mut log = vec![0u8; VERIFIER_LOG_SIZE];
            let result = load(program, Some(&mut log));
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let verifier_log = String::from_utf8_lossy(&log[..end]).trim_end().to_owned();
            result.map_err(|_| Error::DeviceFilterLoad {
                source,
                verifier_log,
            })
        }
    }
}

fn load(program: &[Insn], log: Option<&mut [u8]>) -> io::Result<OwnedFd> {
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: u32::try_from(program.len())
            .map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?,
        insns: program.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        ..ProgLoadAttr::default()
    };
    attr.prog_name[..PROGRAM_NAME.len()].copy_from_slice(PROGRAM_NAME);
    if let Some(log) = log {
        attr.log_level = 1;
        attr.log_size = u32::try_from(log.len()).expect("the log buffer is small");
        attr.log_buf = log.as_mut_ptr() as u64;
    }
    // SAFETY: `attr` is the BPF_PROG_LOAD layout; `insns` points to `insn_cnt` instructions
    // laid out as `struct bpf_insn`, `license` to a NUL-terminated string, and `log_buf` (when
    // set) to `log_size` writable bytes, all alive until the call returns.
    let fd = unsafe { bpf(BPF_PROG_LOAD, &mut attr)? };
    Ok(owned_fd(fd))
}

/// The ids of the device filters attached to the cgroup itself (not those it inherits).
pub(super) fn attached_programs(cgroup: BorrowedFd<'_>) -> io::Result<Vec<u32>> {
    let mut ids = vec![0u32; MAX_ATTACHED];
    let mut attr = ProgQueryAttr {
        target_fd: fd_number(cgroup),
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: u32::try_from(ids.len()).expect("64 fits"),
        ..ProgQueryAttr::default()
    };
    // SAFETY: `attr` is the BPF_PROG_QUERY layout; `prog_ids` points to `prog_cnt` writable
    // u32s, alive until the call returns.
    unsafe { bpf(BPF_PROG_QUERY, &mut attr)? };
    ids.truncate(attr.prog_cnt as usize);
    Ok(ids)
}

/// A descriptor for the loaded program with this id.
pub(super) fn program_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = GetFdByIdAttr {
        prog_id: id,
        ..GetFdByIdAttr::default()
    };
    // SAFETY: `attr` is the BPF_PROG_GET_FD_BY_ID layout; it holds no addresses.
    let fd = unsafe { bpf(BPF_PROG_GET_FD_BY_ID, &mut attr)? };
    Ok(owned_fd(fd))
}

/// Attaches a device filter to the cgroup, beside any already there.
pub(super) fn attach(cgroup: BorrowedFd<'_>, program: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = ProgAttachAttr {
        target_fd: fd_number(cgroup),
        attach_bpf_fd: fd_number(program),
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    // SAFETY: `attr` is the BPF_PROG_ATTACH layout; it holds no addresses.
    unsafe { bpf(BPF_PROG_ATTACH, &mut attr)? };
    Ok(())
}

/// Detaches one device filter from the cgroup.
pub(super) fn detach(cgroup: BorrowedFd<'_>, program: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = ProgAttachAttr {
        target_fd: fd_number(cgroup),
        attach_bpf_fd: fd_number(program),
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: 0,
    };
    // SAFETY: `attr` is the BPF_PROG_DETACH layout; it holds no addresses.
    unsafe { bpf(BPF_PROG_DETACH, &mut attr)? };
    Ok(())
}
