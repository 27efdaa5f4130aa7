//! Builds the template tree from tokens: text, actions, `if`/`with`/`range` with `else`
//! (and `else if`/`else with` chains), `break`/`continue`, variables and pipelines.

use serde_json::{Number, Value};

use super::TemplateError;
use super::funcs;
use super::lexer::{Lexeme, Token};

#[derive(Debug)]
pub enum Node {
    Text(String),
    Action(Pipeline),
    If(Branch),
    With(Branch),
    Range(Branch),
    Break,
    Continue,
}

#[derive(Debug)]
pub struct Branch {
    pub pipe: Pipeline,
    pub body: Vec<Node>,
    pub otherwise: Vec<Node>,
}

#[derive(Debug)]
pub struct Pipeline {
    /// Variables declared (`:=`) or assigned (`=`) by this pipeline.
    pub vars: Vec<String>,
    pub assign: bool,
    pub commands: Vec<Command>,
}

#[derive(Debug)]
pub struct Command {
    pub operands: Vec<Operand>,
}

#[derive(Debug)]
pub struct Operand {
    /// Byte range in the source, for error messages ("at <.State.Foo>").
    pub span: (usize, usize),
    pub kind: OperandKind,
}

#[derive(Debug)]
pub enum OperandKind {
    Dot,
    /// `.A.B`: fields of dot.
    Field(Vec<String>),
    /// `$x.A.B`.
    Variable(String, Vec<String>),
    Function(String),
    /// `(pipeline).A.B`.
    Nested(Box<Pipeline>, Vec<String>),
    Literal(Value),
}

pub fn parse(src: &str, lexemes: Vec<Lexeme>) -> Result<Vec<Node>, TemplateError> {
    let mut parser = Parser {
        src,
        lexemes,
        next: 0,
        range_depth: 0,
        vars: vec!["$".to_string()],
    };
    let (nodes, end) = parser.list()?;
    match end {
        None => Ok(nodes),
        Some((End::End, pos)) => Err(parser.error(pos, "unexpected {{end}}")),
        Some((End::Else, pos)) => Err(parser.error(pos, "unexpected {{else}}")),
    }
}

enum End {
    End,
    Else,
}

/// A parsed list and what ended it (with its position), if not the end of input.
type List = (Vec<Node>, Option<(End, usize)>);

#[derive(Clone, Copy)]
enum BranchKind {
    If,
    With,
    Range,
}

impl BranchKind {
    fn keyword(self) -> &'static str {
        match self {
            BranchKind::If => "if",
            BranchKind::With => "with",
            BranchKind::Range => "range",
        }
    }
}

struct Parser<'a> {
    src: &'a str,
    lexemes: Vec<Lexeme>,
    next: usize,
    range_depth: usize,
    /// Variables in scope, for "undefined variable" errors at parse time, as Go reports them.
    vars: Vec<String>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Lexeme> {
        self.lexemes.get(self.next)
    }

    fn peek_token(&self) -> Option<&Token> {
        self.peek().map(|l| &l.token)
    }

    fn bump(&mut self) -> Option<Lexeme> {
        let lexeme = self.lexemes.get(self.next).cloned();
        self.next += 1;
        lexeme
    }

    fn pos(&self) -> usize {
        self.peek().map_or(self.src.len(), |l| l.pos)
    }

    fn error(&self, pos: usize, message: &str) -> TemplateError {
        TemplateError::parse(self.src, pos, message)
    }

    fn expect_close(&mut self, context: &str) -> Result<(), TemplateError> {
        match self.bump() {
            Some(Lexeme {
                token: Token::Close,
                ..
            }) => Ok(()),
            Some(l) => Err(self.error(l.pos, &format!("unexpected {} in {context}", describe(&l)))),
            None => Err(self.error(self.src.len(), "unclosed action")),
        }
    }

    /// Parses nodes until `{{end}}`, `{{else ...` (left for the caller) or the end of input.
    fn list(&mut self) -> Result<List, TemplateError> {
        let mut nodes = Vec::new();
        while let Some(lexeme) = self.bump() {
            match lexeme.token {
                Token::Text(text) => nodes.push(Node::Text(text)),
                Token::Open => {
                    let keyword = match self.peek_token() {
                        Some(Token::Identifier(word)) => word.clone(),
                        _ => String::new(),
                    };
                    let pos = self.pos();
                    match keyword.as_str() {
                        "end" => {
                            self.next += 1;
                            self.expect_close("end")?;
                            return Ok((nodes, Some((End::End, pos))));
                        }
                        "else" => {
                            self.next += 1;
                            return Ok((nodes, Some((End::Else, pos))));
                        }
                        "if" | "with" | "range" => {
                            self.next += 1;
                            let kind = match keyword.as_str() {
                                "if" => BranchKind::If,
                                "with" => BranchKind::With,
                                _ => BranchKind::Range,
                            };
                            nodes.push(self.branch(kind, pos)?);
                        }
                        "break" | "continue" => {
                            if self.range_depth == 0 {
                                return Err(self.error(
                                    pos,
                                    &format!("{{{{{keyword}}}}} outside {{{{range}}}}"),
                                ));
                            }
                            self.next += 1;
                            self.expect_close(&keyword)?;
                            nodes.push(if keyword == "break" {
                                Node::Break
                            } else {
                                Node::Continue
                            });
                        }
                        "define" | "template" | "block" => {
                            return Err(
                                self.error(pos, &format!("{{{{{keyword}}}}} is not supported"))
                            );
                        }
                        _ => {
                            let pipe = self.pipeline(false, &Token::Close)?;
                            self.next += 1;
                            nodes.push(Node::Action(pipe));
                        }
                    }
                }
                _ => {
                    return Err(
                        self.error(lexeme.pos, &format!("unexpected {}", describe(&lexeme)))
                    );
                }
            }
        }
        Ok((nodes, None))
    }

    fn branch(&mut self, kind: BranchKind, pos: usize) -> Result<Node, TemplateError> {
        let scope = self.vars.len();
        let pipe = self.pipeline(matches!(kind, BranchKind::Range), &Token::Close)?;
        self.next += 1;
        if matches!(kind, BranchKind::Range) {
            self.range_depth += 1;
        }
        let body = self.list();
        if matches!(kind, BranchKind::Range) {
            self.range_depth -= 1;
        }
        let (body, end) = body?;
        let otherwise = match end {
            Some((End::End, _)) => Vec::new(),
            Some((End::Else, else_pos)) => self.else_branch(kind, else_pos)?,
            None => {
                return Err(self.error(
                    self.src.len(),
                    &format!(
                        "unexpected EOF in {{{{{}}}}} at position {pos}",
                        kind.keyword()
                    ),
                ));
            }
        };
        self.vars.truncate(scope);
        let branch = Branch {
            pipe,
            body,
            otherwise,
        };
        Ok(match kind {
            BranchKind::If => Node::If(branch),
            BranchKind::With => Node::With(branch),
            BranchKind::Range => Node::Range(branch),
        })
    }

    /// After `{{else`: either `}}` and a final list, or `if`/`with` starting a chained branch
    /// that shares the outer `{{end}}`.
    fn else_branch(&mut self, kind: BranchKind, pos: usize) -> Result<Vec<Node>, TemplateError> {
        if let Some(Token::Identifier(word)) = self.peek_token() {
            let chained = match (kind, word.as_str()) {
                (BranchKind::If, "if") => Some(BranchKind::If),
                (BranchKind::With, "with") => Some(BranchKind::With),
                _ => None,
            };
            if let Some(chained) = chained {
                let chain_pos = self.pos();
                self.next += 1;
                return Ok(vec![self.branch(chained, chain_pos)?]);
            }
        }
        self.expect_close("else")?;
        match self.list()? {
            (nodes, Some((End::End, _))) => Ok(nodes),
            (_, Some((End::Else, pos))) => Err(self.error(pos, "expected end; found {{else}}")),
            (_, None) => Err(self.error(pos, "unexpected EOF")),
        }
    }

    /// Parses `[vars :=] command | command ...` up to (not consuming) `end`.
    fn pipeline(&mut self, in_range: bool, end: &Token) -> Result<Pipeline, TemplateError> {
        let start = self.pos();
        let (vars, assign) = self.declarations(in_range)?;
        let mut commands = Vec::new();
        loop {
            let operands = self.command(end)?;
            if operands.is_empty() {
                return Err(self.error(start, "missing value for command"));
            }
            commands.push(Command { operands });
            match self.peek_token() {
                Some(Token::Pipe) => {
                    self.next += 1;
                }
                Some(t) if t == end => break,
                _ => return Err(self.error(self.pos(), "unclosed action")),
            }
        }
        if !assign {
            self.vars.extend(vars.iter().cloned());
        }
        Ok(Pipeline {
            vars,
            assign,
            commands,
        })
    }

    fn declarations(&mut self, in_range: bool) -> Result<(Vec<String>, bool), TemplateError> {
        let mut vars = Vec::new();
        let save = self.next;
        while let Some(Token::Variable(name)) = self.peek_token() {
            let name = name.clone();
            self.next += 1;
            match self.peek_token() {
                Some(Token::Declare) => {
                    self.next += 1;
                    vars.push(name);
                    return Ok((vars, false));
                }
                Some(Token::Assign) => {
                    self.next += 1;
                    if !self.vars.contains(&name) {
                        return Err(
                            self.error(self.pos(), &format!("undefined variable \"{name}\""))
                        );
                    }
                    vars.push(name);
                    return Ok((vars, true));
                }
                Some(Token::Comma) if in_range && vars.is_empty() => {
                    self.next += 1;
                    vars.push(name);
                }
                _ => break,
            }
        }
        self.next = save;
        Ok((Vec::new(), false))
    }

    fn command(&mut self, end: &Token) -> Result<Vec<Operand>, TemplateError> {
        let mut operands = Vec::new();
        loop {
            match self.peek_token() {
                None => return Err(self.error(self.src.len(), "unclosed action")),
                Some(Token::Pipe) => break,
                Some(t) if t == end => break,
                Some(_) => operands.push(self.operand()?),
            }
        }
        Ok(operands)
    }

    fn operand(&mut self) -> Result<Operand, TemplateError> {
        let lexeme = self
            .bump()
            .ok_or_else(|| self.error(self.src.len(), "unclosed action"))?;
        let start = lexeme.pos;
        let kind = match lexeme.token {
            Token::Dot => OperandKind::Dot,
            Token::Field(name) => OperandKind::Field(self.chain(vec![name])),
            Token::Variable(name) => {
                if !self.vars.contains(&name) {
                    return Err(self.error(start, &format!("undefined variable \"{name}\"")));
                }
                OperandKind::Variable(name, self.chain(Vec::new()))
            }
            Token::Identifier(word) => match word.as_str() {
                "true" => OperandKind::Literal(Value::Bool(true)),
                "false" => OperandKind::Literal(Value::Bool(false)),
                "nil" => OperandKind::Literal(Value::Null),
                _ if funcs::exists(&word) => OperandKind::Function(word),
                _ => return Err(self.error(start, &format!("function \"{word}\" not defined"))),
            },
            Token::Str(text) => OperandKind::Literal(Value::String(text)),
            Token::Char(c) => OperandKind::Literal(Value::from(u32::from(c))),
            Token::Number(text) => OperandKind::Literal(
                parse_number(&text)
                    .ok_or_else(|| self.error(start, &format!("bad number syntax: \"{text}\"")))?,
            ),
            Token::LeftParen => {
                let pipe = self.pipeline(false, &Token::RightParen)?;
                self.next += 1;
                OperandKind::Nested(Box::new(pipe), self.chain(Vec::new()))
            }
            _ => {
                return Err(self.error(
                    start,
                    &format!("unexpected {} in operand", describe(&lexeme)),
                ));
            }
        };
        let end = self
            .lexemes
            .get(self.next - 1)
            .map_or(start, |l| l.pos + token_len(&self.src[l.pos..], &l.token));
        Ok(Operand {
            span: (start, end),
            kind,
        })
    }

    /// Field steps written right after an operand, without spaces: `.A.B`, `$x.A`, `(...).A`.
    fn chain(&mut self, mut fields: Vec<String>) -> Vec<String> {
        while let Some(Lexeme {
            token: Token::Field(name),
            spaced: false,
            ..
        }) = self.peek()
        {
            fields.push(name.clone());
            self.next += 1;
        }
        fields
    }
}

/// The source length of a token that starts `rest` (for error spans).
fn token_len(rest: &str, token: &Token) -> usize {
    match token {
        Token::Field(name) => name.len() + 1,
        Token::Variable(name) | Token::Identifier(name) | Token::Number(name) => name.len(),
        Token::Dot | Token::LeftParen | Token::RightParen => 1,
        _ => rest.find([' ', '}', ')', '|']).unwrap_or(rest.len()),
    }
}

fn describe(lexeme: &Lexeme) -> String {
    match &lexeme.token {
        Token::Close => "\"}}\"".to_string(),
        Token::Open => "\"{{\"".to_string(),
        Token::RightParen => "\")\"".to_string(),
        Token::LeftParen => "\"(\"".to_string(),
        Token::Pipe => "\"|\"".to_string(),
        Token::Comma => "\",\"".to_string(),
        Token::Declare => "\":=\"".to_string(),
        Token::Assign => "\"=\"".to_string(),
        Token::Identifier(w) => format!("<{w}>"),
        Token::Text(t) => format!("{t:?}"),
        other => format!("{other:?}"),
    }
}

/// Go's number syntax: integers (decimal, 0x, 0o, 0b, with `_`) stay integers, the rest
/// parse as floats.
fn parse_number(text: &str) -> Option<Value> {
    let clean = text.replace('_', "");
    let (negative, digits) = match clean.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let radix = match digits.get(..2) {
        Some("0x" | "0X") => Some(16),
        Some("0o" | "0O") => Some(8),
        Some("0b" | "0B") => Some(2),
        _ => None,
    };
    let integer = match radix {
        Some(radix) => i64::from_str_radix(&digits[2..], radix).ok(),
        None if digits.len() > 1
            && digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            i64::from_str_radix(&digits[1..], 8).ok()
        }
        None => digits.parse::<i64>().ok(),
    };
    if let Some(n) = integer {
        return Some(Value::from(if negative { -n } else { n }));
    }
    if digits.parse::<u64>().is_ok() && !negative {
        return digits.parse::<u64>().ok().map(Value::from);
    }
    let float: f64 = clean.parse().ok()?;
    Number::from_f64(float).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::super::lexer::lex;
    use super::*;

    fn parse_src(src: &str) -> Result<Vec<Node>, TemplateError> {
        parse(src, lex(src)?)
    }

    #[test]
    fn numbers_follow_go_syntax() {
        assert_eq!(parse_number("42"), Some(Value::from(42)));
        assert_eq!(parse_number("-0x1F"), Some(Value::from(-31)));
        assert_eq!(parse_number("1_000"), Some(Value::from(1000)));
        assert_eq!(parse_number("010"), Some(Value::from(8)));
        assert_eq!(parse_number("1.5"), Some(Value::from(1.5)));
        assert_eq!(parse_number("1e3"), Some(Value::from(1000.0)));
        assert_eq!(parse_number("abc"), None);
    }

    #[test]
    fn unknown_function_is_a_parse_error() {
        let err = parse_src("{{nosuch .}}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "template: :1: function \"nosuch\" not defined"
        );
    }

    #[test]
    fn undefined_variable_is_a_parse_error() {
        let err = parse_src("{{$x}}").unwrap_err();
        assert_eq!(err.to_string(), "template: :1: undefined variable \"$x\"");
    }

    #[test]
    fn unbalanced_blocks_are_errors() {
        assert!(parse_src("{{if .}}x").is_err());
        assert!(parse_src("{{end}}").is_err());
        assert!(parse_src("{{else}}").is_err());
        assert!(parse_src("{{break}}").is_err());
    }

    #[test]
    fn else_if_chains_nest() {
        let nodes = parse_src("{{if .A}}a{{else if .B}}b{{else}}c{{end}}").unwrap();
        let Node::If(branch) = &nodes[0] else {
            panic!("not an if: {nodes:?}")
        };
        assert!(matches!(branch.otherwise[0], Node::If(_)));
    }
}
