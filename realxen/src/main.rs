// SPDX-License-Identifier: MIT
//! `realxen`: boots real Xen under QEMU and runs the scenarios (see the crate docs).
//!
//! Prints the report, then one of `real Xen: PASS`, `real Xen: FAIL (...)` (exit 1) or
//! `real Xen: NOT RUN (why)` (exit 0: this machine cannot run it, and says so).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use realxen::machine::MACHINE;
use realxen::run::{self, Paths};
use realxen::Problem;

fn main() -> ExitCode {
    if std::env::args().len() > 1 {
        eprintln!("usage: realxen   (no arguments; see realxen/src/lib.rs)");
        return ExitCode::from(2);
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate lives in the workspace")
        .to_owned();
    let target_dir =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo.join("target"), PathBuf::from);
    let target_dir = if target_dir.is_absolute() {
        target_dir
    } else {
        repo.join(target_dir)
    };
    let paths = Paths { repo, target_dir };
    let started = Instant::now();
    match run::run(&paths, &MACHINE) {
        Err(Problem::NotRun(why)) => {
            println!("real Xen: NOT RUN ({why})");
            ExitCode::SUCCESS
        }
        Err(Problem::Fail(why)) => {
            println!("real Xen: FAIL ({why})");
            ExitCode::FAILURE
        }
        Ok(report) => {
            print!("{}", run::render(&report));
            let secs = started.elapsed().as_secs_f64();
            if report.pass() {
                println!("real Xen: PASS ({secs:.0} s)");
                ExitCode::SUCCESS
            } else {
                let logs: Vec<String> = report
                    .boots
                    .iter()
                    .map(|b| b.log_path.display().to_string())
                    .collect();
                println!(
                    "real Xen: FAIL ({secs:.0} s; serial logs kept: {})",
                    logs.join(", ")
                );
                ExitCode::FAILURE
            }
        }
    }
}
