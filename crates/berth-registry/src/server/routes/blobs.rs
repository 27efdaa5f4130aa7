//! `GET`/`HEAD`/`DELETE /v2/<name>/blobs/<digest>`, with single byte ranges (`206`).

use std::io::SeekFrom;

use hyper::StatusCode;
use hyper::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_RANGE, CONTENT_TYPE, ETAG, HeaderMap, RANGE,
};
use tokio::io::AsyncSeekExt;

use crate::server::error::{ApiError, ApiResult, Code};
use crate::server::names::{RepoName, parse_digest};
use crate::server::response::{Reply, header};
use crate::server::routes::State;
use crate::server::storage::blocking;

/// The part of a blob a `Range` header asks for.
#[derive(Debug, PartialEq, Eq)]
enum Span {
    /// All of it: no `Range`, or one this server ignores (another unit, several ranges, bad
    /// syntax), as HTTP allows.
    Whole,
    /// Bytes `start..=end`.
    Part { start: u64, end: u64 },
    /// A range that starts past the end.
    Unsatisfiable,
}

fn span(range: Option<&str>, size: u64) -> Span {
    let Some(spec) = range.and_then(|range| range.trim().strip_prefix("bytes=")) else {
        return Span::Whole;
    };
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Span::Whole;
    };
    if spec.contains(',') {
        return Span::Whole;
    }
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (number(first), number(last), last.is_empty()) {
        // `-n`: the last n bytes.
        (None, Some(n), _) if first.is_empty() => match (n, size) {
            (0, _) | (_, 0) => Span::Unsatisfiable,
            (n, size) => Span::Part {
                start: size.saturating_sub(n),
                end: size - 1,
            },
        },
        (Some(start), _, _) if start >= size => Span::Unsatisfiable,
        // `a-`: from a to the end.
        (Some(start), None, true) => Span::Part {
            start,
            end: size - 1,
        },
        (Some(start), Some(end), _) if start <= end => Span::Part {
            start,
            end: end.min(size - 1),
        },
        _ => Span::Whole,
    }
}

pub(super) async fn get(
    state: &State,
    name: &RepoName,
    digest: &str,
    headers: &HeaderMap,
    head: bool,
) -> ApiResult<Reply> {
    let digest = parse_digest(digest)?;
    let storage = state.storage.clone();
    let (repository, wanted) = (name.clone(), digest.clone());
    let size = blocking(move || storage.linked_blob_size(&repository, &wanted))
        .await?
        .ok_or_else(|| ApiError::blob_unknown(&digest))?;
    let range = headers.get(RANGE).and_then(|value| value.to_str().ok());
    let (status, start, len) = match span(range, size) {
        Span::Whole => (StatusCode::OK, 0, size),
        Span::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        Span::Unsatisfiable => {
            return Err(
                ApiError::new(Code::RangeInvalid, "requested range not satisfiable")
                    .with_header(CONTENT_RANGE, format!("bytes */{size}")),
            );
        }
    };
    let mut reply = Reply::new(status)
        .header(CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_DIGEST, digest.as_str())
        .header(ETAG, format!("\"{digest}\""))
        .header(ACCEPT_RANGES, "bytes")
        .header(CACHE_CONTROL, "max-age=31536000");
    if status == StatusCode::PARTIAL_CONTENT {
        reply = reply.header(
            CONTENT_RANGE,
            format!("bytes {start}-{}/{size}", start + len - 1),
        );
    }
    if head {
        return Ok(reply.file(None, len));
    }
    let mut file = tokio::fs::File::open(state.storage.blob_path(&digest)).await?;
    file.seek(SeekFrom::Start(start)).await?;
    Ok(reply.file(Some(file), len))
}

/// Unlinks the blob from the repository (`202`); the content stays for other repositories.
pub(super) async fn delete(state: &State, name: &RepoName, digest: &str) -> ApiResult<Reply> {
    let digest = parse_digest(digest)?;
    let storage = state.storage.clone();
    let (repository, wanted) = (name.clone(), digest.clone());
    if blocking(move || storage.unlink_blob(&repository, &wanted)).await? {
        Ok(Reply::new(StatusCode::ACCEPTED).header(header::CONTENT_DIGEST, digest.as_str()))
    } else {
        Err(ApiError::blob_unknown(&digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let part = |start, end| Span::Part { start, end };
        for (range, size, expected) in [
            (None, 10, Span::Whole),
            (Some("bytes=0-4"), 10, part(0, 4)),
            (Some("bytes=5-"), 10, part(5, 9)),
            (Some("bytes=5-100"), 10, part(5, 9)),
            (Some("bytes=-3"), 10, part(7, 9)),
            (Some("bytes=-30"), 10, part(0, 9)),
            (Some("bytes=9-9"), 10, part(9, 9)),
            (Some("bytes=10-"), 10, Span::Unsatisfiable),
            (Some("bytes=10-20"), 10, Span::Unsatisfiable),
            (Some("bytes=-0"), 10, Span::Unsatisfiable),
            (Some("bytes=0-"), 0, Span::Unsatisfiable),
            (Some("bytes=-1"), 0, Span::Unsatisfiable),
            (Some("bytes=4-2"), 10, Span::Whole),
            (Some("bytes=0-1,3-4"), 10, Span::Whole),
            (Some("bytes=x-"), 10, Span::Whole),
            (Some("bytes=+1-2"), 10, Span::Whole),
            (Some("bytes=-"), 10, Span::Whole),
            (Some("items=0-1"), 10, Span::Whole),
            (Some("bytes=99999999999999999999-"), 10, Span::Whole),
        ] {
            assert_eq!(span(range, size), expected, "{range:?} of {size}");
        }
    }
}
