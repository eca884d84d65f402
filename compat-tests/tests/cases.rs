//! Every case of `fixtures/cases.toml` gives its expected outcome, through the decoder
//! and through `headgen decode`, and the manifest covers every rule.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use compat_tests::fixtures;
use compat_tests::manifest::{self, committed_images, Case, Manifest, Outcome};
use serde_json::Value;

fn manifest() -> Manifest {
    manifest::load(&manifest::manifest_path()).expect("fixtures/cases.toml")
}

#[test]
fn every_case_gives_its_expected_outcome_through_the_decoder() {
    let m = manifest();
    let images = committed_images(&m).expect("case images; run make-fixtures");
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

/// The `headgen` binary of this workspace, built if needed.
fn headgen() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-q", "-p", "headgen"])
        .status()
        .expect("run cargo build -p headgen");
    assert!(status.success(), "cargo build -p headgen failed");
    let exe = std::env::current_exe().expect("test path");
    // target/<profile>/deps/cases-HASH -> target/<profile>/headgen
    exe.parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("headgen"))
        .expect("target directory")
}

#[test]
fn every_decode_case_gives_its_outcome_through_headgen_decode() {
    let m = manifest();
    let headgen = headgen();
    let dir = fixtures::fixtures_dir();
    let mut ran = 0;
    for case in &m.cases {
        // `answer` completes a get_range: a hypervisor action, not a decoding one.
        if case.answer.is_some() {
            continue;
        }
        let mut cmd = Command::new(&headgen);
        cmd.arg("decode")
            .args(["--guest", &case.guest])
            .args(["--cmd", &case.cmd_value().expect("cmd").to_string()])
            .args(["--arg", &format!("{:#x}", case.arg.u64().expect("arg"))]);
        for (i, region) in case.regions.iter().enumerate() {
            let file = dir.join(case.region_path(i).expect("path"));
            cmd.arg("--mem").arg(format!(
                "{:#x}={}",
                region.addr.u64().expect("addr"),
                file.display()
            ));
        }
        if let Some([start, size]) = &case.crash_region {
            cmd.arg("--crash-region").arg(format!(
                "{:#x}:{:#x}",
                start.u64().expect("start"),
                size.u64().expect("size")
            ));
        }
        let out = cmd.output().expect("run headgen decode");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        match case.expected().expect("expectation") {
            Outcome::Ok(want) => {
                assert_eq!(out.status.code(), Some(0), "{}: {stderr}", case.name);
                let got: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
                assert_eq!(got, want, "{}", case.name);
            }
            Outcome::Err { errno, .. } => {
                assert_eq!(
                    out.status.code(),
                    Some(1),
                    "{}: {stdout}{stderr}",
                    case.name
                );
                assert!(
                    stderr.contains(&errno),
                    "{}: stderr lacks {errno}: {stderr}",
                    case.name
                );
                assert!(
                    stdout.is_empty(),
                    "{}: stdout not empty on error",
                    case.name
                );
            }
        }
        ran += 1;
    }
    assert!(ran >= 80, "only {ran} cases ran through headgen decode");
}
