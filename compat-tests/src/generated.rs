// SPDX-License-Identifier: MIT
//! What compat-tests derives, rendered in memory for the one generator entry,
//! `cargo run -p headgen -- generate` (and checked by `headgen check`): the multi-fault
//! section of the case catalogue, the fixtures' golden images, and the fuzz seeds.
//!
//! Each is rendered from its model: the multi-fault section from
//! [`multifault`]'s table, the images from the specs and the header the
//! caller has just rendered, the seeds from those images. Nothing here reads a generated
//! file back from the checkout: where the hand-written manifest includes the generated
//! section, the caller's rendered text stands in for it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::manifest::{self, Manifest};
use crate::{fixtures, fuzzseed, multifault};

/// The hand-written case manifest, relative to the repository root.
pub const MANIFEST: &str = "fixtures/cases.toml";

/// The hand-written encoder cases the manifest includes, relative to the repository root.
pub const ENCODE_CASES: &str = "fixtures/cases-encode.toml";

/// The generated multi-fault section, relative to the repository root.
pub const MULTI_FAULT: &str = "fixtures/cases-multi-fault.toml";

/// Where the fuzz seeds go, relative to the repository root (ignored by git: the corpus
/// grows as the fuzzer runs, so the seeds are written, never checked).
pub const FUZZ_SEEDS: &str = "fuzz/corpus/decode";

/// The directories, relative to the repository root, that hold only generated images:
/// a file there that the generator does not make is a leftover.
pub fn image_dirs() -> Vec<PathBuf> {
    fixtures::GENERATED_DIRS
        .iter()
        .map(|d| Path::new("fixtures").join(d))
        .collect()
}

/// The multi-fault section's text.
pub fn multi_fault_cases() -> String {
    multifault::render(&multifault::cases())
}

/// The manifest of the checkout at `root`, with `multi_fault` (the rendered section) in
/// place of the committed [`MULTI_FAULT`].
///
/// # Errors
/// As [`manifest::load`].
pub fn manifest(root: &Path, multi_fault: &str) -> Result<Manifest, String> {
    let generated = root.join(MULTI_FAULT);
    manifest::load_with(&root.join(MANIFEST), &|path| {
        if path == generated {
            Ok(multi_fault.to_owned())
        } else {
            std::fs::read_to_string(path)
        }
    })
}

/// Every golden image, by path relative to the repository root: the field walks and the
/// regions of every case of `manifest`, laid out by `gcc -m32`/`-m64` with `include` as
/// the include path (a directory holding the rendered `kexec.h`, and `headgen/c` for the
/// test `xen.h`).
///
/// # Errors
/// A message naming the manifest problem, the spec whose value does not fit, or the
/// compiler's complaint.
pub fn images(
    manifest: &Manifest,
    include: &[PathBuf],
) -> Result<BTreeMap<PathBuf, Vec<u8>>, String> {
    let mut specs = fixtures::walk_specs();
    for case in &manifest.cases {
        specs.extend(case.specs()?);
    }
    Ok(fixtures::make_with(&specs, include)?
        .into_iter()
        .map(|(path, bytes)| (Path::new("fixtures").join(path), bytes))
        .collect())
}

/// The fuzz seeds, by path relative to the repository root: one for each case of
/// `manifest` whose memory fits the fuzz target's two regions, from `images` (as
/// [`images`] returns them).
///
/// # Errors
/// A message naming the case whose number is malformed or image missing.
pub fn fuzz_seeds(
    manifest: &Manifest,
    images: &BTreeMap<PathBuf, Vec<u8>>,
) -> Result<BTreeMap<PathBuf, Vec<u8>>, String> {
    // The seeds read images by their path below `fixtures/`.
    let below: BTreeMap<PathBuf, Vec<u8>> = images
        .iter()
        .filter_map(|(p, b)| Some((p.strip_prefix("fixtures").ok()?.to_path_buf(), b.clone())))
        .collect();
    let mut seeds = BTreeMap::new();
    for case in &manifest.cases {
        if let Some(bytes) =
            fuzzseed::seed(case, &below).map_err(|e| format!("case {}: {e}", case.name))?
        {
            seeds.insert(
                Path::new(FUZZ_SEEDS).join(format!("seed-{}", case.name)),
                bytes,
            );
        }
    }
    Ok(seeds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cc::repo_root;

    #[test]
    fn the_manifest_takes_the_rendered_section_not_the_committed_file() {
        let text =
            multi_fault_cases().replace("name = \"load-faults-", "name = \"rendered-in-memory-");
        let m = manifest(&repo_root(), &text).expect("loads");
        assert!(
            m.cases
                .iter()
                .any(|c| c.name.starts_with("rendered-in-memory-")),
            "the section's cases come from the text given"
        );
    }

    #[test]
    fn every_image_lies_in_a_generated_directory() {
        let m = manifest(&repo_root(), &multi_fault_cases()).expect("loads");
        let specs: usize = m.cases.iter().map(|c| c.regions.len()).sum();
        // Laid out without a compiler: only the paths are looked at.
        let dirs = image_dirs();
        let mut paths = fixtures::walk_specs()
            .into_iter()
            .map(|s| s.path)
            .collect::<Vec<_>>();
        for case in &m.cases {
            paths.extend(case.specs().expect("specs").into_iter().map(|s| s.path));
        }
        assert!(paths.len() > specs);
        for p in paths {
            let p = Path::new("fixtures").join(p);
            assert!(dirs.iter().any(|d| p.starts_with(d)), "{}", p.display());
        }
    }
}
