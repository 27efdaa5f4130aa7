//! Volume plugins: Docker's volume plugin protocol, so the volume drivers written for Docker
//! (NFS, cloud disks and the like) serve berth too. A plugin is found by name as Docker finds
//! one — a socket `<name>.sock`, or a spec file `<name>.spec` holding `unix:///path`, in the
//! plugin directories (`/run/docker/plugins`, `/etc/docker/plugins`, `/usr/lib/docker/plugins`)
//! — and spoken to with JSON over HTTP: `POST /Plugin.Activate`, then `/VolumeDriver.Create`,
//! `Remove`, `Mount`, `Unmount`. A plugin answers errors in an `Err` field.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::error::{Error, Result};

/// The media type of the protocol's requests.
const MEDIA_TYPE: &str = "application/vnd.docker.plugins.v1.2+json";

/// How long one call may take: a mount of remote storage can be slow, but not forever.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A volume plugin, by the socket it listens on.
#[derive(Debug, Clone)]
pub struct VolumePlugin {
    name: String,
    socket: PathBuf,
}

impl VolumePlugin {
    /// Finds the plugin `name` in `dirs` and checks that it implements `VolumeDriver`.
    pub async fn find(name: &str, dirs: &[PathBuf]) -> Result<Self> {
        let not_found = || Error::not_found(format!("plugin \"{name}\" not found"));
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !valid || name.starts_with('.') {
            return Err(not_found());
        }
        let socket = dirs
            .iter()
            .find_map(|dir| socket_in(dir, name))
            .ok_or_else(not_found)?;
        let plugin = Self {
            name: name.to_string(),
            socket,
        };
        let activated = plugin.post("/Plugin.Activate", &json!({})).await?;
        let implements = activated["Implements"].as_array().into_iter().flatten();
        if !implements.into_iter().any(|i| i == "VolumeDriver") {
            return Err(Error::invalid(format!(
                "plugin \"{name}\" does not implement VolumeDriver"
            )));
        }
        Ok(plugin)
    }

    pub async fn create(
        &self,
        volume: &str,
        options: &serde_json::Map<String, Value>,
    ) -> Result<()> {
        self.call("Create", json!({"Name": volume, "Opts": options}))
            .await
            .map(drop)
    }

    pub async fn remove(&self, volume: &str) -> Result<()> {
        self.call("Remove", json!({"Name": volume})).await.map(drop)
    }

    /// Mounts the volume for the container `id`; returns where on the host it is.
    pub async fn mount(&self, volume: &str, id: &str) -> Result<PathBuf> {
        let answer = self
            .call("Mount", json!({"Name": volume, "ID": id}))
            .await?;
        match answer["Mountpoint"].as_str() {
            Some(path) if Path::new(path).is_absolute() => Ok(PathBuf::from(path)),
            other => Err(Error::internal(format!(
                "plugin \"{}\" mounted {volume} at {other:?}, not an absolute path",
                self.name
            ))),
        }
    }

    pub async fn unmount(&self, volume: &str, id: &str) -> Result<()> {
        self.call("Unmount", json!({"Name": volume, "ID": id}))
            .await
            .map(drop)
    }

    /// `POST /VolumeDriver.<method>`, its `Err` turned into an error.
    async fn call(&self, method: &str, body: Value) -> Result<Value> {
        let answer = self.post(&format!("/VolumeDriver.{method}"), &body).await?;
        match answer["Err"].as_str().filter(|e| !e.is_empty()) {
            Some(err) => Err(Error::internal(format!(
                "{} volume plugin {}: {err}",
                self.name,
                method.to_lowercase()
            ))),
            None => Ok(answer),
        }
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        let failed = |e: &dyn std::fmt::Display| {
            Error::internal(format!("plugin \"{}\": {path}: {e}", self.name))
        };
        let exchange = async {
            let stream = tokio::net::UnixStream::connect(&self.socket)
                .await
                .map_err(|e| failed(&e))?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(|e| failed(&e))?;
            tokio::spawn(connection);
            let request = Request::post(path)
                .header(hyper::header::HOST, "plugin")
                .header(hyper::header::CONTENT_TYPE, MEDIA_TYPE)
                .header(hyper::header::ACCEPT, MEDIA_TYPE)
                .body(Full::new(Bytes::from(body.to_string())))
                .map_err(|e| failed(&e))?;
            let response = sender.send_request(request).await.map_err(|e| failed(&e))?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| failed(&e))?
                .to_bytes();
            let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            if !status.is_success() {
                let err = answer["Err"].as_str().unwrap_or_default();
                return Err(failed(&format!("status {status} {err}")));
            }
            Ok(answer)
        };
        tokio::time::timeout(CALL_TIMEOUT, exchange)
            .await
            .map_err(|_| failed(&"no answer"))?
    }
}

/// The plugin's socket in `dir`: `<name>.sock`, or the `unix://` address of `<name>.spec`.
fn socket_in(dir: &Path, name: &str) -> Option<PathBuf> {
    let socket = dir.join(format!("{name}.sock"));
    if socket.exists() {
        return Some(socket);
    }
    let spec = std::fs::read_to_string(dir.join(format!("{name}.spec"))).ok()?;
    let path = spec.trim().strip_prefix("unix://")?;
    Path::new(path).is_absolute().then(|| PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugins_are_found_by_socket_or_spec_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(socket_in(dir.path(), "nfs"), None);
        std::fs::write(dir.path().join("nfs.spec"), "unix:///run/nfs/plugin.sock\n").unwrap();
        assert_eq!(
            socket_in(dir.path(), "nfs"),
            Some(PathBuf::from("/run/nfs/plugin.sock"))
        );
        std::fs::write(dir.path().join("tcp.spec"), "tcp://127.0.0.1:8080").unwrap();
        assert_eq!(socket_in(dir.path(), "tcp"), None, "only unix sockets");
        std::fs::write(dir.path().join("rel.spec"), "unix://plugin.sock").unwrap();
        assert_eq!(socket_in(dir.path(), "rel"), None);
    }
}
