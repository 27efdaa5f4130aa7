//! `rmi`: remove images, printing each tag removed and each image deleted.

use bollard::query_parameters::RemoveImageOptions;

use super::each;
use crate::cli::RmiArgs;
use crate::client::Connector;
use crate::error::CliError;

pub async fn run(connector: &Connector, args: RmiArgs) -> Result<(), CliError> {
    let docker = connector.connect().await?;
    let (docker, args) = (&docker, &args);
    each(&args.images, |name| async move {
        let options = RemoveImageOptions {
            force: args.force,
            noprune: args.no_prune,
            ..Default::default()
        };
        let removed = docker.remove_image(&name, Some(options), None).await?;
        let lines: Vec<String> = removed
            .iter()
            .flat_map(|item| {
                let untagged = item.untagged.iter().map(|tag| format!("Untagged: {tag}"));
                let deleted = item.deleted.iter().map(|id| format!("Deleted: {id}"));
                untagged.chain(deleted)
            })
            .collect();
        Ok((!lines.is_empty()).then(|| lines.join("\n")))
    })
    .await
    .map_err(CliError::from)
}
