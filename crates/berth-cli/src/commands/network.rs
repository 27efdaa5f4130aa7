//! `network create`, `network ls`, `network rm`, `network connect`, `network disconnect`
//! (`network inspect` and `network prune` are `inspect`'s and `prune`'s).

use std::collections::HashMap;

use bollard::models::{
    EndpointIpamConfig, EndpointSettings, Ipam, IpamConfig, NetworkConnectRequest,
    NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest,
};
use bollard::query_parameters::ListNetworksOptions;
use hyper::Method;

use super::filter_map;
use crate::cli::{
    NetworkConnectArgs, NetworkCreateArgs, NetworkDisconnectArgs, NetworkLsArgs, NetworkRmArgs,
};
use crate::client::Connector;
use crate::client::raw::{daemon_error, parse_json, request};
use crate::error::{CliError, describe, is_not_found, template_failure};
use crate::format::list::ListFormat;
use crate::format::natural::natural_cmp;
use crate::format::objects::{NETWORK_QUIET, NETWORK_TABLE, network_headers, network_row};
use crate::opts::kv_map;
use crate::opts::network::subnet_matches;
use crate::output;

pub async fn create(connector: &Connector, args: NetworkCreateArgs) -> Result<(), CliError> {
    let ipam = ipam(&args).map_err(CliError::Failed)?;
    let create = NetworkCreateRequest {
        name: args.name,
        driver: Some(args.driver),
        options: Some(args.options.into_iter().collect()),
        ipam: Some(ipam),
        internal: Some(args.internal),
        enable_ipv6: args.ipv6,
        attachable: Some(args.attachable),
        labels: Some(kv_map(&args.labels).unwrap_or_default()),
        ..Default::default()
    };
    let docker = connector.connect().await?;
    let mut body = serde_json::to_value(&create).map_err(|e| CliError::Failed(e.to_string()))?;
    // Daemons before API 1.44 accept a second network of the same name unless asked not to
    // (a field bollard no longer has).
    let version = docker.client_version();
    if (version.major_version, version.minor_version) < (1, 44) {
        body["CheckDuplicate"] = true.into();
    }
    let response = request(
        connector.host(),
        Method::POST,
        "/networks/create",
        Some(body),
    )
    .await
    .map_err(CliError::Failed)?;
    let status = response.status;
    let answer = response.bytes().await.map_err(CliError::Failed)?;
    if status != 201 && status != 200 {
        return Err(CliError::Failed(daemon_error(status, &answer)));
    }
    let created: NetworkCreateResponse =
        parse_json("/networks/create", &answer).map_err(CliError::Failed)?;
    output::line(&created.id);
    Ok(())
}

/// The address configuration: each subnet with the range, gateway and auxiliary addresses
/// that fall in it, checked as docker checks them.
fn ipam(args: &NetworkCreateArgs) -> Result<Ipam, String> {
    if args.subnets.len() < args.ip_ranges.len() || args.subnets.len() < args.gateways.len() {
        return Err("every ip-range or gateway must have a corresponding subnet".to_string());
    }
    let mut configs: Vec<IpamConfig> = Vec::new();
    for subnet in &args.subnets {
        for config in &configs {
            let other = config.subnet.as_deref().unwrap_or_default();
            if subnet_matches(subnet, other)? || subnet_matches(other, subnet)? {
                return Err(
                    "multiple overlapping subnet configuration is not supported".to_string()
                );
            }
        }
        configs.push(IpamConfig {
            subnet: Some(subnet.clone()),
            auxiliary_addresses: Some(HashMap::new()),
            ..Default::default()
        });
    }
    for range in &args.ip_ranges {
        if !range.contains('/') {
            return Err(format!("invalid CIDR address: {range}"));
        }
        let mut matched = false;
        for config in &mut configs {
            let subnet = config.subnet.clone().unwrap_or_default();
            if !subnet_matches(&subnet, range)? {
                continue;
            }
            if let Some(existing) = &config.ip_range {
                return Err(format!(
                    "cannot configure multiple ranges ({range}, {existing}) on the same subnet ({subnet})"
                ));
            }
            config.ip_range = Some(range.clone());
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for range {range}"));
        }
    }
    for gateway in &args.gateways {
        let mut matched = false;
        for config in &mut configs {
            let subnet = config.subnet.clone().unwrap_or_default();
            if !subnet_matches(&subnet, gateway)? {
                continue;
            }
            if let Some(existing) = &config.gateway {
                return Err(format!(
                    "cannot configure multiple gateways ({gateway}, {existing}) for the same subnet ({subnet})"
                ));
            }
            config.gateway = Some(gateway.clone());
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for gateway {gateway}"));
        }
    }
    for (key, address) in &args.aux_addresses {
        let mut matched = false;
        for config in &mut configs {
            let subnet = config.subnet.clone().unwrap_or_default();
            if subnet_matches(&subnet, address)? {
                config
                    .auxiliary_addresses
                    .get_or_insert_with(HashMap::new)
                    .insert(key.clone(), address.clone());
                matched = true;
            }
        }
        if !matched {
            return Err(format!("no matching subnet for aux-address {address}"));
        }
    }
    Ok(Ipam {
        driver: Some(args.ipam_driver.clone()),
        config: Some(configs),
        options: Some(args.ipam_options.iter().cloned().collect()),
    })
}

pub async fn list(connector: &Connector, args: NetworkLsArgs) -> Result<(), CliError> {
    let quiet = args.quiet.then_some(NETWORK_QUIET);
    let format = ListFormat::with_quiet(args.format.as_deref(), NETWORK_TABLE, quiet)
        .map_err(template_failure("template parsing error"))?;
    let docker = connector.connect().await?;
    let options = ListNetworksOptions {
        filters: filter_map(&args.filter),
    };
    let mut networks = docker.list_networks(Some(options)).await?;
    networks.sort_by(|a, b| {
        natural_cmp(
            a.name.as_deref().unwrap_or_default(),
            b.name.as_deref().unwrap_or_default(),
        )
    });
    let rows: Vec<_> = networks
        .iter()
        .map(|n| network_row(n, !args.no_trunc))
        .collect();
    let text = format.render(&rows, &network_headers());
    output::print(&text.map_err(template_failure("template parsing error"))?);
    Ok(())
}

/// Removes each network, printing its name; each failure is printed as it happens, and
/// the command then fails with docker's "exit status 1".
pub async fn remove(connector: &Connector, args: NetworkRmArgs) -> Result<(), CliError> {
    let docker = connector.connect().await?;
    let mut failed = false;
    for name in &args.names {
        match docker.remove_network(name).await {
            Ok(()) => output::line(name),
            Err(error) if args.force && is_not_found(&error) => {}
            Err(error) => {
                eprintln!("{}", describe(&error));
                failed = true;
            }
        }
    }
    if failed {
        return Err(CliError::Failed("exit status 1".to_string()));
    }
    Ok(())
}

pub async fn connect(connector: &Connector, args: NetworkConnectArgs) -> Result<(), CliError> {
    let mut driver_opts = HashMap::new();
    for option in &args.driver_opts {
        let (key, value) = option
            .split_once('=')
            .filter(|(key, _)| !key.trim().is_empty())
            .ok_or_else(|| {
                CliError::Failed("invalid key/value pair format in driver options".to_string())
            })?;
        driver_opts.insert(key.trim().to_string(), value.trim().to_string());
    }
    let endpoint = EndpointSettings {
        ipam_config: Some(EndpointIpamConfig {
            ipv4_address: args.ipv4,
            ipv6_address: args.ipv6,
            link_local_ips: Some(args.link_local_ips),
        }),
        aliases: Some(args.aliases),
        driver_opts: Some(driver_opts),
        ..Default::default()
    };
    let request = NetworkConnectRequest {
        container: args.container,
        endpoint_config: Some(endpoint),
    };
    let docker = connector.connect().await?;
    docker.connect_network(&args.network, request).await?;
    Ok(())
}

pub async fn disconnect(
    connector: &Connector,
    args: NetworkDisconnectArgs,
) -> Result<(), CliError> {
    let request = NetworkDisconnectRequest {
        container: args.container,
        force: Some(args.force),
    };
    let docker = connector.connect().await?;
    docker.disconnect_network(&args.network, request).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command, NetworkCommand};

    fn create_args(argv: &[&str]) -> NetworkCreateArgs {
        let cli = Cli::try_parse_from(["berth", "network", "create"].iter().chain(argv)).unwrap();
        let Some(Command::Network(NetworkCommand::Create(args))) = cli.command else {
            panic!("not network create");
        };
        args
    }

    #[test]
    fn address_configuration() {
        let ipam = ipam(&create_args(&[
            "--subnet",
            "10.5.0.0/16,10.6.0.0/24",
            "--ip-range",
            "10.5.1.0/24",
            "--gateway",
            "10.5.0.254",
            "--aux-address",
            "router=10.6.0.2",
            "net",
        ]))
        .unwrap();
        assert_eq!(ipam.driver.as_deref(), Some("default"));
        let config = ipam.config.unwrap();
        assert_eq!(config.len(), 2);
        assert_eq!(config[0].subnet.as_deref(), Some("10.5.0.0/16"));
        assert_eq!(config[0].ip_range.as_deref(), Some("10.5.1.0/24"));
        assert_eq!(config[0].gateway.as_deref(), Some("10.5.0.254"));
        assert_eq!(
            config[1].auxiliary_addresses.as_ref().unwrap()["router"],
            "10.6.0.2"
        );
        let empty = super::ipam(&create_args(&["net"])).unwrap();
        assert_eq!(empty.config, Some(Vec::new()));
    }

    #[test]
    fn address_errors_read_like_docker() {
        let error = |argv: &[&str]| ipam(&create_args(argv)).unwrap_err();
        assert_eq!(
            error(&["--gateway", "10.0.0.1", "n"]),
            "every ip-range or gateway must have a corresponding subnet"
        );
        assert_eq!(
            error(&["--subnet", "10.0.0.0/8", "--subnet", "10.1.0.0/16", "n"]),
            "multiple overlapping subnet configuration is not supported"
        );
        assert_eq!(
            error(&["--subnet", "10.0.0.0/8", "--gateway", "192.168.0.1", "n"]),
            "no matching subnet for gateway 192.168.0.1"
        );
        assert_eq!(
            error(&["--subnet", "10.0.0.0/8", "--ip-range", "11.0.0.0/24", "n"]),
            "no matching subnet for range 11.0.0.0/24"
        );
        // A lone subnet is the daemon's to check; one compared with another is ours.
        assert!(super::ipam(&create_args(&["--subnet", "10.0.0.0", "n"])).is_ok());
        assert_eq!(
            error(&["--subnet", "10.0.0.0/8", "--subnet", "bad", "n"]),
            "invalid subnet: invalid CIDR address: bad"
        );
        assert_eq!(
            error(&[
                "--subnet",
                "10.0.0.0/8",
                "--gateway",
                "10.0.0.1",
                "--gateway",
                "10.0.0.2",
                "--subnet",
                "11.0.0.0/8",
                "n"
            ]),
            "cannot configure multiple gateways (10.0.0.2, 10.0.0.1) for the same subnet (10.0.0.0/8)"
        );
    }
}
