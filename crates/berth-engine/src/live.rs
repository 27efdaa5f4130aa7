//! In-memory bookkeeping for containers: a lock that serializes lifecycle changes of one
//! container, exit notifications for waiters, and attach streams waiting for a start.

use crate::shim::OutputStream;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{oneshot, watch};

/// What waiters watch: how many times the container has exited, with the last exit code, and
/// whether it has been removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exits {
    pub count: u64,
    pub last_code: i32,
    pub removed: bool,
}

pub struct PendingAttach {
    pub stdout: bool,
    pub stderr: bool,
    pub stdin: bool,
    pub deliver: oneshot::Sender<OutputStream>,
}

pub struct Live {
    pub lock: tokio::sync::Mutex<()>,
    /// The restart policy's current delay, doubled on every quick exit (Docker's backoff).
    pub restart_delay_ms: std::sync::atomic::AtomicU64,
    pub exits: watch::Sender<Exits>,
    pub pending_attach: Mutex<Vec<PendingAttach>>,
}

#[derive(Default)]
pub struct LiveTable {
    entries: Mutex<HashMap<String, Arc<Live>>>,
}

impl LiveTable {
    pub fn get(&self, id: &str) -> Arc<Live> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .entry(id.to_string())
            .or_insert_with(|| {
                Arc::new(Live {
                    lock: tokio::sync::Mutex::new(()),
                    restart_delay_ms: std::sync::atomic::AtomicU64::new(0),
                    exits: watch::Sender::new(Exits::default()),
                    pending_attach: Mutex::new(Vec::new()),
                })
            })
            .clone()
    }

    /// Forgets a removed container after telling its waiters.
    pub fn remove(&self, id: &str) {
        let entry = self
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        if let Some(live) = entry {
            live.exits.send_modify(|e| e.removed = true);
        }
    }
}

impl Live {
    pub fn take_pending_attaches(&self) -> Vec<PendingAttach> {
        std::mem::take(
            &mut *self
                .pending_attach
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        )
    }

    pub fn add_pending_attach(&self, p: PendingAttach) {
        self.pending_attach
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(p);
    }

    pub fn record_exit(&self, code: i32) {
        self.exits.send_modify(|e| {
            e.count += 1;
            e.last_code = code;
        });
    }
}
