//! `run`: create a container and start it, attached (the default: its exit status is ours)
//! or detached (`-d`).

use super::create::{create_container, prepare};
use super::start::{AttachedStart, Caller, start_attached};
use crate::cli::RunArgs;
use crate::client::Connector;
use crate::error::CliError;
use crate::session::Streams;
use crate::{output, terminal};

pub async fn run(connector: &Connector, args: RunArgs) -> Result<(), CliError> {
    let container = &args.container;
    let config = prepare(container, args.detach).map_err(CliError::in_run)?;
    if args.detach && !container.attach.is_empty() {
        return Err(CliError::Failed(
            "conflicting options: cannot specify both --attach and --detach".to_string(),
        ));
    }
    let on = |flag: Option<bool>| flag == Some(true);
    let (stdin, stdout, stderr) = (
        on(config.attach_stdin),
        on(config.attach_stdout),
        on(config.attach_stderr),
    );
    if !args.detach {
        terminal::check_tty(stdin, container.tty).map_err(CliError::Failed)?;
    }
    let docker = connector.connect().await.map_err(CliError::in_run)?;
    let id = create_container(&docker, container, config)
        .await
        .map_err(CliError::in_run)?;
    if !(stdin || stdout || stderr) {
        docker
            .start_container(&id, None)
            .await
            .map_err(|e| CliError::from(e).in_run())?;
        output::line(&id);
        return Ok(());
    }
    let start = AttachedStart {
        id: &id,
        streams: Streams {
            stdin,
            output: stdout || stderr,
            tty: container.tty,
            detach_keys: args.detach_keys,
        },
        stdout,
        stderr,
        sig_proxy: args.sig_proxy,
        auto_remove: container.rm,
        caller: Caller::Run,
    };
    start_attached(&docker, connector.host(), start).await
}
