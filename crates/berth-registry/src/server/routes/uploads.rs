//! `/v2/<name>/blobs/uploads/`: monolithic (`POST ?digest=`), chunked (`POST`, `PATCH` in
//! order, `PUT ?digest=`) and streamed uploads, their status, cancellation, and cross-repository
//! mounts (`POST ?mount=<digest>&from=<repository>`).

use berth_image::Digest;
use hyper::Request;
use hyper::StatusCode;
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_RANGE, HeaderMap, LOCATION, RANGE};

use crate::server::access::Action;
use crate::server::error::{ApiError, ApiResult, Code};
use crate::server::names::{RepoName, parse_digest};
use crate::server::response::{Reply, header};
use crate::server::routes::{Caller, Query, State};
use crate::server::storage::blocking;
use crate::server::uploads::Locked;

/// `POST`: mount, monolithic upload, or a new session.
pub(super) async fn post(
    state: &State,
    caller: &Caller,
    name: &RepoName,
    query: &Query,
    request: Request<Incoming>,
) -> ApiResult<Reply> {
    if let Some(mount) = query.get("mount") {
        let digest = parse_digest(mount)?;
        // A source that is no valid name, that the caller may not pull from, or that lacks the
        // blob is no error: the client uploads.
        if let Some(from) = query
            .get("from")
            .and_then(|from| RepoName::parse(from).ok())
            && caller.may(&from, Action::Pull)
            && mount_blob(state, &from, name, &digest).await?
        {
            return Ok(created(name, &digest));
        }
    } else if let Some(digest) = query.get("digest") {
        let digest = parse_digest(digest)?;
        let expected = content_length(request.headers())?;
        let mut session = state.uploads.start(name).await?;
        if let Err(e) = state
            .uploads
            .append(&mut session, request.into_body(), expected)
            .await
        {
            state.uploads.cancel(session).await?;
            return Err(e);
        }
        state.uploads.finish(session, name, &digest).await?;
        return Ok(created(name, &digest));
    }
    let session = state.uploads.start(name).await?;
    Ok(in_progress(StatusCode::ACCEPTED, name, &session))
}

/// Links `digest` from `from` into `name` if `from` has it.
async fn mount_blob(
    state: &State,
    from: &RepoName,
    name: &RepoName,
    digest: &Digest,
) -> ApiResult<bool> {
    let storage = state.storage.clone();
    let (from, name, digest) = (from.clone(), name.clone(), digest.clone());
    let mounted = blocking(move || {
        let _live = storage.lock_for_write()?;
        if storage.linked_blob_size(&from, &digest)?.is_none() || !storage.touch_blob(&digest)? {
            return Ok(false);
        }
        storage.link_blob(&name, &digest)?;
        Ok(true)
    })
    .await?;
    Ok(mounted)
}

/// `GET <location>`: how much has arrived.
pub(super) async fn status(state: &State, name: &RepoName, id: &str) -> ApiResult<Reply> {
    let session = state.uploads.open(name, id).await?;
    Ok(in_progress(StatusCode::NO_CONTENT, name, &session))
}

/// `PATCH <location>`: the next chunk (`Content-Range` must start where the upload ends) or,
/// without `Content-Range`, a stream appended to what is there.
pub(super) async fn patch(
    state: &State,
    name: &RepoName,
    id: &str,
    request: Request<Incoming>,
) -> ApiResult<Reply> {
    let mut session = state.uploads.open(name, id).await?;
    let expected = chunk_length(request.headers(), name, &session)?;
    state
        .uploads
        .append(&mut session, request.into_body(), expected)
        .await?;
    Ok(in_progress(StatusCode::ACCEPTED, name, &session))
}

/// `PUT <location>?digest=`: the last chunk (possibly empty), then the digest check.
pub(super) async fn put(
    state: &State,
    name: &RepoName,
    id: &str,
    query: &Query,
    request: Request<Incoming>,
) -> ApiResult<Reply> {
    let digest = query
        .get("digest")
        .ok_or_else(|| ApiError::new(Code::DigestInvalid, "digest parameter missing"))
        .and_then(parse_digest)?;
    let mut session = state.uploads.open(name, id).await?;
    let expected = chunk_length(request.headers(), name, &session)?;
    state
        .uploads
        .append(&mut session, request.into_body(), expected)
        .await?;
    state.uploads.finish(session, name, &digest).await?;
    Ok(created(name, &digest))
}

/// `DELETE <location>`: cancels the upload.
pub(super) async fn delete(state: &State, name: &RepoName, id: &str) -> ApiResult<Reply> {
    let session = state.uploads.open(name, id).await?;
    state.uploads.cancel(session).await?;
    Ok(Reply::new(StatusCode::NO_CONTENT))
}

/// `201 Created` for a blob now in `name`.
fn created(name: &RepoName, digest: &Digest) -> Reply {
    Reply::new(StatusCode::CREATED)
        .header(LOCATION, format!("/v2/{name}/blobs/{digest}"))
        .header(header::CONTENT_DIGEST, digest.as_str())
}

/// An upload still open: where to continue, and the bytes received (`Range`, inclusive).
fn in_progress(status: StatusCode, name: &RepoName, session: &Locked) -> Reply {
    Reply::new(status)
        .header(LOCATION, location(name, session))
        .header(RANGE, received(session))
        .header(header::UPLOAD_UUID, session.id.as_str())
}

fn location(name: &RepoName, session: &Locked) -> String {
    format!("/v2/{name}/blobs/uploads/{}", session.id)
}

/// `0-<last byte>`; `0-0` for an empty upload, as distribution sends it.
fn received(session: &Locked) -> String {
    format!("0-{}", session.size.saturating_sub(1))
}

/// The declared length of a request body, if any.
fn content_length(headers: &HeaderMap) -> ApiResult<Option<u64>> {
    let Some(value) = headers.get(CONTENT_LENGTH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|value| value.parse().ok())
        .map(Some)
        .ok_or_else(|| ApiError::new(Code::SizeInvalid, "invalid Content-Length"))
}

/// The length a chunk must have: from its `Content-Range` (which must continue the upload
/// exactly, else `416` with the current `Range`) and `Content-Length`, which must agree.
fn chunk_length(headers: &HeaderMap, name: &RepoName, session: &Locked) -> ApiResult<Option<u64>> {
    let length = content_length(headers)?;
    let Some(value) = headers.get(CONTENT_RANGE) else {
        return Ok(length);
    };
    let range_error = |message: &str| {
        ApiError::new(Code::BlobUploadInvalid, message)
            .with_status(StatusCode::RANGE_NOT_SATISFIABLE)
            .with_header(LOCATION, location(name, session))
            .with_header(RANGE, received(session))
            .with_header(header::UPLOAD_UUID, session.id.as_str())
    };
    let (start, end) = value
        .to_str()
        .ok()
        .and_then(parse_content_range)
        .ok_or_else(|| range_error("invalid Content-Range"))?;
    if start != session.size {
        return Err(range_error("chunk does not start where the upload ends"));
    }
    let chunk = end - start + 1;
    match length {
        Some(length) if length != chunk => {
            Err(range_error("Content-Range does not match Content-Length"))
        }
        _ => Ok(Some(chunk)),
    }
}

/// `<start>-<end>` (inclusive, as the spec writes it), optionally as `bytes <start>-<end>`
/// with a `/<total>` or `/*`.
fn parse_content_range(value: &str) -> Option<(u64, u64)> {
    let value = value.trim();
    let value = value.strip_prefix("bytes ").unwrap_or(value);
    let range = value.split_once('/').map_or(value, |(range, _)| range);
    let (start, end) = range.split_once('-')?;
    let number = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let (start, end) = (number(start)?, number(end)?);
    (start <= end).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        assert_eq!(parse_content_range("0-99"), Some((0, 99)));
        assert_eq!(parse_content_range("bytes 100-199/*"), Some((100, 199)));
        assert_eq!(parse_content_range("bytes 100-199/200"), Some((100, 199)));
        for bad in [
            "",
            "-",
            "5-",
            "-5",
            "9-3",
            "a-b",
            "+1-2",
            "0-1-2",
            "bytes=0-1",
        ] {
            assert_eq!(parse_content_range(bad), None, "{bad}");
        }
    }
}
