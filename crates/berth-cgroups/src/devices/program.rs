//! A [`DevicePolicy`] as a `BPF_PROG_TYPE_CGROUP_DEVICE` program.
//!
//! The kernel runs the program on every open and mknod of a device node by a process in the
//! cgroup (or below it), with a `struct bpf_cgroup_dev_ctx` in R1:
//!
//! ```text
//! offset 0: u32 access_type   low 16 bits: BPF_DEVCG_DEV_BLOCK = 1, BPF_DEVCG_DEV_CHAR = 2
//!                             high 16 bits: BPF_DEVCG_ACC_MKNOD = 1, READ = 2, WRITE = 4
//! offset 4: u32 major
//! offset 8: u32 minor
//! ```
//!
//! It returns 1 to allow the access and 0 to deny it (`EPERM`). The program is a list of
//! blocks, one per exception, each ending in a return of the exception's verdict; a test that
//! fails jumps to the next block. After the last block comes the default verdict.

use super::insn::{Insn, Reg};
use super::policy::{DeviceMatch, DevicePolicy};
use super::rule::{Access, DeviceKind};

/// Where the context's fields are kept once loaded.
const DEVICE_TYPE: Reg = Reg::R2;
const REQUESTED: Reg = Reg::R3;
const MAJOR: Reg = Reg::R4;
const MINOR: Reg = Reg::R5;
/// A scratch register: the context pointer is not needed after the loads.
const SCRATCH: Reg = Reg::R1;

pub(crate) fn assemble(policy: &DevicePolicy) -> Vec<Insn> {
    let mut program = load_context();
    for (device, access) in &policy.exceptions {
        program.extend(exception_block(device, *access, !policy.default_allow));
    }
    program.extend(verdict(policy.default_allow));
    program
}

/// Splits the context into the registers the blocks test.
fn load_context() -> Vec<Insn> {
    vec![
        // access_type: its low half is the device type, its high half the requested access.
        Insn::load_u32(DEVICE_TYPE, Reg::R1, 0),
        Insn::mov32_reg(REQUESTED, DEVICE_TYPE),
        Insn::and32_imm(DEVICE_TYPE, 0xffff),
        Insn::rsh32_imm(REQUESTED, 16),
        Insn::load_u32(MAJOR, Reg::R1, 4),
        Insn::load_u32(MINOR, Reg::R1, 8),
    ]
}

/// Returns `allow` when the access falls under the exception, else goes on to the next block.
fn exception_block(device: &DeviceMatch, access: Access, allow: bool) -> Vec<Insn> {
    let device_type = match device.kind {
        DeviceKind::Block => 1,
        DeviceKind::Char => 2,
        DeviceKind::All => unreachable!("an `a` rule resets the policy, it is no exception"),
    };
    let mut block = vec![Insn::jne32_imm(DEVICE_TYPE, device_type, 0)];
    // An access of several kinds (an open for reading and writing) needs all of them granted
    // by one allow exception, as in v1, but is refused by a deny exception naming any of them.
    // Every access is one of these when the exception covers all three.
    if access != Access::ALL {
        let bits = i32::from(access.bits());
        block.push(Insn::mov32_reg(SCRATCH, REQUESTED));
        block.push(Insn::and32_imm(SCRATCH, bits));
        block.push(if allow {
            // requested & granted != requested: something asked for is not granted.
            Insn::jne32_reg(SCRATCH, REQUESTED, 0)
        } else {
            // requested & denied == 0: nothing asked for is denied.
            Insn::jeq32_imm(SCRATCH, 0, 0)
        });
    }
    // A wildcard number needs no test.
    if let Some(major) = device.major {
        block.push(Insn::jne32_imm(MAJOR, major, 0));
    }
    if let Some(minor) = device.minor {
        block.push(Insn::jne32_imm(MINOR, minor, 0));
    }
    block.extend(verdict(allow));
    // Every test jumps past the end of its block when it fails.
    let len = block.len();
    for (index, insn) in block.iter_mut().enumerate() {
        if insn.is_conditional_jump() {
            let skip = i16::try_from(len - index - 1).expect("a block is a few instructions");
            insn.set_jump(skip);
        }
    }
    block
}

/// `return allow`
fn verdict(allow: bool) -> [Insn; 2] {
    [Insn::mov32_imm(Reg::R0, i32::from(allow)), Insn::exit()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::insn::interpret;
    use crate::devices::rule::tests::rules;
    use serde_json::json;

    fn program(json: serde_json::Value) -> (DevicePolicy, Vec<Insn>) {
        let policy = DevicePolicy::from_rules(&rules(json).unwrap()).unwrap();
        let program = assemble(&policy);
        (policy, program)
    }

    fn jump(mut insn: Insn, skip: i16) -> Insn {
        insn.set_jump(skip);
        insn
    }

    #[test]
    fn dockers_default_list() {
        let (_, insns) = program(json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "c", "major": 136, "access": "rwm"},
            {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rw"}
        ]));
        let mut expected = load_context();
        expected.extend([
            // c 1:3 rwm
            jump(Insn::jne32_imm(Reg::R2, 2, 0), 4),
            jump(Insn::jne32_imm(Reg::R4, 1, 0), 3),
            jump(Insn::jne32_imm(Reg::R5, 3, 0), 2),
            Insn::mov32_imm(Reg::R0, 1),
            Insn::exit(),
            // c 10:200 rw: the requested access must be within rw.
            jump(Insn::jne32_imm(Reg::R2, 2, 0), 7),
            Insn::mov32_reg(Reg::R1, Reg::R3),
            Insn::and32_imm(Reg::R1, 6),
            jump(Insn::jne32_reg(Reg::R1, Reg::R3, 0), 4),
            jump(Insn::jne32_imm(Reg::R4, 10, 0), 3),
            jump(Insn::jne32_imm(Reg::R5, 200, 0), 2),
            Insn::mov32_imm(Reg::R0, 1),
            Insn::exit(),
            // c 136:* rwm
            jump(Insn::jne32_imm(Reg::R2, 2, 0), 3),
            jump(Insn::jne32_imm(Reg::R4, 136, 0), 2),
            Insn::mov32_imm(Reg::R0, 1),
            Insn::exit(),
            // Anything else is denied.
            Insn::mov32_imm(Reg::R0, 0),
            Insn::exit(),
        ]);
        assert_eq!(insns, expected);
    }

    #[test]
    fn a_denylist_tests_for_any_shared_access() {
        let (_, insns) = program(json!([
            {"allow": true},
            {"allow": false, "type": "b", "minor": 0, "access": "w"}
        ]));
        assert_eq!(
            insns[6..],
            [
                jump(Insn::jne32_imm(Reg::R2, 1, 0), 6),
                Insn::mov32_reg(Reg::R1, Reg::R3),
                Insn::and32_imm(Reg::R1, 4),
                jump(Insn::jeq32_imm(Reg::R1, 0, 0), 3),
                jump(Insn::jne32_imm(Reg::R5, 0, 0), 2),
                Insn::mov32_imm(Reg::R0, 0),
                Insn::exit(),
                Insn::mov32_imm(Reg::R0, 1),
                Insn::exit(),
            ]
        );
    }

    /// The program's verdict equals the v1 controller's for every combination of device type,
    /// a few numbers around the rules' and every access.
    #[test]
    fn programs_decide_as_the_v1_controller() {
        let lists = [
            json!([{"allow": false}, {"allow": true, "type": "c", "major": 1, "minor": 3},
                   {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "r"},
                   {"allow": true, "type": "b", "major": 4294967295u32, "access": "m"},
                   {"allow": true, "type": "c", "minor": 9, "access": "rw"}]),
            json!([{"allow": true},
                   {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "w"},
                   {"allow": false, "type": "b", "major": 8, "access": "rm"}]),
            json!([{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "r"}]),
            json!([{"allow": false}]),
            json!([{"allow": true}]),
        ];
        let kinds = [(DeviceKind::Block, 1), (DeviceKind::Char, 2)];
        let numbers = [0, 1, 3, 5, 8, 9, 4294967295];
        let accesses = [1, 2, 4, 6, 7].map(|bits| {
            [Access::MKNOD, Access::READ, Access::WRITE]
                .into_iter()
                .filter(|a| a.bits() & bits != 0)
                .fold(Access::default(), Access::with)
        });
        for list in lists {
            let (policy, insns) = program(list.clone());
            for (kind, type_bits) in kinds {
                for major in numbers {
                    for minor in numbers {
                        for access in accesses {
                            let context =
                                [u32::from(access.bits()) << 16 | type_bits, major, minor];
                            let expected = policy.permits(kind, major, minor, access);
                            assert_eq!(
                                interpret(&insns, context) == 1,
                                expected,
                                "{list} on {kind:?} {major}:{minor} {access}"
                            );
                        }
                    }
                }
            }
        }
    }
}
