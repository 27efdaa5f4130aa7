//! Go's lexical path functions (`path.Clean`, `Dir`, `Base`, `Join`), which docker applies
//! to the paths it is given: `cp` decides what to copy where from how a path is written
//! (a trailing `/` or `/.` means a directory), and `--device` cleans container paths.

/// `path.Clean`: the shortest equivalent path, lexically (`.` for an empty result).
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// `filepath.Dir`: all but the last element, cleaned.
pub fn dir(path: &str) -> String {
    let cut = path.rfind('/').map_or(0, |i| i + 1);
    clean(&path[..cut])
}

/// `filepath.Base`: the last element, trailing slashes ignored (`/` for the root, `.` for
/// an empty path).
pub fn base(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".to_string();
    }
    let start = trimmed.rfind('/').map_or(0, |i| i + 1);
    trimmed[start..].to_string()
}

/// `filepath.Join`: the non-empty elements joined with `/`, cleaned.
pub fn join(parts: &[&str]) -> String {
    let parts: Vec<&str> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        return String::new();
    }
    clean(&parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_is_lexical() {
        assert_eq!(clean(""), ".");
        assert_eq!(clean("/"), "/");
        assert_eq!(clean("a/b/../c/."), "a/c");
        assert_eq!(clean("/../a//b/"), "/a/b");
        assert_eq!(clean("../../a"), "../../a");
        assert_eq!(clean("a/.."), ".");
    }

    #[test]
    fn dir_base_join() {
        assert_eq!(dir("/a/b"), "/a");
        assert_eq!(dir("/a/b/"), "/a/b");
        assert_eq!(dir("b"), ".");
        assert_eq!(dir("/b"), "/");
        assert_eq!(base("/a/b/"), "b");
        assert_eq!(base("/"), "/");
        assert_eq!(base("a/."), ".");
        assert_eq!(base(""), ".");
        assert_eq!(join(&["/a", "../b"]), "/b");
        assert_eq!(join(&["", "x"]), "x");
        assert_eq!(join(&["", ""]), "");
    }
}
