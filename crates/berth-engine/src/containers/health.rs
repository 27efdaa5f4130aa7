//! Healthchecks (HEALTHCHECK, `--health-*`): a probe run inside the container every interval,
//! its results kept in State.Health, `(healthy)` in ps, and `health_status` events.

use super::model::{Container, Status};
use crate::shim;
use crate::{Engine, clock, ids};
use berth_shim_proto::Request;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Probe output kept per result, as Docker keeps it.
const MAX_OUTPUT: usize = 4096;
/// Results kept in State.Health.Log.
const KEPT_RESULTS: usize = 5;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Health {
    pub status: String,
    pub failing_streak: u32,
    pub log: Vec<ProbeResult>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProbeResult {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

/// A container's healthcheck with Docker's defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub argv: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub retries: u32,
}

fn nanos(v: &Value, default: Duration) -> Duration {
    v.as_u64()
        .filter(|n| *n > 0)
        .map(Duration::from_nanos)
        .unwrap_or(default)
}

/// None when the container has no healthcheck (or `NONE`).
pub fn check_of(config: &Value) -> Option<Check> {
    let h = &config["Healthcheck"];
    let test: Vec<String> = h["Test"]
        .as_array()?
        .iter()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect();
    let argv = match test.split_first() {
        Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => rest.to_vec(),
        Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
            vec!["/bin/sh".into(), "-c".into(), rest.join(" ")]
        }
        _ => return None,
    };
    Some(Check {
        argv,
        interval: nanos(&h["Interval"], Duration::from_secs(30)),
        timeout: nanos(&h["Timeout"], Duration::from_secs(30)),
        start_period: nanos(&h["StartPeriod"], Duration::ZERO),
        retries: h["Retries"].as_u64().filter(|r| *r > 0).unwrap_or(3) as u32,
    })
}

/// Docker's State.Health JSON.
pub fn health_json(h: &Health) -> Value {
    let log: Vec<Value> = h
        .log
        .iter()
        .map(|r| serde_json::json!({"Start": r.start, "End": r.end, "ExitCode": r.exit_code, "Output": r.output}))
        .collect();
    serde_json::json!({"Status": h.status, "FailingStreak": h.failing_streak, "Log": log})
}

/// The output of Docker's multiplexed frames, both streams, bounded.
fn demux(frames: &[u8]) -> String {
    let mut out = Vec::new();
    let mut rest = frames;
    while rest.len() >= 8 {
        let len = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        let end = (8 + len).min(rest.len());
        out.extend_from_slice(&rest[8..end]);
        rest = &rest[end..];
    }
    out.truncate(MAX_OUTPUT);
    String::from_utf8_lossy(&out).into_owned()
}

impl Engine {
    /// Starts the container's probe loop, if it has a healthcheck; it ends with the container.
    pub(crate) fn watch_health(self: &Arc<Self>, c: &Container) {
        let Some(check) = check_of(&c.config) else {
            return;
        };
        let (engine, id, started) = (self.clone(), c.id.clone(), c.state.started_at.clone());
        tokio::spawn(async move {
            let began = std::time::Instant::now();
            engine.set_health(&id, &started, |h| h.status = "starting".into());
            loop {
                tokio::time::sleep(check.interval).await;
                match engine.container_record(&id) {
                    Ok(c) if c.state.status == Status::Running && c.state.started_at == started => {
                    }
                    Ok(c) if c.state.status == Status::Paused => continue,
                    _ => return,
                }
                let start = clock::now();
                let (exit_code, output) = engine.probe(&id, &check).await;
                let result = ProbeResult {
                    start,
                    end: clock::now(),
                    exit_code,
                    output,
                };
                let in_start_period = began.elapsed() < check.start_period;
                engine.record_probe(&id, &started, result, check.retries, in_start_period);
            }
        });
    }

    /// Runs the probe in the container; a timeout or failure to start counts as exit 1 and -1.
    async fn probe(&self, id: &str, check: &Check) -> (i32, String) {
        let Ok(c) = self.container_record(id) else {
            return (-1, "container gone".into());
        };
        let exec_id = ids::new_id();
        let Ok(process) = self.probe_process(&c, &check.argv) else {
            return (-1, "cannot build the probe".into());
        };
        let request = Request::Exec {
            exec_id: exec_id.clone(),
            process,
            stdin: false,
            stdout: true,
            stderr: true,
        };
        let exec_dir = self.exec_dir(id);
        let run = async {
            let (mut stream, _) = shim::open(&exec_dir, request)
                .await
                .map_err(|e| e.message)?;
            let mut frames = Vec::new();
            let _ = (&mut stream).take(64 * 1024).read_to_end(&mut frames).await;
            let state = shim::request(
                &exec_dir,
                Request::ExecState {
                    exec_id: exec_id.clone(),
                },
            )
            .await
            .map_err(|e| e.message)?;
            Ok::<_, String>((state.exit.map_or(-1, |e| e.exit_code), demux(&frames)))
        };
        match tokio::time::timeout(check.timeout, run).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => (-1, e),
            Err(_) => (
                1,
                format!("Health check exceeded timeout ({:?})", check.timeout),
            ),
        }
    }

    fn record_probe(
        &self,
        id: &str,
        started: &str,
        result: ProbeResult,
        retries: u32,
        in_start_period: bool,
    ) {
        let ok = result.exit_code == 0;
        let mut became = None;
        self.set_health(id, started, |h| {
            let before = h.status.clone();
            if ok {
                h.failing_streak = 0;
                h.status = "healthy".into();
            } else if !in_start_period {
                h.failing_streak += 1;
                if h.failing_streak >= retries {
                    h.status = "unhealthy".into();
                }
            }
            h.log.push(result);
            let excess = h.log.len().saturating_sub(KEPT_RESULTS);
            h.log.drain(..excess);
            if h.status != before {
                became = Some(h.status.clone());
            }
        });
        if let (Some(status), Ok(c)) = (became, self.container_record(id)) {
            self.container_event(&c, &format!("health_status: {status}"), &[]);
        }
    }

    /// Updates State.Health of the run that started at `started` (not a later one).
    fn set_health(&self, id: &str, started: &str, f: impl FnOnce(&mut Health)) {
        let Ok(mut c) = self.container_record(id) else {
            return;
        };
        if c.state.started_at != started {
            return;
        }
        let mut h = c.state.health.take().unwrap_or_default();
        f(&mut h);
        c.state.health = Some(h);
        let _ = self.db.update_container(&c.id, &c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn checks_and_defaults() {
        let c = check_of(&json!({"Healthcheck": {"Test": ["CMD-SHELL", "test -f /ok"], "Interval": 1_000_000_000u64}})).unwrap();
        assert_eq!(c.argv, vec!["/bin/sh", "-c", "test -f /ok"]);
        assert_eq!(
            (c.interval, c.timeout, c.retries),
            (Duration::from_secs(1), Duration::from_secs(30), 3)
        );
        assert_eq!(
            check_of(&json!({"Healthcheck": {"Test": ["CMD", "true"]}}))
                .unwrap()
                .argv,
            vec!["true"]
        );
        assert!(check_of(&json!({"Healthcheck": {"Test": ["NONE"]}})).is_none());
        assert!(check_of(&json!({})).is_none());
        assert_eq!(demux(&[1, 0, 0, 0, 0, 0, 0, 3, b'o', b'k', b'\n']), "ok\n");
    }
}
