//! The line level of a Dockerfile: parser directives (`# escape=`, `# syntax=`), comments, line
//! continuations, and each logical line split into keyword, `--flags` and the rest.
//! What each instruction's arguments mean is [`crate::instructions`]' business.

use crate::error::{BuildError, Result};
use crate::heredoc::{self, Heredoc};

/// One logical line: an instruction before its arguments are interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    /// Lower-cased instruction name (`run`, `copy`, ...).
    pub(crate) keyword: String,
    /// Leading `--name=value` words, as written.
    pub(crate) flags: Vec<String>,
    /// Everything after the flags, trimmed.
    pub(crate) args: String,
    /// The whole logical line (continuations joined, comments dropped), as Docker echoes it in
    /// `Step 1/3 : ...`.
    pub(crate) original: String,
    /// The line the instruction starts on (1-based).
    pub(crate) line: usize,
    /// The here-documents the line opens (RUN, COPY and ADD), bodies read.
    pub(crate) heredocs: Vec<Heredoc>,
}

/// A Dockerfile split into logical lines.
#[derive(Debug)]
pub(crate) struct Lines {
    pub(crate) escape: char,
    pub(crate) nodes: Vec<Node>,
    /// Docker's parser warnings (empty continuation lines), printed at the start of a build.
    pub(crate) warnings: Vec<String>,
}

const DEFAULT_ESCAPE: char = '\\';
const DIRECTIVES: [&str; 3] = ["syntax", "escape", "check"];

pub(crate) fn parse(text: &str) -> Result<Lines> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let raw: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut directives = Directives::default();
    let mut nodes = Vec::new();
    let mut warnings = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let start = i + 1;
        let first = directives.process(raw[i], start)?;
        i += 1;
        let (mut line, mut complete) = trim_continuation(&first, directives.escape);
        if complete && line.is_empty() {
            continue;
        }
        let mut empty_continuation = false;
        while !complete && i < raw.len() {
            let next = raw[i];
            directives.process(next, i + 1)?;
            i += 1;
            if is_comment(next) {
                continue;
            }
            if next.trim().is_empty() {
                empty_continuation = true;
                continue;
            }
            let (part, done) = trim_continuation(next, directives.escape);
            line.push_str(&part);
            complete = done;
        }
        if empty_continuation {
            warnings.push(format!(
                "[WARNING]: Empty continuation line found in:\n    {line}"
            ));
        }
        if let Some(mut node) = new_node(&line, start) {
            if heredoc::allowed(&node.keyword) {
                for mut doc in heredoc::opened_by(&line) {
                    let mut terminated = false;
                    while i < raw.len() {
                        let body_line = raw[i];
                        i += 1;
                        if doc.ends_at(body_line) {
                            terminated = true;
                            break;
                        }
                        doc.content.push_str(body_line);
                        doc.content.push('\n');
                    }
                    if !terminated {
                        return Err(BuildError::parse(start, "unterminated heredoc"));
                    }
                    node.heredocs.push(doc);
                }
            }
            nodes.push(node);
        }
    }
    if !warnings.is_empty() {
        warnings.push(
            "[WARNING]: Empty continuation lines will become errors in a future release."
                .to_owned(),
        );
    }
    Ok(Lines {
        escape: directives.escape,
        nodes,
        warnings,
    })
}

/// Parser directives are only read at the very top: the first line that is not one (a blank
/// line, another comment, an instruction) ends them.
struct Directives {
    escape: char,
    done: bool,
    seen: Vec<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Self {
            escape: DEFAULT_ESCAPE,
            done: false,
            seen: Vec::new(),
        }
    }
}

impl Directives {
    /// Looks at a raw line for a directive and returns it ready for the continuation check:
    /// leading whitespace and comments removed.
    fn process(&mut self, raw: &str, line_no: usize) -> Result<String> {
        let line = raw.trim_start();
        if !self.done {
            match directive(line) {
                Some((name, value)) if DIRECTIVES.contains(&name.as_str()) => {
                    if self.seen.contains(&name) {
                        return Err(BuildError::parse(
                            line_no,
                            format!("only one {name} parser directive can be used"),
                        ));
                    }
                    if name == "escape" {
                        self.escape = match value {
                            "\\" => '\\',
                            "`" => '`',
                            other => {
                                return Err(BuildError::parse(
                                    line_no,
                                    format!("invalid ESCAPE '{other}'. Must be ` or \\"),
                                ));
                            }
                        };
                    }
                    self.seen.push(name);
                }
                _ => self.done = true,
            }
        }
        Ok(if is_comment(line) {
            String::new()
        } else {
            line.to_owned()
        })
    }
}

/// `# name = value`, name starting with a letter.
fn directive(line: &str) -> Option<(String, &str)> {
    let rest = line.strip_prefix('#')?.trim_start();
    let name_len = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let name = &rest[..name_len];
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let value = rest[name_len..].trim_start().strip_prefix('=')?.trim();
    (!value.is_empty()).then(|| (name.to_ascii_lowercase(), value))
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Strips a trailing escape character (and blanks after it); `true` when the line is complete.
fn trim_continuation(line: &str, escape: char) -> (String, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    match trimmed.strip_suffix(escape) {
        Some(rest) => (rest.to_owned(), false),
        None => (line.to_owned(), true),
    }
}

fn new_node(line: &str, line_no: usize) -> Option<Node> {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return None;
    }
    let (keyword, rest) = match trimmed.find(char::is_whitespace) {
        Some(at) => (&trimmed[..at], trimmed[at..].trim_start()),
        None => (trimmed, ""),
    };
    let (flags, args) = extract_flags(rest);
    Some(Node {
        keyword: keyword.to_ascii_lowercase(),
        flags,
        args: args.trim().to_owned(),
        original: trimmed.to_owned(),
        line: line_no,
        heredocs: Vec::new(),
    })
}

/// Splits leading `--flag[=value]` words off `rest` (quotes and backslashes in them are
/// interpreted); a bare `--` ends the flags.
fn extract_flags(rest: &str) -> (Vec<String>, &str) {
    let mut flags = Vec::new();
    let mut pos = 0;
    loop {
        let tail = &rest[pos..];
        let start = pos + (tail.len() - tail.trim_start().len());
        if !rest[start..].starts_with("--") {
            return (flags, &rest[start..]);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        let mut chars = rest[start..].char_indices().peekable();
        let mut end = rest.len();
        while let Some((offset, c)) = chars.next() {
            match quote {
                None if c.is_whitespace() => {
                    end = start + offset;
                    break;
                }
                None if c == '\'' || c == '"' => quote = Some(c),
                Some(q) if c == q => quote = None,
                _ if c == '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        word.push(escaped);
                    }
                }
                _ => word.push(c),
            }
        }
        if word == "--" {
            return (flags, &rest[end..]);
        }
        flags.push(word);
        pos = end;
        if pos >= rest.len() {
            return (flags, "");
        }
    }
}

/// Splits on whitespace outside quotes, keeping quotes and escapes in the words (they are
/// removed later by variable expansion). An escape at the very end is dropped.
pub(crate) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if quote.is_none() && c.is_whitespace() {
            if in_word {
                words.push(std::mem::take(&mut word));
                in_word = false;
            }
            continue;
        }
        in_word = true;
        match quote {
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                word.push(c);
            }
            Some(q) if c == q => {
                quote = None;
                word.push(c);
            }
            // Inside single quotes nothing is escaped.
            Some('\'') => word.push(c),
            _ if c == escape => {
                if let Some(next) = chars.next() {
                    word.push(c);
                    word.push(next);
                }
            }
            _ => word.push(c),
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(text: &str) -> Vec<Node> {
        parse(text).unwrap().nodes
    }

    #[test]
    fn splits_keyword_flags_and_args() {
        let n = &nodes("copy --from=build --chown=\"a b\" src /dst\n")[0];
        assert_eq!(n.keyword, "copy");
        assert_eq!(n.flags, ["--from=build", "--chown=a b"]);
        assert_eq!(n.args, "src /dst");
        assert_eq!(n.line, 1);
        let n = &nodes("RUN -- --not-a-flag")[0];
        assert!(n.flags.is_empty());
        assert_eq!(n.args, "--not-a-flag");
        let n = &nodes("RUN --network=none")[0];
        assert_eq!((n.flags.len(), n.args.as_str()), (1, ""));
    }

    #[test]
    fn joins_continuations_and_skips_comments_inside_them() {
        let text = "FROM busybox\n\n# comment\nRUN echo a \\\n  # inside\n    && echo b \\\n\n  && echo c\nCMD x";
        let lines = parse(text).unwrap();
        let n = &lines.nodes;
        assert_eq!(n.len(), 3);
        assert_eq!(n[1].original, "RUN echo a     && echo b   && echo c");
        assert_eq!(n[1].line, 4);
        assert_eq!(n[2].line, 9);
        assert!(lines.warnings[0].contains("Empty continuation line"));
    }

    #[test]
    fn escape_directive_changes_the_continuation_character() {
        let text = "# escape=`\n\nFROM x\nRUN dir c:\\ `\n  && echo done";
        let lines = parse(text).unwrap();
        assert_eq!(lines.escape, '`');
        assert_eq!(lines.nodes[1].original, "RUN dir c:\\   && echo done");
    }

    #[test]
    fn directives_only_count_at_the_top() {
        let lines = parse("# syntax=docker/dockerfile:1\n# escape=`\nFROM x").unwrap();
        assert_eq!(lines.escape, '`');
        // After an ordinary comment, `# escape=` is just a comment.
        let lines = parse("# hello\n# escape=`\nFROM x").unwrap();
        assert_eq!(lines.escape, '\\');
        let lines = parse("\n# escape=`\nFROM x").unwrap();
        assert_eq!(lines.escape, '\\');
    }

    #[test]
    fn bad_directives_are_errors_with_their_line() {
        let err = parse("# escape=x\nFROM x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "dockerfile parse error on line 1: invalid ESCAPE 'x'. Must be ` or \\"
        );
        let err = parse("# escape=\\\n# escape=`\nFROM x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "dockerfile parse error on line 2: only one escape parser directive can be used"
        );
    }

    #[test]
    fn words_keep_quotes_for_expansion() {
        assert_eq!(
            parse_words(r#"a="x y" b=c\ d 'e f'"#, '\\'),
            [r#"a="x y""#, r"b=c\ d", "'e f'"]
        );
        assert_eq!(parse_words("a\\", '\\'), ["a"]);
        assert_eq!(parse_words(r#"'a\' "b\"c""#, '\\'), [r"'a\'", r#""b\"c""#]);
        assert!(parse_words("   ", '\\').is_empty());
    }

    #[test]
    fn heredoc_bodies_follow_their_line_raw() {
        let text = "FROM x\nRUN <<EOF\n# not a comment \\\n  echo $HOME\nEOF\nCOPY <<a <<-\"b\" /d/\n1\na\n\t2\n\tb\nCMD x\n";
        let lines = parse(text).unwrap();
        let n = &lines.nodes;
        assert_eq!(n.len(), 4);
        assert_eq!(n[1].original, "RUN <<EOF");
        assert_eq!(
            n[1].heredocs[0].content,
            "# not a comment \\\n  echo $HOME\n"
        );
        assert_eq!(n[2].heredocs.len(), 2);
        assert_eq!(n[2].heredocs[0].content, "1\n");
        assert_eq!(n[2].heredocs[1].body(), "2\n");
        assert!(!n[2].heredocs[1].expand);
        assert_eq!((n[3].keyword.as_str(), n[3].line), ("cmd", 11));
        // Other instructions do not read heredocs; RUN without one reads nothing more.
        let n = parse("FROM x\nLABEL a=<<EOF\nRUN echo <<EOF").unwrap_err();
        assert_eq!(
            n.to_string(),
            "dockerfile parse error on line 3: unterminated heredoc"
        );
    }

    #[test]
    fn a_heredoc_line_may_continue_before_its_body() {
        let lines = parse("FROM x\nRUN cat \\\n  <<EOF\nhi\nEOF\n").unwrap();
        assert_eq!(lines.nodes[1].original, "RUN cat   <<EOF");
        assert_eq!(lines.nodes[1].heredocs[0].content, "hi\n");
    }

    #[test]
    fn strips_a_byte_order_mark_and_carriage_returns() {
        let n = nodes("\u{feff}FROM x\r\nRUN a \\\r\n b\r\n");
        assert_eq!(n[0].keyword, "from");
        assert_eq!(n[1].original, "RUN a  b");
    }
}
