// SPDX-License-Identifier: MIT
//! Writes the multi-fault section of the case catalogue, `fixtures/cases-multi-fault.toml`
//! (see `compat_tests::multifault`): `cargo run -p compat-tests --bin multi-fault-cases`.
//! With `check`, writes nothing and fails with a diff when the committed file is stale.
//! Then `make-fixtures` lays out the new cases' regions.

use std::process::ExitCode;

use compat_tests::multifault::{cases, check_committed, path, render};

fn main() -> ExitCode {
    let result = match std::env::args().nth(1).as_deref() {
        None => {
            let cases = cases();
            let path = path();
            std::fs::write(&path, render(&cases))
                .map(|()| {
                    println!(
                        "multi-fault-cases: wrote {} cases to {}",
                        cases.len(),
                        path.display()
                    );
                })
                .map_err(|e| format!("{}: {e}", path.display()))
        }
        Some("check") => check_committed(),
        Some(other) => Err(format!(
            "unknown argument {other:?}; the only one is `check`"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("multi-fault-cases: {e}");
            ExitCode::FAILURE
        }
    }
}
