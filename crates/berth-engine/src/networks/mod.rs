//! Networks: the predefined `bridge`, `host` and `none`, user-defined bridge networks with
//! their own subnet and embedded DNS, and containers' attachments (in `attach`).

mod attach;
pub mod model;
mod views;

pub use attach::{Mode, mode};
pub use model::{Attachment, Driver, MacvlanParent, Network};

use crate::error::{Error, ErrorKind, Result};
use crate::filters::Filters;
use crate::{Engine, clock, ids};
use berth_net::dns::{DnsConfig, DnsRecords, DnsServer};
use berth_net::ipam::{AddressAllocator, AddressPool};
use berth_net::ipam6::Ipv6Allocator;
use berth_net::{Bridge, Firewall, HostPortAllocator, Ipv4Cidr, Ipv6Cidr, macvlan};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Mutex;

pub const LIST_FILTERS: &[&str] = &["driver", "id", "label", "name", "scope", "type", "dangling"];
pub const PRUNE_FILTERS: &[&str] = &["label", "until"];
const MTU: u32 = 1500;

/// Where berthd's networks live on this host (daemon.json: `bridge`, `bip`,
/// `default-address-pools`).
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// The default bridge's Linux bridge.
    pub bridge: String,
    /// The default bridge's gateway and subnet.
    pub bip: Ipv4Cidr,
    /// Where user-defined networks get their subnets.
    pub pools: Vec<AddressPool>,
}

impl NetworkConfig {
    /// berth's own nftables table; a daemon with another bridge gets another table, so
    /// side-by-side daemons never touch each other's rules.
    pub fn table(&self) -> String {
        if self.bridge == "berth0" {
            "berth".into()
        } else {
            format!("berth_{}", self.bridge)
        }
    }
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            bridge: "berth0".into(),
            // Apart from Docker's 172.17.0.0/16 and Podman's 10.88.0.0/16.
            bip: "10.58.0.1/16".parse().expect("valid constant"),
            pools: vec![AddressPool {
                base: "10.59.0.0/16".parse().expect("valid constant"),
                size: 24,
            }],
        }
    }
}

/// What berthd holds in memory for networking: the firewall, host ports, DNS servers.
#[derive(Default)]
pub struct NetworkRuntime {
    pub(crate) lock: tokio::sync::Mutex<()>,
    firewall: tokio::sync::OnceCell<Firewall>,
    pub(crate) ports: Mutex<HostPortAllocator>,
    dns: Mutex<HashMap<String, (DnsServer, DnsRecords)>>,
}

impl NetworkRuntime {
    pub(crate) fn firewall(&self) -> Result<&Firewall> {
        self.firewall
            .get()
            .ok_or_else(|| Error::internal("networking is not initialized"))
    }

    pub(crate) fn dns_records(&self, network_id: &str) -> Option<DnsRecords> {
        self.dns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(network_id)
            .map(|(_, r)| r.clone())
    }
}

fn predefined(
    name: &str,
    driver: Driver,
    bridge: Option<String>,
    ipam: Option<AddressAllocator>,
) -> Network {
    Network {
        id: ids::new_id(),
        name: name.to_string(),
        driver,
        created: clock::now(),
        bridge,
        ipam,
        internal: false,
        attachable: false,
        labels: Map::new(),
        options: Map::new(),
        predefined: true,
        parent: None,
        ipam6: None,
    }
}

/// A macvlan network's parent: `-o parent=<host interface>` (which must exist), else an
/// internal link of its own, named after the network as Docker names its dummy link.
async fn macvlan_parent(options: &Map<String, Value>, id: &str) -> Result<MacvlanParent> {
    match options
        .get("parent")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
    {
        Some(name) => {
            // An invalid interface name is a missing one.
            if !macvlan::link_exists(name).await.unwrap_or(false) {
                return Err(Error::invalid(format!(
                    "-o parent interface was not found on the host: {name}"
                )));
            }
            Ok(MacvlanParent {
                name: name.to_string(),
                dummy: false,
            })
        }
        None => Ok(MacvlanParent {
            name: format!("dm-{}", &id[..12]),
            dummy: true,
        }),
    }
}

/// The first entry of an IPAM `Config` list of one address family (IPv6 subnets have colons).
fn ipam_config(ipam: &Value, ipv6: bool) -> Value {
    ipam["Config"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["Subnet"].as_str().unwrap_or_default().contains(':') == ipv6)
        .cloned()
        .unwrap_or(Value::Null)
}

/// A field of an IPAM config entry (`Subnet`, `Gateway`, `IPRange`) as a CIDR; an address
/// without a prefix length is a single host (`host_prefix`: 32 or 128).
fn ipam_field<C>(config: &Value, key: &str, host_prefix: u8) -> Result<Option<C>>
where
    C: std::str::FromStr,
    C::Err: std::fmt::Display,
{
    let Some(text) = config[key].as_str().filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let text = if text.contains('/') {
        text.to_string()
    } else {
        format!("{text}/{host_prefix}")
    };
    text.parse::<C>()
        .map(Some)
        .map_err(|e| Error::invalid(format!("invalid {key} {text}: {e}")))
}

/// `fdXX:XXXX:XXXX::/64` with 40 random bits: a unique local subnet (RFC 4193).
fn unique_local_subnet() -> Ipv6Cidr {
    let mut global_id = [0u8; 5];
    getrandom::fill(&mut global_id).expect("the kernel's random source is available");
    let mut bytes = [0u8; 16];
    bytes[0] = 0xfd;
    bytes[1..6].copy_from_slice(&global_id);
    Ipv6Cidr::new(std::net::Ipv6Addr::from(bytes), 64).expect("/64 is a valid prefix")
}

/// Deletes the host links a network owns: its bridge, or its internal macvlan parent.
async fn tear_down(n: &Network) {
    if let Some(bridge) = &n.bridge {
        let _ = Bridge::delete(bridge).await;
    }
    if let Some(parent) = n.parent.as_ref().filter(|p| p.dummy) {
        let _ = macvlan::delete_parent(&parent.name).await;
    }
}

impl Engine {
    pub(crate) fn network_records(&self) -> Result<Vec<Network>> {
        self.db.networks()
    }

    /// A network by full id, name, or unique id prefix; Docker's 404 otherwise.
    pub fn resolve_network(&self, name: &str) -> Result<Network> {
        let all = self.network_records()?;
        if let Some(n) = all.iter().find(|n| n.id == name || n.name == name) {
            return Ok(n.clone());
        }
        let mut matches = all
            .into_iter()
            .filter(|n| !name.is_empty() && n.id.starts_with(name));
        match (matches.next(), matches.next()) {
            (Some(n), None) => Ok(n),
            (Some(_), Some(_)) => Err(Error::invalid(format!("network {name} is ambiguous"))),
            _ => Err(Error::not_found(format!("network {name} not found"))),
        }
    }

    /// Creates the predefined networks, the firewall table, every bridge and DNS server.
    pub(crate) async fn init_networks(&self) -> Result<()> {
        let cfg = &self.config.network;
        let firewall = Firewall::init(&cfg.table()).await?;
        let _ = self.net.firewall.set(firewall);
        let existing = self.network_records()?;
        let has = |name: &str| existing.iter().any(|n| n.name == name && n.predefined);
        if !has("bridge") {
            let ipam = AddressAllocator::new(cfg.bip.network(), Some(cfg.bip.addr()), None)?;
            let n = predefined(
                "bridge",
                Driver::Bridge,
                Some(cfg.bridge.clone()),
                Some(ipam),
            );
            self.db.insert_network(&n.id, &n.name, &n)?;
        }
        if !has("host") {
            let n = predefined("host", Driver::Host, None, None);
            self.db.insert_network(&n.id, &n.name, &n)?;
        }
        if !has("none") {
            let n = predefined("none", Driver::Null, None, None);
            self.db.insert_network(&n.id, &n.name, &n)?;
        }
        for n in self.network_records()? {
            self.bring_up(&n).await?;
        }
        Ok(())
    }

    /// The bridge, its firewall rules and (user networks) its DNS server; a macvlan
    /// network's dummy parent.
    async fn bring_up(&self, n: &Network) -> Result<()> {
        if let Some(parent) = n.parent.as_ref().filter(|p| p.dummy)
            && !macvlan::link_exists(&parent.name).await?
        {
            macvlan::create_internal_parent(&parent.name).await?;
        }
        let (Some(bridge), Some(ipam)) = (&n.bridge, &n.ipam) else {
            return Ok(());
        };
        let ensured = Bridge::ensure(bridge, ipam.gateway_cidr(), MTU).await?;
        if let Some(ipam6) = &n.ipam6 {
            ensured.add_gateway6(ipam6.gateway_cidr()).await?;
        }
        self.net
            .firewall()?
            .add_network(bridge, ipam.subnet(), n.ipam6.as_ref().map(|i| i.subnet()))
            .await?;
        if n.has_dns() {
            let upstreams = berth_net::dns::upstreams_from_resolv_conf(
                &std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
            );
            let records = DnsRecords::default();
            let config = DnsConfig {
                listen: (ipam.gateway(), 53).into(),
                upstreams,
                upstream_timeout: std::time::Duration::from_secs(2),
            };
            let server = DnsServer::start(config, records.clone()).await?;
            self.net
                .dns
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(n.id.clone(), (server, records));
        }
        Ok(())
    }

    /// `POST /networks/create`.
    pub async fn create_network(&self, body: &Value) -> Result<Value> {
        let name = body["Name"].as_str().unwrap_or("");
        if name.is_empty() {
            return Err(Error::invalid("network name cannot be empty"));
        }
        let driver = body["Driver"]
            .as_str()
            .filter(|d| !d.is_empty())
            .unwrap_or("bridge");
        let driver = match driver {
            "bridge" => Driver::Bridge,
            "macvlan" => Driver::Macvlan,
            "host" | "null" => {
                return Err(Error::forbidden(format!(
                    "only one instance of \"{driver}\" network is allowed"
                )));
            }
            other => return Err(Error::not_found(format!("plugin \"{other}\" not found"))),
        };
        let options = body["Options"].as_object().cloned().unwrap_or_default();
        let _guard = self.net.lock.lock().await;
        if self.network_records()?.iter().any(|n| n.name == name) {
            return Err(Error::conflict(format!(
                "network with name {name} already exists"
            )));
        }
        // A macvlan network usually shares the parent's routed LAN subnet.
        let ipam = self
            .network_ipam(&body["IPAM"], driver == Driver::Bridge)
            .await?;
        let ipam6 = self.network_ipam6(body)?;
        let id = ids::new_id();
        let parent = match driver {
            Driver::Macvlan => Some(macvlan_parent(&options, &id).await?),
            _ => None,
        };
        let n = Network {
            bridge: (driver == Driver::Bridge).then(|| format!("br-{}", &id[..12])),
            id,
            name: name.to_string(),
            driver,
            created: clock::now(),
            ipam: Some(ipam),
            ipam6,
            internal: body["Internal"].as_bool().unwrap_or(false),
            attachable: body["Attachable"].as_bool().unwrap_or(false),
            labels: body["Labels"].as_object().cloned().unwrap_or_default(),
            options,
            predefined: false,
            parent,
        };
        self.db.insert_network(&n.id, &n.name, &n)?;
        if let Err(e) = self.bring_up(&n).await {
            self.db.delete_network(&n.id)?;
            tear_down(&n).await;
            return Err(e);
        }
        self.events.emit(
            "network",
            "create",
            &n.id,
            crate::events::attrs(&[("name", &n.name), ("type", n.driver.as_str())]),
        );
        Ok(json!({"Id": n.id, "Warning": ""}))
    }

    /// The subnet of a new network: the one asked for (checked against the others), or the
    /// next free one from the address pools.
    async fn network_ipam(&self, ipam: &Value, avoid_routes: bool) -> Result<AddressAllocator> {
        let config = ipam_config(ipam, false);
        let parse = |key: &str| ipam_field::<Ipv4Cidr>(&config, key, 32);
        let in_use: Vec<Ipv4Cidr> = self
            .network_records()?
            .iter()
            .filter_map(|n| n.ipam.as_ref().map(|i| i.subnet()))
            .collect();
        let routed = if avoid_routes {
            berth_net::routed_subnets().await?
        } else {
            Vec::new()
        };
        let in_use: Vec<Ipv4Cidr> = in_use.into_iter().chain(routed).collect();
        let subnet = match parse("Subnet")? {
            Some(s) => {
                if let Some(clash) = in_use.iter().find(|u| u.overlaps(&s)) {
                    return Err(Error::forbidden(format!(
                        "Pool overlaps with other one on this address space ({clash})"
                    )));
                }
                s
            }
            None => berth_net::ipam::allocate_subnet(&self.config.network.pools, &in_use)
                .map_err(|e| Error::invalid(e.to_string()))?,
        };
        let gateway = parse("Gateway")?.map(|g| g.addr());
        Ok(AddressAllocator::new(
            subnet.network(),
            gateway,
            parse("IPRange")?,
        )?)
    }

    /// The IPv6 addresses of a network created with `EnableIPv6`: its IPv6 subnet (checked
    /// against the other networks'), or a random unique local /64 (RFC 4193) without one.
    fn network_ipam6(&self, body: &Value) -> Result<Option<Ipv6Allocator>> {
        let config = ipam_config(&body["IPAM"], true);
        let enabled = body["EnableIPv6"].as_bool().unwrap_or(false);
        if !enabled {
            if !config.is_null() {
                return Err(Error::invalid(
                    "an IPv6 subnet needs IPv6 enabled on the network (--ipv6)",
                ));
            }
            return Ok(None);
        }
        let parse = |key: &str| ipam_field::<Ipv6Cidr>(&config, key, 128);
        let subnet = match parse("Subnet")? {
            Some(subnet) => subnet,
            None => unique_local_subnet(),
        };
        if let Some(clash) = self
            .network_records()?
            .iter()
            .filter_map(|n| n.ipam6.as_ref().map(|i| i.subnet()))
            .find(|used| used.overlaps(&subnet))
        {
            return Err(Error::forbidden(format!(
                "Pool overlaps with other one on this address space ({clash})"
            )));
        }
        let gateway = parse("Gateway")?.map(|g| g.addr());
        Ipv6Allocator::new(subnet, gateway)
            .map(Some)
            .map_err(|e| Error::invalid(e.to_string()))
    }

    pub fn list_networks(&self, filters: &Filters) -> Result<Vec<Value>> {
        let containers = self.container_records()?;
        let mut out = Vec::new();
        for n in self.network_records()? {
            let in_use = containers
                .iter()
                .any(|c| c.networks.values().any(|a| a.network_id == n.id));
            let kind = if n.predefined { "builtin" } else { "custom" };
            let keep = filters.any("driver", |d| d == n.driver.as_str())
                && filters.any("id", |i| n.id.starts_with(i))
                && filters.any("name", |x| n.name.contains(x))
                && filters.any("scope", |s| s == "local")
                && filters.any("type", |t| t == kind)
                && filters.any("dangling", |d| {
                    (d == "true" || d == "1") == (!in_use && !n.predefined)
                })
                && filters.labels_match(&n.labels);
            if keep {
                out.push(views::network_json(&n, &[]));
            }
        }
        Ok(out)
    }

    /// A container's NetworkSettings (inspect) and its `Ports` (list).
    pub(crate) fn container_network_json(
        &self,
        c: &crate::containers::Container,
    ) -> (Value, Value) {
        let networks = self.network_records().unwrap_or_default();
        let find = |id: &str| networks.iter().find(|n| n.id == id);
        let endpoints: Map<String, Value> = c
            .networks
            .iter()
            .map(|(name, a)| (name.clone(), views::endpoint_json(find(&a.network_id), a)))
            .collect();
        let default = c
            .networks
            .get("bridge")
            .map(|a| views::endpoint_json(find(&a.network_id), a))
            .unwrap_or_else(|| json!({}));
        let field = |k: &str| default.get(k).cloned().unwrap_or(json!(""));
        let sandbox = if c.state.running() {
            format!("/proc/{}/ns/net", c.state.pid)
        } else {
            String::new()
        };
        let settings = json!({
            "Bridge": "", "SandboxID": if c.state.running() { c.id.as_str() } else { "" }, "SandboxKey": sandbox,
            "Ports": views::ports_json(c),
            "HairpinMode": false, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
            "SecondaryIPAddresses": null, "SecondaryIPv6Addresses": null,
            "EndpointID": field("EndpointID"), "Gateway": field("Gateway"),
            "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": field("IPAddress"),
            "IPPrefixLen": default.get("IPPrefixLen").cloned().unwrap_or(json!(0)),
            "IPv6Gateway": "", "MacAddress": field("MacAddress"),
            "Networks": endpoints
        });
        (settings, views::ports_summary(c))
    }

    pub fn inspect_network(&self, name: &str) -> Result<Value> {
        let n = self.resolve_network(name)?;
        let members: Vec<(crate::containers::Container, Attachment)> = self
            .container_records()?
            .into_iter()
            .filter_map(|c| {
                let a = c
                    .networks
                    .values()
                    .find(|a| a.network_id == n.id && a.ip.is_some())?
                    .clone();
                Some((c, a))
            })
            .collect();
        Ok(views::network_json(&n, &members))
    }

    /// `DELETE /networks/{id}`.
    pub async fn remove_network(&self, name: &str) -> Result<()> {
        let n = self.resolve_network(name)?;
        if n.predefined {
            return Err(Error::forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                n.name
            )));
        }
        let _guard = self.net.lock.lock().await;
        let users: Vec<String> = self
            .container_records()?
            .into_iter()
            .filter(|c| c.networks.values().any(|a| a.network_id == n.id))
            .map(|c| c.name)
            .collect();
        if !users.is_empty() {
            return Err(Error::forbidden(format!(
                "error while removing network: network {} id {} has active endpoints ({})",
                n.name,
                n.id,
                users.join(", ")
            )));
        }
        self.db.delete_network(&n.id)?;
        self.net
            .dns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&n.id);
        if let Some(bridge) = &n.bridge {
            self.net.firewall()?.remove_network(bridge).await?;
        }
        tear_down(&n).await;
        self.events.emit(
            "network",
            "destroy",
            &n.id,
            crate::events::attrs(&[("name", &n.name), ("type", n.driver.as_str())]),
        );
        Ok(())
    }

    /// `POST /networks/prune`: user networks no container uses.
    pub async fn prune_networks(&self, filters: &Filters) -> Result<Value> {
        let mut deleted = Vec::new();
        for n in self.network_records()? {
            if n.predefined || !filters.labels_match(&n.labels) {
                continue;
            }
            match self.remove_network(&n.id).await {
                Ok(()) => deleted.push(n.name),
                Err(e) if e.kind == ErrorKind::Forbidden => {}
                Err(e) => return Err(e),
            }
        }
        Ok(json!({"NetworksDeleted": deleted}))
    }
}
