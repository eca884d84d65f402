// SPDX-License-Identifier: MIT
//! A Rust library built with std and `panic = "unwind"`, linked beside xen-kexec-ffi by
//! ffi/tests/symbols.rs (as a static library, and as a cdylib over libstd.so): its
//! function panics on purpose and catches the panic.

/// 1 when a panic was raised and caught by `catch_unwind`, 0 otherwise.
#[no_mangle]
pub extern "C" fn std_user_catches_a_panic() -> i32 {
    let caught = std::panic::catch_unwind(|| {
        if std::hint::black_box(true) {
            panic!("raised on purpose, to be caught");
        }
    });
    i32::from(caught.is_err())
}
