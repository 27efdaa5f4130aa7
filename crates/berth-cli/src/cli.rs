//! The command line, as clap types only: docker's commands, aliases and flags. What each
//! command does lives in `commands`.

mod build;
mod compose;
mod container_flags;
mod objects;
pub(crate) mod registry;
mod system;

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::opts::parse_label;
pub use build::{BuildArgs, BuilderCommand, BuilderPruneArgs};
pub use compose::{
    ComposeArgs, ComposeBuildArgs, ComposeCommand, ComposeConfigArgs, ComposeDownArgs,
    ComposeExecArgs, ComposeImagesArgs, ComposeLogsArgs, ComposeLsArgs, ComposePortArgs,
    ComposePsArgs, ComposeRmArgs, ComposeRunArgs, ComposeUpArgs, ComposeVersionArgs,
};
pub use container_flags::{
    HealthFlags, NamespaceFlags, NetworkFlags, ResourceFlags, SecurityFlags, StorageFlags,
};
pub use objects::{
    NetworkCommand, NetworkConnectArgs, NetworkCreateArgs, NetworkDisconnectArgs, NetworkLsArgs,
    NetworkRmArgs, VolumeCommand, VolumeCreateArgs, VolumeLsArgs, VolumeRmArgs,
};
pub use registry::{
    LoginArgs, LogoutArgs, PullArgs, PushArgs, RegistryCommand, RegistryGcArgs, RegistryServeArgs,
    SearchArgs,
};
pub use system::{
    CommitArgs, CpArgs, DfArgs, DiffArgs, EventsArgs, ExportArgs, ImagePruneArgs, PortArgs,
    PruneArgs, StatsArgs, SystemCommand, SystemPruneArgs, VolumePruneArgs,
};

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
    /// Build an image from a Dockerfile
    Build(BuildArgs),
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
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Restart one or more containers
    Restart(RestartArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Pause all processes within one or more containers
    Pause(PauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(PauseArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Update configuration of one or more containers
    Update(UpdateArgs),
    /// Display the running processes of a container
    Top(TopArgs),
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
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(DiffArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Get real time events from the server
    Events(EventsArgs),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
    /// Authenticate to a registry
    Login(LoginArgs),
    /// Log out from a registry
    Logout(LogoutArgs),
    /// Search Docker Hub (or the registry the term names) for images
    Search(SearchArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage builds
    #[command(subcommand)]
    Builder(BuilderCommand),
    /// Manage networks
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Manage berth
    #[command(subcommand)]
    System(SystemCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Run a registry
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Define and run multi-container applications
    Compose(ComposeArgs),
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
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Restart one or more containers
    Restart(RestartArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Pause all processes within one or more containers
    Pause(PauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(PauseArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Update configuration of one or more containers
    Update(UpdateArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Remove one or more containers
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Display detailed information on one or more containers
    Inspect(ObjectInspectArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(WaitArgs),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(DiffArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Remove all stopped containers
    Prune(PruneArgs),
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Build an image from a Dockerfile
    Build(BuildArgs),
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
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
    /// Remove unused images
    Prune(ImagePruneArgs),
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

    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,

    /// Proxy received signals to the process
    #[arg(
        long = "sig-proxy",
        value_name = "bool",
        default_value_t = true,
        default_missing_value = "true",
        num_args = 0..=1,
        require_equals = true,
        action = ArgAction::Set
    )]
    pub sig_proxy: bool,

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

    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,

    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,

    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short = 'a', long = "attach", value_name = "list", value_parser = parse_stream)]
    pub attach: Vec<String>,

    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "list", value_parser = parse_env)]
    pub env: Vec<String>,

    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "list")]
    pub env_file: Vec<PathBuf>,

    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir", value_name = "string")]
    pub workdir: Option<String>,

    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short = 'u', long, value_name = "string")]
    pub user: Option<String>,

    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(
        long,
        value_name = "bool",
        default_missing_value = "true",
        num_args = 0..=1,
        require_equals = true,
        action = ArgAction::Set
    )]
    pub init: Option<bool>,

    /// Signal to stop the container
    #[arg(long = "stop-signal", value_name = "string")]
    pub stop_signal: Option<String>,

    /// Timeout (in seconds) to stop a container
    #[arg(
        long = "stop-timeout",
        value_name = "int",
        allow_negative_numbers = true
    )]
    pub stop_timeout: Option<i64>,

    /// Restart policy to apply when a container exits
    #[arg(long, value_name = "string")]
    pub restart: Option<String>,

    /// Logging driver for the container
    #[arg(long = "log-driver", value_name = "string")]
    pub log_driver: Option<String>,

    /// Log driver options
    #[arg(long = "log-opt", value_name = "list")]
    pub log_opt: Vec<String>,

    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,

    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long, value_name = "string")]
    pub entrypoint: Option<String>,

    /// Set meta data on a container
    #[arg(short = 'l', long = "label", value_name = "list", value_parser = parse_label)]
    pub label: Vec<String>,

    /// Read in a line delimited file of labels
    #[arg(long = "label-file", value_name = "list")]
    pub label_file: Vec<PathBuf>,

    /// Container host name
    #[arg(short = 'h', long, value_name = "string")]
    pub hostname: Option<String>,

    /// Automatically remove the container and its associated anonymous volumes when it exits
    #[arg(long)]
    pub rm: bool,

    /// Set platform if server is multi-platform capable
    #[arg(long, value_name = "string")]
    pub platform: Option<String>,

    /// Pull image before running ("always", "missing", "never")
    #[arg(long, value_name = "string", default_value = "missing",
          value_parser = ["always", "missing", "never"])]
    pub pull: String,

    #[command(flatten)]
    pub network: NetworkFlags,

    #[command(flatten)]
    pub storage: StorageFlags,

    #[command(flatten)]
    pub resources: ResourceFlags,

    #[command(flatten)]
    pub security: SecurityFlags,

    #[command(flatten)]
    pub namespaces: NamespaceFlags,

    #[command(flatten)]
    pub health: HealthFlags,

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

/// A stream `-a` attaches, in any case, as docker takes it.
fn parse_stream(text: &str) -> Result<String, String> {
    let stream = text.to_lowercase();
    match stream.as_str() {
        "stdin" | "stdout" | "stderr" => Ok(stream),
        _ => Err("valid streams are STDIN, STDOUT and STDERR".to_string()),
    }
}

/// A `-e` entry: `NAME=value`, or `NAME` to pass on our own value; a name is required.
fn parse_env(text: &str) -> Result<String, String> {
    match text.split_once('=').map_or(text, |(name, _)| name) {
        "" => Err(format!("invalid environment variable: {text}")),
        _ => Ok(text.to_string()),
    }
}

/// `name=value`, as docker's `--filter` takes it (the name is case-insensitive).
pub(crate) fn parse_filter(text: &str) -> Result<(String, String), String> {
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

    /// Attach container's STDIN
    #[arg(short = 'i', long)]
    pub interactive: bool,

    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,

    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, value_name = "string")]
    pub signal: Option<String>,

    #[command(flatten)]
    pub grace: GracePeriodArgs,

    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, value_name = "string")]
    pub signal: Option<String>,

    #[command(flatten)]
    pub grace: GracePeriodArgs,

    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// How long `stop` and `restart` wait before killing: `-t`, or the deprecated `--time`.
#[derive(Debug, Args)]
pub struct GracePeriodArgs {
    /// Seconds to wait before killing the container
    #[arg(
        short = 't',
        long = "timeout",
        value_name = "int",
        allow_negative_numbers = true
    )]
    pub timeout: Option<i32>,

    /// Seconds to wait before killing the container (deprecated: use --timeout)
    #[arg(
        long = "time",
        hide = true,
        value_name = "int",
        allow_negative_numbers = true
    )]
    pub time: Option<i32>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, value_name = "string")]
    pub signal: Option<String>,

    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `pause` and `unpause`.
#[derive(Debug, Args)]
pub struct PauseArgs {
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `update`: the resource flags of `run` that can change while a container lives.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)
    #[arg(long = "blkio-weight", value_name = "uint16")]
    pub blkio_weight: Option<u16>,

    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period", value_name = "int", allow_negative_numbers = true)]
    pub cpu_period: Option<i64>,

    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", value_name = "int", allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,

    /// CPU shares (relative weight)
    #[arg(
        short = 'c',
        long = "cpu-shares",
        value_name = "int",
        allow_negative_numbers = true
    )]
    pub cpu_shares: Option<i64>,

    /// Number of CPUs
    #[arg(long, value_name = "decimal", value_parser = crate::opts::resources::parse_cpus)]
    pub cpus: Option<i64>,

    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus", value_name = "string")]
    pub cpuset_cpus: Option<String>,

    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems", value_name = "string")]
    pub cpuset_mems: Option<String>,

    /// Memory limit
    #[arg(short = 'm', long, value_name = "bytes", value_parser = crate::opts::resources::ram_in_bytes)]
    pub memory: Option<i64>,

    /// Memory soft limit
    #[arg(long = "memory-reservation", value_name = "bytes", value_parser = crate::opts::resources::ram_in_bytes)]
    pub memory_reservation: Option<i64>,

    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long = "memory-swap", value_name = "bytes", allow_hyphen_values = true, value_parser = crate::opts::resources::parse_memory_swap)]
    pub memory_swap: Option<i64>,

    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", value_name = "int", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,

    /// Restart policy to apply when a container exits
    #[arg(long, value_name = "string")]
    pub restart: Option<String>,

    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,

    #[arg(value_name = "NEW_NAME")]
    pub new_name: String,
}

#[derive(Debug, Args)]
#[command(override_usage = "berth top CONTAINER [ps OPTIONS]")]
pub struct TopArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,

    /// Options for ps, passed on as they are.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ps OPTIONS"
    )]
    pub ps_args: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "berth exec [OPTIONS] CONTAINER COMMAND [ARG...]")]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long)]
    pub detach: bool,

    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,

    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,

    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,

    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "list", value_parser = parse_env)]
    pub env: Vec<String>,

    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "list")]
    pub env_file: Vec<PathBuf>,

    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short = 'u', long, value_name = "string")]
    pub user: Option<String>,

    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir", value_name = "string")]
    pub workdir: Option<String>,

    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,

    /// The container, then the command and its arguments: everything after the container
    /// belongs to the command, flags included.
    #[arg(
        required = true,
        num_args = 2..,
        trailing_var_arg = true,
        value_names = ["CONTAINER", "COMMAND"]
    )]
    pub argv: Vec<String>,
}

impl ExecArgs {
    pub fn container(&self) -> &str {
        &self.argv[0]
    }

    pub fn command(&self) -> &[String] {
        &self.argv[1..]
    }
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,

    /// Proxy all received signals to the process
    #[arg(
        long = "sig-proxy",
        value_name = "bool",
        default_value_t = true,
        default_missing_value = "true",
        num_args = 0..=1,
        require_equals = true,
        action = ArgAction::Set
    )]
    pub sig_proxy: bool,

    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,

    #[arg(value_name = "CONTAINER")]
    pub container: String,
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

    /// Show extra details provided to logs
    #[arg(long)]
    pub details: bool,

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
    #[arg(long = "type", value_name = "string", value_parser = ["container", "image", "network", "volume"])]
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
        assert_eq!(stop.grace.timeout, Some(1));
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
    fn run_session_flags() {
        let run = run_args(&[
            "run",
            "-it",
            "-a",
            "stdin",
            "-a",
            "STDOUT",
            "--detach-keys",
            "ctrl-x,x",
            "--sig-proxy=false",
            "--init",
            "--restart",
            "on-failure:2",
            "--read-only",
            "-u",
            "0:0",
            "--stop-signal",
            "SIGKILL",
            "--stop-timeout",
            "-1",
            "--log-driver",
            "none",
            "busybox",
            "sh",
        ]);
        let c = &run.container;
        assert!(c.interactive && c.tty && c.read_only);
        assert_eq!(c.attach, ["stdin", "stdout"]);
        assert_eq!(run.detach_keys.as_deref(), Some("ctrl-x,x"));
        assert!(!run.sig_proxy);
        assert_eq!(c.init, Some(true));
        assert_eq!(c.restart.as_deref(), Some("on-failure:2"));
        assert_eq!(c.user.as_deref(), Some("0:0"));
        assert_eq!(c.stop_signal.as_deref(), Some("SIGKILL"));
        assert_eq!(c.stop_timeout, Some(-1));
        assert_eq!(c.log_driver.as_deref(), Some("none"));
        assert_eq!(c.command(), ["sh"]);
    }

    #[test]
    fn run_defaults_proxy_signals_and_leave_init_to_the_daemon() {
        let run = run_args(&["run", "busybox"]);
        assert!(run.sig_proxy);
        assert_eq!(run.container.init, None);
        assert!(run.container.attach.is_empty());
        assert!(run_args(&["run", "--sig-proxy", "busybox"]).sig_proxy);
        assert_eq!(
            run_args(&["run", "--init=false", "busybox"]).container.init,
            Some(false)
        );
    }

    #[test]
    fn attach_streams_and_env_entries_are_checked() {
        let error = Cli::try_parse_from(["berth", "run", "-a", "bogus", "busybox"]).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("valid streams are STDIN, STDOUT and STDERR"),
            "{error}"
        );
        let error = Cli::try_parse_from(["berth", "run", "-e", "=x", "busybox"]).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("invalid environment variable: =x"),
            "{error}"
        );
        // An empty value is still a value.
        assert_eq!(
            run_args(&["run", "-e", "A=", "busybox"]).container.env,
            ["A="]
        );
    }

    #[test]
    fn exec_flags_then_the_command_with_its_own_flags() {
        let Some(Command::Exec(exec)) = parse(&[
            "exec",
            "-it",
            "-e",
            "A=1",
            "--env",
            "HOME",
            "--env-file",
            "/tmp/env",
            "-u",
            "1:2",
            "-w",
            "/srv",
            "--privileged",
            "--detach-keys",
            "ctrl-a,q",
            "web",
            "sh",
            "-c",
            "echo $A",
            "-e",
            "x",
        ])
        .command
        else {
            panic!("not exec")
        };
        assert!(exec.interactive && exec.tty && exec.privileged && !exec.detach);
        assert_eq!(exec.env, ["A=1", "HOME"]);
        assert_eq!(exec.env_file, [PathBuf::from("/tmp/env")]);
        assert_eq!(exec.user.as_deref(), Some("1:2"));
        assert_eq!(exec.workdir.as_deref(), Some("/srv"));
        assert_eq!(exec.detach_keys.as_deref(), Some("ctrl-a,q"));
        assert_eq!(exec.container(), "web");
        assert_eq!(exec.command(), ["sh", "-c", "echo $A", "-e", "x"]);
    }

    #[test]
    fn exec_needs_a_container_and_a_command() {
        assert!(Cli::try_parse_from(["berth", "exec", "web"]).is_err());
        assert!(Cli::try_parse_from(["berth", "exec", "-e", "=1", "web", "true"]).is_err());
        assert!(matches!(
            parse(&["container", "exec", "-d", "web", "true"]).command,
            Some(Command::Container(ContainerCommand::Exec(ExecArgs {
                detach: true,
                ..
            })))
        ));
    }

    #[test]
    fn attach_and_start_flags() {
        let Some(Command::Attach(attach)) = parse(&[
            "attach",
            "--no-stdin",
            "--sig-proxy=false",
            "--detach-keys",
            "ctrl-a",
            "web",
        ])
        .command
        else {
            panic!("not attach")
        };
        assert!(attach.no_stdin && !attach.sig_proxy);
        assert_eq!(attach.detach_keys.as_deref(), Some("ctrl-a"));
        assert_eq!(attach.container, "web");
        let Some(Command::Start(start)) = parse(&["start", "-ai", "web"]).command else {
            panic!("not start")
        };
        assert!(start.attach && start.interactive);
    }

    #[test]
    fn top_passes_ps_options_on() {
        let Some(Command::Top(top)) = parse(&["top", "web", "-o", "pid,comm", "-w"]).command else {
            panic!("not top")
        };
        assert_eq!(top.container, "web");
        assert_eq!(top.ps_args, ["-o", "pid,comm", "-w"]);
    }

    #[test]
    fn kill_restart_pause_rename() {
        let Some(Command::Kill(kill)) = parse(&["kill", "-s", "HUP", "a", "b"]).command else {
            panic!("not kill")
        };
        assert_eq!(kill.signal.as_deref(), Some("HUP"));
        assert_eq!(kill.containers, ["a", "b"]);
        let Some(Command::Restart(restart)) =
            parse(&["restart", "--time", "3", "-s", "TERM", "a"]).command
        else {
            panic!("not restart")
        };
        assert_eq!((restart.grace.timeout, restart.grace.time), (None, Some(3)));
        assert!(matches!(
            parse(&["container", "unpause", "a"]).command,
            Some(Command::Container(ContainerCommand::Unpause(_)))
        ));
        let Some(Command::Rename(rename)) = parse(&["rename", "a", "b"]).command else {
            panic!("not rename")
        };
        assert_eq!(
            (rename.container.as_str(), rename.new_name.as_str()),
            ("a", "b")
        );
        assert!(Cli::try_parse_from(["berth", "pause"]).is_err());
    }

    #[test]
    fn object_and_system_commands() {
        assert!(matches!(
            parse(&["volume", "list", "-q"]).command,
            Some(Command::Volume(VolumeCommand::Ls(VolumeLsArgs {
                quiet: true,
                ..
            })))
        ));
        assert!(matches!(
            parse(&["network", "remove", "-f", "a"]).command,
            Some(Command::Network(NetworkCommand::Rm(NetworkRmArgs {
                force: true,
                ..
            })))
        ));
        assert!(matches!(
            parse(&["system", "info"]).command,
            Some(Command::System(SystemCommand::Info(_)))
        ));
        assert!(matches!(
            parse(&["container", "prune", "-f", "--filter", "until=1h"]).command,
            Some(Command::Container(ContainerCommand::Prune(PruneArgs {
                force: true,
                ..
            })))
        ));
        let Some(Command::Commit(commit)) =
            parse(&["commit", "--pause=false", "-c", "ENV A=1", "web", "img:v1"]).command
        else {
            panic!("not commit")
        };
        assert!(!commit.pause);
        assert_eq!(commit.reference.as_deref(), Some("img:v1"));
        let Some(Command::Cp(cp)) = parse(&["cp", "-aL", "-", "web:/tmp"]).command else {
            panic!("not cp")
        };
        assert!(cp.archive && cp.follow_link);
        assert_eq!(
            (cp.source.as_str(), cp.destination.as_str()),
            ("-", "web:/tmp")
        );
        let Some(Command::Network(NetworkCommand::Create(create))) = parse(&[
            "network",
            "create",
            "--subnet",
            "10.1.0.0/16,10.2.0.0/16",
            "--ipv6",
            "n",
        ])
        .command
        else {
            panic!("not network create")
        };
        assert_eq!(create.subnets, ["10.1.0.0/16", "10.2.0.0/16"]);
        assert_eq!(create.ipv6, Some(true));
        assert_eq!(create.driver, "bridge");
    }

    #[test]
    fn run_resource_flags_in_docker_units() {
        let run = run_args(&[
            "run",
            "--net",
            "host",
            "-m",
            "1g",
            "-c",
            "512",
            "--stop-timeout",
            "5",
            "--label-file",
            "/tmp/labels",
            "busybox",
        ]);
        let c = &run.container;
        assert_eq!(c.network.networks[0].target, "host");
        assert_eq!(c.resources.memory, Some(1 << 30));
        assert_eq!(c.resources.cpu_shares, Some(512));
        assert_eq!(c.label_file, [PathBuf::from("/tmp/labels")]);
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
