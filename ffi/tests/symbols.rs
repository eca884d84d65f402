// SPDX-License-Identifier: MIT
//! No unwinding symbol leaves the library (issue 30, item 1):
//! - the cdylib exports only the `xen_kexec_*` functions (`nm -D`);
//! - the staticlib of `scripts/ffi-staticlib` defines no other global, and links beside
//!   a Rust static library built with std, and beside libstd.so, with the std side's
//!   panic caught;
//! - a Rust program over libstd.so that links the cdylib (or has it LD_PRELOADed)
//!   catches a panic.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{root, staticlib};

mod common;

/// A scratch path for this test run.
fn scratch(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// The `ffi` profile's cdylib.
fn cdylib() -> PathBuf {
    staticlib().with_file_name("libxen_kexec_ffi.so")
}

fn rustc() -> Command {
    let mut c = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned()));
    c.current_dir(root());
    c
}

/// Runs `cmd`, panicking with its output unless it succeeds.
fn run(cmd: &mut Command, what: &str) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The directory of the toolchain's libstd.so.
fn std_libdir() -> PathBuf {
    let out = run(rustc().args(["--print", "target-libdir"]), "rustc --print");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// Defined global symbols of `path` (dynamic ones with `-D`).
fn defined_globals(path: &Path, dynamic: bool) -> Vec<String> {
    let mut nm = Command::new("nm");
    nm.args(["-g", "--defined-only"]);
    if dynamic {
        nm.arg("-D");
    }
    let out = run(nm.arg(path), "nm (binutils)");
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
        .collect();
    names.sort();
    names
}

const EXPORTS: [&str; 3] = [
    "xen_kexec_complete_get_range",
    "xen_kexec_decode",
    "xen_kexec_encode_load",
];

#[test]
fn the_cdylib_exports_only_the_xen_kexec_functions() {
    staticlib();
    assert_eq!(defined_globals(&cdylib(), true), EXPORTS);
}

#[test]
fn the_staticlib_defines_no_global_but_the_xen_kexec_functions() {
    assert_eq!(defined_globals(staticlib(), false), EXPORTS);
}

/// Builds `ffi/tests/rust/std_user.rs` as `crate_type` with std and unwinding.
fn std_user(crate_type: &str, extra: &[&str]) -> PathBuf {
    let dir = scratch(&format!("std-user-{crate_type}"));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    run(
        rustc()
            .args(["--edition=2021", "-O", "-C", "panic=unwind", "--crate-type"])
            .arg(crate_type)
            .args(["--crate-name", "std_user", "--out-dir"])
            .arg(&dir)
            .args(extra)
            .arg(root().join("ffi/tests/rust/std_user.rs")),
        "rustc std_user.rs",
    );
    dir
}

/// Links `ffi/tests/c/beside_std.c` with the staticlib and `libs`, runs it with
/// `LD_LIBRARY_PATH=lib_path`; gives its output.
fn link_and_run_beside(name: &str, libs: &[&OsStr], lib_path: &Path) -> String {
    let exe = scratch(name);
    run(
        Command::new("gcc")
            .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-I"])
            .arg(root().join("include"))
            .arg(root().join("ffi/tests/c/beside_std.c"))
            .arg(staticlib())
            .args(libs)
            .arg("-o")
            .arg(&exe),
        &format!("gcc {name}"),
    );
    let out = run(Command::new(&exe).env("LD_LIBRARY_PATH", lib_path), name);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_staticlib_links_beside_a_std_static_library_and_its_panic_is_caught() {
    let dir = std_user("staticlib", &[]);
    let lib = dir.join("libstd_user.a");
    // Both orders on the link line: neither definition may clash with the other.
    for (name, libs) in [
        ("beside-std-a", [staticlib().as_os_str(), lib.as_os_str()]),
        ("beside-std-b", [lib.as_os_str(), staticlib().as_os_str()]),
    ] {
        let mut all: Vec<&OsStr> = libs.to_vec();
        all.extend(["-lpthread", "-ldl", "-lm"].map(OsStr::new));
        let out = link_and_run_beside(name, &all, &dir);
        assert_eq!(out.trim(), "encode rc=0 caught=1", "{name}");
    }
}

#[test]
fn the_staticlib_links_beside_libstd_so_and_its_panic_is_caught() {
    let libstd = std_libdir();
    // A cdylib over libstd.so (prefer-dynamic): the program loads libstd.so.
    let dir = std_user("cdylib", &["-C", "prefer-dynamic"]);
    let search = format!("-L{}", dir.display());
    let lib_path = std::env::join_paths([&dir, &libstd]).expect("paths");
    let out = link_and_run_beside(
        "beside-libstd-so",
        &[OsStr::new(&search), OsStr::new("-lstd_user")],
        Path::new(&lib_path),
    );
    assert_eq!(out.trim(), "encode rc=0 caught=1");
}

/// Builds `ffi/tests/rust/cdylib_user.rs` over libstd.so, linked with the cdylib when
/// `linked`.
fn cdylib_user(linked: bool) -> PathBuf {
    let exe = scratch(if linked {
        "cdylib-user"
    } else {
        "cdylib-user-plain"
    });
    let mut cmd = rustc();
    cmd.args([
        "--edition=2021",
        "-C",
        "prefer-dynamic",
        "-C",
        "panic=unwind",
        "-o",
    ])
    .arg(&exe);
    if linked {
        cmd.args(["--cfg", "linked", "-L"])
            .arg(staticlib().parent().expect("dir"));
    }
    run(
        cmd.arg(root().join("ffi/tests/rust/cdylib_user.rs")),
        "rustc cdylib_user.rs",
    );
    exe
}

#[test]
fn a_rust_program_linking_the_cdylib_catches_its_panic() {
    let libstd = std_libdir();
    let dir = staticlib().parent().expect("dir").to_owned();
    let lib_path = std::env::join_paths([&dir, &libstd]).expect("paths");
    let out = run(
        Command::new(cdylib_user(true)).env("LD_LIBRARY_PATH", &lib_path),
        "cdylib-user",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.trim(), "encode rc=0 caught=true");
    // And with the cdylib preloaded into a program that does not link it.
    let out = run(
        Command::new(cdylib_user(false))
            .env("LD_LIBRARY_PATH", &libstd)
            .env("LD_PRELOAD", cdylib()),
        "cdylib-user-plain under LD_PRELOAD",
    );
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("caught=true\n"));
}
