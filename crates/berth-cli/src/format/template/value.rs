//! How template values print, test true, and compare: Go's rules for the values that JSON
//! decodes to (string, number, bool, nil, []interface{}, map[string]interface{}).

use std::cmp::Ordering;

use serde_json::Value;

/// An action's output: a missing or null value prints `<no value>`, as Go prints an
/// invalid value.
pub fn print_action(value: &Value) -> String {
    match value {
        Value::Null => "<no value>".to_string(),
        other => go_print(other),
    }
}

/// Go's `%v`: `[a b]` for lists, `map[k:v]` (sorted keys) for maps, `<nil>` for nil.
pub fn go_print(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Go prints a map's entries in key order.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push_str("map[");
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(key);
                out.push(':');
                write_value(out, item);
            }
            out.push(']');
        }
    }
}

/// Go's truth: false, 0, "", nil and empty lists and maps are false.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

/// Go's type name for a decoded JSON value, as its error messages spell it.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() => "int",
        Value::Number(n) if n.is_u64() => "uint64",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// `eq`: basic values of the same kind compare; nil equals only nil.
pub fn equal(a: &Value, b: &Value) -> Result<bool, String> {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => Ok(a.is_null() && b.is_null()),
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => {
            Err("invalid type for comparison".to_string())
        }
        (Value::Bool(x), Value::Bool(y)) => Ok(x == y),
        _ => order(a, b).map(|o| o == Ordering::Equal),
    }
}

/// `lt`, `le`, `gt`, `ge`: numbers with numbers, strings with strings.
pub fn order(a: &Value, b: &Value) -> Result<Ordering, String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => Ok(compare_numbers(x, y)),
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        (Value::Null | Value::Bool(_) | Value::Array(_) | Value::Object(_), _)
        | (_, Value::Null | Value::Bool(_) | Value::Array(_) | Value::Object(_)) => {
            Err("invalid type for comparison".to_string())
        }
        _ => Err("incompatible types for comparison".to_string()),
    }
}

fn compare_numbers(x: &serde_json::Number, y: &serde_json::Number) -> Ordering {
    match (x.as_i64(), y.as_i64()) {
        (Some(a), Some(b)) => a.cmp(&b),
        _ => match (x.as_u64(), y.as_u64()) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => {
                let (a, b) = (
                    x.as_f64().unwrap_or(f64::NAN),
                    y.as_f64().unwrap_or(f64::NAN),
                );
                a.partial_cmp(&b).unwrap_or(Ordering::Less)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prints_like_go() {
        assert_eq!(go_print(&json!(["a", 1, true, null])), "[a 1 true <nil>]");
        assert_eq!(
            go_print(&json!({"b": {"c": 1}, "a": []})),
            "map[a:[] b:map[c:1]]"
        );
        assert_eq!(go_print(&json!(1.5)), "1.5");
        assert_eq!(print_action(&Value::Null), "<no value>");
    }

    #[test]
    fn truth_follows_go() {
        for falsy in [
            json!(null),
            json!(false),
            json!(0),
            json!(""),
            json!([]),
            json!({}),
        ] {
            assert!(!truthy(&falsy), "{falsy}");
        }
        for truthy_value in [
            json!(true),
            json!(-1),
            json!("x"),
            json!([0]),
            json!({"a": 0}),
        ] {
            assert!(truthy(&truthy_value), "{truthy_value}");
        }
    }

    #[test]
    fn comparisons() {
        assert_eq!(equal(&json!(1), &json!(1.0)), Ok(true));
        assert_eq!(equal(&json!("a"), &json!("a")), Ok(true));
        assert_eq!(equal(&json!(null), &json!("a")), Ok(false));
        assert!(equal(&json!("1"), &json!(1)).is_err());
        assert!(equal(&json!([1]), &json!([1])).is_err());
        assert_eq!(order(&json!(2), &json!(10)), Ok(Ordering::Less));
        assert_eq!(order(&json!("b"), &json!("a")), Ok(Ordering::Greater));
        assert_eq!(equal(&json!(true), &json!(true)), Ok(true));
        assert!(order(&json!(true), &json!(false)).is_err());
    }
}
