// SPDX-License-Identifier: MIT
//! Remakes every golden image in `fixtures/` from C: `cargo run -p compat-tests --bin make-fixtures`.

use std::process::ExitCode;

use compat_tests::fixtures;

fn main() -> ExitCode {
    let specs = fixtures::all_specs();
    match specs.and_then(|specs| fixtures::make(&specs)) {
        Ok(images) => match fixtures::write_all(&images, &fixtures::fixtures_dir()) {
            Ok(()) => {
                println!(
                    "make-fixtures: wrote {} images below {}",
                    images.len(),
                    fixtures::fixtures_dir().display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("make-fixtures: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("make-fixtures: {e}");
            ExitCode::FAILURE
        }
    }
}
