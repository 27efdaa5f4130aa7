//! `commit`: an image from a container's changes, tagged if a reference is given.

use hyper::Method;

use crate::cli::CommitArgs;
use crate::client::Connector;
use crate::client::raw::{parse_json, query, request};
use crate::error::CliError;
use crate::output;
use crate::reference::Reference;

pub async fn run(connector: &Connector, args: CommitArgs) -> Result<(), CliError> {
    let (repository, tag) = match &args.reference {
        Some(text) => {
            let reference = Reference::parse(text).map_err(CliError::Failed)?;
            if reference.digest.is_some() {
                return Err(CliError::Failed(
                    "refusing to create a tag with a digest reference".to_string(),
                ));
            }
            let tag = reference.tag_or_default().unwrap_or_default().to_string();
            (reference.name, tag)
        }
        None => (String::new(), String::new()),
    };
    let mut pairs = vec![
        ("container", args.container.as_str()),
        ("repo", repository.as_str()),
        ("tag", tag.as_str()),
        ("comment", args.message.as_deref().unwrap_or_default()),
        ("author", args.author.as_deref().unwrap_or_default()),
    ];
    // Each change on its own, as the daemon reads them (bollard would send only one).
    pairs.extend(
        args.change
            .iter()
            .map(|change| ("changes", change.as_str())),
    );
    if !args.pause {
        pairs.push(("pause", "0"));
    }
    // Connecting first starts berthd when that is allowed; the request is then sent raw.
    connector.connect().await?;
    let path = format!("/commit?{}", query(&pairs));
    let response = request(connector.host(), Method::POST, &path, None)
        .await
        .map_err(CliError::Failed)?;
    if response.status != 201 && response.status != 200 {
        return Err(CliError::Failed(response.error_message().await));
    }
    let body = response.bytes().await.map_err(CliError::Failed)?;
    let created: serde_json::Value = parse_json("/commit", &body).map_err(CliError::Failed)?;
    output::line(created["Id"].as_str().unwrap_or_default());
    Ok(())
}
