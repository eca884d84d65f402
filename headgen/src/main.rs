//! headgen: renders `include/public/kexec.h` from the `xen-kexec-abi` crate.

fn main() {}
