//! Docker's namespace modes — `--ipc`, `--pid`, `--uts`, `--cgroupns` and the namespace side of
//! `--network` — as the namespaces the runtime creates or joins, and the container's
//! `/dev/shm`.
//!
//! `--ipc shareable` gives the container a `/dev/shm` mounted on the host (under the
//! container's directory, as Docker does), so a container started with `--ipc container:<it>`
//! binds that same tmpfs: no path is ever resolved inside another container's filesystem.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::model::Container;
use crate::Engine;
use crate::error::{Error, Result};

/// Which namespace of one kind the container's init gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Namespace {
    /// Its own.
    New,
    /// The host's.
    Host,
    /// Another container's, by its `/proc/<pid>/ns/<kind>` path.
    Join(PathBuf),
}

/// What the container's `/dev/shm` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shm {
    /// A tmpfs of this many bytes, mounted by the runtime in the container.
    Private(u64),
    /// A bind of a tmpfs on the host (`shareable`, a donor's, or the host's `/dev/shm`).
    Bind(PathBuf),
    /// None at all (`--ipc none`).
    Unmounted,
}

/// The namespaces and `/dev/shm` of a container about to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespacePlan {
    pub network: Namespace,
    pub ipc: Namespace,
    pub pid: Namespace,
    pub uts: Namespace,
    pub cgroup: Namespace,
    pub shm: Shm,
}

/// `--ipc`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum IpcMode {
    Private,
    Shareable,
    Host,
    Unmounted,
    Container(String),
}

fn ipc_mode(hc: &Value) -> Result<IpcMode> {
    Ok(match hc["IpcMode"].as_str().unwrap_or_default() {
        "" | "private" => IpcMode::Private,
        "shareable" => IpcMode::Shareable,
        "host" => IpcMode::Host,
        "none" => IpcMode::Unmounted,
        other => match other.strip_prefix("container:").filter(|c| !c.is_empty()) {
            Some(donor) => IpcMode::Container(donor.to_string()),
            None => return Err(Error::invalid(format!("invalid IPC mode: {other}"))),
        },
    })
}

/// `--pid`: `None` for the container's own namespace, else `host` or a container's name.
fn pid_mode(hc: &Value) -> Result<Option<String>> {
    match hc["PidMode"].as_str().unwrap_or_default() {
        "" => Ok(None),
        "host" => Ok(Some("host".into())),
        other => match other.strip_prefix("container:").filter(|c| !c.is_empty()) {
            Some(target) => Ok(Some(format!("container:{target}"))),
            None => Err(Error::invalid(format!("invalid PID mode: {other}"))),
        },
    }
}

/// `--uts`: only `host` changes anything.
fn host_uts(hc: &Value) -> Result<bool> {
    match hc["UTSMode"].as_str().unwrap_or_default() {
        "" => Ok(false),
        "host" => Ok(true),
        other => Err(Error::invalid(format!("invalid UTS mode: {other}"))),
    }
}

/// `--cgroupns`: berth gives every container a private cgroup namespace unless `host`, on v1,
/// v2 and hybrid hosts alike (Docker keeps the host's on v1 for old kernels' sake).
fn host_cgroupns(hc: &Value) -> Result<bool> {
    match hc["CgroupnsMode"].as_str().unwrap_or_default() {
        "" | "private" => Ok(false),
        "host" => Ok(true),
        other => Err(Error::invalid(format!(
            "invalid cgroup namespace mode: {other}"
        ))),
    }
}

/// Refuses, at create, modes that no start could honour.
pub fn validate(hc: &Value) -> Result<()> {
    ipc_mode(hc)?;
    pid_mode(hc)?;
    host_uts(hc)?;
    host_cgroupns(hc)?;
    Ok(())
}

/// The size of a private `/dev/shm`: `--shm-size`, else Docker's 64 MiB.
fn shm_size(hc: &Value) -> u64 {
    hc["ShmSize"]
        .as_u64()
        .filter(|s| *s > 0)
        .unwrap_or(64 << 20)
}

impl Engine {
    /// Where a `shareable` container's `/dev/shm` is mounted on the host.
    fn shared_shm_dir(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("mounts").join("shm")
    }

    /// The namespaces of `c`, whose network namespace is `network`: other containers named by
    /// its modes must be running (and, for IPC, shareable). Mounts a shareable container's
    /// `/dev/shm` on the host.
    pub(crate) fn namespace_plan(
        &self,
        c: &Container,
        network: Namespace,
    ) -> Result<NamespacePlan> {
        let hc = &c.host_config;
        let (ipc, shm) = match ipc_mode(hc)? {
            IpcMode::Private => (Namespace::New, Shm::Private(shm_size(hc))),
            IpcMode::Unmounted => (Namespace::New, Shm::Unmounted),
            IpcMode::Host => (Namespace::Host, Shm::Bind("/dev/shm".into())),
            IpcMode::Shareable => {
                let dir = self.shared_shm_dir(&c.id);
                mount_shared_shm(&dir, shm_size(hc))?;
                (Namespace::New, Shm::Bind(dir))
            }
            IpcMode::Container(donor) => {
                let d = self.running_donor(&donor, "IPC")?;
                if ipc_mode(&d.host_config)? != IpcMode::Shareable {
                    return Err(Error::conflict(format!(
                        "can't join IPC of container {}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)",
                        d.id
                    )));
                }
                (
                    Namespace::Join(ns_path(d.state.pid, "ipc")),
                    Shm::Bind(self.shared_shm_dir(&d.id)),
                )
            }
        };
        let pid = match pid_mode(hc)?.as_deref() {
            None => Namespace::New,
            Some("host") => Namespace::Host,
            Some(other) => {
                let target = other.trim_start_matches("container:");
                Namespace::Join(ns_path(self.running_donor(target, "PID")?.state.pid, "pid"))
            }
        };
        let private = |host: bool| {
            if host {
                Namespace::Host
            } else {
                Namespace::New
            }
        };
        Ok(NamespacePlan {
            network,
            ipc,
            pid,
            uts: private(host_uts(hc)?),
            cgroup: private(host_cgroupns(hc)?),
            shm,
        })
    }

    /// The running container `name` whose namespace of `kind` another wants to join.
    fn running_donor(&self, name: &str, kind: &str) -> Result<Container> {
        let donor = self.container_record(&self.resolve_container(name)?)?;
        if !donor.state.running() {
            return Err(Error::conflict(format!(
                "cannot join {kind} of a non running container: {name}"
            )));
        }
        Ok(donor)
    }

    /// Unmounts a shareable container's `/dev/shm` once it has stopped (other containers
    /// have none on the host: no mount table is read for them).
    pub(crate) fn release_shared_shm(&self, c: &Container) {
        if matches!(ipc_mode(&c.host_config), Ok(IpcMode::Shareable)) {
            crate::volumes::host_mount::unmount_if_mounted(&self.shared_shm_dir(&c.id));
        }
    }
}

fn ns_path(pid: i32, kind: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/ns/{kind}"))
}

fn mount_shared_shm(dir: &Path, size: u64) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    crate::volumes::host_mount::mount_once(
        dir,
        "shm",
        "tmpfs",
        &format!("nosuid,nodev,noexec,mode=1777,size={size}"),
    )
    .map_err(|e| Error::internal(format!("mounting /dev/shm at {}: {e}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn modes_are_read_as_docker_writes_them() {
        assert_eq!(ipc_mode(&json!({})).unwrap(), IpcMode::Private);
        assert_eq!(
            ipc_mode(&json!({"IpcMode": "container:db"})).unwrap(),
            IpcMode::Container("db".into())
        );
        assert_eq!(
            pid_mode(&json!({"PidMode": "host"})).unwrap().as_deref(),
            Some("host")
        );
        assert!(host_uts(&json!({"UTSMode": "host"})).unwrap());
        assert!(!host_cgroupns(&json!({"CgroupnsMode": "private"})).unwrap());
    }

    #[test]
    fn unknown_modes_are_refused() {
        for (hc, message) in [
            (
                json!({"IpcMode": "container:"}),
                "invalid IPC mode: container:",
            ),
            (json!({"IpcMode": "public"}), "invalid IPC mode: public"),
            (json!({"PidMode": "private"}), "invalid PID mode: private"),
            (json!({"UTSMode": "private"}), "invalid UTS mode: private"),
            (
                json!({"CgroupnsMode": "x"}),
                "invalid cgroup namespace mode: x",
            ),
        ] {
            assert_eq!(validate(&hc).unwrap_err().to_string(), message);
        }
    }
}
