//! ADD from a URL: the engine fetches the body; here it becomes a one-file source named after
//! the URL (or its `Content-Disposition`), mode 0600 and dated by `Last-Modified`, as Docker
//! does. Such a file is never unpacked.

use crate::error::{BuildError, Result};
use crate::host::Download;
use crate::one_file::OneFileTree;

/// Whether an ADD source is fetched rather than taken from the context.
pub(crate) fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// A downloaded file as the only entry of a tree.
pub(crate) fn tree(url: &str, download: Download) -> Result<OneFileTree> {
    let name = file_name(url, download.content_disposition.as_deref()).unwrap_or_default();
    let mtime = download
        .last_modified
        .as_deref()
        .and_then(parse_http_date)
        .unwrap_or(0);
    OneFileTree::new(download.body, &name, 0o600, mtime)
        .map_err(|e| BuildError::io(format!("read the download of {url}"), e))
}

/// The last segment of the URL's path, else `Content-Disposition`'s `filename`.
fn file_name(url: &str, content_disposition: Option<&str>) -> Option<String> {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme
        .split(['?', '#'])
        .next()
        .and_then(|hostpath| hostpath.find('/').map(|at| &hostpath[at..]))
        .unwrap_or("");
    if !path.is_empty() && !path.ends_with('/') {
        let base = path.rsplit('/').next().unwrap_or("");
        if !base.is_empty() && base != "." && base != ".." {
            return Some(base.to_owned());
        }
    }
    let header = content_disposition?;
    let value = header.split(';').map(str::trim).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("filename")
            .then(|| value.trim().trim_matches('"').to_owned())
    })?;
    if value.ends_with('/') {
        return None;
    }
    let base = value.rsplit('/').next().unwrap_or("");
    (!base.is_empty() && base != "." && base != "..").then(|| base.to_owned())
}

/// An HTTP date in its preferred form (`Sun, 06 Nov 1994 08:49:37 GMT`), as epoch seconds.
fn parse_http_date(text: &str) -> Option<u64> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)?
        + 1;
    let rfc3339 = format!("{year}-{month:02}-{:02}T{time}Z", day.parse::<u32>().ok()?);
    let t = humantime::parse_rfc3339(&rfc3339).ok()?;
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;
    use crate::tree::Tree;

    #[test]
    fn names_come_from_the_url_or_the_response() {
        assert_eq!(
            file_name("https://example.com/dl/tool.tar.gz?x=1", None).as_deref(),
            Some("tool.tar.gz")
        );
        assert_eq!(file_name("https://example.com/", None), None);
        assert_eq!(file_name("https://example.com", None), None);
        assert_eq!(
            file_name(
                "https://example.com/dl/",
                Some("attachment; filename=\"a.bin\"")
            )
            .as_deref(),
            Some("a.bin")
        );
        assert_eq!(
            file_name("http://h/", Some("attachment; filename=\"../../etc/x\"")).as_deref(),
            Some("x")
        );
        assert!(is_url("https://h/x") && !is_url("ftp://h/x") && !is_url("file.txt"));
    }

    #[test]
    fn parses_http_dates() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn a_download_is_a_private_file() {
        let mut body = tempfile::tempfile().unwrap();
        body.write_all(b"payload").unwrap();
        let tree = tree(
            "https://example.com/x.txt",
            Download {
                body,
                last_modified: Some("Sun, 06 Nov 1994 08:49:37 GMT".into()),
                content_disposition: None,
            },
        )
        .unwrap();
        assert_eq!(tree.name(), "x.txt");
        assert_eq!(
            (tree.node().mode, tree.node().size, tree.node().mtime),
            (0o600, 7, 784_111_777)
        );
        let mut text = String::new();
        tree.data(&tree.path())
            .unwrap()
            .open()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "payload");
    }
}
