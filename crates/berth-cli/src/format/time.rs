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

/// Go's `time.Time.String()` for a time the daemon sent as RFC 3339 text: in the offset it
/// was sent with, nanoseconds without trailing zeros ("2026-11-28 09:06:04.460825034 +0000
/// UTC"), the zone named as Go names it (UTC, the local zone's abbreviation when the offset
/// is the local one, else the offset again). Text that is not such a time is returned as is.
pub fn go_time_rfc3339(text: &str) -> String {
    let Ok(timestamp) = text.parse::<Timestamp>() else {
        return text.to_string();
    };
    let utc = text.ends_with(['Z', 'z']);
    let offset = if utc {
        jiff::tz::Offset::UTC
    } else {
        // A parsed time that is not in UTC ends with its offset: "+01:00", "-05:00".
        let suffix = &text[text.rfind(['+', '-']).unwrap_or(0)..];
        let (hours, minutes) = suffix
            .get(1..)
            .unwrap_or_default()
            .split_once(':')
            .unwrap_or_default();
        let seconds =
            hours.parse::<i32>().unwrap_or(0) * 3600 + minutes.parse::<i32>().unwrap_or(0) * 60;
        let seconds = if suffix.starts_with('-') {
            -seconds
        } else {
            seconds
        };
        jiff::tz::Offset::from_seconds(seconds).unwrap_or(jiff::tz::Offset::UTC)
    };
    let zoned = timestamp.to_zoned(TimeZone::fixed(offset));
    let nanos = format!("{:09}", zoned.subsec_nanosecond());
    let nanos = nanos.trim_end_matches('0');
    let fraction = if nanos.is_empty() {
        String::new()
    } else {
        format!(".{nanos}")
    };
    let numeric = zoned.strftime("%z").to_string();
    let local = timestamp.to_zoned(TimeZone::system());
    let name = if utc {
        "UTC".to_string()
    } else if local.offset() == offset {
        local.strftime("%Z").to_string()
    } else {
        numeric.clone()
    };
    format!(
        "{}{fraction} {numeric} {name}",
        zoned.strftime("%Y-%m-%d %H:%M:%S")
    )
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
    match time_filter(value, now)? {
        TimeFilter::At(timestamp) => Ok(timestamp.as_second()),
        TimeFilter::Unix(seconds) => {
            let whole = seconds.split('.').next().unwrap_or_default();
            whole.parse::<i64>().map_err(|_| failed_to_parse(value))
        }
    }
}

/// A `--since`/`--until` value as the API takes it (`events`): seconds, with nanoseconds
/// when the value was a date, or Unix seconds passed on as written.
pub fn api_time_filter(value: &str, now: Timestamp) -> Result<String, String> {
    Ok(match time_filter(value, now)? {
        TimeFilter::Unix(seconds) => seconds.to_string(),
        TimeFilter::At(timestamp) if parse_go_duration(value).is_some() => {
            timestamp.as_second().to_string()
        }
        TimeFilter::At(timestamp) => {
            format!(
                "{}.{:09}",
                timestamp.as_second(),
                timestamp.subsec_nanosecond()
            )
        }
    })
}

enum TimeFilter<'a> {
    At(Timestamp),
    /// Unix seconds as given, perhaps with a fraction.
    Unix(&'a str),
}

fn failed_to_parse(value: &str) -> String {
    format!("failed to parse value as time or duration: {value:?}")
}

fn time_filter(value: &str, now: Timestamp) -> Result<TimeFilter<'_>, String> {
    if value != "0"
        && let Some(duration) = parse_go_duration(value)
    {
        return now
            .checked_sub(duration)
            .map(TimeFilter::At)
            .map_err(|e| e.to_string());
    }
    if value.contains('-') {
        if let Ok(timestamp) = value.parse::<Timestamp>() {
            return Ok(TimeFilter::At(timestamp));
        }
        let civil = value
            .parse::<DateTime>()
            .or_else(|_| {
                value
                    .parse::<Date>()
                    .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
            })
            .map_err(|_| failed_to_parse(value))?;
        return civil
            .to_zoned(TimeZone::system())
            .map(|z| TimeFilter::At(z.timestamp()))
            .map_err(|e| e.to_string());
    }
    let (seconds, fraction) = value.split_once('.').unwrap_or((value, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if digits(seconds) && digits(fraction) {
        Ok(TimeFilter::Unix(value))
    } else {
        Err(failed_to_parse(value))
    }
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
    fn api_time_filters() {
        assert_eq!(api_time_filter("10m", now()), Ok("1699999400".to_string()));
        assert_eq!(
            api_time_filter("1699999999.5", now()),
            Ok("1699999999.5".to_string())
        );
        assert_eq!(
            api_time_filter("2023-11-14T22:13:20.25Z", now()),
            Ok("1700000000.250000000".to_string())
        );
        assert!(api_time_filter("soon", now()).is_err());
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
    fn daemon_times_print_like_go() {
        assert_eq!(
            go_time_rfc3339("2026-11-28T09:06:04.460825034Z"),
            "2026-11-28 09:06:04.460825034 +0000 UTC"
        );
        assert_eq!(
            go_time_rfc3339("2026-11-28T09:06:04.5Z"),
            "2026-11-28 09:06:04.5 +0000 UTC"
        );
        assert_eq!(
            go_time_rfc3339("2026-11-28T09:06:04Z"),
            "2026-11-28 09:06:04 +0000 UTC"
        );
        let shifted = go_time_rfc3339("2026-11-28T10:06:04+01:00");
        assert!(
            shifted.starts_with("2026-11-28 10:06:04 +0100 "),
            "{shifted}"
        );
        assert_eq!(go_time_rfc3339("garbage"), "garbage");
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
