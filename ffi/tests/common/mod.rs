// SPDX-License-Identifier: MIT
//! What the ffi crate's C and linking tests share: the workspace root, and the staticlib
//! of `scripts/ffi-staticlib` (built once per test binary).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The workspace root.
pub(crate) fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The staticlib C programs link: built with the `ffi` profile and localized by
/// `scripts/ffi-staticlib` (which also builds the profile's cdylib beside it), once per
/// test binary.
pub(crate) fn staticlib() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let out = Command::new(root().join("scripts/ffi-staticlib"))
            .env("CARGO", env!("CARGO"))
            .current_dir(root())
            .stderr(Stdio::inherit())
            .output()
            .expect("scripts/ffi-staticlib runs");
        assert!(out.status.success(), "scripts/ffi-staticlib failed");
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        assert!(
            path.is_file(),
            "scripts/ffi-staticlib printed {}",
            path.display()
        );
        path
    })
}
