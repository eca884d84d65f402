// SPDX-License-Identifier: MIT
//! Property tests of the compat layer: range narrowing and widening, and the checked
//! structures' bytes in both guest layouts.

use proptest::prelude::*;
use xen_kexec_abi::layout::{self, Arch};
use xen_kexec_abi::{x86_32, x86_64, Errno, Error, KexecRangeKind, RangeField};
use zerocopy::{FromBytes, IntoBytes};

/// The size of a segment and of a load structure, from the layout model (the same in
/// both x86 layouts: checked structures).
const SEGMENT_BYTES: usize = layout::SEGMENT.size(Arch::X86_64);
const LOAD_BYTES: usize = layout::LOAD.size(Arch::X86_64);

fn wide_range(range: i32, nr: i32, size: u64, start: u64) -> x86_64::KexecRange {
    x86_64::KexecRange {
        range: KexecRangeKind(range),
        nr,
        size,
        start,
    }
}

proptest! {
    #[test]
    fn narrowing_a_range_is_lossless_or_erange(range: i32, nr: i32, size: u64, start: u64) {
        let wide = wide_range(range, nr, size, start);
        match x86_32::KexecRange::try_from(wide) {
            Ok(narrow) => {
                prop_assert!(u32::try_from(size).is_ok() && u32::try_from(start).is_ok());
                prop_assert_eq!(x86_64::KexecRange::from(narrow), wide);
            }
            Err(err) => {
                prop_assert_eq!(err.errno(), Errno::ERANGE);
                // size is checked first, and the error carries the value that did not fit.
                let expected = if u32::try_from(size).is_err() {
                    Error::RangeTooWide { field: RangeField::Size, value: size }
                } else {
                    prop_assert!(u32::try_from(start).is_err());
                    Error::RangeTooWide { field: RangeField::Start, value: start }
                };
                prop_assert_eq!(err, expected);
            }
        }
    }

    #[test]
    fn narrowing_ranges_near_the_32_bit_boundary(
        size in (u64::from(u32::MAX) - 2)..=(u64::from(u32::MAX) + 2),
        start in (u64::from(u32::MAX) - 2)..=(u64::from(u32::MAX) + 2),
    ) {
        let fits = u32::try_from(size).is_ok() && u32::try_from(start).is_ok();
        prop_assert_eq!(x86_32::KexecRange::try_from(wide_range(0, 0, size, start)).is_ok(), fits);
    }

    #[test]
    fn widening_then_narrowing_is_the_identity_on_32_bit_ranges(range: i32, nr: i32, size: u32, start: u32) {
        let narrow = x86_32::KexecRange { range: KexecRangeKind(range), nr, size, start };
        let wide = x86_64::KexecRange::from(narrow);
        prop_assert_eq!((wide.size, wide.start), (u64::from(size), u64::from(start)));
        prop_assert_eq!(x86_32::KexecRange::try_from(wide), Ok(narrow));
    }

    #[test]
    fn checked_segment_bytes_are_identical_in_both_layouts(bytes: [u8; SEGMENT_BYTES]) {
        let narrow = x86_32::KexecSegment::read_from_bytes(&bytes).unwrap();
        let wide = x86_64::KexecSegment::read_from_bytes(&bytes).unwrap();
        prop_assert_eq!(x86_64::KexecSegment::from(narrow), wide);
        prop_assert_eq!(x86_32::KexecSegment::from(wide), narrow);
        prop_assert_eq!(narrow.as_bytes(), &bytes[..]);
        prop_assert_eq!(wide.as_bytes(), &bytes[..]);
    }

    #[test]
    fn checked_load_bytes_are_identical_in_both_layouts(bytes: [u8; LOAD_BYTES]) {
        let narrow = x86_32::KexecLoad::read_from_bytes(&bytes).unwrap();
        let wide = x86_64::KexecLoad::read_from_bytes(&bytes).unwrap();
        prop_assert_eq!(x86_64::KexecLoad::from(narrow), wide);
        prop_assert_eq!(x86_32::KexecLoad::from(wide), narrow);
        prop_assert_eq!(narrow.as_bytes(), &bytes[..]);
        prop_assert_eq!(wide.as_bytes(), &bytes[..]);
    }
}

#[test]
fn the_narrow_range_is_the_translated_structure_with_4_byte_words() {
    let narrow = x86_32::KexecRange {
        range: KexecRangeKind::MA_CPU,
        nr: 7,
        size: 0x1122_3344,
        start: 0x5566_7788,
    };
    assert_eq!(
        narrow.as_bytes(),
        [2, 0, 0, 0, 7, 0, 0, 0, 0x44, 0x33, 0x22, 0x11, 0x88, 0x77, 0x66, 0x55]
    );
}
