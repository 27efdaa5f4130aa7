//! Listings: `GET /v2/<name>/tags/list` and `GET /v2/_catalog` (paginated with `n`/`last`
//! and a `Link` header to the next page), and `GET /v2/<name>/referrers/<digest>`.

use hyper::StatusCode;
use hyper::header::LINK;
use serde_json::{Value, json};

use crate::client::media_type;
use crate::server::access::Action;
use crate::server::error::{ApiError, ApiResult, Code};
use crate::server::manifests::{self, MANIFEST_LIMIT};
use crate::server::names::{RepoName, parse_digest};
use crate::server::response::{Reply, header};
use crate::server::routes::{Auth, Caller, Query, State};
use crate::server::storage::blocking;

/// The most repositories one catalog page holds (and its size when `n` is not given).
const CATALOG_PAGE: usize = 1000;
/// The most tags one page holds when `n` is given (without `n`, all tags are sent).
const TAGS_PAGE_MAX: usize = 10_000;

/// One page of a sorted list.
struct Page {
    entries: Vec<String>,
    /// `(n, last)` for the next page's `Link`, when there are more.
    next: Option<(usize, String)>,
}

/// The entries after `last`, at most `n` (capped at `max`) of them.
fn paginate(
    sorted: Vec<String>,
    query: &Query,
    default: Option<usize>,
    max: usize,
) -> ApiResult<Page> {
    let n = match query.get("n") {
        Some(n) => Some(n.parse::<usize>().map_err(|_| {
            ApiError::new(
                Code::PaginationNumberInvalid,
                "invalid number of results requested",
            )
            .with_detail(json!({ "n": n }))
        })?),
        None => default,
    };
    let mut entries: Vec<String> = match query.get("last") {
        Some(last) => sorted.into_iter().filter(|e| e.as_str() > last).collect(),
        None => sorted,
    };
    let Some(n) = n.map(|n| n.min(max)) else {
        return Ok(Page {
            entries,
            next: None,
        });
    };
    let more = entries.len() > n;
    entries.truncate(n);
    let next = match entries.last() {
        Some(last) if more => Some((n, last.clone())),
        _ => None,
    };
    Ok(Page { entries, next })
}

fn with_link(reply: Reply, path: &str, next: Option<(usize, String)>) -> Reply {
    match next {
        // Names and tags are URL-safe by their grammars.
        Some((n, last)) => reply.header(LINK, format!("<{path}?n={n}&last={last}>; rel=\"next\"")),
        None => reply,
    }
}

pub(super) async fn tags(state: &State, name: &RepoName, query: &Query) -> ApiResult<Reply> {
    let storage = state.storage.clone();
    let repository = name.clone();
    let tags = blocking(move || storage.tags(&repository))
        .await?
        .ok_or_else(|| ApiError::name_unknown(name))?;
    let page = paginate(tags, query, None, TAGS_PAGE_MAX)?;
    let reply = Reply::json(&json!({ "name": name.as_str(), "tags": page.entries }));
    Ok(with_link(
        reply,
        &format!("/v2/{name}/tags/list"),
        page.next,
    ))
}

/// The repositories, only those the caller may pull from with token authentication.
/// The repositories the caller may pull from.
async fn visible_repositories(state: &State, caller: &Caller) -> ApiResult<Vec<String>> {
    let storage = state.storage.clone();
    let mut repositories = blocking(move || storage.repositories()).await?;
    if let (Caller::Token(claims), Some(Auth::Token(service))) = (caller, &state.auth) {
        repositories.retain(|name| {
            service
                .access
                .allowed(claims.user(), name)
                .contains(&Action::Pull)
        });
    }
    Ok(repositories)
}

pub(super) async fn catalog(state: &State, caller: &Caller, query: &Query) -> ApiResult<Reply> {
    let repositories = visible_repositories(state, caller).await?;
    let page = paginate(repositories, query, Some(CATALOG_PAGE), CATALOG_PAGE)?;
    let reply = Reply::json(&json!({ "repositories": page.entries }));
    Ok(with_link(reply, "/v2/_catalog", page.next))
}

/// Most results a search answers with, and the default (Docker's).
const SEARCH_LIMIT: usize = 100;
const SEARCH_DEFAULT: usize = 25;

/// `GET /v1/search?q=<term>&n=<limit>`: the repositories whose name contains the term, in the
/// shape of Docker Hub's search API (berth keeps no descriptions or stars).
pub(super) async fn search(state: &State, caller: &Caller, query: &Query) -> ApiResult<Reply> {
    let term = query.get("q").unwrap_or_default().to_lowercase();
    let limit = match query.get("n") {
        None => SEARCH_DEFAULT,
        Some(n) => n
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=SEARCH_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::new(
                    Code::Unsupported,
                    format!("invalid limit {n}: 1 to {SEARCH_LIMIT}"),
                )
                .with_status(StatusCode::BAD_REQUEST)
            })?,
    };
    let results: Vec<Value> = visible_repositories(state, caller)
        .await?
        .into_iter()
        .filter(|name| name.contains(&term))
        .take(limit)
        .map(|name| {
            json!({"name": name, "description": "", "star_count": 0, "is_official": false,
                   "is_automated": false})
        })
        .collect();
    Ok(Reply::json(&json!({
        "num_results": results.len(),
        "query": term,
        "results": results
    })))
}

/// An image index of the manifests whose `subject` is `digest`, optionally only those of one
/// `artifactType` (then `OCI-Filters-Applied: artifactType`).
pub(super) async fn referrers(
    state: &State,
    name: &RepoName,
    digest: &str,
    query: &Query,
) -> ApiResult<Reply> {
    let subject = parse_digest(digest)?;
    let storage = state.storage.clone();
    let repository = name.clone();
    let descriptors = blocking(move || {
        if !storage.repository_exists(&repository) {
            return Ok(None);
        }
        let mut descriptors = Vec::new();
        for digest in storage.referrers(&repository, &subject)? {
            let Some(stored) = storage.manifest(&repository, &digest, MANIFEST_LIMIT)? else {
                continue;
            };
            // Stored manifests passed these checks when they were pushed.
            let Ok(manifest) = manifests::parse(&stored.bytes, Some(&stored.media_type)) else {
                continue;
            };
            let mut descriptor = json!({
                "mediaType": manifest.media_type,
                "digest": digest.as_str(),
                "size": stored.bytes.len(),
            });
            if let Some(artifact_type) = manifest.artifact_type {
                descriptor["artifactType"] = Value::String(artifact_type);
            }
            if let Some(annotations) = manifest.annotations {
                descriptor["annotations"] = Value::Object(annotations);
            }
            descriptors.push(descriptor);
        }
        Ok(Some(descriptors))
    })
    .await?
    .ok_or_else(|| ApiError::name_unknown(name))?;
    let filter = query.get("artifactType");
    let manifests: Vec<Value> = descriptors
        .into_iter()
        .filter(|d| filter.is_none_or(|wanted| d["artifactType"] == wanted))
        .collect();
    let index = json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": manifests,
    });
    let reply = Reply::document(media_type::OCI_INDEX, index.to_string());
    Ok(match filter {
        Some(_) => reply.header(header::OCI_FILTERS_APPLIED, "artifactType"),
        None => reply,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("t{i:02}")).collect()
    }

    fn query(q: &str) -> Query {
        Query::parse(Some(q))
    }

    #[test]
    fn pages_follow_last() {
        let page = paginate(names(5), &query("n=2"), None, 100).unwrap();
        assert_eq!(page.entries, ["t00", "t01"]);
        assert_eq!(page.next, Some((2, "t01".to_owned())));
        let page = paginate(names(5), &query("n=2&last=t03"), None, 100).unwrap();
        assert_eq!(page.entries, ["t04"]);
        assert_eq!(page.next, None);
        let page = paginate(names(5), &query("n=5"), None, 100).unwrap();
        assert_eq!((page.entries.len(), page.next), (5, None));
        let page = paginate(names(5), &query(""), None, 100).unwrap();
        assert_eq!((page.entries.len(), page.next), (5, None));
        let page = paginate(names(5), &query("last=zz"), None, 100).unwrap();
        assert!(page.entries.is_empty());
        let page = paginate(names(5), &query("n=0"), None, 100).unwrap();
        assert!(page.entries.is_empty() && page.next.is_none());
        // Capped, and a default page size.
        let page = paginate(names(5), &query("n=1000"), None, 3).unwrap();
        assert_eq!(page.next, Some((3, "t02".to_owned())));
        let page = paginate(names(5), &query(""), Some(4), 4).unwrap();
        assert_eq!(page.next, Some((4, "t03".to_owned())));
        for bad in ["n=-1", "n=x", "n="] {
            let err = paginate(names(1), &query(bad), None, 100).err().unwrap();
            assert_eq!(err.code(), Code::PaginationNumberInvalid);
        }
    }
}
