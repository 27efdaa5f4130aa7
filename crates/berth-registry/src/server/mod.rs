//! The registry server behind `berth registry serve`: the OCI Distribution API (Docker
//! Registry v2) over HTTP/1.1, optionally with TLS and either htpasswd (bcrypt) Basic
//! authentication or Docker's token authentication with per-repository grants (its token
//! service built in), storing content-addressed blobs on the local file system.
//!
//! ```no_run
//! use berth_registry::{Server, ServerConfig};
//! # async fn demo() -> Result<(), berth_registry::ServeError> {
//! let server = Server::bind(ServerConfig::new("/var/lib/berth/registry")).await?;
//! println!("listening on {}", server.local_addr());
//! server.run_until(async { let _ = tokio::signal::ctrl_c().await; }).await;
//! # Ok(())
//! # }
//! ```
//!
//! Everything a client sends is untrusted: names, tags, digests and upload ids are validated
//! before they become paths (see `names`), uploads are hashed as they arrive and land in the
//! blob store only under the digest they hash to, blobs and manifests are bounded (a
//! configured size, 4 MiB), manifests must only reference content the repository holds, and
//! abandoned uploads are purged. [`collect_garbage`] deletes what no manifest references.

mod access;
mod auth;
mod error;
mod gc;
mod manifests;
mod names;
mod response;
mod routes;
mod storage;
mod tls;
mod token;
mod uploads;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

pub use error::ServeError;
pub use gc::{DeletedBlob, GcError, GcOptions, GcReport, collect_garbage};

use auth::Htpasswd;
use routes::{Auth, State};
use storage::Storage;
use token::TokenService;
use uploads::Uploads;

/// How long a client may take to send a request's headers (slow-loris guard).
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Settings of `berth registry serve`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen; [`ServerConfig::DEFAULT_ADDR`] unless set. Port 0 picks a free port
    /// (see [`Server::local_addr`]).
    pub addr: SocketAddr,
    /// The storage root; created if missing.
    pub storage: PathBuf,
    /// An htpasswd file of bcrypt entries (`htpasswd -B`); when set, every request needs
    /// Basic credentials of one of its users.
    pub htpasswd: Option<PathBuf>,
    /// An access file: users as `htpasswd -B` lines, and grants as
    /// `grant <repository | prefix/* | *> <user | + | anonymous> <pull,push,delete | *>` lines
    /// (`+` is any user, `anonymous` anyone). When set, requests need a Bearer token of the
    /// built-in token service at `/token`. Not with `htpasswd`.
    pub token_auth: Option<PathBuf>,
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    pub tls: Option<TlsConfig>,
    /// The largest blob an upload may create ([`Self::DEFAULT_MAX_BLOB_SIZE`] unless set).
    pub max_blob_size: u64,
    /// Uploads idle for longer than this are purged, at startup and then periodically
    /// ([`Self::DEFAULT_UPLOAD_EXPIRY`] unless set).
    pub upload_expiry: Duration,
}

impl ServerConfig {
    /// `127.0.0.1:5000`, the port Docker's registry uses, on loopback only.
    pub const DEFAULT_ADDR: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 5000);

    /// 16 GiB: larger than any layer an image sensibly has, and a bound on what one request
    /// can put on disk.
    pub const DEFAULT_MAX_BLOB_SIZE: u64 = 16 << 30;

    /// A day, as distribution's upload purging uses by default.
    pub const DEFAULT_UPLOAD_EXPIRY: Duration = Duration::from_secs(24 * 3600);

    /// Plain HTTP on [`Self::DEFAULT_ADDR`], no authentication, storing under `storage`.
    pub fn new(storage: impl Into<PathBuf>) -> Self {
        Self {
            addr: Self::DEFAULT_ADDR,
            storage: storage.into(),
            htpasswd: None,
            token_auth: None,
            tls: None,
            max_blob_size: Self::DEFAULT_MAX_BLOB_SIZE,
            upload_expiry: Self::DEFAULT_UPLOAD_EXPIRY,
        }
    }
}

/// PEM files for HTTPS.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// The certificate chain, leaf first.
    pub certificate: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// A registry server that is listening but not yet serving.
pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    state: Arc<State>,
    tls: Option<TlsAcceptor>,
    upload_expiry: Duration,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Opens the storage, loads the htpasswd file and TLS certificate, and binds the address:
    /// every configuration error surfaces here, before anything is served.
    pub async fn bind(config: ServerConfig) -> Result<Server, ServeError> {
        let storage = Storage::open(&config.storage).map_err(|source| ServeError::Storage {
            path: config.storage.clone(),
            source,
        })?;
        let auth = match (&config.htpasswd, &config.token_auth) {
            (None, None) => None,
            (Some(htpasswd), None) => Some(Auth::Basic(Htpasswd::load(htpasswd)?)),
            (None, Some(access)) => Some(Auth::Token(TokenService::load(access)?)),
            (Some(_), Some(_)) => {
                return Err(ServeError::Config(
                    "htpasswd and token authentication cannot be used together".to_owned(),
                ));
            }
        };
        let tls = config
            .tls
            .as_ref()
            .map(|tls| tls::acceptor(&tls.certificate, &tls.key))
            .transpose()?;
        let bind_error = |source| ServeError::Bind {
            addr: config.addr,
            source,
        };
        let listener = TcpListener::bind(config.addr).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let state = Arc::new(State {
            uploads: Uploads::new(storage.clone(), config.max_blob_size),
            storage,
            auth,
            scheme: if tls.is_some() { "https" } else { "http" },
            addr,
        });
        Ok(Server {
            listener,
            addr,
            state,
            tls,
            upload_expiry: config.upload_expiry,
        })
    }

    /// The address bound (with the port chosen when the configuration asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then stops accepting and lets requests in flight
    /// finish (for at most 30 seconds). An upload cut short stays resumable on disk. Expired
    /// uploads are purged meanwhile.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) {
        let scheme = self.state.scheme;
        tracing::info!("registry: serving {scheme}://{}", self.addr);
        let purging = tokio::spawn(purge_uploads(self.state.clone(), self.upload_expiry));
        let graceful = GracefulShutdown::new();
        let mut shutdown = pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => self.spawn_connection(stream, peer, graceful.watcher()),
                    Err(e) => {
                        // Out of descriptors and the like: pass, rather than spin or stop.
                        tracing::warn!("registry: accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        drop(self.listener);
        purging.abort();
        if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("registry: requests still running at shutdown were cut off");
        }
    }

    fn spawn_connection(&self, stream: TcpStream, peer: SocketAddr, watcher: Watcher) {
        let state = self.state.clone();
        let tls = self.tls.clone();
        tokio::spawn(async move {
            // Nagle's delay only slows down the small replies of the protocol.
            let _ = stream.set_nodelay(true);
            match tls {
                None => serve_connection(stream, peer, state, watcher).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => serve_connection(stream, peer, state, watcher).await,
                        Ok(Err(e)) => tracing::debug!("registry: TLS handshake: {e}"),
                        Err(_) => tracing::debug!("registry: TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

/// Purges the uploads idle for longer than `expiry`: at once, then every quarter of `expiry`
/// (between a second and an hour).
async fn purge_uploads(state: Arc<State>, expiry: Duration) {
    let period = (expiry / 4).clamp(Duration::from_secs(1), Duration::from_secs(3600));
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match state.uploads.purge_expired(expiry).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(
                "registry: purged {purged} upload(s) idle for over {}s",
                expiry.as_secs()
            ),
            Err(e) => tracing::warn!("registry: purging expired uploads: {e}"),
        }
    }
}

async fn serve_connection<S>(stream: S, peer: SocketAddr, state: Arc<State>, watcher: Watcher)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| routes::handle(state.clone(), peer, request));
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    if let Err(e) = watcher.watch(connection).await {
        tracing::debug!("registry: connection: {e}");
    }
}

/// Runs `berth registry serve`: binds, then serves until SIGINT or SIGTERM, and shuts down
/// gracefully. Use [`Server::bind`] to learn the address first or to stop it otherwise.
pub async fn serve(config: ServerConfig) -> Result<(), ServeError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).map_err(ServeError::Signals)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(ServeError::Signals)?;
    let server = Server::bind(config).await?;
    server
        .run_until(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
        .await;
    Ok(())
}
