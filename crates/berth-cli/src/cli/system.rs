//! Container inspection and transfer commands (`port`, `stats`, `cp`, `diff`, `export`,
//! `commit`), the prune commands, and `system` (`df`, `prune`, `info`, `events`).

use clap::{ArgAction, Args, Subcommand};

use super::{InfoArgs, parse_filter};

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Show berth disk usage
    Df(DfArgs),
    /// Get real time events from the server
    Events(EventsArgs),
    /// Display system-wide information
    Info(InfoArgs),
    /// Remove unused data
    Prune(SystemPruneArgs),
}

#[derive(Debug, Args)]
#[command(override_usage = "berth port CONTAINER [PRIVATE_PORT[/PROTO]]")]
pub struct PortArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,

    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
    pub port: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,

    /// Disable streaming stats and only pull the first result
    #[arg(long = "no-stream")]
    pub no_stream: bool,

    /// Do not truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,

    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', or a Go template)
    #[arg(long, value_name = "string")]
    pub format: Option<String>,

    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
#[command(
    override_usage = "berth cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n       berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH"
)]
pub struct CpArgs {
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,

    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long)]
    pub archive: bool,

    /// Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached
    #[arg(short = 'q', long)]
    pub quiet: bool,

    #[arg(value_name = "SOURCE", allow_hyphen_values = true)]
    pub source: String,

    #[arg(value_name = "DESTINATION", allow_hyphen_values = true)]
    pub destination: String,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long, value_name = "string")]
    pub output: Option<std::path::PathBuf>,

    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short = 'a', long, value_name = "string")]
    pub author: Option<String>,

    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long, value_name = "list")]
    pub change: Vec<String>,

    /// Commit message
    #[arg(short = 'm', long, value_name = "string")]
    pub message: Option<String>,

    /// Pause container during commit
    #[arg(
        short = 'p',
        long,
        value_name = "bool",
        default_value_t = true,
        default_missing_value = "true",
        num_args = 0..=1,
        require_equals = true,
        action = ArgAction::Set
    )]
    pub pause: bool,

    #[arg(value_name = "CONTAINER")]
    pub container: String,

    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Show all events created since timestamp
    #[arg(long, value_name = "string")]
    pub since: Option<String>,

    /// Stream events until this timestamp
    #[arg(long, value_name = "string")]
    pub until: Option<String>,

    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter", value_parser = parse_filter)]
    pub filter: Vec<(String, String)>,

    /// Format output using a custom template ('json' or a Go template)
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
}

/// `container prune` and `network prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,

    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter", value_name = "filter", value_parser = parse_filter)]
    pub filter: Vec<(String, String)>,
}

#[derive(Debug, Args)]
pub struct ImagePruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,

    #[command(flatten)]
    pub prune: PruneArgs,
}

#[derive(Debug, Args)]
pub struct VolumePruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short = 'a', long)]
    pub all: bool,

    #[command(flatten)]
    pub prune: PruneArgs,
}

#[derive(Debug, Args)]
pub struct SystemPruneArgs {
    /// Remove all unused images not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,

    /// Prune anonymous volumes
    #[arg(long)]
    pub volumes: bool,

    #[command(flatten)]
    pub prune: PruneArgs,
}

#[derive(Debug, Args)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', or a Go template)
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
}
