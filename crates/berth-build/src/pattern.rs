//! Path patterns: Go's `filepath.Match` (COPY and ADD sources) and its `.dockerignore`
//! extension, where `**` matches any number of directories. A pattern always matches the whole
//! slash-separated path.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    /// `?`: one character other than `/`.
    One,
    /// `*`: any run of characters other than `/`.
    Star,
    /// `**` (or `**/`) before more pattern: nothing, or anything ending in `/`.
    Dirs,
    /// `**` at the end: anything at all.
    Rest,
    /// `[...]`, possibly `[^...]`.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    tokens: Vec<Token>,
}

/// Go's `filepath.ErrBadPattern`.
const BAD_PATTERN: &str = "syntax error in pattern";

impl Pattern {
    /// A `filepath.Match` pattern: `*`, `?`, `[...]`, `\` escapes.
    pub(crate) fn glob(pattern: &str) -> Result<Self, &'static str> {
        Self::compile(pattern, false)
    }

    /// A `.dockerignore` pattern: a glob where `**` spans directories.
    pub(crate) fn dockerignore(pattern: &str) -> Result<Self, &'static str> {
        Self::compile(pattern, true)
    }

    fn compile(pattern: &str, double_star: bool) -> Result<Self, &'static str> {
        let mut tokens = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' if double_star && chars.peek() == Some(&'*') => {
                    chars.next();
                    if chars.peek() == Some(&'/') {
                        chars.next();
                    }
                    tokens.push(if chars.peek().is_none() {
                        Token::Rest
                    } else {
                        Token::Dirs
                    });
                }
                '*' => tokens.push(Token::Star),
                '?' => tokens.push(Token::One),
                '\\' => tokens.push(Token::Char(chars.next().unwrap_or('\\'))),
                '[' => tokens.push(class(&mut chars)?),
                c => tokens.push(Token::Char(c)),
            }
        }
        Ok(Self { tokens })
    }

    pub(crate) fn matches(&self, path: &str) -> bool {
        let text: Vec<char> = path.chars().collect();
        let width = text.len() + 1;
        // memo[t * width + s]: 0 unknown, 1 no, 2 yes.
        let mut memo = vec![0u8; (self.tokens.len() + 1) * width];
        self.match_at(0, 0, &text, &mut memo, width)
    }

    fn match_at(&self, t: usize, s: usize, text: &[char], memo: &mut [u8], width: usize) -> bool {
        let slot = t * width + s;
        if memo[slot] != 0 {
            return memo[slot] == 2;
        }
        let rest = &text[s..];
        let result = match self.tokens.get(t) {
            None => rest.is_empty(),
            Some(Token::Char(c)) => {
                rest.first() == Some(c) && self.match_at(t + 1, s + 1, text, memo, width)
            }
            Some(Token::One) => {
                matches!(rest.first(), Some(c) if *c != '/')
                    && self.match_at(t + 1, s + 1, text, memo, width)
            }
            Some(Token::Star) => {
                let run = rest.iter().take_while(|c| **c != '/').count();
                (0..=run).any(|n| self.match_at(t + 1, s + n, text, memo, width))
            }
            Some(Token::Dirs) => {
                self.match_at(t + 1, s, text, memo, width)
                    || rest
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| **c == '/')
                        .any(|(i, _)| self.match_at(t + 1, s + i + 1, text, memo, width))
            }
            Some(Token::Rest) => true,
            Some(Token::Class { negated, ranges }) => {
                rest.first()
                    .is_some_and(|c| ranges.iter().any(|(lo, hi)| lo <= c && c <= hi) != *negated)
                    && self.match_at(t + 1, s + 1, text, memo, width)
            }
        };
        memo[slot] = if result { 2 } else { 1 };
        result
    }
}

fn class(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<Token, &'static str> {
    let negated = chars.next_if_eq(&'^').is_some();
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let lo = match chars.next() {
            None => return Err(BAD_PATTERN),
            Some(']') if !first => break,
            Some('\\') => chars.next().ok_or(BAD_PATTERN)?,
            Some(c) => c,
        };
        first = false;
        let hi = if chars.next_if_eq(&'-').is_some() {
            match chars.next() {
                None | Some(']') => return Err(BAD_PATTERN),
                Some('\\') => chars.next().ok_or(BAD_PATTERN)?,
                Some(c) => c,
            }
        } else {
            lo
        };
        if hi < lo {
            return Err(BAD_PATTERN);
        }
        ranges.push((lo, hi));
    }
    Ok(Token::Class { negated, ranges })
}

/// Whether a COPY source has glob characters (Docker only expands those).
pub(crate) fn has_wildcards(path: &str) -> bool {
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(p: &str, path: &str) -> bool {
        Pattern::glob(p).unwrap().matches(path)
    }

    fn ignore(p: &str, path: &str) -> bool {
        Pattern::dockerignore(p).unwrap().matches(path)
    }

    #[test]
    fn filepath_match_semantics() {
        assert!(glob("*.txt", "a.txt"));
        assert!(!glob("*.txt", "dir/a.txt"));
        assert!(glob("dir/*.txt", "dir/a.txt"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "a/c"));
        assert!(glob("[a-c]x", "bx"));
        assert!(!glob("[^a-c]x", "bx"));
        assert!(glob("[^a-c]x", "dx"));
        assert!(glob(r"\*", "*"));
        assert!(!glob(r"\*", "a"));
        assert!(glob("**", "abc"));
        assert!(!glob("**", "a/b"));
        assert_eq!(Pattern::glob("[a-"), Err(BAD_PATTERN));
        assert_eq!(Pattern::glob("[z-a]"), Err(BAD_PATTERN));
    }

    #[test]
    fn double_star_spans_directories() {
        assert!(ignore("**/*.go", "a.go"));
        assert!(ignore("**/*.go", "x/y/a.go"));
        assert!(!ignore("**/*.go", "x/y/a.gox"));
        assert!(ignore("dir/**", "dir/a/b"));
        assert!(ignore("**", "anything/at/all"));
        assert!(ignore("a/**/b", "a/b"));
        assert!(ignore("a/**/b", "a/x/y/b"));
        assert!(!ignore("a/**/b", "a/xb"));
    }

    #[test]
    fn detects_wildcards() {
        assert!(has_wildcards("*.txt"));
        assert!(has_wildcards("file[0-9]"));
        assert!(!has_wildcards(r"a\*b"));
        assert!(!has_wildcards("plain/path"));
    }
}
