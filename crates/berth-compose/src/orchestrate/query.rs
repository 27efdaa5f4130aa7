//! Read-only commands: `ps`, `ls`, `images`, `top`, `port`. They need only the project's
//! name, found on its containers' labels, so they work without the compose files.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    ContainerSummary, ContainerSummaryHealthStatusEnum, ContainerTopResponse, PortSummaryTypeEnum,
};
use bollard::query_parameters::{ListContainersOptions, TopOptions};
use serde::Serialize;

use super::{Compose, OneOffFilter, is_running, label_of, name_of, number_of};
use crate::error::Error;
use crate::plan::labels;

/// A container as `ps` shows it. Serializes with the keys of `docker compose ps --format json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerInfo {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Image")]
    pub image: String,
    #[serde(rename = "Command")]
    pub command: String,
    #[serde(rename = "Project")]
    pub project: String,
    #[serde(rename = "Service")]
    pub service: String,
    /// Unix seconds.
    #[serde(rename = "Created")]
    pub created: i64,
    /// `running`, `exited`, …
    #[serde(rename = "State")]
    pub state: String,
    /// `Up 2 minutes (healthy)`, `Exited (0) 3 seconds ago`.
    #[serde(rename = "Status")]
    pub status: String,
    /// `healthy`, `unhealthy`, `starting`, or empty.
    #[serde(rename = "Health")]
    pub health: String,
    #[serde(rename = "ExitCode")]
    pub exit_code: i64,
    #[serde(rename = "Publishers")]
    pub publishers: Vec<Publisher>,
    #[serde(rename = "Labels")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip)]
    pub number: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Publisher {
    #[serde(rename = "URL")]
    pub url: String,
    #[serde(rename = "TargetPort")]
    pub target_port: u16,
    #[serde(rename = "PublishedPort")]
    pub published_port: u16,
    #[serde(rename = "Protocol")]
    pub protocol: String,
}

impl ContainerInfo {
    /// The name its log lines are prefixed with (see [`LogEvent`](super::LogEvent)).
    pub fn log_name(&self) -> String {
        super::logs::shown_name(&self.project, &self.service, self.number, &self.name)
    }

    /// The PORTS column: `0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, 9000/tcp`.
    pub fn ports(&self) -> String {
        self.publishers
            .iter()
            .map(|p| {
                if p.published_port == 0 {
                    format!("{}/{}", p.target_port, p.protocol)
                } else {
                    let host = if p.url.contains(':') {
                        format!("[{}]", p.url)
                    } else {
                        p.url.clone()
                    };
                    format!(
                        "{host}:{}->{}/{}",
                        p.published_port, p.target_port, p.protocol
                    )
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A project as `ls` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectInfo {
    #[serde(rename = "Name")]
    pub name: String,
    /// `running(2), exited(1)`.
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "ConfigFiles")]
    pub config_files: String,
}

/// An image as `images` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageInfo {
    #[serde(rename = "ContainerName")]
    pub container: String,
    #[serde(rename = "Repository")]
    pub repository: String,
    #[serde(rename = "Tag")]
    pub tag: String,
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Size")]
    pub size: i64,
}

/// The health from the listing, or (before API 1.51, which added it there) from the status
/// text: `Up 3 seconds (healthy)`.
fn health(c: &ContainerSummary, status: &str) -> &'static str {
    match c.health.as_ref().and_then(|h| h.status) {
        Some(ContainerSummaryHealthStatusEnum::HEALTHY) => "healthy",
        Some(ContainerSummaryHealthStatusEnum::UNHEALTHY) => "unhealthy",
        Some(ContainerSummaryHealthStatusEnum::STARTING) => "starting",
        _ if status.ends_with("(healthy)") => "healthy",
        _ if status.ends_with("(unhealthy)") => "unhealthy",
        _ if status.ends_with("(health: starting)") => "starting",
        _ => "",
    }
}

fn info(c: &ContainerSummary) -> ContainerInfo {
    let status = c.status.clone().unwrap_or_default();
    let exit_code = status
        .strip_prefix("Exited (")
        .and_then(|r| r.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut publishers: Vec<Publisher> = c
        .ports
        .iter()
        .flatten()
        .map(|p| Publisher {
            url: p.ip.clone().unwrap_or_default(),
            target_port: p.private_port,
            published_port: p.public_port.unwrap_or(0),
            protocol: match p.typ {
                Some(PortSummaryTypeEnum::UDP) => "udp",
                Some(PortSummaryTypeEnum::SCTP) => "sctp",
                _ => "tcp",
            }
            .to_string(),
        })
        .collect();
    publishers.sort_by(|a, b| {
        (
            a.target_port,
            &a.protocol,
            a.url.contains(':'),
            a.published_port,
        )
            .cmp(&(
                b.target_port,
                &b.protocol,
                b.url.contains(':'),
                b.published_port,
            ))
    });
    publishers.dedup();
    ContainerInfo {
        id: c.id.clone().unwrap_or_default(),
        name: name_of(c),
        image: c.image.clone().unwrap_or_default(),
        command: c.command.clone().unwrap_or_default(),
        project: label_of(c, labels::PROJECT).unwrap_or_default().to_string(),
        service: label_of(c, labels::SERVICE).unwrap_or_default().to_string(),
        created: c.created.unwrap_or_default(),
        state: c.state.map(|s| s.to_string()).unwrap_or_default(),
        health: health(c, &status).to_string(),
        status,
        exit_code,
        publishers,
        labels: c.labels.clone().unwrap_or_default().into_iter().collect(),
        number: number_of(c),
    }
}

impl Compose {
    /// `ps`: the project's containers (`run` ones included), running only unless `all`,
    /// sorted by name.
    pub async fn ps(
        &self,
        project: &str,
        services: &[String],
        all: bool,
    ) -> Result<Vec<ContainerInfo>, Error> {
        let mut out: Vec<ContainerInfo> = self
            .containers(project, services, OneOffFilter::Include)
            .await?
            .iter()
            .filter(|c| all || is_running(c))
            .map(info)
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// `ls`: the projects that have containers (only those with a running one unless `all`).
    pub async fn ls(&self, all: bool) -> Result<Vec<ProjectInfo>, Error> {
        let filters = HashMap::from([("label".to_string(), vec![labels::PROJECT.to_string()])]);
        let list = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..ListContainersOptions::default()
            }))
            .await?;
        let mut projects: BTreeMap<String, (BTreeMap<String, usize>, String)> = BTreeMap::new();
        for c in &list {
            let Some(name) = label_of(c, labels::PROJECT) else {
                continue;
            };
            let entry = projects.entry(name.to_string()).or_default();
            let state = c
                .state
                .map(|s| s.to_string())
                .unwrap_or_else(|| "unknown".to_string());
            *entry.0.entry(state).or_default() += 1;
            if entry.1.is_empty() {
                entry.1 = label_of(c, labels::CONFIG_FILES)
                    .unwrap_or_default()
                    .to_string();
            }
        }
        Ok(projects
            .into_iter()
            .filter(|(_, (states, _))| all || states.contains_key("running"))
            .map(|(name, (states, files))| ProjectInfo {
                name,
                status: states
                    .iter()
                    .map(|(s, n)| format!("{s}({n})"))
                    .collect::<Vec<_>>()
                    .join(", "),
                config_files: files,
            })
            .collect())
    }

    /// `images`: the image of each of the project's containers.
    pub async fn images(
        &self,
        project: &str,
        services: &[String],
    ) -> Result<Vec<ImageInfo>, Error> {
        let mut out = Vec::new();
        for c in self
            .containers(project, services, OneOffFilter::Exclude)
            .await?
        {
            let reference = c
                .image_id
                .clone()
                .or_else(|| c.image.clone())
                .unwrap_or_default();
            let image = match self.docker.inspect_image(&reference).await {
                Ok(i) => i,
                Err(e) => {
                    let e = Error::from(e);
                    if e.is_not_found() {
                        continue;
                    }
                    return Err(e);
                }
            };
            let tag_ref = image
                .repo_tags
                .as_ref()
                .and_then(|t| t.first().cloned())
                .unwrap_or_else(|| "<none>:<none>".to_string());
            let (repository, tag) = match tag_ref.rsplit_once(':') {
                Some((r, t)) if !t.contains('/') => (r.to_string(), t.to_string()),
                _ => (tag_ref.clone(), String::new()),
            };
            out.push(ImageInfo {
                container: name_of(&c),
                repository,
                tag,
                id: image.id.unwrap_or_default(),
                size: image.size.unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// `top`: the processes of each running container.
    pub async fn top(
        &self,
        project: &str,
        services: &[String],
    ) -> Result<Vec<(String, ContainerTopResponse)>, Error> {
        let mut out = Vec::new();
        for c in self
            .containers(project, services, OneOffFilter::Exclude)
            .await?
        {
            if !is_running(&c) {
                continue;
            }
            let top = self
                .docker
                .top_processes(c.id.as_deref().unwrap_or_default(), None::<TopOptions>)
                .await?;
            out.push((name_of(&c), top));
        }
        Ok(out)
    }

    /// `port`: where `private_port/protocol` of container `index` (1 when `None`) of
    /// `service` is published, as `host_ip:port`.
    pub async fn port(
        &self,
        project: &str,
        service: &str,
        private_port: u16,
        protocol: &str,
        index: Option<u32>,
    ) -> Result<Option<String>, Error> {
        let containers = self
            .containers(project, &[service.to_string()], OneOffFilter::Exclude)
            .await?;
        let index = index.unwrap_or(1);
        let Some(c) = containers.iter().find(|c| number_of(c) == index) else {
            return Err(Error::Failed(format!(
                "service {service:?} has no container number {index}"
            )));
        };
        let info = self
            .docker
            .inspect_container(c.id.as_deref().unwrap_or_default(), None)
            .await?;
        let key = format!("{private_port}/{protocol}");
        Ok(info
            .network_settings
            .and_then(|n| n.ports)
            .and_then(|mut p| p.remove(&key))
            .flatten()
            .and_then(|b| b.into_iter().next())
            .map(|b| {
                format!(
                    "{}:{}",
                    b.host_ip.unwrap_or_default(),
                    b.host_port.unwrap_or_default()
                )
            }))
    }
}
