//! Starting, stopping, waiting for and attaching to containers, and following each running
//! container's shim until it exits.

use super::model::{Container, Status};
use super::namespaces::Namespace;
use super::{etc_files, spec, user};
use crate::error::{Error, ErrorKind, Result};
use crate::live::{Exits, PendingAttach};
use crate::shim::{self, OutputStream};
use crate::{Engine, clock};
use berth_shim_proto::{CONFIG_FILE, ExitStatus, PROTOCOL_VERSION, ROOTFS_DIR, ShimConfig};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// `condition` of `POST /containers/{id}/wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    NotRunning,
    NextExit,
    Removed,
}

impl WaitCondition {
    pub fn parse(s: Option<&str>) -> Result<Self> {
        match s.unwrap_or("") {
            "" | "not-running" => Ok(Self::NotRunning),
            "next-exit" => Ok(Self::NextExit),
            "removed" => Ok(Self::Removed),
            other => Err(Error::invalid(format!("invalid condition: \"{other}\""))),
        }
    }
}

/// How long `kill` with SIGKILL waits for the exit before it answers anyway.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// Docker's signal names (with or without SIG) and numbers.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>()
        && (1..=64).contains(&n)
    {
        return Ok(n);
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<nix::sys::signal::Signal>()
        .map(|sig| sig as i32)
        .map_err(|_| Error::invalid(format!("Invalid signal: {s}")))
}

impl Engine {
    /// `POST /containers/{id}/start`.
    pub async fn start_container(self: &Arc<Self>, name: &str) -> Result<()> {
        self.start_inner(name, false).await
    }

    /// Starts a created or exited container; `by_policy` is the restart policy bringing back
    /// one that is `restarting`.
    async fn start_inner(self: &Arc<Self>, name: &str, by_policy: bool) -> Result<()> {
        let id = self.resolve_container(name)?;
        let live = self.live.get(&id);
        let _guard = live.lock.lock().await;
        let mut c = self.container_record(&id)?;
        if by_policy && c.state.status != Status::Restarting {
            return Ok(()); // stopped or removed while it waited
        }
        if c.state.running() && !by_policy {
            return Err(Error::new(
                ErrorKind::NotModified,
                "container already started",
            ));
        }
        let exec_dir = self.exec_dir(&id);
        // The cgroup exists, with its limits, before the init: the init joins it first thing.
        let volumes = c.volume_names();
        let prepared = match self.allocate_addresses(&mut c).await {
            Ok(()) => match self.mount_plugin_volumes(&id, &volumes).await {
                Ok(()) => self.prepare_start(&c).and_then(|()| self.create_cgroup(&c)),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let launched = match prepared {
            Ok(()) => shim::launch(&self.shim_binary(), &exec_dir).await,
            Err(e) => Err(e),
        };
        let launched = match launched {
            Ok(l) => l,
            Err(e) => {
                self.release_start_resources(&c);
                self.unmount_plugin_volumes(&id, &volumes).await;
                self.release_endpoints(&mut c).await;
                // A container that cannot start is removed when it asked for that, as in Docker.
                if c.auto_remove() {
                    self.forget_container(&id)?;
                    self.remove_anonymous_volumes(&c).await;
                }
                return Err(e);
            }
        };
        let (Some(shim_pid), Some(init_pid)) = (launched.shim_pid, launched.init_pid) else {
            let message = launched
                .error
                .unwrap_or_else(|| "the shim failed without a reason".into());
            c.state.exit_code = launched.exit_code.unwrap_or(125);
            c.state.error = message.clone();
            self.release_start_resources(&c);
            self.unmount_plugin_volumes(&id, &volumes).await;
            self.release_endpoints(&mut c).await;
            let _ = std::fs::remove_dir_all(&exec_dir);
            // A container that cannot start is removed when it asked for that, as in Docker.
            if c.auto_remove() {
                self.forget_container(&id)?;
                self.remove_anonymous_volumes(&c).await;
            } else {
                self.save_container(&c)?;
            }
            let message = format!(
                "failed to create task for container: unable to start container process: {message}"
            );
            let kind = if matches!(c.state.exit_code, 126 | 127) {
                ErrorKind::InvalidArgument
            } else {
                ErrorKind::Internal
            };
            return Err(Error::new(kind, message));
        };
        if let Err(e) = self.set_up_launched(&mut c, init_pid).await {
            let _ = shim::kill(&exec_dir, libc::SIGKILL).await;
            self.release_endpoints(&mut c).await;
            self.release_start_resources(&c);
            return Err(e);
        }
        // Attach streams requested before the start get every byte of output.
        for pending in live.take_pending_attaches() {
            if let Ok(stream) =
                shim::attach(&exec_dir, pending.stdout, pending.stderr, pending.stdin).await
            {
                let _ = pending.deliver.send(stream);
            }
        }
        if let Err(e) = shim::start(&exec_dir).await {
            let _ = shim::kill(&exec_dir, libc::SIGKILL).await;
            return Err(e);
        }
        c.state = super::model::State {
            status: Status::Running,
            pid: init_pid,
            shim_pid,
            exit_code: 0,
            error: String::new(),
            started_at: clock::now(),
            finished_at: c.state.finished_at.clone(),
            manually_stopped: false,
            oom_killed: false,
            health: None,
        };
        self.save_container(&c)?;
        self.container_event(&c, "start", &[]);
        self.watch_health(&c);
        self.monitor(id);
        Ok(())
    }

    /// What happens between the launch and the start, while the init waits before its
    /// execve: its networks.
    async fn set_up_launched(&self, c: &mut Container, init_pid: i32) -> Result<()> {
        let interfaces = self.attach_endpoints(c, init_pid).await?;
        self.configure_container_network(c, interfaces).await
    }

    /// Writes everything the shim needs into a fresh exec dir.
    fn prepare_start(&self, c: &Container) -> Result<()> {
        let dir = self.container_dir(&c.id);
        let exec_dir = self.exec_dir(&c.id);
        let _ = std::fs::remove_dir_all(&exec_dir);
        std::fs::create_dir_all(exec_dir.join(ROOTFS_DIR))?;
        let (netns, resolver) = match crate::networks::mode(&c.host_config) {
            crate::networks::Mode::Networks => {
                let resolver = self.embedded_dns(c).map_or(
                    etc_files::Resolver::HostFiltered,
                    etc_files::Resolver::Embedded,
                );
                (Namespace::New, resolver)
            }
            crate::networks::Mode::Host => (Namespace::Host, etc_files::Resolver::Host),
            crate::networks::Mode::Container(other) => {
                let o = self.container_record(&self.resolve_container(&other)?)?;
                if !o.state.running() {
                    return Err(Error::conflict(format!(
                        "cannot join network of a non running container: {other}"
                    )));
                }
                let path = std::path::PathBuf::from(format!("/proc/{}/ns/net", o.state.pid));
                (Namespace::Join(path), etc_files::Resolver::HostFiltered)
            }
        };
        let namespaces = self.namespace_plan(c, netns)?;
        let hostname = c.config["Hostname"].as_str().unwrap_or_default();
        let names = etc_files::NameOptions::of(&c.host_config, || self.host_gateway())?;
        let etc = etc_files::write(
            &dir,
            hostname,
            self.primary_address(c).as_deref(),
            &resolver,
            &names,
        )?;
        let upper = dir.join("upper");
        let files = user::layered(
            &upper,
            c.layers.iter().rev().map(|l| self.layer_diff_dir(l)),
        );
        let process_user = user::resolve(
            c.config["User"].as_str().unwrap_or_default(),
            &super::group_add(&c.host_config),
            &files,
        )?;
        let rootfs = exec_dir.join(ROOTFS_DIR);
        let etc_spec = spec::EtcFiles {
            hostname: &etc.hostname,
            hosts: &etc.hosts,
            resolv_conf: &etc.resolv_conf,
        };
        let user_mounts = self.prepare_mounts(c)?;
        let init_binary = self.config.exec_root.join(crate::INIT_BINARY);
        let cgroups_path = self.cgroup_of(c).map(|(_, path)| path);
        let placement = spec::Placement {
            namespaces: &namespaces,
            cgroups_path: cgroups_path.as_deref(),
        };
        let runtime_spec = spec::build(
            c,
            &rootfs,
            &etc_spec,
            &process_user,
            &user_mounts,
            &placement,
            &init_binary,
        )?;
        let chain_ids = c
            .layers
            .iter()
            .map(|l| {
                l.parse()
                    .map_err(|_| Error::internal(format!("bad layer id {l}")))
            })
            .collect::<Result<Vec<berth_image::ChainId>>>()?;
        let overlay = self
            .store
            .overlay_mount(&chain_ids, upper, dir.join("work"));
        let log_config = &c.host_config["LogConfig"];
        let log = self.log_files(c)?;
        let settings = super::log_config::settings(log_config)?;
        let log_attrs = match (&log, &settings) {
            (Some(files), Some(_)) => {
                if let Some(dir) = files.path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let env: Vec<String> = c.config["Env"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.as_str().map(str::to_string))
                    .collect();
                let tag = super::log_config::TagInfo {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    image_id: c.image_id.clone(),
                    image_name: c.image_name.clone(),
                };
                super::log_config::attributes(log_config, &c.config["Labels"], &env, &tag)?
            }
            _ => Default::default(),
        };
        let shim_config = ShimConfig {
            version: PROTOCOL_VERSION,
            id: c.id.clone(),
            spec: runtime_spec,
            rootfs: overlay,
            log_path: log.map(|files| files.path),
            log_format: settings.as_ref().map(|s| s.format).unwrap_or_default(),
            log_max_size: settings.as_ref().map_or(0, |s| s.max_size),
            log_max_files: settings.as_ref().map_or(1, |s| s.max_files),
            log_compress: settings.as_ref().is_some_and(|s| s.compress),
            log_attrs,
            open_stdin: c.config["OpenStdin"].as_bool().unwrap_or(false),
            stdin_once: c.config["StdinOnce"].as_bool().unwrap_or(false),
        };
        std::fs::write(
            exec_dir.join(CONFIG_FILE),
            serde_json::to_vec(&shim_config)?,
        )?;
        Ok(())
    }

    /// Mounts option-made volumes, fills new volumes with the image's content, and returns
    /// the container's own mounts in OCI form.
    fn prepare_mounts(&self, c: &Container) -> Result<Vec<serde_json::Value>> {
        self.mount_volumes(&c.volume_names())?;
        let layers: Vec<std::path::PathBuf> = c
            .layers
            .iter()
            .rev()
            .map(|l| self.layer_diff_dir(l))
            .collect();
        let mut out = Vec::new();
        for m in &c.mounts {
            let source = self.mount_source(m);
            if m.kind == super::mounts::MountKind::Volume
                && !m.nocopy
                && let Some(src) = &source
            {
                crate::volumes::copy_image_content(&layers, &m.destination, src).map_err(|e| {
                    Error::internal(format!(
                        "copying image content into volume {}: {e}",
                        src.display()
                    ))
                })?;
            }
            out.push(super::mounts::oci_mount(m, source.as_deref()));
        }
        Ok(out)
    }

    /// Follows the shim until the container exits, then records the exit.
    fn monitor(self: &Arc<Self>, id: String) {
        let engine = self.clone();
        tokio::spawn(async move {
            let exec_dir = engine.exec_dir(&id);
            let exit = shim::wait(&exec_dir).await.unwrap_or_else(|e| {
                tracing::warn!(container = %id, error = %e, "shim lost; recording the container as dead");
                ExitStatus { exit_code: 255, finished_at: clock::now() }
            });
            if let Err(e) = engine.record_exit(&id, exit).await {
                tracing::warn!(container = %id, error = %e, "recording exit failed");
            }
        });
    }

    async fn record_exit(self: &Arc<Self>, id: &str, exit: ExitStatus) -> Result<()> {
        let live = self.live.get(id);
        let (auto_remove, c) = {
            let _guard = live.lock.lock().await;
            let Some(mut c) = self.db.container::<Container>(id)? else {
                return Ok(());
            };
            c.state.status = Status::Exited;
            c.state.pid = 0;
            c.state.shim_pid = 0;
            c.state.exit_code = exit.exit_code;
            c.state.oom_killed = self.oom_killed(&c);
            self.release_endpoints(&mut c).await;
            let ran = clock::parse(&c.state.started_at)
                .zip(clock::parse(&exit.finished_at))
                .and_then(|(s, f)| f.duration_since(s).ok())
                .unwrap_or_default();
            c.state.finished_at = exit.finished_at;
            let restart = c.should_restart(exit.exit_code);
            if restart {
                c.state.status = Status::Restarting;
                c.restart_count += 1;
            }
            self.save_container(&c)?;
            let _ = std::fs::remove_dir_all(self.exec_dir(id));
            self.release_start_resources(&c);
            self.unmount_plugin_volumes(id, &c.volume_names()).await;
            live.record_exit(exit.exit_code);
            self.container_event(&c, "die", &[("exitCode", &exit.exit_code.to_string())]);
            if let Err(e) = self.release_volumes() {
                tracing::warn!(container = %id, error = %e, "releasing volumes");
            }
            if restart {
                self.restart_later(id, &live, ran);
            }
            (c.auto_remove(), c)
        };
        if auto_remove {
            let _guard = live.lock.lock().await;
            self.forget_container(id)?;
            self.remove_anonymous_volumes(&c).await;
        }
        Ok(())
    }

    /// Starts the container again after Docker's backoff: 100 ms, doubling after every exit
    /// within 10 s of its start, at most a minute.
    fn restart_later(self: &Arc<Self>, id: &str, live: &crate::live::Live, ran: Duration) {
        use std::sync::atomic::Ordering;
        let previous = live.restart_delay_ms.load(Ordering::Relaxed);
        let delay = if ran >= Duration::from_secs(10) || previous == 0 {
            100
        } else {
            (previous * 2).min(60_000)
        };
        live.restart_delay_ms.store(delay, Ordering::Relaxed);
        let (engine, id) = (self.clone(), id.to_string());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            if let Err(e) = engine.start_inner(&id, true).await {
                tracing::warn!(container = %id, error = %e, "restart by policy failed");
                if let Ok(mut c) = engine.container_record(&id) {
                    c.state.status = Status::Exited;
                    c.state.error = e.message;
                    let _ = engine.save_container(&c);
                }
            }
        });
    }

    /// Brings back, when berthd starts, the stopped containers whose policy says so.
    pub(crate) async fn start_restartable(self: &Arc<Self>) -> Result<()> {
        for c in self.container_records()? {
            if !c.state.running()
                && c.starts_with_daemon()
                && let Err(e) = self.start_container(&c.id).await
            {
                tracing::warn!(container = %c.id, error = %e, "start on daemon start failed");
            }
        }
        Ok(())
    }

    /// Records that the user stopped the container, so its restart policy leaves it stopped.
    async fn mark_manually_stopped(&self, id: &str) -> Result<Container> {
        let live = self.live.get(id);
        let _guard = live.lock.lock().await;
        let mut c = self.container_record(id)?;
        c.state.manually_stopped = true;
        if c.state.status == Status::Restarting {
            c.state.status = Status::Exited;
        }
        self.save_container(&c)?;
        Ok(c)
    }

    /// On startup: containers recorded as running either still have their shim (follow it
    /// again) or ended while berthd was away (fold in the exit record the shim left).
    pub(crate) async fn reconnect_running(self: &Arc<Self>) -> Result<()> {
        for c in self.container_records()? {
            if !c.state.running() {
                continue;
            }
            let exec_dir = self.exec_dir(&c.id);
            if shim::request(&exec_dir, berth_shim_proto::Request::State)
                .await
                .is_ok()
            {
                tracing::info!(container = %c.id, "reconnected to running container");
                self.monitor(c.id.clone());
            } else {
                let exit = shim::read_exit_record(&exec_dir)
                    .await
                    .unwrap_or(ExitStatus {
                        exit_code: 255,
                        finished_at: clock::now(),
                    });
                self.record_exit(&c.id, exit).await?;
            }
        }
        Ok(())
    }

    /// `POST /containers/{id}/kill`.
    pub async fn kill_container(&self, name: &str, signal: Option<&str>) -> Result<()> {
        let id = self.resolve_container(name)?;
        let signal = parse_signal(signal.filter(|s| !s.is_empty()).unwrap_or("SIGKILL"))?;
        let c = self.container_record(&id)?;
        if !c.state.running() {
            return Err(Error::conflict(format!("Container {id} is not running")));
        }
        self.thaw_if_paused(&id).await?;
        let c = self.mark_manually_stopped(&id).await?;
        self.container_event(&c, "kill", &[("signal", &signal.to_string())]);
        if c.state.status == Status::Exited {
            return Ok(()); // it was waiting to restart: nothing to signal
        }
        if signal != libc::SIGKILL {
            return shim::kill(&self.exec_dir(&id), signal).await;
        }
        // As Docker does, a SIGKILL is answered once the exit is recorded (a `start` right
        // after finds the container stopped), or after a while should it never come.
        let waited = tokio::time::timeout(KILL_WAIT, self.kill_and_wait(&id, signal)).await;
        waited.unwrap_or(Ok(()))
    }

    /// Sends `signal` and waits until the exit is recorded.
    pub(crate) async fn kill_and_wait(&self, id: &str, signal: i32) -> Result<()> {
        let mut exits = self.live.get(id).exits.subscribe();
        let seen = exits.borrow_and_update().count;
        if !self.container_record(id)?.state.running() {
            return Ok(());
        }
        let exited = |e: &Exits| e.count > seen || e.removed;
        if let Err(e) = shim::kill(&self.exec_dir(id), signal).await {
            // The container may have exited on its own just now, taking its shim with it.
            let settled =
                tokio::time::timeout(Duration::from_secs(2), exits.wait_for(exited)).await;
            return if settled.is_ok() { Ok(()) } else { Err(e) };
        }
        exits
            .wait_for(exited)
            .await
            .map_err(|_| Error::internal("container monitor went away"))?;
        Ok(())
    }

    /// `POST /containers/{id}/stop`: the stop signal, then SIGKILL after the timeout.
    pub async fn stop_container(
        &self,
        name: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        let id = self.resolve_container(name)?;
        let c = self.container_record(&id)?;
        if !c.state.running() {
            return Err(Error::new(
                ErrorKind::NotModified,
                "container already stopped",
            ));
        }
        let signal = match signal.filter(|s| !s.is_empty()) {
            Some(s) => s.to_string(),
            None => c.config["StopSignal"]
                .as_str()
                .unwrap_or("SIGTERM")
                .to_string(),
        };
        let signal = parse_signal(&signal)?;
        let timeout = timeout
            .or_else(|| c.config["StopTimeout"].as_i64())
            .unwrap_or(10);
        self.thaw_if_paused(&id).await?;
        let c = self.mark_manually_stopped(&id).await?;
        if c.state.status == Status::Exited {
            self.container_event(&c, "stop", &[]);
            return Ok(()); // it was waiting to restart
        }
        self.container_event(&c, "kill", &[("signal", &signal.to_string())]);
        let graceful = self.kill_and_wait(&id, signal);
        let stopped = if timeout < 0 {
            graceful.await
        } else {
            match tokio::time::timeout(Duration::from_secs(timeout as u64), graceful).await {
                Ok(result) => result,
                Err(_) => self.kill_and_wait(&id, libc::SIGKILL).await,
            }
        };
        self.container_event(&c, "stop", &[]);
        stopped
    }

    fn cgroup_of(&self, c: &Container) -> Option<(&berth_cgroups::Layout, String)> {
        let layout = self.cgroups.as_ref()?;
        Some((
            layout,
            super::resources::cgroup_path(c, &self.config.cgroup_parent),
        ))
    }

    /// Creates the container's cgroup with its limits, for its init to join.
    fn create_cgroup(&self, c: &Container) -> Result<()> {
        let Some((layout, path)) = self.cgroup_of(c) else {
            return Ok(());
        };
        let failed = |e: berth_cgroups::Error| Error::internal(format!("cgroup {path}: {e}"));
        let cgroup = berth_cgroups::Cgroup::create(layout, &path).map_err(failed)?;
        let resources = super::resources::from_host_config(&c.host_config)?;
        if let Err(e) = cgroup.apply(&resources) {
            let _ = cgroup.remove();
            return Err(failed(e));
        }
        Ok(())
    }

    /// What a start set up on the host for a container that is not running (any more): its
    /// cgroup and a shareable `/dev/shm`.
    fn release_start_resources(&self, c: &Container) {
        self.remove_cgroup(c);
        self.release_shared_shm(c);
    }

    /// Whether the kernel's OOM killer killed a process of the container, read before its
    /// cgroup goes.
    fn oom_killed(&self, c: &Container) -> bool {
        self.cgroup_of(c)
            .and_then(|(layout, path)| berth_cgroups::Cgroup::open(layout, &path).ok())
            .and_then(|cgroup| cgroup.oom_kills().ok().flatten())
            .is_some_and(|kills| kills > 0)
    }

    fn remove_cgroup(&self, c: &Container) {
        if let Some((layout, path)) = self.cgroup_of(c)
            && let Ok(cgroup) = berth_cgroups::Cgroup::open(layout, &path)
            && let Err(e) = cgroup.remove()
        {
            tracing::warn!(container = %c.id, error = %e, "removing cgroup");
        }
    }

    pub(crate) fn open_cgroup(&self, c: &Container) -> Result<berth_cgroups::Cgroup> {
        let (layout, path) = self
            .cgroup_of(c)
            .ok_or_else(|| Error::conflict("this host has no cgroups"))?;
        berth_cgroups::Cgroup::open(layout, &path)
            .map_err(|e| Error::internal(format!("cgroup {path}: {e}")))
    }

    /// `POST /containers/{id}/pause` and `/unpause`: the cgroup freezer.
    pub async fn set_paused(&self, name: &str, pause: bool) -> Result<()> {
        let id = self.resolve_container(name)?;
        let live = self.live.get(&id);
        let _guard = live.lock.lock().await;
        let mut c = self.container_record(&id)?;
        match (pause, c.state.status) {
            (true, Status::Running) | (false, Status::Paused) => {}
            (true, Status::Paused) => {
                return Err(Error::conflict(format!("Container {id} is already paused")));
            }
            (false, _) => return Err(Error::conflict(format!("Container {id} is not paused"))),
            (true, _) => return Err(Error::conflict(format!("Container {id} is not running"))),
        }
        let cgroup = self.open_cgroup(&c)?;
        tokio::task::spawn_blocking(move || {
            if pause {
                cgroup.freeze()
            } else {
                cgroup.thaw()
            }
        })
        .await
        .map_err(|e| Error::internal(e.to_string()))?
        .map_err(|e| Error::internal(e.to_string()))?;
        c.state.status = if pause {
            Status::Paused
        } else {
            Status::Running
        };
        self.save_container(&c)?;
        self.container_event(&c, if pause { "pause" } else { "unpause" }, &[]);
        Ok(())
    }

    /// A paused container cannot take a signal: thaw it first (stop and kill do this).
    async fn thaw_if_paused(&self, id: &str) -> Result<()> {
        if self.container_record(id)?.state.status == Status::Paused {
            self.set_paused(id, false).await?;
        }
        Ok(())
    }

    /// One stats sample of a running container (zeros once it has stopped, as Docker shows).
    pub async fn container_stats(&self, name: &str) -> Result<(Container, berth_cgroups::Stats)> {
        let id = self.resolve_container(name)?;
        let c = self.container_record(&id)?;
        if !c.state.running() {
            return Ok((c, berth_cgroups::Stats::default()));
        }
        let cgroup = self.open_cgroup(&c)?;
        let stats = tokio::task::spawn_blocking(move || cgroup.stats())
            .await
            .map_err(|e| Error::internal(e.to_string()))?
            .map_err(|e| Error::internal(e.to_string()))?;
        Ok((c, stats))
    }

    /// `POST /containers/{id}/wait`: resolves the container now, returns a future for the code.
    pub fn wait_container(
        &self,
        name: &str,
        condition: WaitCondition,
    ) -> Result<impl std::future::Future<Output = Result<i32>> + Send + 'static> {
        let id = self.resolve_container(name)?;
        let c = self.container_record(&id)?;
        let mut exits = self.live.get(&id).exits.subscribe();
        let seen = *exits.borrow_and_update();
        let running = c.state.running();
        let last_code = c.state.exit_code;
        Ok(async move {
            let done = |e: &Exits| match condition {
                WaitCondition::NotRunning if !running => true,
                WaitCondition::NotRunning | WaitCondition::NextExit => {
                    e.count > seen.count || e.removed
                }
                WaitCondition::Removed => e.removed,
            };
            if done(&seen) {
                return Ok(last_code);
            }
            let e = exits.wait_for(done).await.map(|e| *e);
            match e {
                Ok(e) if e.count > seen.count => Ok(e.last_code),
                Ok(_) => Ok(last_code),
                // The container was forgotten: it was removed.
                Err(_) => Ok(last_code),
            }
        })
    }

    /// `POST /containers/{id}/attach` with `stream=1`: output of a running container now, or of
    /// a created one from its start on; with `stdin`, the stream also takes the client's input.
    pub fn attach_container(
        &self,
        name: &str,
        stdout: bool,
        stderr: bool,
        stdin: bool,
    ) -> Result<(oneshot::Receiver<OutputStream>, bool)> {
        let id = self.resolve_container(name)?;
        let c = self.container_record(&id)?;
        let tty = c.config["Tty"].as_bool().unwrap_or(false);
        // Stdin is only wired when the container keeps it open (`-i`).
        let stdin = stdin && c.config["OpenStdin"].as_bool().unwrap_or(false);
        let (tx, rx) = oneshot::channel();
        if c.state.running() {
            let exec_dir = self.exec_dir(&id);
            tokio::spawn(async move {
                if let Ok(stream) = shim::attach(&exec_dir, stdout, stderr, stdin).await {
                    let _ = tx.send(stream);
                }
            });
        } else {
            self.live.get(&id).add_pending_attach(PendingAttach {
                stdout,
                stderr,
                stdin,
                deliver: tx,
            });
        }
        Ok((rx, tty))
    }

    /// `POST /containers/{id}/resize`.
    pub async fn resize_container(&self, name: &str, height: u16, width: u16) -> Result<()> {
        let id = self.resolve_container(name)?;
        let c = self.container_record(&id)?;
        if !c.state.running() {
            return Err(Error::conflict(format!("Container {id} is not running")));
        }
        shim::request(
            &self.exec_dir(&id),
            berth_shim_proto::Request::Resize {
                exec_id: None,
                height,
                width,
            },
        )
        .await
        .map(drop)
    }

    /// `POST /containers/{id}/restart`: stop (when running), then start.
    pub async fn restart_container(
        self: &Arc<Self>,
        name: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        match self.stop_container(name, timeout, signal).await {
            Err(e) if e.kind != ErrorKind::NotModified => return Err(e),
            _ => {}
        }
        self.start_container(name).await?;
        if let Ok(c) = self.container_record(&self.resolve_container(name)?) {
            self.container_event(&c, "restart", &[]);
        }
        Ok(())
    }

    /// `POST /containers/{id}/rename`.
    pub async fn rename_container(&self, name: &str, new_name: &str) -> Result<()> {
        let id = self.resolve_container(name)?;
        let new_name = crate::ids::validate_name(new_name).map_err(Error::invalid)?;
        let live = self.live.get(&id);
        let _guard = live.lock.lock().await;
        let mut c = self.container_record(&id)?;
        if c.name == new_name {
            return Err(Error::conflict(
                "Renaming a container with the same name as its current name",
            ));
        }
        let old_name = std::mem::replace(&mut c.name, new_name.to_string());
        self.db.rename_container(&id, new_name, &c)?;
        self.container_event(&c, "rename", &[("oldName", &format!("/{old_name}"))]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("kill").unwrap(), 9);
        assert_eq!(parse_signal("HUP").unwrap(), 1);
        assert_eq!(parse_signal("10").unwrap(), 10);
        assert!(
            parse_signal("SIGNOPE")
                .unwrap_err()
                .message
                .contains("Invalid signal")
        );
        assert!(parse_signal("0").is_err());
    }
}
