// SPDX-License-Identifier: MIT
//! Xen's answers against the engine's, call by call. The only differences allowed are
//! the departures the README documents, each named by its rule ([`Rule`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use xen_kexec_abi::Errno;

use crate::gen::{cmd, faults, Call, Region, Request};
use crate::transcript::Answer;

/// A documented departure that permits a difference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// Xen's status answers the slot-position bit (it flips on every successful load
    /// and every unload of the type, as the comparison tracks from Xen's own answers);
    /// the engine answers presence.
    StatusIsPresence,
    /// Xen refuses 16 segments (`nr_segments >= 16`); the engine accepts 16.
    SixteenSegments,
    /// A wrapping segment: `EADDRNOTAVAIL` from the engine, whatever Xen's other
    /// checks give (the generator never lets Xen act on one).
    SegmentWraps,
    /// Xen accepts a crash entry one byte past the region; the engine refuses it.
    CrashEntryInRegion,
    /// A non-zero `_pad` is `EINVAL` from the engine; Xen never reads it.
    PadIsZero,
    /// A bad arch is refused before any copy: `EINVAL` from the engine where Xen
    /// would give `EFAULT` for a faulting source it copied first (the README's old
    /// claim; never seen: Xen overwrites the copy's `EFAULT` and answers `EINVAL` too).
    ArchBeforeCopy,
    /// A source buffer that faults: Xen returns 0 with the image partly copied (its
    /// copy's `-EFAULT` is overwritten); the engine returns `EFAULT`.
    FaultingSourceIsEfault,
    /// An unknown command: Xen 4.17 returns 0 (`do_kexec_op_internal` has no default
    /// case, and its result still holds the XSM check's 0); the engine, as Xen 4.23,
    /// returns `EOPNOTSUPP` (Xen fixed this upstream in 2026). Found by this test.
    UnknownCmdIsEopnotsupp,
    /// A segment with no buffer and `dest_size` 0: Xen fails the load with `ENOMEM`
    /// (`kimage_load_segment` starts from `-ENOMEM`, and neither the copy, skipped for a
    /// null buffer, nor the mapping loop, empty, overwrites it); the engine loads it.
    /// Found by this test.
    EmptySegmentLoads,
}

/// Every rule, in the order reports list them.
pub const RULES: [Rule; 9] = [
    Rule::StatusIsPresence,
    Rule::SixteenSegments,
    Rule::SegmentWraps,
    Rule::CrashEntryInRegion,
    Rule::PadIsZero,
    Rule::ArchBeforeCopy,
    Rule::FaultingSourceIsEfault,
    Rule::UnknownCmdIsEopnotsupp,
    Rule::EmptySegmentLoads,
];

impl Rule {
    /// The rule's name, as reports print it.
    pub const fn name(self) -> &'static str {
        match self {
            Rule::StatusIsPresence => "status-is-presence",
            Rule::SixteenSegments => "sixteen-segments",
            Rule::SegmentWraps => "segment-wraps",
            Rule::CrashEntryInRegion => "crash-entry-in-region",
            Rule::PadIsZero => "pad-is-zero",
            Rule::ArchBeforeCopy => "arch-before-copy",
            Rule::FaultingSourceIsEfault => "faulting-source-is-efault",
            Rule::UnknownCmdIsEopnotsupp => "unknown-cmd-is-eopnotsupp",
            Rule::EmptySegmentLoads => "empty-segment-loads",
        }
    }
}

/// How one call compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The same answer and the same bytes written.
    Same,
    /// Different, as a documented departure permits.
    Allowed(Rule),
    /// Different, and no rule permits it.
    Differs(String),
}

/// Xen's slot-position bits (DEFAULT, CRASH), tracked from Xen's own answers.
#[derive(Clone, Copy, Debug, Default)]
pub struct PositionBits([bool; 2]);

const EINVAL: i64 = -22;
const EFAULT: i64 = -14;
const EADDRNOTAVAIL: i64 = -99;
const EOPNOTSUPP: i64 = -95;
const ENOMEM: i64 = -12;

/// Compares one call; `bits` is Xen's position bits before it, updated after.
pub fn judge(
    call: &Call,
    base: u64,
    crash: Region,
    xen: &Answer,
    engine: &Answer,
    bits: &mut PositionBits,
) -> Verdict {
    let t = call.type_byte(base).filter(|&t| t <= 1).map(usize::from);
    let verdict = if xen == engine {
        Verdict::Same
    } else if let Some(rule) = permitted(call, base, crash, xen, engine, t.map(|t| bits.0[t])) {
        Verdict::Allowed(rule)
    } else {
        Verdict::Differs(format!(
            "Xen answered {}, the engine {}",
            describe(xen),
            describe(engine)
        ))
    };
    if let (Some(t), 0, cmd::LOAD | cmd::UNLOAD) = (t, xen.rc, call.cmd) {
        bits.0[t] = !bits.0[t];
    }
    verdict
}

fn permitted(
    call: &Call,
    base: u64,
    crash: Region,
    xen: &Answer,
    engine: &Answer,
    bit: Option<bool>,
) -> Option<Rule> {
    if call.cmd == cmd::STATUS {
        let bit = i64::from(bit?);
        let presence = engine.rc == 0 || engine.rc == 1;
        return (xen.rc == bit && presence && engine.wrote.is_none())
            .then_some(Rule::StatusIsPresence);
    }
    if call.cmd > 6 {
        return (xen.rc == 0
            && engine.rc == EOPNOTSUPP
            && xen.wrote.is_none()
            && engine.wrote.is_none())
        .then_some(Rule::UnknownCmdIsEopnotsupp);
    }
    let Request::Load(l) = &call.req else {
        return None;
    };
    if call.cmd != cmd::LOAD || faults(base, call.arg, 24) {
        return None;
    }
    let segs = l.read_segments();
    let checks = [
        (
            l.nr_segments == 16 && xen.rc == EINVAL,
            Rule::SixteenSegments,
        ),
        (
            engine.rc == EADDRNOTAVAIL
                && segs.iter().any(|s| {
                    s.dest
                        .checked_add(s.size)
                        .is_none_or(|e| e > u64::MAX - 0xfff)
                }),
            Rule::SegmentWraps,
        ),
        (
            l.type_ == 1 && l.entry == crash.end() && engine.rc == EADDRNOTAVAIL,
            Rule::CrashEntryInRegion,
        ),
        (l.pad != 0 && engine.rc == EINVAL, Rule::PadIsZero),
        (
            l.arch != 3 && l.arch != 62 && engine.rc == EINVAL && xen.rc == EFAULT,
            Rule::ArchBeforeCopy,
        ),
        (
            segs.iter().any(|s| faults(base, s.buf, s.buf_size))
                && engine.rc == EFAULT
                && xen.rc == 0,
            Rule::FaultingSourceIsEfault,
        ),
        (
            xen.rc == ENOMEM && segs.iter().any(|s| s.buf == 0 && s.size == 0),
            Rule::EmptySegmentLoads,
        ),
    ];
    checks
        .iter()
        .find(|(holds, _)| *holds)
        .map(|(_, rule)| *rule)
}

/// An answer in words: `0`, `-EINVAL (22)`, with the bytes written.
pub fn describe(a: &Answer) -> String {
    let mut s = match i32::try_from(-a.rc) {
        Ok(e) if a.rc < 0 => format!("-{:?} ({e})", Errno(e)),
        _ => a.rc.to_string(),
    };
    if let Some(w) = &a.wrote {
        let _ = write!(
            s,
            ", wrote {}",
            Answer {
                rc: 0,
                wrote: Some(w.clone())
            }
            .entry()
            .trim_start_matches("0:")
        );
    }
    s
}

/// The name of a call's command.
pub fn cmd_name(c: u32) -> String {
    match c {
        cmd::GET_RANGE => "get_range".into(),
        cmd::LOAD => "load".into(),
        cmd::UNLOAD => "unload".into(),
        cmd::STATUS => "status".into(),
        other => format!("unknown({other})"),
    }
}

/// The figures and verdicts of a whole run.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Calls compared.
    pub calls: usize,
    /// Calls by command (Xen's view: `load` and so on, `unknown` for the rest).
    pub per_cmd: BTreeMap<String, usize>,
    /// Xen's answers by errno (`ok` for 0 and 1).
    pub per_errno: BTreeMap<String, usize>,
    /// Allowed differences, by rule.
    pub allowed: BTreeMap<&'static str, usize>,
    /// Every difference no rule permits: `(call index, what differs)`.
    pub differences: Vec<(usize, String)>,
}

/// Compares every call that both sides answered.
pub fn compare(
    calls: &[&Call],
    base: u64,
    crash: Region,
    xen: &[Answer],
    engine: &[Answer],
) -> Summary {
    let mut s = Summary::default();
    let mut bits = PositionBits::default();
    for (i, ((call, x), e)) in calls.iter().zip(xen).zip(engine).enumerate() {
        s.calls += 1;
        let name = if call.cmd > 6 {
            "unknown".to_owned()
        } else {
            cmd_name(call.cmd)
        };
        *s.per_cmd.entry(name).or_default() += 1;
        let errno = match i32::try_from(-x.rc) {
            Ok(e) if x.rc < 0 => format!("{:?}", Errno(e)),
            _ => "ok".to_owned(),
        };
        *s.per_errno.entry(errno).or_default() += 1;
        match judge(call, base, crash, x, e, &mut bits) {
            Verdict::Same => {}
            Verdict::Allowed(rule) => *s.allowed.entry(rule.name()).or_default() += 1,
            Verdict::Differs(why) => s.differences.push((i, why)),
        }
    }
    s
}

impl Summary {
    /// The figures on one line each.
    pub fn render(&self) -> String {
        let join = |it: Vec<String>| it.join(", ");
        let mut out = format!("{} hypercalls compared\n", self.calls);
        let _ = writeln!(
            out,
            "  per command: {}",
            join(
                self.per_cmd
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect()
            )
        );
        let _ = writeln!(
            out,
            "  per errno (Xen's answers): {}",
            join(
                self.per_errno
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect()
            )
        );
        let rules = RULES;
        let _ = writeln!(
            out,
            "  allowed differences by rule: {}",
            join(
                rules
                    .iter()
                    .map(|r| format!(
                        "{} {}",
                        r.name(),
                        self.allowed.get(r.name()).copied().unwrap_or(0)
                    ))
                    .collect()
            )
        );
        let _ = writeln!(
            out,
            "  crash-load-unloads-first: never exercised (an unload goes before every crash load Xen may act on: two crash loads can panic Xen)"
        );
        let _ = writeln!(
            out,
            "  differences no rule permits: {}",
            self.differences.len()
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: u64 = 0x7f00_0000_0000;
    const CRASH: Region = Region {
        start: 0x2000_0000,
        size: 0x400_0000,
    };

    fn call(cmd: u32) -> Call {
        let req = if cmd == cmd::STATUS {
            Request::Status { type_: 1 }
        } else {
            Request::Unload { type_: 1 }
        };
        Call {
            cmd,
            arg: BASE,
            req,
            guard: false,
        }
    }

    fn rc(rc: i64) -> Answer {
        Answer { rc, wrote: None }
    }

    #[test]
    fn a_status_difference_is_allowed_only_when_xen_answers_its_position_bit() {
        let mut bits = PositionBits::default();
        // Bit 0: Xen saying 0 where the engine says 1 is the bit.
        assert_eq!(
            judge(&call(cmd::STATUS), BASE, CRASH, &rc(0), &rc(1), &mut bits),
            Verdict::Allowed(Rule::StatusIsPresence)
        );
        // Xen saying 1 with the bit at 0 is no documented behaviour.
        assert!(matches!(
            judge(&call(cmd::STATUS), BASE, CRASH, &rc(1), &rc(0), &mut bits),
            Verdict::Differs(_)
        ));
        // An unload flips the bit (Xen's answer 0), even with nothing loaded.
        assert_eq!(
            judge(&call(cmd::UNLOAD), BASE, CRASH, &rc(0), &rc(0), &mut bits),
            Verdict::Same
        );
        assert_eq!(
            judge(&call(cmd::STATUS), BASE, CRASH, &rc(1), &rc(0), &mut bits),
            Verdict::Allowed(Rule::StatusIsPresence)
        );
    }

    #[test]
    fn an_unknown_command_may_differ_only_as_zero_against_eopnotsupp() {
        let mut bits = PositionBits::default();
        let unknown = Call {
            cmd: 483,
            arg: BASE,
            req: Request::Raw { bytes: [0; 24] },
            guard: false,
        };
        assert_eq!(
            judge(&unknown, BASE, CRASH, &rc(0), &rc(-95), &mut bits),
            Verdict::Allowed(Rule::UnknownCmdIsEopnotsupp)
        );
        assert!(matches!(
            judge(&unknown, BASE, CRASH, &rc(-22), &rc(-95), &mut bits),
            Verdict::Differs(_)
        ));
    }
}
