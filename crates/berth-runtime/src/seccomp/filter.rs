//! `linux.seccomp` compiled into a BPF program, in the caller before any process is cloned.
//!
//! The program, for each ABI the host can run (see [`super::arch`]):
//!
//! 1. The ABI is checked first. A call through one the profile does not list is killed, as
//!    libseccomp does; the native ABI is always covered. On x86-64, a call numbered with the
//!    x32 bit goes to the x32 part (or is killed if x32 is not listed).
//! 2. The syscall number is found by binary search over ranges of numbers that share their
//!    handling (runs of allowed calls collapse into one range), a few comparisons per call.
//! 3. A call's rules are checked in the profile's order, those with argument conditions
//!    first; the first that matches decides. A rule's conditions must all hold, except that
//!    a rule with several conditions on one argument matches if any of them holds (runc's
//!    reading of such profiles). A call no rule matches gets the default action.
//! 4. As runc does, a call numbered above every call the profile names gets `ENOSYS` rather
//!    than a default that refuses it, so a C library falls back from a call newer than the
//!    profile (`clone3` to `clone`, say).
//!
//! Names a profile lists that an ABI lacks are skipped, as libseccomp skips them. Rules whose
//! action is the default action are left out (libseccomp refuses them).

use std::collections::{BTreeMap, HashMap};

use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use super::arch::{Arch, X32_SYSCALL_BIT};
use super::bpf::{Assembler, Cmp, Instruction, Label, MAX_INSTRUCTIONS, Target};
use crate::error::SpecError;

// Return values (linux/seccomp.h): the action in the high half, its data in the low one.
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_KILL_THREAD: u32 = 0x0000_0000;
const RET_TRAP: u32 = 0x0003_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_TRACE: u32 = 0x7ff0_0000;
const RET_LOG: u32 = 0x7ffc_0000;
const RET_ALLOW: u32 = 0x7fff_0000;

// `struct seccomp_data`: the syscall number, the ABI, the instruction pointer, six arguments.
const NR_OFFSET: u32 = 0;
const ARCH_OFFSET: u32 = 4;
const ARGS_OFFSET: u32 = 16;
const MAX_ARGS: usize = 6;

/// Filter flags for `seccomp(2)`.
const FLAG_LOG: u32 = 1 << 1;
const FLAG_SPEC_ALLOW: u32 = 1 << 2;

/// A compiled filter and the flags it is loaded with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Filter {
    pub program: Vec<Instruction>,
    pub flags: u32,
}

/// What an argument is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `(arg & mask) == value`.
    MaskedEq {
        mask: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Condition {
    index: u32,
    op: Op,
    value: u64,
}

/// Conditions that must all hold, and the return value when they do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Rule {
    conditions: Vec<Condition>,
    action: u32,
}

/// How one syscall number is handled: its rules (indices in [`Rules::rules`]) in order, then
/// the default.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Handling {
    Rules(Vec<usize>),
    Default,
    /// Beyond every call the profile names.
    Enosys,
}

impl Filter {
    /// Compiles `seccomp` for a host whose native ABI is `native`.
    pub(crate) fn compile(seccomp: &LinuxSeccomp, native: Arch) -> Result<Self, SpecError> {
        if seccomp.listener_path().is_some() {
            return Err(unsupported("SCMP_ACT_NOTIFY (a seccomp listener)"));
        }
        let default = action(seccomp.default_action(), seccomp.default_errno_ret())?;
        let mut arches = vec![native];
        for arch in seccomp.architectures().iter().flatten() {
            // Architectures this host cannot run never occur here: nothing to filter.
            if let Some(arch) = Arch::from_spec(*arch)
                && native.family().contains(&arch)
                && !arches.contains(&arch)
            {
                arches.push(arch);
            }
        }
        let rules = rules(seccomp, default)?;
        let enosys_above = !matches!(default & 0xffff_0000, RET_ALLOW | RET_LOG);

        let mut asm = Assembler::default();
        let kill = asm.label();
        let mut entries: Vec<(u32, Label)> = Vec::new();
        asm.load(ARCH_OFFSET);
        for arch in &arches {
            let audit = arch.audit();
            if entries.iter().all(|(a, _)| *a != audit) {
                let entry = asm.label();
                entries.push((audit, entry));
                asm.jump(Cmp::Eq, audit, Target::Label(entry), Target::Next);
            }
        }
        asm.goto(kill);
        let x32 = arches.contains(&Arch::X32).then(|| asm.label());
        for (audit, entry) in &entries {
            asm.bind(*entry);
            asm.load(NR_OFFSET);
            let arch = *arches
                .iter()
                .find(|a| a.audit() == *audit && **a != Arch::X32)
                .expect("each entry is a listed ABI's");
            if arch == Arch::X86_64 {
                // The x32 bit: x32's part, except -1 (a tracer skipping the call).
                let own_calls = asm.label();
                asm.jump(
                    Cmp::Ge,
                    X32_SYSCALL_BIT,
                    Target::Next,
                    Target::Label(own_calls),
                );
                asm.jump(
                    Cmp::Eq,
                    u32::MAX,
                    Target::Label(own_calls),
                    Target::Label(x32.unwrap_or(kill)),
                );
                asm.bind(own_calls);
            }
            dispatch(&mut asm, arch, &rules, default, enosys_above);
        }
        if let Some(x32) = x32 {
            asm.bind(x32);
            dispatch(&mut asm, Arch::X32, &rules, default, enosys_above);
        }
        asm.bind(kill);
        asm.ret(RET_KILL_PROCESS);

        let program = asm.finish();
        if program.len() > MAX_INSTRUCTIONS {
            return Err(SpecError::Seccomp(format!(
                "the profile compiles to {} instructions, more than the kernel's {MAX_INSTRUCTIONS}",
                program.len()
            )));
        }
        Ok(Self {
            program,
            flags: flags(seccomp.flags().as_deref().unwrap_or_default()),
        })
    }
}

fn unsupported(what: &str) -> SpecError {
    SpecError::Unsupported(format!("seccomp: {what}"))
}

/// A seccomp action and its data as the filter's return value.
fn action(action: LinuxSeccompAction, errno_ret: Option<u32>) -> Result<u32, SpecError> {
    let data = || {
        let value = errno_ret.unwrap_or(libc::EPERM as u32);
        u16::try_from(value)
            .map(u32::from)
            .map_err(|_| SpecError::Seccomp(format!("errnoRet {value} does not fit 16 bits")))
    };
    Ok(match action {
        LinuxSeccompAction::ScmpActAllow => RET_ALLOW,
        LinuxSeccompAction::ScmpActLog => RET_LOG,
        LinuxSeccompAction::ScmpActErrno => RET_ERRNO | data()?,
        LinuxSeccompAction::ScmpActTrace => RET_TRACE | data()?,
        LinuxSeccompAction::ScmpActTrap => RET_TRAP,
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => RET_KILL_THREAD,
        LinuxSeccompAction::ScmpActKillProcess => RET_KILL_PROCESS,
        LinuxSeccompAction::ScmpActNotify => return Err(unsupported("SCMP_ACT_NOTIFY")),
    })
}

fn flags(flags: &[LinuxSeccompFilterFlag]) -> u32 {
    flags.iter().fold(0, |acc, flag| {
        acc | match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => FLAG_SPEC_ALLOW,
            // The filter is loaded by a single-threaded process, and no listener is made.
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync
            | LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => 0,
        }
    })
}

/// The profile's rules, each stored once, and the rules of each syscall name in order.
#[derive(Debug, Default)]
struct Rules<'s> {
    rules: Vec<Rule>,
    by_name: Vec<(&'s str, Vec<usize>)>,
}

impl Rules<'_> {
    /// The index of `rule`, stored if new.
    fn intern(&mut self, rule: Rule, index: &mut HashMap<Rule, usize>) -> usize {
        *index.entry(rule).or_insert_with_key(|rule| {
            self.rules.push(rule.clone());
            self.rules.len() - 1
        })
    }
}

/// The profile's rules (see the module's notes on conditions), without those that repeat the
/// default.
fn rules(seccomp: &LinuxSeccomp, default: u32) -> Result<Rules<'_>, SpecError> {
    let mut out = Rules::default();
    let mut index = HashMap::new();
    for syscall in seccomp.syscalls().iter().flatten() {
        let action = action(syscall.action(), syscall.errno_ret())?;
        let conditions = syscall
            .args()
            .iter()
            .flatten()
            .map(condition)
            .collect::<Result<Vec<_>, _>>()?;
        if action == default {
            continue;
        }
        let repeated = conditions
            .iter()
            .enumerate()
            .any(|(i, c)| conditions[..i].iter().any(|d| d.index == c.index));
        let alternatives: Vec<Rule> = if repeated {
            conditions
                .iter()
                .map(|c| Rule {
                    conditions: vec![*c],
                    action,
                })
                .collect()
        } else {
            vec![Rule { conditions, action }]
        };
        let ids: Vec<usize> = alternatives
            .into_iter()
            .map(|rule| out.intern(rule, &mut index))
            .collect();
        for name in syscall.names() {
            out.by_name.push((name.as_str(), ids.clone()));
        }
    }
    Ok(out)
}

fn condition(arg: &LinuxSeccompArg) -> Result<Condition, SpecError> {
    let index = u32::try_from(arg.index())
        .ok()
        .filter(|i| (*i as usize) < MAX_ARGS)
        .ok_or_else(|| {
            SpecError::Seccomp(format!(
                "argument index {} (a syscall has {MAX_ARGS})",
                arg.index()
            ))
        })?;
    let (op, value) = match arg.op() {
        LinuxSeccompOperator::ScmpCmpEq => (Op::Eq, arg.value()),
        LinuxSeccompOperator::ScmpCmpNe => (Op::Ne, arg.value()),
        LinuxSeccompOperator::ScmpCmpLt => (Op::Lt, arg.value()),
        LinuxSeccompOperator::ScmpCmpLe => (Op::Le, arg.value()),
        LinuxSeccompOperator::ScmpCmpGt => (Op::Gt, arg.value()),
        LinuxSeccompOperator::ScmpCmpGe => (Op::Ge, arg.value()),
        // `value` is the mask, `valueTwo` what the masked argument must equal.
        LinuxSeccompOperator::ScmpCmpMaskedEq => (
            Op::MaskedEq { mask: arg.value() },
            arg.value_two().unwrap_or(0),
        ),
    };
    Ok(Condition { index, op, value })
}

/// The number search and the handlers for one ABI; the syscall number is in the accumulator.
fn dispatch(asm: &mut Assembler, arch: Arch, rules: &Rules<'_>, default: u32, enosys_above: bool) {
    let numbers = arch.numbers();
    let mut by_number: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (name, ids) in &rules.by_name {
        if let Some(&nr) = numbers.get(name) {
            by_number.entry(nr).or_default().extend(ids);
        }
    }
    let highest = by_number.keys().next_back().copied();
    // Conditional rules first, then the first unconditional one; later ones never decide.
    let handling_of = |ids: &Vec<usize>| {
        let (conditional, plain): (Vec<usize>, Vec<usize>) = ids
            .iter()
            .partition(|id| !rules.rules[**id].conditions.is_empty());
        Handling::Rules(
            conditional
                .into_iter()
                .chain(plain.into_iter().take(1))
                .collect(),
        )
    };

    // Ranges of numbers [start, next start) with the same handling.
    let mut ranges: Vec<(u32, Handling)> = vec![(0, Handling::Default)];
    for (nr, ids) in &by_number {
        push_range(&mut ranges, *nr, handling_of(ids));
        if let Some(next) = nr.checked_add(1) {
            push_range(&mut ranges, next, Handling::Default);
        }
    }
    if enosys_above && let Some(next) = highest.and_then(|h| h.checked_add(1)) {
        // Replaces the default range just pushed after the highest number.
        if let Some(last) = ranges.last_mut()
            && last.0 == next
        {
            last.1 = Handling::Enosys;
        }
    }

    // One block per distinct handling, shared by every range that has it.
    let mut blocks: HashMap<&Handling, Label> = HashMap::new();
    let mut order: Vec<&Handling> = Vec::new();
    for (_, handling) in &ranges {
        if !blocks.contains_key(handling) {
            blocks.insert(handling, asm.label());
            order.push(handling);
        }
    }
    let targets: Vec<(u32, Label)> = ranges.iter().map(|(s, h)| (*s, blocks[h])).collect();
    search(asm, &targets);
    for handling in order {
        asm.bind(blocks[handling]);
        match handling {
            Handling::Default => asm.ret(default),
            Handling::Enosys => asm.ret(RET_ERRNO | libc::ENOSYS as u32),
            Handling::Rules(ids) => {
                for rule in ids.iter().map(|id| &rules.rules[*id]) {
                    let next = asm.label();
                    for condition in &rule.conditions {
                        check(asm, arch, condition, next);
                    }
                    asm.ret(rule.action);
                    asm.bind(next);
                }
                asm.ret(default);
            }
        }
    }
}

/// Appends the range from `start` on, replacing one left empty and merging with the one before
/// if they are handled alike.
fn push_range(ranges: &mut Vec<(u32, Handling)>, start: u32, handling: Handling) {
    if ranges.last().is_some_and(|(s, _)| *s == start) {
        ranges.pop();
    }
    if ranges.last().is_none_or(|(_, h)| *h != handling) {
        ranges.push((start, handling));
    }
}

/// A binary search over `ranges` (sorted starts, the first 0) that jumps to the label of the
/// range holding the number in the accumulator.
fn search(asm: &mut Assembler, ranges: &[(u32, Label)]) {
    if let [(_, only)] = ranges {
        asm.goto(*only);
        return;
    }
    let (low, high) = ranges.split_at(ranges.len() / 2);
    let high_entry = match high {
        [(_, only)] => *only,
        _ => asm.label(),
    };
    let low_entry = match low {
        [(_, only)] => Target::Label(*only),
        _ => Target::Next,
    };
    asm.jump(Cmp::Ge, high[0].0, Target::Label(high_entry), low_entry);
    if low.len() > 1 {
        search(asm, low);
    }
    if high.len() > 1 {
        asm.bind(high_entry);
        search(asm, high);
    }
}

/// Continues when `condition` holds, jumps to `fail` when it does not. Leaves the accumulator
/// changed: every rule reloads what it compares.
fn check(asm: &mut Assembler, arch: Arch, condition: &Condition, fail: Label) {
    let fail = Target::Label(fail);
    let offset = ARGS_OFFSET + 8 * condition.index;
    // The argument's low and high 32-bit words.
    let (low_at, high_at) = if cfg!(target_endian = "little") {
        (offset, offset + 4)
    } else {
        (offset + 4, offset)
    };
    let split = |v: u64| ((v >> 32) as u32, v as u32);
    let (high, low) = split(condition.value);
    if !arch.is_64_bit() {
        // Only the low word is the argument.
        asm.load(low_at);
        compare_word(asm, condition.op, low, fail, Target::Next);
        return;
    }
    let pass = asm.label();
    asm.load(high_at);
    match condition.op {
        Op::Eq => asm.jump(Cmp::Eq, high, Target::Next, fail),
        Op::Ne => asm.jump(Cmp::Eq, high, Target::Next, Target::Label(pass)),
        Op::Gt | Op::Ge => {
            asm.jump(Cmp::Gt, high, Target::Label(pass), Target::Next);
            asm.jump(Cmp::Eq, high, Target::Next, fail);
        }
        Op::Lt | Op::Le => {
            asm.jump(Cmp::Gt, high, fail, Target::Next);
            asm.jump(Cmp::Eq, high, Target::Next, Target::Label(pass));
        }
        Op::MaskedEq { mask } => {
            asm.and(split(mask).0);
            asm.jump(Cmp::Eq, high, Target::Next, fail);
        }
    }
    // The high words are equal (or, for `Ne`, the low word decides).
    asm.load(low_at);
    let op = match condition.op {
        Op::MaskedEq { mask } => Op::MaskedEq {
            mask: u64::from(split(mask).1),
        },
        op => op,
    };
    compare_word(asm, op, low, fail, Target::Label(pass));
    asm.bind(pass);
}

/// Compares the accumulator (one word) with `value`: to `pass` when `op` holds, else `fail`.
fn compare_word(asm: &mut Assembler, op: Op, value: u32, fail: Target, pass: Target) {
    match op {
        Op::Eq => asm.jump(Cmp::Eq, value, pass, fail),
        Op::Ne => asm.jump(Cmp::Eq, value, fail, pass),
        Op::Gt => asm.jump(Cmp::Gt, value, pass, fail),
        Op::Ge => asm.jump(Cmp::Ge, value, pass, fail),
        Op::Lt => asm.jump(Cmp::Ge, value, fail, pass),
        Op::Le => asm.jump(Cmp::Gt, value, fail, pass),
        Op::MaskedEq { mask } => {
            asm.and(mask as u32);
            asm.jump(Cmp::Eq, value, pass, fail);
        }
    }
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::{
        Arch as SpecArch, LinuxSeccompArgBuilder, LinuxSyscall, LinuxSyscallBuilder,
    };

    use super::*;
    use crate::seccomp::bpf::tests::run;

    const EPERM: u32 = RET_ERRNO | libc::EPERM as u32;
    const ENOSYS: u32 = RET_ERRNO | libc::ENOSYS as u32;

    fn profile(default: LinuxSeccompAction, syscalls: Vec<LinuxSyscall>) -> LinuxSeccomp {
        let mut profile = LinuxSeccomp::default();
        profile.set_default_action(default);
        profile.set_syscalls(Some(syscalls));
        profile
    }

    fn rule(
        names: &[&str],
        action: LinuxSeccompAction,
        args: Vec<LinuxSeccompArg>,
    ) -> LinuxSyscall {
        LinuxSyscallBuilder::default()
            .names(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .action(action)
            .args(args)
            .build()
            .unwrap()
    }

    fn allow(names: &[&str]) -> LinuxSyscall {
        rule(names, LinuxSeccompAction::ScmpActAllow, Vec::new())
    }

    fn arg(index: usize, op: LinuxSeccompOperator, value: u64, two: u64) -> LinuxSeccompArg {
        LinuxSeccompArgBuilder::default()
            .index(index)
            .op(op)
            .value(value)
            .value_two(two)
            .build()
            .unwrap()
    }

    /// What `filter` returns for the call `nr` through `audit` with `args`.
    fn decide(filter: &Filter, audit: u32, nr: u32, args: &[u64]) -> u32 {
        let mut data = vec![nr, audit, 0, 0];
        for i in 0..MAX_ARGS {
            let value = args.get(i).copied().unwrap_or(0);
            data.extend([value as u32, (value >> 32) as u32]);
        }
        run(&filter.program, &data)
    }

    fn number(arch: Arch, name: &str) -> u32 {
        arch.numbers()[name]
    }

    fn x86_64(filter: &Filter, name: &str, args: &[u64]) -> u32 {
        let nr = number(Arch::X86_64, name);
        decide(filter, Arch::X86_64.audit(), nr, args)
    }

    #[test]
    fn listed_calls_get_their_action_and_the_rest_the_default() {
        let mut mount = rule(
            &["mount", "no_such_call"],
            LinuxSeccompAction::ScmpActErrno,
            vec![],
        );
        mount.set_errno_ret(Some(libc::ENOSYS as u32));
        let mut umask = rule(&["umask"], LinuxSeccompAction::ScmpActErrno, vec![]);
        umask.set_errno_ret(Some(libc::EACCES as u32));
        let mut profile = profile(
            LinuxSeccompAction::ScmpActErrno,
            vec![
                allow(&["read", "write", "open"]),
                mount,
                rule(&["kill"], LinuxSeccompAction::ScmpActKillProcess, vec![]),
                rule(&["tkill"], LinuxSeccompAction::ScmpActKill, vec![]),
                rule(&["getpid"], LinuxSeccompAction::ScmpActTrap, vec![]),
                rule(&["gettid"], LinuxSeccompAction::ScmpActLog, vec![]),
                rule(&["getppid"], LinuxSeccompAction::ScmpActTrace, vec![]),
                // The default again: left out.
                umask,
            ],
        );
        profile.set_default_errno_ret(Some(libc::EACCES as u32));
        let filter = Filter::compile(&profile, Arch::X86_64).unwrap();
        assert_eq!(x86_64(&filter, "read", &[]), RET_ALLOW);
        assert_eq!(x86_64(&filter, "write", &[]), RET_ALLOW);
        assert_eq!(x86_64(&filter, "open", &[]), RET_ALLOW);
        assert_eq!(x86_64(&filter, "mount", &[]), ENOSYS);
        assert_eq!(x86_64(&filter, "kill", &[]), RET_KILL_PROCESS);
        assert_eq!(x86_64(&filter, "tkill", &[]), RET_KILL_THREAD);
        assert_eq!(x86_64(&filter, "getpid", &[]), RET_TRAP);
        assert_eq!(x86_64(&filter, "gettid", &[]), RET_LOG);
        assert_eq!(
            x86_64(&filter, "getppid", &[]),
            RET_TRACE | libc::EPERM as u32
        );
        let eacces = RET_ERRNO | libc::EACCES as u32;
        assert_eq!(x86_64(&filter, "umask", &[]), eacces);
        assert_eq!(x86_64(&filter, "close", &[]), eacces);
        // Past the highest call listed (tkill, 200): ENOSYS, for a libc to fall back.
        assert_eq!(x86_64(&filter, "tgkill", &[]), ENOSYS);
        assert_eq!(x86_64(&filter, "clone3", &[]), ENOSYS);
    }

    #[test]
    fn a_permissive_default_has_no_enosys_above_the_list() {
        let profile = profile(
            LinuxSeccompAction::ScmpActAllow,
            vec![rule(&["mount"], LinuxSeccompAction::ScmpActErrno, vec![])],
        );
        let filter = Filter::compile(&profile, Arch::X86_64).unwrap();
        assert_eq!(x86_64(&filter, "mount", &[]), EPERM);
        assert_eq!(x86_64(&filter, "read", &[]), RET_ALLOW);
        assert_eq!(x86_64(&filter, "clone3", &[]), RET_ALLOW);
    }

    #[test]
    fn abis_not_listed_are_killed() {
        let mut spec = profile(LinuxSeccompAction::ScmpActErrno, vec![allow(&["read"])]);
        let only_native = Filter::compile(&spec, Arch::X86_64).unwrap();
        let i386_read = number(Arch::X86, "read");
        let x32_read = number(Arch::X32, "read");
        let x86_64 = Arch::X86_64.audit();
        assert_eq!(decide(&only_native, x86_64, 0, &[]), RET_ALLOW);
        assert_eq!(
            decide(&only_native, Arch::X86.audit(), i386_read, &[]),
            RET_KILL_PROCESS
        );
        assert_eq!(
            decide(&only_native, x86_64, x32_read, &[]),
            RET_KILL_PROCESS
        );
        assert_eq!(
            decide(&only_native, Arch::Aarch64.audit(), 63, &[]),
            RET_KILL_PROCESS
        );
        // -1, a call a tracer skipped, is no x32 call.
        assert_eq!(decide(&only_native, x86_64, u32::MAX, &[]), ENOSYS);

        spec.set_architectures(Some(vec![
            SpecArch::ScmpArchX86_64,
            SpecArch::ScmpArchX86,
            SpecArch::ScmpArchX32,
            // Not one an x86-64 host runs: skipped.
            SpecArch::ScmpArchS390x,
        ]));
        let all = Filter::compile(&spec, Arch::X86_64).unwrap();
        assert_eq!(decide(&all, Arch::X86.audit(), i386_read, &[]), RET_ALLOW);
        // i386's 0 is restart_syscall, not read.
        assert_eq!(decide(&all, Arch::X86.audit(), 0, &[]), EPERM);
        assert_eq!(decide(&all, x86_64, x32_read, &[]), RET_ALLOW);
        let x32_ioctl = number(Arch::X32, "ioctl");
        assert_eq!(decide(&all, x86_64, x32_ioctl, &[]), ENOSYS);
        assert_eq!(
            decide(&all, Arch::Aarch64.audit(), 63, &[]),
            RET_KILL_PROCESS
        );

        spec.set_architectures(Some(vec![SpecArch::ScmpArchArm]));
        let arm = Filter::compile(&spec, Arch::Aarch64).unwrap();
        assert_eq!(decide(&arm, Arch::Aarch64.audit(), 63, &[]), RET_ALLOW);
        assert_eq!(decide(&arm, Arch::Arm.audit(), 3, &[]), RET_ALLOW);
        assert_eq!(decide(&arm, x86_64, 0, &[]), RET_KILL_PROCESS);
    }

    /// Every operator against values around a 64-bit constant, on 64-bit and 32-bit ABIs.
    #[test]
    fn argument_comparisons_match_their_operators() {
        use LinuxSeccompOperator::*;
        let constant: u64 = 0x1_0000_0005;
        let mask: u64 = 0xff_0000_00ff;
        let samples = [
            0,
            4,
            5,
            6,
            0xffff_ffff,
            0x1_0000_0004,
            constant,
            0x1_0000_0006,
            0x2_0000_0000,
            0x2_0000_0005,
            u64::MAX,
        ];
        type Holds = fn(u64, u64) -> bool;
        let ops: [(LinuxSeccompOperator, Holds); 7] = [
            (ScmpCmpEq, |a, v| a == v),
            (ScmpCmpNe, |a, v| a != v),
            (ScmpCmpLt, |a, v| a < v),
            (ScmpCmpLe, |a, v| a <= v),
            (ScmpCmpGt, |a, v| a > v),
            (ScmpCmpGe, |a, v| a >= v),
            (ScmpCmpMaskedEq, |a, _| {
                a & 0xff_0000_00ff == 0x1_0000_0005 & 0xff_0000_00ff
            }),
        ];
        for (op, holds) in ops {
            let (value, two) = match op {
                ScmpCmpMaskedEq => (mask, constant & mask),
                _ => (constant, 0),
            };
            let mut spec = profile(
                LinuxSeccompAction::ScmpActErrno,
                vec![rule(
                    &["personality"],
                    LinuxSeccompAction::ScmpActAllow,
                    vec![arg(2, op, value, two)],
                )],
            );
            spec.set_architectures(Some(vec![SpecArch::ScmpArchX86]));
            let filter = Filter::compile(&spec, Arch::X86_64).unwrap();
            let i386 = number(Arch::X86, "personality");
            for sample in samples {
                let expected = if holds(sample, constant) {
                    RET_ALLOW
                } else {
                    EPERM
                };
                let args = [0, 0, sample];
                assert_eq!(
                    x86_64(&filter, "personality", &args),
                    expected,
                    "{op:?} {sample:#x}"
                );
                // A 32-bit ABI compares the low words.
                let low = |v: u64| v & 0xffff_ffff;
                let expected_32 = match op {
                    ScmpCmpMaskedEq => low(sample) & low(mask) == low(constant) & low(mask),
                    _ => holds(low(sample), low(constant)),
                };
                assert_eq!(
                    decide(&filter, Arch::X86.audit(), i386, &[0, 0, low(sample)]),
                    if expected_32 { RET_ALLOW } else { EPERM },
                    "i386 {op:?} {sample:#x}"
                );
            }
        }
    }

    #[test]
    fn conditions_combine_and_conditional_rules_come_first() {
        use LinuxSeccompOperator::*;
        let spec = profile(
            LinuxSeccompAction::ScmpActErrno,
            vec![
                // Unconditional, listed first, still decided after the conditional ones.
                rule(&["socket"], LinuxSeccompAction::ScmpActLog, vec![]),
                // Different arguments: all must hold.
                rule(
                    &["socket"],
                    LinuxSeccompAction::ScmpActAllow,
                    vec![arg(0, ScmpCmpEq, 1, 0), arg(1, ScmpCmpEq, 2, 0)],
                ),
                // The same argument twice: either may hold.
                rule(
                    &["socket"],
                    LinuxSeccompAction::ScmpActTrap,
                    vec![arg(0, ScmpCmpEq, 10, 0), arg(0, ScmpCmpEq, 11, 0)],
                ),
            ],
        );
        let filter = Filter::compile(&spec, Arch::X86_64).unwrap();
        assert_eq!(x86_64(&filter, "socket", &[1, 2]), RET_ALLOW);
        assert_eq!(x86_64(&filter, "socket", &[1, 3]), RET_LOG);
        assert_eq!(x86_64(&filter, "socket", &[10, 0]), RET_TRAP);
        assert_eq!(x86_64(&filter, "socket", &[11, 5]), RET_TRAP);
        assert_eq!(x86_64(&filter, "socket", &[12, 0]), RET_LOG);
    }

    #[test]
    fn long_programs_reach_far_handlers() {
        // A rule of its own on every x86-64 call: handlers far beyond a branch's reach.
        let names: Vec<&str> = (0..500)
            .filter_map(|nr| syscalls::x86_64::Sysno::new(nr).map(|s| s.name()))
            .collect();
        let syscalls = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let refused = arg(0, LinuxSeccompOperator::ScmpCmpNe, i as u64, 0);
                rule(&[name], LinuxSeccompAction::ScmpActAllow, vec![refused])
            })
            .collect();
        let spec = profile(LinuxSeccompAction::ScmpActErrno, syscalls);
        let filter = Filter::compile(&spec, Arch::X86_64).unwrap();
        assert!(filter.program.len() > 2000, "{}", filter.program.len());
        for (i, name) in names.iter().enumerate() {
            assert_eq!(x86_64(&filter, name, &[i as u64 + 1]), RET_ALLOW, "{name}");
            assert_eq!(x86_64(&filter, name, &[i as u64]), EPERM, "{name}");
        }
    }

    #[test]
    fn what_cannot_be_compiled_is_refused() {
        let mut errno = rule(&["read"], LinuxSeccompAction::ScmpActErrno, vec![]);
        errno.set_errno_ret(Some(70000));
        let bad_index = rule(
            &["read"],
            LinuxSeccompAction::ScmpActAllow,
            vec![arg(6, LinuxSeccompOperator::ScmpCmpEq, 0, 0)],
        );
        let notify = rule(&["read"], LinuxSeccompAction::ScmpActNotify, vec![]);
        for syscall in [errno, bad_index, notify] {
            let spec = profile(LinuxSeccompAction::ScmpActErrno, vec![syscall.clone()]);
            assert!(Filter::compile(&spec, Arch::X86_64).is_err(), "{syscall:?}");
        }
        let mut listener = profile(LinuxSeccompAction::ScmpActErrno, vec![]);
        listener.set_listener_path(Some("/run/agent.sock".into()));
        assert!(Filter::compile(&listener, Arch::X86_64).is_err());
    }

    #[test]
    fn filter_flags_are_passed_on() {
        let mut spec = profile(LinuxSeccompAction::ScmpActAllow, vec![]);
        spec.set_flags(Some(vec![
            LinuxSeccompFilterFlag::SeccompFilterFlagLog,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow,
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync,
        ]));
        let filter = Filter::compile(&spec, Arch::X86_64).unwrap();
        assert_eq!(filter.flags, FLAG_LOG | FLAG_SPEC_ALLOW);
        assert_eq!(u64::from(FLAG_LOG), libc::SECCOMP_FILTER_FLAG_LOG);
        assert_eq!(
            u64::from(FLAG_SPEC_ALLOW),
            libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
        );
        assert_eq!(x86_64(&filter, "mount", &[]), RET_ALLOW);
    }

    #[test]
    fn return_values_are_the_kernels() {
        assert_eq!(RET_KILL_PROCESS, libc::SECCOMP_RET_KILL_PROCESS);
        assert_eq!(RET_KILL_THREAD, libc::SECCOMP_RET_KILL_THREAD);
        assert_eq!(RET_TRAP, libc::SECCOMP_RET_TRAP);
        assert_eq!(RET_ERRNO, libc::SECCOMP_RET_ERRNO);
        assert_eq!(RET_TRACE, libc::SECCOMP_RET_TRACE);
        assert_eq!(RET_LOG, libc::SECCOMP_RET_LOG);
        assert_eq!(RET_ALLOW, libc::SECCOMP_RET_ALLOW);
    }
}
