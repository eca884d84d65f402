//! `headgen decode`'s command line: what the case catalogue (run through the binary by
//! `manifest_cases.rs`, which checks every outcome's JSON and exact error text) cannot
//! express: bad command lines (exit 2, naming the file or value) and number syntax.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use xen_kexec_abi::encode;
use xen_kexec_abi::KexecType;

const ARG: u64 = 0x10_0000;

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
}

fn headgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_headgen"))
        .arg("decode")
        .args(args)
        .output()
        .expect("run headgen")
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

/// Asserts exit `code`, nothing on stdout, and returns stderr.
fn failed(out: &Output, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
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
        let stderr = failed(&headgen(&args), 2);
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
        &headgen(&[
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
    let a = headgen(&[
        "--guest", "x86_32", "--cmd", "0x6", "--arg", "0x100000", "--mem", &hex,
    ]);
    let b = headgen(&[
        "--guest", "x86_32", "--cmd", "6", "--arg", "1048576", "--mem", &dec,
    ]);
    assert_eq!(stdout_json(&a), stdout_json(&b));
}
