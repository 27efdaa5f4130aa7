//! The `filters` query parameter of list endpoints: a JSON object from filter name to values,
//! either `{"status": ["exited"]}` or the legacy `{"status": {"exited": true}}`.

use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    values: BTreeMap<String, Vec<String>>,
}

impl Filters {
    /// Parses the query value, accepting only the filter names in `known`.
    pub fn parse(raw: Option<&str>, known: &[&str]) -> Result<Self> {
        let Some(raw) = raw.filter(|r| !r.is_empty()) else {
            return Ok(Filters::default());
        };
        let v: Value = serde_json::from_str(raw)
            .map_err(|e| Error::invalid(format!("invalid filter: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| Error::invalid("invalid filter: not an object"))?;
        let mut values = BTreeMap::new();
        for (name, vals) in obj {
            if !known.contains(&name.as_str()) {
                return Err(Error::invalid(format!("invalid filter '{name}'")));
            }
            let list: Vec<String> = match vals {
                Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                Value::Object(m) => m
                    .iter()
                    .filter(|(_, on)| on.as_bool().unwrap_or(false))
                    .map(|(k, _)| k.clone())
                    .collect(),
                _ => return Err(Error::invalid(format!("invalid filter '{name}'"))),
            };
            values.insert(name.clone(), list);
        }
        Ok(Filters { values })
    }

    pub fn get(&self, name: &str) -> &[String] {
        self.values.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// True when the filter is absent or any of its values satisfies `pred`.
    pub fn any(&self, name: &str, mut pred: impl FnMut(&str) -> bool) -> bool {
        let vals = self.get(name);
        vals.is_empty() || vals.iter().any(|v| pred(v))
    }

    /// `label=key` or `label=key=value` against a label map; every given label must match.
    pub fn labels_match(&self, labels: &serde_json::Map<String, Value>) -> bool {
        self.get("label")
            .iter()
            .all(|want| match want.split_once('=') {
                Some((k, v)) => labels.get(k).and_then(Value::as_str) == Some(v),
                None => labels.contains_key(want.as_str()),
            })
    }
}

/// Shell-style match with `*` and `?`, as reference filters use.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_wire_forms() {
        let f = Filters::parse(
            Some(r#"{"status":["exited"],"name":{"web":true}}"#),
            &["status", "name"],
        )
        .unwrap();
        assert_eq!(f.get("status"), ["exited"]);
        assert_eq!(f.get("name"), ["web"]);
        assert!(
            f.any("label", |_| false),
            "absent filter matches everything"
        );
        assert!(Filters::parse(Some(r#"{"bogus":["x"]}"#), &["status"]).is_err());
        assert!(Filters::parse(Some("not json"), &["status"]).is_err());
    }

    #[test]
    fn labels_and_globs() {
        let f = Filters::parse(Some(r#"{"label":["a","b=2"]}"#), &["label"]).unwrap();
        let labels = serde_json::json!({"a": "x", "b": "2"});
        assert!(f.labels_match(labels.as_object().unwrap()));
        let labels = serde_json::json!({"a": "x", "b": "3"});
        assert!(!f.labels_match(labels.as_object().unwrap()));
        assert!(glob_match("busy*", "busybox"));
        assert!(!glob_match("busy?", "busybox"));
    }
}
