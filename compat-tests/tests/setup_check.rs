// SPDX-License-Identifier: MIT
//! `scripts/setup --check` detects each need by trying it: with a tool that fails the
//! way a fresh machine's would, the need is reported missing with its package, and the
//! script prints no shell error. CI's machine already has every package, so only this
//! test shows that the detection works where one is absent.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("compat-tests is inside the checkout")
        .to_owned()
}

/// What one `scripts/setup --check` run said.
struct Checked {
    /// Whether it exited 0.
    ok: bool,
    /// The needs named on `setup: missing: NAME: why` lines.
    missing: BTreeSet<String>,
    /// Everything it printed, for messages.
    output: String,
}

/// Runs `scripts/setup --check` with `wrappers` first on PATH.
fn setup_check(wrappers: Option<&Path>) -> Checked {
    let mut path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(dir) = wrappers {
        let mut dirs = vec![dir.to_owned()];
        dirs.extend(std::env::split_paths(&path));
        path = std::env::join_paths(dirs).expect("PATH joins");
    }
    let out = Command::new(root().join("scripts/setup"))
        .arg("--check")
        .env("PATH", path)
        .output()
        .expect("scripts/setup runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let output = format!("{stdout}{stderr}");
    for bad in [
        "unbound variable",
        "command not found",
        "syntax error",
        "bad substitution",
    ] {
        assert!(
            !output.contains(bad),
            "scripts/setup --check printed a shell error ({bad}):\n{output}"
        );
    }
    let missing = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("setup: missing: "))
        .map(|l| l.split(": ").next().unwrap_or(l).to_owned())
        .collect();
    Checked {
        ok: out.status.success(),
        missing,
        output,
    }
}

/// A directory holding an executable `name` with `script` as its body.
fn wrapper(dir: &Path, name: &str, script: &str) {
    let file = dir.join(name);
    std::fs::write(&file, format!("#!/bin/sh\n{script}\n")).expect("write wrapper");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// The real program `name` on PATH, which a wrapper hands its arguments to.
fn real(name: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is not on PATH: run scripts/setup"))
}

/// The need `hidden` is reported missing, with nothing else changed, and the exit
/// status says so.
fn reports_exactly(baseline: &Checked, hidden: &str, with: &Checked) {
    assert!(
        !baseline.missing.contains(hidden),
        "{hidden} is missing on this machine already, so hiding it proves nothing: run \
         scripts/setup\n{}",
        baseline.output
    );
    assert!(
        !with.ok,
        "--check exits non-zero with {hidden} missing:\n{}",
        with.output
    );
    let mut expected = baseline.missing.clone();
    expected.insert(hidden.to_owned());
    assert_eq!(with.missing, expected, "{}", with.output);
}

#[test]
fn setup_check_reports_multilib_missing_when_gcc_cannot_link_m32() {
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        eprintln!("gcc-multilib is a need on x86_64 Linux only");
        return;
    }
    let baseline = setup_check(None);
    let dir = tempfile::tempdir().expect("tempdir");
    // A gcc that cannot link for -m32, as on a machine without gcc-multilib, but still
    // answers `-print-libgcc-file-name` with a file that exists: the old detection
    // trusted that answer and said multilib was there.
    let gcc = real("gcc");
    wrapper(
        dir.path(),
        "gcc",
        &format!(
            "m32=false; print=false\n\
             for a in \"$@\"; do case \"$a\" in -m32) m32=true ;; -print-*) print=true ;; esac; done\n\
             if $m32 && ! $print; then echo 'ld: cannot find crti.o' >&2; exit 1; fi\n\
             exec {} \"$@\"",
            gcc.display()
        ),
    );
    let with = setup_check(Some(dir.path()));
    reports_exactly(&baseline, "gcc-multilib", &with);
    assert!(
        with.output
            .contains("setup: missing: gcc-multilib: linking the i686 tests"),
        "the need is named with what it is for:\n{}",
        with.output
    );
}

#[test]
fn setup_check_reports_a_hidden_tool_by_its_package() {
    let baseline = setup_check(None);
    let dir = tempfile::tempdir().expect("tempdir");
    // jq as a shell reports a program that is not installed.
    wrapper(dir.path(), "jq", "echo 'jq: not found' >&2; exit 127");
    let with = setup_check(Some(dir.path()));
    reports_exactly(&baseline, "jq", &with);
}

#[test]
fn setup_check_passes_with_nothing_missing_on_a_set_up_machine() {
    let baseline = setup_check(None);
    // scripts/test runs scripts/setup first, so in CI nothing is missing; the real-Xen
    // needs are best effort and may be absent where apt-get cannot reach Debian.
    let required: Vec<_> = baseline
        .missing
        .iter()
        .filter(|n| {
            !matches!(n.as_str(), "qemu-system-x86" | "xz-utils") && !n.starts_with("Debian's Xen")
        })
        .collect();
    assert!(
        required.is_empty(),
        "run scripts/setup:\n{}",
        baseline.output
    );
    assert_eq!(
        baseline.ok,
        baseline.missing.is_empty(),
        "{}",
        baseline.output
    );
}
