//! `xen-kexec`: load, inspect and enter kexec images through Xen's `kexec_op`.

fn main() {}
