// SPDX-License-Identifier: MIT
//! The standard-stream policy of docs/cli.md (issue 28, finding 4), for every command:
//! a closed stdout stops the command before it does anything (exit 2); a full stdout is
//! exit 2, saying that a state-changing command was done; a full stderr never panics.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// A simulated host with a crash image loaded, and the files the commands read.
struct Host {
    dir: tempfile::TempDir,
}

const CRASH: &str = "0x20000000:0xc000000";

/// A one-`PT_LOAD` x86_64 ELF image at 0x20000000 (as tests/sim_store.rs builds it).
fn tiny_elf() -> Vec<u8> {
    let paddr: u64 = 0x2000_0000;
    let mut e = Vec::new();
    e.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    e.extend_from_slice(&2u16.to_le_bytes());
    e.extend_from_slice(&62u16.to_le_bytes());
    e.extend_from_slice(&1u32.to_le_bytes());
    for word in [paddr, 64, 0] {
        e.extend_from_slice(&word.to_le_bytes());
    }
    e.extend_from_slice(&0u32.to_le_bytes());
    for half in [64u16, 56, 1, 64, 0, 0] {
        e.extend_from_slice(&half.to_le_bytes());
    }
    e.extend_from_slice(&1u32.to_le_bytes());
    e.extend_from_slice(&5u32.to_le_bytes());
    for word in [0x1000, paddr, paddr, 0x10, 0x1000, 0x1000] {
        e.extend_from_slice(&u64::to_le_bytes(word));
    }
    e.resize(0x1000, 0);
    e.extend_from_slice(&[0xf4; 16]);
    e
}

impl Host {
    fn new() -> Host {
        let h = Host {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        std::fs::write(h.path("in.elf"), tiny_elf()).expect("image");
        std::fs::write(h.path("status.mem"), [0u8; 8]).expect("mem");
        let state = h.s("h.json");
        assert!(h
            .run(&["sim", "init", &state, "--crash-region", CRASH], How::Null)
            .status
            .success());
        let backend = format!("sim:{state}");
        let image = h.s("in.elf");
        let load = [
            "--backend",
            &backend,
            "load",
            "--type",
            "crash",
            "--elf",
            &image,
        ];
        assert!(h.run(&load, How::Null).status.success());
        h
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn s(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    fn state(&self) -> Vec<u8> {
        std::fs::read(self.path("h.json")).expect("state")
    }

    fn run(&self, args: &[&str], how: How) -> Output {
        let bin = env!("CARGO_BIN_EXE_xen-kexec");
        // `>&-`: the shell closes descriptor 1 and execs the command.
        let mut c = if let How::Closed = how {
            let mut c = Command::new("sh");
            c.args(["-c", "exec \"$0\" \"$@\" >&-", bin]).args(args);
            c
        } else {
            let mut c = Command::new(bin);
            c.args(args);
            c
        };
        c.env("XEN_KEXEC_STATE_DIR", self.path("records"))
            .stdin(Stdio::null())
            .stderr(Stdio::piped());
        match how {
            How::Full => c.stdout(full()),
            How::Null => c.stdout(Stdio::null()),
            How::Closed => c.stdout(Stdio::inherit()),
            How::FullStderr => c.stdout(Stdio::null()).stderr(full()),
        };
        c.output().expect("runs")
    }
}

fn full() -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full")
}

#[derive(Clone, Copy, Debug)]
enum How {
    Null,
    Full,
    Closed,
    FullStderr,
}

/// Every command: its arguments, whether it changes the state, and its exit statuses
/// for a closed and a full stdout (the `kexec` personality has its own: 1, 255).
fn commands(h: &Host) -> Vec<(Vec<String>, bool, i32, i32)> {
    let backend = format!("sim:{}", h.s("h.json"));
    let on = |args: &[&str]| -> Vec<String> {
        ["--backend", backend.as_str()]
            .iter()
            .chain(args)
            .map(|a| (*a).to_owned())
            .collect()
    };
    let plain = |args: &[&str]| -> Vec<String> { args.iter().map(|a| (*a).to_owned()).collect() };
    let image = h.s("in.elf");
    let mem = format!("0x1000={}", h.s("status.mem"));
    let state = h.s("h.json");
    vec![
        (on(&["status", "--type", "crash"]), false, 2, 2),
        (on(&["get-range", "--range", "crash"]), false, 2, 2),
        (
            on(&["load", "--type", "default", "--elf", &image]),
            true,
            2,
            2,
        ),
        (
            on(&["load", "--dry-run", "--type", "default", "--elf", &image]),
            false,
            2,
            2,
        ),
        (on(&["unload", "--type", "crash"]), true, 2, 2),
        (on(&["exec", "--type", "crash"]), true, 2, 2),
        (on(&["memory-map"]), false, 2, 2),
        (on(&["--json", "status", "--type", "crash"]), false, 2, 2),
        (on(&["kexec", "--print-ckr-size"]), false, 1, 255),
        (
            plain(&[
                "decode", "--guest", "x86_64", "--cmd", "6", "--arg", "0x1000", "--mem", &mem,
            ]),
            false,
            2,
            2,
        ),
        (
            plain(&[
                "sim",
                "init",
                &state,
                "--crash-region",
                "0x30000000:0x1000000",
            ]),
            true,
            2,
            2,
        ),
        (
            plain(&[
                "sim",
                "dump",
                &state,
                "--type",
                "crash",
                "--maddr",
                "0x20000000",
                "--len",
                "0x10",
            ]),
            false,
            2,
            2,
        ),
    ]
}

#[test]
fn a_closed_stdout_stops_every_command_before_it_does_anything() {
    let h = Host::new();
    for (args, _, closed, _) in commands(&h) {
        let before = h.state();
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = h.run(&words, How::Closed);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(closed), "{args:?}: {err}");
        assert!(
            err.contains("stdout is closed: nothing was done"),
            "{args:?}: {err}"
        );
        assert_eq!(h.state(), before, "{args:?} changed the state");
    }
}

#[test]
fn a_full_stdout_is_exit_2_and_says_a_state_change_was_done() {
    for index in 0..commands(&Host::new()).len() {
        // A fresh host for each, so that each state change is seen.
        let h = Host::new();
        let (args, changes, _, full) = commands(&h).swap_remove(index);
        let before = h.state();
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = h.run(&words, How::Full);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(full), "{args:?}: {err}");
        assert!(err.contains("cannot write to stdout"), "{args:?}: {err}");
        assert_eq!(err.contains("was done"), changes, "{args:?}: {err}");
        assert_eq!(h.state() != before, changes, "{args:?}");
    }
}

#[test]
fn a_full_stderr_never_panics() {
    let h = Host::new();
    let missing = format!("sim:{}", h.s("missing.json"));
    let backend = format!("sim:{}", h.s("h.json"));
    let image = h.path("below.elf");
    let mut below = tiny_elf();
    // The same image at 0x10000000, below the crash region: refused, EADDRNOTAVAIL.
    below[24..32].copy_from_slice(&0x1000_0000u64.to_le_bytes());
    for at in [64 + 16, 64 + 24] {
        below[at..at + 8].copy_from_slice(&0x1000_0000u64.to_le_bytes());
    }
    std::fs::write(&image, below).expect("image");
    let image = image.display().to_string();
    let cases: [(Vec<&str>, i32); 4] = [
        (vec!["--backend", &missing, "status", "--type", "crash"], 2),
        (
            vec![
                "--backend",
                &backend,
                "load",
                "--type",
                "crash",
                "--elf",
                &image,
            ],
            1,
        ),
        (vec!["--backend", &missing, "kexec", "-S"], 255),
        (
            vec![
                "--backend",
                &backend,
                "load",
                "--type",
                "crash",
                "--elf",
                "/dev/zero",
            ],
            2,
        ),
    ];
    for (args, code) in cases {
        let out = h.run(&args, How::FullStderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}");
    }
}
