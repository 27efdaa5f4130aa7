//! The shim's life after startup: one `poll` loop over the signalfd, the socket, the
//! container's output pipes and the clients, until the container has exited and its output
//! is drained; then the exit record, the answers to `Wait`, and exit.

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant, SystemTime};

use berth_runtime::Container;
use berth_shim_proto::{ExitStatus, PROTOCOL_VERSION, Request, Response};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::connection::Connection;
use crate::exec_dir::ExecDir;
use crate::json_log::JsonLog;
use crate::launch::Started;
use crate::output::{Chunk, OutputPipe, Stream};
use crate::shim_log::ShimLog;
use crate::signals;
use crate::timestamp::rfc3339_nano;

/// Bytes read from a pipe at a time.
const READ_SIZE: usize = 32 * 1024;
/// While a client has this much output unsent, the pipes are not read: the container waits
/// rather than its output being dropped or buffered without bound.
const ATTACH_HIGH_WATER: usize = 1024 * 1024;
/// How long the last output and answers may take to reach slow clients at exit.
const FINAL_FLUSH: Duration = Duration::from_secs(5);

pub struct Monitor {
    exec_dir: ExecDir,
    shim_log: ShimLog,
    signals: SignalFd,
    listener: UnixListener,
    init_pid: Pid,
    /// Until `Start`.
    created: Option<Container>,
    exit: Option<ExitStatus>,
    /// False once `waitpid` reports no children at all.
    children_left: bool,
    outputs: [Option<OutputPipe>; 2],
    json_log: Option<JsonLog<File>>,
    connections: Vec<Connection>,
    buf: Vec<u8>,
}

/// What a polled descriptor is.
#[derive(Clone, Copy)]
enum Source {
    Signals,
    Listener,
    Output(Stream),
    Client(usize),
}

impl Monitor {
    pub fn new(exec_dir: ExecDir, shim_log: ShimLog, started: Started) -> Self {
        let [stdout, stderr] = started.outputs;
        Self {
            exec_dir,
            shim_log,
            signals: started.signals,
            listener: started.listener,
            init_pid: Pid::from_raw(started.container.pid()),
            created: Some(started.container),
            exit: None,
            children_left: true,
            outputs: [Some(stdout), Some(stderr)],
            json_log: started.json_log,
            connections: Vec::new(),
            buf: vec![0; READ_SIZE],
        }
    }

    pub fn run(mut self) {
        while !self.container_done() {
            self.poll_once();
        }
        self.finish();
    }

    /// The init has exited and its output is over: the pipes are at their end, or no process
    /// that could still write to them is left.
    fn container_done(&self) -> bool {
        self.exit.is_some() && (self.outputs.iter().all(Option::is_none) || !self.children_left)
    }

    fn poll_once(&mut self) {
        let backpressure = self
            .connections
            .iter()
            .any(|c| c.pending() > ATTACH_HIGH_WATER);
        let mut sources = vec![Source::Signals, Source::Listener];
        let mut fds = vec![
            PollFd::new(self.signals.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.listener.as_fd(), PollFlags::POLLIN),
        ];
        if !backpressure {
            for stream in Stream::ALL {
                if let Some(pipe) = &self.outputs[stream.index()] {
                    sources.push(Source::Output(stream));
                    fds.push(PollFd::new(pipe.as_fd(), PollFlags::POLLIN));
                }
            }
        }
        for (i, conn) in self.connections.iter().enumerate() {
            sources.push(Source::Client(i));
            fds.push(PollFd::new(conn.as_fd(), conn.poll_flags()));
        }
        match nix::poll::poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => self.shim_log.error(format_args!("poll: {e}")),
        }
        let ready: Vec<(Source, PollFlags)> = sources
            .into_iter()
            .zip(
                fds.iter()
                    .map(|fd| fd.revents().unwrap_or(PollFlags::empty())),
            )
            .filter(|(_, revents)| !revents.is_empty())
            .collect();
        drop(fds);
        for (source, revents) in ready {
            match source {
                Source::Signals => self.reap(),
                Source::Listener => self.accept(),
                Source::Output(stream) => self.read_output(stream),
                Source::Client(i) => self.serve(i, revents),
            }
        }
        self.connections.retain(|c| !c.is_done());
    }

    fn reap(&mut self) {
        for signal in signals::drain(&self.signals) {
            self.shim_log
                .error(format_args!("ignoring signal {signal}"));
        }
        loop {
            match nix::sys::wait::waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(WaitStatus::Exited(pid, code)) if pid == self.init_pid => self.init_exited(code),
                Ok(WaitStatus::Signaled(pid, signal, _)) if pid == self.init_pid => {
                    self.init_exited(128 + signal as i32);
                }
                // An orphan of the container, reaped.
                Ok(_) | Err(Errno::EINTR) => {}
                Err(Errno::ECHILD) => {
                    self.children_left = false;
                    break;
                }
                Err(e) => {
                    self.shim_log.error(format_args!("waitpid: {e}"));
                    break;
                }
            }
        }
    }

    fn init_exited(&mut self, exit_code: i32) {
        self.exit = Some(ExitStatus {
            exit_code,
            finished_at: rfc3339_nano(SystemTime::now()),
        });
        // Never started: nothing to release any more.
        self.created = None;
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => match Connection::new(stream) {
                    Ok(conn) => self.connections.push(conn),
                    Err(e) => self.shim_log.error(format_args!("client socket: {e}")),
                },
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.shim_log.error(format_args!("accept: {e}"));
                    break;
                }
            }
        }
    }

    fn read_output(&mut self, stream: Stream) {
        let Some(pipe) = &mut self.outputs[stream.index()] else {
            return;
        };
        match pipe.read(&mut self.buf) {
            Ok(Chunk::Data(n)) => self.distribute(stream, n),
            Ok(Chunk::Empty) => {}
            Ok(Chunk::Eof) => self.close_output(stream),
            Err(e) => {
                self.shim_log
                    .error(format_args!("read container {}: {e}", stream.name()));
                self.close_output(stream);
            }
        }
    }

    /// Sends the `n` bytes just read from `stream` to the log and to attached clients.
    fn distribute(&mut self, stream: Stream, n: usize) {
        let data = &self.buf[..n];
        if let Some(log) = &mut self.json_log {
            let time = rfc3339_nano(SystemTime::now());
            if let Err(e) = log.write(stream, data, &time) {
                self.shim_log
                    .error(format_args!("write container log (logging stops): {e}"));
                self.json_log = None;
            }
        }
        for conn in self.connections.iter_mut().filter(|c| c.wants(stream)) {
            conn.send_frame(stream, data);
        }
    }

    fn close_output(&mut self, stream: Stream) {
        self.outputs[stream.index()] = None;
        if let Some(log) = &mut self.json_log {
            let time = rfc3339_nano(SystemTime::now());
            if let Err(e) = log.finish(stream, &time) {
                self.shim_log
                    .error(format_args!("write container log: {e}"));
            }
        }
    }

    fn serve(&mut self, i: usize, revents: PollFlags) {
        if revents.contains(PollFlags::POLLIN) {
            for request in self.connections[i].read_requests() {
                // After `Attach` the connection carries output only.
                if !self.connections[i].is_attached() {
                    self.handle(i, request);
                }
            }
        }
        if revents.contains(PollFlags::POLLOUT) {
            self.connections[i].flush();
        }
        if revents.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL) {
            self.connections[i].mark_broken();
        }
    }

    fn handle(&mut self, i: usize, request: Result<berth_shim_proto::Envelope, String>) {
        let response = match request {
            Err(message) => refusal(message),
            Ok(envelope) if envelope.v > PROTOCOL_VERSION => {
                refusal(format!("unsupported protocol version {}", envelope.v))
            }
            Ok(envelope) => match envelope.request {
                Request::Start => self.start(),
                Request::Attach { stdout, stderr, .. } => {
                    let state = self.state();
                    let conn = &mut self.connections[i];
                    conn.send(&state);
                    conn.attach(stdout, stderr);
                    if self.outputs.iter().all(Option::is_none) {
                        conn.close_when_flushed();
                    }
                    return;
                }
                Request::Kill { signal } => self.kill(signal),
                Request::Wait => {
                    // Answered in `finish`, once the output is drained too.
                    self.connections[i].waiting = true;
                    return;
                }
                Request::State => self.state(),
                Request::Resize { .. } | Request::Exec { .. } | Request::ExecState { .. } => {
                    refusal("this shim has no terminal or exec support yet".into())
                }
            },
        };
        self.connections[i].send(&response);
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

    fn state(&self) -> Response {
        Response {
            ok: true,
            error: None,
            init_pid: Some(self.init_pid.as_raw()),
            exit: self.exit.clone(),
        }
    }

    /// The container is over: last output, exit record, answers, and goodbye.
    fn finish(mut self) {
        for stream in Stream::ALL {
            self.drain(stream);
        }
        if let Some(exit) = &self.exit
            && let Err(e) = self.exec_dir.write_exit(exit)
        {
            self.shim_log.error(format_args!("write exit record: {e}"));
        }
        let answer = self.state();
        for conn in &mut self.connections {
            if conn.waiting {
                conn.waiting = false;
                conn.send(&answer);
            }
            conn.close_when_flushed();
        }
        if let Err(e) = self.exec_dir.remove_socket() {
            self.shim_log.error(format_args!("remove shim socket: {e}"));
        }
        self.flush_clients(Instant::now() + FINAL_FLUSH);
    }

    /// Reads what is left in a pipe whose writers are all gone (or that nobody can write to
    /// any more), then closes it.
    fn drain(&mut self, stream: Stream) {
        while let Some(pipe) = &mut self.outputs[stream.index()] {
            match pipe.read(&mut self.buf) {
                Ok(Chunk::Data(n)) => self.distribute(stream, n),
                Ok(Chunk::Empty | Chunk::Eof) | Err(_) => self.close_output(stream),
            }
        }
    }

    fn flush_clients(&mut self, deadline: Instant) {
        self.connections.retain(|c| !c.is_done());
        while !self.connections.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(timeout) = PollTimeout::try_from(left) else {
                break;
            };
            if left.is_zero() {
                break;
            }
            let mut fds: Vec<PollFd> = self
                .connections
                .iter()
                .map(|c| PollFd::new(c.as_fd(), PollFlags::POLLOUT))
                .collect();
            if nix::poll::poll(&mut fds, timeout).is_err() {
                break;
            }
            drop(fds);
            for conn in &mut self.connections {
                conn.flush();
            }
            self.connections.retain(|c| !c.is_done());
        }
    }
}

fn refusal(message: String) -> Response {
    Response {
        ok: false,
        error: Some(message),
        ..Default::default()
    }
}
