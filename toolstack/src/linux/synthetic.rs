// SPDX-License-Identifier: MIT
//! Small bzImages made here, for the planner's tests and the real-Xen run: a real-mode
//! part of `setup_sects` sectors with a boot-protocol setup header, then a protected-mode
//! part whose 64-bit entry (offset 0x200) holds the code given, or `hlt`.
//!
//! Nothing here is Linux's: the fields are the boot protocol's, the values chosen by the
//! caller, and the defaults are those of a current x86-64 kernel.

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::IntoBytes;

use super::bzimage::{SetupHeader, BOOT_FLAG, ENTRY_64, HDRS, HEADER_OFFSET, LOADED_HIGH};

/// What a synthetic bzImage declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BzImageSpec {
    /// `header` (0x202): "HdrS" unless a foreign image is wanted.
    pub magic: u32,
    /// `version`.
    pub version: u16,
    /// `xloadflags`.
    pub xloadflags: u16,
    /// `kernel_alignment`.
    pub kernel_alignment: u32,
    /// `relocatable_kernel`.
    pub relocatable: bool,
    /// `pref_address`.
    pub pref_address: u64,
    /// `init_size`.
    pub init_size: u32,
    /// `initrd_addr_max`.
    pub initrd_addr_max: u32,
    /// `cmdline_size`.
    pub cmdline_size: u32,
    /// The protected-mode part's length in bytes.
    pub kernel_len: usize,
    /// The code at the 64-bit entry (protected-mode offset 0x200); `hlt` loop if empty.
    pub entry_code: Vec<u8>,
}

impl Default for BzImageSpec {
    fn default() -> Self {
        BzImageSpec {
            magic: HDRS,
            version: 0x020f,
            xloadflags: 0x7f,
            kernel_alignment: 0x20_0000,
            relocatable: true,
            pref_address: 0x100_0000,
            init_size: 0x40_0000,
            initrd_addr_max: 0x7fff_ffff,
            cmdline_size: 0x7ff,
            kernel_len: 0x3000,
            entry_code: Vec::new(),
        }
    }
}

/// The real-mode part's sectors after the boot sector.
const SETUP_SECTS: u8 = 4;

impl BzImageSpec {
    /// The image's bytes.
    pub fn build(&self) -> Vec<u8> {
        let setup_len = (usize::from(SETUP_SECTS) + 1) * 512;
        let mut image = vec![0u8; setup_len + self.kernel_len];
        let header = SetupHeader {
            setup_sects: SETUP_SECTS,
            root_flags: U16::new(1),
            syssize: U32::new(u32::try_from(self.kernel_len / 16).unwrap_or(u32::MAX)),
            ram_size: U16::new(0),
            vid_mode: U16::new(0xffff),
            root_dev: U16::new(0),
            boot_flag: U16::new(BOOT_FLAG),
            // `jmp short` (0xeb) to the header's end, 0x26c: 0x26c - 0x202 = 0x6a.
            jump: U16::new(0x6aeb),
            header: U32::new(self.magic),
            version: U16::new(self.version),
            realmode_swtch: U32::new(0),
            start_sys_seg: U16::new(0x1000),
            kernel_version: U16::new(0),
            type_of_loader: 0,
            loadflags: LOADED_HIGH,
            setup_move_size: U16::new(0x8000),
            code32_start: U32::new(0x10_0000),
            ramdisk_image: U32::new(0),
            ramdisk_size: U32::new(0),
            bootsect_kludge: U32::new(0),
            heap_end_ptr: U16::new(0),
            ext_loader_ver: 0,
            ext_loader_type: 0,
            cmd_line_ptr: U32::new(0),
            initrd_addr_max: U32::new(self.initrd_addr_max),
            kernel_alignment: U32::new(self.kernel_alignment),
            relocatable_kernel: u8::from(self.relocatable),
            min_alignment: 21,
            xloadflags: U16::new(self.xloadflags),
            cmdline_size: U32::new(self.cmdline_size),
            hardware_subarch: U32::new(0),
            hardware_subarch_data: U64::new(0),
            payload_offset: U32::new(0),
            payload_length: U32::new(0),
            setup_data: U64::new(0),
            pref_address: U64::new(self.pref_address),
            init_size: U32::new(self.init_size),
            handover_offset: U32::new(0),
            kernel_info_offset: U32::new(0),
        };
        image[HEADER_OFFSET..HEADER_OFFSET + size_of::<SetupHeader>()]
            .copy_from_slice(header.as_bytes());
        // The protected-mode part: a recognisable pattern, then the entry's code.
        for (b, v) in image[setup_len..].iter_mut().zip((0..251u8).cycle()) {
            *b = v;
        }
        let entry = setup_len + 0x200;
        debug_assert_eq!(ENTRY_64, 0x200);
        let code: &[u8] = if self.entry_code.is_empty() {
            // 1: cli; hlt; jmp 1b
            &[0xfa, 0xf4, 0xeb, 0xfc]
        } else {
            &self.entry_code
        };
        if let Some(dst) = image.get_mut(entry..entry + code.len()) {
            dst.copy_from_slice(code);
        }
        image
    }
}
