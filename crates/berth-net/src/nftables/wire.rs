//! nf_tables netlink messages: transactions (a batch that the kernel applies all or nothing),
//! and the rule listing that finds a tag's rules.

use serde::Serialize;

use super::ruleset::{Chain, Rule};
use crate::netlink::message::{
    Attrs, MessageBuilder, NLA_F_NESTED, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, parse_str,
};

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_DELTABLE: u16 = 2;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_NEWRULE: u16 = 6;
const NFT_MSG_GETRULE: u16 = 7;
const NFT_MSG_DELRULE: u16 = 8;

const NFTA_TABLE_NAME: u16 = 1;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_CHAIN_HOOK: u16 = 4;
const NFTA_CHAIN_POLICY: u16 = 5;
const NFTA_CHAIN_TYPE: u16 = 7;
const NFTA_HOOK_HOOKNUM: u16 = 1;
const NFTA_HOOK_PRIORITY: u16 = 2;
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_HANDLE: u16 = 3;
const NFTA_RULE_EXPRESSIONS: u16 = 4;
const NFTA_RULE_USERDATA: u16 = 7;
const NFTA_EXPR_NAME: u16 = 1;
/// libnftnl's user-data TLV type for a rule comment, so `nft list ruleset` shows the tag.
const NFTNL_UDATA_RULE_COMMENT: u8 = 0;
const NF_ACCEPT: u32 = 1;
/// berth's table: IPv4 and IPv6 in one.
const NFPROTO_INET: u8 = 1;
/// The family of the `ip` tables berth used before it handled IPv6.
const NFPROTO_IPV4: u8 = 2;

fn nft_type(message: u16) -> u16 {
    (NFNL_SUBSYS_NFTABLES << 8) | message
}

/// `struct nfgenmsg`: the table family, and the resource id (0).
fn nfgenmsg(family: u8, res_id: u16) -> [u8; 4] {
    let id = res_id.to_be_bytes();
    [family, 0, id[0], id[1]]
}

/// The operations of one transaction on one table (an `inet` one unless said otherwise).
pub(crate) struct Batch<'a> {
    table: &'a str,
    family: u8,
    messages: Vec<MessageBuilder>,
}

impl<'a> Batch<'a> {
    pub(crate) fn new(table: &'a str) -> Self {
        Self {
            table,
            family: NFPROTO_INET,
            messages: Vec::new(),
        }
    }

    /// A transaction on the `ip` table of the same name that earlier berth versions made.
    pub(crate) fn legacy_ip(table: &'a str) -> Self {
        Self {
            family: NFPROTO_IPV4,
            ..Self::new(table)
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    fn message(&mut self, message: u16, flags: u16) -> &mut MessageBuilder {
        let mut msg = MessageBuilder::new(nft_type(message), flags | NLM_F_ACK);
        msg.fixed(&nfgenmsg(self.family, 0));
        self.messages.push(msg);
        self.messages.last_mut().expect("just pushed")
    }

    /// Creates the table unless it exists.
    pub(crate) fn add_table(&mut self) {
        let table = self.table;
        self.message(NFT_MSG_NEWTABLE, NLM_F_CREATE)
            .attr_str(NFTA_TABLE_NAME, table);
    }

    pub(crate) fn delete_table(&mut self) {
        let table = self.table;
        self.message(NFT_MSG_DELTABLE, 0)
            .attr_str(NFTA_TABLE_NAME, table);
    }

    /// Creates the chain unless it exists (a base chain's hook must then be the same).
    pub(crate) fn add_chain(&mut self, chain: &Chain) {
        let table = self.table;
        let msg = self.message(NFT_MSG_NEWCHAIN, NLM_F_CREATE);
        msg.attr_str(NFTA_CHAIN_TABLE, table)
            .attr_str(NFTA_CHAIN_NAME, chain.name);
        if let Some((chain_type, hook, priority)) = chain.base {
            let nest = msg.begin_nested(NFTA_CHAIN_HOOK | NLA_F_NESTED);
            msg.attr_u32_be(NFTA_HOOK_HOOKNUM, hook as u32)
                .attr_u32_be(NFTA_HOOK_PRIORITY, priority as u32);
            msg.end_nested(nest);
            msg.attr_u32_be(NFTA_CHAIN_POLICY, NF_ACCEPT)
                .attr_str(NFTA_CHAIN_TYPE, chain_type.as_str());
        }
    }

    /// Appends the rule at the end of its chain.
    pub(crate) fn add_rule(&mut self, rule: &Rule) {
        let table = self.table;
        let msg = self.message(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
        msg.attr_str(NFTA_RULE_TABLE, table)
            .attr_str(NFTA_RULE_CHAIN, rule.chain);
        let list = msg.begin_nested(NFTA_RULE_EXPRESSIONS | NLA_F_NESTED);
        for expr in &rule.exprs {
            expr.encode(msg);
        }
        msg.end_nested(list);
        msg.attr(NFTA_RULE_USERDATA, &comment_userdata(&rule.tag));
    }

    pub(crate) fn delete_rule(&mut self, chain: &str, handle: u64) {
        let table = self.table;
        self.message(NFT_MSG_DELRULE, 0)
            .attr_str(NFTA_RULE_TABLE, table)
            .attr_str(NFTA_RULE_CHAIN, chain)
            .attr_u64_be(NFTA_RULE_HANDLE, handle);
    }

    /// The datagram's messages: begin marker, operations, end marker.
    pub(crate) fn into_messages(self) -> Vec<MessageBuilder> {
        let marker = |message_type| {
            let mut msg = MessageBuilder::new(message_type, 0);
            msg.fixed(&nfgenmsg(libc::AF_UNSPEC as u8, NFNL_SUBSYS_NFTABLES));
            msg
        };
        let mut all = Vec::with_capacity(self.messages.len() + 2);
        all.push(marker(NFNL_MSG_BATCH_BEGIN));
        all.extend(self.messages);
        all.push(marker(NFNL_MSG_BATCH_END));
        all
    }
}

/// A comment as libnftnl stores it: type, length, NUL-terminated text.
fn comment_userdata(comment: &str) -> Vec<u8> {
    let text = &comment.as_bytes()[..comment.len().min(254)];
    let mut data = vec![NFTNL_UDATA_RULE_COMMENT, (text.len() + 1) as u8];
    data.extend_from_slice(text);
    data.push(0);
    data
}

fn parse_comment(mut userdata: &[u8]) -> Option<String> {
    while let [kind, len, rest @ ..] = userdata {
        let value = rest.get(..usize::from(*len))?;
        if *kind == NFTNL_UDATA_RULE_COMMENT {
            return Some(parse_str(value));
        }
        userdata = &rest[usize::from(*len)..];
    }
    None
}

/// A dump request for every rule of the table.
pub(crate) fn list_rules(table: &str) -> MessageBuilder {
    let mut msg = MessageBuilder::new(nft_type(NFT_MSG_GETRULE), 0);
    msg.fixed(&nfgenmsg(NFPROTO_INET, 0))
        .attr_str(NFTA_RULE_TABLE, table);
    msg
}

/// A rule as the kernel lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    pub chain: String,
    pub handle: u64,
    /// The owner tag berth put in the rule's comment.
    pub tag: Option<String>,
    /// The expression names, in order (`["payload", "cmp", ..., "masq"]`).
    pub expressions: Vec<String>,
}

/// Reads one NEWRULE message of a dump.
pub(crate) fn parse_rule(payload: &[u8]) -> Option<RuleInfo> {
    let attrs = Attrs::new(payload.get(4..)?);
    let handle = u64::from_be_bytes(attrs.find(NFTA_RULE_HANDLE)?.try_into().ok()?);
    let expressions = attrs
        .find(NFTA_RULE_EXPRESSIONS)
        .map(|list| {
            Attrs::new(list)
                .filter_map(|(_, elem)| Attrs::new(elem).find(NFTA_EXPR_NAME).map(parse_str))
                .collect()
        })
        .unwrap_or_default();
    Some(RuleInfo {
        chain: parse_str(attrs.find(NFTA_RULE_CHAIN)?),
        handle,
        tag: attrs.find(NFTA_RULE_USERDATA).and_then(parse_comment),
        expressions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::message::Messages;
    use crate::nftables::ruleset::{POSTROUTING, network_rules};

    #[test]
    fn comments_round_trip() {
        let data = comment_userdata("berth network br0");
        assert_eq!(data[0], 0);
        assert_eq!(usize::from(data[1]), "berth network br0".len() + 1);
        assert_eq!(parse_comment(&data).as_deref(), Some("berth network br0"));
        assert_eq!(parse_comment(&[0, 9, b'x']), None);
    }

    #[test]
    fn batch_is_framed_by_begin_and_end_markers() {
        let mut batch = Batch::new("berth_unit");
        batch.add_table();
        let messages = batch.into_messages();
        let types: Vec<_> = messages.iter().map(|m| m.message_type()).collect();
        assert_eq!(types, [0x10, (10 << 8), 0x11]);
        assert_eq!(messages[0].flags() & NLM_F_ACK, 0);
        assert_ne!(messages[1].flags() & NLM_F_ACK, 0);
    }

    #[test]
    fn a_rule_as_listed_parses_back() {
        // A NEWRULE message built by the batch has the layout of a dumped one, handle aside.
        let rule = &network_rules("br0", "10.7.0.0/24".parse().unwrap(), None)[0];
        let mut batch = Batch::new("t");
        batch.add_rule(rule);
        let mut message = batch.messages.remove(0);
        message.attr_u64_be(NFTA_RULE_HANDLE, 42);
        let bytes = message.finish(1);
        let (_, payload) = Messages::new(&bytes).next().unwrap().unwrap();
        let info = parse_rule(payload).unwrap();
        assert_eq!(info.chain, POSTROUTING);
        assert_eq!(info.handle, 42);
        assert_eq!(info.tag.as_deref(), Some("berth network br0"));
        assert_eq!(
            info.expressions,
            [
                "meta", "cmp", "payload", "bitwise", "cmp", "meta", "cmp", "masq"
            ]
        );
    }

    #[test]
    fn tables_are_inet_and_the_legacy_one_is_ip() {
        let family = |batch: Batch<'_>| batch.messages[0].payload()[0];
        let mut batch = Batch::new("t");
        batch.add_table();
        assert_eq!(family(batch), NFPROTO_INET);
        let mut legacy = Batch::legacy_ip("t");
        legacy.delete_table();
        assert_eq!(family(legacy), NFPROTO_IPV4);
        assert_eq!(list_rules("t").payload()[0], NFPROTO_INET);
    }
}
