//! ADD's URL sources, fetched by the daemon as Docker's does: http or https, redirects
//! followed, any status but 2xx an error, the body spooled to an unnamed temporary file.

use crate::error::{Error, Result};
use berth_build::Download;
use std::io::Seek;
use std::path::Path;
use std::time::Duration;

/// Far above what ADD is used for; a server that never stops sending cannot fill the disk.
const MAX_DOWNLOAD: u64 = 10 << 30;

/// Whether `url` names this host, which Docker (Go's HTTP client) never reaches via a proxy.
fn is_loopback(url: &str) -> bool {
    let authority = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub(crate) fn fetch(url: &str, tmp_dir: &Path) -> Result<Download> {
    let proxy = if is_loopback(url) {
        None
    } else {
        ureq::Proxy::try_from_env()
    };
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(proxy)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent();
    let failed = |e: &dyn std::fmt::Display| Error::internal(format!("failed to GET {url}: {e}"));
    let mut response = agent.get(url).call().map_err(|e| failed(&e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(Error::internal(format!(
            "failed to GET {url} with status {status}"
        )));
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let last_modified = header("Last-Modified");
    let content_disposition = header("Content-Disposition");
    let mut body = tempfile::tempfile_in(tmp_dir)?;
    let mut reader = response
        .body_mut()
        .with_config()
        .limit(MAX_DOWNLOAD)
        .reader();
    std::io::copy(&mut reader, &mut body).map_err(|e| failed(&e))?;
    body.rewind()?;
    Ok(Download {
        body,
        last_modified,
        content_disposition,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_skip_the_proxy() {
        assert!(is_loopback("http://127.0.0.1:8080/x"));
        assert!(is_loopback("http://localhost/x"));
        assert!(is_loopback("http://[::1]:80/x"));
        assert!(is_loopback("http://user:pw@127.0.0.1/x"));
        assert!(!is_loopback("https://example.com/x"));
        assert!(!is_loopback("https://127.0.0.1.example.com/x"));
    }
}
