//! Everything the container init will do, decided from the spec in the caller before any
//! process is cloned: an invalid or unsupported spec fails here, with nothing created.

use std::path::{Component, PathBuf};

use berth_shim_proto::OverlayMount;
use oci_spec::runtime::Spec;

use crate::error::SpecError;
use crate::namespaces::NamespacePlan;
use crate::process_plan::ProcessPlan;
use crate::rootfs_plan::RootfsPlan;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerPlan {
    pub namespaces: NamespacePlan,
    pub rootfs: RootfsPlan,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    /// `linux.cgroupsPath`: the cgroup the init joins in every hierarchy that has it.
    pub cgroups_path: Option<PathBuf>,
    pub process: ProcessPlan,
}

impl ContainerPlan {
    pub(crate) fn new(spec: &Spec, rootfs: &OverlayMount) -> Result<Self, SpecError> {
        refuse_unsupported(spec)?;
        let namespaces = NamespacePlan::new(spec)?;
        let process = ProcessPlan::new(
            spec.process()
                .as_ref()
                .ok_or(SpecError::Missing("process"))?,
            spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()),
        )?;
        let hostname = spec.hostname().clone().filter(|h| !h.is_empty());
        let domainname = spec.domainname().clone().filter(|d| !d.is_empty());
        if (hostname.is_some() || domainname.is_some()) && !namespaces.has_private_uts() {
            return Err(SpecError::HostnameWithoutUts);
        }
        Ok(Self {
            rootfs: RootfsPlan::new(spec, rootfs, &namespaces)?,
            namespaces,
            hostname,
            domainname,
            cgroups_path: cgroups_path(spec)?,
            process,
        })
    }
}

/// `linux.cgroupsPath`, which must be absolute and name no `..`: it is joined to each
/// hierarchy's mount point.
fn cgroups_path(spec: &Spec) -> Result<Option<PathBuf>, SpecError> {
    let Some(path) = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone()) else {
        return Ok(None);
    };
    let mut components = path.components();
    let absolute = components.next() == Some(Component::RootDir);
    if !absolute || !components.all(|c| matches!(c, Component::Normal(_))) {
        return Err(SpecError::CgroupsPath(path));
    }
    Ok(Some(path))
}

/// Settings this runtime cannot apply yet. Refusing them is safer than running a container
/// with less isolation than it asked for. (`linux.resources` is not here: cgroups are the
/// caller's job.)
fn refuse_unsupported(spec: &Spec) -> Result<(), SpecError> {
    let linux = spec.linux().as_ref();
    let non_empty = |v: Option<&Vec<_>>| v.is_some_and(|v: &Vec<_>| !v.is_empty());
    let refused = [
        ("hooks", spec.hooks().is_some()),
        (
            "uid mappings",
            linux.is_some_and(|l| non_empty(l.uid_mappings().as_ref())),
        ),
        (
            "gid mappings",
            linux.is_some_and(|l| non_empty(l.gid_mappings().as_ref())),
        ),
        (
            "an SELinux mount label",
            linux.is_some_and(|l| l.mount_label().as_ref().is_some_and(|m| !m.is_empty())),
        ),
        (
            "linux.intelRdt",
            linux.is_some_and(|l| l.intel_rdt().is_some()),
        ),
        (
            "linux.personality",
            linux.is_some_and(|l| l.personality().is_some()),
        ),
        (
            "linux.timeOffsets",
            linux.is_some_and(|l| l.time_offsets().is_some()),
        ),
        (
            "linux.memoryPolicy",
            linux.is_some_and(|l| l.memory_policy().is_some()),
        ),
    ];
    match refused.iter().find(|(_, present)| *present) {
        Some((what, _)) => Err(SpecError::Unsupported((*what).to_string())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use oci_spec::runtime::{
        LinuxNamespaceBuilder, LinuxNamespaceType, LinuxSeccomp, LinuxSeccompAction, RootBuilder,
    };

    fn overlay() -> OverlayMount {
        OverlayMount {
            layers_root: "/l".into(),
            lowerdirs: vec![PathBuf::from("a")],
            upperdir: "/u".into(),
            workdir: "/w".into(),
        }
    }

    fn spec() -> Spec {
        let mut spec = Spec::default();
        spec.set_root(Some(
            RootBuilder::default()
                .path("/run/c/rootfs")
                .build()
                .unwrap(),
        ));
        spec
    }

    #[test]
    fn the_default_spec_is_accepted() {
        let plan = ContainerPlan::new(&spec(), &overlay()).unwrap();
        assert_eq!(plan.hostname.as_deref(), Some("youki"));
    }

    #[test]
    fn a_hostname_without_a_uts_namespace_is_refused() {
        let mut spec = spec();
        let mount = LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::Mount)
            .build()
            .unwrap();
        spec.linux_mut()
            .as_mut()
            .unwrap()
            .set_namespaces(Some(vec![mount]));
        assert_eq!(
            ContainerPlan::new(&spec, &overlay()),
            Err(SpecError::HostnameWithoutUts)
        );
        spec.set_hostname(None);
        assert!(ContainerPlan::new(&spec, &overlay()).is_ok());
    }

    #[test]
    fn the_cgroups_path_must_stay_below_each_hierarchy() {
        let with_path = |path: &str| {
            let mut spec = spec();
            let linux = spec.linux_mut().as_mut().unwrap();
            linux.set_cgroups_path(Some(PathBuf::from(path)));
            ContainerPlan::new(&spec, &overlay())
        };
        assert_eq!(
            with_path("/berth/abc").unwrap().cgroups_path,
            Some(PathBuf::from("/berth/abc"))
        );
        for bad in ["berth/abc", "/berth/../../etc"] {
            assert_eq!(
                with_path(bad),
                Err(SpecError::CgroupsPath(PathBuf::from(bad))),
                "{bad}"
            );
        }
    }

    #[test]
    fn seccomp_is_compiled_before_anything_runs() {
        let mut spec = spec();
        let linux = spec.linux_mut().as_mut().unwrap();
        linux.set_seccomp(Some(crate::seccomp::docker_default_profile(&[])));
        let plan = ContainerPlan::new(&spec, &overlay()).unwrap();
        assert!(plan.process.seccomp.is_some_and(|f| !f.program.is_empty()));

        let mut notify = LinuxSeccomp::default();
        notify.set_default_action(LinuxSeccompAction::ScmpActNotify);
        spec.linux_mut().as_mut().unwrap().set_seccomp(Some(notify));
        assert_eq!(
            ContainerPlan::new(&spec, &overlay()),
            Err(SpecError::Unsupported("seccomp: SCMP_ACT_NOTIFY".into()))
        );
    }
}
