//! `.dockerignore`: which context paths a build leaves out, with Docker's rules. Patterns are
//! relative to the context root and match whole paths; a path is also excluded when a pattern
//! matches one of its parent directories; `!pattern` re-includes; the last matching pattern
//! decides.

use crate::pattern::Pattern;

#[derive(Debug)]
pub struct Dockerignore {
    rules: Vec<Rule>,
}

#[derive(Debug)]
struct Rule {
    pattern: Pattern,
    exception: bool,
}

impl Dockerignore {
    /// Reads `.dockerignore` text; a malformed pattern is an error naming it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut rules = Vec::new();
        for raw in text.lines() {
            if raw.starts_with('#') {
                continue;
            }
            let mut line = raw.trim();
            if line.is_empty() {
                continue;
            }
            let exception = line.starts_with('!');
            if exception {
                line = line[1..].trim();
            }
            let cleaned = clean(line);
            let pattern = Pattern::dockerignore(&cleaned)
                .map_err(|e| format!("{e}: {}", crate::gofmt::quote(raw.trim())))?;
            rules.push(Rule { pattern, exception });
        }
        Ok(Self { rules })
    }

    /// Whether a context path (`dir/file`, no leading slash) is left out.
    pub fn excludes(&self, path: &str) -> bool {
        let parents: Vec<&str> = path.match_indices('/').map(|(at, _)| &path[..at]).collect();
        let mut excluded = false;
        for rule in &self.rules {
            // An inclusion only matters while not excluded, an exception only while excluded.
            if rule.exception != excluded {
                continue;
            }
            let hit = rule.pattern.matches(path) || parents.iter().any(|p| rule.pattern.matches(p));
            if hit {
                excluded = !rule.exception;
            }
        }
        excluded
    }
}

/// Go's `filepath.Clean`, then without a leading `/` (patterns are relative to the context).
fn clean(pattern: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let absolute = pattern.starts_with('/');
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            part => parts.push(part),
        }
    }
    if parts.is_empty() {
        return ".".to_owned();
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Dockerignore {
        Dockerignore::parse(text).unwrap()
    }

    #[test]
    fn excludes_paths_and_everything_under_them() {
        let d = rules("# comment\n\nnode_modules\n*.log\n/build/\ntmp/**\n");
        assert!(d.excludes("node_modules"));
        assert!(d.excludes("node_modules/x/y.js"));
        assert!(d.excludes("app.log"));
        assert!(!d.excludes("logs/app.log"));
        assert!(d.excludes("build"));
        assert!(d.excludes("build/out.bin"));
        assert!(d.excludes("tmp/a"));
        assert!(!d.excludes("src/main.rs"));
    }

    #[test]
    fn exceptions_re_include_and_the_last_rule_wins() {
        let d = rules("*.md\n!README.md\ndocs\n!docs/keep.txt\n");
        assert!(d.excludes("CHANGES.md"));
        assert!(!d.excludes("README.md"));
        assert!(d.excludes("docs/other.txt"));
        assert!(!d.excludes("docs/keep.txt"));
        let d = rules("!README.md\n*.md\n");
        assert!(d.excludes("README.md"));
    }

    #[test]
    fn double_star_patterns() {
        let d = rules("**/*.pyc\n**/.git\n");
        assert!(d.excludes("a.pyc"));
        assert!(d.excludes("pkg/sub/a.pyc"));
        assert!(d.excludes(".git/config"));
        assert!(d.excludes("vendor/lib/.git/HEAD"));
        assert!(!d.excludes("a.py"));
    }

    #[test]
    fn patterns_are_cleaned() {
        let d = rules("./a/../b\n/c//d/\n");
        assert!(d.excludes("b"));
        assert!(d.excludes("c/d/e"));
        assert!(!d.excludes("a"));
    }

    #[test]
    fn bad_patterns_are_errors() {
        let err = Dockerignore::parse("ok\n[a-\n").unwrap_err();
        assert_eq!(err, "syntax error in pattern: \"[a-\"");
    }
}
