// SPDX-License-Identifier: MIT
//! A bzImage's setup header: the Linux x86 boot protocol
//! (`Documentation/arch/x86/boot.rst`), the fields a 64-bit loader reads.
//!
//! The header sits at offset 0x1f1 of the file; its length is given by the byte at
//! 0x201 (the jump's offset). The protected-mode kernel follows the real-mode setup code,
//! `(setup_sects + 1) * 512` bytes in (`setup_sects` 0 means 4). Only protocol 2.12 and
//! later with a 64-bit entry (`XLF_KERNEL_64`) are taken: the purgatory enters the kernel
//! in long mode at its load address + 0x200.

use std::fmt;

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Where the setup header starts in the file and in boot_params.
pub const HEADER_OFFSET: usize = 0x1f1;
/// The bytes read to find it: up to `kernel_info_offset`'s end with room to spare.
pub const HEAD_LEN: usize = 0x280;
/// `boot_flag`'s value.
pub const BOOT_FLAG: u16 = 0xaa55;
/// `header`'s value, "HdrS".
pub const HDRS: u32 = 0x5372_6448;
/// The oldest protocol taken: 2.12 (`xloadflags`, 64-bit entry above 4 GiB).
pub const MIN_VERSION: u16 = 0x020c;
/// `xloadflags`: the kernel has the 64-bit entry at load address + 0x200.
pub const XLF_KERNEL_64: u16 = 1 << 0;
/// `xloadflags`: the kernel, boot_params, command line and initrd may be above 4 GiB.
pub const XLF_CAN_BE_LOADED_ABOVE_4G: u16 = 1 << 1;
/// `loadflags`: the protected-mode code is loaded at 0x100000 or above.
pub const LOADED_HIGH: u8 = 1 << 0;
/// `loadflags`: `heap_end_ptr` is valid.
pub const CAN_USE_HEAP: u8 = 1 << 7;
/// The 64-bit entry's offset from the protected-mode kernel's load address.
pub const ENTRY_64: u64 = 0x200;

/// The setup header as laid out at 0x1f1 (`struct setup_header`, protocol 2.15).
#[repr(C)]
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[allow(missing_docs)] // the boot protocol's own field names
pub struct SetupHeader {
    pub setup_sects: u8,
    pub root_flags: U16,
    pub syssize: U32,
    pub ram_size: U16,
    pub vid_mode: U16,
    pub root_dev: U16,
    pub boot_flag: U16,
    pub jump: U16,
    pub header: U32,
    pub version: U16,
    pub realmode_swtch: U32,
    pub start_sys_seg: U16,
    pub kernel_version: U16,
    pub type_of_loader: u8,
    pub loadflags: u8,
    pub setup_move_size: U16,
    pub code32_start: U32,
    pub ramdisk_image: U32,
    pub ramdisk_size: U32,
    pub bootsect_kludge: U32,
    pub heap_end_ptr: U16,
    pub ext_loader_ver: u8,
    pub ext_loader_type: u8,
    pub cmd_line_ptr: U32,
    pub initrd_addr_max: U32,
    pub kernel_alignment: U32,
    pub relocatable_kernel: u8,
    pub min_alignment: u8,
    pub xloadflags: U16,
    pub cmdline_size: U32,
    pub hardware_subarch: U32,
    pub hardware_subarch_data: U64,
    pub payload_offset: U32,
    pub payload_length: U32,
    pub setup_data: U64,
    pub pref_address: U64,
    pub init_size: U32,
    pub handover_offset: U32,
    pub kernel_info_offset: U32,
}

// The boot protocol's offsets (from 0x1f1) of the fields this loader writes or reads.
const _: () = {
    use core::mem::offset_of;
    assert!(offset_of!(SetupHeader, boot_flag) == 0x1fe - 0x1f1);
    assert!(offset_of!(SetupHeader, header) == 0x202 - 0x1f1);
    assert!(offset_of!(SetupHeader, type_of_loader) == 0x210 - 0x1f1);
    assert!(offset_of!(SetupHeader, ramdisk_image) == 0x218 - 0x1f1);
    assert!(offset_of!(SetupHeader, cmd_line_ptr) == 0x228 - 0x1f1);
    assert!(offset_of!(SetupHeader, kernel_alignment) == 0x230 - 0x1f1);
    assert!(offset_of!(SetupHeader, xloadflags) == 0x236 - 0x1f1);
    assert!(offset_of!(SetupHeader, pref_address) == 0x258 - 0x1f1);
    assert!(offset_of!(SetupHeader, init_size) == 0x260 - 0x1f1);
    assert!(size_of::<SetupHeader>() == 0x26c - 0x1f1);
};

/// Why a file is not a bzImage this loader can enter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BzImageError {
    /// The file is an ELF file (a `vmlinux` or another image): `--elf` loads those.
    Elf,
    /// Shorter than its own setup code and header say.
    Truncated {
        /// The file's length.
        len: u64,
        /// The length the header needs.
        needs: u64,
    },
    /// No `boot_flag` 0xAA55 at 0x1fe or no "HdrS" at 0x202: not a Linux x86 kernel.
    NotBzImage {
        /// The `boot_flag` found.
        boot_flag: u16,
        /// The `header` found.
        header: u32,
    },
    /// Boot protocol older than 2.12.
    ProtocolTooOld {
        /// The version found (0x020f is 2.15).
        version: u16,
    },
    /// No 64-bit entry (`XLF_KERNEL_64` clear in `xloadflags`).
    No64BitEntry {
        /// The `xloadflags` found.
        xloadflags: u16,
    },
    /// `kernel_alignment` is not a power of two of at least a page.
    BadAlignment {
        /// The value found.
        kernel_alignment: u32,
    },
}

impl BzImageError {
    /// The rule broken, as a stable name (`--json`'s `rule`).
    pub const fn rule(&self) -> &'static str {
        match self {
            BzImageError::Elf => "KernelIsElf",
            BzImageError::Truncated { .. } => "KernelTruncated",
            BzImageError::NotBzImage { .. } => "NotBzImage",
            BzImageError::ProtocolTooOld { .. } => "BootProtocolTooOld",
            BzImageError::No64BitEntry { .. } => "No64BitEntry",
            BzImageError::BadAlignment { .. } => "BadKernelAlignment",
        }
    }
}

impl fmt::Display for BzImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BzImageError::Elf => f.write_str("is an ELF file, not a bzImage: load it with --elf"),
            BzImageError::Truncated { len, needs } => write!(
                f,
                "is truncated: {len} bytes, but its setup header needs {needs}"
            ),
            BzImageError::NotBzImage { boot_flag, header } => write!(
                f,
                "is not a Linux x86 bzImage: boot_flag {boot_flag:#06x} at 0x1fe (wants 0xaa55), \
                 header {header:#010x} at 0x202 (wants 0x53726448, \"HdrS\")"
            ),
            BzImageError::ProtocolTooOld { version } => write!(
                f,
                "uses boot protocol {}.{:02}; 2.12 or later is needed (xloadflags, 64-bit entry)",
                version >> 8,
                version & 0xff
            ),
            BzImageError::No64BitEntry { xloadflags } => write!(
                f,
                "has no 64-bit entry: xloadflags {xloadflags:#06x} lacks XLF_KERNEL_64 (0x1)"
            ),
            BzImageError::BadAlignment { kernel_alignment } => write!(
                f,
                "has kernel_alignment {kernel_alignment:#x}, not a power of two of at least 4 KiB"
            ),
        }
    }
}

impl std::error::Error for BzImageError {}

/// A bzImage's facts, read from its first [`HEAD_LEN`] bytes and its length.
#[derive(Clone, Debug)]
pub struct BzImage {
    /// The setup header as the file has it.
    pub header: SetupHeader,
    /// The header's length from 0x1f1 as the file declares it (the jump's target).
    pub header_len: usize,
    /// Where the protected-mode kernel starts in the file.
    pub kernel_offset: u64,
    /// Its length in the file.
    pub kernel_len: u64,
}

impl BzImage {
    /// Reads the setup header from `head` (the file's first bytes, up to [`HEAD_LEN`]) of
    /// a file of `len` bytes.
    ///
    /// # Errors
    /// [`BzImageError`], naming the field and the value found.
    pub fn parse(head: &[u8], len: u64) -> Result<BzImage, BzImageError> {
        if head.starts_with(b"\x7fELF") {
            return Err(BzImageError::Elf);
        }
        let needs = (HEADER_OFFSET + size_of::<SetupHeader>()) as u64;
        let truncated = || BzImageError::Truncated { len, needs };
        let bytes = head.get(HEADER_OFFSET..).ok_or_else(truncated)?;
        let (header, _) = SetupHeader::read_from_prefix(bytes).map_err(|_| truncated())?;
        if header.boot_flag.get() != BOOT_FLAG || header.header.get() != HDRS {
            return Err(BzImageError::NotBzImage {
                boot_flag: header.boot_flag.get(),
                header: header.header.get(),
            });
        }
        let version = header.version.get();
        if version < MIN_VERSION {
            return Err(BzImageError::ProtocolTooOld { version });
        }
        let xloadflags = header.xloadflags.get();
        if xloadflags & XLF_KERNEL_64 == 0 {
            return Err(BzImageError::No64BitEntry { xloadflags });
        }
        let kernel_alignment = header.kernel_alignment.get();
        if !kernel_alignment.is_power_of_two() || kernel_alignment < 4096 {
            return Err(BzImageError::BadAlignment { kernel_alignment });
        }
        // The header ends where the jump at 0x200 lands: 0x202 + its offset byte.
        let header_len = (0x202 + usize::from(header.jump.get() >> 8) - HEADER_OFFSET)
            .min(size_of::<SetupHeader>());
        let setup_sects = match header.setup_sects {
            0 => 4,
            n => u64::from(n),
        };
        let kernel_offset = (setup_sects + 1) * 512;
        if kernel_offset >= len {
            return Err(BzImageError::Truncated {
                len,
                needs: kernel_offset + 1,
            });
        }
        // syssize counts 16-byte paragraphs of the protected-mode kernel.
        let declared = u64::from(header.syssize.get()) * 16;
        if declared > len - kernel_offset {
            return Err(BzImageError::Truncated {
                len,
                needs: kernel_offset + declared,
            });
        }
        Ok(BzImage {
            header,
            header_len,
            kernel_offset,
            kernel_len: len - kernel_offset,
        })
    }

    /// The memory the kernel needs from its load address while it decompresses and
    /// starts: `init_size`, and never less than its own bytes.
    pub fn init_size(&self) -> u64 {
        u64::from(self.header.init_size.get()).max(self.kernel_len)
    }

    /// The load address alignment (`kernel_alignment`).
    pub fn alignment(&self) -> u64 {
        u64::from(self.header.kernel_alignment.get())
    }

    /// Whether the kernel may be loaded at any aligned address.
    pub fn relocatable(&self) -> bool {
        self.header.relocatable_kernel != 0
    }

    /// The highest address the initrd may end at (`initrd_addr_max` is its last byte).
    pub fn initrd_end_max(&self) -> u64 {
        if self.header.xloadflags.get() & XLF_CAN_BE_LOADED_ABOVE_4G != 0 {
            u64::MAX
        } else {
            u64::from(self.header.initrd_addr_max.get()) + 1
        }
    }

    /// The longest command line, terminating NUL excluded (`cmdline_size`).
    pub fn cmdline_max(&self) -> usize {
        self.header.cmdline_size.get() as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linux::synthetic;

    #[test]
    fn a_synthetic_bzimage_parses_with_its_fields() {
        let image = synthetic::BzImageSpec::default().build();
        let b = BzImage::parse(&image[..HEAD_LEN], image.len() as u64).expect("parses");
        assert_eq!(b.kernel_offset, 5 * 512);
        assert_eq!(b.kernel_len, image.len() as u64 - 5 * 512);
        assert_eq!(b.alignment(), 0x20_0000);
        assert_eq!(b.header_len, 0x26c - 0x1f1);
        assert!(b.relocatable());
        assert_eq!(b.initrd_end_max(), u64::MAX, "XLF_CAN_BE_LOADED_ABOVE_4G");
        let below_4g = synthetic::BzImageSpec {
            xloadflags: XLF_KERNEL_64,
            ..Default::default()
        }
        .build();
        let b = BzImage::parse(&below_4g[..HEAD_LEN], below_4g.len() as u64).expect("parses");
        assert_eq!(b.initrd_end_max(), 0x8000_0000, "initrd_addr_max + 1");
    }

    #[test]
    fn each_kind_of_foreign_or_old_image_is_refused_naming_the_field() {
        let cases: [(synthetic::BzImageSpec, &str); 5] = [
            (
                synthetic::BzImageSpec {
                    version: 0x020b,
                    ..Default::default()
                },
                "uses boot protocol 2.11; 2.12 or later is needed (xloadflags, 64-bit entry)",
            ),
            (
                synthetic::BzImageSpec {
                    xloadflags: 0x2,
                    ..Default::default()
                },
                "has no 64-bit entry: xloadflags 0x0002 lacks XLF_KERNEL_64 (0x1)",
            ),
            (
                synthetic::BzImageSpec {
                    magic: 0x1234_5678,
                    ..Default::default()
                },
                "is not a Linux x86 bzImage: boot_flag 0xaa55 at 0x1fe (wants 0xaa55), header \
                 0x12345678 at 0x202 (wants 0x53726448, \"HdrS\")",
            ),
            (
                synthetic::BzImageSpec {
                    kernel_alignment: 0x3000,
                    ..Default::default()
                },
                "has kernel_alignment 0x3000, not a power of two of at least 4 KiB",
            ),
            (
                synthetic::BzImageSpec {
                    kernel_len: 0,
                    ..Default::default()
                },
                "is truncated: 2560 bytes, but its setup header needs 2561",
            ),
        ];
        for (spec, message) in cases {
            let image = spec.build();
            let head = &image[..HEAD_LEN.min(image.len())];
            let e = BzImage::parse(head, image.len() as u64).expect_err(message);
            assert_eq!(e.to_string(), message);
        }
    }

    #[test]
    fn an_elf_file_or_a_short_file_is_refused_before_its_header_is_read() {
        let e = BzImage::parse(b"\x7fELF\x02\x01\x01", 7).expect_err("ELF");
        assert_eq!(e, BzImageError::Elf);
        assert_eq!(
            e.to_string(),
            "is an ELF file, not a bzImage: load it with --elf"
        );
        let e = BzImage::parse(&[0u8; 0x200], 0x200).expect_err("short");
        assert_eq!(
            e,
            BzImageError::Truncated {
                len: 0x200,
                needs: 0x26c
            }
        );
        let mut cut = synthetic::BzImageSpec::default().build();
        cut.truncate(0x1000);
        let e = BzImage::parse(&cut[..HEAD_LEN], 0x1000).expect_err("syssize says more");
        assert!(
            matches!(e, BzImageError::Truncated { len: 0x1000, .. }),
            "{e:?}"
        );
    }
}
