//! `POST /containers/{id}/update` (`docker update`): new resource limits and restart policy,
//! applied to a running container's cgroup at once and kept for its next starts.

use serde_json::Value;

use super::{limits, resources};
use crate::Engine;
use crate::error::{Error, Result};

/// The HostConfig fields `docker update` changes. In the request a zero (or empty string)
/// means "leave as it is", as the docker CLI sends every field.
const UPDATABLE_NUMBERS: &[&str] = &[
    "BlkioWeight",
    "CpuShares",
    "CpuPeriod",
    "CpuQuota",
    "CpuRealtimePeriod",
    "CpuRealtimeRuntime",
    "Memory",
    "MemoryReservation",
    "MemorySwap",
    "NanoCpus",
];
const UPDATABLE_TEXTS: &[&str] = &["CpusetCpus", "CpusetMems"];

/// `current` with the changes `body` asks for; a value of the wrong type is refused, so it
/// never reaches the record.
fn updated_host_config(current: &Value, body: &Value) -> Result<Value> {
    let mut hc = current.clone();
    let wrong = |field: &str| Error::invalid(format!("invalid value for {field}: {}", body[field]));
    for field in UPDATABLE_NUMBERS {
        match &body[*field] {
            Value::Null => {}
            given => match given.as_i64() {
                Some(0) => {}
                Some(_) => hc[*field] = given.clone(),
                None => return Err(wrong(field)),
            },
        }
    }
    for field in UPDATABLE_TEXTS {
        match &body[*field] {
            Value::Null => {}
            Value::String(text) if text.is_empty() => {}
            Value::String(_) => hc[*field] = body[*field].clone(),
            _ => return Err(wrong(field)),
        }
    }
    // null leaves it; 0 and -1 both mean unlimited.
    match &body["PidsLimit"] {
        Value::Null => {}
        given => {
            let pids = given.as_i64().ok_or_else(|| wrong("PidsLimit"))?;
            hc["PidsLimit"] = (if pids <= 0 { -1 } else { pids }).into();
        }
    }
    let policy = &body["RestartPolicy"];
    if policy["Name"].as_str().is_some_and(|n| !n.is_empty()) {
        if hc["AutoRemove"].as_bool() == Some(true) {
            return Err(Error::invalid(
                "Restart policy cannot be updated because AutoRemove is enabled for the container",
            ));
        }
        hc["RestartPolicy"] = policy.clone();
    }
    Ok(hc)
}

impl Engine {
    /// Applies `body` to the container `name`; returns Docker's warnings (none).
    pub async fn update_container(&self, name: &str, body: &Value) -> Result<Vec<String>> {
        if !body.is_object() {
            return Err(Error::invalid("the update must be a JSON object"));
        }
        let id = self.resolve_container(name)?;
        let live = self.live.get(&id);
        let _guard = live.lock.lock().await;
        let mut c = self.container_record(&id)?;
        let host_config = updated_host_config(&c.host_config, body)?;
        limits::validate(&host_config)?;
        let new_resources = resources::from_host_config(&host_config)?;
        if c.state.running() {
            let cgroup = self.open_cgroup(&c)?;
            tokio::task::spawn_blocking(move || cgroup.apply(&new_resources))
                .await
                .map_err(|e| Error::internal(e.to_string()))?
                .map_err(|e| Error::internal(format!("Cannot update container {id}: {e}")))?;
        }
        c.host_config = host_config;
        self.save_container(&c)?;
        self.container_event(&c, "update", &[]);
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn zeros_leave_limits_and_values_replace_them() {
        let current = json!({"Memory": 64 << 20, "CpuShares": 512, "PidsLimit": 10,
            "RestartPolicy": {"Name": "no"}, "AutoRemove": false});
        let hc = updated_host_config(
            &current,
            &json!({"Memory": 0, "CpuShares": 1024, "CpusetCpus": "", "PidsLimit": 0,
                "RestartPolicy": {"Name": "always", "MaximumRetryCount": 0}}),
        )
        .unwrap();
        assert_eq!(hc["Memory"], 64 << 20);
        assert_eq!(hc["CpuShares"], 1024);
        assert_eq!(hc["PidsLimit"], -1);
        assert_eq!(hc["RestartPolicy"]["Name"], "always");
        let same = updated_host_config(&current, &json!({"PidsLimit": null})).unwrap();
        assert_eq!(same, current);
    }

    #[test]
    fn values_of_the_wrong_type_are_refused() {
        let current = json!({"Memory": 64 << 20});
        for body in [
            json!({"Memory": "lots"}),
            json!({"CpusetCpus": 3}),
            json!({"PidsLimit": "x"}),
        ] {
            assert!(updated_host_config(&current, &body).is_err(), "{body}");
        }
    }

    #[test]
    fn an_auto_removed_container_keeps_its_policy() {
        let current = json!({"AutoRemove": true, "RestartPolicy": {"Name": "no"}});
        let refused = updated_host_config(&current, &json!({"RestartPolicy": {"Name": "always"}}));
        assert!(refused.unwrap_err().to_string().contains("AutoRemove"));
    }
}
