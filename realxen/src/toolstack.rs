// SPDX-License-Identifier: MIT
//! `xen-kexec` (package `xen-kexec-toolstack`): its two static builds for dom0, and its
//! sim backend run on the host with the same steps.

use std::path::{Path, PathBuf};
use std::process::Command;

use xen_kexec_abi::ElfMachine;

use crate::elf;
use crate::machine::{Machine, Region};
use crate::scenario::{Build, Outcome};
use crate::Problem;

/// The package and binary.
pub const PACKAGE: &str = "xen-kexec-toolstack";
/// The binary's name.
pub const BINARY: &str = "xen-kexec";

/// The cargo profile of the dom0 builds: the dev profile, whose artefacts `scripts/test`'s
/// static-build step has already made (an optimised profile of their own made the
/// scenario steps three times faster under emulation, 6 s instead of 18 s of dom0 time, but
/// cost a second pair of musl builds, about 80 s of CPU).
pub const PROFILE: &str = "debug";

/// Builds `xen-kexec` statically for each of `builds` (one cargo run, so the two targets
/// build side by side) and checks each result: an ELF of the target's machine with no
/// dynamic loader.
///
/// # Errors
/// [`Problem::NotRun`] when the workspace has no toolstack crate or a Rust target is not
/// installed; [`Problem::Fail`] when the build fails or a binary is not static.
pub fn build(repo: &Path, target_dir: &Path, builds: &[Build]) -> Result<Vec<PathBuf>, Problem> {
    if !repo.join("toolstack/Cargo.toml").is_file() {
        return Err(Problem::NotRun(format!(
            "this workspace has no toolstack/ crate ({PACKAGE}, issue 11), so no {BINARY} to run"
        )));
    }
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| Problem::NotRun(format!("rustc: {e}")))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(repo)
        .args([
            "build", "--locked", "--quiet", "-p", PACKAGE, "--bin", BINARY,
        ])
        .env("CARGO_TARGET_DIR", target_dir);
    for build in builds {
        let target = build.target();
        if !sysroot.join("lib/rustlib").join(target).is_dir() {
            return Err(Problem::NotRun(format!(
                "Rust target {target} is not installed (scripts/setup adds it: rustup target add {target})"
            )));
        }
        cmd.args(["--target", target]);
    }
    crate::images::run(&mut cmd).map_err(Problem::Fail)?;
    builds
        .iter()
        .map(|b| check_static(target_dir, *b))
        .collect()
}

/// Builds `vmcore-check` (the crash kernel's reporter of the kdump scenario) statically,
/// optimised (it reads the whole dump under emulation), and checks it is static.
///
/// # Errors
/// [`Problem::Fail`] when the build fails or the binary is not static.
pub fn build_vmcore_check(repo: &Path, target_dir: &Path) -> Result<PathBuf, Problem> {
    build_release(repo, target_dir, "vmcore-check", "vmcore-check")
}

/// Builds `xen-kexec` for x86_64 statically with the release profile, as users run it:
/// the kdump boot times its crash load against kexec-tools' `kexec` (C, `-O2`), which
/// the unoptimised dev build would misrepresent (about eleven times slower on the host).
///
/// # Errors
/// [`Problem::Fail`] when the build fails or the binary is not static.
pub fn build_release_x86_64(repo: &Path, target_dir: &Path) -> Result<PathBuf, Problem> {
    build_release(repo, target_dir, PACKAGE, BINARY)
}

/// Builds the differential test's dom0 runner (`realxen/kexec-diff`) statically, with the
/// release profile (thousands of hypercalls under emulation).
///
/// # Errors
/// [`Problem::Fail`] when the build fails or the binary is not static.
pub fn build_kexec_diff(repo: &Path, target_dir: &Path) -> Result<PathBuf, Problem> {
    build_release(repo, target_dir, "kexec-diff", "kexec-diff")
}

/// `bin` of `package`, built statically for x86_64 with the release profile.
fn build_release(
    repo: &Path,
    target_dir: &Path,
    package: &str,
    bin: &str,
) -> Result<PathBuf, Problem> {
    let target = Build::X86_64.target();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(repo)
        .args([
            "build",
            "--locked",
            "--quiet",
            "--release",
            "-p",
            package,
            "--bin",
            bin,
            "--target",
            target,
        ])
        .env("CARGO_TARGET_DIR", target_dir);
    crate::images::run(&mut cmd).map_err(Problem::Fail)?;
    let bin = target_dir.join(target).join("release").join(bin);
    let what = bin.display().to_string();
    let bytes = std::fs::read(&bin).map_err(|e| Problem::Fail(format!("{what}: {e}")))?;
    let summary = elf::summarize(&what, &bytes).map_err(Problem::Fail)?;
    if summary.interp {
        return Err(Problem::Fail(format!("{what}: not static")));
    }
    Ok(bin)
}

fn check_static(target_dir: &Path, build: Build) -> Result<PathBuf, Problem> {
    let bin = target_dir.join(build.target()).join(PROFILE).join(BINARY);
    let what = bin.display().to_string();
    let bytes = std::fs::read(&bin).map_err(|e| Problem::Fail(format!("{what}: {e}")))?;
    let summary = elf::summarize(&what, &bytes).map_err(Problem::Fail)?;
    let machine = match build {
        Build::X86_64 | Build::Kexec => ElfMachine::EM_X86_64,
        Build::I686 => ElfMachine::EM_386,
    };
    if summary.machine != machine.0 || summary.interp {
        return Err(Problem::Fail(format!(
            "{what}: want a static {machine:?} executable, got e_machine {}{}",
            summary.machine,
            if summary.interp {
                " with a dynamic loader"
            } else {
                ""
            }
        )));
    }
    Ok(bin)
}

/// Runs `xen-kexec` with `args` and collects its outcome.
///
/// # Errors
/// The binary could not be started or was killed by a signal.
pub fn run(bin: &Path, args: &[String]) -> Result<Outcome, String> {
    let out = Command::new(bin)
        .args(args)
        .output()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let lines = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .lines()
            .map(str::to_owned)
            .collect()
    };
    Ok(Outcome {
        rc: out
            .status
            .code()
            .ok_or_else(|| format!("{} {args:?}: {}", bin.display(), out.status))?,
        stdout: lines(&out.stdout),
        stderr: lines(&out.stderr),
    })
}

/// The ranges a simulated host takes from the real one's answers.
#[derive(Debug, Clone, Copy)]
pub struct Observed {
    /// Xen's own image (`get-range --range xen`).
    pub xen: Region,
    /// The vmcoreinfo note (`get-range --range vmcoreinfo`).
    pub vmcoreinfo: Region,
    /// CPU 0's crash notes (`get-range --range cpu --cpu 0`).
    pub cpu0_notes: Region,
}

/// `xen-kexec sim init` of a host like `machine` (its crash region and CPU count, a
/// 64-bit dom0 kernel) with the ranges `observed` on real Xen, CPU 0's notes among them.
///
/// # Errors
/// The command failed; its output is in the message.
pub fn sim_init(
    bin: &Path,
    state: &Path,
    machine: &Machine,
    observed: &Observed,
) -> Result<(), String> {
    let _ = std::fs::remove_file(state);
    let args: Vec<String> = [
        "sim",
        "init",
        &state.display().to_string(),
        "--crash-region",
        &machine.crash.to_flag(),
        "--cpus",
        &machine.cpus.to_string(),
        "--xen",
        &observed.xen.to_flag(),
        "--vmcoreinfo",
        &observed.vmcoreinfo.to_flag(),
        "--cpu-notes",
        &observed.cpu0_notes.to_flag(),
        "--kernel",
        "x86_64",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let got = run(bin, &args)?;
    if got.rc == 0 {
        Ok(())
    } else {
        Err(format!(
            "{} {}: {}",
            bin.display(),
            args.join(" "),
            got.describe()
        ))
    }
}
