//! `config`: the resolved model printed as YAML (or JSON), in docker compose's normalized
//! form: long syntaxes, environment as a mapping, `depends_on` with conditions.

use serde_json::Value;

use crate::model::Project;

/// The model as YAML.
pub fn to_yaml(project: &Project) -> String {
    let mut out = String::new();
    if let Value::Object(map) = to_value(project) {
        emit_map(&mut out, &map, 0);
    }
    out
}

/// The model as pretty-printed JSON.
pub fn to_json(project: &Project) -> String {
    serde_json::to_string_pretty(&to_value(project)).unwrap_or_default()
}

fn to_value(project: &Project) -> Value {
    // Serializing the model cannot fail: every map key is a string.
    serde_json::to_value(project).unwrap_or(Value::Null)
}

/// Writes a YAML mapping at `indent` spaces. Sequences are indented under their key, as
/// docker compose prints them.
fn emit_map(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    for (i, (k, v)) in map.iter().enumerate() {
        // The first entry of a mapping inside a sequence item follows its `- `.
        if !(i == 0 && out.ends_with("- ")) {
            push_indent(out, indent);
        }
        out.push_str(&scalar_text(k));
        out.push(':');
        emit_value_after_key(out, v, indent);
    }
}

fn emit_value_after_key(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            emit_map(out, m, indent + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            emit_seq(out, a, indent + 2);
        }
        _ => {
            out.push(' ');
            out.push_str(&inline(v));
            out.push('\n');
        }
    }
}

fn emit_seq(out: &mut String, seq: &[Value], indent: usize) {
    for item in seq {
        push_indent(out, indent);
        out.push_str("- ");
        match item {
            Value::Object(m) if !m.is_empty() => emit_map(out, m, indent + 2),
            Value::Array(a) if !a.is_empty() => {
                out.truncate(out.len() - 1);
                out.push('\n');
                emit_seq(out, a, indent + 2);
            }
            _ => {
                out.push_str(&inline(item));
                out.push('\n');
            }
        }
    }
}

fn push_indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn inline(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar_text(s),
        Value::Array(_) => "[]".to_string(),
        Value::Object(_) => "{}".to_string(),
    }
}

/// A string as a YAML scalar: plain when it would read back as the same string, else
/// double-quoted.
fn scalar_text(s: &str) -> String {
    if needs_quotes(s) {
        quote(s)
    } else {
        s.to_string()
    }
}

fn needs_quotes(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return true;
    };
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "null"
            | "~"
            | "true"
            | "false"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "y"
            | "n"
            | ".inf"
            | "-.inf"
            | "+.inf"
            | ".nan"
    ) {
        return true;
    }
    if looks_numeric(s) {
        return true;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) || first.is_whitespace() {
        return true;
    }
    s.ends_with(' ')
        || s.ends_with(':')
        || s.contains(": ")
        || s.contains(" #")
        || s.chars().any(|c| c.is_control())
}

/// Whether a plain scalar would be read as a number (YAML 1.1 or 1.2 rules, broadly).
fn looks_numeric(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    if t.is_empty() {
        return false;
    }
    if let Some(rest) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0o")) {
        return !rest.is_empty() && rest.chars().all(|c| c.is_ascii_hexdigit());
    }
    let t = t.replace('_', "");
    t.chars().any(|c| c.is_ascii_digit())
        && t.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-' | ':'))
        && (t.parse::<f64>().is_ok() || t.chars().all(|c| c.is_ascii_digit() || c == ':'))
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml_of(v: serde_json::Value) -> String {
        let mut out = String::new();
        if let Value::Object(m) = v {
            emit_map(&mut out, &m, 0);
        }
        out
    }

    #[test]
    fn emits_block_yaml_that_reads_back() {
        let v = serde_json::json!({
            "a": {"b": [1, "x", {"c": "8080", "d": true}, [], {}], "e": {}},
            "s": ["yes", "", "a: b", "-x", "line\nbreak", "1.5", "12:30", "0x1f", "plain text", "~/x"],
            "z": null
        });
        let text = yaml_of(v.clone());
        assert_eq!(
            text,
            "a:\n  b:\n    - 1\n    - x\n    - c: \"8080\"\n      d: true\n    - []\n    - {}\n  e: {}\ns:\n  - \"yes\"\n  - \"\"\n  - \"a: b\"\n  - \"-x\"\n  - \"line\\nbreak\"\n  - \"1.5\"\n  - \"12:30\"\n  - \"0x1f\"\n  - plain text\n  - ~/x\nz: null\n"
        );
        let back = crate::yaml::parse(&text, None).unwrap().to_json();
        assert_eq!(back, v);
    }
}
