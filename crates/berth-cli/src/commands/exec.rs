//! `exec`: run a command in a running container, attached (its exit status, from the exec
//! inspect, is ours) or detached (`-d`).

use bollard::exec::StartExecOptions;
use bollard::models::ExecConfig;
use serde_json::json;

use super::container_status;
use super::env::environment;
use crate::cli::ExecArgs;
use crate::client::Connector;
use crate::client::raw::hijack;
use crate::error::{CliError, is_connection_error};
use crate::session::resize::{self, Tty};
use crate::session::signals::Signals;
use crate::session::{self, Ended, Streams};
use crate::terminal;

pub async fn run(connector: &Connector, args: ExecArgs) -> Result<(), CliError> {
    let env = environment(&args.env, &args.env_file)?;
    let docker = connector.connect().await?;
    // A missing container is reported as such before anything else.
    docker.inspect_container(args.container(), None).await?;
    let attached = !args.detach;
    if attached {
        terminal::check_tty(args.interactive, args.tty).map_err(CliError::Failed)?;
    }
    let streams = Streams {
        stdin: attached && args.interactive,
        output: attached,
        tty: args.tty,
        detach_keys: args.detach_keys.clone(),
    };
    let console = args
        .tty
        .then(terminal::stdout_size)
        .flatten()
        .map(|(rows, columns)| [usize::from(rows), usize::from(columns)]);
    let config = ExecConfig {
        attach_stdin: Some(streams.stdin),
        attach_stdout: Some(attached),
        attach_stderr: Some(attached),
        console_size: console.map(Vec::from),
        detach_keys: streams.detach_keys().map(String::from),
        tty: Some(args.tty),
        env: (!env.is_empty()).then_some(env),
        cmd: Some(args.command().to_vec()),
        privileged: Some(args.privileged),
        user: args.user.clone(),
        working_dir: args.workdir.clone(),
    };
    let id = docker.create_exec(args.container(), config).await?.id;
    if args.detach {
        let options = StartExecOptions {
            detach: true,
            tty: args.tty,
            output_capacity: None,
        };
        docker.start_exec(&id, Some(options)).await?;
        return Ok(());
    }
    let mut signals = Signals::interrupts()?;
    let body = match console {
        Some(size) => json!({"Detach": false, "Tty": args.tty, "ConsoleSize": size}),
        None => json!({"Detach": false, "Tty": args.tty}),
    };
    let connection = hijack(connector.host(), &format!("/exec/{id}/start"), Some(body))
        .await
        .map_err(CliError::Failed)?;
    let _resize = if args.tty && terminal::stdin_is_terminal() {
        Some(resize::follow(docker.clone(), Tty::Exec(id.clone()))?)
    } else {
        None
    };
    // Docker ends an interrupted exec session quietly, and successfully.
    let ended = tokio::select! {
        ended = session::run(connection, &streams) => ended?,
        () = signals.interrupted(1) => return Ok(()),
    };
    if ended == Ended::Detached {
        return Err(CliError::Failed("read escape sequence".to_string()));
    }
    match docker.inspect_exec(&id).await {
        Ok(inspected) => container_status(inspected.exit_code.unwrap_or_default()),
        // The daemon went away with the command: no status to pass on.
        Err(error) if is_connection_error(&error) => Err(CliError::ContainerExit(-1)),
        Err(error) => Err(error.into()),
    }
}
