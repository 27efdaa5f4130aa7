//! `GET`/`HEAD`/`PUT`/`DELETE /v2/<name>/manifests/<tag or digest>`.

use berth_image::Digest;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, ETAG, LOCATION};
use hyper::{Request, StatusCode};

use crate::server::error::{ApiError, ApiResult, Code};
use crate::server::manifests::{self, MANIFEST_LIMIT, Manifest};
use crate::server::names::{ManifestRef, RepoName, Tag};
use crate::server::response::{Reply, header};
use crate::server::routes::State;
use crate::server::storage::blocking;
use crate::server::uploads::BODY_IDLE_TIMEOUT;

pub(super) async fn get(
    state: &State,
    name: &RepoName,
    reference: &str,
    head: bool,
) -> ApiResult<Reply> {
    let reference = ManifestRef::parse(reference)?;
    let storage = state.storage.clone();
    let repository = name.clone();
    let found = blocking(move || {
        let digest = match &reference {
            ManifestRef::Digest(digest) => digest.clone(),
            ManifestRef::Tag(tag) => match storage.resolve_tag(&repository, tag)? {
                Some(digest) => digest,
                None => return Ok(Err(reference)),
            },
        };
        let manifest = if head {
            storage
                .manifest_info(&repository, &digest)?
                .map(|(media_type, size)| (media_type, size, None))
        } else {
            storage
                .manifest(&repository, &digest, MANIFEST_LIMIT)?
                .map(|m| (m.media_type, m.bytes.len() as u64, Some(m.bytes)))
        };
        Ok(manifest.map(|manifest| (digest, manifest)).ok_or(reference))
    })
    .await?;
    let (digest, (media_type, size, bytes)) = match found {
        Ok(found) => found,
        Err(reference) => return Err(unknown(state, name, &reference).await),
    };
    let reply = match bytes {
        Some(bytes) => Reply::document(&media_type, bytes),
        None => Reply::new(StatusCode::OK)
            .header(CONTENT_TYPE, &media_type)
            .length(size),
    };
    Ok(reply
        .header(header::CONTENT_DIGEST, digest.as_str())
        .header(ETAG, format!("\"{digest}\"")))
}

/// `MANIFEST_UNKNOWN`, or `NAME_UNKNOWN` when the repository itself does not exist.
async fn unknown(state: &State, name: &RepoName, reference: &ManifestRef) -> ApiError {
    let storage = state.storage.clone();
    let repository = name.clone();
    match blocking(move || Ok(storage.repository_exists(&repository))).await {
        Ok(true) => ApiError::manifest_unknown(reference),
        Ok(false) => ApiError::name_unknown(name),
        Err(e) => e.into(),
    }
}

pub(super) async fn put(
    state: &State,
    name: &RepoName,
    reference: &str,
    request: Request<Incoming>,
) -> ApiResult<Reply> {
    let reference = ManifestRef::parse(reference)?;
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let bytes = read_body(request).await?;
    let manifest = manifests::parse(&bytes, content_type.as_deref())?;
    let digest = Digest::of(&bytes);
    let tag = match reference {
        ManifestRef::Digest(expected) if expected != digest => {
            return Err(ApiError::new(
                Code::DigestInvalid,
                "manifest digest does not match the reference",
            )
            .with_detail(
                serde_json::json!({ "digest": expected.as_str(), "actual": digest.as_str() }),
            ));
        }
        ManifestRef::Digest(_) => None,
        ManifestRef::Tag(tag) => Some(tag),
    };
    let subject = manifest.subject.clone();
    store(state, name, &digest, manifest, bytes, tag).await?;
    let mut reply = Reply::new(StatusCode::CREATED)
        .header(LOCATION, format!("/v2/{name}/manifests/{digest}"))
        .header(header::CONTENT_DIGEST, digest.as_str());
    if let Some(subject) = &subject {
        reply = reply.header(header::OCI_SUBJECT, subject.as_str());
    }
    Ok(reply)
}

/// The request body, refused if it is over [`MANIFEST_LIMIT`] (`413`).
async fn read_body(request: Request<Incoming>) -> ApiResult<Vec<u8>> {
    let too_large = || {
        ApiError::new(
            Code::SizeInvalid,
            format!("manifest is larger than the limit of {MANIFEST_LIMIT} bytes"),
        )
        .with_status(StatusCode::PAYLOAD_TOO_LARGE)
    };
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MANIFEST_LIMIT) {
        return Err(too_large());
    }
    // The limit is a few MiB, so a usize on every supported target.
    let limit = usize::try_from(MANIFEST_LIMIT).unwrap_or(usize::MAX);
    let collected = tokio::time::timeout(
        BODY_IDLE_TIMEOUT,
        Limited::new(request.into_body(), limit).collect(),
    )
    .await
    .map_err(|_| ApiError::new(Code::ManifestInvalid, "request body stalled"))?;
    match collected {
        Ok(body) => Ok(body.to_bytes().to_vec()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(e) => Err(ApiError::new(
            Code::ManifestInvalid,
            format!("reading the manifest: {e}"),
        )),
    }
}

async fn store(
    state: &State,
    name: &RepoName,
    digest: &Digest,
    manifest: Manifest,
    bytes: Vec<u8>,
    tag: Option<Tag>,
) -> ApiResult<()> {
    let storage = state.storage.clone();
    let (repository, digest) = (name.clone(), digest.clone());
    blocking(move || {
        manifests::store(
            &storage,
            &repository,
            &digest,
            &manifest,
            bytes,
            tag.as_ref(),
        )
    })
    .await?
}

/// Deletes a tag (the manifest stays) or a manifest by digest (with every tag pointing to it).
pub(super) async fn delete(state: &State, name: &RepoName, reference: &str) -> ApiResult<Reply> {
    let reference = ManifestRef::parse(reference)?;
    let storage = state.storage.clone();
    let repository = name.clone();
    let wanted = reference.clone();
    let deleted = blocking(move || match &wanted {
        ManifestRef::Tag(tag) => storage.delete_tag(&repository, tag),
        ManifestRef::Digest(digest) => {
            // Its subject names the referrers entry to remove with it.
            let subject = storage
                .manifest(&repository, digest, MANIFEST_LIMIT)?
                .and_then(|m| manifests::parse(&m.bytes, Some(&m.media_type)).ok())
                .and_then(|m| m.subject);
            storage.delete_manifest(&repository, digest, subject.as_ref())
        }
    })
    .await?;
    if deleted {
        Ok(Reply::new(StatusCode::ACCEPTED))
    } else {
        Err(unknown(state, name, &reference).await)
    }
}
