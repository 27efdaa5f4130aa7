//! `down`, `start`, `stop`, `restart`, `kill`, `rm`, `pause`, `unpause`: acting on the
//! project's existing containers, in dependency order (reversed for stopping).

use std::collections::{BTreeSet, HashMap};

use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};
use bollard::query_parameters::{
    KillContainerOptions, ListNetworksOptions, ListVolumesOptions, RemoveContainerOptions,
    RemoveImageOptions, RemoveVolumeOptions, RestartContainerOptions, StopContainerOptions,
};

use super::{
    Compose, OneOffFilter, Resource, Status, id_of, is_running, label_of, name_of, stop_timeout,
    targets,
};
use crate::error::Error;
use crate::model::Project;
use crate::plan::{graph, image_name, labels};

/// `down`'s flags.
#[derive(Debug, Clone, Default)]
pub struct DownOptions {
    /// `-v`: also remove named volumes of the project and anonymous volumes of its containers.
    pub volumes: bool,
    /// `--rmi`.
    pub remove_images: Option<RemoveImages>,
    pub remove_orphans: bool,
    /// `-t`: seconds to wait for containers to stop.
    pub timeout: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveImages {
    /// `--rmi all`: every image the services use.
    All,
    /// `--rmi local`: only images without a custom tag (built as `<project>-<service>`).
    Local,
}

impl Compose {
    /// Services in the order to stop them: dependents first; services not in the model last.
    fn stop_order(&self, project: &Project, containers: &mut [ContainerSummary]) {
        let order = graph::order(project, &[]).unwrap_or_default();
        let rank = |c: &ContainerSummary| {
            label_of(c, labels::SERVICE)
                .and_then(|s| order.iter().position(|o| o == s))
                .map_or(0, |p| order.len() - p)
        };
        containers.sort_by_key(|c| rank(c));
    }

    /// Stops and removes the project's containers, then its networks, and with the options
    /// its volumes and images.
    pub async fn down(&self, project: &Project, opts: &DownOptions) -> Result<(), Error> {
        let known: BTreeSet<&str> = project.all_service_names().collect();
        let mut containers: Vec<ContainerSummary> = self
            .containers(&project.name, &[], OneOffFilter::Include)
            .await?
            .into_iter()
            .filter(|c| {
                opts.remove_orphans
                    || label_of(c, labels::SERVICE).is_some_and(|s| known.contains(s))
            })
            .collect();
        self.stop_order(project, &mut containers);
        for c in &containers {
            let service = label_of(c, labels::SERVICE).and_then(|s| project.service(s));
            self.stop_and_remove(c, stop_timeout(service, opts.timeout), opts.volumes)
                .await?;
        }

        let project_label = HashMap::from([(
            "label".to_string(),
            vec![format!("{}={}", labels::PROJECT, project.name)],
        )]);
        let mut networks: BTreeSet<String> = self
            .docker
            .list_networks(Some(ListNetworksOptions {
                filters: Some(project_label.clone()),
            }))
            .await?
            .into_iter()
            .filter_map(|n| n.name)
            .collect();
        networks.extend(
            project
                .networks
                .values()
                .filter(|n| !n.external)
                .map(|n| n.name.clone()),
        );
        for net in networks {
            match self.docker.remove_network(&net).await {
                Ok(()) => {
                    self.emit(Resource::Network, &net, Status::Removing);
                    self.emit(Resource::Network, &net, Status::Removed);
                }
                Err(e) => {
                    let e = Error::from(e);
                    if !e.is_not_found() {
                        return Err(e);
                    }
                }
            }
        }

        if opts.volumes {
            let listed = self
                .docker
                .list_volumes(Some(ListVolumesOptions {
                    filters: Some(project_label),
                }))
                .await?;
            let mut volumes: BTreeSet<String> = listed
                .volumes
                .unwrap_or_default()
                .into_iter()
                .map(|v| v.name)
                .collect();
            volumes.extend(
                project
                    .volumes
                    .values()
                    .filter(|v| !v.external)
                    .map(|v| v.name.clone()),
            );
            for vol in volumes {
                match self
                    .docker
                    .remove_volume(&vol, None::<RemoveVolumeOptions>)
                    .await
                {
                    Ok(()) => {
                        self.emit(Resource::Volume, &vol, Status::Removing);
                        self.emit(Resource::Volume, &vol, Status::Removed);
                    }
                    Err(e) => {
                        let e = Error::from(e);
                        if !e.is_not_found() {
                            return Err(e);
                        }
                    }
                }
            }
        }

        if let Some(which) = opts.remove_images {
            let images: BTreeSet<String> = project
                .services
                .iter()
                .chain(project.disabled_services.iter())
                .filter(|(_, s)| which == RemoveImages::All || s.image.is_none())
                .map(|(n, s)| image_name(project, n, s))
                .collect();
            for image in images {
                match self
                    .docker
                    .remove_image(&image, None::<RemoveImageOptions>, None)
                    .await
                {
                    Ok(_) => {
                        self.emit(Resource::Image, &image, Status::Removed);
                    }
                    Err(e) => {
                        let e = Error::from(e);
                        if !e.is_not_found() {
                            return Err(e);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// `start`: starts the existing containers of `services` (all when empty), dependencies
    /// first, waiting for their conditions.
    pub async fn start(&self, project: &Project, services: &[String]) -> Result<(), Error> {
        let wanted = targets(project, services)?;
        for name in graph::order(project, &wanted)? {
            if !wanted.contains(&name) {
                continue;
            }
            let service = &project.services[&name];
            let containers = self
                .containers(
                    &project.name,
                    std::slice::from_ref(&name),
                    OneOffFilter::Exclude,
                )
                .await?;
            if containers.iter().any(|c| !is_running(c)) {
                self.wait_dependencies(project, &name, service).await?;
            }
            for c in containers.iter().filter(|c| !is_running(c)) {
                self.start_one(&id_of(c), &name_of(c)).await?;
            }
        }
        Ok(())
    }

    /// `stop`: stops the running containers of `services`, dependents first.
    pub async fn stop(
        &self,
        project: &Project,
        services: &[String],
        timeout: Option<u32>,
    ) -> Result<(), Error> {
        let wanted = targets(project, services)?;
        let mut containers = self
            .containers(&project.name, &wanted, OneOffFilter::Exclude)
            .await?;
        self.stop_order(project, &mut containers);
        for c in containers.iter().filter(|c| is_running(c)) {
            let name = name_of(c);
            let service = label_of(c, labels::SERVICE).and_then(|s| project.service(s));
            self.emit(Resource::Container, &name, Status::Stopping);
            self.docker
                .stop_container(
                    &id_of(c),
                    Some(StopContainerOptions {
                        t: stop_timeout(service, timeout),
                        signal: None,
                    }),
                )
                .await?;
            self.emit(Resource::Container, &name, Status::Stopped);
        }
        Ok(())
    }

    /// `restart`: restarts the containers of `services`, dependencies first, and the services
    /// that depend on a restarted one with `restart: true`.
    pub async fn restart(
        &self,
        project: &Project,
        services: &[String],
        timeout: Option<u32>,
    ) -> Result<(), Error> {
        let mut wanted = targets(project, services)?;
        let mut i = 0;
        while i < wanted.len() {
            for d in graph::dependents(project, &wanted[i]) {
                let follows = project.services[&d]
                    .depends_on
                    .get(&wanted[i])
                    .is_some_and(|dep| dep.restart);
                if follows && !wanted.contains(&d) {
                    wanted.push(d);
                }
            }
            i += 1;
        }
        for name in graph::order(project, &wanted)? {
            if !wanted.contains(&name) {
                continue;
            }
            let service = project.service(&name);
            for c in self
                .containers(
                    &project.name,
                    std::slice::from_ref(&name),
                    OneOffFilter::Exclude,
                )
                .await?
            {
                let cname = name_of(&c);
                self.emit(Resource::Container, &cname, Status::Restarting);
                self.docker
                    .restart_container(
                        &id_of(&c),
                        Some(RestartContainerOptions {
                            t: stop_timeout(service, timeout),
                            signal: None,
                        }),
                    )
                    .await?;
                self.emit(Resource::Container, &cname, Status::Restarted);
            }
        }
        Ok(())
    }

    /// `kill`: sends `signal` (default SIGKILL) to the running containers of `services`.
    pub async fn kill(
        &self,
        project: &Project,
        services: &[String],
        signal: Option<&str>,
    ) -> Result<(), Error> {
        let wanted = targets(project, services)?;
        for c in self
            .containers(&project.name, &wanted, OneOffFilter::Exclude)
            .await?
            .iter()
            .filter(|c| is_running(c))
        {
            let name = name_of(c);
            self.emit(Resource::Container, &name, Status::Killing);
            self.docker
                .kill_container(
                    &id_of(c),
                    Some(KillContainerOptions {
                        signal: signal.unwrap_or("SIGKILL").to_string(),
                    }),
                )
                .await?;
            self.emit(Resource::Container, &name, Status::Killed);
        }
        Ok(())
    }

    /// `rm`: removes the stopped containers of `services` (with `stop`, stops running ones
    /// first; with `volumes`, their anonymous volumes too). Returns the removed names.
    pub async fn rm(
        &self,
        project: &Project,
        services: &[String],
        stop: bool,
        volumes: bool,
    ) -> Result<Vec<String>, Error> {
        let wanted = targets(project, services)?;
        let mut removed = Vec::new();
        for c in self
            .containers(&project.name, &wanted, OneOffFilter::Exclude)
            .await?
        {
            if is_running(&c) && !stop {
                continue;
            }
            let service = label_of(&c, labels::SERVICE).and_then(|s| project.service(s));
            self.stop_and_remove(&c, stop_timeout(service, None), volumes)
                .await?;
            removed.push(name_of(&c));
        }
        Ok(removed)
    }

    /// `pause`: freezes the running containers of `services`.
    pub async fn pause(&self, project: &Project, services: &[String]) -> Result<(), Error> {
        self.set_paused(project, services, true).await
    }

    /// `unpause`: thaws the paused containers of `services`.
    pub async fn unpause(&self, project: &Project, services: &[String]) -> Result<(), Error> {
        self.set_paused(project, services, false).await
    }

    async fn set_paused(
        &self,
        project: &Project,
        services: &[String],
        pause: bool,
    ) -> Result<(), Error> {
        let wanted = targets(project, services)?;
        for c in self
            .containers(&project.name, &wanted, OneOffFilter::Exclude)
            .await?
            .iter()
            .filter(|c| {
                if pause {
                    is_running(c)
                } else {
                    c.state == Some(ContainerSummaryStateEnum::PAUSED)
                }
            })
        {
            let name = name_of(c);
            if pause {
                self.emit(Resource::Container, &name, Status::Pausing);
                self.docker.pause_container(&id_of(c)).await?;
                self.emit(Resource::Container, &name, Status::Paused);
            } else {
                self.emit(Resource::Container, &name, Status::Unpausing);
                self.docker.unpause_container(&id_of(c)).await?;
                self.emit(Resource::Container, &name, Status::Unpaused);
            }
        }
        Ok(())
    }

    /// Removes one container (a finished `run --rm`, for instance).
    pub async fn remove_container(&self, id: &str, volumes: bool) -> Result<(), Error> {
        self.docker
            .remove_container(
                id,
                Some(RemoveContainerOptions {
                    force: true,
                    v: volumes,
                    link: false,
                }),
            )
            .await?;
        Ok(())
    }
}
