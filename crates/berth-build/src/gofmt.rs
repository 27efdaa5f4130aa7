//! The few Go formatting rules that show up in Docker's image history and messages:
//! `%q` of strings and string slices, `time.Duration` printing and parsing.

use std::fmt::Write as _;

/// Go's `strconv.Quote` (what `%q` prints for a string).
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// `%q` of a `[]string`: `["a" "b c"]`.
pub(crate) fn quote_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", quoted.join(" "))
}

/// `%v` of a `[]string`: `[a b c]`.
pub(crate) fn plain_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

/// `%q` of an integer: Go prints it as a quoted rune (`'\x03'`).
pub(crate) fn quote_rune(value: i64) -> String {
    let mut out = String::from("'");
    match u32::try_from(value).ok().and_then(char::from_u32) {
        Some(c) => push_escaped(&mut out, c, '\''),
        None => out.push('\u{fffd}'),
    }
    out.push('\'');
    out
}

fn push_escaped(out: &mut String, c: char, quote: char) {
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        c if (c as u32) < 0x20 || c == '\x7f' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if c.is_control() => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => out.push(c),
    }
}

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// Go's `time.Duration.String()`: `0s`, `1.5ms`, `30s`, `5m0s`, `1h0m0s`.
pub(crate) fn duration(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    if u == 0 {
        return "0s".to_owned();
    }
    if u < NANOS_PER_SECOND {
        let (unit, digits) = match u {
            0..1_000 => ("ns", 0),
            1_000..1_000_000 => ("µs", 3),
            _ => ("ms", 6),
        };
        return format!("{sign}{}{unit}", with_fraction(u, digits));
    }
    let seconds = u / NANOS_PER_SECOND;
    let secs_part = with_fraction((seconds % 60) * NANOS_PER_SECOND + u % NANOS_PER_SECOND, 9);
    let minutes = seconds / 60;
    match (minutes / 60, minutes % 60) {
        (0, 0) => format!("{sign}{secs_part}s"),
        (0, m) => format!("{sign}{m}m{secs_part}s"),
        (h, m) => format!("{sign}{h}h{m}m{secs_part}s"),
    }
}

/// `value / 10^digits` with its fraction, trailing zeros (and a bare point) dropped.
fn with_fraction(value: u64, digits: u32) -> String {
    let scale = 10u64.pow(digits);
    let (whole, frac) = (value / scale, value % scale);
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:0width$}", width = digits as usize);
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// Go's `time.ParseDuration`: `300ms`, `1.5h`, `2h45m`, `-1s`; units ns, us (µs), ms, s, m, h.
pub(crate) fn parse_duration(text: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", quote(text));
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_end];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale: f64 = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration {}", quote(text))),
            unit => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    quote(unit),
                    quote(text)
                ));
            }
        };
        total += value * scale;
        rest = &rest[unit_end..];
    }
    if total > i64::MAX as f64 {
        return Err(invalid());
    }
    // Durations are whole nanoseconds; the float only carries fractions like "1.5s".
    let nanos = total.round() as i64;
    Ok(if negative { -nanos } else { nanos })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(quote("a\"b\\c\n\x01é"), r#""a\"b\\c\n\x01é""#);
        let list = [
            "/bin/sh".to_owned(),
            "-c".to_owned(),
            "echo \"hi\"".to_owned(),
        ];
        assert_eq!(quote_list(&list), r#"["/bin/sh" "-c" "echo \"hi\""]"#);
        assert_eq!(plain_list(&list[..2]), "[/bin/sh -c]");
        assert_eq!(quote_rune(0), r"'\x00'");
        assert_eq!(quote_rune(3), r"'\x03'");
        assert_eq!(quote_rune(65), "'A'");
        assert_eq!(quote_rune(39), r"'\''");
    }

    #[test]
    fn formats_durations_like_go() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (1_500_000, "1.5ms"),
            (30 * NANOS_PER_SECOND as i64, "30s"),
            (1_500_000_000, "1.5s"),
            (300 * NANOS_PER_SECOND as i64, "5m0s"),
            (3600 * NANOS_PER_SECOND as i64, "1h0m0s"),
            (3723 * NANOS_PER_SECOND as i64 + 5, "1h2m3.000000005s"),
            (-2 * NANOS_PER_SECOND as i64, "-2s"),
        ];
        for (nanos, text) in cases {
            assert_eq!(duration(nanos), text);
        }
    }

    #[test]
    fn parses_durations_like_go() {
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("30s"), Ok(30_000_000_000));
        assert_eq!(parse_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration("500ms"), Ok(500_000_000));
        assert_eq!(parse_duration("10us"), Ok(10_000));
        assert_eq!(parse_duration("-1s"), Ok(-1_000_000_000));
        assert_eq!(
            parse_duration("10").unwrap_err(),
            r#"time: missing unit in duration "10""#
        );
        assert_eq!(
            parse_duration("3d").unwrap_err(),
            r#"time: unknown unit "d" in duration "3d""#
        );
        assert!(parse_duration("").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("1..2s").is_err());
    }
}
