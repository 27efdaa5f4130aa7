//! What the v1 devices controller holds after a list of rules: a default verdict and the
//! exceptions to it. The eBPF filter is built from this, so a container sees the same devices
//! on v1 and v2.
//!
//! The v1 controller works like this (`security/device_cgroup.c`): an `a` rule sets the
//! default and drops every exception; a rule that goes against the default adds an exception
//! (merging the access of one with the same type and numbers); a rule that agrees with it takes
//! access away from the exception with exactly the same type and numbers, if there is one. An
//! access is then checked against the exceptions: when the default denies, one exception must
//! grant all of it; when the default allows, any exception that shares part of it denies it.
//!
//! Unlike v1, the list starts from "deny all" (OCI's list is an allowlist; runc does the same),
//! and a rule that would take access from only part of a wider exception, or from narrower
//! ones, is refused: v1 would silently ignore it, leaving access the rule meant to remove.

use std::collections::BTreeMap;

use super::rule::{Access, DeviceKind, DeviceRule};
use crate::error::{Error, Result};

/// The devices an exception covers: a block or character device type, numbers or wildcards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct DeviceMatch {
    pub kind: DeviceKind,
    pub major: Option<u32>,
    pub minor: Option<u32>,
}

impl DeviceMatch {
    /// Whether some device is covered by both.
    fn overlaps(&self, other: &DeviceMatch) -> bool {
        let same = |a: Option<u32>, b: Option<u32>| a.is_none() || b.is_none() || a == b;
        self.kind == other.kind && same(self.major, other.major) && same(self.minor, other.minor)
    }
}

#[derive(Debug)]
pub(crate) struct DevicePolicy {
    pub default_allow: bool,
    /// Each with the access the exception covers; never empty. Sorted, so the same rules
    /// always give the same program.
    pub exceptions: BTreeMap<DeviceMatch, Access>,
}

impl DevicePolicy {
    pub(crate) fn from_rules(rules: &[DeviceRule]) -> Result<Self> {
        let mut policy = DevicePolicy {
            default_allow: false,
            exceptions: BTreeMap::new(),
        };
        for rule in rules {
            policy.apply(rule)?;
        }
        Ok(policy)
    }

    fn apply(&mut self, rule: &DeviceRule) -> Result<()> {
        if rule.kind == DeviceKind::All {
            self.default_allow = rule.allow;
            self.exceptions.clear();
            return Ok(());
        }
        let target = DeviceMatch {
            kind: rule.kind,
            major: rule.major,
            minor: rule.minor,
        };
        if rule.allow != self.default_allow {
            let access = self.exceptions.entry(target).or_default();
            *access = access.with(rule.access);
            return Ok(());
        }
        let partial = self.exceptions.iter().find(|(covered, access)| {
            **covered != target && covered.overlaps(&target) && access.intersects(rule.access)
        });
        if let Some((covered, access)) = partial {
            let other = DeviceRule {
                allow: !rule.allow,
                kind: covered.kind,
                major: covered.major,
                minor: covered.minor,
                access: *access,
            };
            return Err(Error::InvalidResources(format!(
                "device rule {rule} ({}) overlaps the earlier {other} without matching it \
                 exactly; the devices controller cannot take access from part of a rule",
                verdict(rule.allow),
            )));
        }
        if let Some(access) = self.exceptions.get_mut(&target) {
            *access = access.without(rule.access);
            if access.is_empty() {
                self.exceptions.remove(&target);
            }
        }
        Ok(())
    }

    /// The v1 controller's verdict on one access, as a reference for the eBPF program's.
    #[cfg(test)]
    pub(crate) fn permits(&self, kind: DeviceKind, major: u32, minor: u32, access: Access) -> bool {
        let covers = |m: &DeviceMatch| {
            m.kind == kind
                && m.major.is_none_or(|n| n == major)
                && m.minor.is_none_or(|n| n == minor)
        };
        let mut exceptions = self.exceptions.iter().filter(|(m, _)| covers(m));
        if self.default_allow {
            !exceptions.any(|(_, granted)| granted.intersects(access))
        } else {
            exceptions.any(|(_, granted)| access.without(*granted).is_empty())
        }
    }
}

fn verdict(allow: bool) -> &'static str {
    if allow { "allow" } else { "deny" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::rule::tests::rules;
    use serde_json::json;

    fn policy(json: serde_json::Value) -> Result<DevicePolicy> {
        DevicePolicy::from_rules(&rules(json).unwrap())
    }

    fn exception(kind: DeviceKind, major: Option<u32>, minor: Option<u32>) -> DeviceMatch {
        DeviceMatch { kind, major, minor }
    }

    #[test]
    fn an_allowlist_after_deny_all_merges_access() {
        let p = policy(json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "r"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "w"},
            {"allow": true, "type": "c", "major": 136, "access": "rwm"}
        ]))
        .unwrap();
        assert!(!p.default_allow);
        let expected = [
            (
                exception(DeviceKind::Char, Some(1), Some(3)),
                Access::READ.with(Access::WRITE),
            ),
            (exception(DeviceKind::Char, Some(136), None), Access::ALL),
        ];
        assert_eq!(p.exceptions, BTreeMap::from(expected));
        assert!(p.permits(DeviceKind::Char, 1, 3, Access::READ.with(Access::WRITE)));
        assert!(!p.permits(DeviceKind::Char, 1, 3, Access::MKNOD));
        assert!(p.permits(DeviceKind::Char, 136, 7, Access::MKNOD));
        assert!(!p.permits(DeviceKind::Block, 136, 7, Access::READ));
    }

    #[test]
    fn an_a_rule_resets_and_later_rules_take_back_exact_exceptions() {
        let p = policy(json!([
            {"allow": true, "type": "c", "major": 1, "minor": 5},
            {"allow": true, "type": "a"},
            {"allow": false, "type": "b", "major": 8, "minor": 0, "access": "rw"},
            {"allow": true, "type": "b", "major": 8, "minor": 0, "access": "r"}
        ]))
        .unwrap();
        assert!(p.default_allow);
        let expected = [(
            exception(DeviceKind::Block, Some(8), Some(0)),
            Access::WRITE,
        )];
        assert_eq!(p.exceptions, BTreeMap::from(expected));
        // Default allow: an access sharing any part with a deny exception is denied.
        assert!(!p.permits(DeviceKind::Block, 8, 0, Access::READ.with(Access::WRITE)));
        assert!(p.permits(DeviceKind::Block, 8, 0, Access::READ));

        let empty = policy(json!([
            {"allow": true},
            {"allow": false, "type": "c", "major": 1, "minor": 3},
            {"allow": true, "type": "c", "major": 1, "minor": 3}
        ]))
        .unwrap();
        assert!(empty.default_allow && empty.exceptions.is_empty());
    }

    #[test]
    fn without_a_leading_a_rule_the_list_is_an_allowlist() {
        let p = policy(json!([{"allow": true, "type": "c", "major": 1, "minor": 3}])).unwrap();
        assert!(!p.default_allow);
        assert!(!p.permits(DeviceKind::Char, 1, 5, Access::READ));
        assert!(policy(json!([])).unwrap().exceptions.is_empty());
    }

    #[test]
    fn taking_part_of_a_wider_rule_is_refused() {
        for rules in [
            // A hole in a wildcard.
            json!([{"allow": false}, {"allow": true, "type": "c", "major": 1},
                   {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "w"}]),
            // A wildcard over a narrower exception.
            json!([{"allow": true}, {"allow": false, "type": "b", "major": 8, "minor": 0},
                   {"allow": true, "type": "b", "major": 8}]),
        ] {
            let err = policy(rules.clone()).unwrap_err();
            assert!(
                err.to_string().contains("overlaps the earlier"),
                "{rules}: {err}"
            );
        }
        // No shared access, another type, or another number: nothing overlaps.
        policy(
            json!([{"allow": false}, {"allow": true, "type": "c", "major": 1, "access": "r"},
                      {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "w"},
                      {"allow": false, "type": "b", "major": 1, "minor": 3},
                      {"allow": false, "type": "c", "major": 2, "minor": 3}]),
        )
        .unwrap();
    }
}
