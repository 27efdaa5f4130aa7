//! Docker's variable substitution in instruction arguments: `$VAR`, `${VAR}`, `${VAR:-default}`,
//! `${VAR-default}`, `${VAR:+alt}`, `${VAR+alt}`, `${VAR:?msg}`, `${VAR?msg}`, single and double
//! quotes, and the escape character. Quotes and escapes are removed as the shell would.

use std::collections::HashMap;

use crate::error::{BuildError, Result};

/// The variables an instruction sees: the image's ENV and the build args in scope.
pub(crate) struct Vars<'a>(HashMap<&'a str, &'a str>);

impl<'a> Vars<'a> {
    /// From `KEY=value` strings; a later entry wins.
    pub(crate) fn new(env: impl IntoIterator<Item = &'a str>) -> Self {
        Self(
            env.into_iter()
                .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.0.get(name).copied()
    }
}

/// Expands one word (quotes removed, whitespace kept).
pub(crate) fn expand(word: &str, escape: char, vars: &Vars<'_>) -> Result<String> {
    Lexer::new(word, escape, vars)
        .process(None)
        .map(|(text, _)| text)
        .map_err(|message| BuildError::Expansion {
            word: word.to_owned(),
            message,
        })
}

/// Expands and splits into words, as EXPOSE does: unquoted whitespace, including whitespace
/// that came from a variable, separates words.
pub(crate) fn expand_words(word: &str, escape: char, vars: &Vars<'_>) -> Result<Vec<String>> {
    Lexer::new(word, escape, vars)
        .process(None)
        .map(|(_, words)| words.finish())
        .map_err(|message| BuildError::Expansion {
            word: word.to_owned(),
            message,
        })
}

/// Expands a here-document's body as a shell does: `$VAR`s and `${...}` forms only; quotes
/// are ordinary text, and the escape character only escapes `$` and itself.
pub(crate) fn expand_heredoc(body: &str, escape: char, vars: &Vars<'_>) -> Result<String> {
    let mut lexer = Lexer::new(body, escape, vars);
    lexer.heredoc = true;
    lexer
        .process(None)
        .map(|(text, _)| text)
        .map_err(|message| BuildError::Expansion {
            word: body.to_owned(),
            message,
        })
}

struct Lexer<'v, 'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    vars: &'v Vars<'a>,
    /// A here-document's body: see [`expand_heredoc`].
    heredoc: bool,
}

type LexResult<T> = std::result::Result<T, String>;

impl<'v, 'a> Lexer<'v, 'a> {
    fn new(word: &str, escape: char, vars: &'v Vars<'a>) -> Self {
        Self {
            chars: word.chars().collect(),
            pos: 0,
            escape,
            vars,
            heredoc: false,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Processes until `stop` (consumed) or the end; returns the text and its words.
    fn process(&mut self, stop: Option<char>) -> LexResult<(String, Words)> {
        let mut text = String::new();
        let mut words = Words::default();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.next();
                return Ok((text, words));
            }
            match c {
                '\'' | '"' if self.heredoc => {
                    self.next();
                    words.char(c);
                    text.push(c);
                }
                _ if self.heredoc && c == self.escape => {
                    self.next();
                    match self.peek() {
                        Some(n) if n == '$' || n == self.escape => {
                            self.next();
                            text.push(n);
                        }
                        _ => text.push(c),
                    }
                }
                '\'' => {
                    let quoted = self.single_quoted()?;
                    words.raw(&quoted);
                    text.push_str(&quoted);
                }
                '"' => {
                    let quoted = self.double_quoted()?;
                    words.raw(&quoted);
                    text.push_str(&quoted);
                }
                '$' => {
                    let value = self.dollar()?;
                    words.split(&value);
                    text.push_str(&value);
                }
                _ => {
                    self.next();
                    if c == self.escape {
                        let Some(escaped) = self.next() else { break };
                        words.raw_char(escaped);
                        text.push(escaped);
                    } else {
                        words.char(c);
                        text.push(c);
                    }
                }
            }
        }
        match stop {
            Some(stop) => Err(format!(
                "unexpected end of statement while looking for matching {stop}"
            )),
            None => Ok((text, words)),
        }
    }

    fn single_quoted(&mut self) -> LexResult<String> {
        self.next();
        let mut out = String::new();
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .to_owned(),
                    );
                }
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quoted(&mut self) -> LexResult<String> {
        self.next();
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .to_owned(),
                    );
                }
                Some('"') => {
                    self.next();
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(c) => {
                    self.next();
                    if c == self.escape {
                        match self.peek() {
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.next();
                                out.push(n);
                                continue;
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(c);
                }
            }
        }
    }

    fn dollar(&mut self) -> LexResult<String> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".to_owned());
            }
            return Ok(self.vars.get(&name).unwrap_or_default().to_owned());
        }
        self.next();
        match self.peek() {
            None => return Err("syntax error: missing '}'".to_owned()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".to_owned()),
            Some(_) => {}
        }
        let name = self.name();
        let value = self.vars.get(&name);
        let modifier = self.next();
        match modifier {
            Some('}') => Ok(value.unwrap_or_default().to_owned()),
            Some(':') => {
                let op = self.next();
                let word = self.word_until_brace()?;
                let value = value.unwrap_or_default();
                match op {
                    Some('-') => Ok(if value.is_empty() {
                        word
                    } else {
                        value.to_owned()
                    }),
                    Some('+') => Ok(if value.is_empty() {
                        String::new()
                    } else {
                        word
                    }),
                    Some('?') if value.is_empty() => Err(unset_message(&name, &word, "empty")),
                    Some('?') => Ok(value.to_owned()),
                    Some(other) => Err(format!("unsupported modifier ({other}) in substitution")),
                    None => Err("syntax error: missing '}'".to_owned()),
                }
            }
            Some('-') => {
                let word = self.word_until_brace()?;
                Ok(value.map_or(word, str::to_owned))
            }
            Some('+') => {
                let word = self.word_until_brace()?;
                Ok(if value.is_some() { word } else { String::new() })
            }
            Some('?') => {
                let word = self.word_until_brace()?;
                value
                    .map(str::to_owned)
                    .ok_or_else(|| unset_message(&name, &word, "unset"))
            }
            Some(other) => Err(format!("unsupported modifier ({other}) in substitution")),
            None => Err("syntax error: missing '}'".to_owned()),
        }
    }

    fn word_until_brace(&mut self) -> LexResult<String> {
        match self.process(Some('}')) {
            Ok((word, _)) => Ok(word),
            Err(_) if self.peek().is_none() => Err("syntax error: missing '}'".to_owned()),
            Err(e) => Err(e),
        }
    }

    /// A variable name: letters, digits and `_`; a run of digits; or one special parameter.
    fn name(&mut self) -> String {
        let mut name = String::new();
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    self.next();
                    name.push(d);
                }
                return name;
            }
            Some(c @ ('@' | '*' | '#' | '?' | '-' | '$' | '!')) => {
                self.next();
                name.push(c);
                return name;
            }
            _ => {}
        }
        while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
            self.next();
            name.push(c);
        }
        name
    }
}

fn unset_message(name: &str, word: &str, what: &str) -> String {
    if word.is_empty() {
        format!("{name}: is not allowed to be {what}")
    } else {
        format!("{name}: {word}")
    }
}

/// Word splitting: unquoted whitespace separates words, quoted text never does.
#[derive(Default)]
struct Words {
    words: Vec<String>,
    word: String,
    in_word: bool,
}

impl Words {
    fn char(&mut self, c: char) {
        if c.is_whitespace() {
            if self.in_word && !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else {
            self.raw_char(c);
        }
    }

    fn raw_char(&mut self, c: char) {
        self.word.push(c);
        self.in_word = true;
    }

    fn split(&mut self, s: &str) {
        s.chars().for_each(|c| self.char(c));
    }

    fn raw(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(self.word);
        }
        self.words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars<'static> {
        Vars::new(["NAME=world", "EMPTY=", "PORTS=80 443", "PATH=/bin"])
    }

    fn x(word: &str) -> String {
        expand(word, '\\', &vars()).unwrap()
    }

    #[test]
    fn substitutes_variables() {
        assert_eq!(x("hello $NAME"), "hello world");
        assert_eq!(x("${NAME}s"), "worlds");
        assert_eq!(x("$NAMEs"), "");
        assert_eq!(x("$UNSET-x"), "-x");
        assert_eq!(x("a$"), "a$");
        assert_eq!(x("$1x"), "x");
        assert_eq!(x("${PATH}:/usr/bin"), "/bin:/usr/bin");
    }

    #[test]
    fn modifiers() {
        assert_eq!(x("${UNSET:-def}"), "def");
        assert_eq!(x("${EMPTY:-def}"), "def");
        assert_eq!(x("${EMPTY-def}"), "");
        assert_eq!(x("${UNSET-def}"), "def");
        assert_eq!(x("${NAME:-def}"), "world");
        assert_eq!(x("${NAME:+alt}"), "alt");
        assert_eq!(x("${EMPTY:+alt}"), "");
        assert_eq!(x("${EMPTY+alt}"), "alt");
        assert_eq!(x("${UNSET+alt}"), "");
        assert_eq!(x("${UNSET:-${NAME}!}"), "world!");
        assert_eq!(x("${UNSET:-'a b'}"), "a b");
        assert_eq!(x("${NAME:?must be set}"), "world");
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(x("'$NAME'"), "$NAME");
        assert_eq!(x("\"$NAME\""), "world");
        assert_eq!(x(r"\$NAME"), "$NAME");
        assert_eq!(x(r#""a\"b\$c\d""#), r#"a"b$c\d"#);
        assert_eq!(x(r"a\ b"), "a b");
        assert_eq!(x("end\\"), "end");
        assert_eq!(expand("`$NAME", '`', &vars()).unwrap(), "$NAME");
        assert_eq!(expand(r"c:\dir", '`', &vars()).unwrap(), r"c:\dir");
    }

    #[test]
    fn errors() {
        let err = |w: &str| expand(w, '\\', &vars()).unwrap_err().to_string();
        assert_eq!(
            err("${NAME"),
            r#"failed to process "${NAME": syntax error: missing '}'"#
        );
        assert_eq!(
            err("${}"),
            r#"failed to process "${}": syntax error: bad substitution"#
        );
        assert_eq!(
            err("${UNSET:?}"),
            r#"failed to process "${UNSET:?}": UNSET: is not allowed to be empty"#
        );
        assert_eq!(
            err("${UNSET?set it}"),
            r#"failed to process "${UNSET?set it}": UNSET: set it"#
        );
        assert_eq!(
            err("'open"),
            r#"failed to process "'open": unexpected end of statement while looking for matching single-quote"#
        );
        assert_eq!(
            err("${NAME/a/b}"),
            r#"failed to process "${NAME/a/b}": unsupported modifier (/) in substitution"#
        );
    }

    #[test]
    fn heredoc_bodies_expand_variables_but_keep_quotes() {
        let vars = vars();
        let body = "a='$A' \"${B:-x}\" \\$A \\n don't\n";
        assert_eq!(
            expand_heredoc(body, '\\', &vars).unwrap(),
            format!(
                "a='{a}' \"{b}\" $A \\n don't\n",
                a = x("$A"),
                b = x("${B:-x}")
            )
        );
    }

    #[test]
    fn splits_words_like_expose() {
        let words = |w: &str| expand_words(w, '\\', &vars()).unwrap();
        assert_eq!(words("$PORTS 8080/udp"), ["80", "443", "8080/udp"]);
        assert_eq!(words("\"$PORTS\""), ["80 443"]);
        assert_eq!(words("  a   b "), ["a", "b"]);
    }
}
