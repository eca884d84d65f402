// SPDX-License-Identifier: MIT
//! The C interface, from C: `include/xen-kexec.h` and the `no_std` staticlib (built with
//! `cargo build -p xen-kexec-ffi --profile ffi`) compiled and linked by gcc, compared with
//! the Rust decoder and encoder of the abi crate at run time, line by line.
//!
//! - every case of `fixtures/cases.toml` through `xen_kexec_decode` (and, for get_range
//!   cases with an answer, `xen_kexec_complete_get_range`): errno, reason text and every
//!   decoded field, or the guest memory written back;
//! - every encoder case of the catalogue (`[[encode]]`, `fixtures/cases-encode.toml`)
//!   encoded by `xen_kexec_encode_load` for its widths, the bytes compared with the Rust
//!   encoder's, then decoded back by `xen_kexec_decode` (the round trip);
//! - every argument error of the C interface;
//! - the staticlib links with `-nostdlib -static` (no C library, no Rust std), and the
//!   example `ffi/examples/kexec_load.c` compiles, links and runs.
//!
//! Nothing here hard-codes what the decoder answers: the expected line of each request
//! is what the Rust code gives for the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use compat_tests::encode_case::{decode_encoded, LOAD_ADDR};
use compat_tests::manifest;
use xen_kexec_abi::decode::{decode, Operation};
use xen_kexec_abi::guest_mem::{GuestRegion, SparseMemory};
use xen_kexec_abi::host::{HostDescription, RuleProfile};
use xen_kexec_abi::load::{LoadRequest, Segment};
use xen_kexec_abi::{
    x86_64, ElfMachine, EntryMode, Errno, Error, GuestAbi, KexecCmd, KexecRangeKind, KexecType,
};
use zerocopy::IntoBytes;

use common::{root, staticlib};

mod common;

/// Compiles and links C `sources` with the header and the staticlib into `name` under
/// the test's scratch directory, with `extra` flags; panics with gcc's output on failure.
fn link(name: &str, sources: &[PathBuf], extra: &[&str]) -> PathBuf {
    let exe = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let out = Command::new("gcc")
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(root().join("include"))
        .args(extra)
        .args(sources)
        .arg(staticlib())
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("gcc runs (scripts/setup installs it)");
    assert!(
        out.status.success(),
        "gcc failed for {name}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// The harness, built once.
fn harness() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| link("ffi-harness", &[root().join("ffi/tests/c/harness.c")], &[]))
}

/// Runs the harness on `input`; gives its output lines.
fn run_harness(input: &str) -> Vec<String> {
    let mut child = Command::new(harness())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("harness runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("writes");
    let out = child.wait_with_output().expect("harness ends");
    assert!(out.status.success(), "harness failed: {:?}", out.status);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Asserts that `got` is `want`, line by line, naming the first difference.
fn assert_lines(got: &[String], want: &[String]) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g, w, "line {i} differs (C first, Rust second)");
    }
    assert_eq!(got.len(), want.len(), "line count: {got:#?}");
}

fn hex(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "-".to_owned();
    }
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The reason buffer of the harness is 256 bytes: a reason is cut to 255.
fn why(e: &Error) -> String {
    let mut text = e.to_string();
    text.truncate(255);
    text
}

/// The harness's line for a decode, from the Rust decoder's result.
fn decode_lines(name: &str, result: &Result<Operation, Error>) -> Vec<String> {
    match result {
        Err(e) => vec![format!("{name} rc={} why={}", e.to_hypercall_ret(), why(e))],
        Ok(op) => vec![format!("{name} rc=0 why="), op_line(name, op)],
    }
}

/// The harness's op line for `op`: every field of `xen_kexec_op_t` as the C interface
/// promises to fill it.
fn op_line(name: &str, op: &Operation) -> String {
    let (mut type_, mut entry_bits, mut arch, mut range, mut nr, mut entry) = (0, 0, 0, 0, 0, 0);
    let mut segments = Vec::new();
    match op {
        Operation::Exec { type_: t }
        | Operation::Unload { type_: t }
        | Operation::Status { type_: t } => {
            type_ = t.0;
        }
        Operation::GetRange(q) => {
            range = q.range.0;
            nr = q.nr;
        }
        Operation::Load(l) => {
            type_ = l.kexec_type().0;
            entry_bits = match l.entry_mode() {
                EntryMode::Protected32 => 32,
                EntryMode::Long64 => 64,
                other => panic!("no C form for {other:?}"),
            };
            arch = l.arch().0;
            entry = l.entry_maddr();
            segments = l
                .segments()
                .iter()
                .map(|s| {
                    format!(
                        "{:x},{:x},{:x},{:x}",
                        s.buf, s.buf_size, s.dest_maddr, s.dest_size
                    )
                })
                .collect();
        }
        other => panic!("no C form for {other:?}"),
    }
    format!(
        "{name} op cmd={} type={type_} entry_bits={entry_bits} arch={arch} nr_segments={} range={range} nr={nr} entry_maddr={entry:x} segments={}",
        op.cmd().0,
        segments.len(),
        segments.join(";")
    )
}

/// Regions of owned bytes as guest memory.
fn regions(copies: &mut [(u64, Vec<u8>)]) -> Vec<GuestRegion<&mut [u8]>> {
    copies
        .iter_mut()
        .map(|(base, bytes)| GuestRegion {
            base: *base,
            bytes: bytes.as_mut_slice(),
        })
        .collect()
}

#[test]
fn every_manifest_case_decodes_in_c_as_in_rust() {
    let manifest = manifest::load(&manifest::manifest_path()).expect("manifest");
    let images = manifest::committed_images(&manifest).expect("fixtures");
    let (mut input, mut want) = (String::new(), Vec::new());
    let mut answered = 0;
    for case in &manifest.cases {
        let abi = case.guest_abi().expect("guest");
        let host = case.host().expect("host");
        let cmd = case.cmd_value().expect("cmd");
        let arg = case.arg.u64().expect("arg");
        let mut copies: Vec<(u64, Vec<u8>)> = (0..case.regions.len())
            .map(|i| {
                let path = case.region_path(i).expect("path");
                (
                    case.regions[i].addr.u64().expect("addr"),
                    images[&path].clone(),
                )
            })
            .collect();
        let crash = host.crash_region.map_or((0, 0), |r| (r.start(), r.size()));
        assert!(
            host.crash_region.is_none_or(|r| r.size() > 0),
            "case {}: the C interface has no empty crash region (size 0 means none)",
            case.name
        );
        let (size, start) = match &case.answer {
            Some([size, start]) => (size.u64().expect("size"), start.u64().expect("start")),
            None => (0, 0),
        };
        writeln!(
            input,
            "decode {} {} {cmd:x} {arg:x} {:x} {:x} {:x} {:x} {} {size:x} {start:x} {}",
            case.name,
            if abi == GuestAbi::X86_32 { 32 } else { 64 },
            host.page_size.get(),
            crash.0,
            crash.1,
            match host.profile {
                RuleProfile::Strict => xen_kexec_ffi::types::XEN_KEXEC_RULES_STRICT,
                RuleProfile::Xen => xen_kexec_ffi::types::XEN_KEXEC_RULES_XEN,
            },
            u8::from(case.answer.is_some()),
            copies.len()
        )
        .expect("string");
        for (addr, bytes) in &copies {
            writeln!(input, "region {addr:x} {}", hex(bytes)).expect("string");
        }
        let mut mem_regions = regions(&mut copies);
        let mut mem = SparseMemory::new(&mut mem_regions).expect("regions");
        let result = decode(abi, KexecCmd(cmd), arg, &mut mem, &host);
        want.extend(decode_lines(&case.name, &result));
        if let (Some(_), Ok(Operation::GetRange(query))) = (&case.answer, &result) {
            answered += 1;
            let rc = query
                .complete(&mut mem, size, start)
                .map_or_else(|e| e.to_hypercall_ret(), |()| 0);
            let memory: Vec<String> = copies.iter().map(|(_, b)| hex(b)).collect();
            want.push(format!(
                "{} complete rc={rc} mem={}",
                case.name,
                memory.join("|")
            ));
        }
    }
    assert!(manifest.cases.len() > 80 && answered >= 4, "{answered}");
    assert_lines(&run_harness(&input), &want);
}

#[test]
fn loads_encoded_in_c_match_rust_and_decode_back_for_both_widths() {
    // The C harness decodes an encoded load at its LOAD_ADDR, as `decode_encoded` does.
    const { assert!(LOAD_ADDR == 0x1000, "ffi/tests/c/harness.c's LOAD_ADDR") };
    let manifest = manifest::load(&manifest::manifest_path()).expect("manifest");
    let (mut input, mut want) = (String::new(), Vec::new());
    let mut round_trips = [0, 0];
    for case in &manifest.encodes {
        let (type_, arch, entry, segments_addr) = case.header().expect("header");
        let segments = case.segments().expect("segments");
        let host = case.host().expect("host");
        let (crash_start, crash_size) = host.crash_region.map_or((0, 0), |r| (r.start(), r.size()));
        for abi in case.guest_abis().expect("guests") {
            let name = case.full_name(abi);
            // The Rust encoder gives what the catalogue says (C is compared with it below).
            case.check(abi).unwrap_or_else(|e| panic!("{e}"));
            writeln!(
                input,
                "encode {name} {} 1000 {crash_start:x} {crash_size:x} {:x} {:x} {entry:x} {segments_addr:x} {}",
                if abi == GuestAbi::X86_32 { 32 } else { 64 },
                type_.0,
                arch.0,
                segments.len()
            )
            .expect("string");
            for s in &segments {
                writeln!(
                    input,
                    "seg {:x} {:x} {:x} {:x}",
                    s.buf, s.buf_size, s.dest_maddr, s.dest_size
                )
                .expect("string");
            }
            let (_, encoded) = case.encode(abi).expect("encode case");
            let shown = if segments.len() <= 16 {
                segments.len() * 32
            } else {
                0
            };
            match encoded {
                Err(e) => want.push(format!(
                    "{name} rc={} load={} segments={}",
                    e.errno().to_hypercall_ret(),
                    hex(&[0xaa; 24]),
                    hex(&vec![0xaa; shown])
                )),
                Ok(enc) => {
                    want.push(format!(
                        "{name} rc=0 load={} segments={}",
                        hex(enc.load_bytes()),
                        hex(enc.segment_bytes())
                    ));
                    // The C harness decodes the same bytes from the same addresses.
                    let decoded = decode_encoded(abi, &enc, segments_addr, &host).expect("regions");
                    round_trips[usize::from(abi == GuestAbi::X86_64)] += 1;
                    want.extend(decode_lines(&format!("{name} decoded"), &decoded));
                }
            }
        }
    }
    // Accepted loads of each width, each decoded by the C decoder too (the lines above).
    assert!(round_trips.iter().all(|&n| n >= 4), "{round_trips:?}");
    assert_lines(&run_harness(&input), &want);
}

#[test]
#[allow(clippy::too_many_lines)] // a table of expectations
fn every_argument_error_is_einval_and_never_a_crash() {
    let einval = Errno::EINVAL.to_hypercall_ret();
    let efault = Errno::EFAULT.to_hypercall_ret();
    // The reasons of a refused read at 0x9000, from the Rust decoder.
    let mut status = [1u8];
    let mut no_memory = [GuestRegion {
        base: 0x1000,
        bytes: &mut status[..],
    }];
    let mut mem = SparseMemory::new(&mut no_memory).expect("regions");
    let host = HostDescription::x86(None);
    let fault =
        decode(GuestAbi::X86_64, KexecCmd::STATUS, 0x9000, &mut mem, &host).expect_err("unmapped");
    let fault_ret = fault.to_hypercall_ret();
    let fault_text = fault.to_string();
    let misaligned = {
        let mut r = LoadRequest::new(KexecType::DEFAULT, ElfMachine::EM_X86_64, 0x10_0000);
        r.push_segment(Segment {
            buf: 0x8000,
            buf_size: 0x800,
            dest_maddr: 0x10_0800,
            dest_size: 0x1000,
        })
        .expect("one segment");
        r.validate(&host)
            .expect_err("misaligned")
            .to_hypercall_ret()
    };
    let answer = x86_64::KexecRange {
        range: KexecRangeKind::MA_CPU,
        nr: 0,
        size: 0x2000,
        start: 0x1000,
    };
    let want: BTreeMap<&str, String> = [
        ("decode-ok", "rc=0 why=".to_owned()),
        (
            "decode-ok-op",
            format!("cmd={} type={}", KexecCmd::STATUS.0, KexecType::CRASH.0),
        ),
        (
            "decode-null-guest",
            format!("rc={einval} why=guest is NULL"),
        ),
        ("decode-null-host", format!("rc={einval} why=host is NULL")),
        ("decode-null-op", format!("rc={einval} why=op is NULL")),
        (
            "decode-null-copy-from",
            format!("rc={einval} why=guest->copy_from_guest is NULL"),
        ),
        ("decode-null-copy-to-ok", "rc=0 why=".to_owned()),
        (
            "decode-bits-0",
            format!("rc={einval} why=guest bits 0 is neither 32 nor 64"),
        ),
        (
            "decode-bits-16",
            format!("rc={einval} why=guest bits 16 is neither 32 nor 64"),
        ),
        (
            "decode-bits-33",
            format!("rc={einval} why=guest bits 33 is neither 32 nor 64"),
        ),
        (
            "decode-bits-128",
            format!("rc={einval} why=guest bits 128 is neither 32 nor 64"),
        ),
        (
            "decode-page-size-0",
            format!("rc={einval} why=host page_size 0x0 is not a power of two"),
        ),
        (
            "decode-page-size-3000",
            format!("rc={einval} why=host page_size 0xbb8 is not a power of two"),
        ),
        (
            "decode-crash-wraps",
            format!(
                "rc={einval} why=host crash region 0xfffffffffffff000 + 0x2000 wraps past 2^64"
            ),
        ),
        ("decode-why-len-0", format!("rc={einval} why=-")),
        ("decode-why-len-0-untouched", "1".to_owned()),
        ("decode-why-null", "rc=0 why=-".to_owned()),
        ("decode-why-null-error", format!("rc={fault_ret} why=-")),
        ("decode-why-len-1", format!("rc={fault_ret} why=")),
        ("decode-why-len-1-byte1", "x".to_owned()),
        (
            "decode-why-len-8",
            format!("rc={fault_ret} why={}", &fault_text[..7]),
        ),
        // SIZE_MAX is clamped to XEN_KEXEC_WHY_MAX: the whole reason, nothing past it.
        (
            "decode-why-len-max",
            format!("rc={fault_ret} why={fault_text}"),
        ),
        (
            "decode-cmd-above-32-bits",
            format!(
                "rc={} why=command 0x100000006 is not a kexec_op command",
                Errno::EOPNOTSUPP.to_hypercall_ret()
            ),
        ),
        ("decode-why-in-op", format!("rc={einval} why=-")),
        (
            "decode-op-misaligned",
            format!("rc={einval} why=op is not aligned for its type"),
        ),
        ("decode-refused-op-untouched", "1".to_owned()),
        ("range-decode", "rc=0 why=".to_owned()),
        ("complete-null-guest", format!("rc={einval} why=-")),
        ("complete-null-op", format!("rc={einval} why=-")),
        ("complete-null-copy-to", format!("rc={einval} why=-")),
        ("complete-bits-7", format!("rc={einval} why=-")),
        ("complete-not-get-range", format!("rc={einval} why=-")),
        ("complete-fault", format!("rc={efault} why=-")),
        ("complete-ok", "rc=0 why=-".to_owned()),
        ("complete-ok-mem", hex(answer.as_bytes())),
        ("encode-ok", "rc=0 why=-".to_owned()),
        ("encode-null-host", format!("rc={einval} why=-")),
        ("encode-null-load-out", format!("rc={einval} why=-")),
        ("encode-null-segments", format!("rc={einval} why=-")),
        ("encode-null-segments-out", format!("rc={einval} why=-")),
        ("encode-nr-0-nulls-ok", "rc=0 why=-".to_owned()),
        ("encode-load-out-len-23", format!("rc={einval} why=-")),
        ("encode-segments-out-len-31", format!("rc={einval} why=-")),
        ("encode-outputs-overlap", format!("rc={einval} why=-")),
        ("encode-output-on-input", format!("rc={einval} why=-")),
        ("encode-bits-48", format!("rc={einval} why=-")),
        ("encode-nr-17", format!("rc={einval} why=-")),
        ("encode-page-size-3000", format!("rc={einval} why=-")),
        ("encode-refused", format!("rc={misaligned} why=-")),
        ("encode-refused-untouched", "1".to_owned()),
    ]
    .into_iter()
    .collect();
    let got: BTreeMap<String, String> = run_harness("errors\n")
        .iter()
        .map(|l| {
            let rest = l.strip_prefix("err ").unwrap_or_else(|| panic!("{l}"));
            let (label, value) = rest.split_once(' ').unwrap_or((rest, ""));
            (label.to_owned(), value.to_owned())
        })
        .collect();
    for (label, value) in &want {
        assert_eq!(got.get(*label), Some(value), "{label}");
    }
    assert_eq!(got.len(), want.len(), "{got:#?}");
}

#[test]
fn the_staticlib_links_without_libc_or_std_and_without_a_panic_path() {
    let exe = link(
        "ffi-nostdlib",
        &[root().join("ffi/tests/c/nostdlib.c")],
        &[
            "-nostdlib",
            "-static",
            "-ffreestanding",
            "-fno-builtin",
            // As the README's link line: only what the three functions reach.
            "-Wl,--gc-sections",
            "-Wl,-e,decode_one",
        ],
    );
    let nm = |path: &Path| {
        let out = Command::new("nm")
            .arg("-C")
            .arg(path)
            .stderr(Stdio::null())
            .output()
            .expect("nm runs (binutils)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let linked = nm(&exe);
    assert!(linked.contains(" T xen_kexec_decode"), "{linked}");
    let from_std: Vec<&str> = linked.lines().filter(|l| l.contains(" std::")).collect();
    assert!(from_std.is_empty(), "std symbols linked: {from_std:#?}");
    // No path of the three functions can panic: no panic machinery is linked at all.
    let panics: Vec<&str> = linked.lines().filter(|l| l.contains("panic")).collect();
    assert!(panics.is_empty(), "panic paths linked: {panics:#?}");
    // And the archive itself holds no std object: it is the no_std build.
    let archive = nm(staticlib());
    assert!(!archive.contains(" std::"), "the staticlib contains std");
}

#[test]
fn the_kexec_load_example_compiles_links_and_runs() {
    let example = root().join("ffi/examples/kexec_load.c");
    let lines = std::fs::read_to_string(&example)
        .expect("example")
        .lines()
        .count();
    assert!(lines < 80, "the example has {lines} lines");
    let exe = link("ffi-example", &[example], &[]);
    let out = Command::new(exe).output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("kexec_load: refused: -"), "{stdout}");
    assert!(
        stdout.contains("kexec_load: crash image, 2 segments, 64-bit entry at 0x20000000"),
        "{stdout}"
    );
}
