//! Timestamps the way the Engine API writes them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Go's zero time, which Docker prints for "never" (a container never started).
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// RFC 3339 with nanoseconds, UTC, trailing zeros trimmed as Go's RFC3339Nano does.
pub fn rfc3339(t: SystemTime) -> String {
    let s = humantime::format_rfc3339_nanos(t).to_string();
    match s.split_once('.') {
        Some((secs, frac)) => {
            let digits = frac.trim_end_matches('Z').trim_end_matches('0');
            if digits.is_empty() {
                format!("{secs}Z")
            } else {
                format!("{secs}.{digits}Z")
            }
        }
        None => s,
    }
}

pub fn now() -> String {
    rfc3339(SystemTime::now())
}

/// Parses what [`rfc3339`] (or any RFC 3339 writer) produced; Go's zero time and garbage give None.
pub fn parse(s: &str) -> Option<SystemTime> {
    if s == ZERO_TIME || s.is_empty() {
        return None;
    }
    humantime::parse_rfc3339_weak(s.trim_end_matches('Z')).ok()
}

pub fn unix_seconds(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Docker's (go-units) HumanDuration: "Less than a second", "3 seconds", "About a minute", ...
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let hours = secs / 3600;
    match secs {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        2..60 => format!("{secs} seconds"),
        60..120 => "About a minute".into(),
        120..3600 => format!("{} minutes", secs / 60),
        3600..7200 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    }
}

/// How long ago `t` was, from now.
pub fn since(t: SystemTime) -> Duration {
    SystemTime::now().duration_since(t).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 120_000_000);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20.12Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(5)),
            "1970-01-01T00:00:05Z"
        );
        assert_eq!(parse(&rfc3339(t)), Some(t));
        assert_eq!(parse(ZERO_TIME), None);
    }

    #[test]
    fn human_durations() {
        assert_eq!(
            human_duration(Duration::from_millis(300)),
            "Less than a second"
        );
        assert_eq!(human_duration(Duration::from_secs(45)), "45 seconds");
        assert_eq!(human_duration(Duration::from_secs(90)), "About a minute");
        assert_eq!(human_duration(Duration::from_secs(600)), "10 minutes");
        assert_eq!(human_duration(Duration::from_secs(5400)), "About an hour");
        assert_eq!(human_duration(Duration::from_secs(3 * 86400)), "3 days");
    }
}
