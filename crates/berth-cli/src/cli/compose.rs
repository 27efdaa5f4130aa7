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
        for sub in ["config", "start", "stop", "restart", "pull", "ls"] {
            assert!(compose(&[sub]).is_ok(), "{sub}");
        }
        assert!(compose(&[]).is_err());
    }
}
