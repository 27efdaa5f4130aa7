//! `wait`: block until containers stop and print their exit codes. The wait request itself
//! is shared with attached runs.

use bollard::Docker;
use bollard::errors::Error as ApiError;
use bollard::query_parameters::WaitContainerOptions;
use futures_util::StreamExt;

use super::each;
use crate::cli::WaitArgs;
use crate::client::Connector;
use crate::error::CliError;

pub async fn run(connector: &Connector, args: WaitArgs) -> Result<(), CliError> {
    let docker = connector.connect().await?;
    let docker = &docker;
    each(&args.containers, |name| async move {
        let status = wait_for_exit(docker, &name, "not-running").await?;
        Ok(Some(status.to_string()))
    })
    .await
    .map_err(CliError::from)
}

/// Waits for `condition` (`not-running`, `next-exit`, `removed`) and returns the exit status.
pub async fn wait_for_exit(docker: &Docker, id: &str, condition: &str) -> Result<i64, CliError> {
    let options = WaitContainerOptions {
        condition: condition.to_string(),
    };
    let mut responses = docker.wait_container(id, Some(options));
    match responses.next().await {
        Some(Ok(response)) => {
            match response
                .error
                .and_then(|e| e.message)
                .filter(|m| !m.is_empty())
            {
                Some(message) => Err(CliError::Failed(message)),
                None => Ok(response.status_code),
            }
        }
        // bollard reports a non-zero status as an error; it is just the status.
        Some(Err(ApiError::DockerContainerWaitError { error, code })) if error.is_empty() => {
            Ok(code)
        }
        Some(Err(error)) => Err(error.into()),
        None => Err(CliError::Failed(
            "the daemon ended the wait without an exit status".to_string(),
        )),
    }
}
