//! The event stream (`/events`): what happened to containers, images and volumes, kept in a
//! bounded in-memory log for `since` and fanned out to live subscribers.

use crate::filters::Filters;
use serde_json::{Map, Value, json};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;

pub const FILTERS: &[&str] = &[
    "container",
    "event",
    "image",
    "label",
    "type",
    "volume",
    "scope",
];
/// Events kept for `since` queries, as Docker keeps a bounded window too.
const KEPT: usize = 1024;

#[derive(Debug, Clone)]
pub struct Event {
    pub kind: &'static str,
    pub action: String,
    pub id: String,
    pub attributes: Map<String, Value>,
    pub time_nano: i128,
}

impl Event {
    /// Docker's JSON for the event, including the pre-1.22 `status`/`id`/`from` fields that
    /// the docker CLI still prints for containers.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "Type": self.kind,
            "Action": self.action,
            "Actor": {"ID": self.id, "Attributes": self.attributes},
            "scope": "local",
            "time": (self.time_nano / 1_000_000_000) as i64,
            "timeNano": self.time_nano as i64,
        });
        if self.kind == "container" || self.kind == "image" {
            v["status"] = json!(self.action);
            v["id"] = json!(self.id);
            if let Some(image) = self.attributes.get("image") {
                v["from"] = image.clone();
            }
        }
        v
    }

    pub fn matches(&self, f: &Filters) -> bool {
        let attr = |k: &str| self.attributes.get(k).and_then(Value::as_str).unwrap_or("");
        let base_action = self.action.split(':').next().unwrap_or("");
        f.any("type", |t| t == self.kind)
            && f.any("event", |e| e == self.action || e == base_action)
            && f.any("container", |c| {
                self.kind == "container" && (self.id.starts_with(c) || attr("name") == c)
            })
            && f.any("image", |i| {
                attr("image") == i || (self.kind == "image" && (self.id == i || attr("name") == i))
            })
            && f.any("volume", |v| self.kind == "volume" && self.id == v)
            && f.any("scope", |s| s == "local")
            && f.labels_match(&self.attributes)
    }
}

pub struct EventLog {
    recent: Mutex<VecDeque<Event>>,
    live: broadcast::Sender<Event>,
}

impl Default for EventLog {
    fn default() -> Self {
        EventLog {
            recent: Mutex::new(VecDeque::with_capacity(KEPT)),
            live: broadcast::channel(256).0,
        }
    }
}

fn now_nanos() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

impl EventLog {
    pub fn emit(
        &self,
        kind: &'static str,
        action: impl Into<String>,
        id: &str,
        attributes: Map<String, Value>,
    ) {
        let event = Event {
            kind,
            action: action.into(),
            id: id.to_string(),
            attributes,
            time_nano: now_nanos(),
        };
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.len() == KEPT {
            recent.pop_front();
        }
        recent.push_back(event.clone());
        // Nobody listening is fine.
        let _ = self.live.send(event);
    }

    /// Past events after `since` (nanoseconds), and a receiver for what comes next; taken
    /// under one lock so nothing falls between the two.
    pub fn subscribe(&self, since: Option<i128>) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let past = match since {
            Some(s) => recent
                .iter()
                .filter(|e| e.time_nano >= s)
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        (past, self.live.subscribe())
    }
}

/// Attribute maps in one line: `attrs(&[("name", "web"), ("image", "busybox")])`.
pub fn attrs(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_and_history() {
        let log = EventLog::default();
        log.emit(
            "container",
            "start",
            "abc123",
            attrs(&[("name", "web"), ("image", "busybox")]),
        );
        log.emit(
            "container",
            "exec_start: sh",
            "abc123",
            attrs(&[("name", "web")]),
        );
        log.emit("volume", "create", "data", attrs(&[("driver", "local")]));
        let (past, _rx) = log.subscribe(Some(0));
        assert_eq!(past.len(), 3);
        let f = Filters::parse(
            Some(r#"{"container":["web"],"event":["exec_start"]}"#),
            FILTERS,
        )
        .unwrap();
        assert_eq!(past.iter().filter(|e| e.matches(&f)).count(), 1);
        let f = Filters::parse(Some(r#"{"type":["volume"]}"#), FILTERS).unwrap();
        assert_eq!(
            past.iter()
                .filter(|e| e.matches(&f))
                .map(|e| e.id.as_str())
                .collect::<Vec<_>>(),
            ["data"]
        );
        let j = past[0].to_json();
        assert_eq!(
            (
                j["status"].as_str(),
                j["from"].as_str(),
                j["Actor"]["Attributes"]["name"].as_str()
            ),
            (Some("start"), Some("busybox"), Some("web"))
        );
    }
}
