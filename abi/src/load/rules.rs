// SPDX-License-Identifier: MIT
//! The rules a load must pass, in Xen's order: the one statement of them in this crate,
//! used by the hypervisor's decoder ([`crate::decode`]) and by the toolstack's builder
//! ([`LoadRequest::validate`](super::LoadRequest::validate)) alike.
//!
//! The rules are those of Xen 4.23's `kexec_load` (`xen/common/kexec.c` and
//! `kimage.c`), with Xen's weaknesses fixed, **checked in Xen's order**, so that a request
//! that breaks several rules gets the errno Xen returns for it (the errno is part of the
//! ABI a caller sees). Each pass over the segments completes before the next begins, so
//! the segment an error names is the one Xen's pass stops at:
//!
//! 0. (decoder) the load structure is copied (`EFAULT`, [`Error::GuestFault`]);
//!    `nr_segments <= KEXEC_SEGMENT_MAX`, else `EINVAL` ([`Error::TooManySegments`]);
//!    then the segment array is copied (`EFAULT`). **Departure**: Xen tests
//!    `nr_segments >= KEXEC_SEGMENT_MAX` and so refuses the maximum itself; 16 segments
//!    are accepted here ([`RuleProfile::Xen`]: 15 at most, as Xen).
//! 1. `type` is `KEXEC_TYPE_DEFAULT` or `KEXEC_TYPE_CRASH`, else `EINVAL`
//!    ([`Error::UnknownType`]).
//! 2. For a crash image (`kimage_crash_alloc`):
//!    - the host reserves a crash region, else `EADDRNOTAVAIL` ([`Error::NoCrashRegion`]);
//!    - the entry point is in `[start, start + size)`, else `EADDRNOTAVAIL`
//!      ([`Error::CrashEntryOutside`]). **Departure**: Xen's test accepts an entry
//!      equal to `start + size`, one byte past the region;
//!    - every segment with a source buffer (a non-null `buf`, read at the guest's width)
//!      has its destination inside the crash region, else `EADDRNOTAVAIL`
//!      ([`Error::CrashSegmentOutside`]). As in Xen, a segment without a buffer is not
//!      checked: Xen copies nothing for it. A destination whose end wraps is not inside.
//! 3. For each segment (`do_kimage_alloc`'s first loop):
//!    - `dest_maddr` is page aligned, else `EADDRNOTAVAIL`
//!      ([`Error::SegmentMisaligned`], [`DestBound::Start`]);
//!    - `dest_maddr + dest_size` does not wrap past 2^64, else `EADDRNOTAVAIL`
//!      ([`Error::SegmentWraps`]). **Departure**: Xen adds without a check, so a
//!      segment near the top of the address space wraps to a small end that passes the
//!      alignment test and defeats the overlap test. A wrapping end is not a machine
//!      address at all, so this crate answers as it does for the other unusable
//!      destination addresses: `EADDRNOTAVAIL` (Linux's kexec answers the same for a
//!      segment whose end is below its start). A destination that ends exactly at 2^64
//!      (its last byte at `u64::MAX`) does not wrap, and is accepted as Xen accepts it
//!      (Xen's end is then 0, which is aligned); unlike Xen, its true end takes part
//!      in the overlap and crash-region tests;
//!    - the end is page aligned, else `EADDRNOTAVAIL` ([`Error::SegmentMisaligned`],
//!      [`DestBound::End`]).
//! 4. Destinations are pairwise disjoint, else `EINVAL` ([`Error::SegmentsOverlap`],
//!    the first pair in `(second, first)` order, as Xen's nested loop finds it). Ranges
//!    are half-open, so segments that touch do not overlap. As in Xen, the test is
//!    `a.start < b.end && b.start < a.end`, so an empty destination strictly inside
//!    another one counts as overlapping.
//! 5. For each segment, `buf_size <= dest_size`, else `EINVAL`
//!    ([`Error::BufferExceedsDest`]).
//! 6. `arch` is `EM_386` or `EM_X86_64`, else `EINVAL` ([`Error::UnsupportedArch`]). Xen
//!    checks it last of all, in `machine_kexec_load`, after copying the segments'
//!    sources; here it is checked before any source is touched. That changes what is
//!    copied, not the errno: for a request with both a bad arch and a faulting source
//!    Xen too answers `EINVAL`, since its `kimage_load_segment` overwrites the copy's
//!    `EFAULT` (measured on Xen 4.17.7 by the differential run, `docs/realxen.md`).
//! 7. (decoder only) the reserved `_pad` byte is zero, else `EINVAL`
//!    ([`Error::ReservedNotZero`]). **Departure**: Xen never reads it. The facts this
//!    crate follows list unchecked reserved bytes among Xen's weaknesses: a byte that
//!    callers may fill with garbage can never be given a meaning later, and refusing it
//!    now is the only way to keep it usable. It is checked after all of Xen's rules, so
//!    it never changes which errno Xen's rules give. The cost: a caller that leaves the
//!    byte uninitialised, which Xen tolerates, is refused here; the encoder in
//!    [`crate::encode`] always writes zero. [`RuleProfile::Xen`] ignores the byte, as
//!    Xen: libxenctrl never writes it. (The upper 4 bytes of a 32-bit guest's
//!    handles are not reserved bytes but the rest of a union, and stay ignored: see
//!    [`crate::GuestHandle64`].)
//!
//! **Speed without a change of order.** A load that passes every rule is recognised in
//! one branch-free sweep (linear in the segments for the orders loaders send); only a
//! load that may fail some rule (or that names a destination start or size of 2^63 or
//! more, which no machine has) runs the rules one pass after another in the order above,
//! and those passes alone choose the error. The sweep is `load/sweep.rs` (`passes_all`), with
//! its property test against the passes here; see also the README's benchmarks.
//!
//! The page size and the crash region come from the [`HostDescription`], never from a
//! global.

use crate::entry::EntryMode;
use crate::enums::{ElfMachine, KexecType};
use crate::error::{DestBound, Error};
use crate::host::{HostDescription, PageSize, RuleProfile};

use super::types::{LoadRequest, Segment, ValidatedLoad, CAPACITY};

/// What the rules look at: a [`LoadRequest`]'s fields, with the segments borrowed from
/// wherever they were read to.
#[derive(Clone, Copy)]
pub(crate) struct Rules<'a> {
    /// The image's type.
    pub(crate) type_: KexecType,
    /// The image's ELF machine.
    pub(crate) arch: ElfMachine,
    /// The entry point.
    pub(crate) entry_maddr: u64,
    /// The segments.
    pub(crate) segments: &'a [Segment],
}

/// What the rules are checked on: a request, or a load being decoded in place.
pub(crate) trait AsRules {
    /// The fields the rules look at.
    fn rules(&self) -> Rules<'_>;
}

/// `AsRules` for types with the request's four fields, under their names.
macro_rules! as_rules {
    ($($t:ty),*) => {$(
        impl AsRules for $t {
            #[inline]
            fn rules(&self) -> Rules<'_> {
                Rules {
                    type_: self.type_,
                    arch: self.arch,
                    entry_maddr: self.entry_maddr,
                    segments: self.segments.as_slice(),
                }
            }
        }
    )*};
}
as_rules!(LoadRequest, ValidatedLoad);

/// [`first_broken`] out of line, given where to find the request: the error path,
/// which costs the fast one nothing (not even spilling the request's fields).
#[cold]
#[inline(never)]
pub(crate) fn first_broken_of<R: AsRules>(
    req: &R,
    host: &HostDescription,
    reserved: u8,
) -> Result<EntryMode, Error> {
    first_broken(req.rules(), host, reserved)
}

/// The rules in Xen's order, each pass over the segments complete before the next.
pub(super) fn first_broken(
    req: Rules<'_>,
    host: &HostDescription,
    reserved: u8,
) -> Result<EntryMode, Error> {
    check_type(req.type_)?;
    let segments = req.segments;
    if req.type_ == KexecType::CRASH {
        check_crash(segments, req.entry_maddr, host)?;
    }
    let mut ends = [0u128; CAPACITY];
    for ((index, seg), end) in (0u8..).zip(segments).zip(ends.iter_mut()) {
        *end = check_destination(index, seg, host.page_size)?;
    }
    check_disjoint(segments, &ends)?;
    for (index, seg) in (0u8..).zip(segments) {
        check_buffer(index, seg)?;
    }
    let entry_mode = check_arch(req.arch)?;
    check_reserved(reserved)?;
    Ok(entry_mode)
}
/// Rule 1: the type is DEFAULT or CRASH.
pub(crate) const fn check_type(type_: KexecType) -> Result<KexecType, Error> {
    type_.known()
}

/// Rule 7 (decoder only): the reserved byte is zero. See the module documentation for
/// why this departs from Xen.
const fn check_reserved(pad: u8) -> Result<(), Error> {
    if pad == 0 {
        Ok(())
    } else {
        Err(Error::ReservedNotZero { value: pad })
    }
}

/// Rule 6: the arch is one Xen can enter; gives the entry mode.
pub(super) const fn check_arch(arch: ElfMachine) -> Result<EntryMode, Error> {
    EntryMode::for_arch(arch)
}

/// Rule 0: at most `KEXEC_SEGMENT_MAX` segments; gives the count.
///
/// Departure from Xen: Xen refuses `nr_segments >= KEXEC_SEGMENT_MAX`, so a load of
/// exactly the maximum, 16, fails there. The maximum is a maximum: 16 is accepted here,
/// except under [`RuleProfile::Xen`], which answers as Xen (at most 15).
pub(crate) fn check_count(nr_segments: u32, profile: RuleProfile) -> Result<usize, Error> {
    if nr_segments <= profile.max_segments() {
        usize::try_from(nr_segments).map_err(|_| Error::TooManySegments { nr: nr_segments })
    } else {
        Err(Error::TooManySegments { nr: nr_segments })
    }
}

/// Rule 2: a crash image is entered in the crash region, and every segment it copies
/// lies there.
fn check_crash(segments: &[Segment], entry: u64, host: &HostDescription) -> Result<(), Error> {
    let region = host.crash_region.ok_or(Error::NoCrashRegion)?;
    // Departure from Xen: Xen accepts `entry == start + size`, one byte past the
    // region; the entry must be one of the region's bytes.
    if !region.contains(entry) {
        return Err(Error::CrashEntryOutside { entry });
    }
    for (index, seg) in (0u8..).zip(segments) {
        // As in Xen: only segments with a source buffer are checked; Xen copies nothing
        // for the others. A wrapping end lies in no region; an end at 2^64 may.
        let inside = match seg.dest_range() {
            Some(dest) => region.covers_range(dest),
            None => false,
        };
        if seg.has_buffer() && !inside {
            return Err(Error::CrashSegmentOutside {
                segment: index,
                dest_maddr: seg.dest_maddr,
                dest_size: seg.dest_size,
            });
        }
    }
    Ok(())
}

/// Rule 3, for segment `index`: alignment of both bounds, no wrap. Gives the end of the
/// destination, which may be 2^64 itself.
fn check_destination(index: u8, seg: &Segment, page: PageSize) -> Result<u128, Error> {
    if !page.is_aligned(seg.dest_maddr) {
        return Err(Error::SegmentMisaligned {
            segment: index,
            bound: DestBound::Start,
            addr: seg.dest_maddr,
        });
    }
    // Departure from Xen: the end is computed without wrapping; a wrap past 2^64 is
    // EADDRNOTAVAIL, not a small end (see the module documentation). An end of exactly
    // 2^64 is a multiple of every page size, as Xen's wrapped end of 0 is.
    let end = u128::from(seg.dest_maddr) + u128::from(seg.dest_size);
    if end > 1 << 64 {
        return Err(Error::SegmentWraps {
            segment: index,
            dest_maddr: seg.dest_maddr,
            dest_size: seg.dest_size,
        });
    }
    let end_bits = seg.dest_maddr.wrapping_add(seg.dest_size);
    if !page.is_aligned(end_bits) {
        return Err(Error::SegmentMisaligned {
            segment: index,
            bound: DestBound::End,
            addr: end_bits,
        });
    }
    Ok(end)
}

/// Rule 5, for segment `index`: the source fits in the destination.
fn check_buffer(index: u8, seg: &Segment) -> Result<(), Error> {
    if seg.buf_size > seg.dest_size {
        return Err(Error::BufferExceedsDest {
            segment: index,
            buf_size: seg.buf_size,
            dest_size: seg.dest_size,
        });
    }
    Ok(())
}

/// [`overlap`] with ends that may be 2^64 (the ordered pass's).
#[allow(clippy::needless_bitwise_bool)]
fn overlap_wide(a: &Segment, a_end: u128, b: &Segment, b_end: u128) -> bool {
    (u128::from(a.dest_maddr) < b_end) & (u128::from(b.dest_maddr) < a_end)
}

/// Whether destinations `a` and `b` (half-open) overlap. `&`, not `&&`: no branch, so
/// the pass over all pairs stays branch-free.
#[allow(clippy::needless_bitwise_bool)]
pub(super) const fn overlap(a: &Segment, a_end: u64, b: &Segment, b_end: u64) -> bool {
    (a.dest_maddr < b_end) & (b.dest_maddr < a_end)
}

/// Rule 4: destinations are pairwise disjoint; `ends` holds each segment's end.
///
/// The ordered pass, run only when some rule may fail (a valid load is accepted by
/// [`passes_all`], in linear time for the orders loaders send). O(n^2) pairs (at most 120
/// at `KEXEC_SEGMENT_MAX` = 16), no allocation: the first loop only asks whether any pair
/// overlaps, branch-free ([`any_overlap`] is the same loop); only when one does, the
/// second looks for the first overlapping pair in `(second, first)` order, as Xen's nested
/// loop finds it, so the error names the same pair whatever the speed-up.
fn check_disjoint(segments: &[Segment], ends: &[u128]) -> Result<(), Error> {
    let mut any = false;
    for (j, (b, &b_end)) in segments.iter().zip(ends).enumerate() {
        for (a, &a_end) in segments.iter().zip(ends).take(j) {
            any |= overlap_wide(a, a_end, b, b_end);
        }
    }
    if !any {
        return Ok(());
    }
    for ((second, b), &b_end) in (0u8..).zip(segments).zip(ends) {
        for ((first, a), &a_end) in (0u8..).zip(segments).zip(ends).take(usize::from(second)) {
            if overlap_wide(a, a_end, b, b_end) {
                return Err(Error::SegmentsOverlap { first, second });
            }
        }
    }
    Ok(())
}
