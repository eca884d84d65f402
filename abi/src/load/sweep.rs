// SPDX-License-Identifier: MIT
//! The fast path of the load rules: a load that passes every rule of [`rules`](super::rules)
//! is recognised in one branch-free sweep over its segments ([`Sweep`], [`passes_all`]),
//! linear in the segments for the orders loaders send. It only ever says yes: anything
//! it cannot accept goes to the ordered passes of [`rules`](super::rules), which choose
//! the error. Its unit property test, below, checks that it accepts exactly what the
//! ordered passes accept.

use crate::entry::EntryMode;
use crate::enums::KexecType;
use crate::error::Error;
use crate::host::{HostDescription, MachineRange};

use super::rules::{check_arch, check_type, first_broken_of, overlap, AsRules, Rules};
use super::types::Segment;

/// Every rule of [`rules`](super::rules), with the reserved byte of a decoded request
/// (`0` for the builder's); gives the entry mode.
///
/// Two ways to one answer. [`passes_all`] decides in one branch-free sweep whether
/// every rule passes, which is the common case; it is only ever trusted to say yes (a
/// yes is exact: see its documentation). Anything else goes to [`first_broken`], the
/// rules one pass after another in Xen's order, which finds the error to give. So the
/// error and its precedence are always the ordered passes' own.
#[inline]
pub(super) fn check_rules<R: AsRules>(
    req: &R,
    host: &HostDescription,
    reserved: u8,
) -> Result<EntryMode, Error> {
    match passes_all(req.rules(), host, reserved) {
        Some(mode) => Ok(mode),
        None => first_broken_of(req, host, reserved),
    }
}

/// The fast path: `Some(entry mode)` only if every rule passes; `None` when some rule
/// may not, or when a destination's start or size is 2^63 or more (then [`first_broken`]
/// decides). One sweep over the segments ([`Sweep`]), without branches on their
/// contents, counts buffers larger than their destinations and destinations that begin
/// before the previous one's end, and ors every start and size (their low bits for
/// alignment, the top bit for a possible wrap). Destinations that ascend form one chain
/// `start[0] <= end[0] <= start[1] <= ... <= end[n-1]`: pairwise disjoint (the overlap
/// rule in linear time for the order kexec-tools sends), and inside a crash region if
/// the region covers the chain, buffers or not; only if it does not is each segment with
/// a buffer looked at ([`passes_swept`]). Other orders go to [`passes_unordered`]:
/// kexec-tools' appended low-memory segment is tested against the chain's ends,
/// descending destinations are a chain too, anything else falls back to all pairs.
#[inline]
fn passes_all(req: Rules<'_>, host: &HostDescription, reserved: u8) -> Option<EntryMode> {
    let mut sweep = Sweep::new();
    sweep.add_all(req.segments);
    passes_swept(req, &sweep, host, reserved)
}

/// [`passes_all`] once `sweep` has swept `req`'s segments (the decoder sweeps them as it
/// reads them).
// Always inlined into the decoder: left to the compiler, a binary that decodes over
// several kinds of guest memory (the benchmark's) got one shared copy, called, which
// spills what the inlined checks keep in registers: 2-4 ns of a 25 ns decode.
#[allow(clippy::inline_always)]
#[inline(always)]
pub(crate) fn passes_swept(
    req: Rules<'_>,
    sweep: &Sweep,
    host: &HostDescription,
    reserved: u8,
) -> Option<EntryMode> {
    let segments = req.segments;
    let mode = check_arch(req.arch).ok()?;
    // Misaligned, or some start or size of 2^63 or more (which might wrap).
    let misaligned = sweep.bits & ((host.page_size.get() - 1) | 1 << 63);
    if check_type(req.type_).is_err() || reserved != 0 || sweep.bad != 0 || misaligned != 0 {
        return None;
    }
    if sweep.unordered != 0 {
        let image = (req.type_, req.entry_maddr);
        return passes_unordered(segments, host, image, sweep.unordered).then_some(mode);
    }
    if req.type_ != KexecType::CRASH {
        return Some(mode);
    }
    // A crash image is entered in the host's crash region, which must exist.
    let region = host.crash_region?;
    // One chain from the first's start to the last's end: disjoint, and if the region
    // covers it, every segment lies inside, buffer or not (no handle is read); if not,
    // look at each segment with a buffer.
    let inside = match segments.first() {
        Some(first) => {
            // `covers`, knowing that the chain does not wrap: offsets from the
            // region's start, so that its end (perhaps 2^64) is never computed. The
            // chain's end is the last segment's, which the sweep holds.
            ((first.dest_maddr >= region.start())
                & (sweep.prev_end.wrapping_sub(region.start()) <= region.size()))
                || all_inside(segments, region)
        }
        None => true,
    };
    (region.contains(req.entry_maddr) & inside).then_some(mode)
}

/// The end of a destination that does not wrap (callers have checked).
#[inline]
const fn end(seg: &Segment) -> u64 {
    seg.dest_maddr.wrapping_add(seg.dest_size)
}

/// [`passes_all`] for segments that are not in ascending order (`unordered` of them
/// begin before the previous one's end), none wrapping, all aligned: whether they are
/// pairwise disjoint and, when `image` (its type and entry point) is a crash image,
/// whether it is entered in the `host`'s crash region and those with buffers lie there
/// (the region is looked up here, off the ascending path). When only the last segment
/// breaks the order (kexec-tools' low-memory segment on Xen), the others form one chain,
/// and the last is checked against the chain's two ends; descending destinations are
/// checked in one linear pass; any other order falls back to all pairs.
fn passes_unordered(
    segments: &[Segment],
    host: &HostDescription,
    (type_, entry_maddr): (KexecType, u64),
    unordered: u64,
) -> bool {
    // A crash image is entered in the host's crash region, which must exist.
    let crash = if type_ == KexecType::CRASH {
        match host.crash_region {
            Some(region) if region.contains(entry_maddr) => Some(region),
            _ => return false,
        }
    } else {
        None
    };
    let Some((last, init)) = segments.split_last() else {
        return true;
    };
    let (Some(init_first), Some(init_high)) = (init.first(), init.last()) else {
        return true;
    };
    let (init_start, init_end, last_end) = (init_first.dest_maddr, end(init_high), end(last));
    let init_ascends = unordered == u64::from(last.dest_maddr < init_end);
    // Descending: one chain from the last's start up to the first's end.
    let descends = !init_ascends
        && segments.windows(2).all(|w| match w {
            [higher, lower] => end(lower) <= higher.dest_maddr,
            _ => true,
        });
    let disjoint = descends
        || (init_ascends
            && (last_end <= init_start
                || init_end <= last.dest_maddr
                || !init
                    .iter()
                    .any(|seg| overlap(seg, end(seg), last, last_end))))
        || !any_overlap(segments);
    disjoint
        && match crash {
            None => true,
            // A chain the region covers lies inside it, buffers or not; else each
            // segment with a buffer is looked at.
            Some(region) if init_ascends => {
                (region.covers(init_start, init_end) || all_inside(init, region))
                    && all_inside(core::slice::from_ref(last), region)
            }
            Some(region) if descends => {
                region.covers(last.dest_maddr, end(init_first)) || all_inside(segments, region)
            }
            Some(region) => all_inside(segments, region),
        }
}

/// The accumulators of [`passes_all`]'s sweep: counts and or-ed bits, which a compiler
/// keeps in registers and updates with an add-with-carry per test, no branch.
pub(crate) struct Sweep {
    /// Every destination's start and size, or-ed. Its low bits: both bounds of every
    /// destination are aligned iff all of these are (`end = start + size`, and
    /// `size = end - start` modulo 2^64). Its top bit: while it is clear, every start and
    /// size is below 2^63, so no end (their sum) wraps past 2^64, and the sweep needs no
    /// carry test. (No machine has memory at 2^63; a load that names such an address is
    /// left to the ordered rules.)
    bits: u64,
    /// How many buffers are larger than their destinations.
    bad: u64,
    /// How many destinations begin before the previous one's end.
    unordered: u64,
    /// The previous destination's end (0 before the first): after the sweep, the last
    /// segment's end, which [`passes_swept`] takes as the end of an ascending chain.
    prev_end: u64,
}

impl Sweep {
    pub(crate) const fn new() -> Sweep {
        Sweep {
            bits: 0,
            bad: 0,
            unordered: 0,
            prev_end: 0,
        }
    }

    /// Folds in one segment; gives its end.
    #[inline]
    pub(crate) fn add(&mut self, seg: &Segment) -> u64 {
        // Cannot wrap unless a start or size has its top bit set, which `bits` notes.
        let end = seg.dest_maddr.wrapping_add(seg.dest_size);
        self.bad += u64::from(seg.dest_size < seg.buf_size);
        self.bits |= seg.dest_maddr | seg.dest_size;
        self.unordered += u64::from(seg.dest_maddr < self.prev_end);
        self.prev_end = end;
        end
    }

    /// Folds in every segment of `segments`, four at a time.
    #[inline]
    pub(crate) fn add_all(&mut self, segments: &[Segment]) {
        let quads = segments.chunks_exact(4);
        let rest = quads.remainder();
        for quad in quads {
            if let [a, b, c, d] = quad {
                self.add(a);
                self.add(b);
                self.add(c);
                self.add(d);
            }
        }
        for seg in rest {
            self.add(seg);
        }
    }
}

/// Whether every segment of `segments` with a buffer lies in `region`, branch-free;
/// ends are computed without a wrap check (callers have checked that none wraps).
#[allow(clippy::needless_bitwise_bool)]
fn all_inside(segments: &[Segment], region: MachineRange) -> bool {
    let (start, size) = (region.start(), region.size());
    let mut outside = false;
    for seg in segments {
        let seg_end = seg.dest_maddr.wrapping_add(seg.dest_size);
        // `covers` without branches: offsets from the region's start, so that its end
        // (perhaps 2^64) is never computed.
        outside |=
            seg.has_buffer() & ((seg.dest_maddr < start) | (seg_end.wrapping_sub(start) > size));
    }
    !outside
}

/// Whether any two destinations overlap, over all pairs, branch-free; ends are
/// computed without a wrap check (callers have checked that none wraps).
fn any_overlap(segments: &[Segment]) -> bool {
    let mut any = false;
    for (j, b) in segments.iter().enumerate() {
        let b_end = b.dest_maddr.wrapping_add(b.dest_size);
        for a in segments.iter().take(j) {
            any |= overlap(a, a.dest_maddr.wrapping_add(a.dest_size), b, b_end);
        }
    }
    any
}

#[cfg(test)]
mod tests {
    extern crate std;

    use proptest::prelude::*;
    use std::vec::Vec;

    use super::*;
    use crate::enums::ElfMachine;
    use crate::host::MachineRange;
    use crate::load::rules::first_broken;

    const PAGE: u64 = 0x1000;
    const CRASH: u64 = 0x100_0000;

    /// Segments a page or so apart, in the orders loaders send and in any order, with
    /// the odd field broken.
    fn segments() -> impl Strategy<Value = Vec<Segment>> {
        // Each segment a gap of 0 to 2 pages after the previous one (so mostly disjoint,
        // and a run of them crosses the crash region's end), or anywhere in the first 24
        // pages from two below the region (so often overlapping).
        let seg = (
            0u64..3,
            0u64..24,
            prop::bool::weighted(0.8),
            0u64..4,
            0u64..4,
            any::<bool>(),
            0u8..100,
        );
        let laid_out = prop::collection::vec(seg, 0..=16).prop_map(|segs| {
            let mut next = CRASH - 2 * PAGE;
            segs.into_iter()
                .map(|(gap, page, chained, pages, buf_pages, buffered, odd)| {
                    let dest = if chained {
                        next + gap * PAGE
                    } else {
                        CRASH - 2 * PAGE + page * PAGE
                    };
                    let mut s = Segment {
                        buf: u64::from(buffered) * 0x8000,
                        // Mostly no larger than the destination.
                        buf_size: buf_pages.min(pages) * PAGE,
                        dest_maddr: dest,
                        dest_size: pages * PAGE,
                    };
                    next = dest + pages * PAGE;
                    match odd {
                        0 => s.dest_maddr += 0x800,
                        1 => s.dest_size += 0x10,
                        2 => s.dest_maddr = u64::MAX - PAGE + 1,
                        3 => s.dest_maddr = 0,
                        4 => s.buf_size = s.dest_size + 1,
                        _ => {}
                    }
                    s
                })
                .collect::<Vec<_>>()
        });
        (laid_out, 0u8..6).prop_map(|(mut v, order)| {
            match order {
                0 => v.sort_by_key(|s| s.dest_maddr),
                1 => v.sort_by_key(|s| core::cmp::Reverse(s.dest_maddr)),
                2 => {
                    // kexec-tools' bufferless low-memory segment, appended last.
                    v.sort_by_key(|s| s.dest_maddr);
                    if let Some(last) = v.last_mut() {
                        last.buf = 0;
                        last.dest_maddr = 0;
                    }
                }
                3 => {
                    // Ascending but for the last, which keeps its buffer and lies below.
                    v.sort_by_key(|s| s.dest_maddr);
                    let n = v.len();
                    v.rotate_left(1.min(n));
                }
                4 => {
                    // Ascending but for the last two: the last lies among the others.
                    v.sort_by_key(|s| s.dest_maddr);
                    let n = v.len();
                    if n >= 2 {
                        v.swap(n - 1, n - 2);
                    }
                }
                _ => {}
            }
            v
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 8192, ..ProptestConfig::default() })]

        /// The fast path accepts exactly what the rules in Xen's order accept, so it
        /// can neither let a broken load through nor cost a valid one the slow path;
        /// the one exception, by design, is a valid load naming a destination start or
        /// size of 2^63 or more (no machine has such memory), which it leaves to the
        /// ordered rules.
        #[test]
        fn fast_path_accepts_exactly_what_the_ordered_rules_accept(
            segs in segments(),
            crash in any::<bool>(),
            arch in prop_oneof![4 => Just(ElfMachine::EM_X86_64), 4 => Just(ElfMachine::EM_386), 1 => Just(ElfMachine(40))],
            entry in prop_oneof![4 => Just(CRASH), 1 => Just(0u64)],
            reserved in prop_oneof![9 => Just(0u8), 1 => Just(1u8)],
            region in prop_oneof![3 => Just(MachineRange::new(CRASH, 16 * PAGE)), 1 => Just(None), 3 => Just(MachineRange::new(CRASH, 64 * PAGE))],
        ) {
            let req = Rules {
                type_: if crash { KexecType::CRASH } else { KexecType::DEFAULT },
                arch,
                entry_maddr: entry,
                segments: &segs,
            };
            let host = HostDescription::x86(region);
            let ordered = first_broken(req, &host, reserved);
            let beyond_2_63 = segs.iter().any(|s| (s.dest_maddr | s.dest_size) >> 63 != 0);
            match passes_all(req, &host, reserved) {
                Some(mode) => prop_assert_eq!(ordered, Ok(mode)),
                None => prop_assert!(ordered.is_err() || beyond_2_63, "{:?}", ordered),
            }
        }
    }
}
