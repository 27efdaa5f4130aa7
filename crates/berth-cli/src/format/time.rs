//! Timestamps as docker shows and reads them: Go's `time.String()` in local time for
//! `CreatedAt`, RFC 3339 for history, "2 minutes ago" ages, and `--since`/`--until` values
//! that may be durations, dates or Unix seconds.

use std::time::Duration;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};

use super::units::human_duration;

fn local(unix_seconds: i64) -> Zoned {
    let timestamp = Timestamp::from_second(unix_seconds).unwrap_or(Timestamp::UNIX_EPOCH);
    timestamp.to_zoned(TimeZone::system())
}

/// Go's `time.Time.String()` in local time: "2026-11-28 08:26:52 +0000 UTC".
pub fn go_time(unix_seconds: i64) -> String {
    local(unix_seconds)
        .strftime("%Y-%m-%d %H:%M:%S %z %Z")
        .to_string()
}

/// RFC 3339 in local time, with `Z` for UTC as Go writes it.
pub fn rfc3339(unix_seconds: i64) -> String {
    let zoned = local(unix_seconds);
    if zoned.offset().seconds() == 0 {
        zoned.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

/// An RFC 3339 time as Go's `time.ANSIC` in local time ("Thu May  7 21:09:36 2026"), as
/// `version` shows build times; other text is returned as it is.
pub fn ansic(rfc3339: &str) -> String {
    match rfc3339.parse::<Timestamp>() {
        Ok(timestamp) => timestamp
            .to_zoned(TimeZone::system())
            .strftime("%a %b %e %H:%M:%S %Y")
            .to_string(),
        Err(_) => rfc3339.to_string(),
    }
}

/// "3 minutes ago": the age of `unix_seconds` at `now`.
pub fn ago(unix_seconds: i64, now: Timestamp) -> String {
    format!("{} ago", human_duration(elapsed(unix_seconds, now)))
}

/// How long before `now` `unix_seconds` was; zero if it is in the future.
pub fn elapsed(unix_seconds: i64, now: Timestamp) -> Duration {
    let then = Timestamp::from_second(unix_seconds).unwrap_or(Timestamp::UNIX_EPOCH);
    Duration::try_from(now.duration_since(then)).unwrap_or(Duration::ZERO)
}

/// A `--since`/`--until` value as Unix seconds: a Go duration before `now` ("10m",
/// "1h30m"), an RFC 3339 time, a local date or date-time, or Unix seconds.
pub fn parse_time_filter(value: &str, now: Timestamp) -> Result<i64, String> {
    if value != "0"
        && let Some(duration) = parse_go_duration(value)
    {
        return now
            .checked_sub(duration)
            .map(Timestamp::as_second)
            .map_err(|e| e.to_string());
    }
    let failed = || format!("failed to parse value as time or duration: {value:?}");
    if value.contains('-') {
        if let Ok(timestamp) = value.parse::<Timestamp>() {
            return Ok(timestamp.as_second());
        }
        let civil = value
            .parse::<DateTime>()
            .or_else(|_| {
                value
                    .parse::<Date>()
                    .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
            })
            .map_err(|_| failed())?;
        return civil
            .to_zoned(TimeZone::system())
            .map(|z| z.timestamp().as_second())
            .map_err(|e| e.to_string());
    }
    let seconds = value.split('.').next().unwrap_or_default();
    seconds.parse::<i64>().map_err(|_| failed())
}

/// Go's `time.ParseDuration`: signed sequences of decimal numbers with units
/// (ns, us, µs, ms, s, m, h), "0" alone being zero.
pub fn parse_go_duration(text: &str) -> Option<SignedDuration> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Some(SignedDuration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total_nanos: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per_unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total_nanos += number * nanos_per_unit;
    }
    let nanos = if negative { -total_nanos } else { total_nanos };
    Some(SignedDuration::from_nanos(nanos as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::from_second(1_700_000_000).unwrap()
    }

    #[test]
    fn go_durations() {
        assert_eq!(
            parse_go_duration("10m"),
            Some(SignedDuration::from_secs(600))
        );
        assert_eq!(
            parse_go_duration("1h30m"),
            Some(SignedDuration::from_secs(5400))
        );
        assert_eq!(
            parse_go_duration("1.5h"),
            Some(SignedDuration::from_secs(5400))
        );
        assert_eq!(
            parse_go_duration("250ms"),
            Some(SignedDuration::from_millis(250))
        );
        assert_eq!(
            parse_go_duration("-2s"),
            Some(SignedDuration::from_secs(-2))
        );
        assert_eq!(parse_go_duration("0"), Some(SignedDuration::ZERO));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration("2024-01-01"), None);
        assert_eq!(parse_go_duration("5d"), None);
    }

    #[test]
    fn time_filters() {
        assert_eq!(parse_time_filter("10m", now()), Ok(1_700_000_000 - 600));
        assert_eq!(
            parse_time_filter("2023-11-14T22:13:20Z", now()),
            Ok(1_700_000_000)
        );
        assert_eq!(
            parse_time_filter("2023-11-14T23:13:20+01:00", now()),
            Ok(1_700_000_000)
        );
        assert_eq!(parse_time_filter("1699999999", now()), Ok(1_699_999_999));
        assert_eq!(parse_time_filter("1699999999.5", now()), Ok(1_699_999_999));
        assert_eq!(
            parse_time_filter("yesterday", now()),
            Err("failed to parse value as time or duration: \"yesterday\"".to_string())
        );
        assert!(parse_time_filter("2023-11-14", now()).is_ok());
        assert!(parse_time_filter("2023-13-99", now()).is_err());
    }

    #[test]
    fn ansic_build_times() {
        let text = ansic("2026-05-07T21:09:36.000000000+00:00");
        assert_eq!(text.len(), "Thu May  7 21:09:36 2026".len(), "{text}");
        assert_eq!(ansic("unknown"), "unknown");
    }

    #[test]
    fn ages() {
        assert_eq!(ago(1_700_000_000 - 150, now()), "2 minutes ago");
        assert_eq!(ago(1_700_000_000 + 10, now()), "Less than a second ago");
    }

    #[test]
    fn rfc3339_and_go_time_shapes() {
        let rfc = rfc3339(1_700_000_000);
        assert!(rfc.starts_with("2023-11-1"), "{rfc}");
        // "2023-11-14 22:13:20 +0000 UTC" in whatever zone the machine is in.
        let go = go_time(1_700_000_000);
        let parts: Vec<&str> = go.split(' ').collect();
        assert_eq!(parts.len(), 4, "{go}");
        assert!(
            parts[2].starts_with(['+', '-']) && parts[2].len() == 5,
            "{go}"
        );
    }
}
