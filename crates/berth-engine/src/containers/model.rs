//! The container record kept in the state database.

use crate::clock::ZERO_TIME;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.to_string())).ok()
    }
}

/// What Docker calls State in `inspect`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    pub pid: i32,
    pub shim_pid: i32,
    pub exit_code: i32,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    /// Stopped or killed through the API: its restart policy does not bring it back.
    #[serde(default)]
    pub manually_stopped: bool,
    /// The kernel's OOM killer killed a process of it during its last run.
    #[serde(default)]
    pub oom_killed: bool,
    /// The healthcheck's results, for containers that have one.
    #[serde(default)]
    pub health: Option<super::health::Health>,
}

impl Default for State {
    fn default() -> Self {
        State {
            status: Status::Created,
            pid: 0,
            shim_pid: 0,
            exit_code: 0,
            error: String::new(),
            oom_killed: false,
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
            manually_stopped: false,
            health: None,
        }
    }
}

impl State {
    pub fn running(&self) -> bool {
        matches!(
            self.status,
            Status::Running | Status::Paused | Status::Restarting
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Container {
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    pub created: String,
    /// The image as the user named it ("busybox"), shown by `ps`.
    pub image_name: String,
    /// `sha256:<hex>` of the image's config.
    pub image_id: String,
    /// Chain ids of the image's layers, bottom first.
    pub layers: Vec<String>,
    pub path: String,
    pub args: Vec<String>,
    /// Docker's Config, with every key, after merging the image's config.
    pub config: Value,
    /// Docker's HostConfig, with every key.
    pub host_config: Value,
    pub state: State,
    pub restart_count: u32,
    #[serde(default)]
    pub mounts: Vec<super::mounts::MountPoint>,
    /// Network name -> this container's attachment to it.
    #[serde(default)]
    pub networks: std::collections::BTreeMap<String, crate::networks::Attachment>,
}

impl Container {
    pub fn short_id(&self) -> &str {
        &self.id[..12]
    }

    /// The named and anonymous volumes it mounts.
    pub fn volume_names(&self) -> Vec<String> {
        self.mounts
            .iter()
            .filter_map(|m| m.volume.clone())
            .collect()
    }

    pub fn labels(&self) -> serde_json::Map<String, Value> {
        self.config["Labels"]
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    /// Whether the restart policy brings the container back after it exited with `code`.
    pub fn should_restart(&self, code: i32) -> bool {
        if self.state.manually_stopped || self.auto_remove() {
            return false;
        }
        let policy = &self.host_config["RestartPolicy"];
        match policy["Name"].as_str().unwrap_or("no") {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                let max = policy["MaximumRetryCount"].as_u64().unwrap_or(0);
                code != 0 && (max == 0 || u64::from(self.restart_count) < max)
            }
            _ => false,
        }
    }

    /// Whether berthd starts it when berthd itself starts.
    pub fn starts_with_daemon(&self) -> bool {
        let name = self.host_config["RestartPolicy"]["Name"]
            .as_str()
            .unwrap_or("no");
        name == "always" || (name == "unless-stopped" && !self.state.manually_stopped)
    }

    pub fn auto_remove(&self) -> bool {
        self.host_config["AutoRemove"].as_bool().unwrap_or(false)
    }

    /// `ps`'s COMMAND: the path and arguments joined by spaces, as Docker lists it.
    pub fn command_line(&self) -> String {
        std::iter::once(self.path.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}
