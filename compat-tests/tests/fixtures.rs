// SPDX-License-Identifier: MIT
//! The golden images in `fixtures/` are the bytes the Rust structures encode for the same
//! values (that they are what the C compilers lay out now is `headgen check`'s, run by
//! headgen's test `check_passes_on_the_committed_tree`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use compat_tests::cvalue::{filled_bytes, walk_pattern};
use compat_tests::fixtures::{self, Spec};
use xen_kexec_abi::layout;
use xen_kexec_abi::GuestAbi;

const REMAKE: &str = "cargo run -p headgen -- generate";

fn committed(specs: &[Spec]) -> BTreeMap<PathBuf, Vec<u8>> {
    specs
        .iter()
        .map(|s| {
            let bytes = std::fs::read(fixtures::fixtures_dir().join(&s.path))
                .unwrap_or_else(|e| panic!("{}: {e}; run {REMAKE}", s.path.display()));
            (s.path.clone(), bytes)
        })
        .collect()
}

#[test]
fn every_c_fixture_equals_the_rust_encoding_of_the_same_values() {
    let specs = fixtures::all_specs().expect("manifest");
    let images = committed(&specs);
    assert!(specs.len() > 100, "only {} fixtures", specs.len());
    for spec in &specs {
        let rust = spec.rust_bytes().expect("values fit");
        assert_eq!(
            images[&spec.path],
            rust,
            "{}: C and Rust bytes differ",
            spec.path.display()
        );
    }
}

#[test]
fn field_walks_show_each_field_at_the_models_offset_in_both_widths() {
    let specs = fixtures::walk_specs();
    let images = committed(&specs);
    let mut walked = 0;
    for spec in &specs {
        let value = &spec.values[0];
        let (name, _) = &value.fields[0];
        let field = value.def.field(name).expect("model field");
        let arch = spec.abi.arch();
        let filled = filled_bytes(field.ctype, spec.abi);
        let image = &images[&spec.path];
        assert_eq!(image.len(), value.def.size(arch), "{}", spec.path.display());
        let mut expected = vec![0u8; image.len()];
        let at = field.offset(arch);
        expected[at..at + filled].copy_from_slice(&walk_pattern(filled));
        assert_eq!(
            image,
            &expected,
            "{}: the pattern is not at offset {at}",
            spec.path.display()
        );
        walked += 1;
    }
    // Every field of every structure, for each of the two widths.
    let fields: usize = layout::ALL.iter().map(|def| def.len()).sum();
    assert_eq!(walked, fields * GuestAbi::ALL.len());
}
