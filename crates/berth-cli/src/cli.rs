//! The command line, as clap types only: docker's commands, aliases and flags. What each
//! command does lives in `commands`.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "berth",
    about = "A self-sufficient runtime for containers",
    disable_version_flag = true,
    subcommand_required = false,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Daemon socket to connect to (default unix:///run/berth/berth.sock)
    #[arg(short = 'H', long = "host", env = "BERTH_HOST", value_name = "HOST")]
    pub host: Option<String>,

    /// Print version information and quit
    #[arg(short = 'v', long = "version")]
    pub version: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and run a new container from an image
    Run(RunArgs),
    /// Create a new container
    Create(CreateArgs),
    /// List containers
    Ps(PsArgs),
    /// List images
    Images(ImagesArgs),
    /// Show the berth version information
    Version(VersionArgs),
    /// Display system-wide information
    Info(InfoArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// Return low-level information on berth objects
    Inspect(InspectArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(WaitArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Remove one or more images
    Rmi(RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
}

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Create and run a new container from an image
    Run(RunArgs),
    /// Create a new container
    Create(CreateArgs),
    /// List containers
    #[command(visible_alias = "ps", alias = "list")]
    Ls(PsArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Remove one or more containers
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Display detailed information on one or more containers
    Inspect(ObjectInspectArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(WaitArgs),
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List images
    #[command(visible_alias = "list")]
    Ls(ImagesArgs),
    /// Display detailed information on one or more images
    Inspect(ObjectInspectArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Remove one or more images
    #[command(visible_alias = "remove")]
    Rm(RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
}

/// `run`: everything `create` takes, plus how to run it.
#[derive(Debug, Args)]
#[command(
    override_usage = "berth run [OPTIONS] IMAGE [COMMAND] [ARG...]",
    disable_help_flag = true
)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,

    #[command(flatten)]
    pub container: ContainerArgs,
}

#[derive(Debug, Args)]
#[command(
    override_usage = "berth create [OPTIONS] IMAGE [COMMAND] [ARG...]",
    disable_help_flag = true
)]
pub struct CreateArgs {
    #[command(flatten)]
    pub container: ContainerArgs,
}

/// The container configuration shared by `create` and `run`. `-h` is `--hostname`, as in
/// docker, so these commands only have `--help`.
#[derive(Debug, Args)]
pub struct ContainerArgs {
    /// Assign a name to the container
    #[arg(long, value_name = "string")]
    pub name: Option<String>,

    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "list")]
    pub env: Vec<String>,

    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "list")]
    pub env_file: Vec<PathBuf>,

    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir", value_name = "string")]
    pub workdir: Option<String>,

    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long, value_name = "string")]
    pub entrypoint: Option<String>,

    /// Set meta data on a container
    #[arg(short = 'l', long = "label", value_name = "list")]
    pub label: Vec<String>,

    /// Container host name
    #[arg(short = 'h', long, value_name = "string")]
    pub hostname: Option<String>,

    /// Automatically remove the container and its associated anonymous volumes when it exits
    #[arg(long)]
    pub rm: bool,

    /// Print usage
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,

    /// The image, then the command and its arguments: everything after the image belongs to
    /// the container, flags included.
    #[arg(
        required = true,
        trailing_var_arg = true,
        value_name = "IMAGE [COMMAND] [ARG...]"
    )]
    pub argv: Vec<String>,
}

impl ContainerArgs {
    pub fn image(&self) -> &str {
        &self.argv[0]
    }

    pub fn command(&self) -> &[String] {
        &self.argv[1..]
    }
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,

    /// Only display container IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,

    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', or a Go template)
    #[arg(long, value_name = "string")]
    pub format: Option<String>,

    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter", value_parser = parse_filter)]
    pub filter: Vec<(String, String)>,

    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", value_name = "int", default_value_t = -1, allow_negative_numbers = true)]
    pub last: i32,

    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    pub latest: bool,

    /// Display total file sizes
    #[arg(short = 's', long)]
    pub size: bool,
}

/// `name=value`, as docker's `--filter` takes it (the name is case-insensitive).
fn parse_filter(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) => Ok((name.trim().to_lowercase(), value.trim().to_string())),
        None => Err("bad format of filter (expected name=value)".to_string()),
    }
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short = 'a', long)]
    pub all: bool,

    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Show digests
    #[arg(long)]
    pub digests: bool,

    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,

    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', or a Go template)
    #[arg(long, value_name = "string")]
    pub format: Option<String>,

    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter", value_parser = parse_filter)]
    pub filter: Vec<(String, String)>,

    /// Only images matching this reference
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long)]
    pub attach: bool,

    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, value_name = "string")]
    pub signal: Option<String>,

    /// Seconds to wait before killing the container
    #[arg(
        short = 't',
        long = "timeout",
        visible_alias = "time",
        value_name = "int",
        allow_negative_numbers = true
    )]
    pub timeout: Option<i32>,

    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,

    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, value_name = "string", default_value = "all")]
    pub tail: String,

    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,

    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long, value_name = "string")]
    pub since: Option<String>,

    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long, value_name = "string")]
    pub until: Option<String>,

    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long)]
    pub force: bool,

    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long)]
    pub volumes: bool,

    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `inspect`: any object, containers first.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Only inspect objects of the given type
    #[arg(long = "type", value_name = "string", value_parser = ["container", "image"])]
    pub kind: Option<String>,

    #[command(flatten)]
    pub object: ObjectInspectArgs,
}

/// `container inspect` and `image inspect`.
#[derive(Debug, Args)]
pub struct ObjectInspectArgs {
    /// Format output using a custom template ('json' or a Go template)
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,

    /// Display total file sizes (containers)
    #[arg(short = 's', long)]
    pub size: bool,

    #[arg(required = true, value_name = "NAME|ID")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format
    #[arg(
        short = 'H',
        long,
        value_name = "bool",
        default_value_t = true,
        default_missing_value = "true",
        num_args = 0..=1,
        require_equals = true,
        action = ArgAction::Set
    )]
    pub human: bool,

    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,

    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', or a Go template)
    #[arg(long, value_name = "string")]
    pub format: Option<String>,

    #[arg(value_name = "IMAGE")]
    pub image: String,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short = 'f', long)]
    pub force: bool,

    /// Do not delete untagged parents
    #[arg(long = "no-prune")]
    pub no_prune: bool,

    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    pub source: String,

    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    pub target: String,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long, value_name = "string")]
    pub output: Option<PathBuf>,

    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short = 'i', long, value_name = "string")]
    pub input: Option<PathBuf>,

    /// Suppress the load output
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long, value_name = "list")]
    pub change: Vec<String>,

    /// Set commit message for imported image
    #[arg(short = 'm', long, value_name = "string")]
    pub message: Option<String>,

    /// Set platform if server is multi-platform capable
    #[arg(long, value_name = "string")]
    pub platform: Option<String>,

    /// A tar file, a URL, or - for STDIN
    #[arg(value_name = "file|URL|-")]
    pub source: String,

    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("berth").chain(args.iter().copied())).unwrap()
    }

    fn run_args(args: &[&str]) -> RunArgs {
        match parse(args).command {
            Some(Command::Run(run)) => run,
            other => panic!("not run: {other:?}"),
        }
    }

    #[test]
    fn everything_after_the_image_belongs_to_the_container() {
        let run = run_args(&["run", "busybox", "sh", "-c", "exit 3"]);
        assert_eq!(run.container.image(), "busybox");
        assert_eq!(run.container.command(), ["sh", "-c", "exit 3"]);
        assert!(!run.detach);
    }

    #[test]
    fn our_own_flags_after_the_image_are_container_arguments() {
        let run = run_args(&["run", "-d", "--rm", "busybox", "-d", "--rm", "-e", "X"]);
        assert!(run.detach);
        assert!(run.container.rm);
        assert_eq!(run.container.command(), ["-d", "--rm", "-e", "X"]);
    }

    #[test]
    fn run_flags_before_the_image() {
        let run = run_args(&[
            "run",
            "--name",
            "web",
            "-e",
            "A=1",
            "--env",
            "B",
            "-l",
            "k=v",
            "-w",
            "/tmp",
            "-h",
            "box",
            "--entrypoint",
            "",
            "busybox",
        ]);
        let c = &run.container;
        assert_eq!(c.name.as_deref(), Some("web"));
        assert_eq!(c.env, ["A=1", "B"]);
        assert_eq!(c.label, ["k=v"]);
        assert_eq!(c.workdir.as_deref(), Some("/tmp"));
        assert_eq!(c.hostname.as_deref(), Some("box"));
        assert_eq!(c.entrypoint.as_deref(), Some(""));
        assert!(c.command().is_empty());
    }

    #[test]
    fn run_needs_an_image() {
        assert!(Cli::try_parse_from(["berth", "run"]).is_err());
        assert!(Cli::try_parse_from(["berth", "run", "--bogus", "x"]).is_err());
    }

    #[test]
    fn management_commands_and_aliases() {
        assert!(matches!(
            parse(&["container", "ls", "-a"]).command,
            Some(Command::Container(ContainerCommand::Ls(PsArgs {
                all: true,
                ..
            })))
        ));
        assert!(matches!(
            parse(&["container", "ps"]).command,
            Some(Command::Container(ContainerCommand::Ls(_)))
        ));
        assert!(matches!(
            parse(&["image", "list"]).command,
            Some(Command::Image(ImageCommand::Ls(_)))
        ));
        assert!(matches!(
            parse(&["image", "remove", "x"]).command,
            Some(Command::Image(ImageCommand::Rm(_)))
        ));
    }

    #[test]
    fn ps_flags() {
        let Some(Command::Ps(ps)) = parse(&[
            "ps",
            "-aq",
            "-n",
            "3",
            "-f",
            "status=exited",
            "--filter",
            "name=x",
        ])
        .command
        else {
            panic!("not ps")
        };
        assert!(ps.all && ps.quiet);
        assert_eq!(ps.last, 3);
        assert_eq!(
            ps.filter,
            [
                ("status".into(), "exited".into()),
                ("name".into(), "x".into())
            ]
        );
        assert!(Cli::try_parse_from(["berth", "ps", "-f", "nonsense"]).is_err());
    }

    #[test]
    fn history_human_defaults_to_true_and_takes_equals_false() {
        let Some(Command::History(h)) = parse(&["history", "busybox"]).command else {
            panic!()
        };
        assert!(h.human);
        let Some(Command::History(h)) = parse(&["history", "--human=false", "busybox"]).command
        else {
            panic!()
        };
        assert!(!h.human);
        let Some(Command::History(h)) = parse(&["history", "-H", "busybox"]).command else {
            panic!()
        };
        assert!(h.human);
    }

    #[test]
    fn host_flag_and_stop_timeout() {
        let cli = parse(&["-H", "unix:///tmp/x.sock", "stop", "-t", "1", "a", "b"]);
        assert_eq!(cli.host.as_deref(), Some("unix:///tmp/x.sock"));
        let Some(Command::Stop(stop)) = cli.command else {
            panic!()
        };
        assert_eq!(stop.timeout, Some(1));
        assert_eq!(stop.containers, ["a", "b"]);
    }

    #[test]
    fn import_positionals() {
        let Some(Command::Import(import)) = parse(&[
            "import",
            "-c",
            "CMD [\"sh\"]",
            "-m",
            "hi",
            "-",
            "busybox:latest",
        ])
        .command
        else {
            panic!()
        };
        assert_eq!(import.source, "-");
        assert_eq!(import.reference.as_deref(), Some("busybox:latest"));
        assert_eq!(import.change, ["CMD [\"sh\"]"]);
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
