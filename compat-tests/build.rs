// SPDX-License-Identifier: MIT
//! Compiles the C reference decode (`c/kexec_load_ref.c`) with `-O2` into a static
//! library for the benchmark and for the test that checks it agrees with the crate. It
//! is one small file, so it is always built. Its structures come from the generated
//! `include/public/kexec.h` (with headgen's test `xen.h` shim); its errno values and ELF
//! machines from the crate, passed as `-D` definitions, so no number is typed twice.

use xen_kexec_abi::{ElfMachine, Errno};

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("compat-tests lives in the workspace")
        .to_path_buf();
    let source = root.join("compat-tests/c/kexec_load_ref.c");
    println!("cargo:rerun-if-changed={}", source.display());
    println!(
        "cargo:rerun-if-changed={}",
        root.join("include/public/kexec.h").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        root.join("headgen/c/xen.h").display()
    );
    let defines = [
        ("REF_EFAULT", i64::from(Errno::EFAULT.0)),
        ("REF_EINVAL", i64::from(Errno::EINVAL.0)),
        ("REF_EADDRNOTAVAIL", i64::from(Errno::EADDRNOTAVAIL.0)),
        ("REF_EM_386", i64::from(ElfMachine::EM_386.0)),
        ("REF_EM_X86_64", i64::from(ElfMachine::EM_X86_64.0)),
    ];
    let mut build = cc::Build::new();
    build
        .file(&source)
        .include(root.join("include/public"))
        .include(root.join("headgen/c"))
        .opt_level(2)
        .warnings(true)
        .extra_warnings(true);
    for (name, value) in defines {
        build.define(name, value.to_string().as_str());
    }
    build.compile("kexec_load_ref");
}
