//! Template functions: Go's builtins (`and`, `or` and their laziness live in the evaluator)
//! and the ones docker adds (`json`, `join`, `split`, `upper`, `lower`, `title`, `truncate`,
//! `pad`).

use serde_json::Value;

use super::printf::sprintf;
use super::value::{equal, go_print, order, truthy, type_name};

const NAMES: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "eq", "ne", "lt",
    "le", "gt", "ge", "json", "join", "split", "upper", "lower", "title", "truncate", "pad",
];

pub fn exists(name: &str) -> bool {
    NAMES.contains(&name)
}

/// Calls a function other than `and`/`or`. Errors are the text after "error calling NAME: ".
pub fn call(name: &str, args: &[Value]) -> Result<Value, String> {
    match name {
        "print" => Ok(Value::String(sprint(args))),
        "println" => Ok(Value::String(sprintln(args))),
        "printf" => {
            let (format, rest) = args
                .split_first()
                .ok_or("wrong number of args for printf: want at least 1 got 0")?;
            Ok(Value::String(sprintf(&string_arg(format)?, rest)))
        }
        "not" => {
            let [value] = fixed::<1>(name, args)?;
            Ok(Value::Bool(!truthy(value)))
        }
        "len" => {
            let [value] = fixed::<1>(name, args)?;
            length(value).map(Value::from).map_err(calling(name))
        }
        "index" => {
            let (item, keys) = args
                .split_first()
                .ok_or("wrong number of args for index: want at least 1 got 0")?;
            keys.iter()
                .try_fold(item.clone(), |item, key| index(&item, key))
                .map_err(calling(name))
        }
        "slice" => slice(args).map_err(calling(name)),
        "eq" => {
            let (first, rest) = args
                .split_first()
                .ok_or("missing argument for comparison")?;
            if rest.is_empty() {
                return Err("missing argument for comparison".to_string());
            }
            for other in rest {
                if equal(first, other).map_err(calling(name))? {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        "ne" => {
            let [a, b] = fixed::<2>(name, args)?;
            Ok(Value::Bool(!equal(a, b).map_err(calling(name))?))
        }
        "lt" | "le" | "gt" | "ge" => {
            let [a, b] = fixed::<2>(name, args)?;
            let ordering = order(a, b).map_err(calling(name))?;
            Ok(Value::Bool(match name {
                "lt" => ordering.is_lt(),
                "le" => ordering.is_le(),
                "gt" => ordering.is_gt(),
                _ => ordering.is_ge(),
            }))
        }
        "json" => {
            let [value] = fixed::<1>(name, args)?;
            serde_json::to_string(value)
                .map(Value::String)
                .map_err(|e| e.to_string())
        }
        "join" => {
            let [list, separator] = fixed::<2>(name, args)?;
            let Value::Array(items) = list else {
                return Err(format!(
                    "wrong type for value; expected []string; got {}",
                    type_name(list)
                ));
            };
            let items: Vec<String> = items.iter().map(go_print).collect();
            Ok(Value::String(items.join(&string_arg(separator)?)))
        }
        "split" => {
            let [text, separator] = fixed::<2>(name, args)?;
            let (text, separator) = (string_arg(text)?, string_arg(separator)?);
            let parts: Vec<Value> = if separator.is_empty() {
                text.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                text.split(separator.as_str())
                    .map(|p| Value::String(p.to_string()))
                    .collect()
            };
            Ok(Value::Array(parts))
        }
        "upper" | "lower" | "title" => {
            let [text] = fixed::<1>(name, args)?;
            let text = string_arg(text)?;
            Ok(Value::String(match name {
                "upper" => text.to_uppercase(),
                "lower" => text.to_lowercase(),
                _ => title(&text),
            }))
        }
        "truncate" => {
            let [text, length] = fixed::<2>(name, args)?;
            let length = int_arg(length)?.max(0) as usize;
            Ok(Value::String(
                string_arg(text)?.chars().take(length).collect(),
            ))
        }
        "pad" => {
            let [text, before, after] = fixed::<3>(name, args)?;
            let (before, after) = (
                int_arg(before)?.max(0) as usize,
                int_arg(after)?.max(0) as usize,
            );
            Ok(Value::String(format!(
                "{}{}{}",
                " ".repeat(before),
                string_arg(text)?,
                " ".repeat(after)
            )))
        }
        _ => Err(format!("function {name:?} not defined")),
    }
}

/// Go reports errors returned by a function (not arity or argument type errors) with
/// "error calling NAME: ".
fn calling(name: &str) -> impl Fn(String) -> String + '_ {
    move |message| format!("error calling {name}: {message}")
}

fn fixed<'a, const N: usize>(name: &str, args: &'a [Value]) -> Result<&'a [Value; N], String> {
    args.try_into().map_err(|_| {
        format!(
            "wrong number of args for {name}: want {N} got {}",
            args.len()
        )
    })
}

fn string_arg(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        other => Err(format!(
            "wrong type for value; expected string; got {}",
            type_name(other)
        )),
    }
}

fn int_arg(value: &Value) -> Result<i64, String> {
    value.as_i64().ok_or_else(|| {
        format!(
            "wrong type for value; expected int; got {}",
            type_name(value)
        )
    })
}

/// `fmt.Sprint`: a space between two operands when neither is a string.
fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 && !args[i - 1].is_string() && !arg.is_string() {
            out.push(' ');
        }
        out.push_str(&go_print(arg));
    }
    out
}

fn sprintln(args: &[Value]) -> String {
    let items: Vec<String> = args.iter().map(go_print).collect();
    format!("{}\n", items.join(" "))
}

fn length(value: &Value) -> Result<usize, String> {
    match value {
        Value::String(s) => Ok(s.len()),
        Value::Array(items) => Ok(items.len()),
        Value::Object(map) => Ok(map.len()),
        Value::Null => Err("len of nil pointer".to_string()),
        other => Err(format!("len of type {}", type_name(other))),
    }
}

fn index(item: &Value, key: &Value) -> Result<Value, String> {
    match (item, key) {
        (Value::Object(map), Value::String(k)) => Ok(map.get(k).cloned().unwrap_or(Value::Null)),
        (Value::Object(_), other) => Err(format!(
            "value has type {}; should be string",
            type_name(other)
        )),
        (Value::Array(items), Value::Number(n)) => {
            let i = n
                .as_i64()
                .ok_or_else(|| format!("cannot index slice/array with type {}", type_name(key)))?;
            usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i))
                .cloned()
                .ok_or_else(|| format!("index out of range: {i}"))
        }
        (Value::String(s), Value::Number(n)) => {
            let i = n.as_i64().unwrap_or(-1);
            usize::try_from(i)
                .ok()
                .and_then(|i| s.as_bytes().get(i))
                .map(|b| Value::from(*b))
                .ok_or_else(|| format!("index out of range: {i}"))
        }
        (Value::Null, _) => Err("index of untyped nil".to_string()),
        (other, _) => Err(format!("can't index item of type {}", type_name(other))),
    }
}

fn slice(args: &[Value]) -> Result<Value, String> {
    let (item, bounds) = args
        .split_first()
        .ok_or("wrong number of args for slice: want at least 1 got 0")?;
    match item {
        Value::String(s) => {
            let (start, end) = slice_bounds(bounds, s.len())?;
            s.get(start..end)
                .map(|part| Value::String(part.to_string()))
                .ok_or_else(|| "slice splits a character".to_string())
        }
        Value::Array(items) => {
            let (start, end) = slice_bounds(bounds, items.len())?;
            Ok(Value::Array(items[start..end].to_vec()))
        }
        other => Err(format!("can't slice item of type {}", type_name(other))),
    }
}

fn slice_bounds(bounds: &[Value], len: usize) -> Result<(usize, usize), String> {
    if bounds.len() > 2 {
        return Err("too many slice indexes".to_string());
    }
    let bound = |i: usize, default: usize| -> Result<usize, String> {
        bounds.get(i).map_or(Ok(default), |b| {
            int_arg(b)
                .and_then(|n| usize::try_from(n).map_err(|_| format!("index out of range: {n}")))
        })
    };
    let (start, end) = (bound(0, 0)?, bound(1, len)?);
    if start > end || end > len {
        return Err(format!("invalid slice index: {start} > {end}"));
    }
    Ok((start, end))
}

/// Go's `strings.Title`: upper-cases the first letter of each word.
fn title(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at_word_start = true;
    for c in text.chars() {
        if at_word_start && c.is_alphanumeric() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_word_start = !(c.is_alphanumeric() || c == '_' || c == '\'');
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn call_ok(name: &str, args: &[Value]) -> Value {
        call(name, args).unwrap()
    }

    #[test]
    fn docker_string_functions() {
        assert_eq!(call_ok("upper", &[json!("abc")]), json!("ABC"));
        assert_eq!(call_ok("lower", &[json!("ABC")]), json!("abc"));
        assert_eq!(
            call_ok("title", &[json!("hello big-world")]),
            json!("Hello Big-World")
        );
        assert_eq!(
            call_ok("split", &[json!("a,b"), json!(",")]),
            json!(["a", "b"])
        );
        assert_eq!(
            call_ok("join", &[json!(["a", "b"]), json!(", ")]),
            json!("a, b")
        );
        assert_eq!(
            call_ok("truncate", &[json!("abcdef"), json!(3)]),
            json!("abc")
        );
        assert_eq!(
            call_ok("pad", &[json!("x"), json!(1), json!(2)]),
            json!(" x  ")
        );
        assert_eq!(
            call_ok("json", &[json!({"a": [1, "<b>"]})]),
            json!(r#"{"a":[1,"<b>"]}"#)
        );
    }

    #[test]
    fn builtins() {
        assert_eq!(call_ok("len", &[json!([1, 2])]), json!(2));
        assert_eq!(call_ok("len", &[json!("héllo")]), json!(6));
        assert_eq!(
            call_ok("index", &[json!({"a": [5, 6]}), json!("a"), json!(1)]),
            json!(6)
        );
        assert_eq!(
            call_ok("index", &[json!({"a": 1}), json!("zz")]),
            json!(null)
        );
        assert_eq!(
            call_ok("slice", &[json!("abcdef"), json!(1), json!(3)]),
            json!("bc")
        );
        assert_eq!(call_ok("not", &[json!("")]), json!(true));
        assert_eq!(call_ok("eq", &[json!(1), json!(2), json!(1)]), json!(true));
        assert_eq!(call_ok("ne", &[json!("a"), json!("b")]), json!(true));
        assert_eq!(call_ok("ge", &[json!(3), json!(3)]), json!(true));
        assert_eq!(
            call_ok("print", &[json!(1), json!(2), json!("a"), json!(3)]),
            json!("1 2a3")
        );
        assert_eq!(call_ok("println", &[json!("a"), json!(1)]), json!("a 1\n"));
        assert_eq!(
            call_ok("printf", &[json!("%s-%d"), json!("a"), json!(1)]),
            json!("a-1")
        );
    }

    #[test]
    fn errors_read_like_go() {
        assert_eq!(
            call("index", &[json!([1]), json!(3)]).unwrap_err(),
            "error calling index: index out of range: 3"
        );
        assert_eq!(
            call("len", &[json!(3)]).unwrap_err(),
            "error calling len: len of type int"
        );
        assert_eq!(
            call("eq", &[json!("1"), json!(1)]).unwrap_err(),
            "error calling eq: incompatible types for comparison"
        );
        assert_eq!(
            call("upper", &[json!(3)]).unwrap_err(),
            "wrong type for value; expected string; got int"
        );
        assert_eq!(
            call("not", &[]).unwrap_err(),
            "wrong number of args for not: want 1 got 0"
        );
    }
}
