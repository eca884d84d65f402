// SPDX-License-Identifier: MIT
//! Writing results: text or one JSON object per command on stdout, refusals and errors,
//! and the exit statuses (0 success, 1 refused, 2 bad input, 3 no hypervisor interface).
//!
//! The policy for the standard streams (docs/cli.md, "Standard streams"):
//!
//! - Every command of the native command line prints to stdout, so stdout is checked
//!   first ([`check_stdout`]): closed (`>&-`) or open read-only, the command does
//!   nothing and exits 2.
//! - Every write to stdout is checked: a closed pipe or a full disk ends the command
//!   with a message naming stdout and exit status 2, never a panic. When the command
//!   had already changed the hypervisor's state (a load, an unload, an exec, `sim init`),
//!   the message says so: the action stands, only its report was lost.
//! - Writes to stderr (`note!`) never panic: a full or closed stderr loses the message,
//!   and the exit status still tells.

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

use xen_kexec_toolstack::{ClientError, Refusal, TransportError};

use crate::report::RefusalReport;

/// `eprintln!` that never panics: a line on stderr, lost if stderr is full or closed.
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::output::note_line(format_args!($($arg)*))
    };
}

/// Writes `args` and a newline to stderr, ignoring a failure (there is nowhere left to
/// report it).
pub(crate) fn note_line(args: fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    // Nowhere to report a failure to write the report of a failure.
    if err
        .write_fmt(args)
        .and_then(|()| err.write_all(b"\n"))
        .is_err()
    {}
}

/// Checks that stdout can take the command's output, before the command does anything.
///
/// Rust's runtime opens `/dev/null` read-write on a standard descriptor that is closed
/// at start, so that no file takes its number; a closed stdout (`>&-`) is therefore seen
/// here as stdout open read-write on `/dev/null`, and refused as such (`1<>/dev/null`,
/// which nobody writes, looks the same; `>/dev/null` is write-only and accepted).
///
/// # Errors
/// [`Failure::Usage`] when stdout is closed or open read-only.
pub(crate) fn check_stdout() -> Result<(), Failure> {
    use rustix::fs::OFlags;
    use std::os::fd::AsFd;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let failed = |why: &str| Failure::Usage(format!("stdout {why}: nothing was done"));
    let stdout = io::stdout();
    let flags =
        rustix::fs::fcntl_getfl(&stdout).map_err(|e| failed(&format!("is closed ({e})")))?;
    let access = flags & OFlags::ACCMODE;
    if access == OFlags::RDONLY {
        return Err(failed("is not open for writing"));
    }
    let meta = stdout
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata())
        .map_err(|e| failed(&format!("cannot be examined ({e})")))?;
    let null = std::fs::metadata("/dev/null").map(|m| m.rdev()).ok();
    if access == OFlags::RDWR && meta.file_type().is_char_device() && Some(meta.rdev()) == null {
        return Err(failed("is closed"));
    }
    Ok(())
}

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
                    note!("xen-kexec {command}: {m}");
                    return ExitCode::from(2);
                }
                return ExitCode::from(1);
            }
            (1, r.to_string())
        }
        Failure::Usage(m) => (2, m.clone()),
        Failure::Unavailable(m) => (3, m.clone()),
    };
    note!("xen-kexec {command}: {message}");
    ExitCode::from(code)
}
