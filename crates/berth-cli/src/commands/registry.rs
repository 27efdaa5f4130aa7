//! `registry serve`: the OCI distribution registry of berth-registry, in the foreground.
//! It needs no daemon, so it never connects to (or starts) berthd.

use crate::cli::RegistryServeArgs;
use crate::error::CliError;

pub async fn serve(args: RegistryServeArgs) -> Result<(), CliError> {
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
        storage: args.storage,
        htpasswd: args.htpasswd,
        tls,
    };
    berth_registry::serve(config)
        .await
        .map_err(|e| CliError::Failed(format!("registry: {e}")))
}
