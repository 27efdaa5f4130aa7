//! `up` (and `create`, which is `up` without starting): networks and volumes created, images
//! pulled or built, then each service converged in dependency order: containers created,
//! recreated when their configuration hash changed, started, scaled; dependencies waited for
//! (`service_healthy`, `service_completed_successfully`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use bollard::models::{
    ContainerSummary, HealthStatusEnum, Ipam, IpamConfig, NetworkConnectRequest,
    NetworkCreateRequest, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, RemoveContainerOptions, RenameContainerOptions, StopContainerOptions,
    UploadToContainerOptions, WaitContainerOptions,
};

use super::{
    Compose, OneOffFilter, Resource, Status, id_of, is_running, label_of, name_of, number_of,
    stop_timeout,
};
use crate::error::Error;
use crate::model::{Condition, MountType, Project, PullPolicy, Service};
use crate::plan::container::{Instance, Upload, plan};
use crate::plan::{self, graph, labels};

/// `up`'s flags.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// The services to bring up (with their dependencies); empty: all.
    pub services: Vec<String>,
    /// `--build`: build images before starting.
    pub build: bool,
    /// `--no-build`: never build, even a missing image.
    pub no_build: bool,
    /// `--pull`: overrides the services' `pull_policy`.
    pub pull: Option<PullPolicy>,
    pub force_recreate: bool,
    pub no_recreate: bool,
    pub remove_orphans: bool,
    /// `--scale service=n`.
    pub scale: BTreeMap<String, u32>,
    /// `--no-deps`: leave dependencies alone.
    pub no_deps: bool,
    /// `--no-start` (and `create`): create containers without starting them.
    pub no_start: bool,
    /// `--wait`: return once every container is running and, with a healthcheck, healthy.
    pub wait: bool,
    pub wait_timeout: Option<Duration>,
    /// `-t`: seconds to wait for a container to stop when it is replaced.
    pub timeout: Option<u32>,
}

impl Compose {
    /// Brings the project (or `opts.services`) to the model's state.
    pub async fn up(&self, project: &Project, opts: &UpOptions) -> Result<(), Error> {
        let mut selected = graph::order(project, &opts.services)?;
        if opts.no_deps && !opts.services.is_empty() {
            selected.retain(|s| opts.services.contains(s));
        }
        for name in opts.scale.keys() {
            if !project.services.contains_key(name) {
                return Err(Error::Failed(format!("no such service: {name}")));
            }
        }
        self.ensure_networks(project, &selected).await?;
        self.ensure_volumes(project, &selected).await?;
        self.ensure_images(project, &selected, opts).await?;
        self.orphans(project, opts.remove_orphans, opts.timeout)
            .await?;
        for name in &selected {
            let service = &project.services[name];
            if !opts.no_start {
                self.wait_dependencies(project, name, service).await?;
            }
            self.converge(project, name, service, opts).await?;
        }
        if opts.wait {
            let wait = self.wait_ready(project, &selected);
            match opts.wait_timeout {
                Some(t) => tokio::time::timeout(t, wait).await.map_err(|_| {
                    Error::Failed(format!(
                        "timed out after {t:?} waiting for the project to be ready"
                    ))
                })??,
                None => wait.await?,
            }
        }
        Ok(())
    }

    /// `up` without `-d`: brings the project up, then returns the output of its containers
    /// from the moment `up` began, following until they all stop. The caller prints it (with
    /// a [`LogPrefixer`](super::LogPrefixer)) and, on Ctrl-C, drops it and calls
    /// [`Compose::stop`].
    pub async fn up_attached(
        &self,
        project: &Project,
        opts: &UpOptions,
    ) -> Result<super::Stream, Error> {
        let began = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
        self.up(project, opts).await?;
        let services = if opts.services.is_empty() || opts.no_deps {
            opts.services.clone()
        } else {
            graph::order(project, &opts.services)?
        };
        self.logs(
            &project.name,
            &super::LogsOptions {
                services,
                follow: true,
                since: Some(began),
                ..super::LogsOptions::default()
            },
        )
        .await
    }

    /// Creates the networks the services use, unless they exist; checks external ones.
    pub(crate) async fn ensure_networks(
        &self,
        project: &Project,
        services: &[String],
    ) -> Result<(), Error> {
        let keys: BTreeSet<&String> = services
            .iter()
            .filter_map(|s| project.service(s))
            .flat_map(|s| s.networks.keys())
            .collect();
        for key in keys {
            let Some(net) = project.networks.get(key) else {
                continue;
            };
            match self.docker.inspect_network(&net.name, None).await {
                Ok(_) => continue,
                Err(e) => {
                    let e = Error::from(e);
                    if !e.is_not_found() {
                        return Err(e);
                    }
                }
            }
            if net.external {
                return Err(Error::Failed(format!(
                    "network {} declared as external, but could not be found",
                    net.name
                )));
            }
            self.emit(Resource::Network, &net.name, Status::Creating);
            let mut labels: HashMap<String, String> = net.labels.clone().into_iter().collect();
            labels.insert(labels::PROJECT.to_string(), project.name.clone());
            labels.insert(labels::NETWORK.to_string(), key.clone());
            labels.insert(labels::VERSION.to_string(), plan::VERSION.to_string());
            let ipam = net.ipam.as_ref().map(|i| Ipam {
                driver: i.driver.clone(),
                config: Some(
                    i.config
                        .iter()
                        .map(|c| IpamConfig {
                            subnet: c.subnet.clone(),
                            ip_range: c.ip_range.clone(),
                            gateway: c.gateway.clone(),
                            auxiliary_addresses: (!c.aux_addresses.is_empty())
                                .then(|| c.aux_addresses.clone().into_iter().collect()),
                        })
                        .collect(),
                ),
                options: (!i.options.is_empty()).then(|| i.options.clone().into_iter().collect()),
            });
            let req = NetworkCreateRequest {
                name: net.name.clone(),
                driver: net.driver.clone(),
                internal: Some(net.internal),
                attachable: Some(net.attachable),
                enable_ipv6: net.enable_ipv6,
                options: (!net.driver_opts.is_empty())
                    .then(|| net.driver_opts.clone().into_iter().collect()),
                labels: Some(labels),
                ipam,
                ..NetworkCreateRequest::default()
            };
            match self.docker.create_network(req).await {
                Ok(_) => self.emit(Resource::Network, &net.name, Status::Created),
                // Created meanwhile by someone else: fine.
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 409, ..
                }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Creates the named volumes the services mount, unless they exist; checks external ones.
    pub(crate) async fn ensure_volumes(
        &self,
        project: &Project,
        services: &[String],
    ) -> Result<(), Error> {
        let keys: BTreeSet<&String> = services
            .iter()
            .filter_map(|s| project.service(s))
            .flat_map(|s| s.volumes.iter())
            .filter(|v| v.kind == MountType::Volume)
            .filter_map(|v| v.source.as_ref())
            .collect();
        for key in keys {
            let Some(vol) = project.volumes.get(key) else {
                continue;
            };
            match self.docker.inspect_volume(&vol.name).await {
                Ok(_) => continue,
                Err(e) => {
                    let e = Error::from(e);
                    if !e.is_not_found() {
                        return Err(e);
                    }
                }
            }
            if vol.external {
                return Err(Error::Failed(format!(
                    "external volume {:?} not found",
                    vol.name
                )));
            }
            self.emit(Resource::Volume, &vol.name, Status::Creating);
            let mut labels: HashMap<String, String> = vol.labels.clone().into_iter().collect();
            labels.insert(labels::PROJECT.to_string(), project.name.clone());
            labels.insert(labels::VOLUME.to_string(), key.clone());
            labels.insert(labels::VERSION.to_string(), plan::VERSION.to_string());
            self.docker
                .create_volume(VolumeCreateRequest {
                    name: Some(vol.name.clone()),
                    driver: vol.driver.clone(),
                    driver_opts: (!vol.driver_opts.is_empty())
                        .then(|| vol.driver_opts.clone().into_iter().collect()),
                    labels: Some(labels),
                    ..VolumeCreateRequest::default()
                })
                .await?;
            self.emit(Resource::Volume, &vol.name, Status::Created);
        }
        Ok(())
    }

    /// Containers of the project whose service is not in the model: removed with
    /// `remove_orphans`, else reported.
    pub(crate) async fn orphans(
        &self,
        project: &Project,
        remove: bool,
        timeout: Option<u32>,
    ) -> Result<(), Error> {
        let known: BTreeSet<&str> = project.all_service_names().collect();
        let orphans: Vec<ContainerSummary> = self
            .containers(&project.name, &[], OneOffFilter::Include)
            .await?
            .into_iter()
            .filter(|c| label_of(c, labels::SERVICE).is_none_or(|s| !known.contains(s)))
            .collect();
        if orphans.is_empty() {
            return Ok(());
        }
        if !remove {
            let names: Vec<String> = orphans.iter().map(name_of).collect();
            self.emit(
                Resource::Container,
                &names.join(", "),
                Status::Warning(format!(
                    "found orphan containers ({}) for this project; if you removed or renamed their service, run this command with --remove-orphans to clean them up",
                    names.join(", ")
                )),
            );
            return Ok(());
        }
        for c in &orphans {
            self.stop_and_remove(c, stop_timeout(None, timeout), false)
                .await?;
        }
        Ok(())
    }

    pub(crate) async fn stop_and_remove(
        &self,
        c: &ContainerSummary,
        timeout: Option<i32>,
        volumes: bool,
    ) -> Result<(), Error> {
        let (id, name) = (id_of(c), name_of(c));
        if is_running(c) {
            self.emit(Resource::Container, &name, Status::Stopping);
            self.docker
                .stop_container(
                    &id,
                    Some(StopContainerOptions {
                        t: timeout,
                        signal: None,
                    }),
                )
                .await?;
            self.emit(Resource::Container, &name, Status::Stopped);
        }
        self.emit(Resource::Container, &name, Status::Removing);
        match self
            .docker
            .remove_container(
                &id,
                Some(RemoveContainerOptions {
                    force: true,
                    v: volumes,
                    link: false,
                }),
            )
            .await
        {
            Ok(()) => {}
            Err(e) => {
                let e = Error::from(e);
                if !e.is_not_found() {
                    return Err(e);
                }
            }
        }
        self.emit(Resource::Container, &name, Status::Removed);
        Ok(())
    }

    /// Waits until the dependencies of `name` meet their conditions.
    pub(crate) async fn wait_dependencies(
        &self,
        project: &Project,
        name: &str,
        service: &Service,
    ) -> Result<(), Error> {
        for (dep, d) in &service.depends_on {
            if d.condition == Condition::ServiceStarted {
                continue;
            }
            let containers = self
                .containers(
                    &project.name,
                    std::slice::from_ref(dep),
                    OneOffFilter::Exclude,
                )
                .await?;
            if containers.is_empty() {
                if d.required {
                    return Err(Error::Failed(format!(
                        "service {name:?} depends on {dep:?}, which has no container"
                    )));
                }
                continue;
            }
            for c in &containers {
                self.wait_condition(c, dep, d.condition).await?;
            }
        }
        Ok(())
    }

    async fn wait_condition(
        &self,
        c: &ContainerSummary,
        service: &str,
        condition: Condition,
    ) -> Result<(), Error> {
        let (id, name) = (id_of(c), name_of(c));
        self.emit(Resource::Container, &name, Status::Waiting);
        match condition {
            Condition::ServiceStarted => {}
            Condition::ServiceHealthy => loop {
                let info = self.docker.inspect_container(&id, None).await?;
                let state = info.state.unwrap_or_default();
                let has_check = info
                    .config
                    .and_then(|c| c.healthcheck)
                    .and_then(|h| h.test)
                    .is_some_and(|t| t.first().is_some_and(|t| t != "NONE"));
                if !has_check {
                    return Err(Error::Failed(format!(
                        "dependency failed to start: container {name} has no healthcheck configured"
                    )));
                }
                match state.health.and_then(|h| h.status) {
                    Some(HealthStatusEnum::HEALTHY) => {
                        self.emit(Resource::Container, &name, Status::Healthy);
                        break;
                    }
                    Some(HealthStatusEnum::UNHEALTHY) => {
                        return Err(Error::Failed(format!(
                            "dependency failed to start: container {name} is unhealthy"
                        )));
                    }
                    _ if state.running == Some(false) => {
                        return Err(Error::Failed(format!(
                            "dependency failed to start: container {name} exited ({})",
                            state.exit_code.unwrap_or_default()
                        )));
                    }
                    _ => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            },
            Condition::ServiceCompletedSuccessfully => {
                let code = self.wait_exit(&id).await?;
                self.emit(Resource::Container, &name, Status::Exited(code));
                if code != 0 {
                    return Err(Error::Failed(format!(
                        "service {service:?} didn't complete successfully: exit {code}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Waits for a container to stop and returns its exit code.
    pub async fn wait_exit(&self, id: &str) -> Result<i64, Error> {
        use futures_util::StreamExt;
        let mut s = self.docker.wait_container(
            id,
            Some(WaitContainerOptions {
                condition: "not-running".to_string(),
            }),
        );
        match s.next().await {
            Some(Ok(r)) => Ok(r.status_code),
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) => Err(e.into()),
            None => Err(Error::Failed(format!(
                "waiting for container {id}: no answer"
            ))),
        }
    }

    async fn converge(
        &self,
        project: &Project,
        name: &str,
        service: &Service,
        opts: &UpOptions,
    ) -> Result<(), Error> {
        let existing = self
            .containers(&project.name, &[name.to_string()], OneOffFilter::Exclude)
            .await?;
        let desired = opts
            .scale
            .get(name)
            .copied()
            .unwrap_or_else(|| service.replicas()) as usize;
        let hash = plan::config_hash(service);
        let image_id = self
            .image_id(&plan::image_name(project, name, service))
            .await?;
        let timeout = stop_timeout(Some(service), opts.timeout);

        let mut existing = existing;
        existing.sort_by_key(number_of);
        let excess = existing.split_off(desired.min(existing.len()));
        for c in excess.iter().rev() {
            self.stop_and_remove(c, timeout, false).await?;
        }
        let mut numbers: BTreeSet<u32> = BTreeSet::new();
        for c in &existing {
            numbers.insert(number_of(c));
            let outdated = label_of(c, labels::CONFIG_HASH) != Some(hash.as_str())
                || matches!((label_of(c, labels::IMAGE), &image_id), (Some(a), Some(b)) if a != b);
            if opts.force_recreate || (outdated && !opts.no_recreate) {
                self.recreate(project, name, service, c, image_id.clone(), opts, timeout)
                    .await?;
            } else if !is_running(c) && !opts.no_start {
                self.start_one(&id_of(c), &name_of(c)).await?;
            } else {
                self.emit(Resource::Container, &name_of(c), Status::Running);
            }
        }
        let mut next = 1;
        while numbers.len() < desired {
            while numbers.contains(&next) {
                next += 1;
            }
            numbers.insert(next);
            let inst = Instance {
                number: next,
                image_id: image_id.clone(),
                ..Instance::default()
            };
            let (id, cname) = self.create(project, name, service, &inst).await?;
            if !opts.no_start {
                self.start_one(&id, &cname).await?;
            }
        }
        Ok(())
    }

    /// The ID of a local image, `None` when it is not there.
    pub(crate) async fn image_id(&self, image: &str) -> Result<Option<String>, Error> {
        match self.docker.inspect_image(image).await {
            Ok(i) => Ok(i.id),
            Err(e) => {
                let e = Error::from(e);
                if e.is_not_found() { Ok(None) } else { Err(e) }
            }
        }
    }

    /// Creates a container (joined to its other networks, files uploaded); returns its ID and
    /// name.
    pub(crate) async fn create(
        &self,
        project: &Project,
        name: &str,
        service: &Service,
        inst: &Instance,
    ) -> Result<(String, String), Error> {
        let plan = plan(project, name, service, inst)?;
        self.create_planned(plan).await
    }

    pub(crate) async fn create_planned(
        &self,
        plan: crate::plan::container::ContainerPlan,
    ) -> Result<(String, String), Error> {
        let cname = plan.name.clone();
        self.emit(Resource::Container, &cname, Status::Creating);
        let created = self
            .docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(cname.clone()),
                    platform: plan.platform.clone().unwrap_or_default(),
                }),
                plan.body,
            )
            .await?;
        let id = created.id;
        for (net, ep) in plan.extra_networks {
            self.docker
                .connect_network(
                    &net,
                    NetworkConnectRequest {
                        container: id.clone(),
                        endpoint_config: Some(ep),
                    },
                )
                .await?;
        }
        if !plan.uploads.is_empty() {
            let tar = uploads_tar(&plan.uploads)?;
            self.docker
                .upload_to_container(
                    &id,
                    Some(UploadToContainerOptions {
                        path: "/".to_string(),
                        ..UploadToContainerOptions::default()
                    }),
                    bollard::body_full(tar.into()),
                )
                .await?;
        }
        self.emit(Resource::Container, &cname, Status::Created);
        Ok((id, cname))
    }

    pub(crate) async fn start_one(&self, id: &str, name: &str) -> Result<(), Error> {
        self.emit(Resource::Container, name, Status::Starting);
        self.docker.start_container(id, None).await?;
        self.emit(Resource::Container, name, Status::Started);
        Ok(())
    }

    /// Replaces a container: the old one is stopped and renamed out of the way, the new one
    /// created (keeping the old one's anonymous volumes), the old one removed.
    #[allow(clippy::too_many_arguments)]
    async fn recreate(
        &self,
        project: &Project,
        name: &str,
        service: &Service,
        old: &ContainerSummary,
        image_id: Option<String>,
        opts: &UpOptions,
        timeout: Option<i32>,
    ) -> Result<(), Error> {
        let (old_id, old_name) = (id_of(old), name_of(old));
        self.emit(Resource::Container, &old_name, Status::Recreate);
        if is_running(old) {
            self.docker
                .stop_container(
                    &old_id,
                    Some(StopContainerOptions {
                        t: timeout,
                        signal: None,
                    }),
                )
                .await?;
        }
        let anonymous: BTreeSet<&str> = service
            .volumes
            .iter()
            .filter(|v| v.kind == MountType::Volume && v.source.is_none())
            .map(|v| v.target.as_str())
            .collect();
        let info = self.docker.inspect_container(&old_id, None).await?;
        let anonymous_volumes: BTreeMap<String, String> = info
            .mounts
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let dest = m.destination?;
                let vol = m.name?;
                anonymous.contains(dest.as_str()).then_some((dest, vol))
            })
            .collect();
        let short = old_id.get(..12).unwrap_or(&old_id);
        self.docker
            .rename_container(
                &old_id,
                RenameContainerOptions {
                    name: format!("{short}_{old_name}"),
                },
            )
            .await?;
        let inst = Instance {
            number: number_of(old),
            image_id,
            anonymous_volumes,
            replaces: Some(old_id.clone()),
            oneoff_slug: None,
        };
        let (id, cname) = match self.create(project, name, service, &inst).await {
            Ok(created) => created,
            Err(e) => {
                // Put the old container back under its name; the creation error is the news.
                let _ = self
                    .docker
                    .rename_container(
                        &old_id,
                        RenameContainerOptions {
                            name: old_name.clone(),
                        },
                    )
                    .await;
                return Err(e);
            }
        };
        self.docker
            .remove_container(
                &old_id,
                Some(RemoveContainerOptions {
                    force: true,
                    v: false,
                    link: false,
                }),
            )
            .await?;
        self.emit(Resource::Container, &cname, Status::Recreated);
        if !opts.no_start {
            self.start_one(&id, &cname).await?;
        }
        Ok(())
    }

    /// `--wait`: every container of `services` running, and healthy when it has a check. A
    /// container that exited 0 is fine when another service waits for its completion.
    async fn wait_ready(&self, project: &Project, services: &[String]) -> Result<(), Error> {
        let completion: BTreeSet<&String> = project
            .services
            .values()
            .flat_map(|s| s.depends_on.iter())
            .filter(|(_, d)| d.condition == Condition::ServiceCompletedSuccessfully)
            .map(|(n, _)| n)
            .collect();
        for c in self
            .containers(&project.name, services, OneOffFilter::Exclude)
            .await?
        {
            let (id, name) = (id_of(&c), name_of(&c));
            let service = label_of(&c, labels::SERVICE)
                .unwrap_or_default()
                .to_string();
            self.emit(Resource::Container, &name, Status::Waiting);
            loop {
                let info = self.docker.inspect_container(&id, None).await?;
                let state = info.state.unwrap_or_default();
                let health = state.health.and_then(|h| h.status);
                if state.running != Some(true) {
                    let code = state.exit_code.unwrap_or_default();
                    if code == 0 && completion.contains(&service) {
                        self.emit(Resource::Container, &name, Status::Exited(0));
                        break;
                    }
                    return Err(Error::Failed(format!("container {name} exited ({code})")));
                }
                match health {
                    Some(HealthStatusEnum::HEALTHY) => {
                        self.emit(Resource::Container, &name, Status::Healthy);
                        break;
                    }
                    Some(HealthStatusEnum::UNHEALTHY) => {
                        return Err(Error::Failed(format!("container {name} is unhealthy")));
                    }
                    Some(HealthStatusEnum::STARTING) => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    _ => {
                        self.emit(Resource::Container, &name, Status::Running);
                        break;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The secrets and configs to write into a container, as a tar rooted at `/`.
fn uploads_tar(uploads: &[Upload]) -> Result<Vec<u8>, Error> {
    let mut b = tar::Builder::new(Vec::new());
    for u in uploads {
        let mut h = tar::Header::new_gnu();
        h.set_size(u.content.len() as u64);
        h.set_mode(u.mode);
        h.set_uid(u.uid);
        h.set_gid(u.gid);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(
            &mut h,
            u.target.trim_start_matches('/'),
            u.content.as_slice(),
        )
        .map_err(|e| Error::Failed(format!("packing {}: {e}", u.target)))?;
    }
    b.into_inner()
        .map_err(|e| Error::Failed(format!("packing files for the container: {e}")))
}
