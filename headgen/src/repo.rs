// SPDX-License-Identifier: MIT
//! The checkout headgen works on: finding it from the current directory up (never from a
//! path compiled into the binary, so one build serves any checkout it is run in), and the
//! command that regenerates its files.

use std::path::{Path, PathBuf};

use crate::error::Error;

/// A file only the repository root holds (relative to it): the layout model.
pub(crate) const MARKER: &str = "abi/src/layout.rs";

/// The command that regenerates the committed files.
pub(crate) const GENERATE_COMMAND: &str = "cargo run -p headgen -- generate";

/// The repository root that holds `start`: the nearest directory at or above it with a
/// `Cargo.toml` and the abi crate's layout model ([`MARKER`]). A nested workspace (the
/// fuzz crate's) has no `abi/` of its own, so the walk goes on past it.
pub(crate) fn find(start: &Path) -> Result<PathBuf, Error> {
    start
        .ancestors()
        .find(|dir| dir.join("Cargo.toml").is_file() && dir.join(MARKER).is_file())
        .map(Path::to_path_buf)
        .ok_or_else(|| Error::NotInCheckout {
            start: start.to_path_buf(),
            marker: MARKER,
        })
}

/// The repository root that holds the current directory.
pub(crate) fn from_current_dir() -> Result<PathBuf, Error> {
    let cwd = std::env::current_dir().map_err(|e| Error::io("reading the current directory", e))?;
    find(&cwd)
}

/// The checkout the tests run in, found as headgen finds it: from a directory inside.
#[cfg(test)]
pub(crate) fn for_tests() -> PathBuf {
    find(Path::new(env!("CARGO_MANIFEST_DIR"))).expect("headgen is inside the checkout")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        for file in ["Cargo.toml", MARKER, "fuzz/Cargo.toml", "abi/doc/x.md"] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
            std::fs::write(path, "").expect("write");
        }
        dir
    }

    #[test]
    fn the_root_is_found_from_itself_and_from_any_directory_below_it() {
        let tree = tree();
        let root = tree.path();
        for start in [root.to_path_buf(), root.join("abi"), root.join("abi/doc")] {
            assert_eq!(
                find(&start).expect("found"),
                root,
                "from {}",
                start.display()
            );
        }
    }

    #[test]
    fn a_nested_workspace_without_the_abi_crate_is_walked_past() {
        let tree = tree();
        assert_eq!(find(&tree.path().join("fuzz")).expect("found"), tree.path());
    }

    #[test]
    fn outside_a_checkout_the_error_names_the_start_and_what_was_looked_for() {
        let dir = tempfile::tempdir().expect("temp dir");
        let e = find(dir.path()).expect_err("no checkout").to_string();
        assert!(e.contains(&dir.path().display().to_string()), "{e}");
        assert!(e.contains(MARKER), "{e}");
    }
}
