//! A private registry's certificates, where Docker keeps them: `<dir>/<host[:port]>/` of
//! `/etc/berth/certs.d`, then `/etc/docker/certs.d`. Its `*.crt` files are the CAs that sign
//! the registry's certificate (they replace the public roots for that registry), and a
//! `*.cert` with the `*.key` of the same name is the client certificate to present.

use std::path::{Path, PathBuf};

use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};

use crate::client::error::{Error, Result};

/// Where berth looks, in order.
pub const DEFAULT_CERTS_DIRS: [&str; 2] = ["/etc/berth/certs.d", "/etc/docker/certs.d"];

/// The TLS settings for `authority` (`host:port`, or `host` for port 443) from the first
/// certificates directory that has a directory for it; `None` when none does.
pub(crate) fn tls_config(dirs: &[PathBuf], authority: &str) -> Result<Option<TlsConfig>> {
    let host = authority.strip_suffix(":443").unwrap_or(authority);
    let Some(dir) = dirs
        .iter()
        .map(|d| d.join(host))
        .find(|d| !host.contains('/') && !host.starts_with('.') && d.is_dir())
    else {
        return Ok(None);
    };
    let invalid = |path: &Path, e: &dyn std::fmt::Display| {
        Error::InvalidConfig(format!("certificate file {}: {e}", path.display()))
    };
    let mut roots = Vec::new();
    let mut client = None;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| invalid(&dir, &e))?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        match path.extension().and_then(|e| e.to_str()) {
            Some("crt") => roots.extend(certificates(&path).map_err(|e| invalid(&path, &e))?),
            Some("cert") => {
                let key_path = path.with_extension("key");
                let chain = certificates(&path).map_err(|e| invalid(&path, &e))?;
                let pem = std::fs::read(&key_path).map_err(|e| invalid(&key_path, &e))?;
                let key = PrivateKey::from_pem(&pem).map_err(|e| invalid(&key_path, &e))?;
                client = Some(ClientCert::new_with_certs(&chain, key));
            }
            _ => {}
        }
    }
    let mut config = TlsConfig::builder();
    if !roots.is_empty() {
        config = config.root_certs(RootCerts::new_with_certs(&roots));
    }
    Ok(Some(config.client_cert(client).build()))
}

/// Every certificate of a PEM file.
fn certificates(path: &Path) -> std::result::Result<Vec<Certificate<'static>>, String> {
    let pem = std::fs::read(path).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        if let PemItem::Certificate(certificate) = item.map_err(|e| e.to_string())? {
            out.push(certificate);
        }
    }
    if out.is_empty() {
        return Err("no certificate in it".to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_directory_named_for_the_registry_counts() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = vec![dir.path().to_path_buf()];
        assert!(tls_config(&dirs, "reg.example:5000").unwrap().is_none());
        std::fs::create_dir(dir.path().join("reg.example:5000")).unwrap();
        assert!(tls_config(&dirs, "reg.example:5000").unwrap().is_some());
        assert!(tls_config(&dirs, "../etc").unwrap().is_none());
        std::fs::write(
            dir.path().join("reg.example:5000/ca.crt"),
            "not a certificate",
        )
        .unwrap();
        let refused = tls_config(&dirs, "reg.example:5000")
            .unwrap_err()
            .to_string();
        assert!(refused.contains("ca.crt"), "{refused}");
    }
}
