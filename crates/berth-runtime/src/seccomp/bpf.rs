//! A classic-BPF assembler for seccomp programs: instructions whose jumps name labels, laid out
//! into the kernel's format. A conditional jump reaches at most 255 instructions ahead; one
//! whose label is farther gets an unconditional jump (`ja`, 32-bit reach) placed right after
//! it as a trampoline.

/// One instruction, as `struct sock_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Instruction {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// The most instructions the kernel accepts in one program (`BPF_MAXINSNS`).
pub(crate) const MAX_INSTRUCTIONS: usize = 4096;

// Opcodes (linux/bpf_common.h), checked against libc's parts in the tests.
/// `BPF_LD | BPF_W | BPF_ABS`: load a word of `struct seccomp_data`.
const LD_W_ABS: u16 = 0x20;
/// `BPF_ALU | BPF_AND | BPF_K`.
const ALU_AND_K: u16 = 0x54;
/// `BPF_JMP | BPF_JA`: jump by a 32-bit offset.
const JMP_JA: u16 = 0x05;
/// `BPF_RET | BPF_K`.
const RET_K: u16 = 0x06;

/// The conditional jumps, comparing the accumulator with a constant (unsigned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Gt,
    Ge,
}

impl Cmp {
    /// `BPF_JMP | BPF_JEQ/JGT/JGE | BPF_K`.
    fn code(self) -> u16 {
        match self {
            Cmp::Eq => 0x15,
            Cmp::Gt => 0x25,
            Cmp::Ge => 0x35,
        }
    }
}

/// A position in the program, bound once with [`Assembler::bind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Label(usize);

/// Where a branch of a conditional jump goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The instruction after the jump.
    Next,
    Label(Label),
}

#[derive(Debug, Clone, Copy)]
enum Item {
    Plain(Instruction),
    Goto(Label),
    Jump {
        cmp: Cmp,
        k: u32,
        jt: Target,
        jf: Target,
    },
}

/// A program under construction. Every jump goes forward: a label is bound after the jumps
/// that name it.
#[derive(Debug, Default)]
pub(crate) struct Assembler {
    items: Vec<Item>,
    /// Index in `items` each label is bound to.
    labels: Vec<Option<usize>>,
}

impl Assembler {
    pub(crate) fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    /// Binds `label` to the next instruction emitted.
    pub(crate) fn bind(&mut self, label: Label) {
        let slot = &mut self.labels[label.0];
        assert!(slot.is_none(), "label bound twice");
        *slot = Some(self.items.len());
    }

    /// Loads the 32-bit word at `offset` of `struct seccomp_data`.
    pub(crate) fn load(&mut self, offset: u32) {
        self.plain(LD_W_ABS, offset);
    }

    pub(crate) fn and(&mut self, mask: u32) {
        self.plain(ALU_AND_K, mask);
    }

    pub(crate) fn ret(&mut self, value: u32) {
        self.plain(RET_K, value);
    }

    pub(crate) fn goto(&mut self, label: Label) {
        self.items.push(Item::Goto(label));
    }

    pub(crate) fn jump(&mut self, cmp: Cmp, k: u32, jt: Target, jf: Target) {
        self.items.push(Item::Jump { cmp, k, jt, jf });
    }

    fn plain(&mut self, code: u16, k: u32) {
        self.items.push(Item::Plain(Instruction {
            code,
            jt: 0,
            jf: 0,
            k,
        }));
    }

    /// Lays the program out. Panics on a label never bound or bound before a jump to it: the
    /// compiler emits neither.
    pub(crate) fn finish(self) -> Vec<Instruction> {
        // Trampolines each jump needs after it, for (jt, jf); grown until every branch fits.
        let mut trampolines = vec![(false, false); self.items.len()];
        loop {
            let starts = self.layout(&trampolines);
            let mut grew = false;
            for (i, item) in self.items.iter().enumerate() {
                let Item::Jump { jt, jf, .. } = *item else {
                    continue;
                };
                let after = starts[i] + 1;
                let far = |target: Target| match target {
                    Target::Next => false,
                    Target::Label(label) => self.distance(&starts, after, label) > 255,
                };
                let (t, f) = &mut trampolines[i];
                if !*t && far(jt) {
                    *t = true;
                    grew = true;
                }
                if !*f && far(jf) {
                    *f = true;
                    grew = true;
                }
            }
            if !grew {
                return self.emit(&starts, &trampolines);
            }
        }
    }

    /// Where each item starts, given the trampolines after jumps; one extra entry for the end.
    fn layout(&self, trampolines: &[(bool, bool)]) -> Vec<usize> {
        let mut starts = Vec::with_capacity(self.items.len() + 1);
        let mut at = 0;
        for (item, (t, f)) in self.items.iter().zip(trampolines) {
            starts.push(at);
            at += 1 + usize::from(matches!(item, Item::Jump { .. }))
                * (usize::from(*t) + usize::from(*f));
        }
        starts.push(at);
        starts
    }

    /// Instructions from `from` to `label`.
    fn distance(&self, starts: &[usize], from: usize, label: Label) -> usize {
        let index = self.labels[label.0].expect("a jump to a label never bound");
        starts[index].checked_sub(from).expect("a jump backwards")
    }

    fn emit(&self, starts: &[usize], trampolines: &[(bool, bool)]) -> Vec<Instruction> {
        let mut out = Vec::with_capacity(starts[self.items.len()]);
        for (i, item) in self.items.iter().enumerate() {
            match *item {
                Item::Plain(instruction) => out.push(instruction),
                Item::Goto(label) => out.push(self.ja(starts, starts[i] + 1, label)),
                Item::Jump { cmp, k, jt, jf } => {
                    let (t, f) = trampolines[i];
                    let extra = usize::from(t) + usize::from(f);
                    let after = starts[i] + 1;
                    // Branch offsets: a trampoline's slot, or the distance past the trampolines.
                    let offset = |target: Target, slot: Option<usize>| -> u8 {
                        let distance = match (slot, target) {
                            (Some(slot), _) => slot,
                            (None, Target::Next) => extra,
                            (None, Target::Label(label)) => self.distance(starts, after, label),
                        };
                        u8::try_from(distance).expect("layout left a branch out of reach")
                    };
                    out.push(Instruction {
                        code: cmp.code(),
                        jt: offset(jt, t.then_some(0)),
                        jf: offset(jf, f.then_some(usize::from(t))),
                        k,
                    });
                    for (needed, target) in [(t, jt), (f, jf)] {
                        if let (true, Target::Label(label)) = (needed, target) {
                            let at = out.len() + 1;
                            out.push(self.ja(starts, at, label));
                        }
                    }
                }
            }
        }
        out
    }

    fn ja(&self, starts: &[usize], after: usize, label: Label) -> Instruction {
        let distance = self.distance(starts, after, label);
        Instruction {
            code: JMP_JA,
            jt: 0,
            jf: 0,
            k: u32::try_from(distance).expect("programs are far shorter than 2^32"),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Runs `program` on a `struct seccomp_data` given as its words, as the kernel would.
    pub(crate) fn run(program: &[Instruction], data: &[u32]) -> u32 {
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let i = program[pc];
            pc += 1;
            match i.code {
                LD_W_ABS => acc = data[i.k as usize / 4],
                ALU_AND_K => acc &= i.k,
                RET_K => return i.k,
                JMP_JA => pc += i.k as usize,
                code => {
                    let taken = match code {
                        c if c == Cmp::Eq.code() => acc == i.k,
                        c if c == Cmp::Gt.code() => acc > i.k,
                        c if c == Cmp::Ge.code() => acc >= i.k,
                        other => panic!("unknown opcode {other:#x}"),
                    };
                    pc += usize::from(if taken { i.jt } else { i.jf });
                }
            }
        }
    }

    #[test]
    fn opcodes_are_the_kernels() {
        assert_eq!(
            u32::from(LD_W_ABS),
            libc::BPF_LD | libc::BPF_W | libc::BPF_ABS
        );
        assert_eq!(
            u32::from(ALU_AND_K),
            libc::BPF_ALU | libc::BPF_AND | libc::BPF_K
        );
        assert_eq!(u32::from(RET_K), libc::BPF_RET | libc::BPF_K);
        assert_eq!(u32::from(JMP_JA), libc::BPF_JMP | libc::BPF_JA);
        assert_eq!(
            u32::from(Cmp::Eq.code()),
            libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K
        );
        assert_eq!(
            u32::from(Cmp::Gt.code()),
            libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K
        );
        assert_eq!(
            u32::from(Cmp::Ge.code()),
            libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K
        );
    }

    #[test]
    fn near_jumps_are_direct() {
        let mut asm = Assembler::default();
        let yes = asm.label();
        asm.load(0);
        asm.jump(Cmp::Eq, 7, Target::Label(yes), Target::Next);
        asm.ret(0);
        asm.bind(yes);
        asm.ret(1);
        let program = asm.finish();
        assert_eq!(program.len(), 4);
        assert_eq!((program[1].jt, program[1].jf), (1, 0));
        assert_eq!(run(&program, &[7]), 1);
        assert_eq!(run(&program, &[8]), 0);
    }

    #[test]
    fn far_jumps_go_through_trampolines() {
        let mut asm = Assembler::default();
        let (far, edge) = (asm.label(), asm.label());
        asm.load(0);
        // `far` needs a trampoline; `edge` is just in reach until that trampoline pushes it
        // out, so it needs one too.
        asm.jump(Cmp::Ge, 10, Target::Label(far), Target::Label(edge));
        for _ in 0..255 {
            asm.ret(99);
        }
        asm.bind(edge);
        asm.ret(4);
        for _ in 0..300 {
            asm.ret(98);
        }
        asm.bind(far);
        asm.ret(3);
        let program = asm.finish();
        assert_eq!(program.len(), 1 + 1 + 2 + 255 + 1 + 300 + 1);
        assert_eq!((program[1].jt, program[1].jf), (0, 1));
        assert_eq!(run(&program, &[10]), 3);
        assert_eq!(run(&program, &[4]), 4);
    }
}
