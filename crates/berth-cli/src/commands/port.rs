//! `port`: a container's published ports, or where one port is published.

use crate::cli::PortArgs;
use crate::client::Connector;
use crate::error::CliError;
use crate::format::containers::host_port;
use crate::format::natural::natural_cmp;
use crate::opts::parse_uint;
use crate::output;

pub async fn run(connector: &Connector, args: PortArgs) -> Result<(), CliError> {
    let docker = connector.connect().await?;
    let inspected = docker.inspect_container(&args.container, None).await?;
    let ports = inspected
        .network_settings
        .and_then(|settings| settings.ports)
        .unwrap_or_default();
    let address = |ip: Option<String>, port: Option<String>| {
        host_port(&ip.unwrap_or_default(), &port.unwrap_or_default())
    };
    let mut lines = Vec::new();
    match &args.port {
        Some(requested) => {
            let (port, proto) = requested.split_once('/').unwrap_or((requested, ""));
            let proto = if proto.is_empty() { "tcp" } else { proto };
            parse_uint(port, 16)
                .map_err(|e| CliError::Failed(format!("Error: invalid port ({port}): {e}")))?;
            let bindings = ports
                .get(&format!("{port}/{proto}"))
                .cloned()
                .flatten()
                .unwrap_or_default();
            if bindings.is_empty() {
                return Err(CliError::Failed(format!(
                    "Error: No public port '{requested}' published for {}",
                    args.container
                )));
            }
            lines.extend(
                bindings
                    .into_iter()
                    .map(|b| address(b.host_ip, b.host_port)),
            );
        }
        None => {
            for (port, bindings) in ports {
                for binding in bindings.unwrap_or_default() {
                    let host = address(binding.host_ip, binding.host_port);
                    lines.push(format!("{port} -> {host}"));
                }
            }
        }
    }
    if !lines.is_empty() {
        lines.sort_by(|a, b| natural_cmp(a, b));
        output::line(&lines.join("\n"));
    }
    Ok(())
}
