//! Every load rule of `xen_kexec_abi::load`, through the hypervisor's decoder, for both
//! guest widths: each violation gives its exact error (errno, rule, segment), and each
//! boundary is accepted. Xen's weaknesses (16 segments refused, a wrapping end, an entry
//! one past the crash region, unchecked reserved bytes) are pinned here.

mod decode_support;

use decode_support::*;
use xen_kexec_abi::{DestBound, ElfMachine, EntryMode, Errno, Error, GuestAbi, KexecType};

const EM_386: ElfMachine = ElfMachine::EM_386;
const EM_X86_64: ElfMachine = ElfMachine::EM_X86_64;
const DEFAULT: KexecType = KexecType::DEFAULT;
const CRASH: KexecType = KexecType::CRASH;

/// Asserts that the load is refused with `want`, whose errno is `errno`, for both widths.
fn refused(raw: &RawLoad, segs: &[RawSegment], host_crash: bool, want: Error, errno: Errno) {
    let host = if host_crash {
        crash_host()
    } else {
        plain_host()
    };
    for abi in GuestAbi::ALL {
        let got = decode_load(abi, raw, segs, &host);
        assert_eq!(got, Err(want), "{abi:?}");
        assert_eq!(want.errno(), errno, "{want:?}");
    }
}

/// Asserts that the load is accepted for both widths, and returns the 64-bit result.
fn accepted(
    raw: &RawLoad,
    segs: &[RawSegment],
    host_crash: bool,
) -> xen_kexec_abi::load::ValidatedLoad {
    let host = if host_crash {
        crash_host()
    } else {
        plain_host()
    };
    let wide = decode_load(GuestAbi::X86_64, raw, segs, &host).expect("x86_64 accepts");
    let narrow = decode_load(GuestAbi::X86_32, raw, segs, &host).expect("x86_32 accepts");
    assert_eq!(wide, narrow, "the same request, whichever width sent it");
    wide
}

#[test]
fn unknown_type_is_einval() {
    let raw = header(KexecType(2), EM_X86_64, 0x10_0000, 0);
    refused(
        &raw,
        &[],
        false,
        Error::UnknownType { value: 2 },
        Errno::EINVAL,
    );
    let raw = header(KexecType(0xff), EM_X86_64, 0x10_0000, 0);
    refused(
        &raw,
        &[],
        false,
        Error::UnknownType { value: 0xff },
        Errno::EINVAL,
    );
}

#[test]
fn nonzero_reserved_pad_is_einval() {
    for pad in [1u8, 0x80, 0xff] {
        let mut raw = header(DEFAULT, EM_X86_64, 0x10_0000, 1);
        raw.pad = pad;
        refused(
            &raw,
            &touching(1, 0x10_0000),
            false,
            Error::ReservedNotZero { value: pad },
            Errno::EINVAL,
        );
    }
}

#[test]
fn unsupported_arch_is_einval() {
    for arch in [0u16, 40, 183, 0xffff] {
        let raw = header(DEFAULT, ElfMachine(arch), 0x10_0000, 0);
        refused(
            &raw,
            &[],
            false,
            Error::UnsupportedArch {
                arch: ElfMachine(arch),
            },
            Errno::EINVAL,
        );
    }
}

#[test]
fn seventeen_segments_are_einval_and_the_array_is_not_read() {
    // No segment array is mapped: reading it would be EFAULT, not EINVAL.
    for nr in [17u32, 64, u32::MAX] {
        let mut raw = header(DEFAULT, EM_X86_64, 0x10_0000, 0);
        raw.nr_segments = nr;
        refused(
            &raw,
            &[],
            false,
            Error::TooManySegments { nr },
            Errno::EINVAL,
        );
    }
}

#[test]
fn sixteen_segments_are_accepted_unlike_xen() {
    let segs = touching(16, 0x100_0000);
    let load = accepted(&header(DEFAULT, EM_X86_64, 0x100_0000, 16), &segs, false);
    assert_eq!(load.segments().len(), 16);
    assert_eq!(load.segments()[15].dest_maddr, 0x100_0000 + 15 * PAGE);
}

#[test]
fn zero_segments_are_accepted_and_read_nothing() {
    // The segments handle points nowhere mapped.
    let mut raw = header(DEFAULT, EM_X86_64, 0x10_0000, 0);
    raw.segments = 0xdead_0000;
    let load = accepted(&raw, &[], false);
    assert!(load.segments().is_empty());
}

#[test]
fn misaligned_dest_maddr_is_eaddrnotavail_naming_the_segment() {
    let mut segs = touching(3, 0x100_0000);
    segs[2].dest_maddr += 0x800;
    let want = Error::SegmentMisaligned {
        segment: 2,
        bound: DestBound::Start,
        addr: 0x100_2800,
    };
    refused(
        &header(DEFAULT, EM_X86_64, 0, 3),
        &segs,
        false,
        want,
        Errno::EADDRNOTAVAIL,
    );
    assert_eq!(want.segment(), Some(2));
}

#[test]
fn misaligned_end_is_eaddrnotavail_naming_the_segment() {
    let mut segs = touching(2, 0x100_0000);
    segs[1].dest_size = 0x1001;
    segs[1].buf_size = 0x10;
    let want = Error::SegmentMisaligned {
        segment: 1,
        bound: DestBound::End,
        addr: 0x100_2001,
    };
    refused(
        &header(DEFAULT, EM_X86_64, 0, 2),
        &segs,
        false,
        want,
        Errno::EADDRNOTAVAIL,
    );
}

#[test]
fn wrapping_end_is_eaddrnotavail_not_a_small_segment() {
    // Ends exactly at 2^64: wraps to 0, which Xen would take as aligned.
    let top = seg(0x7000_0000, 0, 0u64.wrapping_sub(PAGE), PAGE);
    let want = Error::SegmentWraps {
        segment: 0,
        dest_maddr: 0u64.wrapping_sub(PAGE),
        dest_size: PAGE,
    };
    refused(
        &header(DEFAULT, EM_X86_64, 0, 1),
        &[top],
        false,
        want,
        Errno::EADDRNOTAVAIL,
    );

    // The attack: a second segment that wraps around onto the first. Xen computes its
    // end as 0x101_0000 and its overlap test (start < other end) misses it.
    let first = seg(0x7000_0000, PAGE, 0x100_0000, 0x1_0000);
    let wrapping = seg(0x7001_0000, PAGE, 0xffff_ffff_ffff_f000, 0x101_1000);
    let want = Error::SegmentWraps {
        segment: 1,
        dest_maddr: 0xffff_ffff_ffff_f000,
        dest_size: 0x101_1000,
    };
    refused(
        &header(DEFAULT, EM_X86_64, 0, 2),
        &[first, wrapping],
        false,
        want,
        Errno::EADDRNOTAVAIL,
    );
}

#[test]
fn highest_non_wrapping_end_is_accepted() {
    // dest_maddr + dest_size = 2^64 - 4096, the highest page-aligned end that fits.
    let top = seg(0x7000_0000, PAGE, 0u64.wrapping_sub(2 * PAGE), PAGE);
    let load = accepted(&header(DEFAULT, EM_X86_64, 0, 1), &[top], false);
    let s = load.segments()[0];
    assert_eq!(s.dest_end(), Some(0u64.wrapping_sub(PAGE)));
    // Also as one huge segment from 0.
    let huge = seg(0x7000_0000, PAGE, 0, 0u64.wrapping_sub(PAGE));
    accepted(&header(DEFAULT, EM_X86_64, 0, 1), &[huge], false);
}

#[test]
fn buffer_larger_than_destination_is_einval() {
    let mut segs = touching(4, 0x100_0000);
    segs[3].buf_size = PAGE + 1;
    let want = Error::BufferExceedsDest {
        segment: 3,
        buf_size: PAGE + 1,
        dest_size: PAGE,
    };
    refused(
        &header(DEFAULT, EM_X86_64, 0, 4),
        &segs,
        false,
        want,
        Errno::EINVAL,
    );
}

#[test]
fn buffer_equal_to_destination_is_accepted() {
    let segs = [seg(0x7000_0000, 2 * PAGE, 0x100_0000, 2 * PAGE)];
    accepted(&header(DEFAULT, EM_X86_64, 0, 1), &segs, false);
}

#[test]
fn overlapping_destinations_are_einval_naming_both_segments() {
    // Segments 1 and 3 overlap by one page; 0 and 2 are elsewhere.
    let segs = [
        seg(0x7000_0000, PAGE, 0x100_0000, PAGE),
        seg(0x7000_1000, PAGE, 0x200_0000, 4 * PAGE),
        seg(0x7000_2000, PAGE, 0x300_0000, PAGE),
        seg(0x7000_3000, PAGE, 0x200_3000, 2 * PAGE),
    ];
    let want = Error::SegmentsOverlap {
        first: 1,
        second: 3,
    };
    refused(
        &header(DEFAULT, EM_X86_64, 0, 4),
        &segs,
        false,
        want,
        Errno::EINVAL,
    );

    // Identical destinations, and one destination inside another.
    let same = [seg(1, 0, 0x100_0000, PAGE), seg(2, 0, 0x100_0000, PAGE)];
    refused(
        &header(DEFAULT, EM_X86_64, 0, 2),
        &same,
        false,
        Error::SegmentsOverlap {
            first: 0,
            second: 1,
        },
        Errno::EINVAL,
    );
    let inside = [seg(1, 0, 0x100_0000, 8 * PAGE), seg(2, 0, 0x100_2000, PAGE)];
    refused(
        &header(DEFAULT, EM_X86_64, 0, 2),
        &inside,
        false,
        Error::SegmentsOverlap {
            first: 0,
            second: 1,
        },
        Errno::EINVAL,
    );
}

#[test]
fn touching_destinations_are_accepted_in_any_order() {
    let mut segs = touching(5, 0x100_0000);
    segs.reverse();
    accepted(&header(DEFAULT, EM_X86_64, 0, 5), &segs, false);
}

#[test]
fn crash_image_without_a_crash_region_is_eaddrnotavail() {
    let segs = [seg(0x7000_0000, PAGE, CRASH_START, PAGE)];
    refused(
        &header(CRASH, EM_X86_64, CRASH_START, 1),
        &segs,
        false,
        Error::NoCrashRegion,
        Errno::EADDRNOTAVAIL,
    );
}

#[test]
fn crash_segment_outside_the_region_is_eaddrnotavail() {
    let end = CRASH_START + CRASH_SIZE;
    // Below the region, straddling its start, straddling its end, above it.
    for (dest, size) in [
        (CRASH_START - 2 * PAGE, PAGE),
        (CRASH_START - PAGE, 2 * PAGE),
        (end - PAGE, 2 * PAGE),
        (end, PAGE),
    ] {
        let segs = [
            seg(0x7000_0000, PAGE, CRASH_START + PAGE, PAGE),
            seg(0x7000_1000, PAGE, dest, size),
        ];
        let want = Error::CrashSegmentOutside {
            segment: 1,
            dest_maddr: dest,
            dest_size: size,
        };
        refused(
            &header(CRASH, EM_X86_64, CRASH_START, 2),
            &segs,
            true,
            want,
            Errno::EADDRNOTAVAIL,
        );
    }
}

#[test]
fn crash_segments_filling_the_region_exactly_are_accepted() {
    let segs = [
        seg(0x7000_0000, PAGE, CRASH_START, PAGE),
        seg(0x7000_1000, PAGE, CRASH_START + PAGE, CRASH_SIZE - PAGE),
    ];
    accepted(&header(CRASH, EM_X86_64, CRASH_START, 2), &segs, true);
}

#[test]
fn crash_segment_without_a_buffer_is_not_confined_as_in_xen() {
    let segs = [
        seg(0x7000_0000, PAGE, CRASH_START, PAGE),
        seg(0, 0, 0x100_0000, PAGE), // no source buffer, outside the region
    ];
    let load = accepted(&header(CRASH, EM_X86_64, CRASH_START, 2), &segs, true);
    assert!(!load.segments()[1].has_buffer());
}

#[test]
fn crash_entry_at_the_region_end_is_eaddrnotavail_unlike_xen() {
    let segs = [seg(0x7000_0000, PAGE, CRASH_START, PAGE)];
    let end = CRASH_START + CRASH_SIZE;
    for entry in [end, end + 1, CRASH_START - 1, 0, u64::MAX] {
        let want = Error::CrashEntryOutside { entry };
        refused(
            &header(CRASH, EM_X86_64, entry, 1),
            &segs,
            true,
            want,
            Errno::EADDRNOTAVAIL,
        );
    }
}

#[test]
fn crash_entry_at_the_last_byte_and_first_byte_of_the_region_is_accepted() {
    let segs = [seg(0x7000_0000, PAGE, CRASH_START, PAGE)];
    for entry in [CRASH_START, CRASH_START + CRASH_SIZE - 1] {
        let load = accepted(&header(CRASH, EM_X86_64, entry, 1), &segs, true);
        assert_eq!(load.entry_maddr(), entry);
    }
}

#[test]
fn default_image_entry_and_destinations_are_not_confined() {
    let segs = [seg(0x7000_0000, PAGE, 0x100_0000, PAGE)];
    accepted(&header(DEFAULT, EM_X86_64, u64::MAX, 1), &segs, true);
}

#[test]
fn entry_mode_comes_from_the_image_arch_not_the_guest_width() {
    let segs = touching(1, 0x100_0000);
    for (arch, mode) in [
        (EM_386, EntryMode::Protected32),
        (EM_X86_64, EntryMode::Long64),
    ] {
        for abi in GuestAbi::ALL {
            let load = decode_load(
                abi,
                &header(DEFAULT, arch, 0x100_0000, 1),
                &segs,
                &plain_host(),
            )
            .unwrap();
            assert_eq!(load.entry_mode(), mode, "{abi:?} loading {arch:?}");
            assert_eq!(load.arch(), arch);
        }
    }
}

#[test]
fn rules_are_checked_in_the_documented_order() {
    // Every header rule broken at once: the count is reported first (the array is then
    // never read), then the type, the arch, and this crate's reserved byte last.
    let mut raw = header(KexecType(9), ElfMachine(1), 0, 0);
    raw.pad = 1;
    raw.nr_segments = 99;
    refused(
        &raw,
        &[],
        false,
        Error::TooManySegments { nr: 99 },
        Errno::EINVAL,
    );
    raw.nr_segments = 0;
    refused(
        &raw,
        &[],
        false,
        Error::UnknownType { value: 9 },
        Errno::EINVAL,
    );
    raw.type_ = 0;
    refused(
        &raw,
        &[],
        false,
        Error::UnsupportedArch {
            arch: ElfMachine(1),
        },
        Errno::EINVAL,
    );
    raw.arch = 62;
    refused(
        &raw,
        &[],
        false,
        Error::ReservedNotZero { value: 1 },
        Errno::EINVAL,
    );
    // Per segment: start alignment before the wrap, the wrap before the end alignment
    // (a segment without a buffer, which the crash-region rule does not look at).
    let bad = seg(0, u64::MAX, 0xffff_ffff_ffff_f001, 0x2001);
    let want = Error::SegmentMisaligned {
        segment: 0,
        bound: DestBound::Start,
        addr: bad.dest_maddr,
    };
    refused(
        &header(CRASH, EM_X86_64, CRASH_START, 1),
        &[bad],
        true,
        want,
        Errno::EADDRNOTAVAIL,
    );
    // The crash rules come before the segment rules: Xen's kimage_crash_alloc checks
    // the region before do_kimage_alloc looks at the segments.
    let segs = [seg(1, 0, 0x100_0000, PAGE), seg(2, 0, 0x100_0000, PAGE)];
    refused(
        &header(CRASH, EM_X86_64, CRASH_START, 2),
        &segs,
        true,
        Error::CrashSegmentOutside {
            segment: 0,
            dest_maddr: 0x100_0000,
            dest_size: PAGE,
        },
        Errno::EADDRNOTAVAIL,
    );
    refused(
        &header(DEFAULT, EM_X86_64, 0, 2),
        &segs,
        true,
        Error::SegmentsOverlap {
            first: 0,
            second: 1,
        },
        Errno::EINVAL,
    );
}

#[test]
fn x86_32_handles_ignore_the_upper_four_bytes() {
    let host = crash_host();
    let mut raw = header(CRASH, EM_X86_64, CRASH_START, 2);
    raw.segments = 0xdead_beef_0000_0000 | SEGS;
    let segs = [
        seg(0x1234_5678_7000_0000, PAGE, CRASH_START, PAGE),
        // Low half null, upper half garbage: no source buffer for a 32-bit guest, so the
        // crash-region rule does not apply to it.
        seg(0xffff_ffff_0000_0000, 0, 0x100_0000, PAGE),
    ];
    let load = decode_load(GuestAbi::X86_32, &raw, &segs, &host).unwrap();
    assert_eq!(load.segments()[0].buf, 0x7000_0000);
    assert_eq!(load.segments()[1].buf, 0);

    // The same request with clean handles decodes to the same load.
    let mut clean = raw;
    clean.segments = SEGS;
    let clean_segs = [
        seg(0x7000_0000, PAGE, CRASH_START, PAGE),
        seg(0, 0, 0x100_0000, PAGE),
    ];
    assert_eq!(
        decode_load(GuestAbi::X86_32, &clean, &clean_segs, &host),
        Ok(load)
    );

    // A 64-bit guest's handles are all 8 bytes: its segments handle points nowhere.
    let err = decode_load(GuestAbi::X86_64, &raw, &segs, &host).unwrap_err();
    assert_eq!(err.errno(), Errno::EFAULT);
}

#[test]
fn same_request_gives_the_same_validated_load_from_either_width() {
    let segs = [
        seg(0x7000_0000, 0x1800, CRASH_START + 0x10_0000, 2 * PAGE),
        seg(0, 0, CRASH_START, PAGE),
        seg(0x7100_0000, 10, CRASH_START + 0x20_0000, PAGE),
    ];
    for arch in [EM_386, EM_X86_64] {
        let load = accepted(
            &header(CRASH, arch, CRASH_START + 0x10_0000, 3),
            &segs,
            true,
        );
        assert_eq!(load.kexec_type(), CRASH);
        assert_eq!(load.segments()[0].buf_size, 0x1800);
    }
}
