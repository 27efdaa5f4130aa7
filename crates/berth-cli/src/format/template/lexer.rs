//! Splits a template into text and action tokens, following Go's text/template lexer:
//! `{{- ` and ` -}}` trim the whitespace beside an action, `{{/* */}}` is a comment.

use super::TemplateError;

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    Text(String),
    /// Start of an action; the parser needs no trim information (already applied).
    Open,
    Close,
    /// `.Name`: one field step. `.` alone is `Dot`.
    Field(String),
    Dot,
    /// `$` or `$name`.
    Variable(String),
    Identifier(String),
    Str(String),
    Number(String),
    Char(char),
    LeftParen,
    RightParen,
    Pipe,
    Declare,
    Assign,
    Comma,
}

/// A token, where it starts in the source, and whether whitespace came right before it
/// (`.A.B` chains fields; `.A .B` passes two arguments).
#[derive(Debug, Clone)]
pub struct Lexeme {
    pub token: Token,
    pub pos: usize,
    pub spaced: bool,
}

pub fn lex(src: &str) -> Result<Vec<Lexeme>, TemplateError> {
    Lexer {
        src,
        pos: 0,
        out: Vec::new(),
    }
    .run()
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    out: Vec<Lexeme>,
}

const OPEN: &str = "{{";
const CLOSE: &str = "}}";

impl Lexer<'_> {
    fn run(mut self) -> Result<Vec<Lexeme>, TemplateError> {
        let mut trim_next_text = false;
        while self.pos < self.src.len() {
            let rest = &self.src[self.pos..];
            let text_len = rest.find(OPEN).unwrap_or(rest.len());
            let mut text = &rest[..text_len];
            if trim_next_text {
                text = text.trim_start_matches(is_space);
            }
            let action = self.pos + text_len;
            let trims_before = self.src[action..].starts_with("{{- ")
                || self.src[action..].starts_with("{{-\t")
                || self.src[action..].starts_with("{{-\n");
            if trims_before {
                text = text.trim_end_matches(is_space);
            }
            if !text.is_empty() {
                self.push(Token::Text(text.to_string()), self.pos, false);
            }
            if action >= self.src.len() {
                break;
            }
            self.pos = action + OPEN.len() + if trims_before { 2 } else { 0 };
            trim_next_text = self.action(action)?;
        }
        Ok(self.out)
    }

    fn push(&mut self, token: Token, pos: usize, spaced: bool) {
        self.out.push(Lexeme { token, pos, spaced });
    }

    /// Lexes one action up to its closing delimiter; returns whether it trims the text after.
    fn action(&mut self, open_pos: usize) -> Result<bool, TemplateError> {
        let after_space = self.src[self.pos..].trim_start_matches(is_space);
        if after_space.starts_with("/*") {
            let comment = self.pos + (self.src.len() - self.pos - after_space.len());
            let end = self.src[comment..]
                .find("*/")
                .ok_or_else(|| self.error(open_pos, "unclosed comment"))?;
            self.pos = comment + end + 2;
            return self.close_after_comment(open_pos);
        }
        self.push(Token::Open, open_pos, false);
        loop {
            let before = self.pos;
            self.skip_space();
            let spaced = self.pos > before;
            let rest = &self.src[self.pos..];
            if rest.is_empty() {
                return Err(self.error(open_pos, "unclosed action"));
            }
            if spaced && (rest.starts_with("-}}")) {
                self.push(Token::Close, self.pos, true);
                self.pos += 3;
                return Ok(true);
            }
            if rest.starts_with(CLOSE) {
                self.push(Token::Close, self.pos, spaced);
                self.pos += 2;
                return Ok(false);
            }
            self.token(spaced)?;
        }
    }

    fn close_after_comment(&mut self, open_pos: usize) -> Result<bool, TemplateError> {
        let rest = &self.src[self.pos..];
        let (trims, len) = if rest.starts_with(" -}}") {
            (true, 4)
        } else if rest.starts_with(CLOSE) {
            (false, 2)
        } else {
            return Err(self.error(open_pos, "comment ends before closing delimiter"));
        };
        self.pos += len;
        Ok(trims)
    }

    fn skip_space(&mut self) {
        let rest = &self.src[self.pos..];
        self.pos += rest.len() - rest.trim_start_matches(is_space).len();
    }

    fn token(&mut self, spaced: bool) -> Result<(), TemplateError> {
        let start = self.pos;
        let rest = &self.src[start..];
        let first = rest.chars().next().unwrap_or(' ');
        let single = match first {
            '(' => Some(Token::LeftParen),
            ')' => Some(Token::RightParen),
            '|' => Some(Token::Pipe),
            ',' => Some(Token::Comma),
            '=' => Some(Token::Assign),
            _ => None,
        };
        if let Some(token) = single {
            self.pos += 1;
            self.push(token, start, spaced);
            return Ok(());
        }
        let token = match first {
            ':' if rest.starts_with(":=") => {
                self.pos += 2;
                Token::Declare
            }
            '"' => Token::Str(self.quoted()?),
            '`' => Token::Str(self.raw_string()?),
            '\'' => Token::Char(self.char_constant()?),
            '.' if rest[1..].starts_with(|c: char| c.is_ascii_digit()) => {
                Token::Number(self.number())
            }
            '.' => {
                self.pos += 1;
                let name = self.word();
                if name.is_empty() {
                    Token::Dot
                } else {
                    Token::Field(name)
                }
            }
            '$' => {
                self.pos += 1;
                Token::Variable(format!("${}", self.word()))
            }
            '+' | '-' | '0'..='9' => Token::Number(self.number()),
            c if is_word_char(c) => Token::Identifier(self.word()),
            c => {
                return Err(self.error(start, &format!("unexpected {c:?} in command")));
            }
        };
        self.push(token, start, spaced);
        Ok(())
    }

    fn word(&mut self) -> String {
        let rest = &self.src[self.pos..];
        let len = rest.len() - rest.trim_start_matches(is_word_char).len();
        self.pos += len;
        rest[..len].to_string()
    }

    fn number(&mut self) -> String {
        let bytes = self.src.as_bytes();
        let start = self.pos;
        let mut end = start;
        if matches!(bytes.get(end), Some(b'+' | b'-')) {
            end += 1;
        }
        let hex = matches!(bytes.get(end..end + 2), Some(b"0x" | b"0X"));
        while let Some(&b) = bytes.get(end) {
            let exponent_sign = matches!(b, b'+' | b'-')
                && end > start
                && if hex {
                    matches!(bytes[end - 1], b'p' | b'P')
                } else {
                    matches!(bytes[end - 1], b'e' | b'E')
                };
            if !(b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || exponent_sign) {
                break;
            }
            end += 1;
        }
        self.pos = end;
        self.src[start..end].to_string()
    }

    fn quoted(&mut self) -> Result<String, TemplateError> {
        let start = self.pos;
        let mut out = String::new();
        let mut chars = self.src[start + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos = start + 1 + i + 1;
                    return Ok(out);
                }
                '\n' => break,
                '\\' => {
                    let (_, escape) = chars
                        .next()
                        .ok_or_else(|| self.error(start, "unterminated quoted string"))?;
                    out.push(self.escape(escape, &mut chars, start)?);
                }
                c => out.push(c),
            }
        }
        Err(self.error(start, "unterminated quoted string"))
    }

    fn escape(
        &self,
        escape: char,
        chars: &mut std::str::CharIndices<'_>,
        start: usize,
    ) -> Result<char, TemplateError> {
        let hex = |chars: &mut std::str::CharIndices<'_>, n: usize| {
            let digits: String = chars.take(n).map(|(_, c)| c).collect();
            u32::from_str_radix(&digits, 16)
                .ok()
                .filter(|_| digits.len() == n)
                .and_then(char::from_u32)
        };
        let c = match escape {
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'v' => Some('\x0b'),
            '\\' | '"' | '\'' => Some(escape),
            'x' => hex(chars, 2),
            'u' => hex(chars, 4),
            'U' => hex(chars, 8),
            _ => None,
        };
        c.ok_or_else(|| self.error(start, "invalid syntax in quoted string"))
    }

    fn raw_string(&mut self) -> Result<String, TemplateError> {
        let start = self.pos;
        let end = self.src[start + 1..]
            .find('`')
            .ok_or_else(|| self.error(start, "unterminated raw quoted string"))?;
        self.pos = start + 1 + end + 1;
        Ok(self.src[start + 1..start + 1 + end].to_string())
    }

    fn char_constant(&mut self) -> Result<char, TemplateError> {
        let start = self.pos;
        let mut chars = self.src[start + 1..].char_indices();
        let value = match chars.next() {
            Some((_, '\\')) => {
                let (_, escape) = chars
                    .next()
                    .ok_or_else(|| self.error(start, "unterminated character constant"))?;
                self.escape(escape, &mut chars, start)?
            }
            Some((_, c)) if c != '\'' => c,
            _ => return Err(self.error(start, "malformed character constant")),
        };
        match chars.next() {
            Some((i, '\'')) => {
                self.pos = start + 1 + i + 1;
                Ok(value)
            }
            _ => Err(self.error(start, "unterminated character constant")),
        }
    }

    fn error(&self, pos: usize, message: &str) -> TemplateError {
        TemplateError::parse(self.src, pos, message)
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_word_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(src: &str) -> Vec<Token> {
        lex(src).unwrap().into_iter().map(|l| l.token).collect()
    }

    #[test]
    fn text_and_field_chain() {
        assert_eq!(
            tokens("id={{.State.Running}}!"),
            vec![
                Token::Text("id=".into()),
                Token::Open,
                Token::Field("State".into()),
                Token::Field("Running".into()),
                Token::Close,
                Token::Text("!".into()),
            ]
        );
    }

    #[test]
    fn trim_markers_remove_adjacent_whitespace() {
        assert_eq!(
            tokens("a  {{- . -}}\n b"),
            vec![
                Token::Text("a".into()),
                Token::Open,
                Token::Dot,
                Token::Close,
                Token::Text("b".into()),
            ]
        );
    }

    #[test]
    fn comments_vanish() {
        assert_eq!(tokens("a{{/* note */}}b"), tokens("a{{/* x */}}b"));
        assert_eq!(
            tokens("a {{- /* note */ -}} b"),
            vec![Token::Text("a".into()), Token::Text("b".into())]
        );
    }

    #[test]
    fn literals_and_punctuation() {
        assert_eq!(
            tokens(r#"{{$x := printf "%d\t" -12 1.5e3 'a' `raw\n` | len}}"#),
            vec![
                Token::Open,
                Token::Variable("$x".into()),
                Token::Declare,
                Token::Identifier("printf".into()),
                Token::Str("%d\t".into()),
                Token::Number("-12".into()),
                Token::Number("1.5e3".into()),
                Token::Char('a'),
                Token::Str("raw\\n".into()),
                Token::Pipe,
                Token::Identifier("len".into()),
                Token::Close,
            ]
        );
    }

    #[test]
    fn spacing_is_recorded() {
        let lexemes = lex("{{.A .B}}").unwrap();
        assert!(!lexemes[1].spaced);
        assert!(lexemes[2].spaced);
    }

    #[test]
    fn unclosed_action_is_an_error() {
        let err = lex("x {{.A").unwrap_err();
        assert_eq!(err.to_string(), "template: :1: unclosed action");
    }
}
