// SPDX-License-Identifier: MIT
//! The 32-bit guest layout: the structures of Xen's `kexec.h` (Xen 4.23) as an x86_32
//! guest's compiler lays them out (i386 System V: a `uint64_t` member is aligned to 4,
//! `unsigned long` is 4 bytes). Xen calls these the *compat* layouts.
//!
//! - `exec`, `unload` and `status` are laid out exactly as for 64-bit guests (alignment
//!   included), so the same types serve: they are re-exported from [`crate::x86_64`].
//! - [`KexecSegment`] and [`KexecLoad`] have the 64-bit guests' offsets and size but only
//!   4-byte alignment: `#[repr(C, packed(4))]` gives exactly that.
//! - [`KexecRange`] has 4-byte `size` and `start`: it is the translated structure.
//!
//! Each layout is asserted at compile time against [`crate::layout`] for
//! [`Arch::X86_32`], below its definition. Conversions live in [`crate::compat`].

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::enums::{ElfMachine, KexecRangeKind, KexecType};
use crate::handle::{ConstVoid, GuestHandle64};
use crate::layout::{assert_layout, Arch, EXEC, LOAD, RANGE, SEGMENT, STATUS, UNLOAD};

pub use crate::x86_64::{KexecExec, KexecStatus, KexecUnload};

assert_layout!(KexecExec, EXEC, Arch::X86_32, { type_ => "type" });
assert_layout!(KexecUnload, UNLOAD, Arch::X86_32, { type_ => "type" });
assert_layout!(KexecStatus, STATUS, Arch::X86_32, { type_ => "type" });

/// `xen_kexec_range_t` as a 32-bit guest lays it out: `size` and `start` are the guest's
/// 4-byte `unsigned long`. Xen's `compat_kexec_range_t`.
///
/// Widen it with `From` into [`crate::x86_64::KexecRange`]; narrow with `TryFrom`, which
/// refuses with `ERANGE` any size or start above 4 GiB instead of truncating it.
///
/// ```
/// use xen_kexec_abi::{x86_32, x86_64, KexecRangeKind, Errno};
/// let wide = x86_64::KexecRange { range: KexecRangeKind::MA_CRASH, nr: 0,
///                                 size: 0x1000_0000, start: 0x1_0000_0000 };
/// let err = x86_32::KexecRange::try_from(wide).unwrap_err();
/// assert_eq!(err.errno(), Errno::ERANGE);
/// ```
#[doc = include_str!("../doc/xen_kexec_range.md")]
#[doc(alias = "compat_kexec_range_t")]
#[doc(alias = "xen_kexec_range_t")]
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KexecRange {
    /// Which range: a `KEXEC_RANGE_MA_*` value.
    pub range: KexecRangeKind,
    /// For `KEXEC_RANGE_MA_CPU`, the physical CPU number; otherwise 0.
    pub nr: i32,
    /// Out: the size of the range in bytes (the guest's 32-bit `unsigned long`).
    pub size: u32,
    /// Out: the machine address where the range starts (32-bit).
    pub start: u32,
}
assert_layout!(KexecRange, RANGE, Arch::X86_32, {
    range => "range", nr => "nr", size => "size", start => "start",
});

/// `xen_kexec_segment_t` as a 32-bit guest lays it out: the 64-bit guests' bytes, 4-byte
/// aligned. The guest's compiler fills only the low 4 bytes of `buf`.
///
/// ```
/// use xen_kexec_abi::{x86_32::KexecSegment, GuestAbi, GuestHandle64};
/// let seg = KexecSegment { buf: GuestHandle64::from_low32(0x8000_0000), buf_size: 0x10,
///                          dest_maddr: 0x20_0000, dest_size: 0x1000 };
/// assert_eq!(core::mem::align_of::<KexecSegment>(), 4);
/// assert_eq!({ seg.buf }.addr(GuestAbi::X86_32), 0x8000_0000);
/// ```
#[doc = include_str!("../doc/xen_kexec_segment.md")]
#[doc(alias = "compat_kexec_segment_t")]
#[doc(alias = "xen_kexec_segment_t")]
#[repr(C, packed(4))]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KexecSegment {
    /// Guest address of the source bytes, in the low 4 bytes.
    pub buf: GuestHandle64<ConstVoid>,
    /// Number of source bytes to copy.
    pub buf_size: u64,
    /// Machine address of the destination; page aligned.
    pub dest_maddr: u64,
    /// Size of the destination in bytes; page aligned.
    pub dest_size: u64,
}
assert_layout!(KexecSegment, SEGMENT, Arch::X86_32, {
    buf => "buf", buf_size => "buf_size", dest_maddr => "dest_maddr", dest_size => "dest_size",
});

/// `xen_kexec_load_t` as a 32-bit guest lays it out: the 64-bit guests' bytes, 4-byte
/// aligned. The guest's compiler fills only the low 4 bytes of `segments`.
///
/// ```
/// use xen_kexec_abi::{x86_32::KexecLoad, ElfMachine, EntryMode};
/// // A 32-bit dom0 loading a 64-bit image: long mode, whatever the caller's width.
/// let load = KexecLoad { arch: ElfMachine::EM_X86_64, ..Default::default() };
/// assert_eq!(load.entry_mode(), Ok(EntryMode::Long64));
/// ```
#[doc = include_str!("../doc/xen_kexec_load.md")]
#[doc(alias = "compat_kexec_load_t")]
#[doc(alias = "xen_kexec_load_t")]
#[repr(C, packed(4))]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KexecLoad {
    /// Which image: a `KEXEC_TYPE_*` value.
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub type_: KexecType,
    /// Reserved; zero.
    #[allow(clippy::pub_underscore_fields)] // Xen's name
    pub _pad: u8,
    /// The image's ELF machine (`EM_386` or `EM_X86_64`).
    pub arch: ElfMachine,
    /// Number of entries in the `segments` array.
    pub nr_segments: u32,
    /// Guest address of the array of segments, in the low 4 bytes.
    pub segments: GuestHandle64<KexecSegment>,
    /// Machine address of the image's entry point.
    pub entry_maddr: u64,
}
assert_layout!(KexecLoad, LOAD, Arch::X86_32, {
    type_ => "type", _pad => "_pad", arch => "arch", nr_segments => "nr_segments",
    segments => "segments", entry_maddr => "entry_maddr",
});
