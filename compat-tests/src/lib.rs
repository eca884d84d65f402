//! Cross-checks of the `xen-kexec-abi` crate: 32-on-64 round trips and C-compiler
//! fixtures. The tests live in `tests/`.
