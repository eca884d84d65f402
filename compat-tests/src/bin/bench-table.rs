// SPDX-License-Identifier: MIT
//! Prints the README's benchmark table from criterion's results:
//! `cargo bench -p compat-tests --bench kexec_op && cargo run -p compat-tests --bin bench-table`.
//!
//! Reads `target/criterion/*/*/new/{benchmark,estimates}.json` and, for every group
//! that has a `copy_floor`, gives each benchmark's ratio to it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::Value;

/// (group, function) → median in nanoseconds.
type Medians = BTreeMap<(String, String), f64>;

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn medians(criterion: &Path) -> Result<Medians, String> {
    let mut out = Medians::new();
    let groups = std::fs::read_dir(criterion).map_err(|e| {
        format!(
            "{}: {e} (run cargo bench -p compat-tests first)",
            criterion.display()
        )
    })?;
    for group in groups.flatten() {
        let Ok(benches) = std::fs::read_dir(group.path()) else {
            continue;
        };
        for bench in benches.flatten() {
            let dir = bench.path();
            let (meta, est) = (
                dir.join("new/benchmark.json"),
                dir.join("new/estimates.json"),
            );
            if !meta.exists() || !est.exists() {
                continue;
            }
            let meta = read_json(&meta)?;
            let median = read_json(&est)?["median"]["point_estimate"]
                .as_f64()
                .ok_or_else(|| format!("{}: no median", est.display()))?;
            let field = |k: &str| {
                meta[k]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{}: no {k}", dir.display()))
            };
            out.insert((field("group_id")?, field("function_id")?), median);
        }
    }
    Ok(out)
}

fn table(medians: &Medians) -> String {
    let mut s =
        String::from("| group | benchmark | median (ns) | × copy floor |\n|---|---|---:|---:|\n");
    for ((group, function), ns) in medians {
        let ratio = medians
            .get(&(group.clone(), "copy_floor".to_string()))
            .filter(|_| function != "copy_floor")
            .map_or_else(String::new, |floor| format!("{:.2}", ns / floor));
        let _ = writeln!(s, "| {group} | {function} | {ns:.1} | {ratio} |");
    }
    s
}

fn main() -> ExitCode {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || compat_tests::cc::repo_root().join("target"),
        PathBuf::from,
    );
    match medians(&target.join("criterion")) {
        Ok(m) if !m.is_empty() => {
            print!("{}", table(&m));
            ExitCode::SUCCESS
        }
        Ok(_) => {
            eprintln!(
                "bench-table: no results below {}/criterion",
                target.display()
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("bench-table: {e}");
            ExitCode::FAILURE
        }
    }
}
