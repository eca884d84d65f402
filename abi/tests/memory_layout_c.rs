// SPDX-License-Identifier: MIT
//! The layouts of `memory_op`'s machine memory map ([`xen_kexec_abi::memory`]) checked
//! against a C compiler: `struct xen_memory_map` and `struct e820entry`, declared in
//! Xen's spelling (x86's `XEN_GUEST_HANDLE`, a struct around a pointer), compiled with
//! `gcc -m32` and `gcc -m64`; each size, alignment and offset must equal the Rust one
//! of that width.

use std::mem::{align_of, offset_of, size_of};
use std::path::PathBuf;
use std::process::Command;

use xen_kexec_abi::memory::{x86_32, x86_64, E820Entry};

/// The declarations as Xen's public headers spell them for x86 (`arch-x86/xen.h`,
/// `xen.h`, `memory.h`), and a program that prints their layout.
const PROGRAM: &str = r#"
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#define ___DEFINE_XEN_GUEST_HANDLE(name, type) \
    typedef struct { type *p; } __guest_handle_ ## name
#define __DEFINE_XEN_GUEST_HANDLE(name, type) \
    ___DEFINE_XEN_GUEST_HANDLE(name, type); \
    ___DEFINE_XEN_GUEST_HANDLE(const_##name, const type)
#define DEFINE_XEN_GUEST_HANDLE(name) __DEFINE_XEN_GUEST_HANDLE(name, name)
#define __XEN_GUEST_HANDLE(name) __guest_handle_ ## name
#define XEN_GUEST_HANDLE(name) __XEN_GUEST_HANDLE(name)

DEFINE_XEN_GUEST_HANDLE(void);

struct e820entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
} __attribute__((packed));
typedef struct e820entry e820entry_t;

struct xen_memory_map {
    unsigned int nr_entries;
    XEN_GUEST_HANDLE(void) buffer;
};
typedef struct xen_memory_map xen_memory_map_t;

#define PRINT(what) printf(#what " %zu\n", (size_t)(what))
int main(void) {
    PRINT(sizeof(xen_memory_map_t));
    PRINT(_Alignof(xen_memory_map_t));
    PRINT(offsetof(xen_memory_map_t, nr_entries));
    PRINT(offsetof(xen_memory_map_t, buffer));
    PRINT(sizeof(((xen_memory_map_t *)0)->buffer));
    PRINT(sizeof(e820entry_t));
    PRINT(_Alignof(e820entry_t));
    PRINT(offsetof(e820entry_t, addr));
    PRINT(offsetof(e820entry_t, size));
    PRINT(offsetof(e820entry_t, type));
    return 0;
}
"#;

/// The layout gcc gives with `width` (`-m32`, `-m64`), as `(name, value)` lines.
fn c_layout(width: &str) -> Vec<(String, usize)> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("memory_layout_c{width}"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let src = dir.join("memory.c");
    std::fs::write(&src, PROGRAM).expect("write the C program");
    let exe = dir.join("memory");
    let out = Command::new("gcc")
        .args([width, "-std=c11", "-Wall", "-Werror", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .expect("gcc (scripts/setup installs it with multilib)");
    assert!(
        out.status.success(),
        "gcc {width} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe).output().expect("run the C program");
    assert!(run.status.success(), "the {width} program failed");
    String::from_utf8(run.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').expect("name value");
            (name.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

fn check(width: &str, rust: &[(&str, usize)]) {
    let c = c_layout(width);
    assert_eq!(c.len(), rust.len(), "{c:?}");
    for ((c_name, c_value), (r_name, r_value)) in c.iter().zip(rust) {
        assert_eq!(c_name, r_name, "the program and the table are in step");
        assert_eq!(c_value, r_value, "{width}: {c_name}");
    }
}

fn e820_facts() -> [(&'static str, usize); 5] {
    [
        ("sizeof(e820entry_t)", size_of::<E820Entry>()),
        ("_Alignof(e820entry_t)", align_of::<E820Entry>()),
        ("offsetof(e820entry_t, addr)", offset_of!(E820Entry, addr)),
        ("offsetof(e820entry_t, size)", offset_of!(E820Entry, size)),
        ("offsetof(e820entry_t, type)", offset_of!(E820Entry, kind)),
    ]
}

#[test]
fn x86_64_memory_map_and_e820_entry_match_gcc_m64() {
    let mut rust = vec![
        ("sizeof(xen_memory_map_t)", size_of::<x86_64::MemoryMap>()),
        (
            "_Alignof(xen_memory_map_t)",
            align_of::<x86_64::MemoryMap>(),
        ),
        (
            "offsetof(xen_memory_map_t, nr_entries)",
            offset_of!(x86_64::MemoryMap, nr_entries),
        ),
        (
            "offsetof(xen_memory_map_t, buffer)",
            offset_of!(x86_64::MemoryMap, buffer),
        ),
        ("sizeof(((xen_memory_map_t *)0)->buffer)", size_of::<u64>()),
    ];
    rust.extend(e820_facts());
    check("-m64", &rust);
}

#[test]
fn x86_32_memory_map_and_e820_entry_match_gcc_m32() {
    let mut rust = vec![
        ("sizeof(xen_memory_map_t)", size_of::<x86_32::MemoryMap>()),
        (
            "_Alignof(xen_memory_map_t)",
            align_of::<x86_32::MemoryMap>(),
        ),
        (
            "offsetof(xen_memory_map_t, nr_entries)",
            offset_of!(x86_32::MemoryMap, nr_entries),
        ),
        (
            "offsetof(xen_memory_map_t, buffer)",
            offset_of!(x86_32::MemoryMap, buffer),
        ),
        ("sizeof(((xen_memory_map_t *)0)->buffer)", size_of::<u32>()),
    ];
    rust.extend(e820_facts());
    check("-m32", &rust);
}
