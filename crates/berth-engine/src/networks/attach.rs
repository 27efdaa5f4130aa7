//! A container on its networks: attachments chosen at create, addresses taken before the
//! container is launched (its /etc/hosts needs them), veth pairs, published ports and DNS
//! names once its network namespace exists, and all of it given back when it exits.

use super::model::{Attachment, Network};
use crate::containers::Container;
use crate::error::{Error, Result};
use crate::{Engine, ids};
use berth_net::container_side::ContainerInterface;
use berth_net::port_spec::{PortRange, PortRequest, Protocol};
use berth_net::{Bridge, PortForward};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// How a container is networked, from HostConfig.NetworkMode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Own network namespace on the named networks (`bridge`, a user network, `none`).
    Networks,
    /// The host's network namespace.
    Host,
    /// Another container's network namespace.
    Container(String),
}

pub fn mode(host_config: &Value) -> Mode {
    match host_config["NetworkMode"].as_str().unwrap_or("bridge") {
        "host" => Mode::Host,
        m => match m.strip_prefix("container:") {
            Some(other) => Mode::Container(other.to_string()),
            None => Mode::Networks,
        },
    }
}

/// A `--mac-address`: a unicast Ethernet address, as text the way it is shown.
fn requested_mac(text: &str) -> Result<String> {
    let mac: berth_net::MacAddr = text
        .parse()
        .map_err(|_| Error::invalid(format!("invalid MAC address: {text}")))?;
    if mac.octets()[0] & 1 == 1 {
        return Err(Error::invalid(format!(
            "invalid MAC address: {text} is a multicast address"
        )));
    }
    Ok(mac.to_string())
}

/// `PortBindings` (and, with `PublishAllPorts`, every exposed port) as port requests.
fn port_requests(c: &Container) -> Result<Vec<PortRequest>> {
    let mut requests = Vec::new();
    let mut add = |key: &str, host_ip: &str, host_port: &str| -> Result<()> {
        let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        let bad = || Error::invalid(format!("invalid port specification: \"{key}\""));
        let container_port: u16 = port.parse().map_err(|_| bad())?;
        let protocol: Protocol = proto.parse().map_err(|_| bad())?;
        let host_ports = match host_port {
            "" | "0" => None,
            p => {
                let (a, b) = p.split_once('-').unwrap_or((p, p));
                let bad = || Error::invalid(format!("invalid host port: \"{p}\""));
                Some(PortRange {
                    start: a.parse().map_err(|_| bad())?,
                    end: b.parse().map_err(|_| bad())?,
                })
            }
        };
        // No address: both families. `0.0.0.0` and `::` are each their own family only.
        let host_ip = match host_ip {
            "" => None,
            ip => Some(
                ip.parse::<IpAddr>()
                    .map_err(|_| Error::invalid(format!("invalid host IP: \"{ip}\"")))?,
            ),
        };
        requests.push(PortRequest {
            host_ip,
            host_ports,
            container_port,
            protocol,
        });
        Ok(())
    };
    let bindings = c.host_config["PortBindings"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (key, list) in &bindings {
        for b in list.as_array().into_iter().flatten() {
            add(
                key,
                b["HostIp"].as_str().unwrap_or(""),
                b["HostPort"].as_str().unwrap_or(""),
            )?;
        }
        if list.as_array().is_none_or(|l| l.is_empty()) {
            add(key, "", "")?;
        }
    }
    if c.host_config["PublishAllPorts"].as_bool().unwrap_or(false) {
        for key in c.config["ExposedPorts"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys())
        {
            if !bindings.contains_key(key) {
                add(key, "", "")?;
            }
        }
    }
    Ok(requests)
}

impl Engine {
    /// At create: the networks the container joins, from NetworkMode and NetworkingConfig.
    pub(crate) fn initial_attachments(
        &self,
        host_config: &Value,
        networking: &Value,
    ) -> Result<BTreeMap<String, Attachment>> {
        let mut out = BTreeMap::new();
        match mode(host_config) {
            Mode::Container(other) => {
                self.resolve_container(&other)?;
                return Ok(out);
            }
            Mode::Host => {
                let n = self.resolve_network("host")?;
                out.insert(
                    n.name.clone(),
                    Attachment {
                        network_id: n.id,
                        endpoint_id: ids::new_id(),
                        ..Default::default()
                    },
                );
                return Ok(out);
            }
            Mode::Networks => {}
        }
        let name = host_config["NetworkMode"].as_str().unwrap_or("bridge");
        let n = self.resolve_network(name)?;
        // The client may key the settings by the network's name, by what it asked for, or
        // (the docker CLI, without --network) by "default".
        let configs = &networking["EndpointsConfig"];
        let endpoint = [n.name.as_str(), name, "default"]
            .into_iter()
            .map(|key| &configs[key])
            .find(|e| !e.is_null())
            .unwrap_or(&Value::Null);
        let aliases = endpoint["Aliases"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        let requested_ip = endpoint["IPAMConfig"]["IPv4Address"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        if requested_ip.is_some() && n.predefined {
            return Err(Error::invalid(
                "user specified IP address is supported on user defined networks only",
            ));
        }
        let requested_ip6 = endpoint["IPAMConfig"]["IPv6Address"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        if requested_ip6.is_some() && n.ipam6.is_none() {
            return Err(Error::invalid(format!(
                "network {} has no IPv6 subnet for --ip6: create it with --ipv6",
                n.name
            )));
        }
        let requested_mac = endpoint["MacAddress"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(requested_mac)
            .transpose()?;
        out.insert(
            n.name.clone(),
            Attachment {
                network_id: n.id,
                aliases,
                requested_ip,
                requested_ip6,
                requested_mac,
                endpoint_id: ids::new_id(),
                ..Default::default()
            },
        );
        Ok(out)
    }

    fn network_by_id(&self, id: &str) -> Result<Network> {
        self.db
            .network(id)?
            .ok_or_else(|| Error::not_found(format!("network {id} not found")))
    }

    /// Before launch: an address on every bridge network (kept in the network's record).
    pub(crate) async fn allocate_addresses(&self, c: &mut Container) -> Result<()> {
        let _guard = self.net.lock.lock().await;
        for a in c.networks.values_mut().filter(|a| a.ip.is_none()) {
            let mut n = self.network_by_id(&a.network_id)?;
            let Some(ipam) = n.ipam.as_mut() else {
                continue;
            };
            let ip = match &a.requested_ip {
                Some(ip) => ipam.request(
                    ip.parse()
                        .map_err(|_| Error::invalid(format!("invalid IP address {ip}")))?,
                )?,
                None => ipam.allocate()?,
            };
            if let Some(ipam6) = n.ipam6.as_mut() {
                let ip6 = match &a.requested_ip6 {
                    Some(ip) => ipam6.request(
                        ip.parse()
                            .map_err(|_| Error::invalid(format!("invalid IPv6 address {ip}")))?,
                    ),
                    None => ipam6.allocate(),
                };
                let ip6 = ip6.map_err(|e| {
                    ipam.release(ip);
                    Error::invalid(e.to_string())
                })?;
                a.ip6 = Some(ip6.to_string());
            }
            self.db.update_network(&n.id, &n)?;
            a.ip = Some(ip.to_string());
        }
        Ok(())
    }

    /// After launch: a veth pair per bridge network into the container's namespace, the
    /// published ports and DNS names. Returns what the container side must configure.
    pub(crate) async fn attach_endpoints(
        &self,
        c: &mut Container,
        init_pid: i32,
    ) -> Result<Vec<ContainerInterface>> {
        let netns =
            berth_net::open_netns(std::path::Path::new(&format!("/proc/{init_pid}/ns/net")))?;
        let requests = port_requests(c)?;
        let mut interfaces = Vec::new();
        let attached = c.networks.values().filter(|a| a.endpoint.is_some()).count();
        let names: Vec<String> = c
            .networks
            .iter()
            .filter(|(_, a)| a.endpoint.is_none())
            .map(|(n, _)| n.clone())
            .collect();
        for (offset, name) in names.iter().enumerate() {
            let index = attached + offset;
            let n = self.network_by_id(&c.networks[name].network_id)?;
            let Some(ipam) = &n.ipam else {
                continue;
            };
            let a = c.networks.get_mut(name).expect("listed above");
            if n.bridge.is_none() && n.parent.is_none() {
                continue;
            }
            let ip: Ipv4Addr =
                a.ip.as_deref()
                    .unwrap_or_default()
                    .parse()
                    .map_err(|_| Error::internal("no address allocated"))?;
            let ip6: Option<Ipv6Addr> = match (&n.ipam6, a.ip6.as_deref()) {
                (Some(_), Some(ip6)) => Some(
                    ip6.parse()
                        .map_err(|_| Error::internal("bad IPv6 address allocated"))?,
                ),
                _ => None,
            };
            use std::os::fd::AsFd;
            let mac = a
                .requested_mac
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|e| Error::invalid(format!("{e}")))?;
            // Host ports first: a request the container cannot have (an IPv6 host address
            // without an IPv6 address) or a taken port fails before anything is plugged in.
            let forwards = if index == 0 && !requests.is_empty() {
                self.reserve_ports(&requests, ip, ip6)?
            } else {
                Vec::new()
            };
            let plugged = match (&n.bridge, &n.parent) {
                (Some(bridge_name), _) => {
                    match Bridge::ensure(bridge_name, ipam.gateway_cidr(), super::MTU).await {
                        Ok(bridge) => berth_net::attach(&bridge, netns.as_fd(), ip, mac).await,
                        Err(e) => Err(e),
                    }
                }
                (None, Some(parent)) => {
                    berth_net::macvlan::attach_macvlan(
                        &parent.name,
                        netns.as_fd(),
                        ipam.gateway_cidr(),
                        ip,
                        Some(ipam.gateway()),
                        mac,
                    )
                    .await
                }
                (None, None) => unreachable!("skipped above"),
            };
            let mut endpoint = match plugged {
                Ok(endpoint) => endpoint,
                Err(e) => {
                    self.release_ports(&forwards);
                    return Err(e.into());
                }
            };
            endpoint.container.name = format!("eth{index}");
            if let (Some(ipam6), Some(ip6)) = (&n.ipam6, ip6) {
                endpoint.container.addresses6 = vec![ipam6.subnet().with_addr(ip6)];
                endpoint.container.gateway6 = Some(ipam6.gateway());
            }
            if index > 0 || n.internal {
                endpoint.container.gateway = None;
                endpoint.container.gateway6 = None;
            }
            if !forwards.is_empty() {
                let published = match self.net.firewall() {
                    Ok(firewall) => firewall.publish(&endpoint.host_ifname, &forwards).await,
                    Err(e) => {
                        self.release_ports(&forwards);
                        return Err(e);
                    }
                };
                if let Err(e) = published {
                    self.release_ports(&forwards);
                    let _ = berth_net::detach(&endpoint).await;
                    return Err(e.into());
                }
                self.serve_ipv6_loopback(&c.id, &forwards);
                a.ports = forwards;
            }
            interfaces.push(endpoint.container.clone());
            a.endpoint = Some(endpoint);
            self.register_in_dns(c, name, ip);
        }
        Ok(interfaces)
    }

    /// Host ports for every request: IPv4 forwards to `ip`, IPv6 ones to `ip6` (see
    /// `HostPortAllocator::reserve`). All or nothing.
    fn reserve_ports(
        &self,
        requests: &[PortRequest],
        ip: Ipv4Addr,
        ip6: Option<Ipv6Addr>,
    ) -> Result<Vec<PortForward>> {
        let mut ports = self.net.ports.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<PortForward> = Vec::new();
        for r in requests {
            match ports.reserve(r, ip, ip6) {
                Ok(forwards) => out.extend(forwards),
                Err(e) => {
                    out.iter().for_each(|f| ports.release(f));
                    return Err(match e {
                        berth_net::Error::InvalidArgument(_) => Error::invalid(e.to_string()),
                        e => Error::internal(format!(
                            "driver failed programming external connectivity: {e}"
                        )),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Holds the host ports of forwards made before berthd restarted.
    fn hold_ports(&self, container: &str, forwards: &[PortForward]) {
        let mut ports = self.net.ports.lock().unwrap_or_else(|p| p.into_inner());
        for f in forwards {
            if let Err(e) = ports.hold(f) {
                tracing::warn!(%container, error = %e, "could not hold published port again");
            }
        }
        drop(ports);
        self.serve_ipv6_loopback(container, forwards);
    }

    /// The host's `[::1]` for the forwards that cover it (a relay: no DNAT can serve it).
    fn serve_ipv6_loopback(&self, container: &str, forwards: &[PortForward]) {
        let mut ports = self.net.ports.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = ports.serve_ipv6_loopback(forwards) {
            tracing::warn!(%container, error = %e, "could not serve a published port on [::1]");
        }
    }

    fn release_ports(&self, forwards: &[PortForward]) {
        let mut ports = self.net.ports.lock().unwrap_or_else(|p| p.into_inner());
        forwards.iter().for_each(|f| ports.release(f));
    }

    /// At exit, or when a start fails: veths, ports, DNS names and addresses go back. The
    /// veth pairs are deleted in the background: the kernel takes 10-20 ms to tear one down
    /// (RCU grace periods), which `run --rm` would otherwise wait for, and a container that
    /// has exited has no use for them. (Their names are random and their addresses are not
    /// handed out again soon, so nothing new collides with them meanwhile.)
    pub(crate) async fn release_endpoints(&self, c: &mut Container) {
        let _guard = self.net.lock.lock().await;
        for a in c.networks.values_mut() {
            self.release_attachment(a, VethDeletion::Background).await;
        }
    }

    async fn release_attachment(&self, a: &mut Attachment, deletion: VethDeletion) {
        if let Some(endpoint) = a.endpoint.take() {
            if !a.ports.is_empty()
                && let Ok(fw) = self.net.firewall()
            {
                let _ = fw.unpublish(&endpoint.host_ifname).await;
            }
            match deletion {
                VethDeletion::Now => {
                    let _ = berth_net::detach(&endpoint).await;
                }
                VethDeletion::Background => {
                    tokio::spawn(async move {
                        if let Err(e) = berth_net::detach(&endpoint).await {
                            tracing::warn!(veth = %endpoint.host_ifname, error = %e, "could not delete a veth pair");
                        }
                    });
                }
            }
        }
        let mut ports = self.net.ports.lock().unwrap_or_else(|p| p.into_inner());
        a.ports.drain(..).for_each(|f| ports.release(&f));
        drop(ports);
        let Some(ip) = a.ip.take() else { return };
        let ip: Ipv4Addr = ip.parse().unwrap_or(Ipv4Addr::UNSPECIFIED);
        if let Some(records) = self.net.dns_records(&a.network_id) {
            records.remove(ip);
        }
        if let Ok(mut n) = self.network_by_id(&a.network_id)
            && let Some(ipam) = n.ipam.as_mut()
        {
            ipam.release(ip);
            if let (Some(ipam6), Some(ip6)) = (
                n.ipam6.as_mut(),
                a.ip6.take().and_then(|ip6| ip6.parse().ok()),
            ) {
                ipam6.release(ip6);
            }
            let _ = self.db.update_network(&n.id, &n);
        }
    }

    /// `POST /networks/{id}/connect`: joins a container to a network, at once when it runs.
    pub async fn connect_network(
        &self,
        network: &str,
        container: &str,
        endpoint_config: &serde_json::Value,
    ) -> Result<()> {
        let n = self.resolve_network(network)?;
        if !matches!(n.driver, super::Driver::Bridge | super::Driver::Macvlan) {
            return Err(Error::forbidden(
                "container cannot be disconnected from host network or connected to host network",
            ));
        }
        let id = self.resolve_container(container)?;
        let live = self.live.get(&id);
        let _guard = live.lock.lock().await;
        let mut c = self.container_record(&id)?;
        if mode(&c.host_config) != Mode::Networks
            || c.networks.values().any(|a| {
                self.network_by_id(&a.network_id).is_ok_and(|n| {
                    !matches!(n.driver, super::Driver::Bridge | super::Driver::Macvlan)
                })
            })
        {
            return Err(Error::forbidden(
                "container sharing network namespace with another container or host cannot be connected to any other network",
            ));
        }
        if c.networks.contains_key(&n.name) {
            return Err(Error::forbidden(format!(
                "endpoint with name {} already exists in network {}",
                c.name, n.name
            )));
        }
        let aliases = endpoint_config["Aliases"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        let requested_ip = endpoint_config["IPAMConfig"]["IPv4Address"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        c.networks.insert(
            n.name.clone(),
            Attachment {
                network_id: n.id.clone(),
                aliases,
                requested_ip,
                endpoint_id: ids::new_id(),
                ..Default::default()
            },
        );
        if c.state.running() {
            self.allocate_addresses(&mut c).await?;
            let pid = c.state.pid;
            let interfaces = self.attach_endpoints(&mut c, pid).await?;
            self.configure_container_network(&c, interfaces).await?;
        }
        self.db.update_container(&c.id, &c)?;
        self.events.emit(
            "network",
            "connect",
            &n.id,
            crate::events::attrs(&[
                ("container", &c.id),
                ("name", &n.name),
                ("type", n.driver.as_str()),
            ]),
        );
        Ok(())
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn disconnect_network(&self, network: &str, container: &str) -> Result<()> {
        let n = self.resolve_network(network)?;
        let id = self.resolve_container(container)?;
        let live = self.live.get(&id);
        let _guard = live.lock.lock().await;
        let mut c = self.container_record(&id)?;
        let Some(mut a) = c.networks.remove(&n.name) else {
            return Err(Error::forbidden(format!(
                "container {} is not connected to network {}",
                c.id, n.name
            )));
        };
        // A macvlan link has no host end: the shim deletes it inside the namespace.
        if let (super::Driver::Macvlan, true, Some(endpoint)) =
            (n.driver, c.state.running(), &a.endpoint)
        {
            let request = berth_shim_proto::Request::RemoveInterface {
                name: endpoint.container.name.clone(),
            };
            crate::shim::request(&self.exec_dir(&c.id), request).await?;
        }
        {
            let _net = self.net.lock.lock().await;
            // Disconnected means disconnected when the answer comes.
            self.release_attachment(&mut a, VethDeletion::Now).await;
        }
        self.db.update_container(&c.id, &c)?;
        self.events.emit(
            "network",
            "disconnect",
            &n.id,
            crate::events::attrs(&[
                ("container", &c.id),
                ("name", &n.name),
                ("type", n.driver.as_str()),
            ]),
        );
        Ok(())
    }

    /// After a berthd restart: running containers keep their host ports and DNS names, and
    /// their published ports are put in the firewall table again when it was just migrated
    /// from an earlier berth's `ip` table.
    pub(crate) async fn readopt_endpoints(&self) -> Result<()> {
        let republish = self.net.firewall()?.migrated();
        for c in self.container_records()? {
            if !c.state.running() {
                continue;
            }
            for (name, a) in &c.networks {
                self.hold_ports(&c.id, &a.ports);
                if republish
                    && !a.ports.is_empty()
                    && let Some(endpoint) = &a.endpoint
                    && let Err(e) = self
                        .net
                        .firewall()?
                        .publish(&endpoint.host_ifname, &a.ports)
                        .await
                {
                    tracing::warn!(container = %c.id, error = %e, "could not publish ports again");
                }
                if let Some(ip) = a.ip.as_deref().and_then(|ip| ip.parse().ok()) {
                    self.register_in_dns(&c, name, ip);
                }
            }
        }
        Ok(())
    }

    /// Has the shim configure the container's side of its networks (and `lo`): a short-lived
    /// child of the shim joins the namespace, so berthd never calls setns.
    pub(crate) async fn configure_container_network(
        &self,
        c: &Container,
        interfaces: Vec<ContainerInterface>,
    ) -> Result<()> {
        if mode(&c.host_config) != Mode::Networks {
            return Ok(());
        }
        let request = berth_shim_proto::Request::Network { interfaces };
        crate::shim::request(&self.exec_dir(&c.id), request)
            .await
            .map(drop)
    }

    /// Tells the DNS server of the container's network `network` (if it has one) about its
    /// address `ip` there: its name, short id, hostname and aliases, and its `--dns` servers
    /// as its own upstreams.
    fn register_in_dns(&self, c: &Container, network: &str, ip: Ipv4Addr) {
        let a = &c.networks[network];
        let Some(records) = self.net.dns_records(&a.network_id) else {
            return;
        };
        let hostname = c.config["Hostname"].as_str().unwrap_or("").to_string();
        records.insert(
            ip,
            std::iter::once(c.name.clone())
                .chain([c.id[..12].to_string(), hostname])
                .chain(a.aliases.iter().cloned()),
        );
        let servers = c.host_config["Dns"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str()?.parse::<IpAddr>().ok())
            .map(|ip| std::net::SocketAddr::new(ip, 53))
            .collect();
        records.set_upstreams(ip, servers);
        records.set_ipv6(ip, a.ip6.as_deref().and_then(|ip6| ip6.parse().ok()));
    }

    /// What `--add-host name:host-gateway` names: the default bridge's gateway, as in Docker.
    pub(crate) fn host_gateway(&self) -> Option<IpAddr> {
        let bridge = self.resolve_network("bridge").ok()?;
        bridge.ipam.as_ref().map(|ipam| IpAddr::V4(ipam.gateway()))
    }

    /// The DNS server containers on a user network use: its gateway (None elsewhere).
    pub(crate) fn embedded_dns(&self, c: &Container) -> Option<Ipv4Addr> {
        let a = c.networks.values().next()?;
        let n = self.network_by_id(&a.network_id).ok()?;
        n.has_dns()
            .then(|| n.ipam.as_ref().map(|i| i.gateway()))
            .flatten()
    }

    /// Whether the container's first network is a bridge (it gets an address in /etc/hosts).
    pub(crate) fn primary_address(&self, c: &Container) -> Option<String> {
        c.networks.values().find_map(|a| a.ip.clone())
    }
}

/// When a released endpoint's veth pair is deleted.
#[derive(Debug, Clone, Copy)]
enum VethDeletion {
    /// Before the release returns.
    Now,
    /// In a task of its own.
    Background,
}
