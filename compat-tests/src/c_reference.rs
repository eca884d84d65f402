// SPDX-License-Identifier: MIT
//! The C reference decode of `KEXEC_CMD_kexec_load` (`c/kexec_load_ref.c`, compiled by
//! `build.rs` with `-O2`): the yardstick the benchmark measures the crate's decoder
//! against, on the same bytes. A safe wrapper; the one `unsafe` call is below.
//!
//! The C code reads guest memory as one flat buffer, as the crate's
//! [`FlatMemory`](xen_kexec_abi::guest_mem::FlatMemory) does, and answers `0` or a
//! negative Xen errno.
// The FFI call is `unsafe`; this module is where compat-tests allows it.
#![allow(unsafe_code)]

use core::ffi::c_int;
use core::marker::PhantomData;

use xen_kexec_abi::host::{HostDescription, MachineRange};
use xen_kexec_abi::load::{Segment, SegmentList};
use xen_kexec_abi::{x86_64, GuestAbi};
use zerocopy::FromZeros;

/// `struct ref_guest`: the flat guest memory.
#[repr(C)]
struct RefGuest {
    bytes: *const u8,
    base: u64,
    size: u64,
}

/// `struct ref_host`.
#[repr(C)]
struct RefHost {
    page_size: u64,
    crash_start: u64,
    crash_size: u64,
    has_crash: u32,
}

/// `struct ref_load`: a load the C reference accepted.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RefLoad {
    /// `KEXEC_TYPE_*`.
    pub type_: u8,
    /// 1 for an image entered in long mode (`EM_X86_64`), 0 for protected mode.
    pub long_mode: u8,
    /// The ELF machine.
    pub arch: u16,
    /// How many of `segments` are the load's.
    pub nr_segments: u32,
    /// The entry point.
    pub entry_maddr: u64,
    /// The segments, as `xen_kexec_segment_t` (a 32-bit guest's `buf` already cut to
    /// its low 4 bytes).
    pub segments: [x86_64::KexecSegment; SegmentList::CAPACITY],
}

impl RefLoad {
    /// An empty answer slot.
    pub fn new() -> RefLoad {
        RefLoad {
            type_: 0,
            long_mode: 0,
            arch: 0,
            nr_segments: 0,
            entry_maddr: 0,
            segments: [x86_64::KexecSegment::new_zeroed(); SegmentList::CAPACITY],
        }
    }

    /// The load's segments in the crate's terms.
    pub fn segments(&self) -> impl Iterator<Item = Segment> + '_ {
        let n = usize::try_from(self.nr_segments).unwrap_or(usize::MAX);
        self.segments.iter().take(n).map(|s| Segment {
            buf: s.buf.raw(),
            buf_size: s.buf_size,
            dest_maddr: s.dest_maddr,
            dest_size: s.dest_size,
        })
    }
}

impl Default for RefLoad {
    fn default() -> Self {
        RefLoad::new()
    }
}

extern "C" {
    fn ref_kexec_load(
        compat: c_int,
        guest: *const RefGuest,
        arg: u64,
        host: *const RefHost,
        out: *mut RefLoad,
    ) -> c_int;
}

/// The C reference decoder over `bytes` at guest address `base`, for `host`.
pub struct CReference<'a> {
    guest: RefGuest,
    host: RefHost,
    bytes: PhantomData<&'a [u8]>,
}

impl<'a> CReference<'a> {
    /// A decoder whose guest memory is `bytes` at `base`.
    ///
    /// # Panics
    /// Never on a 64-bit host: a slice's length fits in `u64`.
    pub fn new(base: u64, bytes: &'a [u8], host: &HostDescription) -> CReference<'a> {
        let crash = host.crash_region;
        CReference {
            guest: RefGuest {
                bytes: bytes.as_ptr(),
                base,
                size: u64::try_from(bytes.len()).expect("a slice fits in u64"),
            },
            host: RefHost {
                page_size: host.page_size.get(),
                crash_start: crash.map_or(0, MachineRange::start),
                crash_size: crash.map_or(0, MachineRange::size),
                has_crash: u32::from(crash.is_some()),
            },
            bytes: PhantomData,
        }
    }

    /// Decodes the load at `arg` from a guest of width `abi` into `out`: `0`, or the
    /// negative errno (`out` then holds whatever the C code wrote before refusing).
    #[inline]
    pub fn load(&self, abi: GuestAbi, arg: u64, out: &mut RefLoad) -> i32 {
        let compat = c_int::from(abi == GuestAbi::X86_32);
        // SAFETY: `guest.bytes` points at `guest.size` readable bytes borrowed for 'a
        // (the C code reads only inside them, after its bounds check); `host` and `out`
        // are valid for the call, `out` exclusively, and `RefGuest`, `RefHost` and
        // `RefLoad` are `repr(C)` twins of the C structures (`RefLoad.segments` is
        // `xen_kexec_segment_t`'s layout, asserted by the crate). The C function keeps
        // no pointer after it returns.
        unsafe {
            ref_kexec_load(
                compat,
                &raw const self.guest,
                arg,
                &raw const self.host,
                out,
            )
        }
    }
}
