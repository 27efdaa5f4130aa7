//! One `resources.devices` entry, checked once for both enforcers (the v1 devices controller
//! and the v2 eBPF filter).

use std::fmt;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::error::{Error, Result};

/// Which devices a rule names. `All` is the v1 controller's `a`: whatever its numbers and
/// access, it resets the cgroup to allow or deny everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum DeviceKind {
    All,
    Block,
    Char,
}

/// A set of device accesses. The bits are the kernel's `BPF_DEVCG_ACC_*` values, which the
/// eBPF program compares against directly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Access(u8);

impl Access {
    pub(crate) const MKNOD: Access = Access(1);
    pub(crate) const READ: Access = Access(2);
    pub(crate) const WRITE: Access = Access(4);
    pub(crate) const ALL: Access = Access(7);

    /// `r`, `w` and `m` in any order; `None` for anything else or an empty string.
    fn parse(text: &str) -> Option<Access> {
        let mut access = Access::default();
        for letter in text.chars() {
            access = access.with(match letter {
                'r' => Access::READ,
                'w' => Access::WRITE,
                'm' => Access::MKNOD,
                _ => return None,
            });
        }
        (!access.is_empty()).then_some(access)
    }

    pub(crate) fn bits(self) -> u8 {
        self.0
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub(crate) fn with(self, other: Access) -> Access {
        Access(self.0 | other.0)
    }

    pub(crate) fn without(self, other: Access) -> Access {
        Access(self.0 & !other.0)
    }

    pub(crate) fn intersects(self, other: Access) -> bool {
        self.0 & other.0 != 0
    }
}

/// As the devices controller spells it: `rwm`, in that order.
impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (bit, letter) in [
            (Access::READ, 'r'),
            (Access::WRITE, 'w'),
            (Access::MKNOD, 'm'),
        ] {
            if self.intersects(bit) {
                write!(f, "{letter}")?;
            }
        }
        Ok(())
    }
}

/// A checked device rule; `None` numbers are wildcards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeviceRule {
    pub allow: bool,
    pub kind: DeviceKind,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: Access,
}

impl DeviceRule {
    /// Checks an OCI rule: the type defaults to `a` and the access to `rwm`, as in the OCI
    /// runtimes; `u` (unbuffered character device) is a character device.
    pub(crate) fn parse(rule: &LinuxDeviceCgroup) -> Result<Self> {
        let invalid =
            |reason: String| Error::InvalidResources(format!("device rule {rule}: {reason}"));
        let kind = match rule.typ().unwrap_or_default() {
            LinuxDeviceType::A => DeviceKind::All,
            LinuxDeviceType::B => DeviceKind::Block,
            LinuxDeviceType::C | LinuxDeviceType::U => DeviceKind::Char,
            LinuxDeviceType::P => {
                return Err(invalid(
                    "FIFOs have no device rules: the kernel checks only block and character devices"
                        .into(),
                ));
            }
        };
        let number = |n: Option<i64>| match n {
            None => Ok(None),
            Some(n) => u32::try_from(n).map(Some).map_err(|_| {
                invalid(format!(
                    "device number {n} is not between 0 and {}",
                    u32::MAX
                ))
            }),
        };
        let access = rule.access().as_deref().unwrap_or("rwm");
        let access = Access::parse(access)
            .ok_or_else(|| invalid(format!("access {access:?} is not made of r, w, m")))?;
        Ok(DeviceRule {
            allow: rule.allow(),
            kind,
            major: number(rule.major())?,
            minor: number(rule.minor())?,
            access,
        })
    }
}

/// The rule as a line of v1's `devices.allow` / `devices.deny`: `c 1:3 rwm`, `*` for wildcards.
impl fmt::Display for DeviceRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            DeviceKind::All => 'a',
            DeviceKind::Block => 'b',
            DeviceKind::Char => 'c',
        };
        let number = |n: Option<u32>| n.map_or_else(|| "*".to_owned(), |n| n.to_string());
        write!(
            f,
            "{kind} {}:{} {}",
            number(self.major),
            number(self.minor),
            self.access
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// Rules from their OCI JSON form, checked.
    pub(crate) fn rules(json: serde_json::Value) -> Result<Vec<DeviceRule>> {
        let rules: Vec<LinuxDeviceCgroup> = serde_json::from_value(json).unwrap();
        rules.iter().map(DeviceRule::parse).collect()
    }

    #[test]
    fn defaults_wildcards_and_the_v1_spelling() {
        let parsed = rules(json!([
            {"allow": false},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "mwr"},
            {"allow": true, "type": "u", "major": 136, "access": "w"},
            {"allow": false, "type": "b", "minor": 0, "access": "rm"}
        ]))
        .unwrap();
        let lines: Vec<_> = parsed.iter().map(ToString::to_string).collect();
        assert_eq!(lines, ["a *:* rwm", "c 1:3 rwm", "c 136:* w", "b *:0 rm"]);
        assert_eq!(parsed[2].kind, DeviceKind::Char);
        assert_eq!(parsed[3].access.bits(), 3);
    }

    #[test]
    fn bad_rules_are_refused_with_their_reason() {
        for (rule, reason) in [
            (json!({"allow": true, "type": "p"}), "FIFOs"),
            (
                json!({"allow": true, "type": "c", "access": "rwx"}),
                "\"rwx\"",
            ),
            (json!({"allow": true, "type": "c", "access": ""}), "\"\""),
            (json!({"allow": true, "type": "c", "major": -1}), "-1"),
            (
                json!({"allow": true, "type": "b", "minor": 1u64 << 32}),
                "4294967296",
            ),
        ] {
            match rules(json!([rule])) {
                Err(Error::InvalidResources(message)) => {
                    assert!(message.contains(reason), "{message}")
                }
                other => panic!("{rule}: {other:?}"),
            }
        }
        // An unknown type does not get past the OCI types.
        let unknown = json!([{"allow": true, "type": "x"}]);
        assert!(serde_json::from_value::<Vec<LinuxDeviceCgroup>>(unknown).is_err());
    }
}
