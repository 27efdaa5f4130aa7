//! `.env` and `env_file` files: `KEY=value` lines, `export KEY=value`, `#` comments, single
//! quotes (literal), double quotes (escapes and variables, may span lines), unquoted values
//! (variables, ` #` starts a comment), and a bare `KEY` that takes its value from the
//! environment. Values may use the variables defined above them and those of `outer`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, invalid};
use crate::interpolate::{Environment, interpolate};
use crate::yaml::Location;

/// Largest env file read, as a bound on untrusted input.
const MAX_SIZE: u64 = 16 << 20;

/// Reads and parses an env file. A bare `KEY` with no value anywhere maps to `None`.
pub fn read(path: &Path, outer: &Environment) -> Result<BTreeMap<String, Option<String>>, Error> {
    let text = crate::read_bounded(path, MAX_SIZE)?;
    parse(&text, Some(Arc::from(path)), outer)
}

pub fn parse(
    text: &str,
    file: Option<Arc<Path>>,
    outer: &Environment,
) -> Result<BTreeMap<String, Option<String>>, Error> {
    let mut vars: BTreeMap<String, Option<String>> = BTreeMap::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let loc = Location {
            file: file.clone(),
            line: line_no,
            column: 0,
        };
        let line = lines[i].trim_start();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line
            .strip_prefix("export ")
            .map(str::trim_start)
            .unwrap_or(line);
        let (key, raw) = match line.split_once('=') {
            Some((k, v)) => (k.trim_end(), Some(v.trim_start())),
            None => (line.trim_end(), None),
        };
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(invalid(&loc, "", format!("invalid variable name {key:?}")));
        }
        let Some(raw) = raw else {
            let value = vars
                .get(key)
                .cloned()
                .flatten()
                .or_else(|| outer.get(key).cloned());
            vars.insert(key.to_string(), value);
            continue;
        };
        let scope = scope(&vars, outer);
        let value = if let Some(body) = raw.strip_prefix('\'') {
            let (content, consumed) = quoted(body, '\'', &lines, &mut i)
                .ok_or_else(|| invalid(&loc, key, "unterminated single quote"))?;
            trailing(consumed, &loc, key)?;
            content
        } else if let Some(body) = raw.strip_prefix('"') {
            let (content, consumed) = quoted(body, '"', &lines, &mut i)
                .ok_or_else(|| invalid(&loc, key, "unterminated double quote"))?;
            trailing(consumed, &loc, key)?;
            let unescaped = unescape(&content);
            interpolate(&unescaped, &scope, &mut BTreeSet::new())
                .map_err(|m| invalid(&loc, key, m))?
        } else {
            let value = match raw.find(" #").or_else(|| raw.find("\t#")) {
                Some(at) => &raw[..at],
                None => raw,
            };
            interpolate(value.trim_end(), &scope, &mut BTreeSet::new())
                .map_err(|m| invalid(&loc, key, m))?
        };
        vars.insert(key.to_string(), Some(value));
    }
    Ok(vars)
}

/// What a value may refer to: the variables above it, then the outer environment.
fn scope(vars: &BTreeMap<String, Option<String>>, outer: &Environment) -> Environment {
    let mut scope = outer.clone();
    for (k, v) in vars {
        if let Some(v) = v {
            scope.insert(k.clone(), v.clone());
        }
    }
    scope
}

/// The content of a quoted value that starts in `first` and may continue on the following
/// lines (advancing `next`). Returns the content and what follows the closing quote.
fn quoted<'a>(
    first: &'a str,
    quote: char,
    lines: &[&'a str],
    next: &mut usize,
) -> Option<(String, &'a str)> {
    let mut content = String::new();
    let mut segment = first;
    loop {
        if let Some(end) = closing(segment, quote) {
            content.push_str(&segment[..end]);
            return Some((content, &segment[end + 1..]));
        }
        content.push_str(segment);
        content.push('\n');
        segment = lines.get(*next)?;
        *next += 1;
    }
}

/// The index of the unescaped closing quote.
fn closing(s: &str, quote: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' && quote == '"' {
            escaped = true;
        } else if c == quote {
            return Some(i);
        }
    }
    None
}

fn trailing(rest: &str, loc: &Location, key: &str) -> Result<(), Error> {
    let rest = rest.trim_start();
    if rest.is_empty() || rest.starts_with('#') {
        Ok(())
    } else {
        Err(invalid(
            loc,
            key,
            format!("unexpected {rest:?} after the closing quote"),
        ))
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            // `\$` stays escaped for interpolation, which turns `$$` into `$`.
            Some('$') => out.push_str("$$"),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> BTreeMap<String, Option<String>> {
        let outer: Environment = [("HOME".to_string(), "/root".to_string())].into();
        parse(s, None, &outer).unwrap()
    }

    fn v(m: &BTreeMap<String, Option<String>>, k: &str) -> Option<String> {
        m.get(k).cloned().flatten()
    }

    #[test]
    fn forms() {
        let m = p(
            "# c\nA=1\nexport B = two words  # note\nC='$A #x'\nD=\"x\\n${A}\\\"\"\nE=${HOME}/$A\nF=\nHOME\nNOPE\nG=a#b\n",
        );
        assert_eq!(v(&m, "A").as_deref(), Some("1"));
        assert_eq!(v(&m, "B").as_deref(), Some("two words"));
        assert_eq!(v(&m, "C").as_deref(), Some("$A #x"));
        assert_eq!(v(&m, "D").as_deref(), Some("x\n1\""));
        assert_eq!(v(&m, "E").as_deref(), Some("/root/1"));
        assert_eq!(v(&m, "F").as_deref(), Some(""));
        assert_eq!(v(&m, "HOME").as_deref(), Some("/root"));
        assert_eq!(m.get("NOPE"), Some(&None));
        assert_eq!(v(&m, "G").as_deref(), Some("a#b"));
    }

    #[test]
    fn multiline_double_quotes() {
        let m = p("K=\"line1\nline2\"\nL=x\n");
        assert_eq!(v(&m, "K").as_deref(), Some("line1\nline2"));
        assert_eq!(v(&m, "L").as_deref(), Some("x"));
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("A=1\nB='x\n", None, &Environment::new())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("line 2"), "{e}");
        let e = parse("bad key=1\n", None, &Environment::new())
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid variable name"), "{e}");
        assert!(parse("A=\"x\" y\n", None, &Environment::new()).is_err());
    }
}
