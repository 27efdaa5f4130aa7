//! Here-documents in RUN, COPY and ADD (`<<EOF` ... `EOF`), as Docker's Dockerfile frontend
//! reads them: a word of the instruction line of the form `[n]<<[-]NAME` opens one, its body is
//! the raw lines that follow up to a line that is exactly `NAME` (after leading tabs with
//! `<<-`), and a quoted name (`<<"EOF"`, `<<'EOF'`) turns variable expansion off.

use crate::parser;

/// One here-document of an instruction, its body as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Heredoc {
    /// The name, unquoted: the terminator, and the file name of a COPY source.
    pub(crate) name: String,
    /// The lines between the instruction and the terminator, each with its `\n`.
    pub(crate) content: String,
    /// False when the name was quoted: the body is taken literally.
    pub(crate) expand: bool,
    /// `<<-`: leading tabs are stripped from the body and the terminator.
    pub(crate) chomp: bool,
}

impl Heredoc {
    /// The body as it is used: with `<<-`, leading tabs removed from every line.
    pub(crate) fn body(&self) -> String {
        if self.chomp {
            chomp(&self.content)
        } else {
            self.content.clone()
        }
    }

    /// Whether `line` (a raw line of the Dockerfile, without its newline) ends this document.
    pub(crate) fn ends_at(&self, line: &str) -> bool {
        let line = if self.chomp {
            line.trim_start_matches('\t')
        } else {
            line
        };
        line == self.name
    }
}

/// Docker's frontend only reads here-documents for these instructions.
pub(crate) fn allowed(keyword: &str) -> bool {
    matches!(keyword, "run" | "copy" | "add")
}

/// The here-documents a logical line opens, in order, bodies still empty. Docker lexes the
/// line with `\` as escape whatever the `# escape=` directive says, and so does this.
pub(crate) fn opened_by(line: &str) -> Vec<Heredoc> {
    parser::parse_words(line, '\\')
        .iter()
        .filter_map(|w| parse_word(w))
        .collect()
}

/// A word such as `<<EOF`, `<<-"EOF"` or `3<<EOF`; `None` for anything else.
pub(crate) fn parse_word(word: &str) -> Option<Heredoc> {
    let rest = word.trim_start_matches(|c: char| c.is_ascii_digit());
    let rest = rest.strip_prefix("<<")?;
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let (name, quoted) = unquote(rest)?;
    (!name.is_empty()).then_some(Heredoc {
        name,
        content: String::new(),
        expand: !quoted,
        chomp,
    })
}

/// A shell word without its quotes and escapes, and whether any quote was removed; `None`
/// when it is more than one word or a quote is left open.
fn unquote(word: &str) -> Option<(String, bool)> {
    let mut out = String::new();
    let mut quoted = false;
    let mut quote: Option<char> = None;
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some('"') if c == '\\' => out.push(chars.next()?),
            Some(_) => out.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                quoted = true;
            }
            None if c == '\\' => out.push(chars.next()?),
            None if c.is_whitespace() => return None,
            None => out.push(c),
        }
    }
    quote.is_none().then_some((out, quoted))
}

/// Strips leading tabs from every line.
pub(crate) fn chomp(content: &str) -> String {
    content
        .split_inclusive('\n')
        .map(|line| line.trim_start_matches('\t'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_that_open_a_heredoc() {
        let h = parse_word("<<EOF").unwrap();
        assert_eq!((h.name.as_str(), h.expand, h.chomp), ("EOF", true, false));
        let h = parse_word("<<-'END'").unwrap();
        assert_eq!((h.name.as_str(), h.expand, h.chomp), ("END", false, true));
        let h = parse_word(r#"<<"a.txt""#).unwrap();
        assert_eq!((h.name.as_str(), h.expand), ("a.txt", false));
        assert_eq!(parse_word("2<<ERR").unwrap().name, "ERR");
        for not in [
            "<<",
            "<<<EOF",
            "cat<<EOF",
            "EOF",
            "\"<<EOF\"",
            "<<'EOF",
            "<<-",
        ] {
            assert_eq!(parse_word(not), None, "{not}");
        }
    }

    #[test]
    fn a_line_opens_its_heredocs_in_order_and_quoted_ones_are_not_words() {
        let names = |line: &str| {
            opened_by(line)
                .into_iter()
                .map(|h| h.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(names("COPY <<a.txt <<b.txt /dir/"), ["a.txt", "b.txt"]);
        assert_eq!(names("RUN python3 <<EOF"), ["EOF"]);
        assert_eq!(names("RUN echo '<<EOF' \"<<X\""), Vec::<String>::new());
        assert_eq!(names("RUN cat <<-EOF > /f"), ["EOF"]);
    }

    #[test]
    fn chomping_strips_leading_tabs_only() {
        let h = Heredoc {
            name: "EOF".into(),
            content: "\t\tone\n  two\n\tthree\n".into(),
            expand: true,
            chomp: true,
        };
        assert_eq!(h.body(), "one\n  two\nthree\n");
        assert!(h.ends_at("\t\tEOF"));
        assert!(!h.ends_at(" EOF"));
        let plain = Heredoc { chomp: false, ..h };
        assert_eq!(plain.body(), "\t\tone\n  two\n\tthree\n");
        assert!(!plain.ends_at("\tEOF"));
    }
}
