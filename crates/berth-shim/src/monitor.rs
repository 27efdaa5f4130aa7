//! The shim's life after startup: one `poll` loop over the signalfd, the socket, the clients,
//! and the stdio of the container's init and of its execs, until the init has exited and its
//! output is drained; then the exit record, the answers to `Wait`, and exit.
//!
//! The init's output goes to the container log and to every attached client; an exec's output
//! goes to the connection that started it. Clients that attached with stdin feed the process's
//! stdin. Requests are answered in [`requests`].

mod requests;

use std::os::fd::AsFd;
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant, SystemTime};

use berth_runtime::Container;
use berth_shim_proto::ExitStatus;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::connection::{Connection, Feed, Subscription};
use crate::container_log::ContainerLog;
use crate::exec::Execs;
use crate::exec_dir::ExecDir;
use crate::launch::Started;
use crate::output::{Chunk, Stream};
use crate::process_io::ProcessIo;
use crate::rotating_file::EntrySink;
use crate::shim_log::ShimLog;
use crate::signals;
use crate::timestamp::rfc3339_nano;

/// Bytes read from a pipe at a time.
const READ_SIZE: usize = 32 * 1024;
/// While a client has this much output unsent, the outputs it receives are not read: the
/// process waits rather than its output being dropped or buffered without bound.
const ATTACH_HIGH_WATER: usize = 1024 * 1024;
/// Most bytes taken from a stdin client at a time.
const STDIN_READ: usize = 64 * 1024;
/// Most bytes buffered from a client that has not yet sent a whole request line.
const REQUEST_READ: usize = 64 * 1024 + 1;
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
    /// Close the init's stdin when a stdin client's input ends.
    stdin_once: bool,
    /// Applied to exec'd processes as to the init.
    seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
    init_io: ProcessIo,
    log: Option<ContainerLog<crate::rotating_file::RotatingFile>>,
    execs: Execs,
    connections: Vec<Connection>,
    buf: Vec<u8>,
}

/// What a polled descriptor is.
#[derive(Clone, Copy)]
enum Source {
    Signals,
    Listener,
    Output(Feed, Stream),
    Stdin(Feed),
    Client(usize),
}

/// The stdio of `feed`, while it has any. (A function of the fields, so the monitor's read
/// buffer can be borrowed beside it.)
fn io_of<'a>(
    init_io: &'a mut ProcessIo,
    execs: &'a mut Execs,
    feed: Feed,
) -> Option<&'a mut ProcessIo> {
    match feed {
        Feed::Init => Some(init_io),
        Feed::Exec(index) => execs.get_mut(index).io_mut(),
    }
}

impl Monitor {
    pub fn new(exec_dir: ExecDir, shim_log: ShimLog, started: Started) -> Self {
        Self {
            exec_dir,
            shim_log,
            signals: started.signals,
            listener: started.listener,
            init_pid: Pid::from_raw(started.container.pid()),
            created: Some(started.container),
            exit: None,
            children_left: true,
            stdin_once: started.stdin_once,
            seccomp: started.seccomp,
            init_io: started.io,
            log: started.log,
            execs: Execs::default(),
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

    /// The init has exited and its output is over: its streams are at their end, or no
    /// process that could still write to them is left.
    fn container_done(&self) -> bool {
        self.exit.is_some() && (self.init_io.outputs_done() || !self.children_left)
    }

    fn io(&self, feed: Feed) -> Option<&ProcessIo> {
        match feed {
            Feed::Init => Some(&self.init_io),
            Feed::Exec(index) => self.execs.get(index).io(),
        }
    }

    /// The init and the execs that still have stdio.
    fn feeds(&self) -> Vec<Feed> {
        std::iter::once(Feed::Init)
            .chain(self.execs.live().iter().map(|&index| Feed::Exec(index)))
            .collect()
    }

    /// A client of `feed` has too much output unsent.
    fn backpressured(&self, feed: Feed) -> bool {
        self.connections.iter().any(|c| {
            c.subscription().is_some_and(|s| s.feed == feed) && c.pending() > ATTACH_HIGH_WATER
        })
    }

    /// Whether the stdin a connection feeds (if any) can take more input now.
    fn may_read(&self, conn: &Connection) -> bool {
        match conn.subscription() {
            Some(Subscription {
                feed, stdin: true, ..
            }) => self
                .io(feed)
                .and_then(|io| io.stdin_ref())
                .is_none_or(|stdin| stdin.has_room()),
            _ => true,
        }
    }

    fn poll_once(&mut self) {
        let mut sources = vec![Source::Signals, Source::Listener];
        let mut fds = vec![
            PollFd::new(self.signals.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.listener.as_fd(), PollFlags::POLLIN),
        ];
        for feed in self.feeds() {
            let Some(io) = self.io(feed) else { continue };
            if !self.backpressured(feed) {
                for stream in Stream::ALL {
                    if let Some(fd) = io.output_fd(stream) {
                        sources.push(Source::Output(feed, stream));
                        fds.push(PollFd::new(fd, PollFlags::POLLIN));
                    }
                }
            }
            if let Some(stdin) = io.stdin_ref()
                && stdin.pending() > 0
            {
                sources.push(Source::Stdin(feed));
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLOUT));
            }
        }
        for (i, conn) in self.connections.iter().enumerate() {
            sources.push(Source::Client(i));
            fds.push(PollFd::new(
                conn.as_fd(),
                conn.poll_flags(self.may_read(conn)),
            ));
        }
        let polled = nix::poll::poll(&mut fds, PollTimeout::NONE);
        let ready: Vec<(Source, PollFlags)> = sources
            .into_iter()
            .zip(
                fds.iter()
                    .map(|fd| fd.revents().unwrap_or(PollFlags::empty())),
            )
            .filter(|(_, revents)| !revents.is_empty())
            .collect();
        drop(fds);
        match polled {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => self.shim_log.error(format_args!("poll: {e}")),
        }
        for (source, revents) in ready {
            match source {
                Source::Signals => self.reap(),
                Source::Listener => self.accept(),
                Source::Output(feed, stream) => self.read_output(feed, stream),
                Source::Stdin(feed) => {
                    if let Some(stdin) = self.io_mut(feed).and_then(ProcessIo::stdin) {
                        stdin.flush();
                    }
                }
                Source::Client(i) => self.serve(i, revents),
            }
        }
        self.tidy();
    }

    fn io_mut(&mut self, feed: Feed) -> Option<&mut ProcessIo> {
        io_of(&mut self.init_io, &mut self.execs, feed)
    }

    /// Closes what is finished: stdin writers done writing, the stdio of execs that are
    /// over (and the connections that carried it), clients that are gone.
    fn tidy(&mut self) {
        // A stdin client that is gone has ended its input too.
        for i in 0..self.connections.len() {
            if self.connections[i].is_done() {
                self.forward_input(i);
            }
        }
        for feed in self.feeds() {
            if let Some(io) = self.io_mut(feed) {
                io.release_stdin();
            }
        }
        for index in self.execs.close_finished() {
            self.close_subscribers(Feed::Exec(index));
        }
        self.connections.retain(|c| !c.is_done());
    }

    fn close_subscribers(&mut self, feed: Feed) {
        for conn in &mut self.connections {
            if conn.subscription().is_some_and(|s| s.feed == feed) {
                conn.close_when_flushed();
            }
        }
    }

    fn reap(&mut self) {
        for signal in signals::drain(&self.signals) {
            self.shim_log
                .error(format_args!("ignoring signal {signal}"));
        }
        loop {
            match nix::sys::wait::waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(WaitStatus::Exited(pid, code)) => self.exited(pid, code),
                Ok(WaitStatus::Signaled(pid, signal, _)) => self.exited(pid, 128 + signal as i32),
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

    /// Records the end of the init or of an exec; anything else was an orphan of the
    /// container, now reaped.
    fn exited(&mut self, pid: Pid, exit_code: i32) {
        let status = ExitStatus {
            exit_code,
            finished_at: rfc3339_nano(SystemTime::now()),
        };
        if pid == self.init_pid {
            self.exit = Some(status);
            // Never started: nothing to release any more.
            self.created = None;
        } else if let Some(exec) = self.execs.running(pid) {
            exec.exit = Some(status);
        } else if let Some(log) = &mut self.log {
            log.sink_mut().reaped(pid);
        }
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

    fn read_output(&mut self, feed: Feed, stream: Stream) {
        let Some(io) = io_of(&mut self.init_io, &mut self.execs, feed) else {
            return;
        };
        match io.read(stream, &mut self.buf) {
            Ok(Chunk::Data(n)) => self.distribute(feed, stream, n),
            Ok(Chunk::Empty) => {}
            Ok(Chunk::Eof) => self.output_ended(feed, stream),
            Err(e) => {
                self.shim_log
                    .error(format_args!("read {}: {e}", stream.name()));
                self.output_ended(feed, stream);
            }
        }
    }

    /// Sends the `n` bytes just read from `feed`'s `stream` to the log (the init's only) and
    /// to the clients that receive it.
    fn distribute(&mut self, feed: Feed, stream: Stream, n: usize) {
        let data = &self.buf[..n];
        if feed == Feed::Init
            && let Some(log) = &mut self.log
            && let Err(e) = log.write(stream, data, SystemTime::now())
        {
            self.shim_log
                .error(format_args!("write container log (logging stops): {e}"));
            self.log = None;
        }
        for conn in self
            .connections
            .iter_mut()
            .filter(|c| c.wants(feed, stream))
        {
            conn.send_output(stream, data);
        }
    }

    fn output_ended(&mut self, feed: Feed, stream: Stream) {
        if feed == Feed::Init
            && let Some(log) = &mut self.log
            && let Err(e) = log.finish(stream, SystemTime::now())
        {
            self.shim_log
                .error(format_args!("write container log: {e}"));
        }
    }

    fn serve(&mut self, i: usize, revents: PollFlags) {
        let hangup =
            revents.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL);
        if revents.contains(PollFlags::POLLIN) || hangup {
            // A client that hung up is read to its end at once: it will not be polled again.
            self.take_input(i, hangup);
        }
        if revents.contains(PollFlags::POLLOUT) {
            self.connections[i].flush();
        }
        if hangup {
            self.connections[i].mark_broken();
        }
    }

    /// Reads a client: requests until it subscribes, then its input for the process's stdin.
    fn take_input(&mut self, i: usize, everything: bool) {
        let limit = match self.connections[i].subscription() {
            _ if everything => usize::MAX,
            Some(_) => STDIN_READ,
            None => REQUEST_READ,
        };
        self.connections[i].read_input(limit);
        while let Some(request) = self.connections[i].next_request() {
            self.handle(i, request);
        }
        self.forward_input(i);
    }

    /// Passes what a stdin client sent on to the process's stdin, and the end of it.
    fn forward_input(&mut self, i: usize) {
        let conn = &mut self.connections[i];
        let Some(subscription) = conn.subscription().filter(|s| s.stdin) else {
            return;
        };
        let input = conn.take_input();
        let ended = conn.take_input_end();
        let Some(io) = io_of(&mut self.init_io, &mut self.execs, subscription.feed) else {
            return;
        };
        if let Some(stdin) = io.stdin() {
            stdin.push(&input);
        }
        if ended {
            self.stdin_ended(i, subscription);
        }
    }

    /// A stdin client's input has ended. As in Docker: the process's stdin is closed when
    /// it was started to be (`stdin_once` for the init, always for an exec) and is not a
    /// terminal; otherwise this client's stream ends.
    fn stdin_ended(&mut self, i: usize, subscription: Subscription) {
        let close_stdin = match subscription.feed {
            Feed::Init => self.stdin_once,
            Feed::Exec(_) => true,
        };
        let Some(io) = io_of(&mut self.init_io, &mut self.execs, subscription.feed) else {
            return;
        };
        if close_stdin && !io.is_raw() {
            if let Some(stdin) = io.stdin() {
                stdin.close_when_flushed();
            }
        } else {
            self.connections[i].close_when_flushed();
        }
    }

    /// The container is over: last output, exit record, answers, and goodbye.
    fn finish(mut self) {
        for feed in self.feeds() {
            for stream in Stream::ALL {
                self.drain(feed, stream);
            }
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

    /// Passes on what is left in a stream whose writers are all gone (or that nobody can
    /// write to any more), then closes it.
    fn drain(&mut self, feed: Feed, stream: Stream) {
        while let Some(io) = io_of(&mut self.init_io, &mut self.execs, feed)
            && io.output_fd(stream).is_some()
        {
            match io.read(stream, &mut self.buf) {
                Ok(Chunk::Data(n)) => self.distribute(feed, stream, n),
                Ok(Chunk::Eof) | Err(_) => self.output_ended(feed, stream),
                Ok(Chunk::Empty) => {
                    io.close_output(stream);
                    self.output_ended(feed, stream);
                }
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
