//! Values with a unit as compose writes them: durations (`1m30s`), byte sizes (`512m`), and
//! commands given as one string (split like a shell splits words).

use std::fmt;

use serde::Serialize;

/// A duration in nanoseconds, written the way Go writes one (`1m30s`, `500ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub i64);

impl Duration {
    pub fn as_nanos(self) -> i64 {
        self.0
    }

    /// Parses Go's duration syntax: a sequence of decimal numbers with units
    /// (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), e.g. `1h2m3.5s`; a bare `0` is zero.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid duration {s:?}");
        let (negative, mut rest) = match s.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        if rest == "0" {
            return Ok(Duration(0));
        }
        if rest.is_empty() {
            return Err(bad());
        }
        let mut total: i128 = 0;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(|| format!("invalid duration {s:?}: missing unit"))?;
            let (num, after) = rest.split_at(num_len);
            if num.is_empty() || num == "." {
                return Err(bad());
            }
            let unit_len = after
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(after.len());
            let (unit, next) = after.split_at(unit_len);
            let scale: i128 = match unit {
                "ns" => 1,
                "us" | "µs" | "μs" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "m" => 60_000_000_000,
                "h" => 3_600_000_000_000,
                _ => return Err(format!("invalid duration {s:?}: unknown unit {unit:?}")),
            };
            let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
            if !frac.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let whole: i128 = if whole.is_empty() {
                0
            } else {
                whole.parse().map_err(|_| bad())?
            };
            let mut value = whole.checked_mul(scale).ok_or_else(bad)?;
            let mut div: i128 = 1;
            for d in frac.bytes() {
                div *= 10;
                if div > 1_000_000_000_000_000_000 {
                    break;
                }
                value += i128::from(d - b'0') * scale / div;
            }
            total = total.checked_add(value).ok_or_else(bad)?;
            if total > i128::from(i64::MAX) {
                return Err(format!("invalid duration {s:?}: too large"));
            }
            rest = next;
        }
        let total = i64::try_from(total).map_err(|_| bad())?;
        Ok(Duration(if negative { -total } else { total }))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut n = self.0.unsigned_abs();
        if self.0 < 0 {
            f.write_str("-")?;
        }
        if n == 0 {
            return f.write_str("0s");
        }
        if n < 1_000_000_000 {
            let (div, unit) = match n {
                0..1_000 => (1, "ns"),
                1_000..1_000_000 => (1_000, "µs"),
                _ => (1_000_000, "ms"),
            };
            return write!(f, "{}{unit}", fraction(n, div));
        }
        let h = n / 3_600_000_000_000;
        n %= 3_600_000_000_000;
        let m = n / 60_000_000_000;
        n %= 60_000_000_000;
        let s = fraction(n, 1_000_000_000);
        if h > 0 {
            write!(f, "{h}h{m}m{s}s")
        } else if m > 0 {
            write!(f, "{m}m{s}s")
        } else {
            write!(f, "{s}s")
        }
    }
}

/// `n / div` with its decimal fraction, trailing zeros dropped.
fn fraction(n: u64, div: u64) -> String {
    let whole = n / div;
    let rem = n % div;
    if rem == 0 {
        return whole.to_string();
    }
    let width = div.ilog10() as usize;
    let frac = format!("{rem:0width$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

impl Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A size in bytes. Written as `512m`, `1.5g`, `100kb`, `1GiB` or a plain number of bytes;
/// suffixes are powers of 1024, as Docker reads memory sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ByteSize(pub i64);

impl ByteSize {
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid size {s:?}");
        let t = s.trim();
        let num_len = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(num_len);
        let unit = unit.trim_start().to_ascii_lowercase();
        let unit = unit.strip_suffix('b').unwrap_or(&unit);
        let unit = unit.strip_suffix('i').unwrap_or(unit);
        let mult: f64 = match unit {
            "" => 1.0,
            "k" => 1024.0,
            "m" => 1024.0 * 1024.0,
            "g" => 1024.0 * 1024.0 * 1024.0,
            "t" => 1024f64.powi(4),
            "p" => 1024f64.powi(5),
            _ => return Err(bad()),
        };
        if num.is_empty() {
            return Err(bad());
        }
        let n: f64 = num.parse().map_err(|_| bad())?;
        let bytes = n * mult;
        if !bytes.is_finite() || bytes >= i64::MAX as f64 {
            return Err(format!("invalid size {s:?}: too large"));
        }
        Ok(ByteSize(bytes as i64))
    }
}

/// Splits a command line into words as a POSIX shell does, without expanding anything:
/// blanks separate words, single quotes are literal, double quotes allow `\"`, `\\`, `\$`
/// and `` \` `` escapes, and a backslash outside quotes escapes the next character.
pub fn shell_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated single quote in {s:?}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => word.push(e),
                            Some('\n') => {}
                            Some(other) => {
                                word.push('\\');
                                word.push(other);
                            }
                            None => return Err(format!("unterminated double quote in {s:?}")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated double quote in {s:?}")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(c) => word.push(c),
                    None => word.push('\\'),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_like_go() {
        for (s, ns, back) in [
            ("1m30s", 90_000_000_000, "1m30s"),
            ("90s", 90_000_000_000, "1m30s"),
            ("1.5s", 1_500_000_000, "1.5s"),
            ("500ms", 500_000_000, "500ms"),
            ("1h", 3_600_000_000_000, "1h0m0s"),
            ("2h45m", 9_900_000_000_000, "2h45m0s"),
            ("0", 0, "0s"),
            ("1us", 1_000, "1µs"),
            ("1.5ms", 1_500_000, "1.5ms"),
            ("10ns", 10, "10ns"),
            ("-1s", -1_000_000_000, "-1s"),
        ] {
            let d = Duration::parse(s).unwrap();
            assert_eq!(d.as_nanos(), ns, "{s}");
            assert_eq!(d.to_string(), back, "{s}");
        }
        for s in ["", "10", "1x", "s", "1..5s", "9999999999h"] {
            assert!(Duration::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn byte_sizes() {
        for (s, n) in [
            ("1024", 1024),
            ("512m", 512 << 20),
            ("1g", 1 << 30),
            ("1.5g", 3 << 29),
            ("100kb", 102_400),
            ("2GiB", 2 << 30),
            ("64 M", 64 << 20),
        ] {
            assert_eq!(ByteSize::parse(s).unwrap().0, n, "{s}");
        }
        for s in ["", "m", "1x", "1e400", "-1"] {
            assert!(ByteSize::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn words() {
        assert_eq!(
            shell_words(r#"sh -c 'echo "hi there"' "a \"b\"" c\ d  e"#).unwrap(),
            ["sh", "-c", "echo \"hi there\"", "a \"b\"", "c d", "e"]
        );
        assert_eq!(shell_words("  ").unwrap(), Vec::<String>::new());
        assert_eq!(shell_words("''").unwrap(), [""]);
        assert!(shell_words("echo 'x").is_err());
    }
}
