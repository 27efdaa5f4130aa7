//! The one place a published port needs a process in the path: the host's `[::1]`. IPv6 has no
//! `route_localnet`, so a connection from `::1` cannot be destination-NATed into a bridge (the
//! kernel never sends a loopback source out of another interface), and the DNAT rules leave
//! `::1` alone. Instead the socket that holds the port on `[::]` listens, and what it accepts
//! (only `[::1]` connections reach it: every other address is NATed before) is relayed to the
//! container, as Docker's userland proxy does.

use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// A running relay; dropping it stops accepting (relays under way finish on their own).
#[derive(Debug)]
pub(crate) struct LoopbackProxy(AbortHandle);

impl Drop for LoopbackProxy {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Makes `socket` (a TCP socket bound to the held port) listen, and relays each connection it
/// accepts to `target`. Needs a tokio runtime.
pub(crate) fn start(socket: &OwnedFd, target: SocketAddr) -> io::Result<LoopbackProxy> {
    let listener = std::net::TcpListener::from(socket.try_clone()?);
    // SAFETY: listen(2) on a descriptor this function owns a duplicate of.
    if unsafe { libc::listen(std::os::fd::AsRawFd::as_raw_fd(&listener), 128) } < 0 {
        return Err(io::Error::last_os_error());
    }
    listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(listener)?;
    let task = tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((inbound, _)) => {
                    tokio::spawn(relay(inbound, target));
                }
                Err(e) => {
                    tracing::warn!(%target, error = %e, "loopback proxy: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(LoopbackProxy(task.abort_handle()))
}

async fn relay(mut inbound: TcpStream, target: SocketAddr) {
    match TcpStream::connect(target).await {
        Ok(mut outbound) => {
            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
        }
        Err(e) => tracing::debug!(%target, error = %e, "loopback proxy: the container refused"),
    }
}
