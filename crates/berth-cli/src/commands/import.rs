//! `import`: a filesystem image from a tarball (a file, a URL the daemon fetches, or stdin).

use bollard::body_try_stream;
use bollard::query_parameters::CreateImageOptions;
use std::path::Path;

use futures_util::StreamExt;

use super::input_stream;
use crate::cli::ImportArgs;
use crate::client::Connector;
use crate::error::CliError;
use crate::output;
use crate::reference::Reference;

pub async fn run(connector: &Connector, args: ImportArgs) -> Result<(), CliError> {
    if let Some(reference) = &args.reference {
        Reference::parse(reference).map_err(CliError::Failed)?;
    }
    let is_url = ["http://", "https://"]
        .iter()
        .any(|s| args.source.starts_with(s));
    let body = if is_url {
        None
    } else {
        let path = (args.source != "-").then(|| Path::new(&args.source));
        Some(body_try_stream(input_stream(path).await?))
    };
    let options = CreateImageOptions {
        // The daemon reads the body for "-", or fetches the URL itself.
        from_src: Some(if is_url {
            args.source.clone()
        } else {
            "-".to_string()
        }),
        repo: args.reference.clone(),
        message: args.message.clone(),
        changes: args.change.clone(),
        platform: args.platform.clone().unwrap_or_default(),
        ..Default::default()
    };
    let docker = connector.connect().await?;
    let mut messages = docker.create_image(Some(options), body, None);
    while let Some(message) = messages.next().await {
        if let Some(status) = message?.status {
            output::line(&status);
        }
    }
    Ok(())
}
