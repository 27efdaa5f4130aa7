//! `compose`: docker compose's global flags and the subcommands berth implements.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
#[command(override_usage = "berth compose [OPTIONS] COMMAND")]
pub struct ComposeArgs {
    /// Compose configuration files
    #[arg(short = 'f', long = "file", value_name = "stringArray")]
    pub files: Vec<PathBuf>,

    /// Project name
    #[arg(short = 'p', long = "project-name", value_name = "string")]
    pub project_name: Option<String>,

    /// Specify an alternate working directory (default: the path of the first Compose file)
    #[arg(long = "project-directory", value_name = "string")]
    pub project_directory: Option<PathBuf>,

    /// Specify an alternate environment file
    #[arg(long = "env-file", value_name = "stringArray")]
    pub env_files: Vec<PathBuf>,

    /// Specify a profile to enable
    #[arg(long = "profile", value_name = "stringArray")]
    pub profiles: Vec<String>,

    #[command(subcommand)]
    pub command: ComposeCommand,
}

#[derive(Debug, Subcommand)]
pub enum ComposeCommand {
    /// Create and start containers
    Up(ComposeUpArgs),
    /// Stop and remove containers, networks
    Down(ComposeDownArgs),
    /// List containers
    Ps(ComposePsArgs),
    /// View output from containers
    Logs(ComposeLogsArgs),
    /// Parse, resolve and render compose file in canonical format
    #[command(alias = "convert")]
    Config(ComposeConfigArgs),
    /// Start services
    Start(ComposeServicesArgs),
    /// Stop services
    Stop(ComposeStopArgs),
    /// Restart service containers
    Restart(ComposeStopArgs),
    /// Removes stopped service containers
    Rm(ComposeRmArgs),
    /// Pull service images
    Pull(ComposePullArgs),
    /// List running compose projects
    Ls(ComposeLsArgs),
    /// Execute a command in a running container
    Exec(ComposeExecArgs),
    /// Run a one-off command on a service
    Run(ComposeRunArgs),
    /// Build or rebuild services
    Build(ComposeBuildArgs),
    /// Push service images
    Push(ComposePushArgs),
    /// Force stop service containers
    Kill(ComposeKillArgs),
    /// Pause services
    Pause(ComposeServicesArgs),
    /// Unpause services
    Unpause(ComposeServicesArgs),
    /// Display the running processes
    Top(ComposeServicesArgs),
    /// List images used by the created containers
    Images(ComposeImagesArgs),
    /// Print the public port for a port binding
    Port(ComposePortArgs),
    /// Show the Docker Compose version information
    Version(ComposeVersionArgs),
}

#[derive(Debug, Args)]
pub struct ComposeUpArgs {
    /// Detached mode: Run containers in the background
    #[arg(short = 'd', long)]
    pub detach: bool,

    /// Build images before starting containers
    #[arg(long)]
    pub build: bool,

    /// Don't build an image, even if it's policy
    #[arg(long = "no-build", conflicts_with = "build")]
    pub no_build: bool,

    /// Recreate containers even if their configuration and image haven't changed
    #[arg(long = "force-recreate", conflicts_with = "no_recreate")]
    pub force_recreate: bool,

    /// If containers already exist, don't recreate them
    #[arg(long = "no-recreate")]
    pub no_recreate: bool,

    /// Remove containers for services not defined in the Compose file
    #[arg(long = "remove-orphans")]
    pub remove_orphans: bool,

    /// Scale SERVICE to NUM instances. Overrides the `scale` setting in the Compose file if present
    #[arg(long, value_name = "SERVICE=NUM", value_parser = parse_scale)]
    pub scale: Vec<(String, u32)>,

    /// Wait for services to be running|healthy. Implies detached mode
    #[arg(long)]
    pub wait: bool,

    /// Maximum duration in seconds to wait for the project to be running|healthy
    #[arg(long = "wait-timeout", value_name = "int")]
    pub wait_timeout: Option<u64>,

    /// Don't start linked services
    #[arg(long = "no-deps")]
    pub no_deps: bool,

    /// Use this timeout in seconds for container shutdown when attached or when containers are already running
    #[arg(short = 't', long = "timeout", value_name = "int")]
    pub timeout: Option<u32>,

    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

/// `--scale service=n`.
fn parse_scale(text: &str) -> Result<(String, u32), String> {
    let (service, count) = text
        .split_once('=')
        .ok_or_else(|| format!("invalid --scale {text:?}: expected SERVICE=NUM"))?;
    let count = count
        .parse()
        .map_err(|_| format!("invalid --scale {text:?}: NUM must be a non-negative integer"))?;
    if service.is_empty() {
        return Err(format!("invalid --scale {text:?}: missing the service"));
    }
    Ok((service.to_string(), count))
}

#[derive(Debug, Args)]
pub struct ComposeDownArgs {
    /// Remove named volumes declared in the "volumes" section of the Compose file and anonymous volumes attached to containers
    #[arg(short = 'v', long)]
    pub volumes: bool,

    /// Remove containers for services not defined in the Compose file
    #[arg(long = "remove-orphans")]
    pub remove_orphans: bool,

    /// Remove images used by services. "local" remove only images that don't have a custom tag ("local"|"all")
    #[arg(long, value_name = "string", value_parser = ["local", "all"])]
    pub rmi: Option<String>,

    /// Specify a shutdown timeout in seconds
    #[arg(short = 't', long = "timeout", value_name = "int")]
    pub timeout: Option<u32>,
}

#[derive(Debug, Args)]
pub struct ComposePsArgs {
    /// Show all stopped containers (including those created by the run command)
    #[arg(short = 'a', long)]
    pub all: bool,

    /// Only display IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Display services
    #[arg(long)]
    pub services: bool,

    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', or a Go template)
    #[arg(long, value_name = "string")]
    pub format: Option<String>,

    #[arg(value_name = "SERVICE")]
    pub service: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ComposeLogsArgs {
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,

    /// Number of lines to show from the end of the logs for each container
    #[arg(short = 'n', long, value_name = "string", default_value = "all")]
    pub tail: String,

    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,

    /// Produce monochrome output
    #[arg(long = "no-color")]
    pub no_color: bool,

    /// Don't print prefix in logs
    #[arg(long = "no-log-prefix")]
    pub no_log_prefix: bool,

    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ComposeConfigArgs {
    /// Format the output. Values: [yaml | json]
    #[arg(long, value_name = "string", default_value = "yaml", value_parser = ["yaml", "json"])]
    pub format: String,

    /// Only validate the configuration, don't print anything
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Print the service names, one per line
    #[arg(long)]
    pub services: bool,

    #[arg(value_name = "SERVICE")]
    pub service: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ComposeServicesArgs {
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ComposeStopArgs {
    /// Specify a shutdown timeout in seconds
    #[arg(short = 't', long = "timeout", value_name = "int")]
    pub timeout: Option<u32>,

    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ComposeRmArgs {
    /// Don't ask to confirm removal
    #[arg(short = 'f', long)]
    pub force: bool,

    /// Stop the containers, if required, before removing
    #[arg(short = 's', long)]
    pub stop: bool,

    /// Remove any anonymous volumes attached to containers
    #[arg(short = 'v', long)]
    pub volumes: bool,

    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ComposePullArgs {
    /// Pull without printing progress information
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Pull what it can and ignores images with pull failures
    #[arg(long = "ignore-pull-failures")]
    pub ignore_pull_failures: bool,

    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ComposeLsArgs {
    /// Show all stopped Compose projects
    #[arg(short = 'a', long)]
    pub all: bool,

    /// Only display project names
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Format the output. Values: [table | json]
    #[arg(long, value_name = "string", default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
}

/// docker compose allocates a terminal for `exec` and `run` when its output is one; `-T`
/// turns that off.
fn default_no_tty() -> bool {
    !crate::terminal::stdout_is_terminal()
}

#[derive(Debug, Args)]
#[command(override_usage = "berth compose exec [OPTIONS] SERVICE COMMAND [ARGS...]")]
pub struct ComposeExecArgs {
    /// Detached mode: Run command in the background
    #[arg(short = 'd', long)]
    pub detach: bool,

    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "stringArray")]
    pub env: Vec<String>,

    /// Index of the container if service has multiple replicas
    #[arg(long, value_name = "int")]
    pub index: Option<u32>,

    /// Give extended privileges to the process
    #[arg(long)]
    pub privileged: bool,

    /// Disable pseudo-TTY allocation. By default `docker compose exec` allocates a TTY
    #[arg(short = 'T', long = "no-TTY", default_value_t = default_no_tty())]
    pub no_tty: bool,

    /// Run the command as this user
    #[arg(short = 'u', long, value_name = "string")]
    pub user: Option<String>,

    /// Path to workdir directory for this command
    #[arg(short = 'w', long, value_name = "string")]
    pub workdir: Option<String>,

    /// The service, then the command and its arguments (flags included).
    #[arg(
        required = true,
        num_args = 2..,
        trailing_var_arg = true,
        value_names = ["SERVICE", "COMMAND"]
    )]
    pub argv: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "berth compose run [OPTIONS] SERVICE [COMMAND] [ARGS...]")]
pub struct ComposeRunArgs {
    /// Build image before starting container
    #[arg(long)]
    pub build: bool,

    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,

    /// Override the entrypoint of the image
    #[arg(long, value_name = "string")]
    pub entrypoint: Option<String>,

    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "stringArray")]
    pub env: Vec<String>,

    /// Keep STDIN open even if not attached
    #[arg(
        short = 'i',
        long,
        value_name = "bool",
        default_value_t = true,
        default_missing_value = "true",
        num_args = 0..=1,
        require_equals = true,
        action = clap::ArgAction::Set
    )]
    pub interactive: bool,

    /// Add or override a label
    #[arg(short = 'l', long = "label", value_name = "stringArray")]
    pub labels: Vec<String>,

    /// Assign a name to the container
    #[arg(long, value_name = "string")]
    pub name: Option<String>,

    /// Disable pseudo-TTY allocation (default: auto-detected)
    #[arg(short = 'T', long = "no-TTY", default_value_t = default_no_tty())]
    pub no_tty: bool,

    /// Don't start linked services
    #[arg(long = "no-deps")]
    pub no_deps: bool,

    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long = "publish", value_name = "stringArray")]
    pub publish: Vec<String>,

    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,

    /// Run command with all service's ports enabled and mapped to the host
    #[arg(short = 'P', long = "service-ports")]
    pub service_ports: bool,

    /// Run as specified username or uid
    #[arg(short = 'u', long, value_name = "string")]
    pub user: Option<String>,

    /// Bind mount a volume
    #[arg(short = 'v', long = "volume", value_name = "stringArray")]
    pub volumes: Vec<String>,

    /// Working directory inside the container
    #[arg(short = 'w', long, value_name = "string")]
    pub workdir: Option<String>,

    /// The service, then the command and its arguments (flags included).
    #[arg(
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        value_names = ["SERVICE", "COMMAND"]
    )]
    pub argv: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ComposeBuildArgs {
    /// Set build-time variables for services
    #[arg(long = "build-arg", value_name = "stringArray")]
    pub build_args: Vec<String>,

    /// Do not use cache when building the image
    #[arg(long = "no-cache")]
    pub no_cache: bool,

    /// Always attempt to pull a newer version of the image
    #[arg(long)]
    pub pull: bool,

    /// Don't print anything to STDOUT
    #[arg(short = 'q', long)]
    pub quiet: bool,

    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ComposePushArgs {
    /// Push what it can and ignores images with push failures
    #[arg(long = "ignore-push-failures")]
    pub ignore_push_failures: bool,

    /// Push without printing progress information
    #[arg(short = 'q', long)]
    pub quiet: bool,

    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ComposeKillArgs {
    /// SIGNAL to send to the container
    #[arg(short = 's', long, value_name = "string", default_value = "SIGKILL")]
    pub signal: String,

    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ComposeImagesArgs {
    /// Only display IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Format the output. Values: [table | json]
    #[arg(long, value_name = "string", default_value = "table", value_parser = ["table", "json"])]
    pub format: String,

    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "berth compose port [OPTIONS] SERVICE PRIVATE_PORT")]
pub struct ComposePortArgs {
    /// Index of the container if service has multiple replicas
    #[arg(long, value_name = "int")]
    pub index: Option<u32>,

    /// tcp or udp
    #[arg(long, value_name = "string", default_value = "tcp", value_parser = ["tcp", "udp", "sctp"])]
    pub protocol: String,

    #[arg(value_name = "SERVICE")]
    pub service: String,

    #[arg(value_name = "PRIVATE_PORT")]
    pub private_port: u16,
}

#[derive(Debug, Args)]
pub struct ComposeVersionArgs {
    /// Format the output. Values: [pretty | json]
    #[arg(short = 'f', long, value_name = "string", default_value = "pretty", value_parser = ["pretty", "json"])]
    pub format: String,

    /// Shows only Compose's version number
    #[arg(long)]
    pub short: bool,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    use super::*;

    fn compose(args: &[&str]) -> Result<ComposeArgs, clap::Error> {
        let cli =
            Cli::try_parse_from(["berth", "compose"].into_iter().chain(args.iter().copied()))?;
        match cli.command {
            Some(Command::Compose(args)) => Ok(args),
            other => panic!("not compose: {other:?}"),
        }
    }

    #[test]
    fn global_flags() {
        let args = compose(&[
            "-f",
            "a.yaml",
            "-f",
            "b.yaml",
            "-p",
            "proj",
            "--project-directory",
            "/d",
            "--env-file",
            "x.env",
            "--profile",
            "dev",
            "ps",
        ])
        .unwrap();
        assert_eq!(
            args.files,
            [PathBuf::from("a.yaml"), PathBuf::from("b.yaml")]
        );
        assert_eq!(args.project_name.as_deref(), Some("proj"));
        assert_eq!(args.project_directory, Some(PathBuf::from("/d")));
        assert_eq!(args.env_files, [PathBuf::from("x.env")]);
        assert_eq!(args.profiles, ["dev"]);
        assert!(matches!(args.command, ComposeCommand::Ps(_)));
    }

    #[test]
    fn up_flags() {
        let args = compose(&[
            "up",
            "-d",
            "--build",
            "--force-recreate",
            "--remove-orphans",
            "--scale",
            "web=3",
            "--wait",
            "web",
        ])
        .unwrap();
        let ComposeCommand::Up(up) = args.command else {
            panic!("not up");
        };
        assert!(up.detach && up.build && up.force_recreate && up.remove_orphans && up.wait);
        assert_eq!(up.scale, [("web".to_string(), 3)]);
        assert_eq!(up.services, ["web"]);
        assert!(compose(&["up", "--scale", "web"]).is_err());
        assert!(compose(&["up", "--scale", "web=-1"]).is_err());
        assert!(compose(&["up", "--force-recreate", "--no-recreate"]).is_err());
    }

    #[test]
    fn other_subcommands() {
        let ComposeCommand::Down(down) =
            compose(&["down", "-v", "--rmi", "local"]).unwrap().command
        else {
            panic!("not down");
        };
        assert!(down.volumes && !down.remove_orphans);
        assert_eq!(down.rmi.as_deref(), Some("local"));
        assert!(compose(&["down", "--rmi", "some"]).is_err());
        let ComposeCommand::Ps(ps) = compose(&["ps", "-a", "--format", "json"]).unwrap().command
        else {
            panic!("not ps");
        };
        assert!(ps.all);
        assert_eq!(ps.format.as_deref(), Some("json"));
        let ComposeCommand::Logs(logs) = compose(&["logs", "-f", "--tail", "5", "-t", "db"])
            .unwrap()
            .command
        else {
            panic!("not logs");
        };
        assert!(logs.follow && logs.timestamps);
        assert_eq!(
            (logs.tail.as_str(), logs.services.as_slice()),
            ("5", &["db".to_string()][..])
        );
        let ComposeCommand::Rm(rm) = compose(&["rm", "-f", "-s", "-v"]).unwrap().command else {
            panic!("not rm");
        };
        assert!(rm.force && rm.stop && rm.volumes);
        let ComposeCommand::Exec(exec) =
            compose(&["exec", "-T", "--index", "2", "web", "ls", "-l"])
                .unwrap()
                .command
        else {
            panic!("not exec");
        };
        assert!(exec.no_tty);
        assert_eq!(
            (exec.index, exec.argv.as_slice()),
            (Some(2), &["web".to_string(), "ls".into(), "-l".into()][..])
        );
        assert!(compose(&["exec", "web"]).is_err(), "exec needs a command");
        let ComposeCommand::Run(run) = compose(&[
            "run", "--rm", "-i=false", "-e", "A=1", "db", "sh", "-c", "x",
        ])
        .unwrap()
        .command
        else {
            panic!("not run");
        };
        assert!(run.rm && !run.interactive);
        assert_eq!(run.argv, ["db", "sh", "-c", "x"]);
        let ComposeCommand::Port(port) = compose(&["port", "--protocol", "udp", "web", "53"])
            .unwrap()
            .command
        else {
            panic!("not port");
        };
        assert_eq!(
            (
                port.service.as_str(),
                port.private_port,
                port.protocol.as_str()
            ),
            ("web", 53, "udp")
        );
        assert!(compose(&["port", "web", "http"]).is_err());
        for sub in [
            "config", "start", "stop", "restart", "pull", "ls", "build", "push", "kill", "pause",
            "unpause", "top", "images", "version",
        ] {
            assert!(compose(&[sub]).is_ok(), "{sub}");
        }
        assert!(compose(&[]).is_err());
    }
}
