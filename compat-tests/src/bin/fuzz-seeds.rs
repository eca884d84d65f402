// SPDX-License-Identifier: MIT
//! Writes the decoder's fuzz seeds (see `compat_tests::fuzzseed`):
//! `cargo run -p compat-tests --bin fuzz-seeds [DIR]` (default `fuzz/corpus/decode`).

use std::path::PathBuf;
use std::process::ExitCode;

use compat_tests::cc::repo_root;
use compat_tests::fuzzseed::seed;
use compat_tests::manifest::{self, committed_images};

fn run() -> Result<usize, String> {
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(|| repo_root().join("fuzz/corpus/decode"), PathBuf::from);
    let manifest = manifest::load(&manifest::manifest_path())?;
    let images = committed_images(&manifest)?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut written = 0;
    for case in &manifest.cases {
        if let Some(bytes) = seed(case, &images).map_err(|e| format!("case {}: {e}", case.name))? {
            let path = dir.join(format!("seed-{}", case.name));
            std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            written += 1;
        }
    }
    Ok(written)
}

fn main() -> ExitCode {
    match run() {
        Ok(n) => {
            println!("fuzz-seeds: wrote {n} seeds");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fuzz-seeds: {e}");
            ExitCode::FAILURE
        }
    }
}
