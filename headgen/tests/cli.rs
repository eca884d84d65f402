// SPDX-License-Identifier: MIT
//! headgen as a command: what `--help` says, and that it finds the checkout from the
//! current directory (no path is compiled into the binary).

use std::path::Path;
use std::process::{Command, Output};

fn headgen(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_headgen"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run headgen")
}

fn checkout() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("headgen lives in the checkout")
}

#[test]
fn help_says_what_the_bare_command_writes() {
    let out = headgen(checkout(), &["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout).replace('\n', " ");
    for said in [
        "With no command, headgen writes every generated file into the checkout that holds \
         the current directory: include/public/kexec.h",
        "include/xen-kexec.h (the C interface of the ffi crate)",
        "docs/layout.md and abi/doc/<structure>.md",
        "fixtures/cases-multi-fault.toml",
        "the golden images below fixtures/walk and fixtures/cases",
        "the fuzz seeds below fuzz/corpus/decode (not committed, so never checked)",
        "then it runs `check`",
    ] {
        assert!(help.contains(said), "--help lacks {said:?}: {help}");
    }
}

/// Run from a subdirectory, headgen works on the checkout above it: here a bare one
/// (its marker and nothing else), so `check` stops at the first source it reads there,
/// naming it. (The whole check on the real checkout is headgen's unit test
/// `check_passes_on_the_committed_tree`, the one test that runs it.)
#[test]
fn check_run_from_a_subdirectory_works_on_the_checkout_above_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    for file in ["Cargo.toml", "abi/src/layout.rs"] {
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
        std::fs::write(path, "").expect("write");
    }
    let out = headgen(&dir.path().join("abi/src"), &["check"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("abi/src/consts.rs"),
        "the checkout above is read: {stderr}"
    );
}

#[test]
fn outside_a_checkout_headgen_says_so_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    for args in [&[][..], &["generate"], &["check"]] {
        let out = headgen(dir.path(), args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("is not inside a xen-kexec-abi checkout"),
            "{stderr}"
        );
    }
    assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0);
}
