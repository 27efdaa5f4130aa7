//! `berth registry serve --config FILE`: the server's settings in a YAML file laid out as
//! Distribution's `config.yml`, so a `registry:2` configuration carries over. Read from it:
//!
//! ```yaml
//! storage:
//!   filesystem: {rootdirectory: /var/lib/registry}
//!   maintenance: {uploadpurging: {age: 168h}}   # upload expiry
//! http:
//!   addr: :5000                                 # no host: every address
//!   tls: {certificate: /certs/domain.crt, key: /certs/domain.key}
//! auth:
//!   htpasswd: {path: /auth/htpasswd}
//!   token: {path: /auth/access}                 # berth's own: see --token-auth
//! ```
//!
//! Other top-level sections (`version`, `log`, `health`, ...) are accepted and ignored; a
//! storage driver other than `filesystem` or an auth scheme other than these is refused, as
//! berth could not honour it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use yaml_rust2::{Yaml, YamlLoader};

use crate::cli::registry::parse_duration;

/// What a configuration file sets; `None` where it says nothing.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FileSettings {
    pub addr: Option<SocketAddr>,
    pub storage: Option<PathBuf>,
    pub htpasswd: Option<PathBuf>,
    pub token_auth: Option<PathBuf>,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub upload_expiry: Option<Duration>,
}

/// Reads and checks the file at `path`.
pub fn load(path: &Path) -> Result<FileSettings, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn parse(text: &str) -> Result<FileSettings, String> {
    let documents = YamlLoader::load_from_str(text).map_err(|e| e.to_string())?;
    let root = match documents.as_slice() {
        [] => return Ok(FileSettings::default()),
        [root] if root.as_hash().is_some() => root,
        _ => return Err("the configuration must be one mapping".to_string()),
    };
    let storage = &root["storage"];
    if let Some(drivers) = storage.as_hash() {
        for key in drivers.keys().filter_map(Yaml::as_str) {
            if !matches!(
                key,
                "filesystem" | "maintenance" | "delete" | "cache" | "redirect"
            ) {
                return Err(format!(
                    "storage driver {key:?} is not supported: only filesystem"
                ));
            }
        }
    }
    let auth = &root["auth"];
    if let Some(schemes) = auth.as_hash() {
        for key in schemes.keys().filter_map(Yaml::as_str) {
            if !matches!(key, "htpasswd" | "token") {
                return Err(format!(
                    "auth scheme {key:?} is not supported: htpasswd or token"
                ));
            }
        }
    }
    let tls = match (
        path_at(&root["http"]["tls"]["certificate"], "http.tls.certificate")?,
        path_at(&root["http"]["tls"]["key"], "http.tls.key")?,
    ) {
        (Some(certificate), Some(key)) => Some((certificate, key)),
        (None, None) => None,
        _ => return Err("http.tls needs both certificate and key".to_string()),
    };
    let settings = FileSettings {
        addr: text_at(&root["http"]["addr"], "http.addr")?
            .map(|addr| listen_address(&addr))
            .transpose()?,
        storage: path_at(&storage["filesystem"]["rootdirectory"], "rootdirectory")?,
        htpasswd: path_at(&auth["htpasswd"]["path"], "auth.htpasswd.path")?,
        token_auth: path_at(&auth["token"]["path"], "auth.token.path")?,
        tls,
        upload_expiry: text_at(&storage["maintenance"]["uploadpurging"]["age"], "age")?
            .map(|age| parse_duration(&age))
            .transpose()?,
    };
    if settings.htpasswd.is_some() && settings.token_auth.is_some() {
        return Err("auth: htpasswd and token cannot both be set".to_string());
    }
    Ok(settings)
}

/// A scalar as text (numbers too, as YAML reads `5000` as one); `None` when absent.
fn text_at(node: &Yaml, what: &str) -> Result<Option<String>, String> {
    match node {
        Yaml::BadValue | Yaml::Null => Ok(None),
        Yaml::String(text) => Ok(Some(text.clone())),
        Yaml::Integer(number) => Ok(Some(number.to_string())),
        _ => Err(format!("{what} must be a single value")),
    }
}

fn path_at(node: &Yaml, what: &str) -> Result<Option<PathBuf>, String> {
    Ok(text_at(node, what)?.map(PathBuf::from))
}

/// Distribution's `http.addr`: `host:port`, or `:port` for every address.
fn listen_address(addr: &str) -> Result<SocketAddr, String> {
    let full = match addr.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => addr.to_string(),
    };
    full.parse()
        .map_err(|_| format!("http.addr {addr:?} is not host:port or :port"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_distribution_config_carries_over() {
        let settings = parse(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: /srv/reg\n  \
             maintenance:\n    uploadpurging:\n      age: 168h\n      enabled: true\n  delete:\n    enabled: true\n\
             http:\n  addr: :5001\n  tls:\n    certificate: /c.crt\n    key: /c.key\n\
             auth:\n  htpasswd:\n    realm: basic\n    path: /auth/htpasswd\n",
        )
        .unwrap();
        assert_eq!(
            settings,
            FileSettings {
                addr: Some("0.0.0.0:5001".parse().unwrap()),
                storage: Some("/srv/reg".into()),
                htpasswd: Some("/auth/htpasswd".into()),
                token_auth: None,
                tls: Some(("/c.crt".into(), "/c.key".into())),
                upload_expiry: Some(Duration::from_secs(168 * 3600)),
            }
        );
        assert_eq!(parse("").unwrap(), FileSettings::default());
    }

    #[test]
    fn settings_berth_cannot_honour_are_refused() {
        for (text, error) in [
            ("storage:\n  s3:\n    bucket: x\n", "storage driver \"s3\""),
            ("auth:\n  silly: {}\n", "auth scheme \"silly\""),
            ("http:\n  addr: nowhere\n", "http.addr"),
            (
                "http:\n  tls:\n    certificate: /c\n",
                "both certificate and key",
            ),
            (
                "storage:\n  maintenance:\n    uploadpurging:\n      age: soon\n",
                "invalid duration",
            ),
            (
                "auth:\n  htpasswd: {path: /a}\n  token: {path: /b}\n",
                "cannot both",
            ),
            ("- a list\n", "one mapping"),
            ("http: {addr: [1, 2]}\n", "single value"),
        ] {
            let refused = parse(text).unwrap_err();
            assert!(refused.contains(error), "{text}: {refused}");
        }
    }
}
