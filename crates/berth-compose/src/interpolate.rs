//! Variable interpolation in compose values: `$VAR`, `${VAR}`, `${VAR:-default}`,
//! `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alternative}`,
//! `${VAR+alternative}`, and `$$` for a literal `$`. Defaults and alternatives may themselves
//! hold variables. An unset variable with no default becomes empty, with a warning.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, invalid};
use crate::yaml::{Node, Value};

/// Longest value interpolation may produce.
const MAX_VALUE: usize = 4 << 20;

/// The variables a project is interpolated with.
pub type Environment = BTreeMap<String, String>;

/// Interpolates every scalar value (not keys) of `node` in place.
pub(crate) fn interpolate_tree(
    node: &mut Node,
    path: &str,
    env: &Environment,
    warnings: &mut BTreeSet<String>,
) -> Result<(), Error> {
    match &mut node.value {
        Value::Str(s, _) => {
            if s.contains('$') {
                *s = interpolate(s, env, warnings).map_err(|m| invalid(&node.loc, path, m))?;
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate_tree(item, &format!("{path}[{i}]"), env, warnings)?;
            }
        }
        Value::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                interpolate_tree(v, &crate::keypath(path, &k.name), env, warnings)?;
            }
        }
        Value::Null => {}
    }
    Ok(())
}

/// Interpolates one string. The error is a message without location.
pub fn interpolate(
    s: &str,
    env: &Environment,
    warnings: &mut BTreeSet<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        if out.len() > MAX_VALUE {
            return Err(format!(
                "value larger than {MAX_VALUE} bytes once interpolated"
            ));
        }
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('{') {
            let end = closing_brace(inner).ok_or_else(|| bad_format(s))?;
            out.push_str(&braced(&inner[..end], s, env, warnings)?);
            rest = &inner[end + 1..];
        } else {
            let len = name_len(after);
            if len == 0 {
                return Err(bad_format(s));
            }
            out.push_str(&lookup(&after[..len], env, warnings));
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    if out.len() > MAX_VALUE {
        return Err(format!(
            "value larger than {MAX_VALUE} bytes once interpolated"
        ));
    }
    Ok(out)
}

fn bad_format(s: &str) -> String {
    format!("invalid interpolation format in {s:?}: you may need to escape a `$` with another `$`")
}

/// The index of the `}` closing a `${`, counting nested `${…}`.
fn closing_brace(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut depth = 1usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'$' if b.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'$' if b.get(i + 1) == Some(&b'$') => i += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The length of the variable name at the start of `s` (`[A-Za-z_][A-Za-z0-9_]*`).
fn name_len(s: &str) -> usize {
    let b = s.as_bytes();
    if b.first()
        .is_none_or(|c| !(c.is_ascii_alphabetic() || *c == b'_'))
    {
        return 0;
    }
    b.iter()
        .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
        .unwrap_or(b.len())
}

fn lookup(name: &str, env: &Environment, warnings: &mut BTreeSet<String>) -> String {
    match env.get(name) {
        Some(v) => v.clone(),
        None => {
            warnings.insert(format!(
                "the \"{name}\" variable is not set; defaulting to a blank string"
            ));
            String::new()
        }
    }
}

/// The inside of `${…}`.
fn braced(
    inner: &str,
    whole: &str,
    env: &Environment,
    warnings: &mut BTreeSet<String>,
) -> Result<String, String> {
    let len = name_len(inner);
    if len == 0 {
        return Err(bad_format(whole));
    }
    let (name, op) = inner.split_at(len);
    let value = env.get(name);
    let set_nonempty = value.is_some_and(|v| !v.is_empty());
    let (use_arg, arg, kind) = if op.is_empty() {
        return Ok(lookup(name, env, warnings));
    } else if let Some(arg) = op.strip_prefix(":-") {
        (!set_nonempty, arg, Kind::Default)
    } else if let Some(arg) = op.strip_prefix('-') {
        (value.is_none(), arg, Kind::Default)
    } else if let Some(arg) = op.strip_prefix(":?") {
        (!set_nonempty, arg, Kind::Required)
    } else if let Some(arg) = op.strip_prefix('?') {
        (value.is_none(), arg, Kind::Required)
    } else if let Some(arg) = op.strip_prefix(":+") {
        (set_nonempty, arg, Kind::Alternative)
    } else if let Some(arg) = op.strip_prefix('+') {
        (value.is_some(), arg, Kind::Alternative)
    } else {
        return Err(bad_format(whole));
    };
    match (kind, use_arg) {
        (Kind::Default, true) | (Kind::Alternative, true) => interpolate(arg, env, warnings),
        (Kind::Default, false) | (Kind::Required, false) => Ok(value.cloned().unwrap_or_default()),
        (Kind::Alternative, false) => Ok(String::new()),
        (Kind::Required, true) => {
            let why = interpolate(arg, env, warnings)?;
            Err(if why.is_empty() {
                format!("required variable {name} is missing a value")
            } else {
                format!("required variable {name} is missing a value: {why}")
            })
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Default,
    Required,
    Alternative,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Environment {
        [("A", "a"), ("EMPTY", ""), ("PORT", "8080")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn i(s: &str) -> Result<String, String> {
        interpolate(s, &env(), &mut BTreeSet::new())
    }

    #[test]
    fn forms() {
        assert_eq!(i("$A ${A} x${A}y $$A $$").unwrap(), "a a xay $A $");
        assert_eq!(i("${NOPE:-d} ${EMPTY:-d} ${A:-d}").unwrap(), "d d a");
        assert_eq!(i("${NOPE-d} ${EMPTY-d} ${A-d}").unwrap(), "d  a");
        assert_eq!(i("${NOPE:+x} ${EMPTY:+x} ${A:+x}").unwrap(), "  x");
        assert_eq!(i("${NOPE+x} ${EMPTY+x} ${A+x}").unwrap(), " x x");
        assert_eq!(i("${A?e} ${EMPTY?e}").unwrap(), "a ");
        assert_eq!(i("${NOPE:-${PORT}}:${NOPE:-${X:-80}}").unwrap(), "8080:80");
        assert_eq!(i("héllo ${A}é").unwrap(), "héllo aé");
    }

    #[test]
    fn required() {
        assert_eq!(
            i("${NOPE:?set it}").unwrap_err(),
            "required variable NOPE is missing a value: set it"
        );
        assert!(i("${EMPTY:?}").unwrap_err().contains("EMPTY is missing"));
        assert!(i("${NOPE?}").is_err());
    }

    #[test]
    fn unset_warns() {
        let mut w = BTreeSet::new();
        assert_eq!(interpolate("x${NOPE}y$NOPE", &env(), &mut w).unwrap(), "xy");
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn invalid_formats() {
        for s in ["${", "${A", "$1", "${1}", "${A:x}", "a $", "${}"] {
            assert!(i(s).unwrap_err().contains("invalid interpolation"), "{s}");
        }
    }
}
