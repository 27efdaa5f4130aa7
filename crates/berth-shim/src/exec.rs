//! The processes run in the container with `Exec`: their stdio while they run, and how they
//! ended, remembered until the shim exits (berthd asks with `ExecState`).

use berth_shim_proto::ExitStatus;
use nix::unistd::Pid;

use crate::process_io::ProcessIo;

pub struct Exec {
    pub id: String,
    /// `None` for an exec that could not be started.
    pub pid: Option<Pid>,
    /// Until it has exited and its output is drained.
    io: Option<ProcessIo>,
    pub exit: Option<ExitStatus>,
}

impl Exec {
    pub fn new(
        id: String,
        pid: Option<Pid>,
        io: Option<ProcessIo>,
        exit: Option<ExitStatus>,
    ) -> Self {
        Self { id, pid, io, exit }
    }

    pub fn io(&self) -> Option<&ProcessIo> {
        self.io.as_ref()
    }

    pub fn io_mut(&mut self) -> Option<&mut ProcessIo> {
        self.io.as_mut()
    }

    /// Its output has been passed on entirely after it exited: nothing more will come.
    fn is_over(&self) -> bool {
        self.exit.is_some() && self.io.as_ref().is_none_or(ProcessIo::outputs_done)
    }
}

/// Every exec of the container, in the order they were requested. Never shrinks, so an index
/// names the same exec for the shim's whole life; those that still have stdio are listed
/// apart, so a container that runs an exec every few seconds (a healthcheck) for months does
/// not make each turn of the loop longer.
#[derive(Default)]
pub struct Execs {
    all: Vec<Exec>,
    /// Indices of the execs that still have stdio.
    live: Vec<usize>,
}

impl Execs {
    pub fn add(&mut self, exec: Exec) -> usize {
        let index = self.all.len();
        if exec.io.is_some() {
            self.live.push(index);
        }
        self.all.push(exec);
        index
    }

    pub fn find(&self, id: &str) -> Option<usize> {
        self.all.iter().position(|e| e.id == id)
    }

    /// The running exec with host pid `pid`.
    pub fn running(&mut self, pid: Pid) -> Option<&mut Exec> {
        self.all
            .iter_mut()
            .find(|e| e.pid == Some(pid) && e.exit.is_none())
    }

    pub fn get(&self, index: usize) -> &Exec {
        &self.all[index]
    }

    pub fn get_mut(&mut self, index: usize) -> &mut Exec {
        &mut self.all[index]
    }

    /// The indices of the execs that still have stdio.
    pub fn live(&self) -> &[usize] {
        &self.live
    }

    /// Closes the stdio of the execs that are over; returns their indices.
    pub fn close_finished(&mut self) -> Vec<usize> {
        let all = &mut self.all;
        let mut closed = Vec::new();
        self.live.retain(|&index| {
            let exec = &mut all[index];
            if exec.is_over() {
                exec.io = None;
                closed.push(index);
                false
            } else {
                true
            }
        });
        closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(code: i32) -> Option<ExitStatus> {
        Some(ExitStatus {
            exit_code: code,
            finished_at: "2026-11-28T08:00:00Z".into(),
        })
    }

    #[test]
    fn finished_execs_are_remembered_but_no_longer_live() {
        let mut execs = Execs::default();
        let failed = execs.add(Exec::new("a".into(), None, None, exited(127)));
        let b = execs.add(Exec::new("b".into(), Some(Pid::from_raw(10)), None, None));
        assert_eq!(execs.live(), [] as [usize; 0], "no stdio, nothing to poll");
        assert_eq!((execs.find("a"), execs.find("b")), (Some(failed), Some(b)));
        assert!(execs.running(Pid::from_raw(10)).is_some());
        execs.get_mut(b).exit = exited(0);
        assert!(execs.running(Pid::from_raw(10)).is_none());
        assert_eq!(execs.close_finished(), [] as [usize; 0]);
        assert_eq!(execs.get(failed).exit.as_ref().unwrap().exit_code, 127);
    }
}
