//! `start`: start containers, or start one attached (`-a`) and pass on its exit status.

use super::attach::{container_status, run_attached};
use super::each;
use crate::cli::StartArgs;
use crate::client::Connector;
use crate::error::CliError;

pub async fn run(connector: &Connector, args: StartArgs) -> Result<(), CliError> {
    if args.attach {
        let [container] = args.containers.as_slice() else {
            return Err(CliError::Failed(
                "you cannot start and attach multiple containers at once".to_string(),
            ));
        };
        let docker = connector.connect().await?;
        let inspected = docker.inspect_container(container, None).await?;
        let id = inspected.id.unwrap_or_else(|| container.clone());
        let auto_remove = inspected
            .host_config
            .and_then(|h| h.auto_remove)
            .unwrap_or(false);
        return container_status(run_attached(&docker, &id, auto_remove).await?);
    }
    let docker = connector.connect().await?;
    let docker = &docker;
    each(&args.containers, |name| async move {
        docker.start_container(&name, None).await?;
        Ok(Some(name))
    })
    .await
    .map_err(|failures| {
        let summary = format!(
            "Error: failed to start containers: {}",
            failures.targets.join(", ")
        );
        let mut messages = failures.messages;
        messages.push(summary);
        CliError::Failed(messages.join("\n"))
    })
}
