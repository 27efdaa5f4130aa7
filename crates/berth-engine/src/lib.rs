#![recursion_limit = "256"] // the json! literals of Docker's full HostConfig and info are deep
//! The engine: containers, images and their state, behind the Engine API that berthd serves.
//! berthd's handlers only translate HTTP to calls here; everything is decided here.

pub mod build;
pub mod clock;
pub mod containers;
mod db;
pub mod error;
pub mod events;
pub mod filters;
mod ids;
pub mod images;
mod live;
mod maintenance;
pub mod networks;
pub mod reference;
pub(crate) mod shim;
pub mod stream;
pub mod volumes;

pub use error::{Error, ErrorKind, Result};

use berth_image::ImageStore;
use db::Db;
use live::LiveTable;
use std::path::PathBuf;
use std::sync::Arc;

/// Where the engine keeps things and which programs it runs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Persistent state: `berth.db`, `content/`, `layers/`, `containers/`.
    pub data_root: PathBuf,
    /// Runtime state that dies with a reboot: per-container shim dirs.
    pub exec_root: PathBuf,
    /// The `berth-shim` binary.
    pub shim_binary: PathBuf,
    /// Parent of containers' cgroups (`cgroup-parent`), unless a container names its own.
    pub cgroup_parent: String,
    /// Where volume plugins' sockets and spec files are looked for, in order.
    pub plugin_dirs: Vec<PathBuf>,
    /// The registry client's settings: `insecure-registries`, `registry-mirrors`,
    /// `max-concurrent-downloads`.
    pub registry: berth_registry::ClientConfig,
    /// The default bridge and the address pools of user networks.
    pub network: networks::NetworkConfig,
    /// `log-driver` and `log-opts`: what a container that names no log driver gets.
    pub default_log: containers::DefaultLogConfig,
}

pub struct Engine {
    config: EngineConfig,
    db: Db,
    store: Arc<ImageStore>,
    /// Held while image records and store contents change together (load, import, rmi, GC),
    /// so a collection never removes what a load has written but not yet recorded.
    image_lock: tokio::sync::Mutex<()>,
    live: LiveTable,
    /// The host's cgroup hierarchies; None where none is mounted (then no limits apply).
    cgroups: Option<berth_cgroups::Layout>,
    execs: containers::ExecTable,
    net: networks::NetworkRuntime,
    registry: Arc<berth_registry::Client>,
    /// Layers that running builds use and nothing has recorded yet.
    build_leases: build::lease::Leases,
    /// `RUN --mount=type=cache` directories in use by running builds.
    build_cache_mounts: Arc<build::cache_mounts::CacheMounts>,
    pub events: events::EventLog,
}

/// berth's small init for `--init`, written under the exec root at every berthd start.
const INIT_BINARY: &str = "berth-init";

/// The shim binary, as a read-only bind mount under the exec root (see
/// [`shim::mount_read_only`]).
const SHIM_BINARY: &str = "berth-shim";

fn write_init_binary(path: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, berth_runtime::init_binary())?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

impl Engine {
    /// Opens (or creates) the state under the configured roots, cleans what a crash left
    /// half-done, reconnects to running containers' shims and seeds the built-in images.
    pub async fn open(config: EngineConfig) -> Result<Arc<Self>> {
        for dir in [&config.data_root, &config.exec_root] {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::internal(format!("create {}: {e}", dir.display())))?;
        }
        std::fs::create_dir_all(config.data_root.join("containers"))?;
        std::fs::create_dir_all(config.data_root.join("volumes"))?;
        std::fs::create_dir_all(config.exec_root.join("containers"))?;
        write_init_binary(&config.exec_root.join(INIT_BINARY))?;
        shim::mount_read_only(&config.shim_binary, &config.exec_root.join(SHIM_BINARY))?;
        let db = Db::open(&config.data_root.join("berth.db"))?;
        let store = Arc::new(ImageStore::open(&config.data_root)?);
        let registry = images::registry::new_client(&config.registry)?;
        let engine = Arc::new(Engine {
            config,
            db,
            store,
            image_lock: tokio::sync::Mutex::new(()),
            live: LiveTable::default(),
            cgroups: match berth_cgroups::Layout::detect() {
                Ok(layout) => Some(layout),
                Err(e) => {
                    tracing::warn!(error = %e, "no cgroups: containers run without resource limits");
                    None
                }
            },
            execs: Default::default(),
            net: Default::default(),
            registry,
            build_leases: Default::default(),
            build_cache_mounts: Default::default(),
            events: Default::default(),
        });
        engine.remove_orphan_containers()?;
        engine.remove_stale_build_mounts()?;
        engine.collect_garbage().await?;
        engine.init_networks().await?;
        engine.reconnect_running().await?;
        engine.readopt_endpoints().await?;
        // Volumes a crash left mounted with no container running to use them.
        engine.release_volumes()?;
        engine.seed_builtin_images().await?;
        engine.start_restartable().await?;
        Ok(engine)
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// 1 or 2, as `/info` reports CgroupVersion.
    pub fn cgroup_version(&self) -> u32 {
        self.cgroups.as_ref().map_or(1, |l| l.version())
    }

    fn container_dir(&self, id: &str) -> PathBuf {
        self.config.data_root.join("containers").join(id)
    }

    /// The shim binary containers are started with.
    fn shim_binary(&self) -> PathBuf {
        self.config.exec_root.join(SHIM_BINARY)
    }

    fn exec_dir(&self, id: &str) -> PathBuf {
        self.config.exec_root.join("containers").join(id)
    }
}
