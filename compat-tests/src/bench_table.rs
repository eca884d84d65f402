// SPDX-License-Identifier: MIT
//! The benchmark's tables, from criterion's stored results
//! (`target/criterion/*/*/new/{benchmark,estimates}.json`), with the machine they were
//! measured on: printed at the end of `cargo bench -p compat-tests --bench kexec_op`.
//!
//! A measured table is information, not a generated file: it cannot be derived again in
//! a check, so `docs/benchmarks.md` holds a copy labelled with its machine and date, and
//! the generated-files check (`cargo run -p headgen -- check`) leaves it alone.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::bench_inputs::{Order, COUNTS};

/// One benchmark's median in nanoseconds, with criterion's confidence interval of it
/// (the spread over its samples).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// The median.
    pub median: f64,
    /// The interval's lower bound.
    pub low: f64,
    /// The interval's upper bound.
    pub high: f64,
}

/// (group, function) → its estimate.
pub type Medians = BTreeMap<(String, String), Estimate>;

/// Criterion's output directory: `$CARGO_TARGET_DIR/criterion`, or the workspace's
/// `target/criterion`.
///
/// # Errors
/// Never today; a `Result` so callers can chain it with [`medians`].
pub fn criterion_dir() -> Result<PathBuf, String> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| crate::cc::repo_root().join("target"), PathBuf::from);
    Ok(target.join("criterion"))
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Every stored benchmark's median.
///
/// # Errors
/// A message naming the directory or file that cannot be read.
pub fn medians(criterion: &Path) -> Result<Medians, String> {
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
            let est_json = read_json(&est)?;
            let number = |v: &Value| {
                v.as_f64()
                    .ok_or_else(|| format!("{}: no median", est.display()))
            };
            let median = &est_json["median"];
            let median = Estimate {
                median: number(&median["point_estimate"])?,
                low: number(&median["confidence_interval"]["lower_bound"])?,
                high: number(&median["confidence_interval"]["upper_bound"])?,
            };
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

const WIDTHS: [&str; 2] = ["x86_32", "x86_64"];
const TYPES: [&str; 2] = ["default", "crash"];

fn cell(v: Option<Estimate>) -> String {
    v.map_or_else(
        || "–".to_string(),
        |v| format!("{:.1} ({:.1}–{:.1})", v.median, v.low, v.high),
    )
}

fn ratio(a: Option<Estimate>, b: Option<Estimate>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b.median > 0.0 => format!("{:.2}", a.median / b.median),
        _ => "–".to_string(),
    }
}

/// The tables, each time a median with criterion's interval in brackets: loads over flat memory (copy, C, Rust, Rust/C, Rust/copy, Rust over
/// copying memory, Rust by value), loads over
/// `SparseMemory`, and every other group's medians.
pub fn tables(m: &Medians) -> String {
    let get = |g: &str, f: &str| m.get(&(g.to_string(), f.to_string())).copied();
    let mut s = String::from(
        "| width | segments | order | type | copy, floor (ns) | C (ns) | Rust (ns) | Rust/C | Rust/copy | copying (ns) | copying/C | by value (ns) | by value/C |\n\
         |---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for width in WIDTHS {
        for n in COUNTS {
            let group = format!("load/{width}/{n}");
            // Both widths copy the same bytes (24 + 32 N): the floor is the faster of the
            // two measurements, so that a disturbed copy row never flatters the ratio.
            let copy = WIDTHS
                .iter()
                .filter_map(|w| get(&format!("load/{w}/{n}"), "copy"))
                .min_by(|a, b| a.median.total_cmp(&b.median));
            for order in Order::ALL {
                for kind in TYPES {
                    let id = format!("{}/{kind}", order.name());
                    let (c, rust) = (
                        get(&group, &format!("{id}/c")),
                        get(&group, &format!("{id}/rust")),
                    );
                    let by_value = get(&group, &format!("{id}/rust_by_value"));
                    let copying = get(&group, &format!("{id}/rust_copying"));
                    if c.is_none() && rust.is_none() {
                        continue;
                    }
                    let _ = writeln!(
                        s,
                        "| {width} | {n} | {} | {kind} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                        order.name(),
                        cell(copy),
                        cell(c),
                        cell(rust),
                        ratio(rust, c),
                        ratio(rust, copy),
                        cell(copying),
                        ratio(copying, c),
                        cell(by_value),
                        ratio(by_value, c),
                    );
                }
            }
        }
    }
    s.push_str(
        "\nOver `SparseMemory` (region lookup in every read), ascending default loads:\n\n\
         | width | segments | SparseMemory copy (ns) | Rust (ns) | × its copy | × flat copy |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for width in WIDTHS {
        for n in COUNTS {
            let group = format!("sparse/{width}/{n}");
            let (copy, rust) = (get(&group, "copy"), get(&group, "ascending/default/rust"));
            if copy.is_none() && rust.is_none() {
                continue;
            }
            let flat = get(&format!("load/{width}/{n}"), "copy");
            let _ = writeln!(
                s,
                "| {width} | {n} | {} | {} | {} | {} |",
                cell(copy),
                cell(rust),
                ratio(rust, copy),
                ratio(rust, flat),
            );
        }
    }
    s.push_str("\n| group | benchmark | median (ns) |\n|---|---|---:|\n");
    for ((group, function), ns) in m {
        if group.starts_with("load/") || group.starts_with("sparse/") {
            continue;
        }
        let _ = writeln!(s, "| {group} | {function} | {} |", cell(Some(*ns)));
    }
    s
}

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

/// What the tables were measured with: the CPU's model and count (`/proc/cpuinfo`), the
/// kernel, the date, rustc and gcc.
pub fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim());
    let cpus = info.lines().filter(|l| l.starts_with("processor")).count();
    format!(
        "{model}, {cpus} CPUs; {}; {}; {}; {}",
        first_line("uname", &["-sr"]),
        first_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        first_line("rustc", &["--version"]),
        first_line("gcc", &["--version"]),
    )
}
