//! `berth`: docker's command line for the berth daemon, speaking only the Engine API.

mod archive;
mod build_context;
mod build_secrets;
mod cli;
mod client;
mod commands;
mod credentials;
mod error;
mod format;
mod gopath;
mod opts;
mod output;
mod reference;
mod session;
mod terminal;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::error::CliError;

fn main() -> ExitCode {
    let result = match Cli::try_parse() {
        Ok(cli) => run(cli),
        Err(error) => Err(CliError::Usage(error)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            error.report();
            error.exit_code()
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    // A client command waits on the daemon most of the time: one thread serves it, and
    // starts a millisecond sooner than a pool. The registry server is the exception.
    let serves = matches!(
        cli.command,
        Some(cli::Command::Registry(cli::RegistryCommand::Serve(_)))
    );
    let mut builder = match serves {
        true => tokio::runtime::Builder::new_multi_thread(),
        false => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = builder.enable_all().build()?;
    let result = runtime.block_on(commands::run(cli));
    // A read of our stdin may still be waiting for input nobody will type (the session it
    // fed has ended); it cannot be cancelled, so do not wait for it.
    runtime.shutdown_background();
    result
}
