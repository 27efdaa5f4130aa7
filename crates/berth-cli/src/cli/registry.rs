//! `pull`, `push`, `login`, `logout`, `registry serve` and `registry gc`: images to and from
//! registries.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::format::time::parse_go_duration;
use crate::opts::resources::ram_in_bytes;

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Download all tagged images in the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,

    /// Set platform if server is multi-platform capable
    #[arg(long, value_name = "string")]
    pub platform: Option<String>,

    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub quiet: bool,

    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    pub image: String,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push all tags of an image to the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,

    /// Push a platform-specific manifest as a single-platform image to the registry
    #[arg(long, value_name = "string")]
    pub platform: Option<String>,

    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub quiet: bool,

    #[arg(value_name = "NAME[:TAG]")]
    pub image: String,
}

#[derive(Debug, Args)]
#[command(override_usage = "berth login [OPTIONS] [SERVER]")]
pub struct LoginArgs {
    /// Username
    #[arg(short = 'u', long, value_name = "string")]
    pub username: Option<String>,

    /// Password or Personal Access Token (PAT)
    #[arg(short = 'p', long, value_name = "string")]
    pub password: Option<String>,

    /// Take the Password or Personal Access Token (PAT) from stdin
    #[arg(long = "password-stdin", conflicts_with = "password")]
    pub password_stdin: bool,

    /// The registry (Docker Hub when omitted)
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "berth logout [SERVER]")]
pub struct LogoutArgs {
    /// The registry (Docker Hub when omitted)
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

/// `search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter", value_parser = crate::cli::parse_filter)]
    pub filter: Vec<(String, String)>,

    /// Pretty-print search using a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,

    /// Max number of search results
    #[arg(long, value_name = "int")]
    pub limit: Option<u32>,

    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,

    /// The term: a registry may come first (`localhost:5000/team`), else Docker Hub
    #[arg(value_name = "TERM")]
    pub term: String,
}

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Run an OCI distribution registry (no daemon needed)
    Serve(RegistryServeArgs),
    /// Delete the blobs no manifest references (safe while the registry serves)
    #[command(name = "gc", alias = "garbage-collect")]
    Gc(RegistryGcArgs),
}

#[derive(Debug, Args)]
pub struct RegistryServeArgs {
    /// A YAML configuration file in the layout of Distribution's config.yml (the settings
    /// below; the flags override it)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address to listen on (default 127.0.0.1:5000)
    #[arg(long, value_name = "host:port")]
    pub addr: Option<SocketAddr>,

    /// Directory the registry stores its blobs and manifests in (default
    /// /var/lib/berth-registry)
    #[arg(long, value_name = "DIR")]
    pub storage: Option<PathBuf>,

    /// htpasswd file of bcrypt entries; every request then needs Basic credentials
    #[arg(long, value_name = "FILE")]
    pub htpasswd: Option<PathBuf>,

    /// Token authentication: a file of users (htpasswd -B lines) and grants
    /// (`grant <repo|prefix/*|*> <user|+|anonymous> <pull,push,delete|*>`); clients get
    /// Bearer tokens from the built-in service at /token
    #[arg(long = "token-auth", value_name = "FILE", conflicts_with = "htpasswd")]
    pub token_auth: Option<PathBuf>,

    /// PEM certificate chain to serve HTTPS with (needs --tls-key)
    #[arg(long = "tls-cert", value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert
    #[arg(long = "tls-key", value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Largest blob an upload may create (default 16GiB)
    #[arg(long = "max-blob-size", value_name = "bytes", value_parser = parse_size)]
    pub max_blob_size: Option<u64>,

    /// Purge uploads idle for longer than this (default 24h)
    #[arg(long = "upload-expiry", value_name = "duration", value_parser = parse_duration)]
    pub upload_expiry: Option<Duration>,

    /// What to log on stderr: "info" has the access log (a line per request), "warn" only
    /// problems, "debug" more
    #[arg(long = "log-level", value_name = "level", default_value = "info",
          value_parser = ["error", "warn", "info", "debug", "trace"])]
    pub log_level: String,
}

#[derive(Debug, Args)]
pub struct RegistryGcArgs {
    /// Directory the registry stores its blobs and manifests in
    #[arg(long, value_name = "DIR", default_value = "/var/lib/berth-registry")]
    pub storage: PathBuf,

    /// Only report what would be deleted
    #[arg(short = 'd', long = "dry-run")]
    pub dry_run: bool,

    /// Spare blobs modified more recently than this (pushes in progress)
    #[arg(long = "grace-period", value_name = "duration", default_value = "1h",
          value_parser = parse_duration)]
    pub grace_period: Duration,
}

/// A size in docker's units (`512m`, `16GiB`), at least one byte.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let size = ram_in_bytes(text)?;
    u64::try_from(size)
        .ok()
        .filter(|&size| size > 0)
        .ok_or_else(|| format!("invalid size: '{text}'"))
}

/// A Go duration (`90s`, `1h30m`) that is not negative.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    parse_go_duration(text)
        .and_then(|duration| Duration::try_from(duration).ok())
        .ok_or_else(|| format!("time: invalid duration {text:?}"))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command, ImageCommand};

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("berth").chain(args.iter().copied()))
    }

    #[test]
    fn pull_and_push_flags() {
        match parse(&["pull", "-q", "--platform", "linux/amd64", "busybox"])
            .unwrap()
            .command
        {
            Some(Command::Pull(args)) => {
                assert!(args.quiet && !args.all_tags);
                assert_eq!(args.platform.as_deref(), Some("linux/amd64"));
                assert_eq!(args.image, "busybox");
            }
            other => panic!("not pull: {other:?}"),
        }
        match parse(&["image", "push", "-a", "localhost:5000/app"])
            .unwrap()
            .command
        {
            Some(Command::Image(ImageCommand::Push(args))) => {
                assert!(args.all_tags);
                assert_eq!(args.image, "localhost:5000/app");
            }
            other => panic!("not push: {other:?}"),
        }
        assert!(parse(&["pull"]).is_err());
    }

    #[test]
    fn login_flags() {
        match parse(&["login", "-u", "me", "--password-stdin", "example.com"])
            .unwrap()
            .command
        {
            Some(Command::Login(args)) => {
                assert_eq!(args.username.as_deref(), Some("me"));
                assert!(args.password_stdin && args.password.is_none());
                assert_eq!(args.server.as_deref(), Some("example.com"));
            }
            other => panic!("not login: {other:?}"),
        }
        assert!(parse(&["login", "-p", "x", "--password-stdin"]).is_err());
        match parse(&["logout"]).unwrap().command {
            Some(Command::Logout(args)) => assert!(args.server.is_none()),
            other => panic!("not logout: {other:?}"),
        }
    }

    #[test]
    fn registry_serve_flags() {
        let serve = |args: &[&str]| match parse(args).map(|cli| cli.command) {
            Ok(Some(Command::Registry(RegistryCommand::Serve(args)))) => Ok(args),
            Ok(other) => panic!("not registry serve: {other:?}"),
            Err(error) => Err(error),
        };
        // Unset flags stay unset: a --config file may set them (defaults apply last).
        let defaults = serve(&["registry", "serve"]).unwrap();
        assert!(defaults.addr.is_none() && defaults.storage.is_none());
        assert!(defaults.htpasswd.is_none() && defaults.tls_cert.is_none());
        assert!(defaults.max_blob_size.is_none() && defaults.upload_expiry.is_none());
        let set = serve(&[
            "registry",
            "serve",
            "--addr",
            "0.0.0.0:5001",
            "--storage",
            "/s",
            "--htpasswd",
            "/h",
            "--tls-cert",
            "/c",
            "--tls-key",
            "/k",
            "--max-blob-size",
            "512m",
            "--upload-expiry",
            "2h",
        ])
        .unwrap();
        assert_eq!(set.addr, Some("0.0.0.0:5001".parse().unwrap()));
        assert_eq!(set.max_blob_size, Some(512 << 20));
        assert_eq!(set.upload_expiry, Some(Duration::from_secs(7200)));
        assert!(serve(&["registry", "serve", "--max-blob-size", "0"]).is_err());
        let token = serve(&["registry", "serve", "--token-auth", "/a"]).unwrap();
        assert_eq!(token.token_auth, Some(PathBuf::from("/a")));
        assert!(
            serve(&[
                "registry",
                "serve",
                "--token-auth",
                "/a",
                "--htpasswd",
                "/h"
            ])
            .is_err()
        );
        assert_eq!(set.tls_key, Some(PathBuf::from("/k")));
        assert!(serve(&["registry", "serve", "--tls-cert", "/c"]).is_err());
        assert!(serve(&["registry", "serve", "--addr", "nonsense"]).is_err());
    }

    #[test]
    fn registry_gc_flags() {
        let gc = |args: &[&str]| match parse(args).map(|cli| cli.command) {
            Ok(Some(Command::Registry(RegistryCommand::Gc(args)))) => Ok(args),
            Ok(other) => panic!("not registry gc: {other:?}"),
            Err(error) => Err(error),
        };
        let defaults = gc(&["registry", "gc"]).unwrap();
        assert!(!defaults.dry_run);
        assert_eq!(defaults.grace_period, Duration::from_secs(3600));
        let set = gc(&[
            "registry",
            "garbage-collect",
            "--storage",
            "/s",
            "-d",
            "--grace-period",
            "1m30s",
        ])
        .unwrap();
        assert!(set.dry_run);
        assert_eq!(set.storage, PathBuf::from("/s"));
        assert_eq!(set.grace_period, Duration::from_secs(90));
        assert!(gc(&["registry", "gc", "--grace-period", "-1s"]).is_err());
    }
}
