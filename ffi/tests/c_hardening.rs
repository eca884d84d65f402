// SPDX-License-Identifier: MIT
//! The C interface's hardening (issue 30) from C, under gcc's AddressSanitizer and
//! UndefinedBehaviorSanitizer: `ffi/tests/c/hardening.c` linked with the staticlib of
//! `scripts/ffi-staticlib`; every check it prints must be "ok", and no sanitizer may
//! report. (clang's sanitizer runtimes are not installed here; gcc's are, by
//! scripts/setup's gcc.)

use std::path::Path;
use std::process::Command;

use common::{root, staticlib};

mod common;

#[test]
fn the_hardened_c_interface_holds_under_asan_and_ubsan() {
    let exe = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ffi-hardening");
    let out = Command::new("gcc")
        .args([
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-g",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer",
            "-I",
        ])
        .arg(root().join("include"))
        .arg(root().join("ffi/tests/c/hardening.c"))
        .arg(staticlib())
        .args(["-lpthread", "-o"])
        .arg(&exe)
        .output()
        .expect("gcc runs");
    assert!(
        out.status.success(),
        "gcc failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe)
        // LeakSanitizer needs ptrace, which containers often deny; leaks are not the point.
        .env("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0")
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.is_empty(), "a sanitizer reported:\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.last(), Some(&"done"), "{stdout}");
    let checks: Vec<&&str> = lines.iter().filter(|l| **l != "done").collect();
    assert!(checks.len() >= 18, "{stdout}");
    assert!(checks.iter().all(|l| l.starts_with("ok ")), "{stdout}");
}
