// SPDX-License-Identifier: MIT
//! The errors of headgen: each says what went wrong, where, and what to do about it.

use std::fmt;
use std::path::PathBuf;

/// Why generating or checking failed.
#[derive(Debug)]
pub(crate) enum Error {
    /// Reading or writing a file failed.
    Io {
        /// What was being done, with the path ("reading include/public/kexec.h").
        action: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The current directory is not inside a checkout of this repository.
    NotInCheckout {
        /// Where the search started.
        start: PathBuf,
        /// The file that marks the repository root.
        marker: &'static str,
    },
    /// The doc text of an abi item cannot be read or used as a C comment.
    Doc {
        /// The source file, relative to the repository root.
        file: &'static str,
        /// The item (`KEXEC_TYPE_CRASH`, `KexecLoad.type`), or `the file`.
        item: String,
        /// What is wrong.
        message: String,
    },
    /// A compiler the C checks need is not installed.
    MissingCompiler {
        /// The program that could not be started.
        program: String,
        /// The Debian package that provides it.
        package: &'static str,
    },
    /// A C check failed to compile: the header does not lay out as the model says, or it
    /// is not clean under a dialect's warnings.
    CCheck {
        /// Which check ("x86_32: gcc -m32 -std=c11 ...").
        check: String,
        /// The compiler's diagnostics.
        stderr: String,
    },
    /// A committed generated file differs from what the generator produces now.
    Stale {
        /// The file, relative to the workspace root.
        path: PathBuf,
        /// A unified diff from the committed file to the generated one.
        diff: String,
        /// The command that regenerates it.
        command: &'static str,
    },
    /// cbindgen could not render the ffi crate's header (`include/xen-kexec.h`).
    Cbindgen(String),
    /// The purgatory could not be built, or its committed ELF file is stale.
    Purgatory(String),
    /// compat-tests' generators could not render the case catalogue's multi-fault
    /// section, the fixtures or the fuzz seeds (a manifest problem, a value that does not
    /// fit, or the C compiler's complaint).
    Derived(String),
    /// Several checks failed; each is reported.
    Many(Vec<Error>),
}

impl Error {
    /// An [`Error::Io`] for `action` (a phrase naming the path).
    pub(crate) fn io(action: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            action: action.into(),
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { action, source } => write!(f, "{action}: {source}"),
            Error::NotInCheckout { start, marker } => write!(
                f,
                "{} is not inside a xen-kexec-abi checkout (no directory at or above it has \
                 Cargo.toml and {}); run headgen from within the repository",
                start.display(),
                marker
            ),
            Error::Doc {
                file,
                item,
                message,
            } => write!(f, "{file}: {item}: {message}"),
            Error::MissingCompiler { program, package } => write!(
                f,
                "`{program}` is not installed; the C checks need it: install the Debian package \
                 `{package}` (apt-get install {package})"
            ),
            Error::CCheck { check, stderr } => write!(f, "C check failed: {check}\n{stderr}"),
            Error::Stale {
                path,
                diff,
                command,
            } => write!(
                f,
                "{} is stale: it differs from what the generator produces now.\n\
                 Run `{}` and commit the result.\n{diff}",
                path.display(),
                command
            ),
            Error::Cbindgen(message) => write!(
                f,
                "cbindgen could not render include/xen-kexec.h from ffi/src: {message}"
            ),
            Error::Purgatory(message) => f.write_str(message),
            Error::Derived(message) => write!(
                f,
                "could not render the fixtures, the multi-fault cases or the fuzz seeds: \
                 {message}"
            ),
            Error::Many(errors) => {
                for (i, error) in errors.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{error}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {}
