//! The distribution client: pull, push, login, tags and catalog against an OCI Distribution /
//! Docker Registry v2 server.
//!
//! Everything here is blocking: blobs stream straight between the network and the content
//! store, which is synchronous. berthd calls it under `tokio::task::spawn_blocking`, forwarding
//! [`Progress`] events to the API stream.

mod auth;
mod certs;
mod error;
mod insecure;
mod list;
mod manifest;
mod platform;
mod progress;
mod pull;
mod push;
mod reference;
mod resume;
mod session;

use std::time::Duration;

use ureq::Agent;
use ureq::config::RedirectAuthHeaders;
use ureq::http::Method;

pub use auth::Credentials;
pub use error::{Error, Result};
pub use list::SearchResult;
pub use manifest::{DOCUMENT_LIMIT, Descriptor, ImageIndex, ImageManifest, media_type};
pub use platform::Platform;
pub use progress::{Progress, ProgressStatus};
pub use pull::{PullOptions, PulledImage};
pub use push::{ManifestFormat, PushImage, PushOptions, PushedImage};
pub use reference::{DEFAULT_TAG, DOCKER_HUB, Reference, normalize_registry};

use insecure::InsecureRegistries;
use session::{Call, Session};

/// Settings of a [`Client`]; the defaults are Docker's.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Docker's `insecure-registries`: CIDRs (`10.0.0.0/8`) or `host[:port]` reached over plain
    /// HTTP. The loopback networks and `localhost` always are.
    pub insecure_registries: Vec<String>,
    /// Docker's `registry-mirrors`: `http(s)://host[:port]` origins of Docker Hub mirrors,
    /// tried in order before Docker Hub itself when pulling a Docker Hub image.
    pub registry_mirrors: Vec<String>,
    /// Layers downloaded at once (Docker's `max-concurrent-downloads`).
    pub max_concurrent_downloads: usize,
    /// Where registries' CA and client certificates are looked for, as `<dir>/<host:port>/`
    /// (`/etc/berth/certs.d`, then Docker's `/etc/docker/certs.d`).
    pub certs_dirs: Vec<std::path::PathBuf>,
    /// Limit for establishing a connection, TLS included.
    pub connect_timeout: Duration,
    /// Limit for a response to start, and for any single read or write to make progress.
    pub io_timeout: Duration,
    pub user_agent: String,
    /// Entries asked for per page of a tag list or catalog.
    pub page_size: u32,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            insecure_registries: Vec::new(),
            registry_mirrors: Vec::new(),
            max_concurrent_downloads: 3,
            certs_dirs: certs::DEFAULT_CERTS_DIRS.iter().map(Into::into).collect(),
            connect_timeout: Duration::from_secs(30),
            io_timeout: Duration::from_secs(60),
            user_agent: format!("berth/{}", env!("CARGO_PKG_VERSION")),
            page_size: 100,
        }
    }
}

/// A registry client. One serves every registry and operation; each operation authenticates
/// on its own, with the credentials it is given, so no token outlives the call that got it.
#[derive(Debug)]
pub struct Client {
    /// Honours `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`.
    proxied: Agent,
    /// For loopback hosts, which Docker (Go) never sends through a proxy.
    direct: Agent,
    insecure: InsecureRegistries,
    config: ClientConfig,
    /// Agents for registries with certificates of their own, by `host:port`.
    with_certs: std::sync::Mutex<std::collections::HashMap<String, Agent>>,
}

impl Client {
    pub fn new(mut config: ClientConfig) -> Result<Self> {
        let insecure = InsecureRegistries::new(&config.insecure_registries)?;
        config.registry_mirrors = config
            .registry_mirrors
            .iter()
            .map(|mirror| mirror_origin(mirror))
            .collect::<Result<_>>()?;
        let proxied = Self::agent(&config, ureq::Proxy::try_from_env(), None);
        let direct = Self::agent(&config, None, None);
        Ok(Self {
            proxied,
            direct,
            insecure,
            config,
            with_certs: Default::default(),
        })
    }

    fn agent(
        config: &ClientConfig,
        proxy: Option<ureq::Proxy>,
        tls: Option<ureq::tls::TlsConfig>,
    ) -> Agent {
        let builder = Agent::config_builder()
            .http_status_as_error(false)
            .proxy(proxy)
            .timeout_connect(Some(config.connect_timeout))
            .timeout_recv_response(Some(config.io_timeout))
            .timeout_per_read(Some(config.io_timeout))
            .timeout_per_write(Some(config.io_timeout))
            .redirect_auth_headers(RedirectAuthHeaders::SameHost)
            .user_agent(config.user_agent.as_str());
        match tls {
            Some(tls) => builder.tls_config(tls).build().new_agent(),
            None => builder.build().new_agent(),
        }
    }

    /// Checks credentials as `docker login` does: `GET /v2/` with them, through the token
    /// service if the registry has one. `server` is a registry name or address
    /// (`localhost:5000`, `https://index.docker.io/v1/`). A registry that needs no
    /// authentication accepts any credentials, as with Docker.
    pub fn login(&self, server: &str, credentials: &Credentials) -> Result<()> {
        let registry = normalize_registry(server)?;
        let session = Session::new(self, &registry, Some(credentials), Vec::new());
        let url = session.url("/v2/");
        let response = session.send(Call::new(Method::GET, url.clone()))?;
        match response.status() {
            status if status.is_success() => Ok(()),
            _ => Err(session.error(&Method::GET, &url, response)),
        }
    }

    /// The mirrors to try before Docker Hub, as `scheme://host[:port]`.
    pub(crate) fn mirrors(&self) -> &[String] {
        &self.config.registry_mirrors
    }

    /// The agent for `url`: with the registry's own certificates when it has some (HTTPS),
    /// else the shared one of [`Client::agent_for`].
    pub(crate) fn agent_with_certs(&self, url: &str) -> Result<Agent> {
        let Some(authority) = url
            .strip_prefix("https://")
            .map(|rest| rest.split('/').next().unwrap_or_default())
        else {
            return Ok(self.agent_for(url).clone());
        };
        let mut cache = self.with_certs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(agent) = cache.get(authority) {
            return Ok(agent.clone());
        }
        let Some(tls) = certs::tls_config(&self.config.certs_dirs, authority)? else {
            return Ok(self.agent_for(url).clone());
        };
        let shared = self.agent_for(url);
        let proxy = if std::ptr::eq(shared, &self.direct) {
            None
        } else {
            ureq::Proxy::try_from_env()
        };
        let agent = Self::agent(&self.config, proxy, Some(tls));
        cache.insert(authority.to_string(), agent.clone());
        Ok(agent)
    }

    fn agent_for(&self, url: &str) -> &Agent {
        let authority = url
            .split_once("://")
            .map_or(url, |(_, rest)| rest)
            .split('/')
            .next()
            .unwrap_or_default();
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority.split(':').next().unwrap_or_default(),
        };
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if loopback {
            &self.direct
        } else {
            &self.proxied
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared<T: Send + Sync>() {}

    #[test]
    fn client_and_results_cross_threads() {
        // berthd keeps one client in an Arc and runs operations under spawn_blocking.
        shared::<Client>();
        shared::<Error>();
        shared::<PulledImage>();
        shared::<PushedImage>();
    }

    #[test]
    fn loopback_is_never_proxied_and_is_plain_http() {
        let client = Client::new(ClientConfig::default()).unwrap();
        for url in [
            "http://127.0.0.1:5000/v2/",
            "http://localhost/v2/",
            "http://[::1]:80/",
        ] {
            assert!(std::ptr::eq(client.agent_for(url), &client.direct), "{url}");
        }
        assert!(std::ptr::eq(
            client.agent_for("https://ghcr.io/v2/"),
            &client.proxied
        ));
        let local = Session::new(&client, "localhost:5000", None, Vec::new());
        assert_eq!(local.url("/v2/"), "http://localhost:5000/v2/");
        let hub = Session::new(&client, DOCKER_HUB, None, Vec::new());
        assert_eq!(hub.url("/v2/"), "https://registry-1.docker.io/v2/");
        assert_eq!(
            hub.resolve("/v2/x?y"),
            "https://registry-1.docker.io/v2/x?y"
        );
        assert_eq!(hub.resolve("https://s3.example/b"), "https://s3.example/b");
        let insecure = ClientConfig {
            insecure_registries: vec!["10.0.0.0/8".to_owned()],
            ..ClientConfig::default()
        };
        let client = Client::new(insecure).unwrap();
        let private = Session::new(&client, "10.1.2.3:5000", None, Vec::new());
        assert_eq!(private.url("/v2/"), "http://10.1.2.3:5000/v2/");
        let bad = ClientConfig {
            insecure_registries: vec!["10.0.0.0/99".to_owned()],
            ..ClientConfig::default()
        };
        assert!(matches!(Client::new(bad), Err(Error::InvalidConfig(_))));
    }
}

/// A `registry-mirrors` entry as the origin requests go to: `http://` or `https://`, a host,
/// and no path (a trailing `/` is dropped), as Docker requires.
fn mirror_origin(mirror: &str) -> Result<String> {
    let invalid = || {
        Error::InvalidConfig(format!(
            "invalid registry mirror {mirror:?}: it must be http(s)://host[:port]"
        ))
    };
    let trimmed = mirror.trim_end_matches('/');
    let (scheme, host) = trimmed.split_once("://").ok_or_else(invalid)?;
    let valid_host = !host.is_empty()
        && !host.contains(['/', '?', '#', '@'])
        && !host.chars().any(char::is_whitespace);
    if !matches!(scheme, "http" | "https") || !valid_host {
        return Err(invalid());
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod mirror_tests {
    use super::*;

    #[test]
    fn mirrors_are_origins() {
        assert_eq!(
            mirror_origin("https://mirror.gcr.io/").unwrap(),
            "https://mirror.gcr.io"
        );
        assert_eq!(
            mirror_origin("http://127.0.0.1:5000").unwrap(),
            "http://127.0.0.1:5000"
        );
        for bad in [
            "mirror.gcr.io",
            "ftp://m",
            "https://",
            "https://m/path",
            "https://u@m",
        ] {
            assert!(mirror_origin(bad).is_err(), "{bad}");
        }
    }
}
