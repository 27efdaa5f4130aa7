//! `registry serve`: the OCI distribution registry of berth-registry, in the foreground, and
//! `registry gc`, its garbage collector. Neither needs a daemon, so they never connect to (or
//! start) berthd.

use berth_registry::GcOptions;

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
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(certificate), Some(key)) => Some(berth_registry::TlsConfig { certificate, key }),
        (None, None) => None,
        _ => {
            return Err(CliError::Failed(
                "--tls-cert and --tls-key must be given together".to_string(),
            ));
        }
    };
    let config = berth_registry::ServerConfig {
        addr: args.addr,
        htpasswd: args.htpasswd,
        token_auth: args.token_auth,
        tls,
        max_blob_size: args.max_blob_size,
        upload_expiry: args.upload_expiry,
        ..berth_registry::ServerConfig::new(args.storage)
    };
    berth_registry::serve(config)
        .await
        .map_err(|e| CliError::Failed(format!("registry: {e}")))
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
