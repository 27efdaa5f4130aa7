//! Merging compose trees (`-f a -f b`, `extends`), by the specification's rules: mappings are
//! merged key by key, scalars overridden, sequences appended; `command`, `entrypoint` and
//! `healthcheck.test` are replaced; `ports`, `volumes`, `secrets` and `configs` are merged on
//! their unique key; list-or-mapping fields (`environment`, `labels`, …) are merged as
//! mappings. `!reset` removes a value, `!override` replaces it whole.

use std::collections::{HashMap, HashSet};

use crate::convert::syntax;
use crate::yaml::{Key, MergeTag, Node, Value};

/// Merges `over` onto `base` (both documents' roots).
pub(crate) fn merge(base: Node, over: Node) -> Node {
    merge_at(&[], base, over)
}

/// Merges two definitions of the service `name` (for `extends`).
pub(crate) fn merge_service(name: &str, base: Node, over: Node) -> Node {
    merge_at(&["services", name], base, over)
}

fn merge_at(path: &[&str], base: Node, over: Node) -> Node {
    if over.tag == Some(MergeTag::Override) {
        return strip_resets(over);
    }
    match rule(path) {
        Rule::Replace => strip_resets(over),
        Rule::Dict(sep) => merge_maps(path, to_dict(base, sep), to_dict(over, sep)),
        Rule::Names => merge_maps(path, names_to_map(base), names_to_map(over)),
        Rule::Unique(key) => merge_unique(base, over, key),
        Rule::List => append(to_list(base), to_list(over)),
        Rule::Build => merge_maps(path, build_to_map(base), build_to_map(over)),
        Rule::Logging => {
            let driver = |n: &Node| n.get("driver").and_then(Node::as_str).map(str::to_string);
            match (driver(&base), driver(&over)) {
                (Some(a), Some(b)) if a != b => strip_resets(over),
                _ => merge_generic(path, base, over),
            }
        }
        Rule::Generic => merge_generic(path, base, over),
    }
}

#[derive(Clone, Copy)]
enum Rule {
    Replace,
    /// A mapping, or a list of `key<sep>value` strings.
    Dict(char),
    /// A mapping, or a list of names (`networks`, `depends_on`).
    Names,
    Unique(fn(&Node) -> String),
    /// A string or a list of strings, appended.
    List,
    Build,
    Logging,
    Generic,
}

fn rule(path: &[&str]) -> Rule {
    match path {
        ["services", _, "command" | "entrypoint"] | ["services", _, "healthcheck", "test"] => {
            Rule::Replace
        }
        [
            "services",
            _,
            "environment" | "labels" | "sysctls" | "annotations",
        ]
        | ["services", _, "build", "args" | "labels"]
        | ["services", _, "deploy", "labels"]
        | ["services", _, "logging", "options"]
        | [_, _, "labels" | "driver_opts"] => Rule::Dict('='),
        ["services", _, "networks" | "depends_on"] => Rule::Names,
        ["services", _, "ports"] => Rule::Unique(port_key),
        ["services", _, "volumes"] => Rule::Unique(volume_key),
        ["services", _, "secrets" | "configs"] => Rule::Unique(file_ref_key),
        [
            "services",
            _,
            "dns" | "dns_search" | "tmpfs" | "env_file" | "profiles",
        ] => Rule::List,
        ["services", _, "build"] => Rule::Build,
        ["services", _, "logging"] => Rule::Logging,
        _ => Rule::Generic,
    }
}

fn merge_generic(path: &[&str], base: Node, over: Node) -> Node {
    match (&base.value, &over.value) {
        (Value::Map(_), Value::Map(_)) => merge_maps(path, base, over),
        (Value::Seq(_), Value::Seq(_)) => append(base, over),
        _ => strip_resets(over),
    }
}

fn merge_maps(path: &[&str], base: Node, over: Node) -> Node {
    let Node {
        value: base_value,
        loc,
        ..
    } = base;
    let (mut entries, over_entries) = match (base_value, over.value) {
        (Value::Map(e), Value::Map(o)) => (e, o),
        // Each file was checked on its own before merging, so a mismatch is a mapping
        // replaced by null or a list replaced by a mapping: the override wins.
        (_, value) => return strip_resets(Node { value, ..over }),
    };
    // Slots keep positions stable while keys are removed; the index finds a key in O(1).
    let mut index: HashMap<String, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (k.name.clone(), i))
        .collect();
    let mut slots: Vec<Option<(Key, Node)>> = entries.drain(..).map(Some).collect();
    for (k, v) in over_entries {
        let existing = index.get(&k.name).copied();
        if v.tag == Some(MergeTag::Reset) {
            if let Some(i) = existing {
                slots[i] = None;
                index.remove(&k.name);
            }
            continue;
        }
        match existing.and_then(|i| slots[i].take().map(|old| (i, old))) {
            // `key:` with nothing keeps what was there (`networks: {front: }`).
            Some((i, old)) if v.value == Value::Null => slots[i] = Some(old),
            Some((i, (_, old))) => {
                let mut child: Vec<&str> = path.to_vec();
                child.push(&k.name);
                let merged = merge_at(&child, old, v);
                slots[i] = Some((k, merged));
            }
            None => {
                index.insert(k.name.clone(), slots.len());
                slots.push(Some((k, strip_resets(v))));
            }
        }
    }
    entries.extend(slots.into_iter().flatten());
    Node {
        value: Value::Map(entries),
        loc,
        tag: None,
    }
}

fn append(base: Node, over: Node) -> Node {
    let Node {
        value: base_value,
        loc,
        ..
    } = base;
    let (mut items, over_items) = match (base_value, over.value) {
        (Value::Seq(i), Value::Seq(o)) => (i, o),
        (_, value) => return strip_resets(Node { value, ..over }),
    };
    let mut seen: HashSet<String> = items.iter().map(|i| i.to_json().to_string()).collect();
    for item in over_items {
        if item.tag == Some(MergeTag::Reset) {
            continue;
        }
        if seen.insert(item.to_json().to_string()) {
            items.push(strip_resets(item));
        }
    }
    Node {
        value: Value::Seq(items),
        loc,
        tag: None,
    }
}

/// Entries of `over` replace those of `base` with the same key; others are appended.
fn merge_unique(base: Node, over: Node, key: fn(&Node) -> String) -> Node {
    let Node {
        value: base_value,
        loc,
        ..
    } = base;
    let (mut items, over_items) = match (base_value, over.value) {
        (Value::Seq(i), Value::Seq(o)) => (i, o),
        (_, value) => return strip_resets(Node { value, ..over }),
    };
    let mut index: HashMap<String, usize> =
        items.iter().enumerate().map(|(i, n)| (key(n), i)).collect();
    for item in over_items {
        if item.tag == Some(MergeTag::Reset) {
            continue;
        }
        match index.get(&key(&item)) {
            Some(&i) => items[i] = strip_resets(item),
            None => {
                index.insert(key(&item), items.len());
                items.push(strip_resets(item));
            }
        }
    }
    Node {
        value: Value::Seq(items),
        loc,
        tag: None,
    }
}

fn field(n: &Node, k: &str) -> String {
    n.get(k)
        .and_then(Node::as_str)
        .unwrap_or_default()
        .to_string()
}

fn port_key(n: &Node) -> String {
    match &n.value {
        Value::Str(s, _) => match syntax::port(s) {
            Ok(ports) => ports
                .iter()
                .map(syntax::port_key)
                .collect::<Vec<_>>()
                .join(","),
            Err(_) => s.clone(),
        },
        _ => {
            let protocol = match field(n, "protocol") {
                p if p.is_empty() => "tcp".to_string(),
                p => p,
            };
            format!(
                "{}:{}:{}/{protocol}",
                field(n, "host_ip"),
                field(n, "published"),
                field(n, "target")
            )
        }
    }
}

fn volume_key(n: &Node) -> String {
    match &n.value {
        Value::Str(s, _) => syntax::split_volume(s).1.to_string(),
        _ => field(n, "target"),
    }
}

fn file_ref_key(n: &Node) -> String {
    match &n.value {
        Value::Str(s, _) => s.clone(),
        _ => match field(n, "target") {
            t if t.is_empty() => field(n, "source"),
            t => t,
        },
    }
}

/// A list of `k<sep>v` strings as a mapping (`k` alone maps to null).
fn to_dict(n: Node, sep: char) -> Node {
    match n.value {
        Value::Seq(items) => {
            let entries = items
                .into_iter()
                .map(|item| {
                    let loc = item.loc.clone();
                    let text = item.as_str().unwrap_or_default().to_string();
                    let (k, v) = match text.split_once(sep) {
                        Some((k, v)) => (k.to_string(), Node::str(v, loc.clone())),
                        None => (text, Node::new(Value::Null, loc.clone())),
                    };
                    (Key { name: k, loc }, v)
                })
                .collect();
            Node {
                value: Value::Map(entries),
                loc: n.loc,
                tag: n.tag,
            }
        }
        _ => ensure_map(n),
    }
}

/// A list of names as a mapping of name to null.
fn names_to_map(n: Node) -> Node {
    match n.value {
        Value::Seq(items) => {
            let entries = items
                .into_iter()
                .map(|item| {
                    let loc = item.loc.clone();
                    let name = item.as_str().unwrap_or_default().to_string();
                    (
                        Key {
                            name,
                            loc: loc.clone(),
                        },
                        Node::new(Value::Null, loc),
                    )
                })
                .collect();
            Node {
                value: Value::Map(entries),
                loc: n.loc,
                tag: n.tag,
            }
        }
        _ => ensure_map(n),
    }
}

/// `build: ./dir` as `build: {context: ./dir}`.
fn build_to_map(n: Node) -> Node {
    match n.value {
        Value::Str(..) => {
            let loc = n.loc.clone();
            Node::map(
                vec![(
                    Key {
                        name: "context".to_string(),
                        loc: loc.clone(),
                    },
                    Node { tag: None, ..n },
                )],
                loc,
            )
        }
        _ => ensure_map(n),
    }
}

/// A string as a one-item list.
fn to_list(n: Node) -> Node {
    match n.value {
        Value::Str(..) => {
            let loc = n.loc.clone();
            Node::new(Value::Seq(vec![Node { tag: None, ..n }]), loc)
        }
        Value::Null => Node::new(Value::Seq(Vec::new()), n.loc),
        _ => n,
    }
}

/// Null as an empty mapping; anything else as it is.
fn ensure_map(n: Node) -> Node {
    match n.value {
        Value::Null => Node::map(Vec::new(), n.loc),
        _ => n,
    }
}

/// Removes `!reset` values that had nothing to reset.
fn strip_resets(mut n: Node) -> Node {
    n.tag = None;
    match n.value {
        Value::Map(entries) => {
            n.value = Value::Map(
                entries
                    .into_iter()
                    .filter(|(_, v)| v.tag != Some(MergeTag::Reset))
                    .map(|(k, v)| (k, strip_resets(v)))
                    .collect(),
            );
        }
        Value::Seq(items) => {
            n.value = Value::Seq(
                items
                    .into_iter()
                    .filter(|v| v.tag != Some(MergeTag::Reset))
                    .map(strip_resets)
                    .collect(),
            );
        }
        _ => {}
    }
    n
}
