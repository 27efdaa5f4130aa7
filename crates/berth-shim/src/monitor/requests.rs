//! The answers to requests on the shim socket.

use std::time::SystemTime;

use berth_net::container_side::{self, ContainerInterface};
use berth_shim_proto::{Envelope, ExitStatus, PROTOCOL_VERSION, Request, Response};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use oci_spec::runtime::Process;

use super::Monitor;
use crate::connection::{Feed, Subscription};
use crate::exec::Exec;
use crate::process_io::{self, Wanted};
use crate::timestamp::rfc3339_nano;

/// What `Exec` asks for, besides the process.
struct ExecStreams {
    stdin: bool,
    stdout: bool,
    stderr: bool,
}

impl Monitor {
    /// Answers request `request` of connection `i`; `Attach` and `Exec` subscribe it.
    pub(super) fn handle(&mut self, i: usize, request: Result<Envelope, String>) {
        let response = match request {
            Err(message) => refusal(message),
            Ok(envelope) if envelope.v > PROTOCOL_VERSION => {
                refusal(format!("unsupported protocol version {}", envelope.v))
            }
            Ok(envelope) => match envelope.request {
                Request::Start => self.start(),
                Request::Attach {
                    stdout,
                    stderr,
                    stdin,
                } => {
                    self.attach(i, [stdout, stderr], stdin);
                    return;
                }
                Request::Kill { signal } => self.kill(signal),
                Request::Wait => {
                    // Answered in `finish`, once the output is drained too.
                    self.connections[i].waiting = true;
                    return;
                }
                Request::State => self.state(),
                Request::Resize {
                    exec_id,
                    height,
                    width,
                } => self.resize(exec_id.as_deref(), height, width),
                Request::Exec {
                    exec_id,
                    process,
                    stdin,
                    stdout,
                    stderr,
                } => {
                    let streams = ExecStreams {
                        stdin,
                        stdout,
                        stderr,
                    };
                    match self.exec(exec_id, &process, streams) {
                        Ok((response, subscription)) => {
                            let conn = &mut self.connections[i];
                            conn.send(&response);
                            conn.subscribe(subscription);
                            return;
                        }
                        Err(refused) => refused,
                    }
                }
                Request::ExecState { exec_id } => self.exec_state(&exec_id),
                Request::Network { interfaces } => self.network(&interfaces),
                Request::RemoveInterface { name } => self.remove_interface(&name),
            },
        };
        self.connections[i].send(&response);
    }

    pub(super) fn state(&self) -> Response {
        Response {
            ok: true,
            error: None,
            init_pid: Some(self.init_pid.as_raw()),
            exit: self.exit.clone(),
        }
    }

    fn running(&self) -> bool {
        self.created.is_none() && self.exit.is_none()
    }

    fn start(&mut self) -> Response {
        match self.created.take() {
            Some(container) => match container.start() {
                Ok(()) => self.state(),
                Err(e) => {
                    self.shim_log.error(format_args!("start: {e}"));
                    refusal(e.to_string())
                }
            },
            None if self.exit.is_some() => refusal("the container has exited".into()),
            None => refusal("the container is already started".into()),
        }
    }

    fn attach(&mut self, i: usize, streams: [bool; 2], stdin: bool) {
        let state = self.state();
        let subscription = Subscription {
            feed: Feed::Init,
            streams,
            raw: self.init_io.is_raw(),
            // Only into a stdin that is open (`open_stdin`, not yet closed).
            stdin: stdin && self.init_io.stdin_ref().is_some(),
        };
        let conn = &mut self.connections[i];
        conn.send(&state);
        conn.subscribe(subscription);
        if self.init_io.outputs_done() {
            conn.close_when_flushed();
        }
    }

    fn kill(&mut self, signal: i32) -> Response {
        if self.exit.is_some() {
            return refusal("the container is not running".into());
        }
        let Ok(signal) = Signal::try_from(signal) else {
            return refusal(format!("invalid signal {signal}"));
        };
        match nix::sys::signal::kill(self.init_pid, signal) {
            Ok(()) => self.state(),
            Err(e) => refusal(format!("kill: {e}")),
        }
    }

    fn resize(&mut self, exec_id: Option<&str>, height: u16, width: u16) -> Response {
        if self.exit.is_some() {
            return refusal("the container is not running".into());
        }
        let io = match exec_id {
            None => Some(&self.init_io),
            Some(id) => match self.execs.find(id) {
                Some(index) => self.execs.get(index).io(),
                None => return no_such_exec(id),
            },
        };
        // An exec that has ended has nothing left to resize.
        match io.map(|io| io.resize(height, width)) {
            Some(Err(e)) => refusal(format!("resize: {e}")),
            Some(Ok(())) | None => self.state(),
        }
    }

    /// Starts an exec; on success the answer and what the connection carries from now on.
    fn exec(
        &mut self,
        exec_id: String,
        process: &Process,
        streams: ExecStreams,
    ) -> Result<(Response, Subscription), Response> {
        if !self.running() {
            return Err(refusal("the container is not running".into()));
        }
        if self.execs.find(&exec_id).is_some() {
            return Err(refusal(format!("exec {exec_id} already exists")));
        }
        let wanted = Wanted {
            terminal: process.terminal() == Some(true),
            stdin: streams.stdin,
            stdout: streams.stdout,
            stderr: streams.stderr,
        };
        let (pending, child) =
            process_io::prepare(wanted).map_err(|e| refusal(format!("exec stdio: {e}")))?;
        let result = berth_runtime::exec(
            self.init_pid.as_raw(),
            process,
            self.seccomp.as_ref(),
            child.as_stdio(),
        );
        // Only the process may hold its ends: its exit must end the streams.
        drop(child);
        let mut spawned = match result {
            Ok(spawned) => spawned,
            Err(e) => {
                // Remembered, so `ExecState` tells how it ended (126, 127 or 125).
                let exit = ExitStatus {
                    exit_code: e.exit_code(),
                    finished_at: rfc3339_nano(SystemTime::now()),
                };
                self.execs.add(Exec::new(exec_id, None, None, Some(exit)));
                return Err(refusal(e.to_string()));
            }
        };
        let pid = Pid::from_raw(spawned.pid());
        let io = match pending.finish(spawned.take_terminal()) {
            Ok(io) => io,
            Err(e) => {
                // Nobody could read or type into it: it is ended (and reaped like any exec).
                let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
                self.execs.add(Exec::new(exec_id, Some(pid), None, None));
                return Err(refusal(format!("exec terminal: {e}")));
            }
        };
        let (raw, stdin) = (io.is_raw(), io.stdin_ref().is_some());
        let index = self
            .execs
            .add(Exec::new(exec_id, Some(pid), Some(io), None));
        let subscription = Subscription {
            feed: Feed::Exec(index),
            streams: [streams.stdout, streams.stderr],
            raw,
            stdin,
        };
        let response = Response {
            ok: true,
            error: None,
            init_pid: Some(pid.as_raw()),
            exit: None,
        };
        Ok((response, subscription))
    }

    fn exec_state(&self, exec_id: &str) -> Response {
        let Some(index) = self.execs.find(exec_id) else {
            return no_such_exec(exec_id);
        };
        let exec = self.execs.get(index);
        Response {
            ok: true,
            error: None,
            init_pid: exec.pid.map(Pid::as_raw),
            exit: exec.exit.clone(),
        }
    }
}

impl Monitor {
    /// Brings `lo` up and configures the interfaces berthd moved into the container's network
    /// namespace, from a child process in that namespace.
    fn network(&mut self, interfaces: &[ContainerInterface]) -> Response {
        if self.exit.is_some() {
            return refusal("the container is not running".into());
        }
        let configured = berth_runtime::in_network_namespace(self.init_pid.as_raw(), || {
            container_side::loopback_up().map_err(|e| format!("lo: {e}"))?;
            interfaces.iter().try_for_each(|interface| {
                container_side::configure(interface).map_err(|e| format!("{}: {e}", interface.name))
            })
        });
        match configured {
            Ok(()) => self.state(),
            Err(e) => refusal(format!("configure network: {e}")),
        }
    }

    /// Deletes the interface `name` of the container's network namespace.
    fn remove_interface(&mut self, name: &str) -> Response {
        if self.exit.is_some() {
            return refusal("the container is not running".into());
        }
        let removed = berth_runtime::in_network_namespace(self.init_pid.as_raw(), || {
            container_side::remove(name).map_err(|e| format!("{name}: {e}"))
        });
        match removed {
            Ok(()) => self.state(),
            Err(e) => refusal(format!("remove interface: {e}")),
        }
    }
}

fn no_such_exec(exec_id: &str) -> Response {
    refusal(format!("no such exec: {exec_id}"))
}

fn refusal(message: String) -> Response {
    Response {
        ok: false,
        error: Some(message),
        ..Default::default()
    }
}
