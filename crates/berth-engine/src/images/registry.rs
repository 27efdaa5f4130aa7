//! Pull, push and login: the registry client run for the Engine API, with Docker's JSON
//! progress messages (`/images/create?fromImage`, `/images/{name}/push`, `/auth`).

use crate::db::ImageRow;
use crate::error::{Error, ErrorKind, Result};
use crate::{Engine, clock};
use berth_registry::{
    Credentials, ManifestFormat, Progress, PullOptions, PushImage, PushOptions, Reference,
};
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::mpsc;

/// What a pull or push stream carries: JSON lines, or the failure that ends it. A failure
/// before the first line becomes the HTTP error itself, as Docker answers.
pub enum Transfer {
    Line(Bytes),
    Failed(Error),
}

fn line(v: Value) -> Transfer {
    Transfer::Line(Bytes::from(v.to_string() + "\r\n"))
}

fn progress_line(p: &Progress) -> Transfer {
    let mut v = json!({"status": p.status.to_string(), "progressDetail": {}, "id": p.short_id()});
    if let Some((current, total)) = p.status.detail() {
        v["progressDetail"] = json!({"current": current, "total": total});
    }
    line(v)
}

fn registry_error(e: berth_registry::Error) -> Error {
    let kind = if e.is_not_found() {
        ErrorKind::NotFound
    } else if e.is_unauthorized() {
        ErrorKind::Unauthorized
    } else {
        ErrorKind::Internal
    };
    Error::new(kind, e.to_string())
}

/// A blocking registry call's outcome: its error, or the panic of its task, as the engine's.
fn outcome<T>(
    joined: std::result::Result<berth_registry::Result<T>, tokio::task::JoinError>,
) -> Result<T> {
    match joined {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(registry_error(e)),
        Err(e) => Err(Error::internal(e.to_string())),
    }
}

fn parse_reference(s: &str) -> Result<Reference> {
    Reference::parse(s).map_err(|e| Error::invalid(e.to_string()))
}

impl Engine {
    /// `POST /images/create?fromImage=...&tag=...`.
    pub fn pull_image(
        self: &Arc<Self>,
        image: &str,
        tag: Option<&str>,
        platform: Option<&str>,
        credentials: Option<Credentials>,
    ) -> Result<mpsc::Receiver<Transfer>> {
        let mut reference = parse_reference(image)?;
        // An empty tag on an untagged name is Docker's "every tag" (`pull -a`); `None` is the
        // engine's own callers asking for `latest`.
        let all_tags = tag == Some("") && reference.tag().is_none() && reference.digest().is_none();
        if let Some(t) = tag.filter(|t| !t.is_empty()) {
            reference = if t.starts_with("sha256:") {
                reference.with_digest(
                    t.parse()
                        .map_err(|_| Error::invalid(format!("invalid digest {t}")))?,
                )
            } else {
                reference
                    .with_tag(t)
                    .map_err(|e| Error::invalid(e.to_string()))?
            };
        } else if !all_tags && reference.tag().is_none() && reference.digest().is_none() {
            reference = reference
                .with_tag("latest")
                .map_err(|e| Error::invalid(e.to_string()))?;
        }
        let platform = platform
            .filter(|p| !p.is_empty())
            .map(str::parse)
            .transpose()
            .map_err(|e: berth_registry::Error| Error::invalid(e.to_string()))?;
        let (tx, rx) = mpsc::channel(64);
        let engine = self.clone();
        tokio::spawn(async move {
            let pulls = match all_tags {
                false => Ok(vec![reference.clone()]),
                true => engine.every_tag(&reference, credentials.clone()).await,
            };
            let pulls = match pulls {
                Ok(pulls) => pulls,
                Err(e) => return drop(tx.send(Transfer::Failed(e)).await),
            };
            let mut downloaded = false;
            for one in &pulls {
                match engine
                    .pull_one(one, platform.clone(), credentials.clone(), &tx)
                    .await
                {
                    Ok(new) => downloaded |= new,
                    Err(e) => return drop(tx.send(Transfer::Failed(e)).await),
                }
            }
            let familiar = match all_tags {
                true => reference.familiar_name(),
                false => reference.familiar(),
            };
            let status = if downloaded {
                format!("Downloaded newer image for {familiar}")
            } else {
                format!("Image is up to date for {familiar}")
            };
            let _ = tx
                .send(line(json!({"status": format!("Status: {status}")})))
                .await;
        });
        Ok(rx)
    }

    /// The repository of `reference` at each of its tags, as the registry lists them.
    async fn every_tag(
        &self,
        reference: &Reference,
        credentials: Option<Credentials>,
    ) -> Result<Vec<Reference>> {
        let client = self.registry.clone();
        let repository = reference.clone();
        let tags =
            tokio::task::spawn_blocking(move || client.tags(&repository, credentials.as_ref()))
                .await;
        let tags = outcome(tags)?;
        if tags.is_empty() {
            return Err(Error::not_found(format!(
                "no tags found for {}",
                reference.familiar_name()
            )));
        }
        tags.iter()
            .map(|t| {
                reference
                    .with_tag(t)
                    .map_err(|e| Error::invalid(e.to_string()))
            })
            .collect()
    }

    /// Pulls one tag or digest, streaming its progress to `tx`; says whether it was new.
    async fn pull_one(
        self: &Arc<Self>,
        reference: &Reference,
        platform: Option<berth_registry::Platform>,
        credentials: Option<Credentials>,
        tx: &mpsc::Sender<Transfer>,
    ) -> Result<bool> {
        let store = self.store.clone();
        let client = self.registry.clone();
        let r = reference.clone();
        let progress_tx = tx.clone();
        // Docker names the repository's path here, without the registry.
        let announce = format!("Pulling from {}", r.repository());
        let tag_or_digest = r
            .tag()
            .map(str::to_string)
            .unwrap_or_else(|| r.digest().map(|d| d.to_string()).unwrap_or_default());
        let pulled = tokio::task::spawn_blocking(move || {
            let mut announced = false;
            let options = PullOptions {
                platform,
                credentials: credentials.as_ref(),
            };
            client.pull(&r, &store, &options, &mut |p: Progress| {
                if !announced {
                    announced = true;
                    let _ = progress_tx
                        .blocking_send(line(json!({"status": announce, "id": tag_or_digest})));
                }
                let _ = progress_tx.blocking_send(progress_line(&p));
            })
        })
        .await;
        let pulled = outcome(pulled)?;
        let id = pulled.image.id.to_string();
        // New, as Docker counts it: the tag now names another image than before (or, for a
        // digest, the image was not here).
        let new = match reference.tag() {
            Some(_) => self
                .resolve_image(&reference.familiar())
                .map_or(true, |before| before.id != id),
            None => self.db.image(&id).ok().flatten().is_none(),
        };
        {
            let _guard = self.image_lock.lock().await;
            self.record_pulled(
                &pulled.image,
                &format!("{}@{}", reference.familiar_name(), pulled.manifest_digest),
            )?;
        }
        let _ = tx
            .send(line(
                json!({"status": format!("Digest: {}", pulled.manifest_digest)}),
            ))
            .await;
        Ok(new)
    }

    /// `GET /images/search`: `term` names a registry first (`localhost:5000/team`), else
    /// Docker Hub is searched. Filters: `is-official`, `is-automated`, `stars` (a minimum).
    pub async fn search_images(
        &self,
        term: &str,
        limit: Option<u32>,
        filters: &crate::filters::Filters,
        credentials: Option<Credentials>,
    ) -> Result<Vec<serde_json::Value>> {
        let limit = limit.unwrap_or(25);
        if !(1..=100).contains(&limit) {
            return Err(Error::invalid(format!(
                "limit {limit} is outside the range of [1, 100]"
            )));
        }
        let stars = filters
            .get("stars")
            .iter()
            .map(|s| {
                s.parse::<u64>()
                    .map_err(|_| Error::invalid(format!("invalid filter 'stars={s}'")))
            })
            .collect::<Result<Vec<u64>>>()?;
        let (registry, query) = search_target(term);
        let client = self.registry.clone();
        let found = tokio::task::spawn_blocking(move || {
            client.search(&registry, &query, limit, credentials.as_ref())
        })
        .await;
        let found = outcome(found)?;
        let flag =
            |key: &str, value: bool| filters.any(key, |f| (f == "true" || f == "1") == value);
        Ok(found
            .into_iter()
            .filter(|r| {
                flag("is-official", r.is_official)
                    && flag("is-automated", r.is_automated)
                    && stars.iter().all(|min| r.star_count >= *min)
            })
            .map(|r| serde_json::to_value(r).expect("search results serialize"))
            .collect())
    }

    /// Records a pulled image with its tag and repo digest.
    fn record_pulled(&self, image: &berth_image::LoadedImage, repo_digest: &str) -> Result<()> {
        let row = ImageRow {
            id: image.id.to_string(),
            layers: image
                .layers
                .iter()
                .map(|l| l.chain_id.to_string())
                .collect(),
            size: image.layers.iter().map(|l| l.size).sum(),
            added: clock::unix_seconds(std::time::SystemTime::now()),
        };
        let tags: Vec<String> = image
            .repo_tags
            .iter()
            .filter_map(|t| {
                crate::reference::Reference::parse(t)
                    .ok()
                    .map(|r| r.with_default_tag().to_string())
            })
            .collect();
        self.db.put_image(&row, &tags)?;
        self.db.set_digest(repo_digest, &row.id)
    }

    /// `POST /images/{name}/push?tag=...`.
    pub fn push_image(
        self: &Arc<Self>,
        name: &str,
        tag: Option<&str>,
        credentials: Option<Credentials>,
    ) -> Result<mpsc::Receiver<Transfer>> {
        let mut reference = parse_reference(name)?;
        if let Some(t) = tag.filter(|t| !t.is_empty()) {
            reference = reference
                .with_tag(t)
                .map_err(|e| Error::invalid(e.to_string()))?;
        }
        let tags: Vec<Reference> = match reference.tag() {
            Some(_) => vec![reference.clone()],
            None => {
                let repo = reference.familiar_name();
                self.db
                    .tags()?
                    .into_iter()
                    .filter_map(|(t, _)| {
                        t.rsplit_once(':')
                            .filter(|(r, _)| *r == repo)
                            .map(|(_, tag)| tag.to_string())
                    })
                    .filter_map(|t| reference.with_tag(&t).ok())
                    .collect()
            }
        };
        if tags.is_empty() {
            return Err(Error::not_found(format!(
                "An image does not exist locally with the tag: {}",
                reference.familiar_name()
            )));
        }
        let mut jobs = Vec::new();
        for r in tags {
            let row = self.resolve_image(&r.familiar())?;
            let layers = row
                .layers
                .iter()
                .map(|c| {
                    let chain = c.parse().map_err(|_| Error::internal("bad layer id"))?;
                    self.store
                        .layer(&chain)?
                        .ok_or_else(|| Error::internal(format!("layer {c} is missing")))
                })
                .collect::<Result<Vec<_>>>()?;
            let config = row
                .id
                .parse()
                .map_err(|_| Error::internal("bad image id"))?;
            jobs.push((r, PushImage { config, layers }));
        }
        let (tx, rx) = mpsc::channel(64);
        let engine = self.clone();
        let repository = format!("{}/{}", reference.registry(), reference.repository());
        tokio::spawn(async move {
            let _ = tx
                .send(line(
                    json!({"status": format!("The push refers to repository [{repository}]")}),
                ))
                .await;
            for (r, image) in jobs {
                let (store, client, progress_tx, creds) = (
                    engine.store.clone(),
                    engine.registry.clone(),
                    tx.clone(),
                    credentials.clone(),
                );
                let target = r.clone();
                let pushed = tokio::task::spawn_blocking(move || {
                    let options = PushOptions {
                        credentials: creds.as_ref(),
                        format: ManifestFormat::Docker,
                        mount_from: Vec::new(),
                    };
                    client.push(&target, &store, &image, &options, &mut |p: Progress| {
                        let _ = progress_tx.blocking_send(progress_line(&p));
                    })
                })
                .await;
                let pushed = match outcome(pushed) {
                    Ok(p) => p,
                    Err(e) => return drop(tx.send(Transfer::Failed(e)).await),
                };
                let tag = r.tag().unwrap_or("latest").to_string();
                if let Ok(row) = engine.resolve_image(&r.familiar()) {
                    let _ = engine
                        .db
                        .set_digest(&format!("{}@{}", r.familiar_name(), pushed.digest), &row.id);
                }
                let _ = tx.send(line(json!({"status": format!("{tag}: digest: {} size: {}", pushed.digest, pushed.size)}))).await;
                let _ = tx.send(line(json!({"progressDetail": {}, "aux": {"Tag": tag, "Digest": pushed.digest.to_string(), "Size": pushed.size}}))).await;
            }
        });
        Ok(rx)
    }

    /// `POST /auth`: checks the credentials against the registry (Docker Hub by default).
    pub async fn login(&self, server: &str, credentials: Credentials) -> Result<()> {
        let server = if server.is_empty() {
            "https://index.docker.io/v1/"
        } else {
            server
        }
        .to_string();
        let client = self.registry.clone();
        tokio::task::spawn_blocking(move || client.login(&server, &credentials))
            .await
            .map_err(|e| Error::internal(e.to_string()))?
            .map_err(registry_error)
    }
}

/// The familiar repo@digest strings of an image, for RepoDigests.
pub(crate) fn repo_digests(engine: &Engine, image_id: &str) -> Vec<String> {
    engine.db.digests_of(image_id).unwrap_or_default()
}

/// Shared client for every pull and push of this berthd.
pub(crate) fn new_client(
    config: &berth_registry::ClientConfig,
) -> Result<Arc<berth_registry::Client>> {
    berth_registry::Client::new(config.clone())
        .map(Arc::new)
        .map_err(|e| Error::internal(format!("registry client: {e}")))
}

/// What a search term names: a registry (`localhost:5000/team` → `localhost:5000`, `team`),
/// when its first part looks like one (a `.`, a `:` or `localhost`), else Docker Hub.
fn search_target(term: &str) -> (String, String) {
    match term.split_once('/') {
        Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => {
            (host.to_string(), rest.to_string())
        }
        _ => (berth_registry::DOCKER_HUB.to_string(), term.to_string()),
    }
}

/// The filters of `GET /images/search`.
pub const SEARCH_FILTERS: &[&str] = &["is-automated", "is-official", "stars"];

#[cfg(test)]
mod search_tests {
    use super::*;

    #[test]
    fn a_term_may_name_its_registry() {
        assert_eq!(
            search_target("localhost:5000/team"),
            ("localhost:5000".into(), "team".into())
        );
        assert_eq!(
            search_target("registry.example/x/y"),
            ("registry.example".into(), "x/y".into())
        );
        assert_eq!(
            search_target("busybox"),
            ("docker.io".into(), "busybox".into())
        );
        assert_eq!(
            search_target("team/app"),
            ("docker.io".into(), "team/app".into())
        );
    }
}
