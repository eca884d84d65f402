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
        "With no command, headgen writes include/public/kexec.h",
        "include/xen-kexec.h (the C interface of the ffi crate)",
        "docs/layout.md and abi/doc/<structure>.md",
        "into the checkout that holds the current directory, then runs `check`",
    ] {
        assert!(help.contains(said), "--help lacks {said:?}: {help}");
    }
}

#[test]
fn check_run_from_a_subdirectory_finds_the_checkout() {
    let out = headgen(&checkout().join("abi"), &["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("include/public/kexec.h: up to date"),
        "{stdout}"
    );
    assert!(
        stdout.contains("include/public/kexec.h checked: x86_32, x86_64, arm32, arm64"),
        "{stdout}"
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
