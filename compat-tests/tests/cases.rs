// SPDX-License-Identifier: MIT
//! Every case of `fixtures/cases.toml` gives its expected outcome through the decoder,
//! and the manifest covers every rule. (`toolstack/tests/manifest_cases.rs` runs the same
//! cases through `xen-kexec decode`, where cargo provides the binary.)

use std::collections::{BTreeMap, BTreeSet};

use compat_tests::manifest::{self, committed_images, Case, Manifest, Outcome};
use serde_json::Value;

fn manifest() -> Manifest {
    manifest::load(&manifest::manifest_path()).expect("fixtures/cases.toml")
}

#[test]
fn every_case_gives_its_expected_outcome_through_the_decoder() {
    let m = manifest();
    let images = committed_images(&m).expect("case images; run cargo run -p headgen -- generate");
    let failures: Vec<String> = m
        .cases
        .iter()
        .filter_map(|c| c.check(&images).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(m.cases.len() >= 80, "only {} cases", m.cases.len());
}

#[test]
fn the_harness_fails_on_a_wrong_expectation_and_on_a_changed_fixture_byte() {
    let m = manifest();
    let images = committed_images(&m).expect("case images");
    let case = m
        .cases
        .iter()
        .find(|c| c.name == "load-default-1-segment-x86_64")
        .expect("case");
    assert_eq!(case.check(&images), Ok(()));

    // A wrong expectation: the right errno family, the wrong segment.
    let mut wrong: Case = case.clone();
    wrong.expect.ok = None;
    wrong.expect.errno = Some("EINVAL".into());
    wrong.expect.error =
        Some(toml::from_str("x = { SegmentsOverlap = { first = 0, second = 1 } }").expect("toml"));
    let err = wrong
        .check(&images)
        .expect_err("a wrong expectation must fail");
    assert!(err.contains("expected EINVAL"), "{err}");

    // A changed byte: the low byte of segment 0's dest_size (offset 24 of the array)
    // makes its end unaligned.
    let mut changed = images.clone();
    let path = case.region_path(1).expect("segment array region");
    changed.get_mut(&path).expect("image")[24] ^= 0x10;
    let err = case.check(&changed).expect_err("a changed byte must fail");
    assert!(
        err.contains("got      EADDRNOTAVAIL {\"SegmentMisaligned\""),
        "{err}"
    );
}

/// Each rule of the decoder, by the error it gives, must be exercised by a case.
#[test]
fn the_malformed_catalogue_covers_every_decoder_rule_in_both_widths() {
    let m = manifest();
    let mut seen: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for case in &m.cases {
        if let Ok(Outcome::Err { error, .. }) = case.expected() {
            let rule = match &error {
                Value::Object(map) => map.keys().next().cloned().unwrap_or_default(),
                Value::String(s) => s.clone(),
                _ => String::new(),
            };
            seen.entry(case.guest.as_str()).or_default().insert(rule);
        }
    }
    let rules = [
        "UnsupportedCmd",
        "UnknownType",
        "UnknownRangeKind",
        "GuestFault",
        "UnsupportedArch",
        "ReservedNotZero",
        "TooManySegments",
        "SegmentMisaligned",
        "SegmentWraps",
        "SegmentsOverlap",
        "BufferExceedsDest",
        "NoCrashRegion",
        "CrashSegmentOutside",
        "CrashEntryOutside",
    ];
    for guest in ["x86_32", "x86_64"] {
        for rule in rules {
            assert!(seen[guest].contains(rule), "no {guest} case gives {rule}");
        }
    }
    assert!(seen["x86_32"].contains("RangeTooWide"));
}

#[test]
fn every_encode_case_gives_its_expected_outcome_through_the_rust_encoder() {
    let m = manifest();
    let mut runs = 0;
    let mut failures = Vec::new();
    for case in &m.encodes {
        for abi in case.guest_abis().expect("guests") {
            runs += 1;
            if let Err(e) = case.check(abi) {
                failures.push(e);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(runs >= 30, "only {runs} encode runs");

    // The check fails on a wrong expectation: a refused request expected to encode.
    let mut wrong = m
        .encodes
        .iter()
        .find(|c| c.name == "misaligned")
        .expect("case")
        .clone();
    wrong.expect.ok = true;
    wrong.expect.errno = None;
    wrong.expect.error = None;
    let err = wrong
        .check(xen_kexec_abi::GuestAbi::X86_64)
        .expect_err("a wrong expectation must fail");
    assert!(err.contains("SegmentMisaligned"), "{err}");
}
