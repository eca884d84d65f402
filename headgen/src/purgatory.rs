// SPDX-License-Identifier: MIT
//! Builds the purgatory (`purgatory/`) reproducibly and keeps its committed ELF file
//! (`toolstack/purgatory/xen-kexec-purgatory.elf`, embedded by the toolstack) fresh.
//!
//! The build is `cargo build --release --locked` of `purgatory/Cargo.toml` for
//! `x86_64-unknown-none` with the pinned toolchain (rust-toolchain.toml covers the
//! directory), with every build path remapped, so two builds in different checkouts and
//! target directories give the same bytes. The check rebuilds and compares.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::Error;

/// The committed ELF file, relative to the repository root.
pub(crate) const PATH: &str = "toolstack/purgatory/xen-kexec-purgatory.elf";
/// The purgatory's manifest, relative to the repository root.
pub(crate) const MANIFEST: &str = "purgatory/Cargo.toml";
/// The command that rebuilds the committed file.
pub(crate) const COMMAND: &str = "cargo run -p headgen -- purgatory";
/// The purgatory's target.
const TARGET: &str = "x86_64-unknown-none";

/// Builds the purgatory of the checkout at `root` in `target_dir`; returns the ELF bytes.
pub(crate) fn build(root: &Path, target_dir: &Path) -> Result<Vec<u8>, Error> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .unwrap_or_default();
    let remaps = [
        format!("--remap-path-prefix={}=/xen-kexec", root.display()),
        format!("--remap-path-prefix={}=/cargo", cargo_home.display()),
        format!("--remap-path-prefix={}=/target", target_dir.display()),
    ];
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(root.join("purgatory"))
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            TARGET,
            "--manifest-path",
        ])
        .arg(root.join(MANIFEST))
        .arg("--target-dir")
        .arg(target_dir)
        // Only these flags: a caller's RUSTFLAGS would change the bytes.
        .env("CARGO_ENCODED_RUSTFLAGS", remaps.join("\x1f"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("RUSTUP_TOOLCHAIN")
        .output()
        .map_err(|e| Error::io(format!("running cargo build for {MANIFEST}"), e))?;
    if !out.status.success() {
        return Err(Error::Purgatory(format!(
            "cargo build --release --target {TARGET} of {MANIFEST} failed \
             (scripts/setup installs the target):\n{}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let elf = target_dir.join(TARGET).join("release/xen-kexec-purgatory");
    std::fs::read(&elf).map_err(|e| Error::io(format!("reading {}", elf.display()), e))
}

/// `headgen purgatory`: builds and writes the committed file when it changed.
pub(crate) fn write(root: &Path, target_dir: &Path) -> Result<String, Error> {
    let bytes = build(root, target_dir)?;
    let path = root.join(PATH);
    if std::fs::read(&path).ok().as_deref() == Some(&bytes[..]) {
        return Ok(format!("{PATH}: up to date ({} bytes)", bytes.len()));
    }
    std::fs::create_dir_all(path.parent().expect("PATH has a directory"))
        .map_err(|e| Error::io(format!("creating the directory of {PATH}"), e))?;
    std::fs::write(&path, &bytes).map_err(|e| Error::io(format!("writing {PATH}"), e))?;
    Ok(format!("{PATH}: written ({} bytes)", bytes.len()))
}

/// Fails unless a fresh build in `target_dir` gives the committed file's bytes.
pub(crate) fn check(root: &Path, target_dir: &Path) -> Result<usize, Error> {
    let bytes = build(root, target_dir)?;
    let committed =
        std::fs::read(root.join(PATH)).map_err(|e| Error::io(format!("reading {PATH}"), e))?;
    if committed != bytes {
        return Err(Error::Purgatory(format!(
            "{PATH} is stale: a fresh build gives {} bytes that differ from the committed {}. \
             Run `{COMMAND}` and commit the result.",
            bytes.len(),
            committed.len()
        )));
    }
    Ok(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two builds in different target directories give the same bytes, and they are the
    /// committed file's: the purgatory the toolstack embeds is the one its source makes.
    #[test]
    fn the_purgatory_builds_reproducibly_into_the_committed_file() {
        let root = crate::repo::for_tests();
        let a = tempfile::tempdir().expect("temp dir");
        let b = tempfile::tempdir().expect("temp dir");
        let first = check(&root, a.path()).unwrap_or_else(|e| panic!("{e}"));
        let second = check(&root, b.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first, second);
        assert!(first > 1000, "a purgatory of {first} bytes");
    }
}
