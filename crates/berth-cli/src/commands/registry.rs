//! `registry serve`: the OCI distribution registry of berth-registry, in the foreground, and
//! `registry gc`, its garbage collector. Neither needs a daemon, so they never connect to (or
//! start) berthd.

use berth_registry::GcOptions;

use super::registry_config;
use crate::cli::{RegistryGcArgs, RegistryServeArgs};
use crate::error::CliError;
use crate::output;

pub async fn serve(args: RegistryServeArgs) -> Result<(), CliError> {
    // The registry's own messages and its access log, on stderr as a foreground server's.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(format!(
            "berth_registry={}",
            args.log_level
        )))
        .with_writer(std::io::stderr)
        .init();
    let config = server_config(args)?;
    berth_registry::serve(config)
        .await
        .map_err(|e| CliError::Failed(format!("registry: {e}")))
}

/// Where the registry stores its content unless told.
const DEFAULT_STORAGE: &str = "/var/lib/berth-registry";

/// The server's settings: each flag given, else the `--config` file's, else the default.
fn server_config(args: RegistryServeArgs) -> Result<berth_registry::ServerConfig, CliError> {
    let file = match &args.config {
        Some(path) => registry_config::load(path).map_err(CliError::Failed)?,
        None => registry_config::FileSettings::default(),
    };
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(certificate), Some(key)) => Some((certificate, key)),
        (None, None) => file.tls,
        _ => {
            return Err(CliError::Failed(
                "--tls-cert and --tls-key must be given together".to_string(),
            ));
        }
    };
    // Flags choose the scheme outright: a --htpasswd replaces the file's token auth too.
    let (htpasswd, token_auth) = match (args.htpasswd, args.token_auth) {
        (None, None) => (file.htpasswd, file.token_auth),
        flags => flags,
    };
    let storage = args
        .storage
        .or(file.storage)
        .unwrap_or_else(|| DEFAULT_STORAGE.into());
    let defaults = berth_registry::ServerConfig::new(storage);
    Ok(berth_registry::ServerConfig {
        addr: args.addr.or(file.addr).unwrap_or(defaults.addr),
        htpasswd,
        token_auth,
        tls: tls.map(|(certificate, key)| berth_registry::TlsConfig { certificate, key }),
        max_blob_size: args.max_blob_size.unwrap_or(defaults.max_blob_size),
        upload_expiry: args
            .upload_expiry
            .or(file.upload_expiry)
            .unwrap_or(defaults.upload_expiry),
        ..defaults
    })
}

/// Prints each step as distribution's `registry garbage-collect` does, then a summary.
pub async fn gc(args: RegistryGcArgs) -> Result<(), CliError> {
    let dry_run = args.dry_run;
    let options = GcOptions {
        dry_run,
        grace_period: args.grace_period,
    };
    let report = tokio::task::spawn_blocking(move || {
        berth_registry::collect_garbage(&args.storage, &options, &mut |line| output::line(line))
    })
    .await
    .map_err(|e| CliError::Failed(format!("registry gc: {e}")))?
    .map_err(|e| CliError::Failed(format!("registry gc: {e}")))?;
    let verb = if dry_run {
        "eligible for deletion"
    } else {
        "deleted"
    };
    output::line(&format!(
        "\n{} manifests, {} blobs marked, {} blobs {verb} ({} bytes), {} unreferenced blobs \
         spared as younger than the grace period",
        report.manifests,
        report.marked,
        report.deleted.len(),
        report.freed(),
        report.spared,
    ));
    Ok(())
}
