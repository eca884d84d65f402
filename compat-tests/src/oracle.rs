// SPDX-License-Identifier: MIT
//! The oracle of the load rules: what the decoder must answer for a load, restated
//! independently of `abi/src/load/`, and the one statement of Xen's order of checks outside
//! it.
//!
//! Two consumers, so that the order is written once here:
//! - the property tests `compat-tests/tests/decode_props.rs`, which hold the decoder's
//!   answer to this one, error for error, on random and mutated loads;
//! - the multi-fault section of the catalogue (`crate::multifault`), whose expected errno
//!   and error for every pair of faults are this oracle's answers.
//!
//! Independent means written differently from the product: wide (`u128`) arithmetic
//! instead of checked adds, modulo instead of masks, one plain loop per pass instead of a
//! sweep, and Xen 4.23's order of checks (`kexec_load`, `kimage_alloc`,
//! `kimage_crash_alloc`, `do_kimage_alloc`, `machine_kexec_load`) as the facts sheet lists
//! it, each pass over the segments complete before the next, with this crate's departures
//! (16 segments accepted, a destination wrapping past 2^64 refused but one ending exactly
//! at 2^64 accepted, the crash entry inside the region, the reserved byte checked last of
//! all).

use xen_kexec_abi::host::HostDescription;
use xen_kexec_abi::load::Segment;
use xen_kexec_abi::{
    layout, x86_64, Access, DestBound, ElfMachine, EntryMode, Error, GuestAbi, GuestFault,
};

/// What an accepted load gives: how Xen enters the image, and its segments with each
/// `buf` read at the guest's width.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// From the image's `arch` alone.
    pub entry_mode: EntryMode,
    /// The segments, in the order given.
    pub segments: Vec<Segment>,
}

/// The decoder's answer for a load from a guest of width `abi`, against `host`.
///
/// `load` is the load structure as the guest wrote it (a 32-bit guest's widened to the
/// 64-bit layout, every byte kept: `_pad`, and the upper half of each handle); the segment
/// array is at `load.segments` (read at the guest's width), where `readable` are the whole
/// segments that guest memory holds (the array is read in one copy, so fewer than
/// `nr_segments` readable is a fault of the whole array).
///
/// # Errors
/// The error of the first rule broken, in Xen's order.
#[allow(clippy::too_many_lines)] // the rules restated in one place, as the oracle
pub fn expected_load(
    abi: GuestAbi,
    load: &x86_64::KexecLoad,
    readable: &[x86_64::KexecSegment],
    host: &HostDescription,
) -> Result<Accepted, Error> {
    // kexec_load: the count (departure: 16 is the maximum, accepted), then the copy of
    // the array.
    if load.nr_segments > 16 {
        return Err(Error::TooManySegments {
            nr: load.nr_segments,
        });
    }
    let nr = load.nr_segments as usize;
    if nr > readable.len() {
        let size = layout::SEGMENT.size(abi.arch()) as u64;
        return Err(Error::GuestFault(GuestFault {
            addr: load.segments.addr(abi),
            len: size * u64::from(load.nr_segments),
            access: Access::Read,
        }));
    }
    // kimage_alloc: the type.
    if load.type_.0 > 1 {
        return Err(Error::UnknownType {
            value: i32::from(load.type_.0),
        });
    }
    let out: Vec<Segment> = readable[..nr]
        .iter()
        .map(|s| Segment {
            buf: match abi {
                GuestAbi::X86_64 => s.buf.raw(),
                GuestAbi::X86_32 => s.buf.raw() & 0xffff_ffff,
            },
            buf_size: s.buf_size,
            dest_maddr: s.dest_maddr,
            dest_size: s.dest_size,
        })
        .collect();
    let spans: Vec<(u128, u128)> = out
        .iter()
        .map(|s| {
            let start = u128::from(s.dest_maddr);
            (start, start + u128::from(s.dest_size))
        })
        .collect();
    let index = |i: usize| u8::try_from(i).unwrap_or(u8::MAX);
    // kimage_crash_alloc: the entry (departure: inside the region, not one past it),
    // then every segment with a buffer.
    if load.type_.0 == 1 {
        let Some(region) = host.crash_region else {
            return Err(Error::NoCrashRegion);
        };
        let (cs, ce) = (
            u128::from(region.start()),
            u128::from(region.start()) + u128::from(region.size()),
        );
        let entry = u128::from(load.entry_maddr);
        if !(cs <= entry && entry < ce) {
            return Err(Error::CrashEntryOutside {
                entry: load.entry_maddr,
            });
        }
        for (i, (s, &(start, end))) in out.iter().zip(&spans).enumerate() {
            if s.buf != 0 && !(cs <= start && end <= ce) {
                return Err(Error::CrashSegmentOutside {
                    segment: index(i),
                    dest_maddr: s.dest_maddr,
                    dest_size: s.dest_size,
                });
            }
        }
    }
    // do_kimage_alloc: alignment of both ends (departure: a wrap refused with them), ...
    let page = u128::from(host.page_size.get());
    for (i, (s, &(start, end))) in out.iter().zip(&spans).enumerate() {
        if start % page != 0 {
            return Err(Error::SegmentMisaligned {
                segment: index(i),
                bound: DestBound::Start,
                addr: s.dest_maddr,
            });
        }
        // An end of exactly 2^64 does not wrap (Xen's end is then 0, aligned).
        if end > 1u128 << 64 {
            return Err(Error::SegmentWraps {
                segment: index(i),
                dest_maddr: s.dest_maddr,
                dest_size: s.dest_size,
            });
        }
        if end % page != 0 {
            // Below 2^64 here: 2^64 is a multiple of every page size.
            let end64 = u64::try_from(end).unwrap_or(u64::MAX);
            return Err(Error::SegmentMisaligned {
                segment: index(i),
                bound: DestBound::End,
                addr: end64,
            });
        }
    }
    // ... then overlap, the first pair in (second, first) order, ...
    for j in 0..spans.len() {
        for i in 0..j {
            if spans[i].0 < spans[j].1 && spans[j].0 < spans[i].1 {
                return Err(Error::SegmentsOverlap {
                    first: index(i),
                    second: index(j),
                });
            }
        }
    }
    // ... then the buffer sizes.
    for (i, s) in out.iter().enumerate() {
        if s.buf_size > s.dest_size {
            return Err(Error::BufferExceedsDest {
                segment: index(i),
                buf_size: s.buf_size,
                dest_size: s.dest_size,
            });
        }
    }
    // machine_kexec_load: the arch, which also says how the image is entered.
    let entry_mode = match load.arch.0 {
        3 => EntryMode::Protected32,
        62 => EntryMode::Long64,
        other => {
            return Err(Error::UnsupportedArch {
                arch: ElfMachine(other),
            })
        }
    };
    // This crate's own rule, after all of Xen's.
    if load._pad != 0 {
        return Err(Error::ReservedNotZero { value: load._pad });
    }
    Ok(Accepted {
        entry_mode,
        segments: out,
    })
}
