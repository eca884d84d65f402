// SPDX-License-Identifier: MIT
//! Writing results: text or one JSON object per command on stdout, refusals and errors,
//! and the exit statuses (0 success, 1 refused, 2 bad input, 3 no hypervisor interface).
//!
//! Every write to stdout is checked: a closed pipe or a full disk ends the command with
//! a message naming stdout and exit status 2, never a panic.

use std::io::{self, Write};
use std::process::ExitCode;

use serde_json::{json, Map, Value};
use xen_kexec_abi::{ElfMachine, EntryMode, KexecCmd, KexecRangeKind, KexecType, OpenEnum};
use xen_kexec_toolstack::{ClientError, Refusal, TransportError};

/// Why a command did not succeed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Refused by the hypervisor, or locally by its rules: exit 1.
    Refused(Refusal),
    /// Bad command-line input or file: exit 2.
    Usage(String),
    /// No hypervisor interface: exit 3.
    Unavailable(String),
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Refused(r) => Failure::Refused(r),
            ClientError::Transport(t) => t.into(),
            ClientError::Input(i) => Failure::Usage(i.to_string()),
        }
    }
}

impl From<TransportError> for Failure {
    fn from(e: TransportError) -> Self {
        if e.is_unavailable() {
            Failure::Unavailable(e.to_string())
        } else {
            Failure::Usage(e.to_string())
        }
    }
}

/// A failed write to stdout.
pub(crate) fn stdout_failed(e: &io::Error) -> Failure {
    Failure::Usage(format!("cannot write to stdout: {e}"))
}

/// Writes `bytes` to stdout and flushes.
pub(crate) fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| stdout_failed(&e))
}

/// `"0x…"`: addresses and sizes as strings (JSON numbers lose precision above 2^53).
pub(crate) fn hex(v: u64) -> Value {
    Value::String(format!("{v:#x}"))
}

/// Inserts `key: C_NAME` and `key_value: number` for an open enum value (`null` name
/// for a value the ABI does not define).
pub(crate) fn put_enum<E: OpenEnum>(obj: &mut Map<String, Value>, key: &str, v: E, n: i64) {
    obj.insert(key.to_owned(), v.c_name().map_or(Value::Null, Value::from));
    obj.insert(format!("{key}_value"), Value::from(n));
}

/// `type` and `type_value`.
pub(crate) fn put_type(obj: &mut Map<String, Value>, t: KexecType) {
    put_enum(obj, "type", t, i64::from(t.0));
}

/// `arch` and `arch_value`.
pub(crate) fn put_arch(obj: &mut Map<String, Value>, a: ElfMachine) {
    put_enum(obj, "arch", a, i64::from(a.0));
}

/// `range` and `range_value`.
pub(crate) fn put_range(obj: &mut Map<String, Value>, r: KexecRangeKind) {
    put_enum(obj, "range", r, i64::from(r.0));
}

/// `cmd` and `cmd_value`.
pub(crate) fn put_cmd(obj: &mut Map<String, Value>, c: KexecCmd) {
    put_enum(obj, "cmd", c, i64::from(c.0));
}

/// The entry mode's name (as the abi crate serializes it).
pub(crate) fn mode_name(m: EntryMode) -> &'static str {
    match m {
        EntryMode::Protected32 => "Protected32",
        EntryMode::Long64 => "Long64",
        // `EntryMode` is non-exhaustive: a mode this build does not know is not named
        // as one it does.
        _ => "Unknown",
    }
}

/// The entry mode in words, for text output.
pub(crate) fn mode_words(m: EntryMode) -> &'static str {
    match m {
        EntryMode::Protected32 => "32-bit protected mode",
        EntryMode::Long64 => "64-bit long mode",
        _ => "an entry mode this xen-kexec does not know",
    }
}

/// The JSON object of a refusal: `{"command": …, "error": {"errno", "value", "rule",
/// "segment", "reason", "local"}}`.
pub(crate) fn refusal_json(command: &str, r: &Refusal) -> Value {
    json!({
        "command": command,
        "error": {
            "errno": r.errno_name(),
            "value": r.errno.0,
            "rule": r.rule,
            "segment": r.segment,
            "reason": r.reason,
            "local": r.local,
        }
    })
}

/// Reports `failure` of `command` (stderr, or stdout JSON for a refusal with `--json`)
/// and gives the exit status.
pub(crate) fn report_failure(command: &str, json: bool, failure: &Failure) -> ExitCode {
    let (code, message) = match failure {
        Failure::Refused(r) => {
            if json {
                let text = format!("{}\n", refusal_json(command, r));
                if let Err(Failure::Usage(m)) = write_stdout(text.as_bytes()) {
                    eprintln!("xen-kexec {command}: {m}");
                    return ExitCode::from(2);
                }
                return ExitCode::from(1);
            }
            (1, r.to_string())
        }
        Failure::Usage(m) => (2, m.clone()),
        Failure::Unavailable(m) => (3, m.clone()),
    };
    eprintln!("xen-kexec {command}: {message}");
    ExitCode::from(code)
}
