//! Absolute paths inside an image, as the Dockerfile names them.

/// Go's `path.Clean` for an absolute path: `.` and empty parts dropped, `..` taking the part
/// before it (never climbing above `/`).
pub(crate) fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn paths_are_cleaned_as_go_cleans_them() {
        assert_eq!(clean("/a/../../b/./c//"), "/b/c");
        assert_eq!(clean("/"), "/");
        assert_eq!(clean("/x/.."), "/");
    }
}
