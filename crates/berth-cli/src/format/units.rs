//! Human-readable sizes and durations, rendered the way docker renders them (its go-units
//! package): decimal sizes with 3 significant digits in lists, binary sizes in `info`, and
//! coarse "2 minutes"-style durations.

use std::time::Duration;

const DECIMAL_UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY_UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

/// A decimal size with `precision` significant digits: `human_size(4_860_000, 3)` is "4.86MB".
pub fn human_size(bytes: i64, precision: usize) -> String {
    scaled(bytes as f64, 1000.0, &DECIMAL_UNITS, precision)
}

/// A binary size with 4 significant digits, as `info` prints memory: "23.54GiB".
pub fn binary_size(bytes: i64) -> String {
    scaled(bytes as f64, 1024.0, &BINARY_UNITS, 4)
}

fn scaled(mut size: f64, base: f64, units: &[&str], precision: usize) -> String {
    let mut unit = 0;
    while size >= base && unit < units.len() - 1 {
        size /= base;
        unit += 1;
    }
    format!("{}{}", format_g(size, Some(precision)), units[unit])
}

/// Go's `%g` (and `%.Ng`): the shortest of `%e` and `%f` that keeps the requested significant
/// digits, without trailing zeros. Docker's sizes depend on its quirks ("1e+03kB").
pub fn format_g(value: f64, precision: Option<usize>) -> String {
    if !value.is_finite() {
        return go_special_float(value);
    }
    let precision = precision.map(|p| p.max(1));
    let (negative, digits, point) = decimal_digits(value, precision);
    let sign = if negative { "-" } else { "" };
    let count = digits.len() as i32;
    // Exponent threshold: the precision, lowered to the digit count when every digit is
    // before the point; the shortest form always decides with 6.
    let threshold = match precision {
        None => 6,
        Some(p) if (p as i32) > count && count >= point => count,
        Some(p) => p as i32,
    };
    let exponent = point - 1;
    if exponent < -4 || exponent >= threshold {
        let mut mantissa = digits[..1].to_string();
        if count > 1 {
            mantissa.push('.');
            mantissa.push_str(&digits[1..]);
        }
        return format!("{sign}{mantissa}e{}", go_exponent(exponent));
    }
    format!("{sign}{}", place_point(&digits, point))
}

/// Go's `%e` with `precision` decimals: "1.500000e+00".
pub fn format_e(value: f64, precision: usize) -> String {
    if !value.is_finite() {
        return go_special_float(value);
    }
    let rust = format!("{value:.precision$e}");
    let (mantissa, exponent) = rust.split_once('e').unwrap_or((&rust, "0"));
    format!("{mantissa}e{}", go_exponent(exponent.parse().unwrap_or(0)))
}

fn go_exponent(exponent: i32) -> String {
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{sign}{:02}", exponent.abs())
}

fn go_special_float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value > 0.0 {
        "+Inf".to_string()
    } else {
        "-Inf".to_string()
    }
}

/// The significant decimal digits of `value` (rounded to `precision` digits, or the shortest
/// that round-trips), without trailing zeros, and the position of the decimal point relative
/// to them (`0.05` is digits "5", point -1).
fn decimal_digits(value: f64, precision: Option<usize>) -> (bool, String, i32) {
    let rust = match precision {
        Some(p) => format!("{:.*e}", p - 1, value.abs()),
        None => format!("{:e}", value.abs()),
    };
    let (mantissa, exponent) = rust.split_once('e').unwrap_or((&rust, "0"));
    let mut digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    let point = exponent.parse::<i32>().unwrap_or(0) + 1;
    (value.is_sign_negative() && value != 0.0, digits, point)
}

fn place_point(digits: &str, point: i32) -> String {
    if point <= 0 {
        return format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize));
    }
    let point = point as usize;
    if point >= digits.len() {
        return format!("{digits}{}", "0".repeat(point - digits.len()));
    }
    format!("{}.{}", &digits[..point], &digits[point..])
}

/// A coarse duration, as docker shows ages: "Less than a second", "About a minute",
/// "3 hours", "2 weeks".
pub fn human_duration(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs();
    if seconds < 1 {
        return "Less than a second".to_string();
    }
    if seconds == 1 {
        return "1 second".to_string();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = seconds / 60;
    if minutes == 1 {
        return "About a minute".to_string();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    // Hours are rounded to the nearest hour, half away from zero.
    let hours = (elapsed.as_secs_f64() / 3600.0).round() as u64;
    if hours == 1 {
        return "About an hour".to_string();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", seconds / 3600 / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_sizes_keep_three_significant_digits() {
        assert_eq!(human_size(0, 3), "0B");
        assert_eq!(human_size(999, 3), "999B");
        assert_eq!(human_size(13_300, 3), "13.3kB");
        assert_eq!(human_size(4_860_000, 3), "4.86MB");
        assert_eq!(human_size(1_982_368, 3), "1.98MB");
        assert_eq!(human_size(100_000_000, 3), "100MB");
        assert_eq!(human_size(4_800_000, 3), "4.8MB");
        assert_eq!(human_size(1_500_000_000_000, 3), "1.5TB");
    }

    #[test]
    fn sizes_just_under_a_unit_switch_to_exponent_like_docker() {
        assert_eq!(human_size(999_900, 3), "1e+03kB");
    }

    #[test]
    fn four_digit_and_binary_sizes() {
        assert_eq!(human_size(1_982_368, 4), "1.982MB");
        assert_eq!(binary_size(25_275_645_952), "23.54GiB");
        assert_eq!(binary_size(1024), "1KiB");
        assert_eq!(binary_size(512), "512B");
    }

    #[test]
    fn format_g_matches_go() {
        assert_eq!(format_g(1.0, Some(3)), "1");
        assert_eq!(format_g(0.5, Some(3)), "0.5");
        assert_eq!(format_g(0.00001234, Some(3)), "1.23e-05");
        assert_eq!(format_g(1000.0, Some(3)), "1e+03");
        assert_eq!(format_g(1e6, None), "1e+06");
        assert_eq!(format_g(123456.0, None), "123456");
        assert_eq!(format_g(1234567.0, None), "1.234567e+06");
        assert_eq!(format_g(-2.5, None), "-2.5");
        assert_eq!(format_g(0.0, None), "0");
        assert_eq!(format_g(f64::NAN, None), "NaN");
    }

    #[test]
    fn format_e_uses_two_digit_signed_exponent() {
        assert_eq!(format_e(1.5, 6), "1.500000e+00");
        assert_eq!(format_e(123456.0, 2), "1.23e+05");
        assert_eq!(format_e(0.001, 1), "1.0e-03");
    }

    #[test]
    fn durations_read_like_docker() {
        let s = Duration::from_secs;
        assert_eq!(
            human_duration(Duration::from_millis(400)),
            "Less than a second"
        );
        assert_eq!(human_duration(s(1)), "1 second");
        assert_eq!(human_duration(s(59)), "59 seconds");
        assert_eq!(human_duration(s(60)), "About a minute");
        assert_eq!(human_duration(s(119)), "About a minute");
        assert_eq!(human_duration(s(120)), "2 minutes");
        assert_eq!(human_duration(s(59 * 60)), "59 minutes");
        assert_eq!(human_duration(s(60 * 60)), "About an hour");
        assert_eq!(human_duration(s(89 * 60)), "About an hour");
        assert_eq!(human_duration(s(90 * 60)), "2 hours");
        assert_eq!(human_duration(s(47 * 3600)), "47 hours");
        assert_eq!(human_duration(s(48 * 3600)), "2 days");
        assert_eq!(human_duration(s(14 * 86400)), "2 weeks");
        assert_eq!(human_duration(s(60 * 86400)), "2 months");
        assert_eq!(human_duration(s(730 * 86400)), "2 years");
    }
}
