//! The container's terminal follows ours: sized as ours right after it starts, and again
//! whenever ours changes size (SIGWINCH).

use std::io;
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{ResizeContainerTTYOptions, ResizeExecOptions};
use tokio::signal::unix::{SignalKind, signal};

use super::Task;
use crate::terminal;

/// Whose terminal is resized.
#[derive(Clone)]
pub enum Tty {
    Container(String),
    Exec(String),
}

/// How often the first resize is retried: a process that has only just started may not
/// have its terminal yet.
const RETRIES: u64 = 10;

/// Sizes `tty` as (rows, columns).
pub async fn resize(docker: &Docker, tty: &Tty, (rows, columns): (u16, u16)) -> bool {
    let (h, w) = (i32::from(rows), i32::from(columns));
    let resized = match tty {
        Tty::Container(id) => {
            let options = ResizeContainerTTYOptions { h, w };
            docker.resize_container_tty(id, options).await
        }
        Tty::Exec(id) => docker.resize_exec(id, ResizeExecOptions { h, w }).await,
    };
    resized.is_ok()
}

/// Gives `tty` our terminal's size now and whenever it changes, until the task is dropped.
/// Listens for SIGWINCH before the first resize, so no change is missed.
pub fn follow(docker: Docker, tty: Tty) -> io::Result<Task> {
    let mut changes = signal(SignalKind::window_change())?;
    Ok(Task::spawn(async move {
        let mut retry = 0;
        while !resize_now(&docker, &tty).await {
            if retry == RETRIES {
                eprintln!("failed to resize tty, using default size");
                break;
            }
            retry += 1;
            tokio::time::sleep(Duration::from_millis(10 * retry)).await;
        }
        while changes.recv().await.is_some() {
            resize_now(&docker, &tty).await;
        }
    }))
}

/// Resizes to our terminal's current size; true if there is nothing to do.
async fn resize_now(docker: &Docker, tty: &Tty) -> bool {
    match terminal::stdout_size() {
        Some(size) => resize(docker, tty, size).await,
        None => true,
    }
}
