//! Go's `fmt.Sprintf` for template values: verbs v s q d x X o b c t e E f F g G and `%%`,
//! flags `-+# 0`, width and precision, and Go's `%!verb(type=value)` markers for bad verbs,
//! missing and extra arguments.

use serde_json::Value;

use super::value::{go_print, type_name};
use crate::format::units::{format_e, format_g};

#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next_arg = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&flag) = chars.peek() {
            match flag {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                _ => break,
            }
            chars.next();
        }
        spec.width = read_number(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.precision = Some(read_number(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next_arg) {
            Some(arg) => {
                next_arg += 1;
                out.push_str(&format_arg(verb, &spec, arg));
            }
            None => out.push_str(&format!("%!{verb}(MISSING)")),
        }
    }
    if next_arg < args.len() {
        let extra: Vec<String> = args[next_arg..]
            .iter()
            .map(|a| format!("{}={}", type_name(a), go_print(a)))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn read_number(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut number = None;
    while let Some(digit) = chars.peek().and_then(|c| c.to_digit(10)) {
        number = Some(number.unwrap_or(0) * 10 + digit as usize);
        chars.next();
    }
    number
}

fn format_arg(verb: char, spec: &Spec, arg: &Value) -> String {
    let body = match (verb, arg) {
        ('v', _) => Some(go_print(arg)),
        ('s', Value::String(s)) => Some(truncate(s, spec.precision)),
        ('s', Value::Array(_) | Value::Object(_)) => Some(go_print(arg)),
        ('q', Value::String(s)) => Some(quote(s)),
        ('t', Value::Bool(b)) => Some(b.to_string()),
        ('x' | 'X', Value::String(s)) => Some(hex_bytes(s.as_bytes(), verb == 'X')),
        ('d' | 'x' | 'X' | 'o' | 'b' | 'c' | 'q', Value::Number(n)) if n.is_i64() || n.is_u64() => {
            integer(verb, spec, n)
        }
        ('e' | 'E' | 'f' | 'F' | 'g' | 'G', Value::Number(n)) => {
            n.as_f64().map(|f| float(verb, spec, f))
        }
        _ => None,
    };
    let Some(body) = body else {
        if arg.is_null() {
            return format!("%!{verb}(<nil>)");
        }
        return format!("%!{verb}({}={})", type_name(arg), go_print(arg));
    };
    pad(body, spec, matches!(arg, Value::Number(_)))
}

fn integer(verb: char, spec: &Spec, n: &serde_json::Number) -> Option<String> {
    let (negative, magnitude) = match n.as_i64() {
        Some(i) => (i < 0, i.unsigned_abs()),
        None => (false, n.as_u64()?),
    };
    let digits = match verb {
        'd' => magnitude.to_string(),
        'x' => format!("{magnitude:x}"),
        'X' => format!("{magnitude:X}"),
        'o' => format!("{magnitude:o}"),
        'b' => format!("{magnitude:b}"),
        'c' => return char::from_u32(u32::try_from(magnitude).ok()?).map(String::from),
        _ => {
            let c = char::from_u32(u32::try_from(magnitude).ok()?)?;
            return Some(format!("'{}'", escape_char(c, '\'')));
        }
    };
    let prefix = match (spec.sharp, verb) {
        (true, 'x') => "0x",
        (true, 'X') => "0X",
        (true, 'o') => "0",
        _ => "",
    };
    Some(format!("{}{prefix}{digits}", sign(negative, spec)))
}

fn float(verb: char, spec: &Spec, f: f64) -> String {
    let body = match verb {
        'e' | 'E' => format_e(f.abs(), spec.precision.unwrap_or(6)),
        'f' | 'F' => format!("{:.*}", spec.precision.unwrap_or(6), f.abs()),
        _ => format_g(f.abs(), spec.precision),
    };
    let body = if verb.is_ascii_uppercase() {
        body.to_uppercase()
    } else {
        body
    };
    format!("{}{body}", sign(f.is_sign_negative() && f != 0.0, spec))
}

fn sign(negative: bool, spec: &Spec) -> &'static str {
    if negative {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    }
}

/// Applies width: spaces on the left (right with `-`), or zeros after the sign for numbers.
fn pad(body: String, spec: &Spec, numeric: bool) -> String {
    let len = body.chars().count();
    let Some(width) = spec.width.filter(|&w| w > len) else {
        return body;
    };
    let fill = width - len;
    if spec.minus {
        return format!("{body}{}", " ".repeat(fill));
    }
    if spec.zero && numeric {
        let sign_len = usize::from(body.starts_with(['-', '+', ' ']));
        return format!(
            "{}{}{}",
            &body[..sign_len],
            "0".repeat(fill),
            &body[sign_len..]
        );
    }
    format!("{}{body}", " ".repeat(fill))
}

fn truncate(s: &str, precision: Option<usize>) -> String {
    match precision {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    }
}

fn hex_bytes(bytes: &[u8], upper: bool) -> String {
    bytes
        .iter()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect()
}

/// Go's `strconv.Quote`: printable characters stay, the rest become escapes.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        out.push_str(&escape_char(c, '"'));
    }
    out.push('"');
    out
}

fn escape_char(c: char, quote: char) -> String {
    match c {
        '\x07' => "\\a".to_string(),
        '\x08' => "\\b".to_string(),
        '\x0c' => "\\f".to_string(),
        '\n' => "\\n".to_string(),
        '\r' => "\\r".to_string(),
        '\t' => "\\t".to_string(),
        '\x0b' => "\\v".to_string(),
        '\\' => "\\\\".to_string(),
        c if c == quote => format!("\\{c}"),
        c if (c as u32) < 0x20 || c == '\x7f' => format!("\\x{:02x}", c as u32),
        c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
            if (c as u32) < 0x10000 {
                format!("\\u{:04x}", c as u32)
            } else {
                format!("\\U{:08x}", c as u32)
            }
        }
        c => c.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn common_verbs() {
        assert_eq!(sprintf("%s=%d", &[json!("a"), json!(5)]), "a=5");
        assert_eq!(
            sprintf("%v %v", &[json!([1, "x"]), json!({"k": true})]),
            "[1 x] map[k:true]"
        );
        assert_eq!(
            sprintf("%q", &[json!("sh -c \"x\"\n")]),
            r#""sh -c \"x\"\n""#
        );
        assert_eq!(sprintf("%t", &[json!(false)]), "false");
        assert_eq!(sprintf("100%%", &[]), "100%");
    }

    #[test]
    fn width_precision_and_flags() {
        assert_eq!(
            sprintf("[%5s][%-5s]", &[json!("ab"), json!("cd")]),
            "[   ab][cd   ]"
        );
        assert_eq!(
            sprintf(
                "%05d|%+d|%x|%#x|%X",
                &[json!(-42), json!(3), json!(255), json!(255), json!(255)]
            ),
            "-0042|+3|ff|0xff|FF"
        );
        assert_eq!(
            sprintf(
                "%.2f|%8.3f|%e|%g",
                &[json!(1.23456), json!(2.5), json!(1500.0), json!(0.5)]
            ),
            "1.23|   2.500|1.500000e+03|0.5"
        );
        assert_eq!(sprintf("%.3s", &[json!("abcdef")]), "abc");
        assert_eq!(sprintf("%c%c", &[json!(104), json!(105)]), "hi");
        assert_eq!(sprintf("%x", &[json!("hi")]), "6869");
    }

    #[test]
    fn bad_missing_and_extra_arguments() {
        assert_eq!(sprintf("%d", &[json!("x")]), "%!d(string=x)");
        assert_eq!(sprintf("%s %s", &[json!("x")]), "x %!s(MISSING)");
        assert_eq!(sprintf("%s", &[json!("x"), json!(1)]), "x%!(EXTRA int=1)");
        assert_eq!(sprintf("%s", &[json!(null)]), "%!s(<nil>)");
    }

    #[test]
    fn quote_escapes_control_characters() {
        assert_eq!(quote("a\tb\u{1}"), "\"a\\tb\\x01\"");
        assert_eq!(quote("…"), "\"…\"");
    }
}
