//! `exec` (a command in a service's running container) and `run` (a one-off container of a
//! service). Both return bollard's attached streams, so the CLI drives terminals itself.

use std::collections::BTreeMap;

use bollard::container::AttachContainerResults;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::AttachContainerOptions;

use super::up::UpOptions;
use super::{Compose, OneOffFilter, id_of, is_running, number_of};
use crate::convert::syntax;
use crate::error::Error;
use crate::load::paths;
use crate::model::{MountType, Project};
use crate::plan::container::{Instance, plan};

/// `exec`'s flags.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub service: String,
    /// `--index` (1 when `None`).
    pub index: Option<u32>,
    pub command: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    /// `-e KEY=value`.
    pub env: Vec<String>,
    pub privileged: bool,
    /// Allocate a terminal (`-T` turns it off).
    pub tty: bool,
    /// Attach standard input.
    pub interactive: bool,
    /// `-d`: run in the background.
    pub detach: bool,
}

/// `run`'s flags.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub service: String,
    /// The command after the service name; `None` keeps the service's.
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// `-e KEY=value` (or `KEY`, taken from the project's environment).
    pub env: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    /// `--name`.
    pub name: Option<String>,
    /// `-l`.
    pub labels: BTreeMap<String, String>,
    /// `-v`, short syntax.
    pub volumes: Vec<String>,
    /// `-p`, short syntax.
    pub publish: Vec<String>,
    /// `--service-ports`: publish the service's ports too.
    pub service_ports: bool,
    /// `--no-deps`: do not start the services it depends on.
    pub no_deps: bool,
    /// `--build`: build the image first.
    pub build: bool,
    /// `-d`: start it and return.
    pub detach: bool,
    pub tty: bool,
    pub interactive: bool,
}

/// A created one-off container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOff {
    pub id: String,
    pub name: String,
    pub tty: bool,
    pub interactive: bool,
}

impl Compose {
    /// `exec`: creates and starts the command in container `index` of the service. Returns
    /// the exec ID (for [`Compose::exec_exit_code`] and resizing) and its streams.
    pub async fn exec(
        &self,
        project: &str,
        opts: &ExecOptions,
    ) -> Result<(String, StartExecResults), Error> {
        let index = opts.index.unwrap_or(1);
        let containers = self
            .containers(
                project,
                std::slice::from_ref(&opts.service),
                OneOffFilter::Exclude,
            )
            .await?;
        let Some(c) = containers.iter().find(|c| number_of(c) == index) else {
            return Err(Error::Failed(format!(
                "service {:?} has no container number {index}",
                opts.service
            )));
        };
        if !is_running(c) {
            return Err(Error::Failed(format!(
                "service {:?} is not running",
                opts.service
            )));
        }
        let exec = self
            .docker
            .create_exec(
                &id_of(c),
                CreateExecOptions::<String> {
                    attach_stdin: Some(opts.interactive && !opts.detach),
                    attach_stdout: Some(!opts.detach),
                    attach_stderr: Some(!opts.detach),
                    tty: Some(opts.tty),
                    env: (!opts.env.is_empty()).then(|| opts.env.clone()),
                    cmd: Some(opts.command.clone()),
                    privileged: Some(opts.privileged),
                    user: opts.user.clone(),
                    working_dir: opts.workdir.clone(),
                    detach_keys: None,
                },
            )
            .await?;
        let started = self
            .docker
            .start_exec(
                &exec.id,
                Some(StartExecOptions {
                    detach: opts.detach,
                    tty: opts.tty,
                    output_capacity: None,
                }),
            )
            .await?;
        Ok((exec.id, started))
    }

    /// The exit code of a finished exec, `None` while it runs.
    pub async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>, Error> {
        let info = self.docker.inspect_exec(exec_id).await?;
        Ok(if info.running == Some(true) {
            None
        } else {
            info.exit_code
        })
    }

    /// `run`: starts what the service depends on (unless `no_deps`), then creates a one-off
    /// container of it (`com.docker.compose.oneoff=True`). With `detach` it is started too;
    /// otherwise attach with [`Compose::attach`], then [`Compose::start_oneoff`],
    /// [`Compose::wait_exit`], and for `--rm` [`Compose::remove_container`].
    pub async fn run(&self, project: &Project, opts: &RunOptions) -> Result<OneOff, Error> {
        let name = opts.service.as_str();
        let Some(base) = project.service(name) else {
            return Err(Error::Failed(format!("no such service: {name}")));
        };
        let mut s = base.clone();
        if let Some(cmd) = &opts.command {
            s.command = Some(cmd.clone());
        }
        if let Some(ep) = &opts.entrypoint {
            s.entrypoint = Some(ep.clone());
        }
        for e in &opts.env {
            match e.split_once('=') {
                Some((k, v)) => s.environment.insert(k.to_string(), Some(v.to_string())),
                None => s
                    .environment
                    .insert(e.clone(), project.environment.get(e).cloned()),
            };
        }
        if opts.user.is_some() {
            s.user = opts.user.clone();
        }
        if opts.workdir.is_some() {
            s.working_dir = opts.workdir.clone();
        }
        s.labels.extend(opts.labels.clone());
        for v in &opts.volumes {
            let mut vol = syntax::volume(v).map_err(Error::Failed)?;
            if vol.kind == MountType::Bind
                && let Some(src) = &vol.source
            {
                let home = project.environment.get("HOME").map(String::as_str);
                vol.source = Some(paths::absolute(&project.working_dir, src, home));
            }
            s.volumes.retain(|old| old.target != vol.target);
            s.volumes.push(vol);
        }
        if !opts.service_ports {
            s.ports.clear();
        }
        for p in &opts.publish {
            s.ports.extend(syntax::port(p).map_err(Error::Failed)?);
        }
        s.tty = opts.tty;
        s.stdin_open = opts.interactive;
        s.restart = None;
        if let Some(d) = &mut s.deploy {
            d.restart_policy = None;
        }
        s.container_name = None;

        let deps: Vec<String> = base
            .dependencies()
            .into_keys()
            .filter(|d| project.services.contains_key(d))
            .collect();
        if !opts.no_deps && !deps.is_empty() {
            self.up(
                project,
                &UpOptions {
                    services: deps,
                    build: opts.build,
                    ..UpOptions::default()
                },
            )
            .await?;
            self.wait_dependencies(project, name, base).await?;
        }
        let only = [name.to_string()];
        self.ensure_networks(project, &only).await?;
        self.ensure_volumes(project, &only).await?;
        self.ensure_images(
            project,
            &only,
            &UpOptions {
                build: opts.build,
                ..UpOptions::default()
            },
        )
        .await?;

        let mut slug = [0u8; 32];
        getrandom::fill(&mut slug).map_err(|e| Error::Failed(format!("random name: {e}")))?;
        let inst = Instance {
            number: 1,
            oneoff_slug: Some(hex::encode(slug)),
            image_id: self
                .image_id(&crate::plan::image_name(project, name, &s))
                .await?,
            ..Instance::default()
        };
        let mut planned = plan(project, name, &s, &inst)?;
        if let Some(n) = &opts.name {
            planned.name = n.clone();
        }
        planned.body.attach_stdin = Some(opts.interactive && !opts.detach);
        planned.body.attach_stdout = Some(!opts.detach);
        planned.body.attach_stderr = Some(!opts.detach);
        planned.body.stdin_once = Some(opts.interactive && !opts.detach);
        let (id, cname) = self.create_planned(planned).await?;
        let oneoff = OneOff {
            id,
            name: cname,
            tty: opts.tty,
            interactive: opts.interactive,
        };
        if opts.detach {
            self.start_oneoff(&oneoff).await?;
        }
        Ok(oneoff)
    }

    /// Attaches to a one-off container's output (and input when interactive), before it is
    /// started so that nothing is missed.
    pub async fn attach(&self, oneoff: &OneOff) -> Result<AttachContainerResults, Error> {
        Ok(self
            .docker
            .attach_container(
                &oneoff.id,
                Some(AttachContainerOptions {
                    stdin: oneoff.interactive,
                    stdout: true,
                    stderr: true,
                    stream: true,
                    logs: true,
                    detach_keys: None,
                }),
            )
            .await?)
    }

    pub async fn start_oneoff(&self, oneoff: &OneOff) -> Result<(), Error> {
        self.start_one(&oneoff.id, &oneoff.name).await
    }
}
