// SPDX-License-Identifier: MIT
//! Prints the README's benchmark tables from criterion's results, with the machine,
//! date and compiler versions they were measured with:
//! `cargo bench -p compat-tests --bench kexec_op && cargo run -p compat-tests --bin bench-table`.

use std::io::Write as _;
use std::process::{Command, ExitCode};

use compat_tests::bench_table::{criterion_dir, medians, tables};

/// The first line of `cmd args`' output, or a note that it could not run.
fn first_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_else(|| format!("({cmd} not found)"))
}

/// The CPU's model name and the number of CPUs, from `/proc/cpuinfo`.
fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim());
    let cpus = info.lines().filter(|l| l.starts_with("processor")).count();
    format!("{model}, {cpus} CPUs")
}

fn main() -> ExitCode {
    let result = criterion_dir().and_then(|dir| medians(&dir).map(|m| (dir, m)));
    match result {
        Ok((_, m)) if !m.is_empty() => {
            let text = format!(
                "Medians of criterion's samples, each a sample's fastest round of 1,000 calls. \
                 Machine: {}; {}; {}; {}; {}.\n\n{}",
                machine(),
                first_line("uname", &["-sr"]),
                first_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
                first_line("rustc", &["--version"]),
                first_line("gcc", &["--version"]),
                tables(&m),
            );
            // A closed pipe (`| head`) is the reader's choice, not an error to panic on.
            let _ = std::io::stdout().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Ok((dir, _)) => {
            eprintln!("bench-table: no results below {}", dir.display());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("bench-table: {e}");
            ExitCode::FAILURE
        }
    }
}
