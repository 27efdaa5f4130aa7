//! Seccomp: `linux.seccomp` compiled to a BPF filter (by this crate, no libseccomp) and loaded
//! at the end of a container process's setup; and Docker's default profile, which the engine
//! puts in the spec.
//!
//! When the filter is loaded, as runc loads it: without `no_new_privileges` loading takes
//! `CAP_SYS_ADMIN`, so it happens before the process gives up its capabilities and user (the
//! rest of the setup then runs under the filter, which must allow it, as Docker's profile
//! does); with `no_new_privileges`, right before `execve`.

mod arch;
mod bpf;
mod docker_profile;
mod filter;

pub use docker_profile::docker_default_profile;

pub(crate) use arch::Arch;
pub(crate) use bpf::Instruction;
pub(crate) use filter::Filter;

use crate::error::SetupError;
use crate::sys;

impl Filter {
    /// Attaches the filter to the calling thread (a single-threaded process).
    pub(crate) fn load(&self) -> Result<(), SetupError> {
        sys::load_seccomp_filter(&self.program, self.flags)
            .map_err(|e| SetupError::sys("load the seccomp filter", e))
    }
}
