// SPDX-License-Identifier: MIT
//! The pointer and length preconditions hold in every profile (issue 30, item 6): run
//! by `cargo test` in the dev profile, where `slice::from_raw_parts`'s own precondition
//! checks (debug assertions) abort the process on a misaligned pointer or a length past
//! `isize::MAX`. Each call below used to reach one of them; now each is refused first.

#![allow(unsafe_code)]
// calls the C interface, as C does
// Pointers made misaligned and passed as C passes them: what the test is about.
#![allow(clippy::cast_ptr_alignment, clippy::borrow_as_ptr)]

use std::ffi::c_void;

use xen_kexec_ffi::{
    xen_kexec_decode, xen_kexec_encode_load, xen_kexec_guest_t, xen_kexec_host_t, xen_kexec_op_t,
    xen_kexec_plain_segment_t, XEN_KEXEC_WHY_MAX,
};

const EINVAL: i32 = -22;
const EFAULT: i32 = -14;

unsafe extern "C" fn nothing(_: *mut c_void, _: *mut c_void, _: u64, _: usize) -> i32 {
    1
}

fn guest() -> xen_kexec_guest_t {
    xen_kexec_guest_t {
        bits: 64,
        ctx: std::ptr::null_mut(),
        copy_from_guest: Some(nothing),
        copy_to_guest: None,
    }
}

const HOST: xen_kexec_host_t = xen_kexec_host_t {
    page_size: 4096,
    crash_start: 0,
    crash_size: 0,
    profile: 0,
};

#[test]
fn why_len_size_max_is_clamped_to_the_buffer_the_reason_needs() {
    let mut why = vec![b'x'; XEN_KEXEC_WHY_MAX];
    let mut op = xen_kexec_op_t::default();
    // SAFETY: `why` holds XEN_KEXEC_WHY_MAX bytes, all the library writes.
    let rc = unsafe {
        xen_kexec_decode(
            &guest(),
            &HOST,
            6,
            0x1000,
            &mut op,
            why.as_mut_ptr().cast(),
            usize::MAX,
        )
    };
    assert_eq!(rc, EFAULT);
    assert!(why.contains(&0), "NUL-terminated within the buffer");
}

#[test]
fn misaligned_segments_and_op_are_einval_before_any_slice() {
    let segs = [xen_kexec_plain_segment_t::default(); 3];
    let misaligned = segs
        .as_ptr()
        .cast::<u8>()
        .wrapping_add(4)
        .cast::<xen_kexec_plain_segment_t>();
    let (mut load, mut out) = ([0u8; 24], [0u8; 64]);
    // SAFETY: the pointers are valid for their lengths; `misaligned` is refused unread.
    let rc = unsafe {
        xen_kexec_encode_load(
            64,
            &HOST,
            0,
            62,
            0x10_0000,
            misaligned,
            2,
            0x9000,
            load.as_mut_ptr().cast(),
            load.len(),
            out.as_mut_ptr().cast(),
            out.len(),
        )
    };
    assert_eq!(rc, EINVAL);
    let mut ops = [xen_kexec_op_t::default(); 2];
    let op = ops
        .as_mut_ptr()
        .cast::<u8>()
        .wrapping_add(2)
        .cast::<xen_kexec_op_t>();
    // SAFETY: `op` is refused before it is written.
    let rc = unsafe { xen_kexec_decode(&guest(), &HOST, 6, 0x1000, op, std::ptr::null_mut(), 0) };
    assert_eq!(rc, EINVAL);
}

#[test]
fn output_lengths_too_small_are_einval_and_nothing_is_written() {
    let seg = xen_kexec_plain_segment_t {
        buf: 0x8000,
        buf_size: 0x800,
        dest_maddr: 0x10_0000,
        dest_size: 0x1000,
    };
    let (mut load, mut out) = ([0xaau8; 24], [0xaau8; 32]);
    for (load_len, out_len) in [(23, 32), (24, 31), (0, 0)] {
        // SAFETY: the buffers are larger than the lengths passed.
        let rc = unsafe {
            xen_kexec_encode_load(
                64,
                &HOST,
                0,
                62,
                0x10_0000,
                &seg,
                1,
                0x9000,
                load.as_mut_ptr().cast(),
                load_len,
                out.as_mut_ptr().cast(),
                out_len,
            )
        };
        assert_eq!(rc, EINVAL, "{load_len} {out_len}");
        assert!(load.iter().chain(&out).all(|&b| b == 0xaa));
    }
}
