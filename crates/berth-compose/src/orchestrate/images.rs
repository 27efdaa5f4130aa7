//! Images: pulled by `pull_policy`, built with the classic `/build` API from a tar of the
//! context, pushed.

use std::collections::{BTreeMap, HashMap};

use bollard::query_parameters::{
    BuildImageOptions, CreateImageOptions, PushImageOptions, TagImageOptions,
};
use futures_util::StreamExt;

use super::build_context;
use super::up::UpOptions;
use super::{Compose, Resource, Status, targets};
use crate::error::Error;
use crate::model::{Project, PullPolicy, Service};
use crate::plan::image_name;

/// `build`'s flags.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Services to build; empty: every service with a `build` section.
    pub services: Vec<String>,
    pub no_cache: bool,
    /// `--pull`: always pull the base images.
    pub pull: bool,
    /// `--build-arg`, over the file's `args`.
    pub args: BTreeMap<String, String>,
}

/// `repo[:tag]` or `repo@digest` as (what `fromImage` takes, the tag). A reference without a
/// tag or digest means `latest`.
pub(crate) fn split_reference(image: &str) -> (String, Option<String>) {
    if image.contains('@') {
        return (image.to_string(), None);
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, tag)) => {
            let repo = &image[..image.len() - tag.len() - 1];
            (repo.to_string(), Some(tag.to_string()))
        }
        None => (image.to_string(), Some("latest".to_string())),
    }
}

impl Compose {
    /// Gets the images `services` need before their containers are created.
    pub(crate) async fn ensure_images(
        &self,
        project: &Project,
        services: &[String],
        opts: &UpOptions,
    ) -> Result<(), Error> {
        for name in services {
            let Some(s) = project.service(name) else {
                continue;
            };
            let image = image_name(project, name, s);
            let policy = opts.pull.or(s.pull_policy).unwrap_or(PullPolicy::Missing);
            let exists = self.image_id(&image).await?.is_some();
            if s.build.is_some() {
                let wanted = opts.build || policy == PullPolicy::Build || !exists;
                if wanted && !opts.no_build {
                    self.build_service(project, name, s, &BuildOptions::default())
                        .await?;
                    continue;
                }
                if !exists && policy != PullPolicy::Always && s.image.is_none() {
                    return Err(Error::Failed(format!(
                        "service {name:?}: image {image} is not built (building was turned off)"
                    )));
                }
            }
            match policy {
                PullPolicy::Always => self.pull_image(&image, s.platform.as_deref()).await?,
                PullPolicy::Never | PullPolicy::Build if !exists => {
                    return Err(Error::Failed(format!(
                        "service {name:?}: image {image} not found and the pull policy forbids pulling"
                    )));
                }
                _ if !exists => self.pull_image(&image, s.platform.as_deref()).await?,
                _ => {}
            }
        }
        Ok(())
    }

    /// `pull`: the images of `services` (all when empty) that name one.
    pub async fn pull(
        &self,
        project: &Project,
        services: &[String],
        ignore_failures: bool,
    ) -> Result<(), Error> {
        for name in targets(project, services)? {
            let Some(s) = project.service(&name) else {
                continue;
            };
            let Some(image) = &s.image else {
                continue;
            };
            if s.build.is_some() && s.pull_policy == Some(PullPolicy::Build) {
                continue;
            }
            match self.pull_image(image, s.platform.as_deref()).await {
                Ok(()) => {}
                Err(e) if ignore_failures || s.build.is_some() => {
                    self.emit(Resource::Image, image, Status::Warning(e.to_string()));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub(crate) async fn pull_image(
        &self,
        image: &str,
        platform: Option<&str>,
    ) -> Result<(), Error> {
        self.emit(Resource::Image, image, Status::Pulling);
        let (repo, tag) = split_reference(image);
        let credentials = (self.credentials)(&repo);
        let mut stream = self.docker.create_image(
            Some(CreateImageOptions {
                from_image: Some(repo),
                tag,
                platform: platform.unwrap_or_default().to_string(),
                ..CreateImageOptions::default()
            }),
            None,
            credentials,
        );
        while let Some(item) = stream.next().await {
            let info = item?;
            if let Some(e) = info.error_detail.and_then(|e| e.message) {
                return Err(Error::Failed(format!("pulling {image}: {e}")));
            }
        }
        self.emit(Resource::Image, image, Status::Pulled);
        Ok(())
    }

    /// `push`: the images of `services` (all when empty) that are built and named.
    pub async fn push(
        &self,
        project: &Project,
        services: &[String],
        ignore_failures: bool,
    ) -> Result<(), Error> {
        for name in targets(project, services)? {
            let Some(s) = project.service(&name) else {
                continue;
            };
            let (Some(image), Some(_)) = (&s.image, &s.build) else {
                continue;
            };
            self.emit(Resource::Image, image, Status::Pushing);
            let (repo, tag) = split_reference(image);
            let mut stream = self.docker.push_image(
                &repo,
                Some(PushImageOptions {
                    tag,
                    platform: None,
                }),
                (self.credentials)(&repo),
            );
            let mut failure = None;
            while let Some(item) = stream.next().await {
                match item {
                    Ok(info) => {
                        if let Some(e) = info.error_detail.and_then(|e| e.message) {
                            failure = Some(Error::Failed(format!("pushing {image}: {e}")));
                        }
                    }
                    Err(e) => failure = Some(e.into()),
                }
            }
            match failure {
                None => self.emit(Resource::Image, image, Status::Pushed),
                Some(e) if ignore_failures => {
                    self.emit(Resource::Image, image, Status::Warning(e.to_string()))
                }
                Some(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// `build`: builds the services that have a `build` section.
    pub async fn build(&self, project: &Project, opts: &BuildOptions) -> Result<(), Error> {
        for name in targets(project, &opts.services)? {
            if let Some(s) = project.service(&name)
                && s.build.is_some()
            {
                self.build_service(project, &name, s, opts).await?;
            }
        }
        Ok(())
    }

    async fn build_service(
        &self,
        project: &Project,
        name: &str,
        s: &Service,
        opts: &BuildOptions,
    ) -> Result<(), Error> {
        let Some(b) = &s.build else {
            return Ok(());
        };
        let image = image_name(project, name, s);
        self.emit(Resource::Image, &image, Status::Building);
        let mut args: HashMap<String, String> = b
            .args
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect();
        args.extend(opts.args.clone());
        let remote = b.context.contains("://")
            || b.context.starts_with("git@")
            || b.context.starts_with("github.com/");
        let mut options = BuildImageOptions {
            dockerfile: b.dockerfile.clone(),
            t: Some(image.clone()),
            extrahosts: (!b.extra_hosts.is_empty()).then(|| b.extra_hosts.join(",")),
            remote: remote.then(|| b.context.clone()),
            nocache: opts.no_cache || b.no_cache,
            cachefrom: (!b.cache_from.is_empty()).then(|| b.cache_from.clone()),
            pull: (opts.pull || b.pull).then(|| "1".to_string()),
            rm: true,
            buildargs: (!args.is_empty()).then_some(args),
            shmsize: b.shm_size.and_then(|s| i32::try_from(s.0).ok()),
            labels: (!b.labels.is_empty()).then(|| b.labels.clone().into_iter().collect()),
            networkmode: b.network.clone(),
            platform: s.platform.clone().unwrap_or_default(),
            target: b.target.clone().unwrap_or_default(),
            ..BuildImageOptions::default()
        };
        let body = if remote {
            None
        } else {
            let context = std::path::PathBuf::from(&b.context);
            let dockerfile = b.dockerfile.clone();
            let inline = b.dockerfile_inline.clone();
            let packed = tokio::task::spawn_blocking(move || {
                build_context::pack(&context, &dockerfile, inline.as_deref())
            })
            .await
            .map_err(|e| Error::Failed(format!("packing the build context: {e}")))??;
            options.dockerfile = packed.dockerfile;
            let file = tokio::fs::File::from_std(packed.file);
            Some(bollard::body_try_stream(tokio_util::io::ReaderStream::new(
                file,
            )))
        };
        let mut stream = self.docker.build_image(options, None, body);
        while let Some(item) = stream.next().await {
            let info = item?;
            if let Some(e) = info.error_detail.and_then(|e| e.message) {
                return Err(Error::Failed(format!("building {name}: {e}")));
            }
            if let Some(line) = info.stream {
                let line = line.trim_end();
                if !line.is_empty() {
                    self.emit(Resource::Image, &image, Status::Output(line.to_string()));
                }
            }
        }
        for tag in &b.tags {
            let (repo, t) = split_reference(tag);
            self.docker
                .tag_image(
                    &image,
                    Some(TagImageOptions {
                        repo: Some(repo),
                        tag: t,
                    }),
                )
                .await?;
        }
        self.emit(Resource::Image, &image, Status::Built);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::split_reference;

    #[test]
    fn references() {
        let s = |r: &str| {
            let (a, b) = split_reference(r);
            (a, b.unwrap_or_default())
        };
        assert_eq!(s("busybox"), ("busybox".into(), "latest".into()));
        assert_eq!(s("busybox:1.36"), ("busybox".into(), "1.36".into()));
        assert_eq!(
            s("localhost:5000/a/b"),
            ("localhost:5000/a/b".into(), "latest".into())
        );
        assert_eq!(
            s("localhost:5000/a/b:v1"),
            ("localhost:5000/a/b".into(), "v1".into())
        );
        assert_eq!(s("a@sha256:00"), ("a@sha256:00".into(), String::new()));
    }
}
