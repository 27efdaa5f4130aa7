//! Device rules (`resources.devices`): checked once ([`DeviceRule`]), then either written as
//! they are to a v1 devices controller, or compiled into an eBPF device filter that a cgroup v2
//! directory runs on every device open and mknod ([`DeviceFilter`]).
//!
//! Compiling goes rules → [`policy::DevicePolicy`] (what v1 would hold after the same rules) →
//! [`program::assemble`] (instructions from the [`insn`] assembler). Installing is [`bpf`]'s
//! `bpf(2)` calls.

mod bpf;
mod insn;
mod policy;
mod program;
mod rule;

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use oci_spec::runtime::LinuxDeviceCgroup;

use crate::error::{Error, Result};

pub(crate) use rule::DeviceRule;

/// A device filter program for a cgroup v2 directory, checked and assembled but not loaded.
#[derive(Debug)]
pub(crate) struct DeviceFilter {
    program: Vec<insn::Insn>,
}

impl DeviceFilter {
    /// The filter enforcing `rules` (in order, as v1's devices controller would; see
    /// [`policy`]). Refuses a rule it cannot check or express.
    pub(crate) fn compile(rules: &[LinuxDeviceCgroup]) -> Result<Self> {
        let rules = rules
            .iter()
            .map(DeviceRule::parse)
            .collect::<Result<Vec<_>>>()?;
        let policy = policy::DevicePolicy::from_rules(&rules)?;
        Ok(DeviceFilter {
            program: program::assemble(&policy),
        })
    }

    /// Loads the filter and makes it the only one attached to the cgroup at `cgroup_dir`. The
    /// cgroup is never without a filter: the new one is attached first, the ones found before
    /// are detached after (while both are there, an access must pass both).
    ///
    /// Two updates of one cgroup at the same time can leave both their filters attached; the
    /// caller serializes them.
    pub(crate) fn install(&self, cgroup_dir: &Path) -> Result<()> {
        let failed = |operation, source| Error::DeviceFilter {
            operation,
            path: cgroup_dir.to_owned(),
            source,
        };
        let dir = File::options()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(cgroup_dir)
            .map_err(|e| failed("opening the cgroup for its device filter", e))?;
        let earlier = bpf::attached_programs(dir.as_fd())
            .map_err(|e| failed("listing the device filters", e))?;
        let program = bpf::load_device_program(&self.program)?;
        bpf::attach(dir.as_fd(), program.as_fd())
            .map_err(|e| failed("attaching the device filter", e))?;
        for id in earlier {
            let detached =
                bpf::program_by_id(id).and_then(|old| bpf::detach(dir.as_fd(), old.as_fd()));
            match detached {
                Ok(()) => {}
                // Already gone: detached by someone else since it was listed.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => return Err(failed("detaching an earlier device filter", e)),
            }
        }
        Ok(())
    }
}

/// Installing on a real cgroup (root, and a cgroup v2 tree: pure v2 or hybrid). The filters'
/// effect on processes is tested in `tests/host_cgroups.rs`.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Layout;
    use berth_testkit::{Requirement, require};
    use std::path::PathBuf;

    /// An empty cgroup directly below the v2 root, removed on drop.
    struct TestDir(PathBuf);

    impl TestDir {
        fn new(name: &str) -> Option<Self> {
            if !require(&[Requirement::Root]) {
                return None;
            }
            let Some(root) = Layout::detect().unwrap().unified_root().map(Path::to_owned) else {
                eprintln!("skipped: no cgroup v2 tree on this host");
                return None;
            };
            let dir = root.join(format!("berth-unit-{}-{name}", std::process::id()));
            std::fs::create_dir(&dir).unwrap();
            Some(TestDir(dir))
        }

        fn attached(&self) -> Vec<u32> {
            let dir = File::open(&self.0).unwrap();
            bpf::attached_programs(dir.as_fd()).unwrap()
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            let removed = std::fs::remove_dir(&self.0);
            if !std::thread::panicking() {
                removed.unwrap();
            }
        }
    }

    fn filter(rules: serde_json::Value) -> DeviceFilter {
        DeviceFilter::compile(&serde_json::from_value::<Vec<_>>(rules).unwrap()).unwrap()
    }

    #[test]
    fn installing_again_replaces_the_filter() {
        let Some(dir) = TestDir::new("replace") else {
            return;
        };
        assert!(dir.attached().is_empty());
        filter(serde_json::json!([{"allow": false}]))
            .install(&dir.0)
            .unwrap();
        let first = dir.attached();
        assert_eq!(first.len(), 1);
        let second = filter(serde_json::json!([{"allow": false}, {"allow": true, "type": "c"}]));
        second.install(&dir.0).unwrap();
        let attached = dir.attached();
        assert_eq!(attached.len(), 1);
        assert_ne!(attached, first);
    }

    #[test]
    fn a_refused_program_reports_the_verifiers_log() {
        if !require(&[Requirement::Root]) {
            return;
        }
        // Returning without setting R0: the verifier refuses to read an unset register.
        let err = bpf::load_device_program(&[insn::Insn::exit()]).unwrap_err();
        match &err {
            Error::DeviceFilterLoad {
                source,
                verifier_log,
            } => {
                assert_eq!(source.raw_os_error(), Some(libc::EACCES), "{err}");
                assert!(verifier_log.contains("R0 !read_ok"), "{err}");
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_missing_cgroup_is_named() {
        let err = filter(serde_json::json!([]))
            .install(Path::new("/sys/fs/cgroup/berth-no-such-cgroup"))
            .unwrap_err();
        assert!(
            err.to_string().starts_with(
                "opening the cgroup for its device filter on /sys/fs/cgroup/berth-no-such-cgroup: "
            ),
            "{err}"
        );
    }
}
