// SPDX-License-Identifier: MIT
//! The sequence: four probes (the get_range answers the engine's simulated host is
//! configured from), then random calls ([`crate::gen`] has the rules of what is sent).

use crate::gen::{
    certainly_refused, cmd, small_and_sane, Call, Load, Params, Request, Rng, Seg, BAD_HIGH,
    BAD_LOW, BUF_SIZE,
};
use xen_kexec_abi::consts::{EM_386, EM_X86_64};

/// The probes, in order: crash region, Xen, vmcoreinfo, CPU 0's notes (range kinds).
pub const PROBES: [i32; 4] = [0, 1, 6, 2];

/// The whole sequence for `p`.
pub fn generate(p: &Params) -> Vec<Call> {
    let mut rng = Rng::new(p.seed);
    let mut calls: Vec<Call> = PROBES
        .iter()
        .map(|&range| Call {
            cmd: cmd::GET_RANGE,
            arg: p.base,
            req: Request::GetRange {
                range,
                nr: 0,
                fill: [0; 16],
            },
            guard: false,
        })
        .collect();
    while calls.len() < p.count {
        let roll = rng.below(100);
        match roll {
            0..=24 => calls.push(get_range(&mut rng, p)),
            25..=69 => {
                let call = load(&mut rng, p);
                let Request::Load(l) = &call.req else {
                    continue;
                };
                if l.type_ == 1 && !certainly_refused(l, call.arg, p.base) {
                    calls.push(Call {
                        cmd: cmd::UNLOAD,
                        arg: p.base,
                        req: Request::Unload { type_: 1 },
                        guard: true,
                    });
                }
                calls.push(call);
            }
            70..=79 => calls.push(small(&mut rng, p, cmd::UNLOAD)),
            80..=91 => calls.push(small(&mut rng, p, cmd::STATUS)),
            _ => calls.push(raw(&mut rng, p)),
        }
    }
    calls.truncate(p.count.max(PROBES.len()));
    calls
}

/// An argument address: in the first page of the buffer (24 bytes of room), often
/// 8-aligned; `fault_percent` of the time a non-canonical one.
fn arg_addr(rng: &mut Rng, p: &Params, fault_percent: u64) -> u64 {
    if rng.chance(fault_percent) {
        return BAD_HIGH + rng.below(0x1000) * 8;
    }
    let off = rng.below(0x1000 - 24);
    p.base + if rng.chance(70) { off & !7 } else { off }
}

fn get_range(rng: &mut Rng, p: &Params) -> Call {
    let range = match rng.below(10) {
        0 => rng.pick(&[-1, 7, 8, i32::MIN, i32::MAX]),
        1 => rng.i32_pub(),
        _ => i32::try_from(rng.below(7)).unwrap_or(0),
    };
    let nr = match rng.below(4) {
        0 => rng.pick(&[0, 1, 2, -1, 63, 64, i32::MAX, i32::MIN]),
        1 => rng.i32_pub(),
        _ => 0,
    };
    let fill = if rng.chance(50) {
        [0; 16]
    } else {
        rng.bytes_pub()
    };
    Call {
        cmd: cmd::GET_RANGE,
        arg: arg_addr(rng, p, 8),
        req: Request::GetRange { range, nr, fill },
        guard: false,
    }
}

fn small(rng: &mut Rng, p: &Params, command: u32) -> Call {
    let type_ = match rng.below(20) {
        0 | 1 => rng.u8_pub(),
        n if n < 11 => 0,
        _ => 1,
    };
    let req = if command == cmd::UNLOAD {
        Request::Unload { type_ }
    } else {
        Request::Status { type_ }
    };
    Call {
        cmd: command,
        arg: arg_addr(rng, p, 5),
        req,
        guard: false,
    }
}

fn raw(rng: &mut Rng, p: &Params) -> Call {
    let command = if rng.chance(50) {
        rng.pick(&[cmd::GET_RANGE, cmd::UNLOAD, cmd::STATUS])
    } else {
        match rng.below(3) {
            0 => rng.pick(&[7, 8, 9, 16, 0x100, 0x7fff_ffff, 0x8000_0000, u32::MAX]),
            1 => 7 + u32::try_from(rng.below(1000)).unwrap_or(0),
            _ => u32::try_from(rng.below(1 << 32)).unwrap_or(7).max(7),
        }
    };
    Call {
        cmd: command,
        arg: arg_addr(rng, p, 10),
        req: Request::Raw {
            bytes: rng.bytes_pub(),
        },
        guard: false,
    }
}

/// A load: a small, valid-looking one, then up to three mutations; the mutations are
/// dropped when Xen might act on them unsafely.
fn load(rng: &mut Rng, p: &Params) -> Call {
    let type_ = match rng.below(20) {
        0 => rng.u8_pub(),
        n if n < 14 => 1,
        _ => 0,
    };
    let base_load = valid_looking(rng, p, type_);
    let arg = arg_addr(rng, p, 0);
    let mut mutated = base_load.clone();
    let mut marg = arg;
    for _ in 0..rng.below(4) {
        mutate(rng, p, &mut mutated, &mut marg);
    }
    let (l, arg) = if certainly_refused(&mutated, marg, p.base) || small_and_sane(&mutated, p.base)
    {
        (mutated, marg)
    } else {
        (base_load, arg)
    };
    Call {
        cmd: cmd::LOAD,
        arg,
        req: Request::Load(l),
        guard: false,
    }
}

fn valid_looking(rng: &mut Rng, p: &Params, type_: u8) -> Load {
    let n = if rng.chance(85) {
        rng.below(5)
    } else {
        rng.below(18)
    };
    let mut cursor = if type_ == 1 {
        p.crash.start + rng.below(64) * 0x1000
    } else {
        0x10_0000 + rng.below(4096) * 0x1000
    };
    let mut segs = Vec::new();
    for _ in 0..n {
        let size = (1 + rng.below(8)) * 0x1000;
        let buf_size = match rng.below(4) {
            0 => 0,
            1 => size,
            2 => rng.below(size + 1),
            _ => size - rng.below(0x1000),
        }
        .min(0x8000);
        let buf = match rng.below(100) {
            0..=74 => p.base + SOURCES + rng.below(BUF_SIZE - SOURCES - buf_size + 1),
            75..=86 => 0,
            87..=93 => BAD_LOW,
            _ => BAD_HIGH,
        };
        segs.push(Seg {
            buf,
            buf_size,
            dest: cursor,
            size,
        });
        cursor += size + rng.below(3) * 0x1000;
    }
    if segs.len() > 1 && rng.chance(20) {
        segs.swap(0, 1);
    }
    let entry = match (type_, segs.first()) {
        (1, Some(s)) if rng.chance(80) => s.dest + rng.below(s.size),
        (1, _) => p.crash.start + rng.below(p.crash.size),
        _ => rng.below(1 << 32),
    };
    let arch = match rng.below(20) {
        0..=8 => EM_X86_64,
        9..=16 => EM_386,
        _ => u16::try_from(rng.below(1 << 16)).unwrap_or(0),
    };
    Load {
        type_,
        pad: 0,
        arch,
        nr_segments: u32::try_from(segs.len()).unwrap_or(0),
        segments: p.base
            + ARRAY
            + rng.below(0x20) * 8
            + if rng.chance(10) { rng.below(8) } else { 0 },
        entry,
        segs,
    }
}

/// Where segment arrays go (offset in the buffer).
const ARRAY: u64 = 0x1000;
/// Where sources go (offset in the buffer).
const SOURCES: u64 = 0x2000;

/// One mutation of `load` (or of its argument address `arg`). Its arithmetic wraps, as
/// a release build's would: the host's test build must generate the very same calls.
fn mutate(rng: &mut Rng, params: &Params, load: &mut Load, arg: &mut u64) {
    let count = crate::gen::len64(load.segs.len());
    let first = usize::try_from(rng.below(count)).unwrap_or(0);
    let second = usize::try_from(rng.below(count)).unwrap_or(0);
    let pages = 1 + rng.below(4);
    match (rng.below(19), load.segs.get_mut(first)) {
        (0, Some(s)) => s.dest = s.dest.wrapping_add(1 + rng.below(0xfff)),
        (1, Some(s)) => s.size = s.size.wrapping_add(1 + rng.below(0xfff)),
        (2, Some(_)) if first != second => {
            load.segs[second].dest = load.segs[first].dest.wrapping_add(rng.below(2) * 0x1000);
        }
        (3, Some(s)) => s.buf_size = s.size.wrapping_add(1 + rng.below(0x1000)),
        (4, _) => load.type_ = 2 + u8::try_from(rng.below(254)).unwrap_or(0),
        (5, Some(s)) => {
            s.dest = if rng.chance(50) {
                params.crash.end() + rng.below(4) * 0x1000 - 0x1000
            } else {
                params.crash.start.saturating_sub(pages * 0x1000)
            };
        }
        (6, _) => load.entry = params.crash.end(),
        (7, _) => load.entry = rng.next_u64(),
        (8, Some(s)) => {
            s.dest = 0u64.wrapping_sub(pages * 0x1000);
            s.size = (pages + 1 + rng.below(4)) * 0x1000;
        }
        (9, Some(s)) => s.size = rng.next_u64() & !0xfff,
        (10, _) => load.segments = rng.pick(&[BAD_LOW, BAD_HIGH]),
        (11, _) => load.nr_segments = rng.pick(&[16, 17, 18, 255, u32::MAX, u32::MAX / 32 + 1]),
        (12, _) => load.pad = 1 + u8::try_from(rng.below(255)).unwrap_or(0),
        (13, Some(s)) => s.buf = 0,
        (14, Some(s)) => s.buf = rng.pick(&[BAD_LOW, BAD_HIGH]),
        (15, _) => load.arch = rng.pick(&[0, 1, 40, 183, 0xffff]),
        (16, _) => *arg = BAD_HIGH + rng.below(0x100) * 8,
        (17, _) => load.nr_segments = u32::try_from(rng.below(count)).unwrap_or(0),
        (18, _) => load.nr_segments = u32::try_from(count + 1 + rng.below(3)).unwrap_or(0).min(15),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::{in_buffer, Region};

    fn params(seed: u64) -> Params {
        Params {
            seed,
            count: 6000,
            base: 0x7f00_0000_0000,
            crash: Region {
                start: 0x2000_0000,
                size: 0x400_0000,
            },
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_calls_and_another_seed_others() {
        assert_eq!(generate(&params(7)), generate(&params(7)));
        assert_ne!(generate(&params(7)), generate(&params(8)));
        assert_eq!(generate(&params(7)).len(), 6000);
    }

    #[test]
    fn nothing_xen_would_act_on_unsafely_is_generated() {
        for seed in 0..20 {
            let p = params(seed);
            let calls = generate(&p);
            for (k, c) in calls.iter().enumerate() {
                assert!(![0, 1, 2].contains(&c.cmd), "{c:?}");
                // Writes go only where the argument is in the buffer or never mapped.
                assert!(in_buffer(p.base, c.arg, 24) || c.arg >= BAD_HIGH, "{c:?}");
                let Request::Load(l) = &c.req else { continue };
                if certainly_refused(l, c.arg, p.base) {
                    continue;
                }
                assert!(small_and_sane(l, p.base), "{c:?}");
                if l.type_ == 1 {
                    // A crash load Xen may act on comes right after an unload.
                    let before = &calls[k - 1];
                    assert!(before.guard && before.cmd == cmd::UNLOAD, "{c:?}");
                }
            }
        }
    }

    #[test]
    fn long_sequences_generate_without_overflow_in_a_checked_build() {
        // The 100000-call soak's seed overflowed `dest + …` here before the arithmetic
        // was made to wrap.
        for seed in [1_901_776_956, 3] {
            let p = Params {
                count: 100_000,
                ..params(seed)
            };
            assert_eq!(generate(&p).len(), 100_000);
        }
    }

    #[test]
    fn every_kind_of_request_and_mutation_appears() {
        let calls = generate(&params(1));
        let p = params(1);
        let loads: Vec<&Load> = calls
            .iter()
            .filter_map(|c| match &c.req {
                Request::Load(l) => Some(l),
                _ => None,
            })
            .collect();
        assert!(loads.len() > 2000, "{}", loads.len());
        assert!(loads.iter().any(|l| l.pad != 0));
        assert!(loads.iter().any(|l| l.nr_segments == 16));
        assert!(loads
            .iter()
            .any(|l| l.segs.iter().any(|s| s.dest.checked_add(s.size).is_none())));
        assert!(loads
            .iter()
            .any(|l| l.segs.iter().any(|s| s.buf == BAD_HIGH)));
        assert!(calls.iter().any(|c| c.cmd > 6));
        assert!(calls.iter().any(|c| c.arg >= BAD_HIGH));
        assert!(calls
            .iter()
            .any(|c| matches!(c.req, Request::Raw { .. }) && c.cmd == cmd::STATUS));
        let _ = p;
    }
}
