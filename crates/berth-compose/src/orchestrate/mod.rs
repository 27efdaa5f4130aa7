//! Driving a daemon through the Docker Engine API: the project's containers, networks and
//! volumes are found by their `com.docker.compose.*` labels and converged towards the model.
//!
//! Every operation is a method of [`Compose`], which holds the bollard client and a progress
//! callback ([`Event`]s: "Container web-1 Started"); results are returned as data or streams,
//! and nothing is printed.

mod build_context;
mod exec;
mod images;
mod lifecycle;
mod logs;
mod query;
mod up;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};
use bollard::query_parameters::ListContainersOptions;

use crate::error::Error;
use crate::model::{Project, Service};
use crate::plan::labels;

pub use exec::{ExecOptions, OneOff, RunOptions};
pub use images::BuildOptions;
pub use lifecycle::{DownOptions, RemoveImages};
pub use logs::{LogEvent, LogPrefixer, LogsOptions, Stream};
pub use query::{ContainerInfo, ImageInfo, ProjectInfo, Publisher};
pub use up::UpOptions;

/// A compose client: a daemon connection and where progress goes.
#[derive(Clone)]
pub struct Compose {
    docker: Docker,
    progress: Arc<dyn Fn(&Event) + Send + Sync>,
    credentials: Arc<CredentialsFor>,
}

/// The registry credentials for a repository (`localhost:5000/team/app`), if any.
type CredentialsFor = dyn Fn(&str) -> Option<DockerCredentials> + Send + Sync;

impl fmt::Debug for Compose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compose").finish_non_exhaustive()
    }
}

/// Something that happened to a resource, for progress output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub resource: Resource,
    /// The container, network, volume or image name.
    pub name: String,
    pub status: Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Container,
    Network,
    Volume,
    Image,
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Resource::Container => "Container",
            Resource::Network => "Network",
            Resource::Volume => "Volume",
            Resource::Image => "Image",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Recreate,
    Recreated,
    Starting,
    Started,
    /// Already running and up to date.
    Running,
    Waiting,
    Healthy,
    Exited(i64),
    Stopping,
    Stopped,
    Killing,
    Killed,
    Removing,
    Removed,
    Restarting,
    Restarted,
    Pausing,
    Paused,
    Unpausing,
    Unpaused,
    Pulling,
    Pulled,
    Building,
    Built,
    Pushing,
    Pushed,
    /// A line of build, pull or push output.
    Output(String),
    /// Something that did not stop the operation (an orphan container, a failed pull…).
    Warning(String),
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Status::Creating => "Creating",
            Status::Created => "Created",
            Status::Recreate => "Recreate",
            Status::Recreated => "Recreated",
            Status::Starting => "Starting",
            Status::Started => "Started",
            Status::Running => "Running",
            Status::Waiting => "Waiting",
            Status::Healthy => "Healthy",
            Status::Exited(code) => return write!(f, "Exited ({code})"),
            Status::Stopping => "Stopping",
            Status::Stopped => "Stopped",
            Status::Killing => "Killing",
            Status::Killed => "Killed",
            Status::Removing => "Removing",
            Status::Removed => "Removed",
            Status::Restarting => "Restarting",
            Status::Restarted => "Restarted",
            Status::Pausing => "Pausing",
            Status::Paused => "Paused",
            Status::Unpausing => "Unpausing",
            Status::Unpaused => "Unpaused",
            Status::Pulling => "Pulling",
            Status::Pulled => "Pulled",
            Status::Building => "Building",
            Status::Built => "Built",
            Status::Pushing => "Pushing",
            Status::Pushed => "Pushed",
            Status::Output(s) | Status::Warning(s) => s,
        };
        f.write_str(s)
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}  {}", self.resource, self.name, self.status)
    }
}

/// Which containers a listing includes, by `com.docker.compose.oneoff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OneOffFilter {
    /// Service containers only.
    Exclude,
    /// Service and `run` containers.
    Include,
}

impl Compose {
    pub fn new(docker: Docker) -> Self {
        Compose {
            docker,
            progress: Arc::new(|_| {}),
            credentials: Arc::new(|_| None),
        }
    }

    /// Looks up the credentials each pull and push of a repository sends (docker compose
    /// takes them from the docker CLI's config file).
    pub fn with_credentials(
        mut self,
        f: impl Fn(&str) -> Option<DockerCredentials> + Send + Sync + 'static,
    ) -> Self {
        self.credentials = Arc::new(f);
        self
    }

    /// Sends progress events to `f`.
    pub fn with_progress(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.progress = Arc::new(f);
        self
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    pub(crate) fn emit(&self, resource: Resource, name: &str, status: Status) {
        (self.progress)(&Event {
            resource,
            name: name.to_string(),
            status,
        });
    }

    /// The project's containers (all states), ordered by service then number, limited to
    /// `services` when not empty.
    pub(crate) async fn containers(
        &self,
        project: &str,
        services: &[String],
        oneoff: OneOffFilter,
    ) -> Result<Vec<ContainerSummary>, Error> {
        let mut label = vec![format!("{}={project}", labels::PROJECT)];
        if oneoff == OneOffFilter::Exclude {
            label.push(format!("{}=False", labels::ONEOFF));
        }
        let filters = HashMap::from([("label".to_string(), label)]);
        let mut list = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..ListContainersOptions::default()
            }))
            .await?;
        list.retain(|c| {
            services.is_empty()
                || label_of(c, labels::SERVICE).is_some_and(|s| services.iter().any(|x| x == s))
        });
        list.sort_by(|a, b| {
            (label_of(a, labels::SERVICE), number_of(a), name_of(a)).cmp(&(
                label_of(b, labels::SERVICE),
                number_of(b),
                name_of(b),
            ))
        });
        Ok(list)
    }
}

pub(crate) fn label_of<'a>(c: &'a ContainerSummary, key: &str) -> Option<&'a str> {
    c.labels.as_ref()?.get(key).map(String::as_str)
}

pub(crate) fn number_of(c: &ContainerSummary) -> u32 {
    label_of(c, labels::CONTAINER_NUMBER)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The container's name without the API's leading `/`.
pub(crate) fn name_of(c: &ContainerSummary) -> String {
    c.names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_default()
}

pub(crate) fn id_of(c: &ContainerSummary) -> String {
    c.id.clone().unwrap_or_default()
}

pub(crate) fn is_running(c: &ContainerSummary) -> bool {
    matches!(
        c.state,
        Some(ContainerSummaryStateEnum::RUNNING | ContainerSummaryStateEnum::RESTARTING)
    )
}

/// The stop timeout for a service's containers: the command line's, else
/// `stop_grace_period`, else the daemon's default.
pub(crate) fn stop_timeout(service: Option<&Service>, given: Option<u32>) -> Option<i32> {
    given.and_then(|t| i32::try_from(t).ok()).or_else(|| {
        service
            .and_then(|s| s.stop_grace_period)
            .and_then(|d| i32::try_from(d.as_nanos() / 1_000_000_000).ok())
    })
}

/// The service names a command targets: those given, else all enabled services.
pub(crate) fn targets(project: &Project, services: &[String]) -> Result<Vec<String>, Error> {
    for s in services {
        if project.service(s).is_none() {
            return Err(Error::Failed(format!("no such service: {s}")));
        }
    }
    Ok(if services.is_empty() {
        project.services.keys().cloned().collect()
    } else {
        services.to_vec()
    })
}
