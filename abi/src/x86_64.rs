// SPDX-License-Identifier: MIT
//! The 64-bit guest layout: the structures of Xen's `xen/include/public/kexec.h`
//! (Xen 4.23) as an x86_64 guest or dom0 lays them out. This is also Xen's native
//! layout on x86_64, and the arm64 layout (asserted equal in [`crate::layout`] terms).
//!
//! Each structure's size, alignment and every field's offset and size are asserted at
//! compile time against [`crate::layout`], right under its definition. The structures
//! holding 64-bit members are `align(8)`, so the layout is the same on every host
//! (an i686 host aligns a bare `u64` member to 4). The first block of each doc comment
//! here (up to its first blank line) is also the C header's comment for that structure
//! or member, so it is written as C header prose.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::enums::{ElfMachine, KexecExecType, KexecRangeKind, KexecType};
use crate::handle::{ConstVoid, GuestHandle64};
use crate::layout::{assert_layout, Arch, EXEC, LOAD, RANGE, SEGMENT, STATUS, UNLOAD};

/// Argument of `KEXEC_CMD_kexec`: enter the loaded image of the given `type`.
///
/// ```
/// use xen_kexec_abi::{x86_64::KexecExec, KexecExecType};
/// use zerocopy::IntoBytes;
/// let exec = KexecExec { type_: KexecExecType::CRASH };
/// assert_eq!(exec.as_bytes(), &[1, 0, 0, 0]);
/// ```
#[doc = include_str!("../doc/xen_kexec_exec.md")]
#[doc(alias = "xen_kexec_exec_t")]
#[doc(alias = "xen_kexec_exec")]
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KexecExec {
    /// Which image to enter: a `KEXEC_TYPE_*` value.
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub type_: KexecExecType,
}
assert_layout!(KexecExec, EXEC, Arch::X86_64, { type_ => "type" });

/// Argument of `KEXEC_CMD_kexec_get_range`: the caller sets `range` and `nr`, the
/// hypervisor fills `size` and `start`.
///
/// `size` and `start` are `unsigned long`, the guest's word: 8 bytes here, 4 in
/// [`crate::x86_32::KexecRange`]. This is the one structure the compat layer translates.
///
/// ```
/// use xen_kexec_abi::{x86_64::KexecRange, KexecRangeKind};
/// use zerocopy::FromBytes;
/// let mut bytes = [0u8; 24];
/// bytes[0] = 2; // KEXEC_RANGE_MA_CPU
/// bytes[4] = 3; // CPU 3
/// let r = KexecRange::read_from_bytes(&bytes).unwrap();
/// assert_eq!((r.range, r.nr), (KexecRangeKind::MA_CPU, 3));
/// ```
#[doc = include_str!("../doc/xen_kexec_range.md")]
#[doc(alias = "xen_kexec_range_t")]
#[doc(alias = "xen_kexec_range")]
#[repr(C, align(8))]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KexecRange {
    /// Which range: a `KEXEC_RANGE_MA_*` value.
    pub range: KexecRangeKind,
    /// For `KEXEC_RANGE_MA_CPU`, the physical CPU number; otherwise 0.
    pub nr: i32,
    /// Out: the size of the range in bytes.
    pub size: u64,
    /// Out: the machine address where the range starts.
    pub start: u64,
}
assert_layout!(KexecRange, RANGE, Arch::X86_64, {
    range => "range", nr => "nr", size => "size", start => "start",
});

/// One segment of an image: `buf_size` bytes at guest address `buf` are copied to the
/// machine pages `[dest_maddr, dest_maddr + dest_size)`, and the tail of the destination
/// past `buf_size` is zeroed. A segment whose `buf` is null is neither copied nor
/// zeroed: its destination is only mapped for the image.
///
/// `dest_maddr` and `dest_size` are page aligned; `buf_size <= dest_size`.
///
/// ```
/// use xen_kexec_abi::{x86_64::KexecSegment, GuestHandle64};
/// use zerocopy::IntoBytes;
/// let seg = KexecSegment {
///     buf: GuestHandle64::from_raw(0x7f00_0000_1000),
///     buf_size: 0x1800,
///     dest_maddr: 0x100_0000,
///     dest_size: 0x2000,
/// };
/// assert_eq!(seg.as_bytes().len(), 32);
/// ```
#[doc = include_str!("../doc/xen_kexec_segment.md")]
#[doc(alias = "xen_kexec_segment_t")]
#[doc(alias = "xen_kexec_segment")]
#[repr(C, align(8))]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KexecSegment {
    /// Guest address of the source bytes (`XEN_GUEST_HANDLE(const_void)` in an 8-byte
    /// union).
    pub buf: GuestHandle64<ConstVoid>,
    /// Number of source bytes to copy.
    pub buf_size: u64,
    /// Machine address of the destination; page aligned.
    pub dest_maddr: u64,
    /// Size of the destination in bytes; page aligned.
    pub dest_size: u64,
}
assert_layout!(KexecSegment, SEGMENT, Arch::X86_64, {
    buf => "buf", buf_size => "buf_size", dest_maddr => "dest_maddr", dest_size => "dest_size",
});

/// Argument of `KEXEC_CMD_kexec_load`: load an image of the given `type`, made of
/// `nr_segments` segments and entered at `entry_maddr` in the mode its ELF machine
/// (`arch`) requires.
///
/// The entry mode comes from `arch` alone, never from the width of the guest that made
/// the call: see [`KexecLoad::entry_mode`].
///
/// ```
/// use xen_kexec_abi::{x86_64::KexecLoad, ElfMachine, EntryMode, KexecType};
/// let load = KexecLoad { type_: KexecType::CRASH, arch: ElfMachine::EM_386, ..Default::default() };
/// assert_eq!(load.entry_mode(), Ok(EntryMode::Protected32));
/// ```
#[doc = include_str!("../doc/xen_kexec_load.md")]
#[doc(alias = "xen_kexec_load_t")]
#[doc(alias = "xen_kexec_load")]
#[repr(C, align(8))]
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
    /// Guest address of the array of `xen_kexec_segment_t`.
    pub segments: GuestHandle64<KexecSegment>,
    /// Machine address of the image's entry point.
    pub entry_maddr: u64,
}
assert_layout!(KexecLoad, LOAD, Arch::X86_64, {
    type_ => "type", _pad => "_pad", arch => "arch", nr_segments => "nr_segments",
    segments => "segments", entry_maddr => "entry_maddr",
});

/// Argument of `KEXEC_CMD_kexec_unload`: unload the image of the given `type`.
///
/// One byte, the same for both guest widths ([`crate::x86_32`] re-exports this type).
///
/// ```
/// use xen_kexec_abi::{x86_64::KexecUnload, KexecType};
/// use zerocopy::FromBytes;
/// let unload = KexecUnload::read_from_bytes(&[1]).unwrap();
/// assert_eq!(unload.type_, KexecType::CRASH);
/// assert_eq!(unload.type_.known(), Ok(KexecType::CRASH));
/// ```
#[doc = include_str!("../doc/xen_kexec_unload.md")]
#[doc(alias = "xen_kexec_unload_t")]
#[doc(alias = "xen_kexec_unload")]
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KexecUnload {
    /// Which image: a `KEXEC_TYPE_*` value.
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub type_: KexecType,
}
assert_layout!(KexecUnload, UNLOAD, Arch::X86_64, { type_ => "type" });

/// Argument of `KEXEC_CMD_kexec_status`: ask whether an image of the given `type` is
/// loaded.
///
/// One byte, the same for both guest widths. The hypercall returns 1 when such an image
/// is loaded, 0 when none is.
///
/// ```
/// use xen_kexec_abi::{x86_64::KexecStatus, Errno, KexecType};
/// use zerocopy::IntoBytes;
/// let status = KexecStatus { type_: KexecType(7) };
/// assert_eq!(status.as_bytes(), &[7]);
/// assert_eq!(status.type_.known().unwrap_err().errno(), Errno::EINVAL);
/// ```
#[doc = include_str!("../doc/xen_kexec_status.md")]
#[doc(alias = "xen_kexec_status_t")]
#[doc(alias = "xen_kexec_status")]
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KexecStatus {
    /// Which image: a `KEXEC_TYPE_*` value.
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub type_: KexecType,
}
assert_layout!(KexecStatus, STATUS, Arch::X86_64, { type_ => "type" });

// The arm64 layout is the x86_64 one: the same Rust types serve both.
static_assertions::const_assert!(EXEC.same_layout(Arch::X86_64, Arch::Arm64));
static_assertions::const_assert!(RANGE.same_layout(Arch::X86_64, Arch::Arm64));
static_assertions::const_assert!(SEGMENT.same_layout(Arch::X86_64, Arch::Arm64));
static_assertions::const_assert!(LOAD.same_layout(Arch::X86_64, Arch::Arm64));
static_assertions::const_assert!(UNLOAD.same_layout(Arch::X86_64, Arch::Arm64));
static_assertions::const_assert!(STATUS.same_layout(Arch::X86_64, Arch::Arm64));
