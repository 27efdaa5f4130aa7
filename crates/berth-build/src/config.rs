//! The image config a build reads from its base image and writes for every step: Docker's
//! image JSON with its container `config`, `rootfs` and `history`. Fields the builder does not
//! know in a base image's container config are carried over untouched.

use std::collections::BTreeMap;
use std::time::SystemTime;

use berth_image::Digest;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{BuildError, Result};

/// Serializes as `{}` (Docker's `struct{}` in port and volume sets).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Empty {}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Docker's container `Config` as an image records it, keys in Docker's order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerConfig {
    #[serde(default)]
    pub(crate) hostname: String,
    #[serde(default)]
    pub(crate) domainname: String,
    #[serde(default)]
    pub(crate) user: String,
    #[serde(default)]
    pub(crate) attach_stdin: bool,
    #[serde(default)]
    pub(crate) attach_stdout: bool,
    #[serde(default)]
    pub(crate) attach_stderr: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) exposed_ports: Option<BTreeMap<String, Empty>>,
    #[serde(default)]
    pub(crate) tty: bool,
    #[serde(default)]
    pub(crate) open_stdin: bool,
    #[serde(default)]
    pub(crate) stdin_once: bool,
    #[serde(default)]
    pub(crate) env: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) healthcheck: Option<HealthConfig>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub(crate) args_escaped: bool,
    #[serde(default)]
    pub(crate) image: String,
    #[serde(default)]
    pub(crate) volumes: Option<BTreeMap<String, Empty>>,
    #[serde(default)]
    pub(crate) working_dir: String,
    #[serde(default)]
    pub(crate) entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) on_build: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) stop_signal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) shell: Option<Vec<String>>,
    /// Anything else a base image had (`StopTimeout`, `MacAddress`, ...), kept as is.
    #[serde(flatten)]
    pub(crate) other: serde_json::Map<String, Value>,
}

impl ContainerConfig {
    /// Sets `KEY=value`, replacing an existing entry for the key in place.
    pub(crate) fn set_env(&mut self, key: &str, value: &str) {
        let env = self.env.get_or_insert_with(Vec::new);
        let entry = format!("{key}={value}");
        match env
            .iter_mut()
            .find(|kv| kv.split_once('=').map_or(kv.as_str(), |(k, _)| k) == key)
        {
            Some(existing) => *existing = entry,
            None => env.push(entry),
        }
    }

    pub(crate) fn env(&self) -> &[String] {
        self.env.as_deref().unwrap_or_default()
    }

    pub(crate) fn has_env(&self, key: &str) -> bool {
        self.env()
            .iter()
            .any(|kv| kv.split_once('=').map_or(kv.as_str(), |(k, _)| k) == key)
    }

    /// The shell that runs shell-form commands.
    pub(crate) fn shell(&self) -> Vec<String> {
        match &self.shell {
            Some(shell) if !shell.is_empty() => shell.clone(),
            _ => vec!["/bin/sh".to_owned(), "-c".to_owned()],
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct HealthConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) test: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) interval: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) timeout: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) start_period: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) start_interval: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) retries: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct History {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) author: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) comment: String,
    #[serde(default)]
    pub(crate) created: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) created_by: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub(crate) empty_layer: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RootFs {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) diff_ids: Vec<Digest>,
}

/// An image config. Keys are written in alphabetical order, as berth's other image writers do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ImageConfig {
    #[serde(default)]
    pub(crate) architecture: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) author: String,
    #[serde(default)]
    pub(crate) config: ContainerConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) created: Option<String>,
    #[serde(default)]
    pub(crate) history: Vec<History>,
    #[serde(default)]
    pub(crate) os: String,
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) os_features: Vec<String>,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub(crate) os_version: String,
    pub(crate) rootfs: RootFs,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) variant: String,
}

impl ImageConfig {
    /// What `FROM scratch` starts from: no layers, this machine's platform.
    pub(crate) fn scratch() -> Self {
        Self {
            architecture: host_architecture().to_owned(),
            author: String::new(),
            config: ContainerConfig::default(),
            created: None,
            history: Vec::new(),
            os: "linux".to_owned(),
            os_features: Vec::new(),
            os_version: String::new(),
            rootfs: RootFs {
                kind: "layers".to_owned(),
                diff_ids: Vec::new(),
            },
            variant: String::new(),
        }
    }

    pub(crate) fn from_bytes(bytes: &[u8], what: &str) -> Result<Self> {
        serde_json::from_slice(bytes)
            .map_err(|e| BuildError::Contract(format!("the config of {what} is not valid: {e}")))
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        // Serializing plain structs, strings and maps cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// This machine's architecture as Go (and so image configs) name it.
pub(crate) fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// RFC 3339 in UTC with as many fraction digits as needed, like Go's `time.RFC3339Nano`.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let full = humantime::format_rfc3339_nanos(time).to_string();
    let body = full.trim_end_matches('Z');
    match body.split_once('.') {
        Some((seconds, fraction)) if !fraction.trim_end_matches('0').is_empty() => {
            format!("{seconds}.{}Z", fraction.trim_end_matches('0'))
        }
        Some((seconds, _)) => format!("{seconds}Z"),
        None => format!("{body}Z"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn reads_a_docker_config_and_keeps_unknown_fields() {
        let json = br#"{"architecture":"amd64","config":{"Env":["PATH=/bin"],"Cmd":["sh"],
            "StopTimeout":5,"Labels":null},"created":"2024-01-01T00:00:00Z","history":[
            {"created":"2024-01-01T00:00:00Z","created_by":"/bin/sh -c #(nop)  CMD [\"sh\"]",
            "empty_layer":true}],"os":"linux","rootfs":{"type":"layers","diff_ids":[
            "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]}}"#;
        let config = ImageConfig::from_bytes(json, "busybox").unwrap();
        assert_eq!(config.config.env(), ["PATH=/bin"]);
        assert_eq!(config.config.other["StopTimeout"], 5);
        assert!(config.history[0].empty_layer);
        let again: Value = serde_json::from_slice(&config.to_bytes()).unwrap();
        assert_eq!(again["config"]["StopTimeout"], 5);
        assert_eq!(again["config"]["Labels"], Value::Null);
        assert_eq!(again["config"]["Image"], "");
        assert!(again["config"].get("Healthcheck").is_none());
        assert_eq!(again["rootfs"]["diff_ids"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn bad_configs_are_contract_errors() {
        let err = ImageConfig::from_bytes(
            b"{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"x\"]}}",
            "img",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("build host: the config of img is not valid")
        );
    }

    #[test]
    fn env_entries_are_replaced_in_place() {
        let mut c = ContainerConfig::default();
        c.set_env("A", "1");
        c.set_env("B", "2");
        c.set_env("A", "3");
        assert_eq!(c.env(), ["A=3", "B=2"]);
        assert!(c.has_env("B") && !c.has_env("C"));
        assert_eq!(c.shell(), ["/bin/sh", "-c"]);
    }

    #[test]
    fn times_are_formatted_like_go() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_689_600);
        assert_eq!(rfc3339(t), "2025-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(t + Duration::from_millis(250)),
            "2025-01-01T00:00:00.25Z"
        );
    }
}
