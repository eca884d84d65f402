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
    xen_kexec_copy_from_guest_t, xen_kexec_copy_to_guest_t, xen_kexec_guest_t, xen_kexec_host_t,
    xen_kexec_op_t, xen_kexec_plain_segment_t, XEN_KEXEC_LOAD_SIZE, XEN_KEXEC_SEGMENT_MAX,
    XEN_KEXEC_SEGMENT_SIZE, XEN_KEXEC_WHY_MAX,
};

/// The assembly of the weak, hidden `rust_eh_personality` (see the end of this file),
/// with `$trap` as its one instruction.
#[cfg(panic = "abort")]
macro_rules! personality {
    ($trap:literal) => {
        concat!(
            ".pushsection .text.rust_eh_personality,\"ax\",%progbits\n",
            ".weak rust_eh_personality\n",
            ".hidden rust_eh_personality\n",
            ".type rust_eh_personality,%function\n",
            "rust_eh_personality:\n",
            $trap,
            "\n",
            ".size rust_eh_personality, . - rust_eh_personality\n",
            ".popsection\n",
        )
    };
}

/// A guest copy function of a `xen_kexec_guest_t`, called.
type CopyFrom = unsafe extern "C" fn(*mut c_void, *mut c_void, u64, usize) -> c_int;
/// A guest copy-out function of a `xen_kexec_guest_t`, called.
type CopyTo = unsafe extern "C" fn(*mut c_void, u64, *const c_void, usize) -> c_int;

// The host's call of a copy function, in the Xen build (`--cfg xen_kexec_host_calls`,
// `xen/build-object`): the host defines these two C functions, each one line that calls
// `f` with the other arguments. Its compiler makes that indirect call with the host's own
// protection (Xen: a retpoline thunk, and an `endbr64`-checked `cf_check` target), so
// this object makes only direct calls: none of its branches is indirect.
#[cfg(xen_kexec_host_calls)]
extern "C" {
    fn xen_kexec_host_copy_from_guest(
        f: CopyFrom,
        ctx: *mut c_void,
        dst: *mut c_void,
        guest_addr: u64,
        len: usize,
    ) -> c_int;
    fn xen_kexec_host_copy_to_guest(
        f: CopyTo,
        ctx: *mut c_void,
        guest_addr: u64,
        src: *const c_void,
        len: usize,
    ) -> c_int;
}

/// Calls `f(ctx, dst, addr, len)`: through the host in the Xen build, else directly.
///
/// # Safety
/// `f` and `ctx` are a guest's copy function and its argument, and `dst` is valid for
/// writes of `len` bytes.
unsafe fn call_copy_from(
    f: CopyFrom,
    ctx: *mut c_void,
    dst: *mut c_void,
    addr: u64,
    len: usize,
) -> c_int {
    #[cfg(xen_kexec_host_calls)]
    // SAFETY: the host's function calls `f` with these arguments, which the caller
    // vouches for.
    return unsafe { xen_kexec_host_copy_from_guest(f, ctx, dst, addr, len) };
    #[cfg(not(xen_kexec_host_calls))]
    // SAFETY: the caller vouches for `f`, `ctx` and `dst`.
    return unsafe { f(ctx, dst, addr, len) };
}

/// Calls `f(ctx, addr, src, len)`: through the host in the Xen build, else directly.
///
/// # Safety
/// `f` and `ctx` are a guest's copy-out function and its argument, and `src` is valid
/// for reads of `len` bytes.
unsafe fn call_copy_to(
    f: CopyTo,
    ctx: *mut c_void,
    addr: u64,
    src: *const c_void,
    len: usize,
) -> c_int {
    #[cfg(xen_kexec_host_calls)]
    // SAFETY: the host's function calls `f` with these arguments, which the caller
    // vouches for.
    return unsafe { xen_kexec_host_copy_to_guest(f, ctx, addr, src, len) };
    #[cfg(not(xen_kexec_host_calls))]
    // SAFETY: the caller vouches for `f`, `ctx` and `src`.
    return unsafe { f(ctx, addr, src, len) };
}

/// A guest's memory reached through the C copy functions of a `xen_kexec_guest_t`.
///
/// Before any callback is called, a range is checked: a length of 0 is a successful
/// copy of nothing (the callback is not called), and a range whose end `addr + len`
/// does not fit in a `uint64_t` (it wraps past 2^64, or ends exactly there) is a fault
/// (`EFAULT`): so a C callback may compute `guest_addr + len` without overflow.
/// Lengths are at most [`COPY_MAX`] (the largest guest object, the segment array).
struct CallbackMemory {
    ctx: *mut c_void,
    copy_from_guest: xen_kexec_copy_from_guest_t,
    copy_to_guest: xen_kexec_copy_to_guest_t,
}

impl CallbackMemory {
    /// The memory of `guest`.
    fn of(guest: &xen_kexec_guest_t) -> CallbackMemory {
        CallbackMemory {
            ctx: guest.ctx,
            copy_from_guest: guest.copy_from_guest,
            copy_to_guest: guest.copy_to_guest,
        }
    }

    /// Whether the range may be handed to a callback: not empty, no end past
    /// `u64::MAX`, at most [`COPY_MAX`] bytes.
    fn callable(addr: u64, len: usize) -> bool {
        len <= COPY_MAX && u64::try_from(len).is_ok_and(|n| addr.checked_add(n).is_some())
    }
}

impl GuestMemory for CallbackMemory {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), GuestFault> {
        if buf.is_empty() {
            return Ok(());
        }
        let fault = GuestFault::new(addr, buf.len(), Access::Read);
        let Some(copy_from_guest) = self.copy_from_guest else {
            return Err(fault);
        };
        if !Self::callable(addr, buf.len()) {
            return Err(fault);
        }
        // SAFETY: `copy_from_guest` is the caller's function for this guest and `ctx` its
        // argument, as the C contract of the exported functions requires; `buf` is valid
        // for writes of `buf.len()` bytes for the duration of the call.
        let rc = unsafe {
            call_copy_from(
                copy_from_guest,
                self.ctx,
                buf.as_mut_ptr().cast(),
                addr,
                buf.len(),
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(fault)
        }
    }

    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), GuestFault> {
        if bytes.is_empty() {
            return Ok(());
        }
        let fault = GuestFault::new(addr, bytes.len(), Access::Write);
        let Some(copy_to_guest) = self.copy_to_guest else {
            return Err(fault);
        };
        if !Self::callable(addr, bytes.len()) {
            return Err(fault);
        }
        // SAFETY: as for `read`; `bytes` is valid for reads of `bytes.len()` bytes.
        let rc = unsafe {
            call_copy_to(
                copy_to_guest,
                self.ctx,
                addr,
                bytes.as_ptr().cast(),
                bytes.len(),
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(fault)
        }
    }
}

/// The most bytes one callback call carries: the segment array of `KEXEC_SEGMENT_MAX`
/// segments (16 * 32); every other guest object is smaller.
const COPY_MAX: usize = XEN_KEXEC_SEGMENT_MAX * XEN_KEXEC_SEGMENT_SIZE;

/// The address range of `len` bytes at `ptr`, for the overlap checks.
fn span<T>(ptr: *const T, len: usize) -> (usize, usize) {
    let start = ptr.addr();
    (start, start.saturating_add(len))
}

/// Whether two non-empty address ranges overlap (an empty one overlaps nothing).
fn overlaps((a, a_end): (usize, usize), (b, b_end): (usize, usize)) -> bool {
    a < a_end && b < b_end && a < b_end && b < a_end
}

/// `ptr` as a shared reference when it is not NULL; `Err` naming `what` when it is NULL
/// (`Refusal::Null`) or misaligned for `T` (`Refusal::Misaligned`).
///
/// # Safety
/// A non-NULL, aligned `ptr` points to a valid `T` that nothing writes during `'a`.
unsafe fn shared<'a, T>(ptr: *const T, what: &'static str) -> Result<&'a T, Refusal> {
    if ptr.is_null() {
        return Err(Refusal::Null(what));
    }
    if !ptr.is_aligned() {
        return Err(Refusal::Misaligned(what));
    }
    // SAFETY: not NULL, aligned (checked above) and valid by this function's contract.
    Ok(unsafe { &*ptr })
}

/// The reason buffer `why` of `why_len` bytes, clamped to [`XEN_KEXEC_WHY_MAX`]:
/// `Ok(None)` for NULL, `Err` for a non-NULL buffer of length 0 (it cannot even hold
/// the NUL).
///
/// # Safety
/// A non-NULL `why` is valid for writes of `why_len` bytes for `'a`, and nothing else
/// reads or writes them during `'a`.
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
    // Clamped before the slice is formed: at most XEN_KEXEC_WHY_MAX bytes are written,
    // whatever why_len says (SIZE_MAX included). `u8` has alignment 1.
    let len = why_len.min(XEN_KEXEC_WHY_MAX);
    // SAFETY: `why` is not NULL and, by this function's contract, valid for writes of
    // `why_len >= len` bytes, not otherwise accessed during `'a`; `len` is at most
    // XEN_KEXEC_WHY_MAX, far below isize::MAX; `MaybeUninit` makes no claim about the
    // bytes' contents.
    Ok(Some(unsafe {
        core::slice::from_raw_parts_mut(why.cast::<MaybeUninit<u8>>(), len)
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
/// cmd is kexec_op's first argument as the guest passed it (Xen's unsigned long op):
/// a value above 32 bits is no command, -EOPNOTSUPP as Xen answers.
///
/// Returns 0 and fills *op, or a negative Xen errno and leaves *op untouched. When why
/// is not NULL, writes a NUL-terminated reason of at most XEN_KEXEC_WHY_MAX bytes,
/// truncated to why_len (an empty string on success). -EINVAL, with nothing written to
/// *op: a NULL or misaligned guest, host or op, bits other than 32 or 64, a page_size
/// that is not a power of two, a crash region that wraps, why overlapping *op, *guest
/// or *host, or why not NULL with why_len 0 (nothing is written to why then).
///
/// # Safety
/// Each pointer is NULL or points to a valid object of its type; why is NULL or valid
/// for writes of why_len bytes (only the first XEN_KEXEC_WHY_MAX are written); the
/// outputs (*op, why) overlap neither each other nor the inputs; the guest's copy
/// functions may be called with its ctx.
#[no_mangle]
pub unsafe extern "C" fn xen_kexec_decode(
    guest: *const xen_kexec_guest_t,
    host: *const xen_kexec_host_t,
    cmd: u64,
    arg: u64,
    op: *mut xen_kexec_op_t,
    why: *mut c_char,
    why_len: usize,
) -> c_int {
    // The outputs must not overlap each other or the inputs: checked on addresses
    // alone, before any reference or slice is formed (why is clamped as it will be).
    let why_span = span(why.cast_const(), why_len.min(XEN_KEXEC_WHY_MAX));
    let clash = [
        span(op.cast_const(), size_of::<xen_kexec_op_t>()),
        span(guest, size_of::<xen_kexec_guest_t>()),
        span(host, size_of::<xen_kexec_host_t>()),
    ]
    .into_iter()
    .any(|other| !why.is_null() && overlaps(why_span, other));
    if clash {
        return Refusal::Overlap("why").ret();
    }
    // SAFETY: the caller promises `why` valid for `why_len` bytes when not NULL, and it
    // overlaps none of the objects below (checked above).
    let why = match unsafe { reason_buffer(why, why_len) } {
        Ok(why) => why,
        Err(refusal) => return refusal.ret(),
    };
    let result = (|| {
        // SAFETY: each is checked for NULL and alignment by `shared`; the caller
        // promises that a non-NULL one points to a valid object, not written during
        // the call (op does not overlap them).
        let (guest, host) = unsafe { (shared(guest, "guest")?, shared(host, "host")?) };
        if op.is_null() {
            return Err(Refusal::Null("op"));
        }
        if !op.is_aligned() {
            return Err(Refusal::Misaligned("op"));
        }
        let abi = api::guest_abi(guest.bits)?;
        if guest.copy_from_guest.is_none() {
            return Err(Refusal::Null("guest->copy_from_guest"));
        }
        let cmd = api::command(cmd)?;
        let mut mem = CallbackMemory::of(guest);
        let decoded = api::decode_op(abi, &mut mem, host, cmd, arg)?;
        // SAFETY: not NULL and aligned (checked above); the caller promises a valid
        // object that no other pointer of this call reaches. Written once, whole.
        unsafe { op.write(decoded) };
        Ok(())
    })();
    finish(result, why)
}

/// Write a get_range answer (size bytes at machine address start) back to the guest's
/// xen_kexec_range_t at arg, in the guest's layout, through guest->copy_to_guest
/// (guest->copy_from_guest is not used and may be NULL).
///
/// op is the operation xen_kexec_decode gave for that call. Returns 0; -ERANGE for a
/// 32-bit guest when start or size needs more than 32 bits (nothing is written); -EFAULT
/// when the copy faults or the structure's end at arg would exceed UINT64_MAX (no copy
/// is tried then); -EINVAL for a NULL or misaligned guest or op, a NULL
/// guest->copy_to_guest, bits other than 32 or 64, or an op that is not a get_range.
///
/// # Safety
/// Each pointer is NULL or points to a valid object of its type; the guest's copy
/// functions may be called with its ctx.
#[no_mangle]
pub unsafe extern "C" fn xen_kexec_complete_get_range(
    guest: *const xen_kexec_guest_t,
    arg: u64,
    op: *const xen_kexec_op_t,
    start: u64,
    size: u64,
) -> c_int {
    let result = (|| {
        // SAFETY: checked for NULL and alignment by `shared`; the caller promises a
        // non-NULL pointer is valid.
        let (guest, op) = unsafe { (shared(guest, "guest")?, shared(op, "op")?) };
        let abi = api::guest_abi(guest.bits)?;
        if guest.copy_to_guest.is_none() {
            return Err(Refusal::Null("guest->copy_to_guest"));
        }
        let mut mem = CallbackMemory::of(guest);
        api::complete_get_range(abi, &mut mem, arg, op, start, size)
    })();
    finish(result, None)
}

/// Encode a load for a guest of bits (32 or 64): validates it with the decoder's rules,
/// then writes the XEN_KEXEC_LOAD_SIZE (24) bytes of xen_kexec_load_t to load_out and
/// nr * XEN_KEXEC_SEGMENT_SIZE (32) bytes of xen_kexec_segment_t to segments_out, its
/// segments handle set to segments_addr.
///
/// Returns 0 or a negative errno, and writes nothing when refused: the errno
/// xen_kexec_decode would give for a load the rules refuse (-EINVAL, -EADDRNOTAVAIL);
/// -ERANGE for a 32-bit guest when segments_addr or a buf needs more than 32 bits;
/// -EINVAL for a NULL or misaligned host, a NULL load_out, a NULL or misaligned
/// segments or a NULL segments_out with nr above 0, load_out_len below
/// XEN_KEXEC_LOAD_SIZE, segments_out_len below nr * XEN_KEXEC_SEGMENT_SIZE, outputs that
/// overlap each other or the inputs, bits other than 32 or 64, or more than
/// XEN_KEXEC_SEGMENT_MAX (16) segments.
///
/// # Safety
/// Each pointer is NULL or valid: host for its type, segments for nr elements, load_out
/// for load_out_len bytes, segments_out for segments_out_len bytes.
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
    load_out_len: usize,
    segments_out: *mut c_void,
    segments_out_len: usize,
) -> c_int {
    let result = (|| {
        let abi = api::guest_abi(bits)?;
        // SAFETY: checked for NULL and alignment by `shared`; the caller promises a
        // non-NULL pointer is valid.
        let host = unsafe { shared(host, "host") }?;
        if load_out.is_null() {
            return Err(Refusal::Null("load_out"));
        }
        if load_out_len < XEN_KEXEC_LOAD_SIZE {
            return Err(Refusal::TooSmall {
                what: "load_out_len",
                len: load_out_len,
                need: XEN_KEXEC_LOAD_SIZE,
            });
        }
        // Bounded before any slice is formed from nr.
        let count = api::segment_count(nr)?;
        let segments_len = count * size_of::<xen_kexec_plain_segment_t>();
        let out_len = count * XEN_KEXEC_SEGMENT_SIZE;
        if count > 0 {
            if segments.is_null() {
                return Err(Refusal::Null("segments"));
            }
            if !segments.is_aligned() {
                return Err(Refusal::Misaligned("segments"));
            }
            if segments_out.is_null() {
                return Err(Refusal::Null("segments_out"));
            }
            if segments_out_len < out_len {
                return Err(Refusal::TooSmall {
                    what: "segments_out_len",
                    len: segments_out_len,
                    need: out_len,
                });
            }
        }
        // The outputs (as many bytes as are written) overlap neither each other nor an
        // input.
        let load_span = span(load_out.cast_const(), XEN_KEXEC_LOAD_SIZE);
        let out_span = span(segments_out.cast_const(), out_len);
        let inputs = [
            span(host, size_of::<xen_kexec_host_t>()),
            span(segments, segments_len),
        ];
        if overlaps(load_span, out_span)
            || inputs
                .iter()
                .any(|&i| overlaps(load_span, i) || overlaps(out_span, i))
        {
            return Err(Refusal::Overlap("load_out or segments_out"));
        }
        let segments: &[xen_kexec_plain_segment_t] = if count == 0 {
            &[]
        } else {
            // SAFETY: not NULL, aligned, and the caller promises `nr` valid elements
            // (count <= 16, so their size is far below isize::MAX); no output overlaps
            // them (checked above).
            unsafe { core::slice::from_raw_parts(segments, count) }
        };
        let segments_out: &mut [MaybeUninit<u8>] = if count == 0 {
            &mut []
        } else {
            // SAFETY: not NULL, the caller promises `segments_out_len >= out_len`
            // writable bytes (out_len <= 512), alignment 1, and no other slice of this
            // call overlaps them (checked above).
            unsafe { core::slice::from_raw_parts_mut(segments_out.cast(), out_len) }
        };
        // SAFETY: not NULL (checked above), the caller promises `load_out_len >= 24`
        // writable bytes, alignment 1, no overlap with the other slices (checked above).
        let load_out: &mut [MaybeUninit<u8>] =
            unsafe { core::slice::from_raw_parts_mut(load_out.cast(), XEN_KEXEC_LOAD_SIZE) };
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

// The unwinding personality routine that core's objects refer to: core is precompiled
// for unwinding, so some of its objects carry a reference to `rust_eh_personality` even
// in a `panic = "abort"` build, where nothing unwinds and nothing calls it. It is
// defined here in assembly, not as a Rust function, so that it can be what a Rust
// function cannot be on stable Rust:
// - weak: beside a Rust library built with `std` (static, or libstd.so), std's strong
//   definition wins and the link does not fail with a multiple definition;
// - hidden: the cdylib does not export it, and a program linking the staticlib does not
//   export it either, so it never interposes libstd.so's (a process that loads both
//   would otherwise abort on its first panic, "failed to initiate panic").
// It traps if ever called. The staticlib's other Rust-internal global, the panic
// handler, is localized after the build (scripts/ffi-staticlib), which also makes this
// one local.
#[cfg(all(panic = "abort", any(target_arch = "x86", target_arch = "x86_64")))]
core::arch::global_asm!(personality!("ud2"));
#[cfg(all(panic = "abort", any(target_arch = "aarch64", target_arch = "arm")))]
core::arch::global_asm!(personality!("udf #0"));
