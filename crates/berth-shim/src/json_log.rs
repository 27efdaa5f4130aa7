//! One entry of Docker's `json-file` log:
//! `{"log":"hello\n","stream":"stdout","attrs":{"env":"prod"},"time":"2026-11-28T08:00:00.123456789Z"}`
//! (`attrs` only when the container has log attributes). Strings are escaped exactly as
//! Docker's encoder does (`<`, `>`, `&` as `\u00XX`, invalid UTF-8 as `\ufffd`), so
//! `docker logs`-style readers see identical bytes.

use std::collections::BTreeMap;

/// The `"attrs"` object, rendered once (Go's encoder sorts a map's keys too); None without any.
pub fn render_attrs(attrs: &BTreeMap<String, String>) -> Option<Vec<u8>> {
    if attrs.is_empty() {
        return None;
    }
    let mut out = vec![b'{'];
    for (i, (key, value)) in attrs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        escape_into(&mut out, key.as_bytes());
        out.push(b':');
        escape_into(&mut out, value.as_bytes());
    }
    out.push(b'}');
    Some(out)
}

/// Appends one entry and its newline to `out`.
pub fn encode_entry(
    out: &mut Vec<u8>,
    line: &[u8],
    stream: &str,
    attrs: Option<&[u8]>,
    time: &str,
) {
    out.extend_from_slice(b"{\"log\":");
    escape_into(out, line);
    out.extend_from_slice(b",\"stream\":\"");
    out.extend_from_slice(stream.as_bytes());
    out.push(b'"');
    if let Some(attrs) = attrs {
        out.extend_from_slice(b",\"attrs\":");
        out.extend_from_slice(attrs);
    }
    out.extend_from_slice(b",\"time\":\"");
    out.extend_from_slice(time.as_bytes());
    out.extend_from_slice(b"\"}\n");
}

/// Writes `bytes` as a JSON string, as Docker's json-file encoder does.
fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' | '\\' => out.extend_from_slice(&[b'\\', c as u8]),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\u{0}'..='\u{1f}' | '<' | '>' | '&' => {
                    let b = c as u8;
                    out.extend_from_slice(b"\\u00");
                    out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
                }
                '\u{2028}' | '\u{2029}' => {
                    out.extend_from_slice(b"\\u202");
                    out.push(HEX[(c as usize) & 0xf]);
                }
                _ => {
                    let mut utf8 = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                }
            }
        }
        // Each invalid byte becomes one replacement character, as Go's decoder yields.
        for _ in chunk.invalid() {
            out.extend_from_slice(b"\\ufffd");
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_matches_dockers_encoder() {
        let mut out = Vec::new();
        escape_into(&mut out, b"q\"b\\\t<&>\r\x01\xff\xe2\x80\xa8\xc3\xa9");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#""q\"b\\\u0009\u003c\u0026\u003e\r\u0001\ufffd\u2028é""#
        );
    }

    #[test]
    fn every_entry_is_valid_json() {
        let mut out = Vec::new();
        encode_entry(
            &mut out,
            b"\x00\x1b[31mred\x1b[0m \xfe\n",
            "stderr",
            None,
            "2026-11-28T08:00:00Z",
        );
        let entry: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(entry["log"], "\u{0}\u{1b}[31mred\u{1b}[0m \u{fffd}\n");
        assert_eq!(entry["stream"], "stderr");
        assert!(out.ends_with(b"}\n"));
    }

    #[test]
    fn attrs_sit_between_stream_and_time_with_sorted_keys() {
        let attrs = BTreeMap::from([
            ("zone".to_string(), "a<b".to_string()),
            ("env".to_string(), "prod".to_string()),
        ]);
        let rendered = render_attrs(&attrs).unwrap();
        let mut out = Vec::new();
        encode_entry(&mut out, b"hi\n", "stdout", Some(&rendered), "T");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"log\":\"hi\\n\",\"stream\":\"stdout\",\
             \"attrs\":{\"env\":\"prod\",\"zone\":\"a\\u003cb\"},\"time\":\"T\"}\n"
        );
        assert!(render_attrs(&BTreeMap::new()).is_none());
    }
}
