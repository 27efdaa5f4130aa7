//! `pull` and `push`: images from and to a registry, with the stored credentials for it and
//! the daemon's progress shown as docker shows it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use bollard::auth::DockerCredentials;
use hyper::Method;

use super::progress::{Renderer, render};
use crate::cli::{PullArgs, PushArgs};
use crate::client::Connector;
use crate::client::raw::{query, request_with_headers};
use crate::error::CliError;
use crate::reference::Reference;
use crate::{credentials, output, terminal};

pub async fn pull(connector: &Connector, args: PullArgs) -> Result<(), CliError> {
    let reference = Reference::parse(&args.image).map_err(CliError::Failed)?;
    if args.all_tags && (reference.tag.is_some() || reference.digest.is_some()) {
        return Err(CliError::Failed(
            "tag can't be used with --all-tags/-a".to_string(),
        ));
    }
    let from_image = match &reference.digest {
        Some(digest) => format!("{}@{digest}", reference.name),
        None => reference.name.clone(),
    };
    let tag = if args.all_tags {
        ""
    } else {
        reference.tag_or_default().unwrap_or_default()
    };
    if !args.quiet && !args.all_tags && reference.tag.is_none() && reference.digest.is_none() {
        output::line("Using default tag: latest");
    }
    let mut pairs = vec![("fromImage", from_image.as_str()), ("tag", tag)];
    if let Some(platform) = &args.platform {
        pairs.push(("platform", platform.as_str()));
    }
    let path = format!("/images/create?{}", query(&pairs));
    stream(connector, &reference, &path, args.quiet).await?;
    let mut pulled = reference.canonical_name();
    if !args.all_tags {
        if let Some(tag) = reference.tag_or_default() {
            pulled.push(':');
            pulled.push_str(tag);
        }
        if let Some(digest) = &reference.digest {
            pulled.push('@');
            pulled.push_str(digest);
        }
    }
    output::line(&pulled);
    Ok(())
}

pub async fn push(connector: &Connector, args: PushArgs) -> Result<(), CliError> {
    let reference = Reference::parse(&args.image).map_err(CliError::Failed)?;
    if reference.digest.is_some() {
        return Err(CliError::Failed(
            "cannot push a digest reference".to_string(),
        ));
    }
    if args.all_tags && reference.tag.is_some() {
        return Err(CliError::Failed(
            "tag can't be used with --all-tags/-a".to_string(),
        ));
    }
    let tag = match (&reference.tag, args.all_tags) {
        (_, true) => "",
        (Some(tag), false) => tag.as_str(),
        (None, false) => {
            if !args.quiet {
                output::line("Using default tag: latest");
            }
            "latest"
        }
    };
    let mut pairs = vec![("tag", tag)];
    if let Some(platform) = &args.platform {
        pairs.push(("platform", platform.as_str()));
    }
    // Names are only made of characters a path takes as they are.
    let path = format!("/images/{}/push?{}", reference.name, query(&pairs));
    stream(connector, &reference, &path, args.quiet).await?;
    if args.quiet {
        output::line(&reference.with_default_tag());
    }
    Ok(())
}

/// POSTs `path` with the registry's stored credentials and shows the progress it streams.
async fn stream(
    connector: &Connector,
    reference: &Reference,
    path: &str,
    quiet: bool,
) -> Result<(), CliError> {
    let auth = registry_auth(credentials::for_image(&reference.name).as_ref());
    // Connecting first starts berthd when that is allowed; the request is then sent raw.
    connector.connect().await?;
    let response = request_with_headers(
        connector.host(),
        Method::POST,
        path,
        &[("X-Registry-Auth", auth.as_str())],
        None,
    )
    .await
    .map_err(CliError::Failed)?;
    if response.status != 200 {
        return Err(CliError::Failed(response.error_message().await));
    }
    let mut renderer = Renderer::new(terminal::stdout_is_terminal(), quiet);
    render(Box::pin(response.into_stream()), &mut renderer).await
}

/// `X-Registry-Auth`: base64url JSON of the credentials, `{}` without any (as docker sends).
pub fn registry_auth(credentials: Option<&DockerCredentials>) -> String {
    let json = match credentials {
        Some(credentials) => serde_json::json!({
            "username": credentials.username.clone().unwrap_or_default(),
            "password": credentials.password.clone().unwrap_or_default(),
            "serveraddress": credentials.serveraddress.clone().unwrap_or_default(),
        }),
        None => serde_json::json!({}),
    };
    URL_SAFE.encode(json.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_auth_is_base64url_json() {
        let credentials = DockerCredentials {
            username: Some("u".into()),
            password: Some("p?>".into()),
            serveraddress: Some("localhost:5000".into()),
            ..Default::default()
        };
        let encoded = registry_auth(Some(&credentials));
        let json: serde_json::Value =
            serde_json::from_slice(&URL_SAFE.decode(&encoded).unwrap()).unwrap();
        assert_eq!(json["username"], "u");
        assert_eq!(json["password"], "p?>");
        assert_eq!(json["serveraddress"], "localhost:5000");
        assert_eq!(URL_SAFE.decode(registry_auth(None)).unwrap(), b"{}");
    }
}
