//! Tag lists and the catalog, page by page as the registry's `Link` headers lead.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use ureq::http::Method;

use crate::client::error::{Error, Result};
use crate::client::manifest::DOCUMENT_LIMIT;
use crate::client::reference::Reference;
use crate::client::session::{Call, Session, pull_scope};
use crate::client::{Client, Credentials};

/// A registry that keeps answering with a next page past this many is refused.
const MAX_PAGES: usize = 10_000;

impl Client {
    /// Every tag of `repository`'s repository (its tag or digest is ignored).
    pub fn tags(
        &self,
        repository: &Reference,
        credentials: Option<&Credentials>,
    ) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let name = repository.repository();
        let session = Session::new(
            self,
            repository.registry(),
            credentials,
            vec![pull_scope(name)],
        );
        let first = format!("/v2/{name}/tags/list?n={}", self.config.page_size);
        self.pages(&session, &first, |page: Page| page.tags.unwrap_or_default())
    }

    /// Searches `registry` for repositories matching `term` through Docker's search API
    /// (`/v1/search`), which Docker Hub and berth's registry answer; at most `limit` results.
    pub fn search(
        &self,
        registry: &str,
        term: &str,
        limit: u32,
        credentials: Option<&Credentials>,
    ) -> Result<Vec<SearchResult>> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            results: Vec<SearchResult>,
        }
        let session = Session::new(self, registry, credentials, Vec::new());
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("q", term)
            .append_pair("n", &limit.to_string())
            .finish();
        let url = session.url(&format!("/v1/search?{query}"));
        let mut response = session.send(Call::new(Method::GET, url.clone()))?;
        if !response.status().is_success() {
            return Err(session.error(&Method::GET, &url, response));
        }
        let answer: Answer = read_json(&session, &url, &mut response, "search results")?;
        Ok(answer.results)
    }

    /// Every repository of `registry` (`localhost:5000`), for registries that allow it.
    pub fn catalog(
        &self,
        registry: &str,
        credentials: Option<&Credentials>,
    ) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            repositories: Vec<String>,
        }
        let scopes = vec!["registry:catalog:*".to_owned()];
        let session = Session::new(self, registry, credentials, scopes);
        let first = format!("/v2/_catalog?n={}", self.config.page_size);
        self.pages(&session, &first, |page: Page| page.repositories)
    }

    fn pages<P: DeserializeOwned>(
        &self,
        session: &Session<'_>,
        first: &str,
        entries: impl Fn(P) -> Vec<String>,
    ) -> Result<Vec<String>> {
        let mut all = Vec::new();
        let mut url = session.url(first);
        for _ in 0..MAX_PAGES {
            let mut response = session.send(Call::new(Method::GET, url.clone()))?;
            if !response.status().is_success() {
                return Err(session.error(&Method::GET, &url, response));
            }
            let next = response
                .headers()
                .get("Link")
                .and_then(|v| v.to_str().ok())
                .and_then(next_link)
                .map(|link| session.resolve(link));
            let page: P = read_json(session, &url, &mut response, "list")?;
            all.extend(entries(page));
            match next {
                Some(next) => url = next,
                None => return Ok(all),
            }
        }
        Err(Error::Protocol {
            method: "Get".to_owned(),
            url,
            reason: format!("more than {MAX_PAGES} pages"),
        })
    }
}

/// A JSON document answered to a GET of `url` (`what` it should be, for errors), bounded.
fn read_json<T: DeserializeOwned>(
    session: &Session<'_>,
    url: &str,
    response: &mut ureq::http::Response<ureq::Body>,
    what: &str,
) -> Result<T> {
    let bytes = response
        .body_mut()
        .with_config()
        .limit(DOCUMENT_LIMIT)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(limit) => Error::TooLarge {
                registry: session.registry.clone(),
                what: format!("{what} {url}"),
                limit,
            },
            e => Error::Transport {
                method: "Get".to_owned(),
                url: url.to_owned(),
                source: Box::new(e),
            },
        })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Protocol {
        method: "Get".to_owned(),
        url: url.to_owned(),
        reason: format!("invalid {what}: {e}"),
    })
}

/// The target of a `Link: <url>; rel="next"` header.
fn next_link(header: &str) -> Option<&str> {
    header.split(',').find_map(|link| {
        let (target, params) = link.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let next = params.split(';').any(|p| {
            let p = p.trim().replace(' ', "");
            p == "rel=\"next\"" || p == "rel=next"
        });
        next.then_some(target)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_next_link() {
        assert_eq!(
            next_link(r#"</v2/_catalog?last=b&n=2>; rel="next""#),
            Some("/v2/_catalog?last=b&n=2")
        );
        assert_eq!(
            next_link(r#"<https://h/a>; rel="prev", <https://h/b>;rel=next"#),
            Some("https://h/b")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }
}

/// One result of [`Client::search`], as Docker's search API gives it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct SearchResult {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub star_count: u64,
    #[serde(default)]
    pub is_official: bool,
    #[serde(default)]
    pub is_automated: bool,
}
