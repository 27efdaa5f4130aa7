//! Network flags: `--network` (a name, or docker's `name=...,alias=...` form), the
//! endpoint settings `run` derives from it and `--network-alias`/`--ip`/`--ip6`, `--dns`,
//! `--dns-search`, `--add-host`, and the subnets of `network create`.

use std::collections::HashMap;
use std::net::IpAddr;

use bollard::models::{EndpointIpamConfig, EndpointSettings};

use super::csv_fields;

/// One `--network` attachment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attachment {
    pub target: String,
    pub aliases: Vec<String>,
    pub driver_opts: HashMap<String, String>,
    pub ipv4: String,
    pub ipv6: String,
    pub link_local_ips: Vec<String>,
    pub mac_address: String,
    pub gw_priority: i64,
}

/// A `--network` value: a network name or ID, or comma-separated `key=value` settings
/// (`name=`, `alias=`, `ip=`, `ip6=`, `mac-address=`, `link-local-ip=`, `driver-opt=`,
/// `gw-priority=`), which docker reads in lower case.
pub fn parse_attachment(text: &str) -> Result<Attachment, String> {
    if !has_key_value(text) {
        return Ok(Attachment {
            target: text.to_string(),
            ..Default::default()
        });
    }
    let mut attachment = Attachment::default();
    for field in csv_fields(text)? {
        let lower = field.to_lowercase();
        let (key, value) = lower
            .split_once('=')
            .filter(|(key, _)| !key.is_empty())
            .ok_or_else(|| format!("invalid field {field}"))?;
        let (key, value) = (key.trim(), value.trim().to_string());
        match key {
            "name" => attachment.target = value,
            "alias" => attachment.aliases.push(value),
            "ip" => attachment.ipv4 = value,
            "ip6" => attachment.ipv6 = value,
            "mac-address" => attachment.mac_address = value,
            "link-local-ip" => attachment.link_local_ips.push(value),
            "driver-opt" => {
                let (key, value) = value
                    .split_once('=')
                    .filter(|(key, _)| !key.is_empty())
                    .ok_or("invalid key value pair format in driver options")?;
                attachment
                    .driver_opts
                    .insert(key.trim().to_string(), value.trim().to_string());
            }
            "gw-priority" => {
                attachment.gw_priority = value.parse().map_err(|e: std::num::ParseIntError| {
                    let reason = match e.kind() {
                        std::num::IntErrorKind::PosOverflow
                        | std::num::IntErrorKind::NegOverflow => "value out of range",
                        _ => "invalid syntax",
                    };
                    format!("invalid gw-priority ({value}): {reason}")
                })?;
            }
            other => return Err(format!("invalid field key {other}")),
        }
    }
    if attachment.target.is_empty() {
        return Err("network name/id is not specified".to_string());
    }
    Ok(attachment)
}

/// Whether `text` has docker's long-syntax marker somewhere: word characters, `=`, word
/// characters.
fn has_key_value(text: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = text.as_bytes();
    bytes
        .windows(3)
        .any(|w| word(w[0]) && w[1] == b'=' && word(w[2]))
}

/// Whether a network mode names a user-defined network (not one of the built-in modes).
pub fn is_user_defined(mode: &str) -> bool {
    !matches!(mode, "default" | "bridge" | "host" | "none") && !mode.starts_with("container:")
}

/// The container-wide flags that configure the first network's endpoint.
#[derive(Debug, Default)]
pub struct EndpointFlags<'a> {
    pub aliases: &'a [String],
    pub ipv4: Option<&'a str>,
    pub ipv6: Option<&'a str>,
    pub mac_address: Option<&'a str>,
}

/// The network mode (the first network, "default" without one) and the endpoint settings
/// `create` sends by network, as docker derives them from the flags.
pub fn endpoints(
    networks: &[Attachment],
    flags: &EndpointFlags<'_>,
) -> Result<(String, HashMap<String, EndpointSettings>), String> {
    let mut endpoints = HashMap::new();
    if networks.is_empty() {
        let mut default = Attachment {
            target: "default".to_string(),
            ..Default::default()
        };
        apply_flags(&mut default, flags)?;
        endpoints.insert("default".to_string(), endpoint(&default)?);
        return Ok(("default".to_string(), endpoints));
    }
    let (mut user_defined, mut built_in) = (false, false);
    for (i, network) in networks.iter().enumerate() {
        if is_user_defined(&network.target) {
            user_defined = true;
        } else {
            built_in = true;
        }
        let mut network = network.clone();
        if i == 0 {
            apply_flags(&mut network, flags)?;
        }
        let settings = endpoint(&network)?;
        if endpoints.contains_key(&network.target) {
            return Err(format!(
                "network {:?} is specified multiple times",
                network.target
            ));
        }
        // A single network without settings needs no endpoint configuration.
        if i == 0 && networks.len() == 1 && settings == EndpointSettings::default() {
            continue;
        }
        endpoints.insert(network.target.clone(), settings);
    }
    if user_defined && built_in {
        return Err(
            "conflicting options: cannot attach both user-defined and non-user-defined network-modes"
                .to_string(),
        );
    }
    Ok((networks[0].target.clone(), endpoints))
}

fn apply_flags(network: &mut Attachment, flags: &EndpointFlags<'_>) -> Result<(), String> {
    if !network.aliases.is_empty() && !flags.aliases.is_empty() {
        return Err(
            "conflicting options: cannot specify both --network-alias and per-network alias"
                .to_string(),
        );
    }
    if !network.ipv4.is_empty() && flags.ipv4.is_some() {
        return Err(
            "conflicting options: cannot specify both --ip and per-network IPv4 address"
                .to_string(),
        );
    }
    if !network.ipv6.is_empty() && flags.ipv6.is_some() {
        return Err(
            "conflicting options: cannot specify both --ip6 and per-network IPv6 address"
                .to_string(),
        );
    }
    if !network.mac_address.is_empty() && flags.mac_address.is_some() {
        return Err(
            "conflicting options: cannot specify both --mac-address and per-network MAC address"
                .to_string(),
        );
    }
    if !flags.aliases.is_empty() {
        network.aliases = flags.aliases.to_vec();
    }
    if let Some(mac) = flags.mac_address {
        network.mac_address = mac.to_string();
    }
    if let Some(ip) = flags.ipv4 {
        network.ipv4 = ip.to_string();
    }
    if let Some(ip) = flags.ipv6 {
        network.ipv6 = ip.to_string();
    }
    Ok(())
}

/// One attachment's endpoint settings.
fn endpoint(network: &Attachment) -> Result<EndpointSettings, String> {
    if network.target.trim().is_empty() {
        return Err("no name set for network".to_string());
    }
    if !is_user_defined(&network.target) && !network.aliases.is_empty() {
        return Err(
            "network-scoped aliases are only supported for user-defined networks".to_string(),
        );
    }
    let addressed =
        !network.ipv4.is_empty() || !network.ipv6.is_empty() || !network.link_local_ips.is_empty();
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Ok(EndpointSettings {
        gw_priority: (network.gw_priority != 0).then_some(network.gw_priority),
        aliases: (!network.aliases.is_empty()).then(|| network.aliases.clone()),
        driver_opts: (!network.driver_opts.is_empty()).then(|| network.driver_opts.clone()),
        ipam_config: addressed.then(|| EndpointIpamConfig {
            ipv4_address: non_empty(&network.ipv4),
            ipv6_address: non_empty(&network.ipv6),
            link_local_ips: (!network.link_local_ips.is_empty())
                .then(|| network.link_local_ips.clone()),
        }),
        mac_address: non_empty(&network.mac_address),
        ..Default::default()
    })
}

/// `--mac-address`: six two-digit hex bytes separated by colons or dashes.
pub fn parse_mac_address(text: &str) -> Result<String, String> {
    let bytes: Vec<&str> = text.split([':', '-']).collect();
    let valid = bytes.len() == 6
        && bytes
            .iter()
            .all(|b| b.len() == 2 && b.bytes().all(|c| c.is_ascii_hexdigit()));
    if valid {
        Ok(text.to_string())
    } else {
        Err(format!("{text} is not a valid mac address"))
    }
}

/// `--dns`: an IP address, sent in its canonical form.
pub fn parse_ip_address(text: &str) -> Result<String, String> {
    text.trim()
        .parse::<IpAddr>()
        .map(|ip| ip.to_string())
        .map_err(|_| format!("IP address is not correctly formatted: {text}"))
}

/// `--dns-search`: a domain name, or `.` for none.
pub fn parse_dns_search(text: &str) -> Result<String, String> {
    let domain = text.trim_matches(' ');
    if domain == "." {
        return Ok(domain.to_string());
    }
    let invalid = || format!("{domain} is not a valid domain");
    let name = domain.strip_suffix('.').unwrap_or(domain);
    let alnum_ends = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    let valid = name.len() < 255
        && name.contains(|c: char| c.is_ascii_alphabetic())
        && alnum_ends
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.starts_with(|c: char| c.is_ascii_alphanumeric())
                && label.ends_with(|c: char| c.is_ascii_alphanumeric())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if valid {
        Ok(name.to_string())
    } else {
        Err(invalid())
    }
}

/// `--add-host HOST:IP` (or `HOST=IP`, an IPv6 address possibly in brackets, or
/// `host-gateway`), sent as `HOST:IP`.
pub fn parse_extra_host(text: &str) -> Result<String, String> {
    let (host, ip) = text
        .split_once('=')
        .or_else(|| text.split_once(':'))
        .filter(|(host, _)| !host.is_empty() && !host.contains(':'))
        .ok_or_else(|| format!("bad format for add-host: {text:?}"))?;
    let mut ip = ip;
    if ip != "host-gateway" {
        if ip.len() > 2 && ip.starts_with('[') && ip.ends_with(']') {
            ip = &ip[1..ip.len() - 1];
        }
        parse_ip_address(ip).map_err(|_| format!("invalid IP address in add-host: {ip:?}"))?;
    }
    Ok(format!("{host}:{ip}"))
}

/// A CIDR block, as Go's `net.ParseCIDR` reads it: the address and the prefix length.
fn parse_cidr(text: &str) -> Result<(IpAddr, u8), String> {
    let invalid = || format!("invalid CIDR address: {text}");
    let (ip, prefix) = text.split_once('/').ok_or_else(invalid)?;
    let ip: IpAddr = ip.parse().map_err(|_| invalid())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix: u8 = prefix
        .parse()
        .ok()
        .filter(|p| *p <= max && !prefix.starts_with('+'))
        .ok_or_else(invalid)?;
    Ok((ip, prefix))
}

/// Whether `subnet` (a CIDR block) contains `data`: an address, or the address of a CIDR
/// block; worded as `network create` reports a bad subnet.
pub fn subnet_matches(subnet: &str, data: &str) -> Result<bool, String> {
    let (network, prefix) = parse_cidr(subnet).map_err(|e| format!("invalid subnet: {e}"))?;
    let ip = if data.contains('/') {
        Some(parse_cidr(data)?.0)
    } else {
        data.parse::<IpAddr>().ok()
    };
    Ok(ip.is_some_and(|ip| contains(network, prefix, ip)))
}

fn contains(network: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    let ip = match (network, ip) {
        (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => return false,
        },
        (_, ip) => ip,
    };
    match (network, ip) {
        (IpAddr::V4(network), IpAddr::V4(ip)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(network) & mask == u32::from(ip) & mask
        }
        (IpAddr::V6(network), IpAddr::V6(ip)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(network) & mask == u128::from(ip) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_values() {
        assert_eq!(parse_attachment("my-net").unwrap().target, "my-net");
        assert_eq!(
            parse_attachment("container:web").unwrap().target,
            "container:web"
        );
        let long = parse_attachment(
            "name=Front,alias=Web,alias=www,ip=10.1.0.5,driver-opt=com.x=Y,gw-priority=5",
        )
        .unwrap();
        assert_eq!(long.target, "front");
        assert_eq!(long.aliases, ["web", "www"]);
        assert_eq!(long.ipv4, "10.1.0.5");
        assert_eq!(long.driver_opts["com.x"], "y");
        assert_eq!(long.gw_priority, 5);
        assert_eq!(
            parse_attachment("alias=x").unwrap_err(),
            "network name/id is not specified"
        );
        assert_eq!(
            parse_attachment("name=a,bogus=1").unwrap_err(),
            "invalid field key bogus"
        );
        assert_eq!(
            parse_attachment("name=a,gw-priority=x").unwrap_err(),
            "invalid gw-priority (x): invalid syntax"
        );
    }

    #[test]
    fn endpoints_follow_docker() {
        let none = EndpointFlags::default();
        let (mode, map) = endpoints(&[], &none).unwrap();
        assert_eq!(mode, "default");
        assert_eq!(map["default"], EndpointSettings::default());

        let front = parse_attachment("front").unwrap();
        let (mode, map) = endpoints(std::slice::from_ref(&front), &none).unwrap();
        assert_eq!(mode, "front");
        assert!(map.is_empty());

        let aliases = ["web".to_string()];
        let flags = EndpointFlags {
            aliases: &aliases,
            ipv4: Some("10.1.0.5"),
            mac_address: None,
            ipv6: None,
        };
        let (_, map) = endpoints(std::slice::from_ref(&front), &flags).unwrap();
        let settings = &map["front"];
        assert_eq!(settings.aliases, Some(vec!["web".to_string()]));
        assert_eq!(
            settings
                .ipam_config
                .as_ref()
                .unwrap()
                .ipv4_address
                .as_deref(),
            Some("10.1.0.5")
        );

        let bridge = parse_attachment("bridge").unwrap();
        assert_eq!(
            endpoints(std::slice::from_ref(&bridge), &flags).unwrap_err(),
            "network-scoped aliases are only supported for user-defined networks"
        );
        assert_eq!(
            endpoints(&[front.clone(), bridge], &none).unwrap_err(),
            "conflicting options: cannot attach both user-defined and non-user-defined network-modes"
        );
        assert_eq!(
            endpoints(&[front.clone(), front], &none).unwrap_err(),
            "network \"front\" is specified multiple times"
        );
        let per_network = parse_attachment("name=back,alias=b").unwrap();
        assert_eq!(
            endpoints(&[per_network], &flags).unwrap_err(),
            "conflicting options: cannot specify both --network-alias and per-network alias"
        );
    }

    #[test]
    fn dns_and_hosts() {
        assert_eq!(parse_ip_address(" 8.8.8.8"), Ok("8.8.8.8".to_string()));
        assert_eq!(parse_ip_address("0:0::1"), Ok("::1".to_string()));
        assert_eq!(
            parse_ip_address("8.8.8").unwrap_err(),
            "IP address is not correctly formatted: 8.8.8"
        );
        assert_eq!(parse_dns_search("example.com"), Ok("example.com".into()));
        assert_eq!(parse_dns_search("example.com."), Ok("example.com".into()));
        assert_eq!(parse_dns_search("."), Ok(".".into()));
        assert_eq!(
            parse_dns_search("-bad.com").unwrap_err(),
            "-bad.com is not a valid domain"
        );
        assert_eq!(
            parse_extra_host("db:10.0.0.2"),
            Ok("db:10.0.0.2".to_string())
        );
        assert_eq!(parse_extra_host("db=::1"), Ok("db:::1".to_string()));
        assert_eq!(parse_extra_host("db=[::1]"), Ok("db:::1".to_string()));
        assert_eq!(
            parse_extra_host("gw:host-gateway"),
            Ok("gw:host-gateway".to_string())
        );
        assert_eq!(
            parse_extra_host("db").unwrap_err(),
            "bad format for add-host: \"db\""
        );
        assert_eq!(
            parse_extra_host("db:x").unwrap_err(),
            "invalid IP address in add-host: \"x\""
        );
    }

    #[test]
    fn subnets() {
        assert_eq!(subnet_matches("10.1.0.0/16", "10.1.2.3"), Ok(true));
        assert_eq!(subnet_matches("10.1.0.0/16", "10.2.0.0/24"), Ok(false));
        assert_eq!(subnet_matches("10.1.0.0/16", "10.1.7.0/24"), Ok(true));
        assert_eq!(subnet_matches("fd00::/64", "fd00::1"), Ok(true));
        assert_eq!(subnet_matches("10.0.0.0/8", "fd00::1"), Ok(false));
        assert_eq!(subnet_matches("10.0.0.0/8", "nonsense"), Ok(false));
        assert_eq!(
            subnet_matches("10.0.0.0", "10.0.0.1").unwrap_err(),
            "invalid subnet: invalid CIDR address: 10.0.0.0"
        );
        assert_eq!(
            subnet_matches("10.0.0.0/8", "10.0.0.0/33").unwrap_err(),
            "invalid CIDR address: 10.0.0.0/33"
        );
        assert_eq!(subnet_matches("0.0.0.0/0", "1.2.3.4"), Ok(true));
    }
}
