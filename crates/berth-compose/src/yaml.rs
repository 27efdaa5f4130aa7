//! A YAML tree that remembers where every node came from.
//!
//! Compose files are untrusted: the tree is built from the parser's events with bounded size
//! (alias expansion included) and depth, duplicate keys are refused, and every node keeps its
//! file, line and column so that later errors can point at it. Scalars stay text with a flag
//! saying whether they were quoted; what type they have is decided by the field they fill, as
//! the compose model does (a plain `80` is a number for `target:` and text for `image:`).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::error::{ConfigError, Error};

/// Most nodes one document may have, counting each expansion of an alias.
const MAX_NODES: usize = 1_000_000;
/// Most bytes of text (scalars and keys) one document may hold, aliases expanded.
const MAX_BYTES: usize = 64 << 20;
/// Deepest nesting of sequences and mappings.
const MAX_DEPTH: usize = 256;

/// Where a node starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    pub file: Option<Arc<Path>>,
    /// 1-based; 0 when unknown.
    pub line: u32,
    /// 1-based; 0 when unknown.
    pub column: u32,
}

impl Location {
    fn at(file: &Option<Arc<Path>>, m: Marker) -> Self {
        Location {
            file: file.clone(),
            line: u32::try_from(m.line()).unwrap_or(u32::MAX),
            column: u32::try_from(m.col() + 1).unwrap_or(u32::MAX),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line, self.column) {
            (Some(file), 0, _) => write!(f, "{}", file.display()),
            (Some(file), line, 0) => write!(f, "{}:{line}", file.display()),
            (Some(file), line, col) => write!(f, "{}:{line}:{col}", file.display()),
            (None, 0, _) => Ok(()),
            (None, line, 0) => write!(f, "line {line}"),
            (None, line, col) => write!(f, "line {line}, column {col}"),
        }
    }
}

/// How a value combines with the one it overrides (compose's `!reset` and `!override` tags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeTag {
    /// Removes the value it overrides (and stays absent itself).
    Reset,
    /// Replaces the value it overrides instead of merging with it.
    Override,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Unquoted: may be read as a number, a boolean or null.
    Plain,
    /// Quoted or block: always text.
    Quoted,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Str(String, Style),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub loc: Location,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub loc: Location,
    pub tag: Option<MergeTag>,
}

impl Node {
    pub fn new(value: Value, loc: Location) -> Self {
        Node {
            value,
            loc,
            tag: None,
        }
    }

    pub fn str(s: impl Into<String>, loc: Location) -> Self {
        Node::new(Value::Str(s.into(), Style::Quoted), loc)
    }

    pub fn map(entries: Vec<(Key, Node)>, loc: Location) -> Self {
        Node::new(Value::Map(entries), loc)
    }

    /// The entry `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.value {
            Value::Map(entries) => entries
                .iter_mut()
                .find(|(k, _)| k.name == key)
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Removes and returns the entry `key` of a mapping.
    pub fn remove(&mut self, key: &str) -> Option<Node> {
        match &mut self.value {
            Value::Map(entries) => {
                let i = entries.iter().position(|(k, _)| k.name == key)?;
                Some(entries.remove(i).1)
            }
            _ => None,
        }
    }

    /// Sets the entry `key` of a mapping, keeping its place when it exists.
    pub fn set(&mut self, key: &str, value: Node) {
        if let Value::Map(entries) = &mut self.value {
            match entries.iter_mut().find(|(k, _)| k.name == key) {
                Some((_, v)) => *v = value,
                None => {
                    let loc = value.loc.clone();
                    entries.push((
                        Key {
                            name: key.to_string(),
                            loc,
                        },
                        value,
                    ));
                }
            }
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s, _) => Some(s),
            _ => None,
        }
    }

    /// A short description of the node's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Str(..) => "a scalar",
            Value::Seq(_) => "a sequence",
            Value::Map(_) => "a mapping",
        }
    }

    /// The node as JSON, with plain scalars typed the way YAML 1.2's core schema reads them.
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Str(s, Style::Quoted) => serde_json::Value::String(s.clone()),
            Value::Str(s, Style::Plain) => plain_scalar_json(s),
            Value::Seq(items) => items.iter().map(Node::to_json).collect(),
            Value::Map(entries) => entries
                .iter()
                .map(|(k, v)| (k.name.clone(), v.to_json()))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        }
    }
}

fn plain_scalar_json(s: &str) -> serde_json::Value {
    match s {
        "true" | "True" | "TRUE" => return true.into(),
        "false" | "False" | "FALSE" => return false.into(),
        _ => {}
    }
    if let Ok(i) = s.parse::<i64>() {
        return i.into();
    }
    if s.chars().any(|c| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        && let Ok(f) = s.parse::<f64>()
        && let Some(n) = serde_json::Number::from_f64(f)
    {
        return n.into();
    }
    serde_json::Value::String(s.to_string())
}

/// Parses one YAML document. `file` names the source in locations and errors.
pub fn parse(text: &str, file: Option<Arc<Path>>) -> Result<Node, Error> {
    Builder::new(file).run(text)
}

enum Frame {
    Seq {
        loc: Location,
        anchor: usize,
        tag: Option<MergeTag>,
        items: Vec<Node>,
    },
    Map {
        loc: Location,
        anchor: usize,
        tag: Option<MergeTag>,
        entries: Vec<(Key, Node)>,
        key: Option<Key>,
        /// The keys so far, to refuse duplicates without a quadratic search.
        seen: HashSet<String>,
    },
}

struct Builder {
    file: Option<Arc<Path>>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, Weight)>,
    nodes: usize,
    bytes: usize,
    root: Option<Node>,
    documents: usize,
}

impl Builder {
    fn new(file: Option<Arc<Path>>) -> Self {
        Builder {
            file,
            stack: Vec::new(),
            anchors: HashMap::new(),
            nodes: 0,
            bytes: 0,
            root: None,
            documents: 0,
        }
    }

    fn err(&self, loc: Location, message: impl Into<String>) -> Error {
        Error::Config(ConfigError::new(loc, "", message))
    }

    fn run(mut self, text: &str) -> Result<Node, Error> {
        let mut parser = Parser::new_from_str(text);
        loop {
            let (event, mark) = parser.next_token().map_err(|e| {
                let loc = Location::at(&self.file, *e.marker());
                self.err(loc, e.info().to_string())
            })?;
            let loc = Location::at(&self.file, mark);
            match event {
                Event::StreamEnd => break,
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::DocumentStart => {
                    self.documents += 1;
                    if self.documents > 1 {
                        return Err(self.err(loc, "a compose file holds one YAML document"));
                    }
                }
                Event::Alias(id) => {
                    let Some((node, weight)) = self.anchors.get(&id) else {
                        return Err(self.err(loc, "unknown alias"));
                    };
                    let (node, weight) = (node.clone(), *weight);
                    self.count(weight, &loc)?;
                    self.complete(node)?;
                }
                Event::Scalar(text, style, anchor, tag) => {
                    self.count(
                        Weight {
                            nodes: 1,
                            bytes: text.len(),
                        },
                        &loc,
                    )?;
                    let (tag, forced_text) = self.tag(tag.as_ref(), &loc)?;
                    let value = match style {
                        TScalarStyle::Plain if forced_text => Value::Str(text, Style::Quoted),
                        TScalarStyle::Plain
                            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL") =>
                        {
                            Value::Null
                        }
                        TScalarStyle::Plain => Value::Str(text, Style::Plain),
                        _ => Value::Str(text, Style::Quoted),
                    };
                    let node = Node { value, loc, tag };
                    if anchor > 0 {
                        let w = weight(&node);
                        self.anchors.insert(anchor, (node.clone(), w));
                    }
                    self.complete(node)?;
                }
                Event::SequenceStart(anchor, tag) => {
                    self.count(Weight::ONE, &loc)?;
                    let (tag, _) = self.tag(tag.as_ref(), &loc)?;
                    self.push(
                        Frame::Seq {
                            loc,
                            anchor,
                            tag,
                            items: Vec::new(),
                        },
                        &mark,
                    )?;
                }
                Event::MappingStart(anchor, tag) => {
                    self.count(Weight::ONE, &loc)?;
                    let (tag, _) = self.tag(tag.as_ref(), &loc)?;
                    self.push(
                        Frame::Map {
                            loc,
                            anchor,
                            tag,
                            entries: Vec::new(),
                            key: None,
                            seen: HashSet::new(),
                        },
                        &mark,
                    )?;
                }
                Event::SequenceEnd => {
                    let Some(Frame::Seq {
                        loc,
                        anchor,
                        tag,
                        items,
                    }) = self.stack.pop()
                    else {
                        return Err(self.err(loc, "unbalanced sequence"));
                    };
                    self.close(Node::new(Value::Seq(items), loc), anchor, tag)?;
                }
                Event::MappingEnd => {
                    let Some(Frame::Map {
                        loc,
                        anchor,
                        tag,
                        entries,
                        ..
                    }) = self.stack.pop()
                    else {
                        return Err(self.err(loc, "unbalanced mapping"));
                    };
                    let entries = self.apply_merge_keys(entries)?;
                    self.close(Node::new(Value::Map(entries), loc), anchor, tag)?;
                }
            }
        }
        Ok(self
            .root
            .unwrap_or_else(|| Node::new(Value::Null, Location::default())))
    }

    fn count(&mut self, w: Weight, loc: &Location) -> Result<(), Error> {
        self.nodes = self.nodes.saturating_add(w.nodes);
        self.bytes = self.bytes.saturating_add(w.bytes);
        if self.bytes > MAX_BYTES {
            return Err(self.err(
                loc.clone(),
                format!("document too large: more than {MAX_BYTES} bytes of text once aliases are expanded"),
            ));
        }
        if self.nodes > MAX_NODES {
            return Err(self.err(
                loc.clone(),
                format!(
                    "document too large: more than {MAX_NODES} nodes once aliases are expanded"
                ),
            ));
        }
        Ok(())
    }

    fn push(&mut self, frame: Frame, mark: &Marker) -> Result<(), Error> {
        if self.stack.len() >= MAX_DEPTH {
            let loc = Location::at(&self.file, *mark);
            return Err(self.err(loc, format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.stack.push(frame);
        Ok(())
    }

    /// Reads a node's tag: compose's merge tags, and the core schema's `!!str` (which makes a
    /// plain scalar text) and other standard tags, which need nothing.
    fn tag(&self, tag: Option<&Tag>, loc: &Location) -> Result<(Option<MergeTag>, bool), Error> {
        let Some(tag) = tag else {
            return Ok((None, false));
        };
        match (tag.handle.as_str(), tag.suffix.as_str()) {
            ("!", "reset") => Ok((Some(MergeTag::Reset), false)),
            ("!", "override") => Ok((Some(MergeTag::Override), false)),
            ("tag:yaml.org,2002:" | "!!", "str") => Ok((None, true)),
            ("tag:yaml.org,2002:" | "!!", "int" | "float" | "bool" | "null" | "map" | "seq") => {
                Ok((None, false))
            }
            (handle, suffix) => {
                Err(self.err(loc.clone(), format!("unsupported tag {handle}{suffix}")))
            }
        }
    }

    fn close(&mut self, mut node: Node, anchor: usize, tag: Option<MergeTag>) -> Result<(), Error> {
        node.tag = tag;
        if anchor > 0 {
            let weight = weight(&node);
            self.anchors.insert(anchor, (node.clone(), weight));
        }
        self.complete(node)
    }

    /// Hands a finished node to its parent.
    fn complete(&mut self, node: Node) -> Result<(), Error> {
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                Ok(())
            }
            Some(Frame::Map {
                entries, key, seen, ..
            }) => match key.take() {
                Some(k) => {
                    entries.push((k, node));
                    Ok(())
                }
                None => {
                    let name = match node.value {
                        Value::Str(s, _) => s,
                        Value::Null => String::new(),
                        _ => {
                            return Err(self.err(node.loc, "mapping keys must be scalars"));
                        }
                    };
                    if name != "<<" && !seen.insert(name.clone()) {
                        let line = entries
                            .iter()
                            .find(|(k, _)| k.name == name)
                            .map_or(0, |(k, _)| k.loc.line);
                        return Err(self.err(
                            node.loc,
                            format!("mapping key \"{name}\" already defined at line {line}"),
                        ));
                    }
                    *key = Some(Key {
                        name,
                        loc: node.loc,
                    });
                    Ok(())
                }
            },
        }
    }

    /// YAML merge keys (`<<: *base` or `<<: [*a, *b]`): the merged mappings' entries are added
    /// where the mapping does not set them itself; earlier merged mappings win over later ones.
    fn apply_merge_keys(&self, entries: Vec<(Key, Node)>) -> Result<Vec<(Key, Node)>, Error> {
        if !entries.iter().any(|(k, _)| k.name == "<<") {
            return Ok(entries);
        }
        let mut own = Vec::with_capacity(entries.len());
        let mut merged = Vec::new();
        for (k, v) in entries {
            if k.name != "<<" {
                own.push((k, v));
                continue;
            }
            let sources = match v.value {
                Value::Map(_) => vec![v],
                Value::Seq(items) => items,
                _ => {
                    return Err(self.err(
                        k.loc,
                        "a merge key (<<) takes a mapping or a sequence of mappings",
                    ));
                }
            };
            for source in sources {
                let Value::Map(source_entries) = source.value else {
                    return Err(self.err(
                        source.loc,
                        "a merge key (<<) takes a mapping or a sequence of mappings",
                    ));
                };
                merged.extend(source_entries);
            }
        }
        let mut present: HashSet<String> = own.iter().map(|(k, _)| k.name.clone()).collect();
        for (k, v) in merged {
            if present.insert(k.name.clone()) {
                own.push((k, v));
            }
        }
        Ok(own)
    }
}

/// What a node costs against the document's bounds.
#[derive(Debug, Clone, Copy)]
struct Weight {
    nodes: usize,
    bytes: usize,
}

impl Weight {
    const ONE: Weight = Weight { nodes: 1, bytes: 0 };

    fn add(self, o: Weight) -> Weight {
        Weight {
            nodes: self.nodes.saturating_add(o.nodes),
            bytes: self.bytes.saturating_add(o.bytes),
        }
    }
}

fn weight(node: &Node) -> Weight {
    match &node.value {
        Value::Seq(items) => items.iter().map(weight).fold(Weight::ONE, Weight::add),
        Value::Map(entries) => entries.iter().fold(Weight::ONE, |w, (k, v)| {
            w.add(Weight {
                nodes: 1,
                bytes: k.name.len(),
            })
            .add(weight(v))
        }),
        Value::Str(s, _) => Weight {
            nodes: 1,
            bytes: s.len(),
        },
        Value::Null => Weight::ONE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Node {
        parse(s, None).unwrap()
    }

    #[test]
    fn scalars_keep_their_style_and_position() {
        let n = p("a: 1\nb: '1'\nc:\nd: [x, ~]\n");
        assert_eq!(
            n.get("a").unwrap().value,
            Value::Str("1".into(), Style::Plain)
        );
        assert_eq!(
            n.get("b").unwrap().value,
            Value::Str("1".into(), Style::Quoted)
        );
        assert_eq!(n.get("c").unwrap().value, Value::Null);
        let d = n.get("d").unwrap();
        assert_eq!((d.loc.line, d.loc.column), (4, 4));
        assert_eq!(d.to_json(), serde_json::json!(["x", null]));
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let e = parse("a: 1\nb: 2\na: 3\n", None).unwrap_err().to_string();
        assert!(e.contains("\"a\" already defined at line 1"), "{e}");
        assert!(e.starts_with("line 3"), "{e}");
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let n = p("x: &b {a: 1, b: 2}\ny:\n  <<: *b\n  b: 3\nz: *b\n");
        assert_eq!(n.to_json()["y"], serde_json::json!({"b": 3, "a": 1}));
        assert_eq!(n.to_json()["z"], serde_json::json!({"a": 1, "b": 2}));
        let n = p("a: &a {k: 1}\nb: &b {k: 2, l: 2}\nc:\n  <<: [*a, *b]\n");
        assert_eq!(n.to_json()["c"], serde_json::json!({"k": 1, "l": 2}));
    }

    #[test]
    fn alias_bombs_are_bounded() {
        let mut doc = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for c in 'b'..='k' {
            doc.push_str(&format!("{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
            prev = c;
        }
        let e = parse(&doc, None).unwrap_err().to_string();
        assert!(e.contains("document too large"), "{e}");
    }

    #[test]
    fn aliases_of_long_strings_are_bounded() {
        let doc = format!(
            "a: &a \"{}\"\nb: [{}]\n",
            "x".repeat(1 << 20),
            vec!["*a"; 100].join(", ")
        );
        let e = parse(&doc, None).unwrap_err().to_string();
        assert!(e.contains("bytes of text"), "{e}");
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let doc = "[".repeat(1000) + &"]".repeat(1000);
        // The parser's own recursion limit or ours, whichever comes first.
        assert!(parse(&doc, None).is_err());
        let doc = "a:\n".to_string()
            + &(1..300)
                .map(|i| format!("{}a:\n", "  ".repeat(i)))
                .collect::<String>();
        let e = parse(&doc, None).unwrap_err().to_string();
        assert!(
            e.contains("nested deeper") || e.contains("recursion"),
            "{e}"
        );
    }

    #[test]
    fn tags() {
        let n = p("a: !reset []\nb: !override {x: 1}\nc: !!str 12\n");
        assert_eq!(n.get("a").unwrap().tag, Some(MergeTag::Reset));
        assert_eq!(n.get("b").unwrap().tag, Some(MergeTag::Override));
        assert_eq!(
            n.get("c").unwrap().value,
            Value::Str("12".into(), Style::Quoted)
        );
        assert!(parse("a: !custom 1\n", None).is_err());
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let e = parse("a: [1, 2\nb: 3\n", None).unwrap_err().to_string();
        assert!(e.starts_with("line "), "{e}");
        assert!(parse("a: 1\n---\nb: 2\n", None).is_err());
    }
}
