//! `volume` and `network`: the management commands for the objects containers attach to.

use clap::{ArgAction, Args, Subcommand};

use super::{PruneArgs, VolumePruneArgs, parse_filter};
use crate::opts::{parse_key_value, parse_label};

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume
    Create(VolumeCreateArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(VolumeLsArgs),
    /// Display detailed information on one or more volumes
    Inspect(VolumeInspectArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(VolumeRmArgs),
    /// Remove unused local volumes
    Prune(VolumePruneArgs),
}

#[derive(Debug, Args)]
#[command(override_usage = "berth volume create [OPTIONS] [VOLUME]")]
pub struct VolumeCreateArgs {
    /// Specify volume driver name
    #[arg(short = 'd', long, value_name = "string", default_value = "local")]
    pub driver: String,

    /// Set driver specific options
    #[arg(short = 'o', long = "opt", value_name = "map", value_parser = parse_key_value)]
    pub options: Vec<(String, String)>,

    /// Set metadata for a volume
    #[arg(long = "label", value_name = "list", value_parser = parse_label)]
    pub labels: Vec<String>,

    /// Specify volume name
    #[arg(long = "name", value_name = "string", hide = true)]
    pub name_flag: Option<String>,

    #[arg(value_name = "VOLUME")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct VolumeLsArgs {
    /// Only display volume names
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', or a Go template)
    #[arg(long, value_name = "string")]
    pub format: Option<String>,

    /// Provide filter values (e.g. "dangling=true")
    #[arg(short = 'f', long = "filter", value_name = "filter", value_parser = parse_filter)]
    pub filter: Vec<(String, String)>,
}

#[derive(Debug, Args)]
pub struct VolumeInspectArgs {
    /// Format output using a custom template ('json' or a Go template)
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,

    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VolumeRmArgs {
    /// Force the removal of one or more volumes
    #[arg(short = 'f', long)]
    pub force: bool,

    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Connect a container to a network
    Connect(NetworkConnectArgs),
    /// Create a network
    Create(NetworkCreateArgs),
    /// Disconnect a container from a network
    Disconnect(NetworkDisconnectArgs),
    /// Display detailed information on one or more networks
    Inspect(NetworkInspectArgs),
    /// List networks
    #[command(visible_alias = "list")]
    Ls(NetworkLsArgs),
    /// Remove all unused networks
    Prune(PruneArgs),
    /// Remove one or more networks
    #[command(visible_alias = "remove")]
    Rm(NetworkRmArgs),
}

#[derive(Debug, Args)]
pub struct NetworkCreateArgs {
    /// Driver to manage the Network
    #[arg(short = 'd', long, value_name = "string", default_value = "bridge")]
    pub driver: String,

    /// Set driver specific options
    #[arg(short = 'o', long = "opt", value_name = "map", value_parser = parse_key_value)]
    pub options: Vec<(String, String)>,

    /// Set metadata on a network
    #[arg(long = "label", value_name = "list", value_parser = parse_label)]
    pub labels: Vec<String>,

    /// Restrict external access to the network
    #[arg(long)]
    pub internal: bool,

    /// Enable manual container attachment
    #[arg(long)]
    pub attachable: bool,

    /// Enable or disable IPv6 address assignment
    #[arg(
        long,
        value_name = "bool",
        default_missing_value = "true",
        num_args = 0..=1,
        require_equals = true,
        action = ArgAction::Set
    )]
    pub ipv6: Option<bool>,

    /// IP Address Management Driver
    #[arg(long = "ipam-driver", value_name = "string", default_value = "default")]
    pub ipam_driver: String,

    /// Set IPAM driver specific options
    #[arg(long = "ipam-opt", value_name = "map", value_parser = parse_key_value)]
    pub ipam_options: Vec<(String, String)>,

    /// Subnet in CIDR format that represents a network segment
    #[arg(long = "subnet", value_name = "strings", value_delimiter = ',')]
    pub subnets: Vec<String>,

    /// Allocate container ip from a sub-range
    #[arg(long = "ip-range", value_name = "strings", value_delimiter = ',')]
    pub ip_ranges: Vec<String>,

    /// IPv4 or IPv6 Gateway for the master subnet
    #[arg(long = "gateway", value_name = "strings", value_delimiter = ',')]
    pub gateways: Vec<String>,

    /// Auxiliary IPv4 or IPv6 addresses used by Network driver
    #[arg(long = "aux-address", value_name = "map", value_parser = parse_key_value)]
    pub aux_addresses: Vec<(String, String)>,

    #[arg(value_name = "NETWORK")]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct NetworkLsArgs {
    /// Only display network IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Do not truncate the output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,

    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', or a Go template)
    #[arg(long, value_name = "string")]
    pub format: Option<String>,

    /// Provide filter values (e.g. "driver=bridge")
    #[arg(short = 'f', long = "filter", value_name = "filter", value_parser = parse_filter)]
    pub filter: Vec<(String, String)>,
}

#[derive(Debug, Args)]
pub struct NetworkInspectArgs {
    /// Format output using a custom template ('json' or a Go template)
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,

    /// Verbose output for diagnostics
    #[arg(short = 'v', long)]
    pub verbose: bool,

    #[arg(required = true, value_name = "NETWORK")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetworkRmArgs {
    /// Do not error if the network does not exist
    #[arg(short = 'f', long)]
    pub force: bool,

    #[arg(required = true, value_name = "NETWORK")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetworkConnectArgs {
    /// IPv4 address (e.g., "172.30.100.104")
    #[arg(long = "ip", value_name = "string")]
    pub ipv4: Option<String>,

    /// IPv6 address (e.g., "2001:db8::33")
    #[arg(long = "ip6", value_name = "string")]
    pub ipv6: Option<String>,

    /// Add network-scoped alias for the container
    #[arg(long = "alias", value_name = "strings", value_delimiter = ',')]
    pub aliases: Vec<String>,

    /// Add a link-local address for the container
    #[arg(long = "link-local-ip", value_name = "strings", value_delimiter = ',')]
    pub link_local_ips: Vec<String>,

    /// driver options for the network
    #[arg(long = "driver-opt", value_name = "strings", value_delimiter = ',')]
    pub driver_opts: Vec<String>,

    #[arg(value_name = "NETWORK")]
    pub network: String,

    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Debug, Args)]
pub struct NetworkDisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short = 'f', long)]
    pub force: bool,

    #[arg(value_name = "NETWORK")]
    pub network: String,

    #[arg(value_name = "CONTAINER")]
    pub container: String,
}
