// SPDX-License-Identifier: MIT
//! The C types of `include/xen-kexec.h`, under their C names (cbindgen renders this file).
//!
//! Their doc comments are the header's comments, so they are written as C prose. Each
//! structure is declared with its tag (`struct xen_kexec_guest`) and given its `_t`
//! typedef by a Rust type alias, which cbindgen renders as
//! `typedef struct xen_kexec_guest xen_kexec_guest_t;`.
//!
//! These are host-side structures, passed between C and Rust in one address space, not
//! guest ABI: their layout is the C compiler's for the host (`#[repr(C)]`), and the tests
//! compare every offset with gcc's.
#![allow(non_camel_case_types)]

use core::ffi::{c_int, c_uint, c_void};

use xen_kexec_abi::consts::KEXEC_SEGMENT_MAX;
use xen_kexec_abi::x86_64;

/// The size in bytes of an encoded xen_kexec_load_t (both guest widths): what
/// xen_kexec_encode_load writes to load_out.
pub const XEN_KEXEC_LOAD_SIZE: usize = 24;

/// The size in bytes of one encoded xen_kexec_segment_t (both guest widths).
pub const XEN_KEXEC_SEGMENT_SIZE: usize = 32;

/// The most segments a load has (KEXEC_SEGMENT_MAX): segments_out needs at most
/// XEN_KEXEC_SEGMENT_MAX * XEN_KEXEC_SEGMENT_SIZE bytes.
pub const XEN_KEXEC_SEGMENT_MAX: usize = 16;

/// The most bytes of a reason xen_kexec_decode writes to why (NUL included), whatever
/// why_len says: a larger why_len is clamped to it.
pub const XEN_KEXEC_WHY_MAX: usize = 256;

/// Copies len bytes from guest address guest_addr to dst. Returns 0 when all len bytes
/// were copied, nonzero on a fault.
///
/// What a copy function may assume: len is at least 1 and at most 512
/// (XEN_KEXEC_SEGMENT_MAX * XEN_KEXEC_SEGMENT_SIZE); guest_addr + len never exceeds
/// UINT64_MAX (a range that would wrap past 2^64, or end exactly there, is refused with
/// -EFAULT before any callback is called), so `guest_addr + len` can be computed in
/// uint64_t; dst is a buffer of the library's own, never one of the caller's arguments.
pub type xen_kexec_copy_from_guest_t = Option<
    unsafe extern "C" fn(ctx: *mut c_void, dst: *mut c_void, guest_addr: u64, len: usize) -> c_int,
>;

/// Copies len bytes from src to guest address guest_addr. Returns 0 when all len bytes
/// were copied, nonzero on a fault. It may assume what a xen_kexec_copy_from_guest_t
/// may (len 1 to 512, no range reaching past UINT64_MAX).
pub type xen_kexec_copy_to_guest_t = Option<
    unsafe extern "C" fn(
        ctx: *mut c_void,
        guest_addr: u64,
        src: *const c_void,
        len: usize,
    ) -> c_int,
>;

/// The guest that made the hypercall: its width and how to reach its memory.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct xen_kexec_guest {
    /// 32 (a compat guest) or 64.
    pub bits: c_uint,
    /// Passed unchanged to both copy functions.
    pub ctx: *mut c_void,
    /// Required by xen_kexec_decode; not used by xen_kexec_complete_get_range.
    pub copy_from_guest: xen_kexec_copy_from_guest_t,
    /// May be NULL except for xen_kexec_complete_get_range.
    pub copy_to_guest: xen_kexec_copy_to_guest_t,
}

/// The guest that made the hypercall.
pub type xen_kexec_guest_t = xen_kexec_guest;

/// What the load rules need to know about the host.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct xen_kexec_host {
    /// A power of two: 4096 on x86.
    pub page_size: u64,
    /// The first machine address of the crash region.
    pub crash_start: u64,
    /// Its size; 0 when no crash region is reserved.
    pub crash_size: u64,
    /// Which rules: XEN_KEXEC_RULES_STRICT (0, the default) or XEN_KEXEC_RULES_XEN (at
    /// most 15 segments and _pad ignored, as Xen's own kexec_load).
    pub profile: u64,
}

/// xen_kexec_host_t.profile: this crate's rules (16 segments, a non-zero _pad refused).
pub const XEN_KEXEC_RULES_STRICT: u64 = 0;
/// xen_kexec_host_t.profile: Xen's answers (at most 15 segments, _pad ignored).
pub const XEN_KEXEC_RULES_XEN: u64 = 1;

/// What the load rules need to know about the host.
pub type xen_kexec_host_t = xen_kexec_host;

/// A segment with its handle already read: buf is the guest address of the source bytes
/// (0 for none).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct xen_kexec_plain_segment {
    /// Guest address of the source bytes; 0 for none.
    pub buf: u64,
    /// Number of source bytes.
    pub buf_size: u64,
    /// Machine address of the destination.
    pub dest_maddr: u64,
    /// Size of the destination in bytes.
    pub dest_size: u64,
}

/// A segment with its handle already read.
pub type xen_kexec_plain_segment_t = xen_kexec_plain_segment;

/// A decoded, validated kexec_op call. Fields a command does not use are zero, and so
/// is reserved: no byte of the structure is padding, so it may be compared with memcmp.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct xen_kexec_op {
    /// KEXEC_CMD_*.
    pub cmd: u32,
    /// KEXEC_TYPE_*: exec, load, unload, status.
    pub r#type: u8,
    /// load: 32 or 64, from the image's arch (never from the guest's width).
    pub entry_bits: u8,
    /// load: EM_386 or EM_X86_64.
    pub arch: u16,
    /// load: the number of segments used.
    pub nr_segments: u32,
    /// get_range: KEXEC_RANGE_MA_*.
    pub range: i32,
    /// get_range: the CPU number for KEXEC_RANGE_MA_CPU.
    pub nr: i32,
    /// Always 0: the 4 bytes before entry_maddr, named so that they are never padding.
    pub reserved: u32,
    /// load: machine address of the entry point.
    pub entry_maddr: u64,
    /// load: nr_segments used, the rest zero (XEN_KEXEC_SEGMENT_MAX of them).
    pub segments: [xen_kexec_plain_segment_t; 16],
}

/// A decoded, validated kexec_op call.
pub type xen_kexec_op_t = xen_kexec_op;

// The C interface spells the array length 16; it is KEXEC_SEGMENT_MAX.
static_assertions::const_assert_eq!(16, KEXEC_SEGMENT_MAX);
static_assertions::const_assert_eq!(XEN_KEXEC_SEGMENT_MAX, KEXEC_SEGMENT_MAX as usize);
static_assertions::const_assert_eq!(XEN_KEXEC_LOAD_SIZE, size_of::<x86_64::KexecLoad>());
static_assertions::const_assert_eq!(XEN_KEXEC_SEGMENT_SIZE, size_of::<x86_64::KexecSegment>());
// No padding: every byte of xen_kexec_op_t is a field.
static_assertions::const_assert_eq!(
    size_of::<xen_kexec_op>(),
    4 + 1 + 1 + 2 + 4 + 4 + 4 + 4 + 8 + 16 * size_of::<xen_kexec_plain_segment>()
);
