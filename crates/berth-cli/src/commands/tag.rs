//! `tag`: give an image another name.

use bollard::query_parameters::TagImageOptions;

use crate::cli::TagArgs;
use crate::client::Connector;
use crate::error::CliError;
use crate::reference::Reference;

pub async fn run(connector: &Connector, args: TagArgs) -> Result<(), CliError> {
    let target = Reference::parse(&args.target).map_err(|e| {
        CliError::Failed(format!(
            "Error parsing reference: {:?} is not a valid repository/tag: {e}",
            args.target
        ))
    })?;
    if target.digest.is_some() {
        return Err(CliError::Failed(
            "refusing to create a tag with a digest reference".to_string(),
        ));
    }
    let options = TagImageOptions {
        tag: target.tag_or_default().map(String::from),
        repo: Some(target.name),
    };
    let docker = connector.connect().await?;
    docker.tag_image(&args.source, Some(options)).await?;
    Ok(())
}
