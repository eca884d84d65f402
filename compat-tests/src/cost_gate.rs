// SPDX-License-Identifier: MIT
//! The instruction-count gate: the Rust decode of a load (`decode::load_into` over
//! `FlatMemory`) executes no more instructions than the C reference decode
//! (`c/kexec_load_ref.c`) of the same bytes, at 1, 4, 15 and 16 ascending segments, for
//! both guest widths and both image types.
//!
//! Instructions, counted by valgrind's callgrind, do not depend on the machine's load or
//! on where the heap and stack put things, so the gate gives the same answer on a busy
//! 2-core machine as on an idle one. Each row's count is the difference between runs of
//! [`LOW_ITERATIONS`] and [`HIGH_ITERATIONS`] decodes, divided by the difference, so that
//! start-up and set-up cancel out.
//!
//! `cargo run --release -p compat-tests --example decode_cost -- gate` runs it (and
//! `scripts/test` does when valgrind can be had); this module holds what the runner needs
//! and the comparison, which its tests check without valgrind.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use xen_kexec_abi::{GuestAbi, KexecType};

use crate::bench_inputs::COUNTS;

/// Decodes in the shorter of a row's two runs.
pub const LOW_ITERATIONS: u64 = 1_000;
/// Decodes in the longer of a row's two runs.
pub const HIGH_ITERATIONS: u64 = 3_000;

/// One row of the gate: a request shape and the instructions each side executes to
/// decode it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    /// The guest's width.
    pub abi: GuestAbi,
    /// How many segments (ascending, as kexec-tools sorts them).
    pub segments: usize,
    /// DEFAULT or CRASH.
    pub kind: KexecType,
    /// Instructions per decode of the Rust decoder.
    pub rust: u64,
    /// Instructions per decode of the C reference.
    pub c: u64,
}

impl Row {
    /// The row's name, as the gate reports it: `x86_32 16 segments CRASH`.
    pub fn name(&self) -> String {
        format!(
            "{} {} segment{} {}",
            self.abi.name(),
            self.segments,
            if self.segments == 1 { "" } else { "s" },
            kind_name(self.kind)
        )
    }
}

/// `DEFAULT` or `CRASH`.
fn kind_name(kind: KexecType) -> &'static str {
    if kind == KexecType::CRASH {
        "CRASH"
    } else {
        "DEFAULT"
    }
}

/// The shapes the gate measures: every width, [`COUNTS`] segments, DEFAULT and CRASH.
pub fn shapes() -> Vec<(GuestAbi, usize, KexecType)> {
    let mut out = Vec::new();
    for abi in GuestAbi::ALL {
        for n in COUNTS {
            for kind in [KexecType::DEFAULT, KexecType::CRASH] {
                out.push((abi, n, kind));
            }
        }
    }
    out
}

/// The gate's verdict: `Ok` when the Rust decode is at or below the C decode on every
/// row, otherwise a message naming each row where it is above.
///
/// # Errors
/// The message, one line per failing row with both counts.
pub fn verdict(rows: &[Row]) -> Result<(), String> {
    let above: Vec<String> = rows
        .iter()
        .filter(|r| r.rust > r.c)
        .map(|r| format!("  {}: Rust {} instructions > C {}", r.name(), r.rust, r.c))
        .collect();
    if above.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "instruction-count gate: the Rust decode executes more instructions than the C \
             reference on {} row{}:\n{}",
            above.len(),
            if above.len() == 1 { "" } else { "s" },
            above.join("\n")
        ))
    }
}

/// The rows as a markdown table (the one `docs/benchmarks.md` shows).
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| width | segments | type | C | Rust | Rust/C |\n|---|---:|---|---:|---:|---:|\n",
    );
    for r in rows {
        #[allow(clippy::cast_precision_loss)] // counts of a few thousand
        let ratio = r.rust as f64 / r.c.max(1) as f64;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {ratio:.2} |",
            r.abi.name(),
            r.segments,
            kind_name(r.kind),
            r.c,
            r.rust
        );
    }
    out
}

/// The instructions callgrind collected, from its report on stderr
/// (`==1234== Collected : 5678`).
pub fn collected(report: &str) -> Option<u64> {
    report.lines().find_map(|line| {
        let (_, rest) = line.split_once("Collected :")?;
        rest.trim().parse().ok()
    })
}

/// Instructions per decode from the totals of two runs: the difference over the
/// difference in decodes, so that what both runs share cancels out.
///
/// # Errors
/// A message when the longer run collected fewer instructions than the shorter.
pub fn per_decode(low: u64, high: u64) -> Result<u64, String> {
    high.checked_sub(low)
        .map(|d| d / (HIGH_ITERATIONS - LOW_ITERATIONS))
        .ok_or_else(|| {
            format!("{HIGH_ITERATIONS} decodes counted {high} < {low} for {LOW_ITERATIONS}")
        })
}

/// The instructions `exe args` executes under `valgrind --tool=callgrind`.
///
/// # Errors
/// When valgrind cannot be run, the program fails, or no count is reported.
pub fn count(exe: &Path, args: &[String]) -> Result<u64, String> {
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(exe)
        .args(args)
        .output()
        .map_err(|e| format!("valgrind: {e}"))?;
    let report = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!(
            "valgrind {} {}: {}\n{report}",
            exe.display(),
            args.join(" "),
            out.status
        ));
    }
    collected(&report).ok_or_else(|| format!("valgrind reported no count:\n{report}"))
}

/// Measures every shape of [`shapes`], running `exe` (the `decode_cost` example, built
/// with `--release`) under callgrind four times a row: `rust` and `c` at both iteration
/// counts.
///
/// # Errors
/// As [`count`].
pub fn measure(exe: &Path) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for (abi, n, kind) in shapes() {
        let per = |what: &str| -> Result<u64, String> {
            let args = |iterations: u64| {
                vec![
                    abi.name().to_owned(),
                    n.to_string(),
                    "ascending".to_owned(),
                    kind_name(kind).to_ascii_lowercase(),
                    what.to_owned(),
                    iterations.to_string(),
                ]
            };
            per_decode(
                count(exe, &args(LOW_ITERATIONS))?,
                count(exe, &args(HIGH_ITERATIONS))?,
            )
        };
        rows.push(Row {
            abi,
            segments: n,
            kind,
            rust: per("rust")?,
            c: per("c")?,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(abi: GuestAbi, segments: usize, kind: KexecType, rust: u64, c: u64) -> Row {
        Row {
            abi,
            segments,
            kind,
            rust,
            c,
        }
    }

    #[test]
    fn a_row_where_rust_is_above_c_fails_the_gate_and_is_named() {
        let rows = [
            row(GuestAbi::X86_64, 1, KexecType::DEFAULT, 134, 143),
            row(GuestAbi::X86_32, 16, KexecType::CRASH, 500, 499),
            row(GuestAbi::X86_64, 4, KexecType::CRASH, 197, 360),
        ];
        let e = verdict(&rows).expect_err("x86_32 16 CRASH is above C");
        assert!(
            e.contains("on 1 row:\n  x86_32 16 segments CRASH: Rust 500 instructions > C 499"),
            "{e}"
        );
        assert!(!e.contains("x86_64"), "only the failing row is named: {e}");
    }

    #[test]
    fn every_row_above_c_is_named() {
        let rows = [
            row(GuestAbi::X86_64, 1, KexecType::DEFAULT, 144, 143),
            row(GuestAbi::X86_32, 1, KexecType::CRASH, 175, 174),
        ];
        let e = verdict(&rows).expect_err("both above");
        assert!(e.contains("on 2 rows"), "{e}");
        assert!(e.contains("x86_64 1 segment DEFAULT: Rust 144"), "{e}");
        assert!(e.contains("x86_32 1 segment CRASH: Rust 175"), "{e}");
    }

    #[test]
    fn rust_equal_to_c_passes_the_gate() {
        let rows = [row(GuestAbi::X86_64, 15, KexecType::DEFAULT, 358, 358)];
        assert_eq!(verdict(&rows), Ok(()));
    }

    #[test]
    fn the_gate_measures_both_widths_both_types_at_1_4_15_and_16_segments() {
        let shapes = shapes();
        assert_eq!(shapes.len(), 2 * 4 * 2);
        for abi in GuestAbi::ALL {
            for n in [1, 4, 15, 16] {
                for kind in [KexecType::DEFAULT, KexecType::CRASH] {
                    assert!(shapes.contains(&(abi, n, kind)), "{abi:?} {n} {kind:?}");
                }
            }
        }
    }

    #[test]
    fn callgrinds_count_is_read_from_its_report() {
        let report = "==41== Callgrind, a call-graph generating cache profiler\n\
                      ==41== Events    : Ir\n==41== Collected : 1234567\n==41== \n\
                      ==41== I   refs:      1,234,567\n";
        assert_eq!(collected(report), Some(1_234_567));
        assert_eq!(collected("==41== I   refs: 12\n"), None);
    }

    #[test]
    fn per_decode_is_the_difference_over_the_difference_in_decodes() {
        let fixed = 90_000;
        let low = fixed + 150 * LOW_ITERATIONS;
        let high = fixed + 150 * HIGH_ITERATIONS;
        assert_eq!(per_decode(low, high), Ok(150));
        assert!(per_decode(high, low).is_err());
    }

    #[test]
    fn the_table_shows_each_row_with_its_ratio() {
        let t = table(&[row(GuestAbi::X86_32, 16, KexecType::CRASH, 389, 1914)]);
        assert!(
            t.ends_with("| x86_32 | 16 | CRASH | 1914 | 389 | 0.20 |\n"),
            "{t}"
        );
    }
}
