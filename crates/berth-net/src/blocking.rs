//! Runs the short blocking netlink exchanges off the async runtime's worker threads.

use std::io;

use crate::error::{Error, Result};

pub(crate) async fn run<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(Error::io(
            "run a blocking network operation",
            io::Error::other(e),
        )),
    }
}
