//! One module per verb. `run` sends the parsed command line to its verb; every verb gets
//! the connector and connects when it is ready to (after checking its own arguments).

mod attach;
mod build;
mod commit;
mod compose;
mod cp;
mod create;
mod df;
mod diff;
mod env;
mod events;
mod exec;
mod export;
mod history;
mod images;
mod import;
mod info;
mod inspect;
mod kill;
mod load;
mod login;
mod logs;
mod network;
mod pause;
mod port;
mod progress;
mod prune;
mod ps;
mod pull;
mod registry;
mod registry_config;
mod rename;
mod restart;
mod rm;
mod rmi;
mod run;
mod save;
mod search;
mod start;
mod stats;
mod stop;
mod tag;
mod top;
mod update;
mod version;
mod volume;
mod wait;

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;

use tokio::io::AsyncRead;
use tokio_util::io::ReaderStream;

use crate::cli::{
    BuilderCommand, Cli, Command, ContainerCommand, ImageCommand, NetworkCommand,
    ObjectInspectArgs, RegistryCommand, SystemCommand, VolumeCommand,
};
use crate::client::Connector;
use crate::error::{CliError, open_error};
use crate::output;
use crate::session::signals::interruptible;

pub async fn run(cli: Cli) -> Result<(), CliError> {
    if cli.version {
        output::line(&version::short());
        return Ok(());
    }
    let Some(command) = cli.command else {
        return Ok(());
    };
    // The registry handles its own signals, to shut down gracefully; neither it nor its
    // garbage collector needs a daemon.
    let command = match command {
        Command::Registry(RegistryCommand::Serve(args)) => return registry::serve(args).await,
        Command::Registry(RegistryCommand::Gc(args)) => return registry::gc(args).await,
        command => command,
    };
    let connector = &Connector::new(cli.host);
    if runs_session(&command) {
        dispatch(connector, command).await
    } else {
        interruptible(dispatch(connector, command)).await
    }
}

/// Whether the command runs an attached session, which decides itself what interrupts mean.
/// (`run` leaves them their default action until it knows whether it has one.) Any other
/// command an interrupt ends as docker's end, with 128 + the signal.
fn runs_session(command: &Command) -> bool {
    match command {
        Command::Run(_)
        | Command::Exec(_)
        | Command::Attach(_)
        | Command::Container(
            ContainerCommand::Run(_) | ContainerCommand::Exec(_) | ContainerCommand::Attach(_),
        ) => true,
        Command::Start(args) | Command::Container(ContainerCommand::Start(args)) => {
            args.attach || args.interactive
        }
        Command::Compose(args) => compose::handles_interrupts(args),
        _ => false,
    }
}

async fn dispatch(connector: &Connector, command: Command) -> Result<(), CliError> {
    match command {
        Command::Run(args) | Command::Container(ContainerCommand::Run(args)) => {
            run::run(connector, args).await
        }
        Command::Create(args) | Command::Container(ContainerCommand::Create(args)) => {
            create::run(connector, args).await
        }
        Command::Ps(args) | Command::Container(ContainerCommand::Ls(args)) => {
            ps::run(connector, args).await
        }
        Command::Start(args) | Command::Container(ContainerCommand::Start(args)) => {
            start::run(connector, args).await
        }
        Command::Stop(args) | Command::Container(ContainerCommand::Stop(args)) => {
            stop::run(connector, args).await
        }
        Command::Restart(args) | Command::Container(ContainerCommand::Restart(args)) => {
            restart::run(connector, args).await
        }
        Command::Kill(args) | Command::Container(ContainerCommand::Kill(args)) => {
            kill::run(connector, args).await
        }
        Command::Pause(args) | Command::Container(ContainerCommand::Pause(args)) => {
            pause::run(connector, args, true).await
        }
        Command::Unpause(args) | Command::Container(ContainerCommand::Unpause(args)) => {
            pause::run(connector, args, false).await
        }
        Command::Update(args) | Command::Container(ContainerCommand::Update(args)) => {
            update::run(connector, args).await
        }
        Command::Rename(args) | Command::Container(ContainerCommand::Rename(args)) => {
            rename::run(connector, args).await
        }
        Command::Top(args) | Command::Container(ContainerCommand::Top(args)) => {
            top::run(connector, args).await
        }
        Command::Exec(args) | Command::Container(ContainerCommand::Exec(args)) => {
            exec::run(connector, args).await
        }
        Command::Attach(args) | Command::Container(ContainerCommand::Attach(args)) => {
            attach::run(connector, args).await
        }
        Command::Logs(args) | Command::Container(ContainerCommand::Logs(args)) => {
            logs::run(connector, args).await
        }
        Command::Rm(args) | Command::Container(ContainerCommand::Rm(args)) => {
            rm::run(connector, args).await
        }
        Command::Wait(args) | Command::Container(ContainerCommand::Wait(args)) => {
            wait::run(connector, args).await
        }
        Command::Inspect(args) => {
            let kind = match args.kind.as_deref() {
                Some("container") => inspect::Kind::Container,
                Some("image") => inspect::Kind::Image,
                Some("network") => inspect::Kind::Network,
                Some("volume") => inspect::Kind::Volume,
                _ => inspect::Kind::Any,
            };
            inspect::run(connector, kind, object_inspect(args.object)).await
        }
        Command::Container(ContainerCommand::Inspect(args)) => {
            inspect::run(connector, inspect::Kind::Container, object_inspect(args)).await
        }
        Command::Image(ImageCommand::Inspect(args)) => {
            inspect::run(connector, inspect::Kind::Image, object_inspect(args)).await
        }
        Command::Volume(VolumeCommand::Inspect(args)) => {
            let request = inspect::Inspect {
                names: args.names,
                format: args.format,
                size: false,
                verbose: false,
            };
            inspect::run(connector, inspect::Kind::Volume, request).await
        }
        Command::Network(NetworkCommand::Inspect(args)) => {
            let request = inspect::Inspect {
                names: args.names,
                format: args.format,
                size: false,
                verbose: args.verbose,
            };
            inspect::run(connector, inspect::Kind::Network, request).await
        }
        Command::Port(args) | Command::Container(ContainerCommand::Port(args)) => {
            port::run(connector, args).await
        }
        Command::Stats(args) | Command::Container(ContainerCommand::Stats(args)) => {
            stats::run(connector, args).await
        }
        Command::Cp(args) | Command::Container(ContainerCommand::Cp(args)) => {
            cp::run(connector, args).await
        }
        Command::Diff(args) | Command::Container(ContainerCommand::Diff(args)) => {
            diff::run(connector, args).await
        }
        Command::Export(args) | Command::Container(ContainerCommand::Export(args)) => {
            export::run(connector, args).await
        }
        Command::Build(args)
        | Command::Image(ImageCommand::Build(args))
        | Command::Builder(BuilderCommand::Build(args)) => build::run(connector, args).await,
        Command::Builder(BuilderCommand::Prune(args)) => prune::builder(connector, args).await,
        Command::Commit(args) | Command::Container(ContainerCommand::Commit(args)) => {
            commit::run(connector, args).await
        }
        Command::Container(ContainerCommand::Prune(args)) => {
            prune::containers(connector, args).await
        }
        Command::Image(ImageCommand::Prune(args)) => prune::images(connector, args).await,
        Command::Volume(VolumeCommand::Create(args)) => volume::create(connector, args).await,
        Command::Volume(VolumeCommand::Ls(args)) => volume::list(connector, args).await,
        Command::Volume(VolumeCommand::Rm(args)) => volume::remove(connector, args).await,
        Command::Volume(VolumeCommand::Prune(args)) => prune::volumes(connector, args).await,
        Command::Network(NetworkCommand::Create(args)) => network::create(connector, args).await,
        Command::Network(NetworkCommand::Ls(args)) => network::list(connector, args).await,
        Command::Network(NetworkCommand::Rm(args)) => network::remove(connector, args).await,
        Command::Network(NetworkCommand::Prune(args)) => prune::networks(connector, args).await,
        Command::Network(NetworkCommand::Connect(args)) => network::connect(connector, args).await,
        Command::Network(NetworkCommand::Disconnect(args)) => {
            network::disconnect(connector, args).await
        }
        Command::Events(args) | Command::System(SystemCommand::Events(args)) => {
            events::run(connector, args).await
        }
        Command::System(SystemCommand::Df(args)) => df::run(connector, args).await,
        Command::System(SystemCommand::Prune(args)) => prune::system(connector, args).await,
        Command::Images(args) | Command::Image(ImageCommand::Ls(args)) => {
            images::run(connector, args).await
        }
        Command::History(args) | Command::Image(ImageCommand::History(args)) => {
            history::run(connector, args).await
        }
        Command::Rmi(args) | Command::Image(ImageCommand::Rm(args)) => {
            rmi::run(connector, args).await
        }
        Command::Tag(args) | Command::Image(ImageCommand::Tag(args)) => {
            tag::run(connector, args).await
        }
        Command::Save(args) | Command::Image(ImageCommand::Save(args)) => {
            save::run(connector, args).await
        }
        Command::Load(args) | Command::Image(ImageCommand::Load(args)) => {
            load::run(connector, args).await
        }
        Command::Import(args) | Command::Image(ImageCommand::Import(args)) => {
            import::run(connector, args).await
        }
        Command::Pull(args) | Command::Image(ImageCommand::Pull(args)) => {
            pull::pull(connector, args).await
        }
        Command::Push(args) | Command::Image(ImageCommand::Push(args)) => {
            pull::push(connector, args).await
        }
        Command::Login(args) => login::login(connector, args).await,
        Command::Logout(args) => login::logout(args),
        Command::Search(args) => search::run(connector, args).await,
        Command::Registry(RegistryCommand::Serve(args)) => registry::serve(args).await,
        Command::Registry(RegistryCommand::Gc(args)) => registry::gc(args).await,
        Command::Compose(args) => compose::run(connector, args).await,
        Command::Version(args) => version::run(connector, args).await,
        Command::Info(args) | Command::System(SystemCommand::Info(args)) => {
            info::run(connector, args).await
        }
    }
}

/// What `inspect`, `container inspect` and `image inspect` ask for.
fn object_inspect(args: ObjectInspectArgs) -> inspect::Inspect {
    inspect::Inspect {
        names: args.names,
        format: args.format,
        size: args.size,
        verbose: false,
    }
}

/// A process's exit status as a command result: 0 succeeds, anything else is passed on.
fn container_status(status: i64) -> Result<(), CliError> {
    match status {
        0 => Ok(()),
        status => Err(CliError::ContainerExit(status)),
    }
}

/// Runs `action` on each target in turn and prints what it returns. Failures do not stop
/// the others; they are collected for the end, as docker reports `rm a b c`.
async fn each<F, Fut>(targets: &[String], mut action: F) -> Result<(), Failures>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<Option<String>, CliError>>,
{
    let mut failures = Failures::default();
    for target in targets {
        match action(target.clone()).await {
            Ok(Some(text)) => output::line(&text),
            Ok(None) => {}
            Err(error) => {
                failures.messages.push(error.to_string());
                failures.targets.push(target.clone());
            }
        }
    }
    if failures.messages.is_empty() {
        Ok(())
    } else {
        Err(failures)
    }
}

/// What went wrong in `each`: the targets that failed, and why.
#[derive(Default)]
struct Failures {
    messages: Vec<String>,
    targets: Vec<String>,
}

impl From<Failures> for CliError {
    fn from(failures: Failures) -> Self {
        CliError::Failed(failures.messages.join("\n"))
    }
}

/// `--filter` pairs as the API takes them: each name with all its values.
fn filter_map(filters: &[(String, String)]) -> Option<HashMap<String, Vec<String>>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in filters {
        map.entry(name.clone()).or_default().push(value.clone());
    }
    (!map.is_empty()).then_some(map)
}

/// A file, or stdin without one, as a stream of request body chunks.
async fn input_stream(
    path: Option<&Path>,
) -> Result<ReaderStream<Box<dyn AsyncRead + Send + Unpin>>, CliError> {
    let input: Box<dyn AsyncRead + Send + Unpin> = match path {
        Some(path) => Box::new(
            tokio::fs::File::open(path)
                .await
                .map_err(|e| open_error(path, &e))?,
        ),
        None => Box::new(tokio::io::stdin()),
    };
    Ok(ReaderStream::new(input))
}
