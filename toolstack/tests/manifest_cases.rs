// SPDX-License-Identifier: MIT
//! Every case of `fixtures/cases.toml` gives its expected outcome through `xen-kexec decode`:
//! the same JSON on stdout as the decoder's operation, or exactly the errno, its value and
//! the error's text on stderr. The harness and the manifest live in `compat-tests`; this
//! test lives here because only here does cargo name the `xen-kexec` binary.

use std::process::Command;

use compat_tests::fixtures;
use compat_tests::manifest::{self, Outcome};
use serde_json::Value;
use xen_kexec_abi::Error;

#[test]
fn every_decode_case_gives_its_outcome_through_xen_kexec_decode() {
    let m = manifest::load(&manifest::manifest_path()).expect("fixtures/cases.toml");
    let dir = fixtures::fixtures_dir();
    let mut ran = 0;
    for case in &m.cases {
        // `answer` completes a get_range: a hypervisor action after decoding, which the
        // command line does not take. Those cases run through the decoder in compat-tests.
        if case.answer.is_some() {
            continue;
        }
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_xen-kexec"));
        cmd.arg("decode")
            .args(["--guest", &case.guest])
            .args(["--cmd", &case.cmd_value().expect("cmd").to_string()])
            .args(["--arg", &format!("{:#x}", case.arg.u64().expect("arg"))]);
        for (i, region) in case.regions.iter().enumerate() {
            let file = dir.join(case.region_path(i).expect("path"));
            let addr = region.addr.u64().expect("addr");
            cmd.arg("--mem")
                .arg(format!("{addr:#x}={}", file.display()));
        }
        if let Some([start, size]) = &case.crash_region {
            let (start, size) = (start.u64().expect("start"), size.u64().expect("size"));
            cmd.arg("--crash-region")
                .arg(format!("{start:#x}:{size:#x}"));
        }
        let out = cmd.output().expect("run xen-kexec decode");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        match case.expected().expect("expectation") {
            Outcome::Ok(want) => {
                assert_eq!(out.status.code(), Some(0), "{}: {stderr}", case.name);
                let got: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
                assert_eq!(got, want, "{}", case.name);
            }
            Outcome::Err { errno, error } => {
                let error: Error = serde_json::from_value(error).expect("the manifest's error");
                assert_eq!(
                    out.status.code(),
                    Some(1),
                    "{}: {stdout}{stderr}",
                    case.name
                );
                assert_eq!(
                    error.errno().to_string(),
                    format!("XEN_{errno}"),
                    "{}",
                    case.name
                );
                let want = format!("xen-kexec decode: {errno} ({}): {error}\n", error.errno().0);
                assert_eq!(stderr, want, "{}", case.name);
                assert!(
                    stdout.is_empty(),
                    "{}: stdout not empty on error",
                    case.name
                );
            }
        }
        ran += 1;
    }
    let answered = m.cases.iter().filter(|c| c.answer.is_some()).count();
    assert_eq!(ran + answered, m.cases.len());
    assert!(ran >= 80, "only {ran} cases ran through xen-kexec decode");
}
