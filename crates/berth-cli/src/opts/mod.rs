//! Flag values as docker reads them: the parsers behind `run`/`create` and the object
//! commands, with docker's defaults, normalisations and error wording. Each parser takes the
//! text as typed and returns what the Engine API is sent, or the message docker prints.

pub mod mounts;
pub mod network;
pub mod ports;
pub mod resources;

/// Go's `strconv` failure wording ("strconv.ParseUint: parsing \"x\": invalid syntax"), which
/// docker passes on for numbers it cannot read.
fn strconv_error(function: &str, text: &str, out_of_range: bool) -> String {
    let reason = if out_of_range {
        "value out of range"
    } else {
        "invalid syntax"
    };
    format!("strconv.{function}: parsing {text:?}: {reason}")
}

/// Go's `strconv.ParseUint(text, 10, bits)`: decimal digits only (no sign), within `bits`.
pub fn parse_uint(text: &str, bits: u32) -> Result<u64, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(strconv_error("ParseUint", text, false));
    }
    let max = if bits >= 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    };
    match text.parse::<u64>() {
        Ok(value) if value <= max => Ok(value),
        _ => Err(strconv_error("ParseUint", text, true)),
    }
}

/// Go's `strconv.ParseInt(text, 10, 64)`: an optional sign, then decimal digits.
fn parse_int(text: &str) -> Result<i64, String> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(strconv_error("ParseInt", text, false));
    }
    text.parse::<i64>()
        .map_err(|_| strconv_error("ParseInt", text, true))
}

/// Go's `strconv.ParseBool`.
fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// `key=value` lists into a map, as docker's `ConvertKVStringsToMap` (a bare key maps to "").
pub fn kv_map(entries: &[String]) -> Option<std::collections::HashMap<String, String>> {
    let map: std::collections::HashMap<String, String> = entries
        .iter()
        .map(|entry| match entry.split_once('=') {
            Some((key, value)) => (key.to_string(), value.to_string()),
            None => (entry.clone(), String::new()),
        })
        .collect();
    (!map.is_empty()).then_some(map)
}

/// A `--label`: `key[=value]` with a name that has no whitespace.
pub fn parse_label(text: &str) -> Result<String, String> {
    let key = text.split_once('=').map_or(text, |(key, _)| key);
    let key = key.trim_start_matches([' ', '\t']);
    if key.is_empty() {
        return Err(format!("invalid label '{text}': empty name"));
    }
    if key.contains([' ', '\t']) {
        return Err(format!("label '{key}' contains whitespaces"));
    }
    Ok(text.to_string())
}

/// A `key=value` option (`-o`, `--opt`): docker's MapOpts splits at the first `=`.
pub fn parse_key_value(text: &str) -> Result<(String, String), String> {
    Ok(match text.split_once('=') {
        Some((key, value)) => (key.to_string(), value.to_string()),
        None => (text.to_string(), String::new()),
    })
}

/// One line of CSV, as Go's encoding/csv reads a `--mount` or `--network` value: fields split at commas,
/// a field in double quotes may hold commas and doubled quotes.
fn csv_fields(text: &str) -> Result<Vec<String>, String> {
    if text.is_empty() {
        return Err("EOF".to_string());
    }
    let mut fields = Vec::new();
    let mut chars = text.chars().peekable();
    let mut column = 0;
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            column += 1;
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        column += 2;
                        field.push('"');
                    }
                    Some('"') => {
                        column += 1;
                        break;
                    }
                    Some(c) => {
                        column += 1;
                        field.push(c);
                    }
                    None => {
                        return Err(format!(
                            "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
                            column + 1
                        ));
                    }
                }
            }
            if !matches!(chars.peek(), None | Some(',')) {
                return Err(format!(
                    "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
                    column + 1
                ));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                if c == '"' {
                    return Err(format!(
                        "parse error on line 1, column {}: bare \" in non-quoted-field",
                        column + 1
                    ));
                }
                chars.next();
                column += 1;
                field.push(c);
            }
        }
        fields.push(field);
        if chars.next().is_none() {
            return Ok(fields);
        }
        column += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_fail_like_go() {
        assert_eq!(parse_uint("80", 16), Ok(80));
        assert_eq!(
            parse_uint("65536", 16).unwrap_err(),
            "strconv.ParseUint: parsing \"65536\": value out of range"
        );
        assert_eq!(
            parse_uint("+1", 16).unwrap_err(),
            "strconv.ParseUint: parsing \"+1\": invalid syntax"
        );
        assert_eq!(parse_int("-1"), Ok(-1));
        assert_eq!(
            parse_int("1k").unwrap_err(),
            "strconv.ParseInt: parsing \"1k\": invalid syntax"
        );
        assert_eq!(parse_bool("True"), Some(true));
        assert_eq!(parse_bool("yes"), None);
    }

    #[test]
    fn labels_and_maps() {
        assert_eq!(parse_label("a=b c"), Ok("a=b c".to_string()));
        assert_eq!(
            parse_label("=x").unwrap_err(),
            "invalid label '=x': empty name"
        );
        assert_eq!(
            parse_label("a b=x").unwrap_err(),
            "label 'a b' contains whitespaces"
        );
        let map = kv_map(&["a=1=2".to_string(), "flag".to_string()]).unwrap();
        assert_eq!(map["a"], "1=2");
        assert_eq!(map["flag"], "");
        assert_eq!(kv_map(&[]), None);
        assert_eq!(
            parse_key_value("size=10g"),
            Ok(("size".to_string(), "10g".to_string()))
        );
    }
}
