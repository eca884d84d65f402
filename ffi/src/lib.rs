// SPDX-License-Identifier: MIT
//! The C ABI of the kexec_op decoder and load encoder: Xen's C (`kexec_load`) and
//! libxenctrl call the one implementation of the rules in [`xen_kexec_abi`] through
//! `include/xen-kexec.h`, generated from this crate by cbindgen (run from headgen).
//!
//! - [`xen_kexec_decode`]: the hypervisor side; reads `kexec_op(cmd, arg)` from the guest
//!   through the caller's copy functions, each guest object once, and returns the
//!   validated operation or a negative Xen errno with a reason.
//! - [`xen_kexec_complete_get_range`]: writes a get_range answer back at the guest's
//!   width, refusing (`-ERANGE`) what a 32-bit guest cannot hold.
//! - [`xen_kexec_encode_load`]: the toolstack side; validates a load with the same rules
//!   and writes its argument bytes for a 32- or 64-bit guest.
//!
//! **Builds.** The staticlib a hypervisor links is built with
//! `cargo build -p xen-kexec-ffi --profile ffi`: that profile has `panic = "abort"`, and
//! with it the crate is `no_std` (it needs only `core`, and `memcpy`/`memset` from its
//! host) and ends a panic in a trap (`ud2` on x86). Every other build (`cargo test`, the
//! default profiles, which always unwind) links `std` instead: core cannot be linked
//! without `std` under `panic = "unwind"`, and a panic handler of our own would clash
//! with `std`'s. So the choice follows the panic strategy, not `cfg(test)`.
//! `scripts/ffi-staticlib` links that staticlib into one object whose only global
//! symbols are the three functions (`target/ffi/libxen_kexec.a`): the panic handler and
//! core's code become local, so the library links beside Rust code built with `std`.
//! The cdylib exports only the three functions.
//!
//! **Contract** (stated in `include/xen-kexec.h`): stateless, so threads and re-entry
//! are safe; outputs never overlap each other or the inputs (refused when visible);
//! every pointer is checked for NULL and alignment and every length bounded before any
//! reference or slice is formed, in every profile; the copy callbacks never see a
//! length of 0, more than 512 bytes, or a range reaching past `u64::MAX`.
//!
//! **Safety.** All `unsafe` code is in the private module `raw` (each block with its
//! safety argument; no pointer is used before its NULL check); [`types`] are the C
//! structures; the rest is safe Rust.
//!
//! From Rust (the functions are `unsafe` only because they take raw pointers):
//!
//! ```
//! use xen_kexec_ffi::{xen_kexec_encode_load, xen_kexec_host_t, xen_kexec_plain_segment_t};
//!
//! let host = xen_kexec_host_t { page_size: 4096, crash_start: 0, crash_size: 0, profile: 0 };
//! let seg = xen_kexec_plain_segment_t {
//!     buf: 0x8000, buf_size: 0x800, dest_maddr: 0x10_0000, dest_size: 0x1000,
//! };
//! let (mut load, mut segs) = ([0u8; 24], [0u8; 32]);
//! // A 64-bit image (EM_X86_64 = 62) for a 32-bit guest, its segment array at 0x9000.
//! let rc = unsafe {
//!     xen_kexec_encode_load(32, &host, 0, 62, 0x10_0000, &seg, 1, 0x9000,
//!                           load.as_mut_ptr().cast(), load.len(),
//!                           segs.as_mut_ptr().cast(), segs.len())
//! };
//! assert_eq!(rc, 0);
//! assert_eq!(&load[8..12], &0x9000u32.to_le_bytes()); // the segments handle
//! ```
#![cfg_attr(panic = "abort", no_std)]

mod api;
mod raw;
pub mod types;

pub use raw::{xen_kexec_complete_get_range, xen_kexec_decode, xen_kexec_encode_load};
pub use types::{
    xen_kexec_copy_from_guest_t, xen_kexec_copy_to_guest_t, xen_kexec_guest, xen_kexec_guest_t,
    xen_kexec_host, xen_kexec_host_t, xen_kexec_op, xen_kexec_op_t, xen_kexec_plain_segment,
    xen_kexec_plain_segment_t, XEN_KEXEC_LOAD_SIZE, XEN_KEXEC_SEGMENT_MAX, XEN_KEXEC_SEGMENT_SIZE,
    XEN_KEXEC_WHY_MAX,
};

/// The `no_std` build's panic handler: the trap of the private module `raw`.
#[cfg(panic = "abort")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    raw::trap()
}
