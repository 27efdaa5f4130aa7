//! Times as Docker writes them: RFC 3339 in UTC with nanoseconds and Go's `RFC3339Nano`
//! trimming (trailing zeros of the fraction dropped, and the dot with them).

use std::time::SystemTime;

pub fn rfc3339_nano(time: SystemTime) -> String {
    let full = humantime::format_rfc3339_nanos(time).to_string();
    // "2026-11-28T08:00:00.123400000Z": trim the fraction's zeros, then a bare dot.
    let Some(body) = full.strip_suffix('Z') else {
        return full;
    };
    let body = match body.split_once('.') {
        Some((seconds, fraction)) => {
            let fraction = fraction.trim_end_matches('0');
            if fraction.is_empty() {
                seconds.to_string()
            } else {
                format!("{seconds}.{fraction}")
            }
        }
        None => body.to_string(),
    };
    body + "Z"
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn fractions_are_trimmed_like_go() {
        let at = |secs, nanos| rfc3339_nano(UNIX_EPOCH + Duration::new(secs, nanos));
        assert_eq!(
            at(1_795_852_800, 123_456_789),
            "2026-11-28T08:00:00.123456789Z"
        );
        assert_eq!(at(1_795_852_800, 123_400_000), "2026-11-28T08:00:00.1234Z");
        assert_eq!(at(1_795_852_800, 0), "2026-11-28T08:00:00Z");
    }
}
