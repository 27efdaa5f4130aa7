//! Which namespaces the container init is cloned into, and which existing ones (a `path` in the
//! spec, e.g. a network namespace prepared by the engine) it joins.
//!
//! Two kinds are special. A new cgroup namespace is not created by `clone` but unshared by the
//! init once it is in its cgroups, so the namespace is rooted at the container's cgroup rather
//! than the caller's. An existing pid namespace only applies to children forked after `setns`,
//! so the caller enters it for the `clone` of the init (see [`PidNamespaceForChildren`]).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{SetupError, SpecError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NamespacePlan {
    created: Vec<LinuxNamespaceType>,
    joined: Vec<(LinuxNamespaceType, PathBuf)>,
}

impl NamespacePlan {
    pub(crate) fn new(spec: &Spec) -> Result<Self, SpecError> {
        let namespaces = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().as_deref())
            .unwrap_or_default();
        let mut plan = Self {
            created: Vec::new(),
            joined: Vec::new(),
        };
        for ns in namespaces {
            let typ = ns.typ();
            if plan.creates(typ) || plan.joined.iter().any(|(t, _)| *t == typ) {
                return Err(SpecError::DuplicateNamespace(typ.to_string()));
            }
            match (typ, ns.path()) {
                (LinuxNamespaceType::User, _) => {
                    return Err(SpecError::Unsupported("a user namespace".into()));
                }
                (LinuxNamespaceType::Time, _) => {
                    return Err(SpecError::Unsupported("a time namespace".into()));
                }
                (LinuxNamespaceType::Mount, Some(_)) => {
                    return Err(SpecError::Unsupported(format!(
                        "joining an existing {typ} namespace"
                    )));
                }
                (_, Some(path)) => plan.joined.push((typ, path.clone())),
                (_, None) => plan.created.push(typ),
            }
        }
        if !plan.creates(LinuxNamespaceType::Mount) {
            return Err(SpecError::Missing("a mount namespace"));
        }
        Ok(plan)
    }

    pub(crate) fn creates(&self, typ: LinuxNamespaceType) -> bool {
        self.created.contains(&typ)
    }

    /// Whether the container has a UTS namespace of its own (created or joined), so setting
    /// its hostname does not change the host's.
    pub(crate) fn has_private_uts(&self) -> bool {
        self.has_own(LinuxNamespaceType::Uts)
    }

    /// Whether the container has a namespace of this type of its own, created or joined (the
    /// engine prepares network namespaces, for one).
    pub(crate) fn has_own(&self, typ: LinuxNamespaceType) -> bool {
        self.creates(typ) || self.joined.iter().any(|(t, _)| *t == typ)
    }

    /// The `CLONE_NEW*` flags for the namespaces `clone` creates: all but the cgroup namespace.
    pub(crate) fn clone_flags(&self) -> CloneFlags {
        self.created
            .iter()
            .filter(|typ| **typ != LinuxNamespaceType::Cgroup)
            .fold(CloneFlags::empty(), |flags, typ| flags | clone_flag(*typ))
    }

    /// The existing pid namespace the init is to be cloned into, if any.
    pub(crate) fn joined_pid(&self) -> Option<&Path> {
        self.joined
            .iter()
            .find(|(typ, _)| *typ == LinuxNamespaceType::Pid)
            .map(|(_, path)| path.as_path())
    }

    /// Joins the existing namespaces but the pid one (the init was cloned into it); called in
    /// the container init once it is in its cgroups.
    pub(crate) fn join(&self) -> Result<(), SetupError> {
        for (typ, path) in &self.joined {
            if *typ == LinuxNamespaceType::Pid {
                continue;
            }
            let file = std::fs::File::open(path).map_err(|e| SetupError::path("open", path, e))?;
            nix::sched::setns(&file, clone_flag(*typ))
                .map_err(|e| SetupError::path("setns", path, e))?;
        }
        Ok(())
    }

    /// Unshares the new cgroup namespace, if the spec asks for one: called by the init after
    /// joining its cgroups, so they become the namespace's root.
    pub(crate) fn unshare_cgroup(&self) -> Result<(), SetupError> {
        if self.creates(LinuxNamespaceType::Cgroup) {
            nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP)
                .map_err(|e| SetupError::sys("unshare the cgroup namespace", e))?;
        }
        Ok(())
    }
}

/// The caller's children are forked into another pid namespace while this lives; dropping it
/// returns to the caller's own (allowed: a process may always re-enter its active namespace).
pub(crate) struct PidNamespaceForChildren {
    own: File,
}

impl PidNamespaceForChildren {
    pub(crate) fn enter(path: &Path) -> io::Result<Self> {
        let own = File::open("/proc/self/ns/pid")?;
        let target = File::open(path)?;
        nix::sched::setns(&target, CloneFlags::CLONE_NEWPID)?;
        Ok(Self { own })
    }
}

impl Drop for PidNamespaceForChildren {
    fn drop(&mut self) {
        // Cannot fail: the caller's active namespace is always a valid target.
        let _ = nix::sched::setns(&self.own, CloneFlags::CLONE_NEWPID);
    }
}

fn clone_flag(typ: LinuxNamespaceType) -> CloneFlags {
    match typ {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        // Not reachable through `NamespacePlan::new`, which refuses time namespaces.
        LinuxNamespaceType::Time => CloneFlags::empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxBuilder, LinuxNamespace, LinuxNamespaceBuilder};

    fn spec_with(namespaces: Vec<LinuxNamespace>) -> Spec {
        let mut spec = Spec::default();
        spec.set_linux(Some(
            LinuxBuilder::default()
                .namespaces(namespaces)
                .build()
                .unwrap(),
        ));
        spec
    }

    fn ns(typ: LinuxNamespaceType, path: Option<&str>) -> LinuxNamespace {
        let builder = LinuxNamespaceBuilder::default().typ(typ);
        match path {
            Some(p) => builder.path(p).build().unwrap(),
            None => builder.build().unwrap(),
        }
    }

    #[test]
    fn default_namespaces_become_clone_flags() {
        let plan = NamespacePlan::new(&Spec::default()).unwrap();
        // The cgroup namespace is unshared later, by the init.
        assert_eq!(
            plan.clone_flags(),
            CloneFlags::CLONE_NEWPID
                | CloneFlags::CLONE_NEWNET
                | CloneFlags::CLONE_NEWIPC
                | CloneFlags::CLONE_NEWUTS
                | CloneFlags::CLONE_NEWNS
        );
        assert!(plan.creates(LinuxNamespaceType::Cgroup));
        assert!(plan.has_private_uts());
    }

    #[test]
    fn a_namespace_with_a_path_is_joined_not_created() {
        use LinuxNamespaceType::*;
        let spec = spec_with(vec![
            ns(Mount, None),
            ns(Network, Some("/run/berth/netns/x")),
        ]);
        let plan = NamespacePlan::new(&spec).unwrap();
        assert_eq!(plan.clone_flags(), CloneFlags::CLONE_NEWNS);
        assert_eq!(
            plan.joined,
            [(Network, PathBuf::from("/run/berth/netns/x"))]
        );
        assert!(!plan.has_private_uts());
        assert_eq!(plan.joined_pid(), None);
    }

    #[test]
    fn a_pid_namespace_can_be_joined() {
        use LinuxNamespaceType::*;
        let spec = spec_with(vec![ns(Mount, None), ns(Pid, Some("/proc/7/ns/pid"))]);
        let plan = NamespacePlan::new(&spec).unwrap();
        assert_eq!(plan.clone_flags(), CloneFlags::CLONE_NEWNS);
        assert_eq!(plan.joined_pid(), Some(Path::new("/proc/7/ns/pid")));
    }

    #[test]
    fn refused_namespace_setups() {
        use LinuxNamespaceType::*;
        for bad in [
            vec![ns(Mount, None), ns(User, None)],
            vec![ns(Mount, None), ns(Pid, None), ns(Pid, None)],
            vec![ns(Mount, Some("/proc/1/ns/mnt"))],
            vec![ns(Pid, None)],
        ] {
            assert!(
                NamespacePlan::new(&spec_with(bad.clone())).is_err(),
                "{bad:?}"
            );
        }
    }
}
