//! JSON as docker prints it: `inspect`'s four-space indentation, the one-line objects of
//! `--format json`, and `<`, `>`, `&`, U+2028 and U+2029 escaped as Go's encoder escapes
//! them.

use std::io;

use serde::Serialize;
use serde_json::Value;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

/// Pretty-prints `value` the way docker prints inspect output.
pub fn to_docker_json<T: Serialize>(value: &T) -> serde_json::Result<String> {
    write_with(value, GoFormatter(PrettyFormatter::with_indent(b"    ")))
}

/// One line of JSON as Go's encoder writes it.
pub fn to_go_json_line<T: Serialize>(value: &T) -> serde_json::Result<String> {
    write_with(value, GoFormatter(CompactFormatter))
}

/// A list row as `--format json` prints it: Go marshals the row's fields as a map, so they
/// come in name order.
pub fn row_json_line(row: &Value) -> serde_json::Result<String> {
    match row {
        Value::Object(map) => {
            let mut fields: Vec<(&String, &Value)> = map.iter().collect();
            fields.sort_by(|a, b| a.0.cmp(b.0));
            let sorted: serde_json::Map<String, Value> = fields
                .into_iter()
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
            to_go_json_line(&sorted)
        }
        other => to_go_json_line(other),
    }
}

fn write_with<T: Serialize, F: Formatter>(value: &T, formatter: F) -> serde_json::Result<String> {
    let mut out = Vec::new();
    value.serialize(&mut serde_json::Serializer::with_formatter(
        &mut out, formatter,
    ))?;
    // serde_json only writes valid UTF-8.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// A serde_json formatter with Go's extra string escapes.
struct GoFormatter<F>(F);

impl<F: Formatter> Formatter for GoFormatter<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escape = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(escape.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_array(writer)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object(writer)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(writer, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object_value(writer)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn indents_with_four_spaces() {
        let text = to_docker_json(&json!([{"Id": "x", "Args": ["1"], "Labels": {}}])).unwrap();
        assert_eq!(
            text,
            "[\n    {\n        \"Id\": \"x\",\n        \"Args\": [\n            \"1\"\n        ],\n        \"Labels\": {}\n    }\n]"
        );
        assert_eq!(to_docker_json(&Vec::<u8>::new()).unwrap(), "[]");
    }

    #[test]
    fn rows_print_on_one_line_in_field_order() {
        let row = json!({"Name": "<none>", "Driver": "local", "Labels": ""});
        assert_eq!(
            row_json_line(&row).unwrap(),
            r#"{"Driver":"local","Labels":"","Name":"\u003cnone\u003e"}"#
        );
        assert_eq!(to_go_json_line(&json!([1, "a"])).unwrap(), r#"[1,"a"]"#);
    }

    #[test]
    fn escapes_html_characters_like_go() {
        assert_eq!(
            to_docker_json(&json!("a<b>&c\u{2028}")).unwrap(),
            "\"a\\u003cb\\u003e\\u0026c\\u2028\""
        );
    }
}
