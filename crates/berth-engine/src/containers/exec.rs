//! `docker exec`: exec instances are created against a running container, started through
//! its shim, and remembered in memory (as Docker does) for inspection.

use super::model::Container;
use super::{spec, user};
use crate::error::{Error, Result};
use crate::shim::{self, OutputStream};
use crate::{Engine, ids};
use berth_shim_proto::{CONFIG_FILE, Request, ShimConfig};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;

/// One exec instance, as `/exec/{id}/json` shows it.
#[derive(Debug, Clone, Default)]
pub struct ExecRecord {
    pub id: String,
    pub container_id: String,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub user: String,
    pub working_dir: String,
    pub tty: bool,
    pub privileged: bool,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub detach_keys: String,
    pub started: bool,
    pub running: bool,
    pub pid: i32,
    pub exit_code: Option<i32>,
}

#[derive(Default)]
pub struct ExecTable {
    records: Mutex<HashMap<String, ExecRecord>>,
}

impl ExecTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ExecRecord>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, id: &str) -> Result<ExecRecord> {
        self.lock()
            .get(id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("No such exec instance: {id}")))
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut ExecRecord)) {
        if let Some(r) = self.lock().get_mut(id) {
            f(r);
        }
    }

    pub fn ids_of(&self, container_id: &str) -> Vec<String> {
        self.lock()
            .values()
            .filter(|r| r.container_id == container_id)
            .map(|r| r.id.clone())
            .collect()
    }

    pub fn forget_container(&self, container_id: &str) {
        self.lock().retain(|_, r| r.container_id != container_id);
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Refuses what Docker refuses: exec into a container that is not running or is paused.
fn ensure_running(c: &Container) -> Result<()> {
    match c.state.status {
        super::Status::Running => Ok(()),
        super::Status::Paused => Err(Error::conflict(format!(
            "Container {} is paused, unpause the container before exec",
            c.id
        ))),
        _ => Err(Error::conflict(format!(
            "container {} is not running",
            c.id
        ))),
    }
}

impl Engine {
    /// `POST /containers/{id}/exec`.
    pub fn create_exec(&self, name: &str, body: &Value) -> Result<String> {
        let id = self.resolve_container(name)?;
        let c = self.container_record(&id)?;
        ensure_running(&c)?;
        let cmd = strings(&body["Cmd"]);
        if cmd.is_empty() {
            return Err(Error::invalid("No exec command specified"));
        }
        let working_dir = body["WorkingDir"].as_str().unwrap_or("").to_string();
        if !working_dir.is_empty() && !working_dir.starts_with('/') {
            return Err(Error::invalid(format!(
                "the working directory '{working_dir}' is invalid, it needs to be an absolute path"
            )));
        }
        let record = ExecRecord {
            id: ids::new_id(),
            container_id: id,
            cmd,
            env: strings(&body["Env"]),
            user: body["User"].as_str().unwrap_or("").to_string(),
            working_dir,
            tty: body["Tty"].as_bool().unwrap_or(false),
            privileged: body["Privileged"].as_bool().unwrap_or(false),
            attach_stdin: body["AttachStdin"].as_bool().unwrap_or(false),
            attach_stdout: body["AttachStdout"].as_bool().unwrap_or(false),
            attach_stderr: body["AttachStderr"].as_bool().unwrap_or(false),
            detach_keys: body["DetachKeys"].as_str().unwrap_or("").to_string(),
            started: false,
            running: false,
            pid: 0,
            exit_code: None,
        };
        let exec_id = record.id.clone();
        self.execs.lock().insert(exec_id.clone(), record);
        Ok(exec_id)
    }

    /// The process an exec runs: the container's own process settings with the exec's
    /// command, environment, user, directory and terminal.
    fn exec_process(
        &self,
        c: &Container,
        r: &ExecRecord,
        tty: bool,
    ) -> Result<oci_spec::runtime::Process> {
        let config_path = self.exec_dir(&c.id).join(CONFIG_FILE);
        let bytes = std::fs::read(&config_path)
            .map_err(|e| Error::internal(format!("read {}: {e}", config_path.display())))?;
        let shim_config: ShimConfig = serde_json::from_slice(&bytes)?;
        let mut process = shim_config
            .spec
            .process()
            .clone()
            .ok_or_else(|| Error::internal("container spec has no process"))?;
        let mut env = process.env().clone().unwrap_or_default();
        for e in &r.env {
            let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
            env.retain(|old| old.split_once('=').map_or(old.as_str(), |(k, _)| k) != key);
            env.push(e.clone());
        }
        if !r.user.is_empty() {
            let upper = self.container_dir(&c.id).join("upper");
            let files = user::layered(
                &upper,
                c.layers.iter().rev().map(|l| self.layer_diff_dir(l)),
            );
            let u = user::resolve(&r.user, &super::group_add(&c.host_config), &files)?;
            let mut spec_user = process.user().clone();
            spec_user.set_uid(u.uid);
            spec_user.set_gid(u.gid);
            spec_user.set_additional_gids(Some(u.additional_gids));
            process.set_user(spec_user);
        }
        if !r.working_dir.is_empty() {
            process.set_cwd(r.working_dir.clone().into());
        }
        if r.privileged {
            process.set_capabilities(Some(spec::all_capabilities()?));
        }
        process.set_args(Some(r.cmd.clone()));
        process.set_env(Some(env));
        process.set_terminal(Some(tty));
        Ok(process)
    }

    /// The process of a healthcheck probe: the container's own, running `argv`.
    pub(crate) fn probe_process(
        &self,
        c: &Container,
        argv: &[String],
    ) -> Result<oci_spec::runtime::Process> {
        let r = ExecRecord {
            container_id: c.id.clone(),
            cmd: argv.to_vec(),
            ..Default::default()
        };
        self.exec_process(c, &r, false)
    }

    /// `POST /exec/{id}/start`: starts the process; returns its stream unless detached.
    pub async fn start_exec(
        &self,
        exec_id: &str,
        detach: bool,
        tty: Option<bool>,
    ) -> Result<Option<OutputStream>> {
        let r = self.execs.get(exec_id)?;
        if r.started {
            return Err(Error::conflict(format!(
                "Error: Exec command {exec_id} has already run"
            )));
        }
        let c = self.container_record(&r.container_id)?;
        ensure_running(&c)?;
        let tty = tty.unwrap_or(r.tty);
        let process = self.exec_process(&c, &r, tty)?;
        let request = Request::Exec {
            exec_id: exec_id.to_string(),
            process,
            stdin: r.attach_stdin && !detach,
            stdout: r.attach_stdout && !detach,
            stderr: r.attach_stderr && !detach,
        };
        let started = shim::open(&self.exec_dir(&c.id), request).await;
        if started.is_err() {
            // Docker's code for an exec that could not be started.
            self.execs.update(exec_id, |rec| {
                rec.started = true;
                rec.exit_code = Some(126);
            });
        }
        let (stream, response) = started.map_err(|e| {
            let kind = if e.message.contains("executable file not found")
                || e.message.contains("no such file")
            {
                crate::ErrorKind::InvalidArgument
            } else {
                e.kind
            };
            Error::new(
                kind,
                format!(
                    "OCI runtime exec failed: exec failed: unable to start container process: {}",
                    e.message
                ),
            )
        })?;
        self.execs.update(exec_id, |rec| {
            rec.started = true;
            rec.running = true;
            rec.pid = response.init_pid.unwrap_or(0);
            rec.tty = tty;
        });
        Ok(if detach { None } else { Some(stream) })
    }

    /// Asks the shim how an exec is doing and records an exit.
    async fn refresh_exec(&self, r: &ExecRecord) {
        if !r.running {
            return;
        }
        let exec_dir = self.exec_dir(&r.container_id);
        let state = shim::request(
            &exec_dir,
            Request::ExecState {
                exec_id: r.id.clone(),
            },
        )
        .await;
        match state {
            Ok(resp) => {
                if let Some(exit) = resp.exit {
                    self.execs.update(&r.id, |rec| {
                        rec.running = false;
                        rec.exit_code = Some(exit.exit_code);
                    });
                }
            }
            // The shim is gone: the container, and with it the exec, has ended.
            Err(_) => self.execs.update(&r.id, |rec| rec.running = false),
        }
    }

    /// `GET /exec/{id}/json`.
    pub async fn inspect_exec(&self, exec_id: &str) -> Result<Value> {
        let r = self.execs.get(exec_id)?;
        self.refresh_exec(&r).await;
        let r = self.execs.get(exec_id)?;
        let (entrypoint, arguments) = r
            .cmd
            .split_first()
            .map(|(e, a)| (e.clone(), a.to_vec()))
            .unwrap_or_default();
        Ok(json!({
            "CanRemove": false,
            "ContainerID": r.container_id,
            "DetachKeys": r.detach_keys,
            "ExitCode": r.exit_code,
            "ID": r.id,
            "OpenStderr": r.attach_stderr,
            "OpenStdin": r.attach_stdin,
            "OpenStdout": r.attach_stdout,
            "ProcessConfig": {
                "arguments": arguments,
                "entrypoint": entrypoint,
                "privileged": r.privileged,
                "tty": r.tty,
                "user": r.user
            },
            "Running": r.running,
            "Pid": r.pid
        }))
    }

    /// Records the exit of an exec whose stream has just ended.
    pub async fn exec_stream_ended(&self, exec_id: &str) {
        if let Ok(r) = self.execs.get(exec_id) {
            self.refresh_exec(&r).await;
        }
    }

    /// `POST /exec/{id}/resize`.
    pub async fn resize_exec(&self, exec_id: &str, height: u16, width: u16) -> Result<()> {
        let r = self.execs.get(exec_id)?;
        let exec_dir = self.exec_dir(&r.container_id);
        shim::request(
            &exec_dir,
            Request::Resize {
                exec_id: Some(r.id),
                height,
                width,
            },
        )
        .await
        .map(drop)
    }

    pub(crate) fn exec_ids(&self, container_id: &str) -> Vec<String> {
        self.execs.ids_of(container_id)
    }
}
