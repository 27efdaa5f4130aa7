//! A small eBPF assembler: the few instructions a device filter needs, encoded as the kernel's
//! `struct bpf_insn` (`include/uapi/linux/bpf.h`, `Documentation/bpf/standardization/
//! instruction-set.rst`).
//!
//! An instruction is 8 bytes: an opcode, the destination and source registers (4 bits each),
//! a signed 16-bit offset (memory offset, or jump distance counted from the next instruction)
//! and a signed 32-bit immediate. The opcode's low 3 bits are its class; the rest depends on it.

/// Instruction classes (opcode bits 0-2).
const CLASS_LDX: u8 = 0x01; // load from memory into a register
const CLASS_ALU32: u8 = 0x04; // arithmetic on the low 32 bits (the upper 32 are zeroed)
const CLASS_JMP: u8 = 0x05; // jumps comparing 64 bits, call, exit
const CLASS_JMP32: u8 = 0x06; // jumps comparing the low 32 bits (Linux 5.1)

/// For loads: size (bits 3-4) and mode (bits 5-7).
const SIZE_W: u8 = 0x00; // 32 bits
const MODE_MEM: u8 = 0x60; // from [src + offset]

/// For ALU and jumps: whether the operand is the immediate (K) or the source register (X).
const SOURCE_K: u8 = 0x00;
const SOURCE_X: u8 = 0x08;

/// ALU operations (bits 4-7).
const ALU_AND: u8 = 0x50;
const ALU_RSH: u8 = 0x70;
const ALU_MOV: u8 = 0xb0;

/// Jump operations (bits 4-7).
const JMP_JEQ: u8 = 0x10;
const JMP_JNE: u8 = 0x50;
const JMP_EXIT: u8 = 0x90;

/// The registers used: R0 holds the return value, R1 the context pointer on entry; R2-R5 are
/// free (they hold arguments only for helper calls, which a device filter makes none of).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Reg {
    R0 = 0,
    R1 = 1,
    R2 = 2,
    R3 = 3,
    R4 = 4,
    R5 = 5,
}

/// One instruction, laid out as `struct bpf_insn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct Insn {
    code: u8,
    /// `dst_reg:4, src_reg:4` as C bitfields: the first field takes the low bits on
    /// little-endian targets, the high bits on big-endian ones.
    regs: u8,
    off: i16,
    imm: i32,
}

impl Insn {
    fn new(code: u8, dst: Reg, src: Reg, off: i16, imm: i32) -> Self {
        let (dst, src) = (dst as u8, src as u8);
        let regs = if cfg!(target_endian = "little") {
            dst | src << 4
        } else {
            dst << 4 | src
        };
        Insn {
            code,
            regs,
            off,
            imm,
        }
    }

    /// `dst = *(u32 *)(base + offset)`
    pub(crate) fn load_u32(dst: Reg, base: Reg, offset: i16) -> Self {
        Insn::new(CLASS_LDX | SIZE_W | MODE_MEM, dst, base, offset, 0)
    }

    /// `dst = imm` (32 bits)
    pub(crate) fn mov32_imm(dst: Reg, imm: i32) -> Self {
        Insn::new(CLASS_ALU32 | ALU_MOV | SOURCE_K, dst, Reg::R0, 0, imm)
    }

    /// `dst = src` (32 bits)
    pub(crate) fn mov32_reg(dst: Reg, src: Reg) -> Self {
        Insn::new(CLASS_ALU32 | ALU_MOV | SOURCE_X, dst, src, 0, 0)
    }

    /// `dst &= imm` (32 bits)
    pub(crate) fn and32_imm(dst: Reg, imm: i32) -> Self {
        Insn::new(CLASS_ALU32 | ALU_AND | SOURCE_K, dst, Reg::R0, 0, imm)
    }

    /// `dst >>= imm` (32 bits, logical)
    pub(crate) fn rsh32_imm(dst: Reg, imm: i32) -> Self {
        Insn::new(CLASS_ALU32 | ALU_RSH | SOURCE_K, dst, Reg::R0, 0, imm)
    }

    /// `if (u32)dst != (u32)imm goto +skip`. The immediate is compared as 32 bits, so numbers
    /// from 2^31 up are matched too (a 64-bit compare would sign-extend them).
    pub(crate) fn jne32_imm(dst: Reg, imm: u32, skip: i16) -> Self {
        Insn::new(
            CLASS_JMP32 | JMP_JNE | SOURCE_K,
            dst,
            Reg::R0,
            skip,
            imm as i32,
        )
    }

    /// `if (u32)dst != (u32)src goto +skip`
    pub(crate) fn jne32_reg(dst: Reg, src: Reg, skip: i16) -> Self {
        Insn::new(CLASS_JMP32 | JMP_JNE | SOURCE_X, dst, src, skip, 0)
    }

    /// `if (u32)dst == (u32)imm goto +skip`
    pub(crate) fn jeq32_imm(dst: Reg, imm: u32, skip: i16) -> Self {
        Insn::new(
            CLASS_JMP32 | JMP_JEQ | SOURCE_K,
            dst,
            Reg::R0,
            skip,
            imm as i32,
        )
    }

    /// `return R0`
    pub(crate) fn exit() -> Self {
        Insn::new(CLASS_JMP | JMP_EXIT, Reg::R0, Reg::R0, 0, 0)
    }

    /// Points this jump `skip` instructions past the next one.
    pub(crate) fn set_jump(&mut self, skip: i16) {
        debug_assert!(
            matches!(self.code & 0x07, CLASS_JMP | CLASS_JMP32),
            "not a jump"
        );
        self.off = skip;
    }

    pub(crate) fn is_conditional_jump(&self) -> bool {
        self.code & 0x07 == CLASS_JMP32
    }
}

/// Runs a program of the instructions above on a device filter's context, as the kernel would:
/// a reference to test programs against without loading them.
#[cfg(test)]
pub(crate) fn interpret(program: &[Insn], context: [u32; 3]) -> u32 {
    let mut regs = [0u64; 6];
    let reg = |field: u8, high: bool| usize::from(if high { field >> 4 } else { field & 0x0f });
    let mut pc = 0;
    loop {
        let insn = program[pc];
        let little = cfg!(target_endian = "little");
        let (dst, src) = (reg(insn.regs, !little), reg(insn.regs, little));
        let operand = |regs: &[u64; 6]| {
            if insn.code & SOURCE_X != 0 {
                regs[src] as u32
            } else {
                insn.imm as u32
            }
        };
        pc += 1;
        match insn.code {
            0x61 => {
                assert_eq!(src, 1, "loads only from the context");
                let field = usize::try_from(insn.off / 4).unwrap();
                regs[dst] = u64::from(context[field]);
            }
            0xb4 | 0xbc => regs[dst] = u64::from(operand(&regs)),
            0x54 => regs[dst] = u64::from(regs[dst] as u32 & operand(&regs)),
            0x74 => regs[dst] = u64::from((regs[dst] as u32) >> operand(&regs)),
            0x56 | 0x5e | 0x16 => {
                let equal = regs[dst] as u32 == operand(&regs);
                if equal == (insn.code & 0xf0 == JMP_JEQ) {
                    pc += usize::try_from(insn.off).unwrap();
                }
            }
            0x95 => return regs[0] as u32,
            other => panic!("opcode {other:#04x} is not part of the assembler"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(insn: Insn) -> [u8; 8] {
        let mut out = [insn.code, insn.regs, 0, 0, 0, 0, 0, 0];
        out[2..4].copy_from_slice(&insn.off.to_le_bytes());
        out[4..].copy_from_slice(&insn.imm.to_le_bytes());
        out
    }

    /// Encodings as `llvm-objdump -d` prints them for a BPF object (little-endian).
    #[test]
    #[cfg(target_endian = "little")]
    fn encodings_match_the_kernels() {
        assert_eq!(size_of::<Insn>(), 8);
        let cases = [
            // r2 = *(u32 *)(r1 + 4)
            (
                Insn::load_u32(Reg::R2, Reg::R1, 4),
                [0x61, 0x12, 4, 0, 0, 0, 0, 0],
            ),
            // w0 = 1
            (Insn::mov32_imm(Reg::R0, 1), [0xb4, 0x00, 0, 0, 1, 0, 0, 0]),
            // w1 = w3
            (
                Insn::mov32_reg(Reg::R1, Reg::R3),
                [0xbc, 0x31, 0, 0, 0, 0, 0, 0],
            ),
            // w2 &= 0xffff
            (
                Insn::and32_imm(Reg::R2, 0xffff),
                [0x54, 0x02, 0, 0, 0xff, 0xff, 0, 0],
            ),
            // w3 >>= 16
            (
                Insn::rsh32_imm(Reg::R3, 16),
                [0x74, 0x03, 0, 0, 16, 0, 0, 0],
            ),
            // if w4 != 0x80000000 goto +2
            (
                Insn::jne32_imm(Reg::R4, 1 << 31, 2),
                [0x56, 0x04, 2, 0, 0, 0, 0, 0x80],
            ),
            // if w1 != w3 goto +5
            (
                Insn::jne32_reg(Reg::R1, Reg::R3, 5),
                [0x5e, 0x31, 5, 0, 0, 0, 0, 0],
            ),
            // if w1 == 0 goto +3
            (
                Insn::jeq32_imm(Reg::R1, 0, 3),
                [0x16, 0x01, 3, 0, 0, 0, 0, 0],
            ),
            // exit
            (Insn::exit(), [0x95, 0, 0, 0, 0, 0, 0, 0]),
        ];
        for (insn, expected) in cases {
            assert_eq!(bytes(insn), expected, "{insn:?}");
        }
    }

    #[test]
    fn the_interpreter_follows_jumps_and_32_bit_compares() {
        let mut skip = Insn::jne32_imm(Reg::R4, u32::MAX, 0);
        skip.set_jump(2);
        let program = [
            Insn::load_u32(Reg::R4, Reg::R1, 4),
            skip,
            Insn::mov32_imm(Reg::R0, 1),
            Insn::exit(),
            Insn::mov32_imm(Reg::R0, 0),
            Insn::exit(),
        ];
        assert_eq!(interpret(&program, [0, u32::MAX, 0]), 1);
        assert_eq!(interpret(&program, [0, 7, 0]), 0);
    }
}
