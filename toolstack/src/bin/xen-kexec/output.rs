// SPDX-License-Identifier: MIT
//! Writing results: text or one JSON object per command on stdout, refusals and errors,
//! and the exit statuses (0 success, 1 refused, 2 bad input, 3 no hypervisor interface).
//!
//! Every write to stdout is checked: a closed pipe or a full disk ends the command with
//! a message naming stdout and exit status 2, never a panic.

use std::io::{self, Write};
use std::process::ExitCode;

use xen_kexec_toolstack::{ClientError, Refusal, TransportError};

use crate::report::RefusalReport;

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

impl Failure {
    /// The message, as stderr shows it.
    pub(crate) fn text(&self) -> String {
        match self {
            Failure::Refused(r) => r.to_string(),
            Failure::Usage(m) | Failure::Unavailable(m) => m.clone(),
        }
    }
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

/// Reports `failure` of `command` (stderr, or stdout JSON for a refusal with `--json`)
/// and gives the exit status.
pub(crate) fn report_failure(command: &str, json: bool, failure: &Failure) -> ExitCode {
    let (code, message) = match failure {
        Failure::Refused(r) => {
            if json {
                let text = serde_json::to_string(&RefusalReport::new(command, r)).map_or_else(
                    |e| format!("cannot render the refusal as JSON: {e}"),
                    |j| j + "\n",
                );
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
