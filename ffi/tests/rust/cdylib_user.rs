// SPDX-License-Identifier: MIT
//! A Rust program over libstd.so that calls the cdylib of xen-kexec-ffi (linked, or
//! LD_PRELOADed), then panics inside `catch_unwind`: the panic must be caught, which
//! fails ("failed to initiate panic") if the cdylib interposes std's unwinding symbols.

use std::ffi::c_void;

#[repr(C)]
struct Host {
    page_size: u64,
    crash_start: u64,
    crash_size: u64,
    profile: u64,
}

#[cfg(linked)]
#[link(name = "xen_kexec_ffi")]
extern "C" {
    fn xen_kexec_encode_load(
        bits: u32,
        host: *const Host,
        type_: u8,
        arch: u16,
        entry_maddr: u64,
        segments: *const c_void,
        nr: u32,
        segments_addr: u64,
        load_out: *mut c_void,
        load_out_len: usize,
        segments_out: *mut c_void,
        segments_out_len: usize,
    ) -> i32;
}

fn main() {
    let host = Host { page_size: 4096, crash_start: 0, crash_size: 0, profile: 0 };
    let mut load = [0u8; 24];
    #[cfg(linked)]
    // SAFETY: valid pointers and lengths; no segments.
    let rc = unsafe {
        xen_kexec_encode_load(64, &host, 0, 62, 0x10_0000, std::ptr::null(), 0, 0x9000,
                              load.as_mut_ptr().cast(), load.len(), std::ptr::null_mut(), 0)
    };
    #[cfg(not(linked))]
    let rc = i32::from(host.page_size == 0) + i32::from(load[0]);
    let caught = std::panic::catch_unwind(|| {
        if std::hint::black_box(true) {
            panic!("raised on purpose, to be caught");
        }
    });
    println!("encode rc={rc} caught={}", caught.is_err());
    load[0] = 1;
}
