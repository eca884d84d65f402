// SPDX-License-Identifier: MIT
//! The privcmd ABI this crate hard-codes, checked against the system's Linux header
//! `<xen/privcmd.h>` (package linux-libc-dev): a C program compiled with gcc for this
//! build's width prints `IOCTL_PRIVCMD_HYPERCALL` and the layout of
//! `struct privcmd_hypercall`, and each number must equal the Rust one.

use std::mem::{offset_of, size_of};
use std::process::Command;

use xen_kexec_toolstack::privcmd::{PrivcmdHypercall, IOCTL_PRIVCMD_HYPERCALL};

const PROGRAM: &str = r#"
#include <stdio.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <xen/privcmd.h>
int main(void) {
    printf("ioctl %lu\n", (unsigned long)IOCTL_PRIVCMD_HYPERCALL);
    printf("size %zu\n", sizeof(struct privcmd_hypercall));
    printf("op %zu\n", offsetof(struct privcmd_hypercall, op));
    printf("arg %zu\n", offsetof(struct privcmd_hypercall, arg));
    printf("args %zu\n", sizeof(((struct privcmd_hypercall *)0)->arg));
    return 0;
}
"#;

#[test]
fn ioctl_number_and_struct_layout_match_the_linux_header() {
    let dir = tempfile::tempdir().expect("tempdir");
    // <xen/privcmd.h> includes <xen/interface/xen.h>, which the kernel's uapi headers do
    // not ship; privcmd.h needs only domid_t and xen_pfn_t from it (x86 spellings of
    // Xen's public headers). Neither is part of the structure checked here.
    let stand_in = dir.path().join("include/xen/interface");
    std::fs::create_dir_all(&stand_in).expect("mkdir");
    std::fs::write(
        stand_in.join("xen.h"),
        "typedef unsigned short domid_t; /* uint16_t */\ntypedef unsigned long xen_pfn_t;\n",
    )
    .expect("write stand-in");
    let src = dir.path().join("privcmd.c");
    std::fs::write(&src, PROGRAM).expect("write program");
    let exe = dir.path().join("privcmd");
    let width = if cfg!(target_pointer_width = "32") {
        "-m32"
    } else {
        "-m64"
    };
    let out = Command::new("gcc")
        .arg(width)
        .arg("-I")
        .arg(dir.path().join("include"))
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .output()
        .expect("gcc (scripts/setup installs it and linux-libc-dev)");
    assert!(
        out.status.success(),
        "gcc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe).output().expect("run the C program");
    let text = String::from_utf8(run.stdout).expect("utf-8");
    let value = |key: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {text}"))
    };
    assert_eq!(value("ioctl"), u64::from(IOCTL_PRIVCMD_HYPERCALL));
    assert_eq!(value("size"), size_of::<PrivcmdHypercall>() as u64);
    assert_eq!(value("op"), offset_of!(PrivcmdHypercall, op) as u64);
    assert_eq!(value("arg"), offset_of!(PrivcmdHypercall, arg) as u64);
    assert_eq!(value("args"), size_of::<[u64; 5]>() as u64);
}
