//! `load`: images from a tar archive, from a file or a redirected stdin.

use std::io::IsTerminal;

use bollard::query_parameters::ImportImageOptions;
use futures_util::StreamExt;

use super::input_stream;
use crate::cli::LoadArgs;
use crate::client::Connector;
use crate::error::CliError;
use crate::output;

pub async fn run(connector: &Connector, args: LoadArgs) -> Result<(), CliError> {
    if args.input.is_none() && std::io::stdin().is_terminal() {
        return Err(CliError::Failed(
            "requested load from stdin, but stdin is empty".to_string(),
        ));
    }
    let input = input_stream(args.input.as_deref()).await?;
    // Progress is only worth asking for when someone watches it.
    let quiet = args.quiet || !std::io::stdout().is_terminal();
    let docker = connector.connect().await?;
    let options = ImportImageOptions {
        quiet,
        ..Default::default()
    };
    let mut messages = docker.import_image_stream(options, input, None);
    while let Some(message) = messages.next().await {
        let message = message?;
        if let Some(text) = message.stream {
            output::print(&text);
        } else if let Some(status) = message.status.filter(|_| message.progress_detail.is_none()) {
            output::line(&status);
        }
    }
    Ok(())
}
