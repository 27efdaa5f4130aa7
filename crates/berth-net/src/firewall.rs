//! berth's own nftables table: NAT for its networks, isolation between them and published
//! ports. Nothing outside the table is touched, so berth coexists with Docker, Podman and a
//! host firewall.
//!
//! Published ports are kernel DNAT rules, including for the host's own 127.0.0.1: the `output`
//! hook sends locally generated traffic through the same `ports` chain, `route_localnet` on the
//! bridge lets a packet with a 127.0.0.1 source be routed out of it, and the postrouting
//! loopback rule masquerades it to the gateway address so the container can answer. This is
//! Docker's `userland-proxy: false` behaviour: no proxy process or thread per port, no copy
//! of the payload through user space, and the container sees the real client address for
//! outside traffic. A `prerouting_raw` rule drops anything arriving from the bridge for
//! 127.0.0.0/8, closing the hole route_localnet would otherwise open (CVE-2020-8558).
//!
//! The table is of the `inet` family, so one set of chains and tags covers IPv4 and IPv6
//! (rather than an `ip` and an `ip6` table kept in step). berth before IPv6 made an `ip` table
//! of the same name: [`Firewall::init`] deletes it, and [`Firewall::migrated`] tells the
//! caller to publish its running containers' ports again in the new one.

use std::sync::Arc;

use crate::addr::{Ipv4Cidr, Ipv6Cidr};
use crate::blocking;
use crate::error::{Error, Result};
use crate::netlink::socket::{NETLINK_NETFILTER, NetlinkSocket};
use crate::nftables::RuleInfo;
use crate::nftables::ruleset::{
    PortForward, Rule, STATIC_TAG, chains, endpoint_tag, network_rules, network_tag, port_rules,
    static_rules,
};
use crate::nftables::wire::{Batch, list_rules, parse_rule};
use crate::sysctl;

/// The handle on berth's nftables table.
pub struct Firewall {
    table: Arc<str>,
    /// One transaction at a time: each replaces a tag's rules by listing then committing.
    lock: tokio::sync::Mutex<()>,
    /// An `ip` table of an earlier berth was deleted at init.
    migrated: bool,
}

impl Firewall {
    /// The table berthd uses: `table inet berth`.
    pub const DEFAULT_TABLE: &'static str = "berth";

    /// Turns on IPv4 forwarding and creates the table and its chains if missing; rules already
    /// there (from a berthd that was restarted while containers ran) are kept. An `ip` table of
    /// the same name, from a berth before IPv6 support, is deleted.
    pub async fn init(table: &str) -> Result<Self> {
        validate_table_name(table)?;
        let mut firewall = Self {
            table: Arc::from(table),
            lock: tokio::sync::Mutex::new(()),
            migrated: false,
        };
        firewall.migrated = firewall
            .transact(|socket, table| {
                sysctl::enable_ip_forward()?;
                let migrated = delete_table(socket, Batch::legacy_ip(table))?;
                let mut batch = Batch::new(table);
                batch.add_table();
                for chain in chains() {
                    batch.add_chain(&chain);
                }
                commit(socket, batch, "create the nftables table")?;
                replace_tagged(socket, table, STATIC_TAG, &static_rules())?;
                Ok(migrated)
            })
            .await?;
        Ok(firewall)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Whether init replaced an earlier berth's `ip` table: the published ports of running
    /// containers were in it and must be published again.
    pub fn migrated(&self) -> bool {
        self.migrated
    }

    /// Installs (or reinstalls) a bridge network's masquerade, isolation and loopback rules,
    /// and turns on route_localnet for the bridge, which must exist. A dual-stack network
    /// (`subnet6`) also gets its IPv6 masquerade, and turns on IPv6 forwarding.
    pub async fn add_network(
        &self,
        bridge: &str,
        subnet: Ipv4Cidr,
        subnet6: Option<Ipv6Cidr>,
    ) -> Result<()> {
        let bridge = bridge.to_owned();
        self.transact(move |socket, table| {
            sysctl::enable_route_localnet(&bridge)?;
            if subnet6.is_some() {
                sysctl::enable_ipv6_forward()?;
            }
            replace_tagged(
                socket,
                table,
                &network_tag(&bridge),
                &network_rules(&bridge, subnet, subnet6),
            )
        })
        .await
    }

    pub async fn remove_network(&self, bridge: &str) -> Result<()> {
        let tag = network_tag(bridge);
        self.transact(move |socket, table| replace_tagged(socket, table, &tag, &[]))
            .await
    }

    /// Forwards host ports to an endpoint, replacing what it published before. `endpoint`
    /// names the owner (the endpoint's host interface name is unique and fits).
    pub async fn publish(&self, endpoint: &str, forwards: &[PortForward]) -> Result<()> {
        let tag = endpoint_tag(endpoint);
        let rules = port_rules(endpoint, forwards);
        self.transact(move |socket, table| replace_tagged(socket, table, &tag, &rules))
            .await
    }

    /// Removes every port an endpoint published.
    pub async fn unpublish(&self, endpoint: &str) -> Result<()> {
        let tag = endpoint_tag(endpoint);
        self.transact(move |socket, table| replace_tagged(socket, table, &tag, &[]))
            .await
    }

    /// The rules of the table as the kernel lists them.
    pub async fn rules(&self) -> Result<Vec<RuleInfo>> {
        self.transact(list).await
    }

    /// Deletes the whole table (uninstall, tests). A missing table is not an error.
    pub async fn destroy(self) -> Result<()> {
        self.transact(|socket, table| delete_table(socket, Batch::new(table)).map(drop))
            .await
    }

    async fn transact<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut NetlinkSocket, &str) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _serialized = self.lock.lock().await;
        let table = Arc::clone(&self.table);
        blocking::run(move || {
            let mut socket = NetlinkSocket::open(NETLINK_NETFILTER)
                .map_err(|e| Error::io("open a netfilter netlink socket", e))?;
            work(&mut socket, &table)
        })
        .await
    }
}

/// nft's identifier rule, kept to a length that leaves room in kernel messages.
fn validate_table_name(table: &str) -> Result<()> {
    let valid = table.len() <= 64
        && table.starts_with(|c: char| c.is_ascii_alphabetic())
        && table
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "invalid nftables table name {table:?}: a letter, then letters, digits, '_' or '-'"
        )))
    }
}

fn commit(socket: &mut NetlinkSocket, batch: Batch<'_>, op: &str) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    socket.transact(batch.into_messages(), op)?;
    Ok(())
}

/// Deletes the batch's table; false if there was none.
fn delete_table(socket: &mut NetlinkSocket, mut batch: Batch<'_>) -> Result<bool> {
    batch.delete_table();
    match commit(socket, batch, "delete the nftables table") {
        Err(Error::Netlink(e)) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        other => other.map(|()| true),
    }
}

fn list(socket: &mut NetlinkSocket, table: &str) -> Result<Vec<RuleInfo>> {
    let replies = socket.dump(
        list_rules(table),
        &format!("list the rules of table {table}"),
    )?;
    Ok(replies
        .iter()
        .filter_map(|payload| parse_rule(payload))
        .collect())
}

/// Deletes the rules carrying `tag` and appends `rules`, in one transaction.
fn replace_tagged(
    socket: &mut NetlinkSocket,
    table: &str,
    tag: &str,
    rules: &[Rule],
) -> Result<()> {
    let mut batch = Batch::new(table);
    for old in list(socket, table)?
        .iter()
        .filter(|rule| rule.tag.as_deref() == Some(tag))
    {
        batch.delete_rule(&old.chain, old.handle);
    }
    for rule in rules {
        batch.add_rule(rule);
    }
    commit(socket, batch, &format!("replace the rules of {tag:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        for good in ["berth", "berth_test_1234", "b-2"] {
            validate_table_name(good).unwrap();
        }
        for bad in ["", "1berth", "a b", "a;b", &"x".repeat(65)] {
            assert!(validate_table_name(bad).is_err(), "{bad:?}");
        }
    }
}
