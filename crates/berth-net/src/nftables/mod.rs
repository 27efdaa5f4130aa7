//! nftables over netlink, without the `nft` binary: expressions and berth's ruleset as data
//! (unit-testable), and their encoding into nf_tables transactions.

pub mod expr;
pub mod ruleset;
pub(crate) mod wire;

pub use wire::RuleInfo;
