// SPDX-License-Identifier: MIT
//! The golden images in `fixtures/` are what the C compilers lay out now, and they are
//! the bytes the Rust structures encode for the same values.

use std::collections::BTreeMap;
use std::path::PathBuf;

use compat_tests::cvalue::{filled_bytes, walk_pattern};
use compat_tests::fixtures::{self, Spec};
use xen_kexec_abi::layout;
use xen_kexec_abi::GuestAbi;

const REMAKE: &str = "cargo run -p compat-tests --bin make-fixtures";

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
fn committed_fixtures_are_what_gcc_lays_out_now() {
    let specs = fixtures::all_specs().expect("manifest");
    let made = fixtures::make(&specs).expect("gcc -m32/-m64 compile the fixtures");
    let problems = fixtures::diff_committed(&made, &fixtures::fixtures_dir());
    assert!(
        problems.is_empty(),
        "fixtures/ is stale; run {REMAKE}:\n{}",
        problems.join("\n")
    );
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

#[test]
fn the_freshness_check_catches_a_changed_fixture_byte_and_a_stray_file() {
    let specs = fixtures::walk_specs();
    let mut images = committed(&specs);
    // Checked against a scratch copy, so that the test changes nothing committed.
    let scratch =
        std::env::temp_dir().join(format!("xen-kexec-abi-fixtures-{}", std::process::id()));
    fixtures::write_all(&images, &scratch).expect("write scratch fixtures");
    assert!(fixtures::diff_committed(&images, &scratch).is_empty());
    let first = specs[0].path.clone();
    images.get_mut(&first).expect("image")[0] ^= 0xff;
    let problems = fixtures::diff_committed(&images, &scratch);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with(&format!("{}: committed bytes differ", first.display())));
    images.remove(&first);
    let problems = fixtures::diff_committed(&images, &scratch);
    assert!(problems[0].contains("stray file"), "{problems:?}");
    let _ = std::fs::remove_dir_all(&scratch);
}
