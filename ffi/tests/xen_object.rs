// SPDX-License-Identifier: MIT
//! The Xen build profile's object (`xen/build-object`, see `xen/README.md`), checked as
//! Xen's hypervisor link and its CET-IBT build need it:
//!
//! - only `memcpy`, `memset` and the host's two copy calls
//!   (`xen_kexec_host_copy_{from,to}_guest`, defined by Xen's patch 0002) are undefined;
//! - no relocation that needs a `.got` (Xen's link asserts an empty one), and no
//!   absolute relocation (Xen is not linked in the top 2 GiB);
//! - no SSE register (the target is soft-float; Xen saves no vector state);
//! - nothing of `core::panicking`, and no `ud2`: no panic path is even linked;
//! - no indirect jump or call at all (the copy callbacks are called by the host's own C
//!   functions, with its retpoline thunk and CET-IBT), and no relocation that takes the
//!   address of a function: so no function of the object can be an indirect-branch
//!   target, and none needs `endbr64`;
//! - no `endbr64`, `endbr32` or `nopw (%rcx)` byte pattern anywhere in its code, the
//!   test of Xen's `xen/tools/check-endbr.sh` (which `xen/build` also runs on the
//!   linked `xen-syms`);
//! - the deepest chain of direct calls uses at most [`STACK_LIMIT`] bytes of stack
//!   (frames from the prologues; no recursion), plus the copy callback's own.
#![allow(clippy::expect_used, clippy::indexing_slicing)] // a test's expectations

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The stack bound each entry point must keep, callbacks excluded (Xen's stack is 8
/// pages). Measured 2026-12-06: decode 1168 bytes, encode_load 208, complete_get_range 64.
const STACK_LIMIT: u64 = 2048;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_owned()
}

/// Builds the object once (target/xen-object, shared with `xen/build`).
fn object() -> &'static Path {
    static OBJ: OnceLock<PathBuf> = OnceLock::new();
    OBJ.get_or_init(|| {
        let dir = root().join("target/xen-object");
        std::fs::create_dir_all(&dir).expect("target dir");
        let out = dir.join("xen_kexec_ffi.o");
        let status = Command::new(root().join("xen/build-object"))
            .arg(&out)
            .status()
            .expect("run xen/build-object");
        assert!(status.success(), "xen/build-object failed");
        out
    })
}

fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(name)
        .args(args)
        .arg(object())
        .output()
        .expect("binutils");
    assert!(out.status.success(), "{name} {args:?} failed");
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn disassembly() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| tool("objdump", &["-d", "-r", "-w", "--no-show-raw-insn"]))
}

/// The object's relocations: (section, type, target).
fn relocations() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut section = String::new();
    for line in tool("objdump", &["-r", "-w"]).lines() {
        if let Some(s) = line.strip_prefix("RELOCATION RECORDS FOR [") {
            s.trim_end_matches("]:").clone_into(&mut section);
        } else if let [_, kind, target] = line.split_whitespace().collect::<Vec<_>>()[..] {
            if kind.starts_with("R_") {
                out.push((section.clone(), kind.to_owned(), target.to_owned()));
            }
        }
    }
    out
}

#[test]
fn the_xen_object_needs_only_memcpy_memset_and_the_hosts_copy_calls() {
    let undefined: Vec<String> = tool("nm", &["-u"])
        .lines()
        .filter_map(|l| l.split_whitespace().last().map(str::to_owned))
        .collect();
    assert_eq!(
        undefined,
        [
            "memcpy",
            "memset",
            "xen_kexec_host_copy_from_guest",
            "xen_kexec_host_copy_to_guest"
        ]
    );
}

#[test]
fn the_xen_object_needs_no_got_and_no_absolute_address() {
    let relocs = relocations();
    assert!(!relocs.is_empty());
    for (section, kind, target) in &relocs {
        assert!(
            kind == "R_X86_64_PC32" || kind == "R_X86_64_PLT32",
            "{section}: {kind} {target}: only PC-relative relocations link into Xen without a .got"
        );
    }
    assert!(!tool("objdump", &["-h"]).contains(".got"));
}

#[test]
fn the_xen_object_has_no_sse() {
    for reg in ["%xmm", "%ymm", "%zmm", "%mm"] {
        assert!(!disassembly().contains(reg), "{reg} used");
    }
}

#[test]
fn the_xen_object_links_no_panic_path() {
    assert!(!tool("nm", &[]).contains("panic"));
    // The one `ud2` is the weak personality routine (ffi/src/raw.rs), which nothing
    // calls: no relocation names it.
    let mut in_personality = false;
    for line in disassembly().lines() {
        if line.ends_with(">:") {
            in_personality = line.ends_with("<rust_eh_personality>:");
        }
        assert!(!line.contains("ud2") || in_personality, "a trap: {line}");
    }
    assert!(relocations()
        .iter()
        .all(|(_, _, t)| !t.contains("rust_eh_personality")));
}

#[test]
fn the_xen_object_has_no_indirect_branch_and_no_branch_target() {
    let text = disassembly();
    let indirect: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("jmp    *") || l.contains("call   *"))
        .collect();
    assert_eq!(
        indirect,
        [] as [&str; 0],
        "indirect branches, which Xen's retpolines and CET-IBT would not cover"
    );
    // The copy callbacks are reached by direct calls to the host's functions.
    for host in [
        "xen_kexec_host_copy_from_guest",
        "xen_kexec_host_copy_to_guest",
    ] {
        assert!(
            relocations()
                .iter()
                .any(|(_, kind, t)| kind == "R_X86_64_PLT32" && t.starts_with(host)),
            "no direct call of {host}"
        );
    }
    // No function's address is taken: every relocation against code is a direct call
    // or jump (PLT32), and PC32 ones (`lea`, loads) point at data only.
    for (section, kind, target) in relocations() {
        if kind == "R_X86_64_PC32" {
            assert!(
                target.starts_with(".rodata") || target.starts_with(".Lanon"),
                "{section}: PC32 to {target}: a function's address taken?"
            );
        }
    }
}

#[test]
fn the_xen_object_has_no_stray_endbr64_bytes() {
    // The code bytes of each function, from objdump's hex column (each function's
    // instructions are contiguous, so a pattern across two instructions is seen too).
    let dump = tool("objdump", &["-d", "-w"]);
    let mut functions: Vec<Vec<u8>> = Vec::new();
    for line in dump.lines() {
        if line.ends_with(">:") {
            functions.push(Vec::new());
        } else if let (Some(f), Some(hex)) = (functions.last_mut(), line.split('\t').nth(1)) {
            f.extend(
                hex.split_whitespace()
                    .map(|b| u8::from_str_radix(b, 16).expect("a byte")),
            );
        }
    }
    let total: usize = functions.iter().map(Vec::len).sum();
    assert!(total > 4096, "the code is there ({total} bytes)");
    for pattern in [
        [0xf3, 0x0f, 0x1e, 0xfa],
        [0xf3, 0x0f, 0x1e, 0xfb],
        [0x66, 0x0f, 0x1f, 0x01],
    ] {
        assert!(
            !functions.iter().any(|f| f.windows(4).any(|w| w == pattern)),
            "{pattern:02x?} in the code: check-endbr.sh would refuse it"
        );
    }
}

/// Each function's frame (pushes, `sub $N,%rsp`, the return address) and direct callees.
fn frames() -> BTreeMap<String, (u64, Vec<String>)> {
    let mut out: BTreeMap<String, (u64, Vec<String>)> = BTreeMap::new();
    let mut current = String::new();
    let mut last_was_call = false;
    for line in disassembly().lines() {
        if let Some(name) = line.strip_suffix(">:").and_then(|l| l.split_once(" <")) {
            name.1.clone_into(&mut current);
            out.insert(current.clone(), (8, Vec::new()));
            continue;
        }
        let Some(entry) = out.get_mut(&current) else {
            continue;
        };
        if line.contains("\tpush   %") {
            entry.0 += 8;
        } else if let Some(imm) = line
            .split_once("sub    $0x")
            .and_then(|(_, r)| r.strip_suffix(",%rsp"))
        {
            entry.0 += u64::from_str_radix(imm, 16).expect("hex");
        }
        if last_was_call && line.contains("R_X86_64_PLT32") {
            let target = line.split_whitespace().last().expect("target");
            let target = target.split(['-', '+']).next().expect("name").to_owned();
            entry.1.push(target);
        }
        last_was_call = line.contains("\tcall   ") || line.contains("\tjmp    ");
    }
    out
}

fn depth(f: &str, frames: &BTreeMap<String, (u64, Vec<String>)>, path: &mut Vec<String>) -> u64 {
    let Some((own, callees)) = frames.get(f) else {
        return 0; // memcpy, memset, the host's copy calls: Xen's own
    };
    assert!(!path.iter().any(|p| p == f), "recursion: {path:?} -> {f}");
    path.push(f.to_owned());
    let deepest = callees
        .iter()
        .map(|c| depth(c, frames, path))
        .max()
        .unwrap_or(0);
    path.pop();
    own + deepest
}

#[test]
fn the_xen_object_stack_is_bounded() {
    let frames = frames();
    for entry in [
        "xen_kexec_decode",
        "xen_kexec_encode_load",
        "xen_kexec_complete_get_range",
    ] {
        assert!(frames.contains_key(entry), "{entry} is in the object");
        let used = depth(entry, &frames, &mut Vec::new());
        eprintln!("{entry}: at most {used} bytes of stack, callbacks excluded");
        assert!(used <= STACK_LIMIT, "{entry} may use {used} bytes");
        assert!(used > 8, "{entry}: the frames were read");
    }
}
