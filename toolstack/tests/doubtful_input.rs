// SPDX-License-Identifier: MIT
//! Doubtful input refused or warned about, not loaded silently (issue 28, finding 9):
//! an empty blob and an `EM_386` entry above 4 GiB are refused, an `--entry` in no
//! segment is a warning, more `PT_LOAD`s than a load carries are refused with the count
//! the image needs, and `sim init --crash-region X:0` means no crash region (Xen
//! answers 0/0).

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::failed;

const CRASH: &str = "0x20000000:0xc000000";
const BASE: u64 = 0x2000_0000;

/// An ELF image: class 64 (`EM_X86_64`) or 32 (`EM_386`), entry `entry`, one `PT_LOAD`
/// of 16 file bytes and a page of memory at each of `paddrs`.
fn elf(class64: bool, entry: u64, paddrs: &[u64]) -> Vec<u8> {
    let (ehsize, phentsize) = if class64 { (64u16, 56u16) } else { (52, 32) };
    let phnum = u16::try_from(paddrs.len()).expect("phnum");
    let data = (usize::from(ehsize) + usize::from(phentsize) * paddrs.len())
        .next_multiple_of(0x1000) as u64;
    let word = |e: &mut Vec<u8>, v: u64| {
        if class64 {
            e.extend_from_slice(&v.to_le_bytes());
        } else {
            e.extend_from_slice(&u32::try_from(v).expect("32-bit").to_le_bytes());
        }
    };
    let mut e = b"\x7fELF".to_vec();
    e.extend_from_slice(&[if class64 { 2 } else { 1 }, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    e.extend_from_slice(&2u16.to_le_bytes());
    e.extend_from_slice(&(if class64 { 62u16 } else { 3 }).to_le_bytes());
    e.extend_from_slice(&1u32.to_le_bytes());
    word(&mut e, entry);
    word(&mut e, u64::from(ehsize));
    word(&mut e, 0);
    e.extend_from_slice(&0u32.to_le_bytes());
    for half in [ehsize, phentsize, phnum, 0, 0, 0] {
        e.extend_from_slice(&half.to_le_bytes());
    }
    for &paddr in paddrs {
        e.extend_from_slice(&1u32.to_le_bytes());
        if class64 {
            e.extend_from_slice(&5u32.to_le_bytes());
        }
        for v in [data, paddr, paddr, 0x10, 0x1000] {
            word(&mut e, v);
        }
        if !class64 {
            e.extend_from_slice(&5u32.to_le_bytes());
        }
        word(&mut e, 0x1000);
    }
    e.resize(usize::try_from(data).expect("size"), 0);
    e.extend_from_slice(&[0xf4; 16]);
    e
}

struct Host {
    dir: tempfile::TempDir,
}

impl Host {
    fn new(crash: &str) -> Host {
        let h = Host {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        let state = h.s("h.json");
        let out = h.run(&["sim", "init", &state, "--crash-region", crash]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        h
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn s(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        std::fs::write(self.path(name), bytes).expect("write");
        self.s(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_xen-kexec"))
            .args(args)
            .env("XEN_KEXEC_STATE_DIR", self.path("records"))
            .output()
            .expect("runs")
    }

    fn on(&self, args: &[&str]) -> Output {
        let backend = format!("sim:{}", self.s("h.json"));
        self.run(&[&["--backend", backend.as_str()], args].concat())
    }
}

#[test]
fn an_empty_blob_is_refused_naming_it() {
    let h = Host::new(CRASH);
    let image = h.write("k.elf", &elf(true, BASE, &[BASE]));
    let empty = h.write("empty", &[]);
    let blob = format!("{empty}@0x20100000");
    let err = failed(
        &h.on(&["load", "--type", "crash", "--elf", &image, "--blob", &blob]),
        2,
    );
    assert!(
        err.contains(&format!("blob {empty}@0x20100000: the file is empty")),
        "{err}"
    );
}

#[test]
fn an_em_386_entry_above_4_gib_is_refused() {
    let h = Host::new(CRASH);
    let image = h.write("k32.elf", &elf(false, BASE, &[BASE]));
    ok(&h.on(&["load", "--dry-run", "--type", "crash", "--elf", &image]));
    let err = failed(
        &h.on(&[
            "load",
            "--type",
            "default",
            "--elf",
            &image,
            "--entry",
            "0x100000000",
        ]),
        2,
    );
    assert!(
        err.contains("entry 0x100000000 is above 4 GiB, and an EM_386 image"),
        "{err}"
    );
}

#[test]
fn an_entry_in_no_segment_is_a_warning() {
    let h = Host::new(CRASH);
    let image = h.write("k.elf", &elf(true, BASE, &[BASE]));
    // Inside the crash region, so Xen's own check passes; but nothing is loaded there.
    let outside = h.on(&[
        "load",
        "--type",
        "crash",
        "--elf",
        &image,
        "--entry",
        "0x20005000",
    ]);
    let err = String::from_utf8_lossy(&outside.stderr);
    assert!(outside.status.success(), "{err}");
    assert!(
        err.contains("warning: entry 0x20005000 is in no segment of the image"),
        "{err}"
    );
    // The last byte of the segment is in it: no warning.
    let inside = h.on(&[
        "load",
        "--dry-run",
        "--type",
        "crash",
        "--elf",
        &image,
        "--entry",
        "0x20000fff",
    ]);
    assert!(inside.status.success());
    assert!(
        inside.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&inside.stderr)
    );
}

#[test]
fn a_thousand_pt_loads_report_the_thousand_segments_the_image_needs() {
    let h = Host::new(CRASH);
    let paddrs: Vec<u64> = (0..1000).map(|i| BASE + i * 0x2000).collect();
    let image = h.write("many.elf", &elf(true, BASE, &paddrs));
    let out = h.on(&["load", "--dry-run", "--type", "crash", "--elf", &image]);
    let err = failed(&out, 1);
    assert!(
        err.contains("the image needs 1000 segments and a load carries at most 16"),
        "{err}"
    );
}

#[test]
fn a_crash_region_of_size_0_is_none_and_answers_0_0() {
    let h = Host::new("0x20000000:0");
    let out = ok(&h.on(&["--json", "get-range", "--range", "crash"]));
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        (v["start"].as_str(), v["size"].as_str()),
        (Some("0x0"), Some("0x0"))
    );
    let image = h.write("k.elf", &elf(true, BASE, &[BASE]));
    let err = failed(&h.on(&["load", "--type", "crash", "--elf", &image]), 1);
    assert!(err.contains("EADDRNOTAVAIL"), "{err}");
}

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}
