// SPDX-License-Identifier: MIT
//! The zero page (`struct boot_params`, 4 KiB) a 64-bit loader hands Linux in RSI, built
//! from the image's own setup header (boot protocol, "64-bit boot protocol").
//!
//! The loader copies the header as the image has it (its declared length), then fills in
//! what a loader owns: `type_of_loader` (0xff, undefined), `loadflags`'s `LOADED_HIGH`,
//! `code32_start`, the initrd's address and size, the command line's address (low 32 bits
//! in the header, high 32 bits in `ext_*`), and the e820 table. Everything else is zero,
//! `sentinel` included (a non-zero sentinel makes Linux clear fields a broken loader left).

use zerocopy::IntoBytes;

use super::bzimage::{BzImage, HEADER_OFFSET, LOADED_HIGH};
use crate::memmap::MemRange;

/// The zero page's size.
pub const SIZE: usize = 4096;
/// `ext_ramdisk_image`'s offset.
const EXT_RAMDISK_IMAGE: usize = 0x0c0;
/// `ext_ramdisk_size`'s offset.
const EXT_RAMDISK_SIZE: usize = 0x0c4;
/// `ext_cmd_line_ptr`'s offset.
const EXT_CMD_LINE_PTR: usize = 0x0c8;
/// `e820_entries`' offset.
const E820_ENTRIES: usize = 0x1e8;
/// `e820_table`'s offset.
const E820_TABLE: usize = 0x2d0;
/// The e820 table's capacity (`E820_MAX_ENTRIES_ZEROPAGE`).
pub const E820_MAX: usize = 128;
/// `type_of_loader`'s value for a loader without an assigned ID.
const LOADER_UNDEFINED: u8 = 0xff;

/// Where the pieces the zero page points at were placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The protected-mode kernel's load address.
    pub kernel: u64,
    /// The initrd's address and size, if one.
    pub initrd: Option<(u64, u64)>,
    /// The command line's address (NUL-terminated there).
    pub cmdline: u64,
}

/// The zero page for `image` placed as `at` says, telling the kernel `e820` (at most
/// [`E820_MAX`] ranges; the caller checks).
pub fn build(image: &BzImage, at: &Placement, e820: &[MemRange]) -> [u8; SIZE] {
    let mut page = [0u8; SIZE];
    let header = image.header.as_bytes();
    page[HEADER_OFFSET..HEADER_OFFSET + image.header_len]
        .copy_from_slice(&header[..image.header_len]);
    let mut put = |field: usize, bytes: &[u8]| {
        page[field..field + bytes.len()].copy_from_slice(bytes);
    };
    // The boot protocol splits 64-bit addresses into a low and a high 32-bit field.
    let low = |v: u64| {
        let le = v.to_le_bytes();
        [le[0], le[1], le[2], le[3]]
    };
    let high = |v: u64| {
        let le = v.to_le_bytes();
        [le[4], le[5], le[6], le[7]]
    };
    put(0x210, &[LOADER_UNDEFINED]);
    put(0x211, &[image.header.loadflags | LOADED_HIGH]);
    put(0x214, &low(at.kernel));
    let (initrd, initrd_size) = at.initrd.unwrap_or((0, 0));
    put(0x218, &low(initrd));
    put(0x21c, &low(initrd_size));
    put(EXT_RAMDISK_IMAGE, &high(initrd));
    put(EXT_RAMDISK_SIZE, &high(initrd_size));
    put(0x228, &low(at.cmdline));
    put(EXT_CMD_LINE_PTR, &high(at.cmdline));
    let n = e820.len().min(E820_MAX);
    put(E820_ENTRIES, &[u8::try_from(n).unwrap_or(u8::MAX)]);
    for (i, range) in e820[..n].iter().enumerate() {
        put(E820_TABLE + 20 * i, range.entry().as_bytes());
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linux::bzimage::HEAD_LEN;
    use crate::linux::synthetic::BzImageSpec;
    use crate::memmap::E820Type;

    fn u32_at(page: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(page[at..at + 4].try_into().expect("4 bytes"))
    }

    #[test]
    fn the_zero_page_carries_the_header_and_what_the_loader_placed() {
        let file = BzImageSpec::default().build();
        let image = BzImage::parse(&file[..HEAD_LEN], file.len() as u64).expect("parses");
        let e820 = [
            MemRange {
                start: 0,
                size: 0x9fc00,
                kind: E820Type::RAM,
            },
            MemRange {
                start: 0x2000_0000,
                size: 0x0c00_0000,
                kind: E820Type::RAM,
            },
        ];
        let at = Placement {
            kernel: 0x2000_0000,
            initrd: Some((0x1_2345_6000, 0x1234)),
            cmdline: 0x2bf4_e000,
        };
        let page = build(&image, &at, &e820);
        // The image's own header bytes, up to its declared end, except the loader's fields.
        assert_eq!(page[0x1f1], 4, "setup_sects");
        assert_eq!(&page[0x202..0x206], b"HdrS");
        assert_eq!(page[0x210], 0xff, "type_of_loader");
        assert_eq!(page[0x211] & LOADED_HIGH, LOADED_HIGH);
        assert_eq!(u32_at(&page, 0x214), 0x2000_0000, "code32_start");
        assert_eq!(u32_at(&page, 0x218), 0x2345_6000, "ramdisk_image, low half");
        assert_eq!(
            u32_at(&page, EXT_RAMDISK_IMAGE),
            1,
            "ext_ramdisk_image, high half"
        );
        assert_eq!(u32_at(&page, 0x21c), 0x1234, "ramdisk_size");
        assert_eq!(u32_at(&page, 0x228), 0x2bf4_e000, "cmd_line_ptr");
        assert_eq!(u32_at(&page, EXT_CMD_LINE_PTR), 0);
        assert_eq!(page[E820_ENTRIES], 2);
        assert_eq!(
            &page[E820_TABLE + 20..E820_TABLE + 40],
            e820[1].entry().as_bytes()
        );
        assert_eq!(page[0x1ef], 0, "sentinel");
        assert!(page[0x26c..]
            .iter()
            .take(E820_TABLE - 0x26c)
            .all(|&b| b == 0));
    }
}
