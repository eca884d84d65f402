//! headgen: renders `include/public/kexec.h` from the `xen-kexec-abi` crate, checks it
//! against real C compilers, reports layouts, and decodes captured hypercalls.
//!
//! `cargo run -p headgen` with no subcommand generates the header, then checks it.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod decode;

/// Command line of headgen.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode a captured kexec_op hypercall from guest memory images and print it as JSON.
    Decode(decode::DecodeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Decode(args)) => decode::run(&args),
        None => {
            eprintln!("headgen: generate/check are not implemented yet");
            ExitCode::FAILURE
        }
    }
}
