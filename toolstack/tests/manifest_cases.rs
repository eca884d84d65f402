// SPDX-License-Identifier: MIT
//! Every case of `fixtures/cases.toml` gives its expected outcome through `xen-kexec decode`:
//! with `--json`, the decoder's operation field for field in the command line's form
//! (numbers as `KEY_value` beside the C name, 64-bit values as `"0x…"` strings), or
//! exactly the errno, its value and the error's text on stderr. The harness and the manifest live in `compat-tests`; this
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
        cmd.args(["--json", "decode"])
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
        if let Some(rules) = &case.rules {
            cmd.args(["--rules", rules]);
        }
        let out = cmd.output().expect("run xen-kexec decode");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        match case.expected().expect("expectation") {
            Outcome::Ok(want) => {
                assert_eq!(out.status.code(), Some(0), "{}: {stderr}", case.name);
                let got: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
                if let Err(e) = same_operation(&want, &got) {
                    panic!("{}: {e}\nwant {want}\ngot  {got}", case.name);
                }
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
                let refusal: Value = serde_json::from_str(&stdout).expect("JSON refusal");
                assert_eq!(refusal["error"]["errno"], errno.as_str(), "{}", case.name);
                assert_eq!(refusal["error"]["value"], error.errno().0, "{}", case.name);
                assert_eq!(refusal["error"]["rule"], error.rule(), "{}", case.name);
                assert_eq!(
                    refusal["error"]["reason"],
                    error.to_string(),
                    "{}",
                    case.name
                );
                assert!(stderr.is_empty(), "{}: {stderr}", case.name);
            }
        }
        ran += 1;
    }
    let answered = m.cases.iter().filter(|c| c.answer.is_some()).count();
    assert_eq!(ran + answered, m.cases.len());
    assert!(ran >= 80, "only {ran} cases ran through xen-kexec decode");
}

/// Whether `got`, the `--json` report of decode, is the operation `want` (the abi crate's
/// serde form, `{"load": {...}}`) field for field: the command, then every field, none
/// missing and none extra.
fn same_operation(want: &Value, got: &Value) -> Result<(), String> {
    let (op, fields) = want
        .as_object()
        .and_then(|m| m.iter().next())
        .ok_or("the manifest's operation is not {op: fields}")?;
    let cmd = match op.as_str() {
        "exec" => "KEXEC_CMD_kexec",
        "get_range" => "KEXEC_CMD_kexec_get_range",
        "load" => "KEXEC_CMD_kexec_load",
        "unload" => "KEXEC_CMD_kexec_unload",
        "status" => "KEXEC_CMD_kexec_status",
        other => return Err(format!("unknown operation {other}")),
    };
    if got["cmd"] != cmd || got["schema"] != 1 || got["command"] != "decode" {
        return Err(format!("want {cmd} in schema 1"));
    }
    // A get_range query's width (`"abi": "X86_32"`) is the report's `guest`.
    let mut fields = fields.clone();
    if let Some(abi) = fields.as_object_mut().and_then(|f| f.remove("abi")) {
        let width = abi.as_str().map(str::to_lowercase);
        if got["guest"].as_str() != width.as_deref() {
            return Err(format!("want guest {abi}, got {}", got["guest"]));
        }
    }
    same(&fields, &got["operation"])
}

/// `want` (numbers) against `got` (hex strings, or a C name with `KEY_value`).
fn same(want: &Value, got: &Value) -> Result<(), String> {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                if let Some(gv) = g.get(&format!("{k}_value")) {
                    if wv != gv || !(g[k].is_string() || g[k].is_null()) {
                        return Err(format!("{k}: want {wv}, got {gv} named {}", g[k]));
                    }
                } else {
                    same(wv, g.get(k).ok_or(format!("{k} is missing"))?)
                        .map_err(|e| format!("{k}: {e}"))?;
                }
            }
            let known = |k: &str| w.contains_key(k.strip_suffix("_value").unwrap_or(k));
            match g.keys().find(|k| !known(k)) {
                Some(extra) => Err(format!("{extra} is not in the operation")),
                None => Ok(()),
            }
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            w.iter().zip(g).try_for_each(|(w, g)| same(w, g))
        }
        (Value::Number(n), Value::String(hex)) => {
            let parsed = hex
                .strip_prefix("0x")
                .and_then(|h| u64::from_str_radix(h, 16).ok());
            match (n.as_u64(), parsed) {
                (Some(a), Some(b)) if a == b => Ok(()),
                _ => Err(format!("want {n}, got {hex}")),
            }
        }
        (w, g) if w == g => Ok(()),
        (w, g) => Err(format!("want {w}, got {g}")),
    }
}
