//! `headgen decode`: the command-line view of a captured hypercall (issue 4).

use std::process::ExitCode;

/// Arguments of `headgen decode`.
#[derive(Debug, clap::Args)]
pub(crate) struct DecodeArgs {}

/// Runs `headgen decode`.
pub(crate) fn run(_args: &DecodeArgs) -> ExitCode {
    eprintln!("headgen decode: not implemented yet");
    ExitCode::from(2)
}
