// SPDX-License-Identifier: MIT
//! `memory_op`'s machine memory map: `XENMEM_machine_memory_map`, its argument
//! `struct xen_memory_map` and the e820 entries it answers with, from Xen's
//! `xen/include/public/memory.h` and `arch-x86/xen.h` (Xen 4.17 to 4.23, unchanged).
//!
//! This module is the single source of these layout facts. They stay out of the kexec
//! layout model ([`crate::layout`]) on purpose: that model is what the header generator
//! renders into `include/public/kexec.h`, and `memory.h`'s structure has no place there.
//! Each layout is asserted at compile time right under its structure (size, alignment,
//! every offset), and `abi/tests/memory_layout_c.rs` compiles the declarations in Xen's
//! spelling with `gcc -m32` and `gcc -m64` and compares every number.
//!
//! ```c
//! struct xen_memory_map {
//!     unsigned int nr_entries;          /* IN: capacity in entries; OUT: entries written */
//!     XEN_GUEST_HANDLE(void) buffer;    /* a plain pointer: 4 bytes on x86_32, 8 on x86_64 */
//! };
//! struct e820entry { uint64_t addr; uint64_t size; uint32_t type; } __attribute__((packed));
//! ```
//!
//! Unlike kexec's structures, the handle here is a bare `XEN_GUEST_HANDLE(void)` (a
//! pointer), not the 8-byte union, so the two widths differ in size: [`x86_64::MemoryMap`]
//! is 16 bytes (4 bytes of padding before the handle), [`x86_32::MemoryMap`] 8. Xen
//! translates the compat one (`compat_arch_memory_op`).
//!
//! What Xen does with it (x86 `arch_memory_op`, for a privileged caller):
//! - it reads the argument (`-EFAULT` if it cannot);
//! - a null `buffer` asks only for the count: `nr_entries` is set to the number of
//!   entries the map has, nothing else is written;
//! - otherwise `nr_entries` must exceed the number of entries (`nr_entries < count + 1`
//!   is `-EINVAL`, nothing written: Xen keeps room for one more);
//! - the entries are written to `buffer` (`-EFAULT` if it cannot), `nr_entries` is set
//!   to the number written and the argument written back.

use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::GuestAbi;

pub use crate::consts::{__HYPERVISOR_memory_op, XENMEM_machine_memory_map};

/// One e820 entry as the BIOS, Xen (`struct e820entry`, `e820entry_t`) and Linux's
/// boot_params lay it out: 20 bytes, packed (every field has alignment 1).
#[doc(alias = "e820entry")]
#[doc(alias = "e820entry_t")]
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct E820Entry {
    /// The first address.
    pub addr: U64,
    /// The size in bytes.
    pub size: U64,
    /// The kind (`E820_RAM` = 1, `E820_RESERVED` = 2, ...): C's `type`.
    pub kind: U32,
}
const _: () = {
    assert!(size_of::<E820Entry>() == E820_ENTRY_SIZE);
    assert!(align_of::<E820Entry>() == 1);
    assert!(core::mem::offset_of!(E820Entry, addr) == 0);
    assert!(core::mem::offset_of!(E820Entry, size) == 8);
    assert!(core::mem::offset_of!(E820Entry, kind) == 16);
};

/// The size of an [`E820Entry`] in bytes, on every arch.
pub const E820_ENTRY_SIZE: usize = 20;

/// The layout a 64-bit guest passes.
pub mod x86_64 {
    use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// `struct xen_memory_map` as a 64-bit guest lays it out: 16 bytes, aligned to 8.
    #[doc(alias = "xen_memory_map")]
    #[doc(alias = "xen_memory_map_t")]
    // align(8): a 64-bit guest aligns the handle to 8 whatever the host; an i686 host
    // would align a u64 to 4.
    #[repr(C, align(8))]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
    pub struct MemoryMap {
        /// In: the buffer's capacity in entries. Out: the entries written (or, for a
        /// null `buffer`, the entries the map has).
        pub nr_entries: u32,
        /// The compiler's padding before the 8-byte pointer; written as 0.
        pub pad: u32,
        /// `XEN_GUEST_HANDLE(void) buffer`: the guest address of an array of
        /// [`E820Entry`](super::E820Entry), or 0.
        pub buffer: u64,
    }
    const _: () = {
        assert!(size_of::<MemoryMap>() == 16);
        assert!(align_of::<MemoryMap>() == 8);
        assert!(core::mem::offset_of!(MemoryMap, nr_entries) == 0);
        assert!(core::mem::offset_of!(MemoryMap, buffer) == 8);
    };
}

/// The layout a 32-bit guest passes (Xen's `compat_memory_map`, translated).
pub mod x86_32 {
    use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// `struct xen_memory_map` as a 32-bit guest lays it out: 8 bytes, aligned to 4.
    #[doc(alias = "compat_memory_map")]
    #[doc(alias = "xen_memory_map")]
    #[repr(C)]
    #[derive(
        Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
    )]
    #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
    pub struct MemoryMap {
        /// In: the buffer's capacity in entries. Out: the entries written (or the count).
        pub nr_entries: u32,
        /// `XEN_GUEST_HANDLE(void) buffer`: a 4-byte guest address, or 0.
        pub buffer: u32,
    }
    const _: () = {
        assert!(size_of::<MemoryMap>() == 8);
        assert!(align_of::<MemoryMap>() == 4);
        assert!(core::mem::offset_of!(MemoryMap, nr_entries) == 0);
        assert!(core::mem::offset_of!(MemoryMap, buffer) == 4);
    };
}

/// `struct xen_memory_map` whatever the caller's width: what either side of the
/// hypercall works with, encoded and decoded at a [`GuestAbi`].
///
/// ```
/// use xen_kexec_abi::memory::MemoryMapArg;
/// use xen_kexec_abi::GuestAbi;
/// let arg = MemoryMapArg { nr_entries: 128, buffer: 0x8000_1000 };
/// let mut out = [0u8; 16];
/// let bytes = arg.encode(GuestAbi::X86_32, &mut out).unwrap();
/// assert_eq!(bytes, [128, 0, 0, 0, 0x00, 0x10, 0x00, 0x80]);
/// assert_eq!(MemoryMapArg::decode(GuestAbi::X86_32, bytes), Some(arg));
/// // A 32-bit guest's handle cannot hold an address above 4 GiB.
/// let high = MemoryMapArg { nr_entries: 1, buffer: 1 << 32 };
/// assert_eq!(high.encode(GuestAbi::X86_32, &mut out), None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MemoryMapArg {
    /// The buffer's capacity in entries (in), the entries written or counted (out).
    pub nr_entries: u32,
    /// The buffer's guest address; 0 asks for the count only.
    pub buffer: u64,
}

impl MemoryMapArg {
    /// The size of the argument structure a guest of width `abi` passes.
    pub const fn size(abi: GuestAbi) -> usize {
        match abi {
            GuestAbi::X86_32 => size_of::<x86_32::MemoryMap>(),
            GuestAbi::X86_64 => size_of::<x86_64::MemoryMap>(),
        }
    }

    /// Whether `buffer` is null: the call asks for the count only.
    pub const fn is_count_only(&self) -> bool {
        self.buffer == 0
    }

    /// The argument as a guest of width `abi` lays it out, in the first
    /// [`size`](Self::size) bytes of `out`; `None` when `buffer` does not fit a 32-bit
    /// guest's 4-byte handle.
    pub fn encode(self, abi: GuestAbi, out: &mut [u8; 16]) -> Option<&[u8]> {
        let len = Self::size(abi);
        match abi {
            GuestAbi::X86_32 => {
                let arg = x86_32::MemoryMap {
                    nr_entries: self.nr_entries,
                    buffer: u32::try_from(self.buffer).ok()?,
                };
                out.get_mut(..len)?.copy_from_slice(arg.as_bytes());
            }
            GuestAbi::X86_64 => {
                let arg = x86_64::MemoryMap {
                    nr_entries: self.nr_entries,
                    pad: 0,
                    buffer: self.buffer,
                };
                out.get_mut(..len)?.copy_from_slice(arg.as_bytes());
            }
        }
        out.get(..len)
    }

    /// The argument a guest of width `abi` laid out at the start of `bytes`; `None` when
    /// `bytes` is shorter than [`size`](Self::size). The x86_64 padding is ignored.
    pub fn decode(abi: GuestAbi, bytes: &[u8]) -> Option<MemoryMapArg> {
        match abi {
            GuestAbi::X86_32 => x86_32::MemoryMap::read_from_prefix(bytes)
                .ok()
                .map(|(m, _)| MemoryMapArg {
                    nr_entries: m.nr_entries,
                    buffer: u64::from(m.buffer),
                }),
            GuestAbi::X86_64 => x86_64::MemoryMap::read_from_prefix(bytes)
                .ok()
                .map(|(m, _)| MemoryMapArg {
                    nr_entries: m.nr_entries,
                    buffer: m.buffer,
                }),
        }
    }
}

impl E820Entry {
    /// An entry of `size` bytes of `kind` from `addr`.
    pub const fn new(addr: u64, size: u64, kind: u32) -> E820Entry {
        E820Entry {
            addr: U64::new(addr),
            size: U64::new(size),
            kind: U32::new(kind),
        }
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::indexing_slicing)] // a test's expectations
mod tests {
    use super::*;

    #[test]
    fn both_widths_round_trip_and_x86_64_writes_zero_padding() {
        let arg = MemoryMapArg {
            nr_entries: 7,
            buffer: 0x1234_5678,
        };
        for abi in GuestAbi::ALL {
            let mut out = [0xffu8; 16];
            let bytes = arg.encode(abi, &mut out).expect("fits");
            assert_eq!(bytes.len(), MemoryMapArg::size(abi));
            assert_eq!(MemoryMapArg::decode(abi, bytes), Some(arg));
        }
        let mut out = [0xffu8; 16];
        let bytes = arg.encode(GuestAbi::X86_64, &mut out).expect("fits");
        assert_eq!(&bytes[4..8], &[0, 0, 0, 0], "the padding is written as 0");
        assert_eq!(MemoryMapArg::decode(GuestAbi::X86_64, &bytes[..15]), None);
    }
}
