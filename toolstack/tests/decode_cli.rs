// SPDX-License-Identifier: MIT
//! `xen-kexec decode` (formerly `headgen decode`) end to end: requests encoded by the abi crate's builder are written
//! to files, the binary decodes them, and its exit status, stdout JSON and stderr
//! messages are checked.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use xen_kexec_abi::encode;
use xen_kexec_abi::host::{HostDescription, MachineRange};
use xen_kexec_abi::load::{LoadRequest, Segment};
use xen_kexec_abi::{ElfMachine, GuestAbi, KexecRangeKind, KexecType};

mod common;
use common::failed;

const ARG: u64 = 0x10_0000;
const SEGS: u64 = 0x10_1000;
const PAGE: u64 = 0x1000;
const CRASH_START: u64 = 0x4000_0000;
const CRASH_SIZE: u64 = 0x1000_0000;
const CRASH_REGION: &str = "0x40000000:0x10000000";

/// A scratch directory for one test's memory files.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Scratch {
        Scratch(tempfile::tempdir().expect("temp dir"))
    }

    /// Writes `bytes` to `name` and returns the `--mem` argument placing them at `addr`.
    fn mem(&self, name: &str, addr: u64, bytes: &[u8]) -> String {
        let path = self.0.path().join(name);
        std::fs::write(&path, bytes).expect("write memory file");
        format!("{addr:#x}={}", path.display())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    /// The `--mem` arguments of an encoded load placed at ARG (segments at SEGS).
    fn load(&self, enc: &encode::EncodedLoad) -> [String; 4] {
        [
            "--mem".into(),
            self.mem("load.bin", ARG, enc.load_bytes()),
            "--mem".into(),
            self.mem("segments.bin", enc.segments_addr(), enc.segment_bytes()),
        ]
    }
}

fn decode(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xen-kexec"))
        .arg("decode")
        .args(args)
        .output()
        .expect("run xen-kexec decode")
}

/// `xen-kexec --json decode ARGS...`
fn decode_json(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xen-kexec"))
        .args(["--json", "decode"])
        .args(args)
        .output()
        .expect("run xen-kexec --json decode")
}

fn stdout_json(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

fn guest(abi: GuestAbi) -> &'static str {
    abi.name()
}

/// A crash image of 16 touching segments filling the start of the crash region.
fn sixteen_segment_crash_request() -> LoadRequest {
    let mut req = LoadRequest::new(KexecType::CRASH, ElfMachine::EM_386, CRASH_START + 0x200);
    for i in 0..16 {
        req.push_segment(Segment {
            buf: 0x0800_0000 + i * PAGE,
            buf_size: PAGE / 2,
            dest_maddr: CRASH_START + i * PAGE,
            dest_size: PAGE,
        })
        .expect("16 fit");
    }
    req
}

fn crash_host(size: u64) -> HostDescription {
    HostDescription::x86(MachineRange::new(CRASH_START, size))
}

#[test]
fn load_of_sixteen_segments_decodes_to_the_same_json_from_either_width() {
    let req = sixteen_segment_crash_request();
    let load = req.validate(&crash_host(CRASH_SIZE)).expect("valid");
    let mut outputs = Vec::new();
    for abi in GuestAbi::ALL {
        let dir = Scratch::new();
        let enc = load.encode(abi, SEGS).expect("encodes");
        let mem = dir.load(&enc);
        let mut args = vec![
            "--guest",
            guest(abi),
            "--cmd",
            "4",
            "--arg",
            "0x100000",
            "--crash-region",
            CRASH_REGION,
        ];
        args.extend(mem.iter().map(String::as_str));
        let json = stdout_json(&decode_json(&args));
        assert_eq!(json["schema"], 1);
        assert_eq!(json["guest"], guest(abi));
        assert_eq!(json["cmd"], "KEXEC_CMD_kexec_load");
        let l = &json["operation"];
        assert_eq!(l["type"], "KEXEC_TYPE_CRASH");
        assert_eq!(l["type_value"], 1);
        assert_eq!(l["arch"], "EM_386");
        assert_eq!(l["arch_value"], 3);
        assert_eq!(l["entry_mode"], "Protected32");
        assert_eq!(l["entry_maddr"], format!("{:#x}", CRASH_START + 0x200));
        let segs = l["segments"].as_array().expect("segments");
        assert_eq!(segs.len(), 16);
        assert_eq!(
            segs[15]["dest_maddr"],
            format!("{:#x}", CRASH_START + 15 * PAGE)
        );
        assert_eq!(segs[15]["buf"], format!("{:#x}", 0x0800_0000 + 15 * PAGE));
        outputs.push(l.clone());
    }
    assert_eq!(outputs[0], outputs[1], "same request, same decoded load");
}

#[test]
fn small_commands_decode_to_json() {
    let dir = Scratch::new();
    let cases = [
        (
            "0",
            encode::exec(KexecType::CRASH),
            "KEXEC_CMD_kexec",
            serde_json::json!({ "type": "KEXEC_TYPE_CRASH", "type_value": 1 }),
        ),
        (
            "5",
            encode::unload(KexecType::DEFAULT),
            "KEXEC_CMD_kexec_unload",
            serde_json::json!({ "type": "KEXEC_TYPE_DEFAULT", "type_value": 0 }),
        ),
        (
            "0x6",
            encode::status(KexecType::CRASH),
            "KEXEC_CMD_kexec_status",
            serde_json::json!({ "type": "KEXEC_TYPE_CRASH", "type_value": 1 }),
        ),
    ];
    for (cmd, bytes, cmd_name, want) in cases {
        for abi in GuestAbi::ALL {
            let mem = dir.mem("arg.bin", ARG, bytes.as_bytes());
            let out = decode_json(&[
                "--guest",
                guest(abi),
                "--cmd",
                cmd,
                "--arg",
                "1048576",
                "--mem",
                &mem,
            ]);
            let json = stdout_json(&out);
            assert_eq!(json["cmd"], cmd_name, "cmd {cmd} {abi:?}");
            assert_eq!(json["operation"], want, "cmd {cmd} {abi:?}");
        }
    }
}

#[test]
fn get_range_decodes_in_each_width() {
    let dir = Scratch::new();
    for abi in GuestAbi::ALL {
        let bytes = encode::get_range(abi, KexecRangeKind::MA_CPU, 3);
        let mem = dir.mem("range.bin", ARG, bytes.as_bytes());
        let json = stdout_json(&decode_json(&[
            "--guest",
            guest(abi),
            "--cmd",
            "3",
            "--arg",
            "0x100000",
            "--mem",
            &mem,
        ]));
        let q = &json["operation"];
        assert_eq!(q["range"], "KEXEC_RANGE_MA_CPU");
        assert_eq!(q["range_value"], 2);
        assert_eq!(q["nr"], 3);
        assert_eq!(q["arg"], format!("{ARG:#x}"));
    }
}

#[test]
fn crash_load_without_a_crash_region_is_refused_with_eaddrnotavail() {
    let dir = Scratch::new();
    let enc = sixteen_segment_crash_request()
        .validate(&crash_host(CRASH_SIZE))
        .expect("valid")
        .encode(GuestAbi::X86_64, SEGS)
        .expect("encodes");
    let mem = dir.load(&enc);
    let mut args = vec!["--guest", "x86_64", "--cmd", "4", "--arg", "0x100000"];
    args.extend(mem.iter().map(String::as_str));
    let stderr = failed(&decode(&args), 1);
    assert!(stderr.contains("EADDRNOTAVAIL (99)"), "{stderr}");
    assert!(stderr.contains("crash region"), "{stderr}");
}

#[test]
fn crash_entry_one_past_the_region_is_refused_naming_the_entry() {
    let dir = Scratch::new();
    // Valid for a 16-page region with the entry on its last byte...
    let mut req = LoadRequest::new(
        KexecType::CRASH,
        ElfMachine::EM_X86_64,
        CRASH_START + 16 * PAGE - 1,
    );
    req.push_segment(Segment {
        buf: 0x0800_0000,
        buf_size: 1,
        dest_maddr: CRASH_START,
        dest_size: PAGE,
    })
    .expect("fits");
    let enc = req
        .validate(&crash_host(16 * PAGE))
        .expect("valid")
        .encode(GuestAbi::X86_32, SEGS)
        .expect("encodes");
    let mem = dir.load(&enc);
    let mut args = vec![
        "--guest",
        "x86_32",
        "--cmd",
        "4",
        "--arg",
        "0x100000",
        "--crash-region",
    ];
    let accept = [
        args.clone(),
        vec!["0x40000000:0x10000"],
        mem.iter().map(String::as_str).collect(),
    ]
    .concat();
    stdout_json(&decode_json(&accept));
    // ...and refused when the region ends at the entry.
    args.push("0x40000000:0xffff");
    args.extend(mem.iter().map(String::as_str));
    let stderr = failed(&decode(&args), 1);
    assert!(stderr.contains("EADDRNOTAVAIL (99)"), "{stderr}");
    assert!(stderr.contains("entry_maddr 0x4000ffff"), "{stderr}");
}

#[test]
fn refusals_print_errno_name_value_and_reason() {
    let dir = Scratch::new();
    let exec = dir.mem("exec.bin", ARG, encode::exec(KexecType(7)).as_bytes());
    let cases: [(&[&str], &str); 4] = [
        (
            &["--cmd", "1", "--arg", "0x100000", "--mem", &exec],
            "EOPNOTSUPP (95): command KEXEC_CMD_kexec_load_v1 was removed",
        ),
        (
            &["--cmd", "99", "--arg", "0x100000", "--mem", &exec],
            "EOPNOTSUPP (95)",
        ),
        (
            &["--cmd", "0", "--arg", "0x100000", "--mem", &exec],
            "EINVAL (22): type 7",
        ),
        (
            &["--cmd", "0", "--arg", "0x200000", "--mem", &exec],
            "EFAULT (14): cannot read 4 bytes of guest memory at 0x200000",
        ),
    ];
    for (args, want) in cases {
        let all = [&["--guest", "x86_64"][..], args].concat();
        let stderr = failed(&decode(&all), 1);
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}

#[test]
fn bad_command_lines_exit_2_naming_the_file_or_value() {
    let dir = Scratch::new();
    let a = dir.mem("a.bin", 0x1000, &[0; 0x100]);
    let b = dir.mem("b.bin", 0x10f0, &[0; 0x10]);
    let missing = dir.path("missing.bin");
    let missing_arg = format!("0x1000={}", missing.display());
    let cases: [(&[&str], Vec<String>); 7] = [
        (
            &["--mem", &missing_arg],
            vec![missing.display().to_string(), "cannot read".into()],
        ),
        (
            &["--mem", &a, "--mem", &b],
            vec!["overlap".into(), "a.bin".into(), "b.bin".into()],
        ),
        (
            &["--mem", "0x1000"],
            vec!["`0x1000` is not ADDR=FILE".into()],
        ),
        (
            &[
                "--mem",
                "0xfffffffffffffff8=/dev/null",
                "--crash-region",
                "0xffffffffffffffff:2",
            ],
            vec!["past the top".into()],
        ),
        (&["--mem", &a, "--arg", "0xZZ"], vec!["`0xZZ`".into()]),
        (
            &["--mem", &a, "--cmd", "4294967296"],
            vec!["`4294967296`".into(), "32 bits".into()],
        ),
        (&["--mem", &a, "--guest", "x86_16"], vec!["x86_16".into()]),
    ];
    for (extra, words) in cases {
        // Later occurrences of --cmd, --arg and --guest are not allowed by clap; build
        // each command line with its own values where the case supplies them.
        let mut args: Vec<&str> = Vec::new();
        for (flag, default) in [("--guest", "x86_64"), ("--cmd", "4"), ("--arg", "0x1000")] {
            if !extra.contains(&flag) {
                args.extend([flag, default]);
            }
        }
        args.extend(extra);
        let stderr = failed(&decode(&args), 2);
        for w in &words {
            assert!(
                stderr.contains(w.as_str()),
                "{extra:?}: missing {w:?} in {stderr}"
            );
        }
    }
}

#[test]
fn region_reaching_past_2_pow_64_is_a_usage_error() {
    let dir = Scratch::new();
    let top = dir.mem("top.bin", u64::MAX - 3, &[0; 8]);
    let stderr = failed(
        &decode(&[
            "--guest", "x86_64", "--cmd", "0", "--arg", "0", "--mem", &top,
        ]),
        2,
    );
    assert!(
        stderr.contains("top.bin") && stderr.contains("past the top"),
        "{stderr}"
    );
}

#[test]
fn hex_and_decimal_numbers_are_the_same() {
    let dir = Scratch::new();
    let hex = dir.mem("s.bin", ARG, encode::status(KexecType::DEFAULT).as_bytes());
    let dec = format!("1048576={}", Path::new(&dir.path("s.bin")).display());
    let a = decode_json(&[
        "--guest", "x86_32", "--cmd", "0x6", "--arg", "0x100000", "--mem", &hex,
    ]);
    let b = decode_json(&[
        "--guest", "x86_32", "--cmd", "6", "--arg", "1048576", "--mem", &dec,
    ]);
    assert_eq!(stdout_json(&a), stdout_json(&b));
}

/// Without `--json`, decode prints words, and a 64-bit value in hex in full, as the JSON
/// form does (`"0x…"` strings, never numbers a double cannot hold).
#[test]
fn decode_prints_words_and_64_bit_values_in_hex_in_both_forms() {
    let mut req = LoadRequest::new(
        KexecType::DEFAULT,
        ElfMachine::EM_X86_64,
        0xffff_ffff_ffff_f001,
    );
    req.push_segment(Segment {
        buf: 0x0800_0000,
        buf_size: 0x10,
        dest_maddr: 0x10_0000,
        dest_size: PAGE,
    })
    .expect("fits");
    let enc = req
        .validate(&crash_host(CRASH_SIZE))
        .expect("valid")
        .encode(GuestAbi::X86_64, SEGS)
        .expect("encodes");
    let dir = Scratch::new();
    let mem = dir.load(&enc);
    let mut args = vec!["--guest", "x86_64", "--cmd", "4", "--arg", "0x100000"];
    args.extend(mem.iter().map(String::as_str));
    let out = decode(&args);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(
        text,
        "KEXEC_CMD_kexec_load from an x86_64 guest: KEXEC_TYPE_DEFAULT image for EM_X86_64, \
         entry 0xfffffffffffff001 (64-bit long mode), 1 segments\n  \
         segment 0: buf 0x8000000 buf_size 0x10 dest 0x100000 size 0x1000\n"
    );
    let json = stdout_json(&decode_json(&args));
    assert_eq!(json["operation"]["entry_maddr"], "0xfffffffffffff001");
}

/// `--json` gives the toolstack's form: addresses as "0x…" strings, enum values by their
/// C names with the numbers alongside, the command named; a refusal is a JSON object on
/// stdout with exit 1.
#[test]
fn json_form_names_enums_and_writes_addresses_as_hex_strings() {
    let req = sixteen_segment_crash_request();
    let enc = req
        .validate(&crash_host(CRASH_SIZE))
        .expect("valid")
        .encode(GuestAbi::X86_32, SEGS)
        .expect("encodes");
    let dir = Scratch::new();
    let mem = dir.load(&enc);
    let mut args = vec![
        "--json",
        "decode",
        "--guest",
        "x86_32",
        "--cmd",
        "4",
        "--arg",
        "0x100000",
        "--crash-region",
        CRASH_REGION,
    ];
    args.extend(mem.iter().map(String::as_str));
    let out = Command::new(env!("CARGO_BIN_EXE_xen-kexec"))
        .args(&args)
        .output()
        .expect("runs");
    let json = stdout_json(&out);
    assert_eq!(json["command"], "decode");
    assert_eq!(json["cmd"], "KEXEC_CMD_kexec_load");
    assert_eq!(json["cmd_value"], 4);
    let op = &json["operation"];
    assert_eq!(op["type"], "KEXEC_TYPE_CRASH");
    assert_eq!(op["type_value"], 1);
    assert_eq!(op["arch"], "EM_386");
    assert_eq!(op["arch_value"], 3);
    assert_eq!(op["entry_maddr"], format!("{:#x}", CRASH_START + 0x200));
    assert_eq!(
        op["segments"][15]["dest_maddr"],
        format!("{:#x}", CRASH_START + 15 * PAGE)
    );

    // The same load with no crash region: the refusal as JSON on stdout, exit 1.
    let no_region: Vec<&str> = args
        .iter()
        .copied()
        .filter(|a| *a != "--crash-region" && *a != CRASH_REGION)
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_xen-kexec"))
        .args(&no_region)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON refusal");
    let e = &json["error"];
    assert_eq!(json["command"], "decode");
    assert_eq!(e["errno"], "EADDRNOTAVAIL");
    assert_eq!(e["value"], 99);
    assert_eq!(e["rule"], "NoCrashRegion");
    assert!(e["reason"].as_str().expect("text").contains("crash region"));
}

/// `--mem` files are size-checked before any is read: a device has no size, a 2 GiB
/// sparse file is over the limit; both exit 2 naming the file, without reading it.
#[test]
fn devices_and_huge_sparse_files_are_refused_before_reading() {
    let dir = Scratch::new();
    let sparse = dir.path("sparse.bin");
    std::fs::File::create(&sparse)
        .and_then(|f| f.set_len(2 << 30))
        .expect("2 GiB sparse file");
    let sparse_arg = format!("0x1000={}", sparse.display());
    for (mem, word) in [
        ("0x1000=/dev/zero", "/dev/zero"),
        (sparse_arg.as_str(), "sparse.bin"),
    ] {
        let stderr = failed(
            &decode(&[
                "--guest", "x86_64", "--cmd", "6", "--arg", "0x1000", "--mem", mem,
            ]),
            2,
        );
        assert!(stderr.contains(word), "{stderr}");
    }
}
