// SPDX-License-Identifier: MIT
//! The crate's only `unsafe` code: the exported C functions, which check every pointer
//! for NULL before turning it into a reference or slice, the guest memory that calls the
//! C copy functions, and the trap a panic ends in. Everything else is [`crate::api`].
#![allow(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks, unsafe_op_in_unsafe_fn)]

use core::ffi::{c_char, c_int, c_uint, c_void};
use core::mem::MaybeUninit;

use xen_kexec_abi::guest_mem::GuestMemory;
use xen_kexec_abi::{Access, GuestFault};

use crate::api::{self, LoadArgs, Refusal};
use crate::types::{
    xen_kexec_copy_to_guest_t, xen_kexec_guest_t, xen_kexec_host_t, xen_kexec_op_t,
    xen_kexec_plain_segment_t,
};

/// The C copy function a [`CallbackMemory`] reads with.
type CopyFrom = unsafe extern "C" fn(*mut c_void, *mut c_void, u64, usize) -> c_int;

/// A guest's memory reached through the C copy functions of a `xen_kexec_guest_t`.
struct CallbackMemory {
    ctx: *mut c_void,
    copy_from_guest: CopyFrom,
    copy_to_guest: xen_kexec_copy_to_guest_t,
}

impl CallbackMemory {
    /// The memory of `guest`, which must have a `copy_from_guest`.
    fn of(guest: &xen_kexec_guest_t) -> Result<CallbackMemory, Refusal> {
        Ok(CallbackMemory {
            ctx: guest.ctx,
            copy_from_guest: guest
                .copy_from_guest
                .ok_or(Refusal::Null("guest->copy_from_guest"))?,
            copy_to_guest: guest.copy_to_guest,
        })
    }
}

impl GuestMemory for CallbackMemory {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), GuestFault> {
        // SAFETY: `copy_from_guest` is the caller's function for this guest and `ctx` its
        // argument, as the C contract of the exported functions requires; `buf` is valid
        // for writes of `buf.len()` bytes for the duration of the call.
        let rc =
            unsafe { (self.copy_from_guest)(self.ctx, buf.as_mut_ptr().cast(), addr, buf.len()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(GuestFault::new(addr, buf.len(), Access::Read))
        }
    }

    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), GuestFault> {
        let Some(copy_to_guest) = self.copy_to_guest else {
            return Err(GuestFault::new(addr, bytes.len(), Access::Write));
        };
        // SAFETY: as for `read`; `bytes` is valid for reads of `bytes.len()` bytes.
        let rc = unsafe { copy_to_guest(self.ctx, addr, bytes.as_ptr().cast(), bytes.len()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(GuestFault::new(addr, bytes.len(), Access::Write))
        }
    }
}

/// The reason buffer `why` of `why_len` bytes: `Ok(None)` for NULL, `Err` for a non-NULL
/// buffer of length 0 (it cannot even hold the NUL).
///
/// # Safety
/// A non-NULL `why` is valid for writes of `why_len` bytes for `'a`.
unsafe fn reason_buffer<'a>(
    why: *mut c_char,
    why_len: usize,
) -> Result<Option<&'a mut [MaybeUninit<u8>]>, Refusal> {
    if why.is_null() {
        return Ok(None);
    }
    if why_len == 0 {
        return Err(Refusal::EmptyReasonBuffer);
    }
    // SAFETY: `why` is not NULL and, by this function's contract, valid for writes of
    // `why_len` bytes; `MaybeUninit` makes no claim about their contents.
    Ok(Some(unsafe {
        core::slice::from_raw_parts_mut(why.cast::<MaybeUninit<u8>>(), why_len)
    }))
}

/// Writes the outcome's reason to `why` (an empty string on success) and gives the
/// return value.
fn finish(result: Result<(), Refusal>, why: Option<&mut [MaybeUninit<u8>]>) -> c_int {
    match result {
        Ok(()) => {
            if let Some(why) = why {
                #[cfg(not(xen_kexec_rule_names))]
                api::write_reason(why, &"");
                #[cfg(xen_kexec_rule_names)]
                api::write_reason(why, "");
            }
            0
        }
        Err(refusal) => {
            if let Some(why) = why {
                #[cfg(not(xen_kexec_rule_names))]
                api::write_reason(why, &refusal);
                #[cfg(xen_kexec_rule_names)]
                api::write_reason(why, refusal.rule());
            }
            refusal.ret()
        }
    }
}

/// Decode and validate kexec_op(cmd, arg) from the guest.
///
/// Returns 0 and fills *op, or a negative Xen errno and leaves *op untouched. When why
/// is not NULL, writes a NUL-terminated reason, truncated to why_len bytes (an empty
/// string on success). NULL guest, host or op, a NULL guest->copy_from_guest, bits other
/// than 32 or 64, a page_size that is not a power of two, a crash region that wraps, or
/// why not NULL with why_len 0 (nothing is written then) are -EINVAL.
///
/// # Safety
/// Each pointer is NULL or valid for its type; why is NULL or valid for why_len bytes;
/// the guest's copy functions may be called with its ctx.
#[no_mangle]
pub unsafe extern "C" fn xen_kexec_decode(
    guest: *const xen_kexec_guest_t,
    host: *const xen_kexec_host_t,
    cmd: u32,
    arg: u64,
    op: *mut xen_kexec_op_t,
    why: *mut c_char,
    why_len: usize,
) -> c_int {
    // SAFETY: the caller promises `why` valid for `why_len` bytes when not NULL.
    let why = match unsafe { reason_buffer(why, why_len) } {
        Ok(why) => why,
        Err(refusal) => return refusal.ret(),
    };
    // SAFETY: each pointer is checked for NULL by `as_ref`/`as_mut`; the caller
    // promises that a non-NULL one points to a valid object, not aliased during the call.
    let (guest, host, op) = unsafe { (guest.as_ref(), host.as_ref(), op.as_mut()) };
    let result = (|| {
        let guest = guest.ok_or(Refusal::Null("guest"))?;
        let host = host.ok_or(Refusal::Null("host"))?;
        let op = op.ok_or(Refusal::Null("op"))?;
        let abi = api::guest_abi(guest.bits)?;
        let mut mem = CallbackMemory::of(guest)?;
        *op = api::decode_op(abi, &mut mem, host, cmd, arg)?;
        Ok(())
    })();
    finish(result, why)
}

/// Write a get_range answer (size bytes at machine address start) back to the guest's
/// xen_kexec_range_t at arg, in the guest's layout.
///
/// op is the operation xen_kexec_decode gave for that call. Returns 0; -ERANGE for a
/// 32-bit guest when start or size needs more than 32 bits (nothing is written); -EFAULT
/// when the copy faults; -EINVAL for NULL guest or op, a NULL guest->copy_to_guest, bits
/// other than 32 or 64, or an op that is not a get_range.
///
/// # Safety
/// Each pointer is NULL or valid for its type; the guest's copy functions may be called
/// with its ctx.
#[no_mangle]
pub unsafe extern "C" fn xen_kexec_complete_get_range(
    guest: *const xen_kexec_guest_t,
    arg: u64,
    op: *const xen_kexec_op_t,
    start: u64,
    size: u64,
) -> c_int {
    // SAFETY: checked for NULL by `as_ref`; the caller promises a non-NULL pointer is
    // valid.
    let (guest, op) = unsafe { (guest.as_ref(), op.as_ref()) };
    let result = (|| {
        let guest = guest.ok_or(Refusal::Null("guest"))?;
        let op = op.ok_or(Refusal::Null("op"))?;
        let abi = api::guest_abi(guest.bits)?;
        if guest.copy_to_guest.is_none() {
            return Err(Refusal::Null("guest->copy_to_guest"));
        }
        let mut mem = CallbackMemory::of(guest)?;
        api::complete_get_range(abi, &mut mem, arg, op, start, size)
    })();
    finish(result, None)
}

/// Encode a load for a guest of bits (32 or 64): validates it with the decoder's rules,
/// then writes the 24-byte xen_kexec_load_t to load_out and nr * 32 bytes of
/// xen_kexec_segment_t to segments_out, its segments handle set to segments_addr.
///
/// Returns 0 or a negative errno, and writes nothing when refused: the errno
/// xen_kexec_decode would give for a load the rules refuse (-EINVAL, -EADDRNOTAVAIL);
/// -ERANGE for a 32-bit guest when segments_addr or a buf needs more than 32 bits;
/// -EINVAL for a NULL host or load_out, a NULL segments or segments_out with nr above 0,
/// bits other than 32 or 64, or more than 16 segments.
///
/// # Safety
/// Each pointer is NULL or valid: segments for nr elements, load_out for 24 bytes,
/// segments_out for nr * 32 bytes.
#[no_mangle]
#[allow(clippy::too_many_arguments)] // the C interface's signature
pub unsafe extern "C" fn xen_kexec_encode_load(
    bits: c_uint,
    host: *const xen_kexec_host_t,
    r#type: u8,
    arch: u16,
    entry_maddr: u64,
    segments: *const xen_kexec_plain_segment_t,
    nr: u32,
    segments_addr: u64,
    load_out: *mut c_void,
    segments_out: *mut c_void,
) -> c_int {
    let result = (|| {
        let abi = api::guest_abi(bits)?;
        // SAFETY: checked for NULL by `as_ref`; the caller promises a non-NULL pointer
        // is valid.
        let host = unsafe { host.as_ref() }.ok_or(Refusal::Null("host"))?;
        if load_out.is_null() {
            return Err(Refusal::Null("load_out"));
        }
        // Bounded before any slice is formed from nr.
        let count = api::segment_count(nr)?;
        let segments: &[xen_kexec_plain_segment_t] = if count == 0 {
            &[]
        } else if segments.is_null() {
            return Err(Refusal::Null("segments"));
        } else {
            // SAFETY: not NULL, and the caller promises `nr` valid elements.
            unsafe { core::slice::from_raw_parts(segments, count) }
        };
        let segments_out: &mut [MaybeUninit<u8>] = if count == 0 {
            &mut []
        } else if segments_out.is_null() {
            return Err(Refusal::Null("segments_out"));
        } else {
            // SAFETY: not NULL, and the caller promises `nr * 32` writable bytes
            // (count <= 16, so the product cannot overflow).
            unsafe {
                core::slice::from_raw_parts_mut(segments_out.cast(), count * api::segment_size())
            }
        };
        // SAFETY: not NULL (checked above), and the caller promises 24 writable bytes.
        let load_out: &mut [MaybeUninit<u8>] =
            unsafe { core::slice::from_raw_parts_mut(load_out.cast(), api::load_size()) };
        let args = LoadArgs {
            abi,
            host,
            type_: r#type,
            arch,
            entry_maddr,
            segments,
            segments_addr,
        };
        api::encode_load(&args, load_out, segments_out)
    })();
    finish(result, None)
}

/// Where a panic ends in the `no_std` build (`panic = "abort"`): no path of the decoder
/// or encoder panics on any input, so this is a bug; stop at once, loudly. On x86 `ud2`
/// raises an invalid-opcode exception (a hypervisor reports it like its own `BUG()`, a
/// C program gets SIGILL); elsewhere the CPU spins.
#[cfg(panic = "abort")]
pub(crate) fn trap() -> ! {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    // SAFETY: `ud2` touches no memory or stack and never returns.
    unsafe {
        core::arch::asm!("ud2", options(noreturn, nomem, nostack));
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    loop {
        core::hint::spin_loop();
    }
}

/// The unwinding personality routine that core's objects refer to: core is precompiled
/// for unwinding, so some of its objects carry a reference to `rust_eh_personality`
/// even in a `panic = "abort"` build, where nothing unwinds and nothing calls it. This
/// empty definition lets a C program link the staticlib without `--gc-sections`. (A
/// program that also links a Rust library built with `std` gets a second definition:
/// link that one with `--gc-sections` and leave this one out.)
#[cfg(panic = "abort")]
#[no_mangle]
pub(crate) extern "C" fn rust_eh_personality() {}
