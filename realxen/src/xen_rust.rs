// SPDX-License-Identifier: MIT
//! The `xen-with-rust` boots (issue 31): Xen 4.17.5 built by `xen/build` with
//! `xen-kexec-ffi` linked into its `kexec_load` (`xen/patches/`), booted twice, and
//! Debian's own Xen (the stock build, with the bug the first patch fixes) once.
//!
//! In each, dom0 runs `rawkexec` (`realxen/rawkexec/rawkexec.c`, static): kexec_load
//! hypercalls a toolstack would refuse before making them (16 segments, a non-zero `_pad`,
//! faulting argument pointers, a segment outside the crash region, an overlap,
//! `buf_size > dest_size`, a bad arch, a faulting source buffer), each printed as
//! `RAWKEXEC NAME rc=N`. The compare boot also runs the `crash-cycle` steps first.
//!
//! - `xen-with-rust` (compare mode): every case returns Xen's answer, and every load of
//!   the boot (the toolstack's and the raw ones) has a `kexec-rust: … agree` line and no
//!   `MISMATCH`;
//! - `xen-with-rust-enforce` (`kexec-rust-enforce`): the same answers, each case the
//!   decoder refuses with an `enforced` line of the same errno, the others with `agree`;
//! - `xen-stock-fault` (Debian's Xen 4.17.7): the faulting source returns **0** (Xen's
//!   bug), where the patched Xen returns `-EFAULT`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::scenario::Verdict;

/// The compare-mode boot.
pub const COMPARE: &str = "xen-with-rust";
/// The enforce-mode boot.
pub const ENFORCE: &str = "xen-with-rust-enforce";
/// The stock boot (Debian's Xen, unpatched).
pub const STOCK: &str = "xen-stock-fault";
/// Xen's boot option of the enforce boot.
pub const ENFORCE_OPTION: &str = "kexec-rust-enforce";
/// What every boot of these adds to Xen's command line: every guest message, unlimited
/// (the agreement lines are `XENLOG_G_INFO`, rate-limited by default).
pub const LOGLVL: &str = "guest_loglvl=all";
/// Where `rawkexec` lives in dom0.
pub const RAWKEXEC: &str = "bin/rawkexec";

const EFAULT: i32 = -14;
const EINVAL: i32 = -22;
const EADDRNOTAVAIL: i32 = -99;

/// One raw case: its name, what the patched Xen answers, what the decoder answers, what
/// the stock Xen answers.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// `rawkexec`'s name for it.
    pub name: &'static str,
    /// The patched Xen's answer (both modes).
    pub patched: i32,
    /// The decoder's verdict (Xen rule profile); it refuses where this is not 0.
    pub rust: i32,
    /// The stock Xen's answer.
    pub stock: i32,
}

/// Every case, in `rawkexec`'s order.
pub const CASES: [Case; 11] = [
    case("valid-1-segment", 0, 0, 0),
    case("valid-15-segments", 0, 0, 0),
    case("segments-16", EINVAL, EINVAL, EINVAL),
    case("pad-set", 0, 0, 0),
    case("load-pointer-faults", EFAULT, EFAULT, EFAULT),
    case("segments-pointer-faults", EFAULT, EFAULT, EFAULT),
    case(
        "outside-crash-region",
        EADDRNOTAVAIL,
        EADDRNOTAVAIL,
        EADDRNOTAVAIL,
    ),
    case("overlap", EINVAL, EINVAL, EINVAL),
    case("buf-exceeds-dest", EINVAL, EINVAL, EINVAL),
    case("bad-arch", EINVAL, EINVAL, EINVAL),
    // The decoder does not read sources; Xen's copy faults. Stock Xen loses the EFAULT.
    case("source-faults", EFAULT, 0, 0),
];

const fn case(name: &'static str, patched: i32, rust: i32, stock: i32) -> Case {
    Case {
        name,
        patched,
        rust,
        stock,
    }
}

/// Builds (or takes from the cache) the patched Xen: `xen/build`'s `xen.gz`.
///
/// # Errors
/// `Err(Ok(why))` when this machine cannot build it (the boots are then NOT RUN);
/// `Err(Err(why))` when the build failed.
pub fn patched_xen(repo: &Path) -> Result<PathBuf, Result<String, String>> {
    let out = Command::new(repo.join("xen/build"))
        .output()
        .map_err(|e| Ok(format!("xen/build: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default().to_owned();
    match out.status.code() {
        Some(0) => Ok(PathBuf::from(last).join("xen.gz")),
        Some(3) => Err(Ok(last
            .trim_start_matches("NOT RUN (")
            .trim_end_matches(')')
            .to_owned())),
        _ => Err(Err(format!(
            "xen/build failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))),
    }
}

/// Builds `rawkexec` statically with gcc into `work`, and gives its bytes.
///
/// # Errors
/// A message when gcc fails.
pub fn rawkexec(repo: &Path, work: &Path) -> Result<Vec<u8>, String> {
    let out = work.join("rawkexec");
    let got = Command::new("gcc")
        .args(["-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&out)
        .arg(repo.join("realxen/rawkexec/rawkexec.c"))
        .output()
        .map_err(|e| format!("gcc: {e}"))?;
    if !got.status.success() {
        return Err(format!(
            "gcc rawkexec.c: {}",
            String::from_utf8_lossy(&got.stderr)
        ));
    }
    std::fs::read(&out).map_err(|e| format!("{}: {e}", out.display()))
}

/// dom0's shell line that runs the raw cases against a crash region at `crash_start`.
pub fn dom0_line(crash_start: u64) -> String {
    format!("/{RAWKEXEC} {crash_start:x}\n")
}

/// What the serial log says about each raw case: its answer and the `kexec-rust:` lines
/// Xen printed between its `RAWKEXEC-BEGIN` and its answer.
fn raw_answers(log: &str) -> Vec<(String, i32, Vec<String>)> {
    let mut out = Vec::new();
    let mut xen_lines = Vec::new();
    for line in log.lines() {
        if line.contains("RAWKEXEC-BEGIN ") {
            xen_lines.clear();
        } else if let Some(at) = line.find("kexec-rust: ") {
            xen_lines.push(line[at..].trim_end().to_owned());
        } else if let Some(at) = line.find("RAWKEXEC ") {
            let mut words = line[at + "RAWKEXEC ".len()..].split_whitespace();
            let (Some(name), Some(rc)) = (words.next(), words.next()) else {
                continue;
            };
            let rc = rc.trim_start_matches("rc=").parse().unwrap_or(i32::MIN);
            out.push((name.to_owned(), rc, std::mem::take(&mut xen_lines)));
        }
    }
    out
}

/// Judges one of the three boots from its serial log.
pub fn judge(boot: &str, log: &str, kept: &str) -> Vec<Verdict> {
    let answers = raw_answers(log);
    let mut verdicts: Vec<Verdict> = CASES
        .iter()
        .map(|c| judge_case(boot, c, &answers, kept))
        .collect();
    if boot == COMPARE {
        // Every load of the boot, the toolstack's included, agrees.
        let lines: Vec<&str> = log
            .lines()
            .filter_map(|l| l.find("kexec-rust: ").map(|at| l[at..].trim_end()))
            .collect();
        let loads = lines.iter().filter(|l| l.contains(" load ")).count();
        let disagree: Vec<&&str> = lines.iter().filter(|l| !l.ends_with("agree")).collect();
        verdicts.push(Verdict {
            id: format!("{boot}/every-load-agrees"),
            pass: disagree.is_empty() && loads > CASES.len(),
            detail: if disagree.is_empty() {
                format!("{loads} loads logged by Xen, every one \"agree\"")
            } else {
                format!("{loads} loads; not agreeing: {disagree:?} ({kept})")
            },
        });
    }
    verdicts
}

fn judge_case(
    boot: &str,
    case: &Case,
    answers: &[(String, i32, Vec<String>)],
    kept: &str,
) -> Verdict {
    let id = format!("{boot}/{}", case.name);
    let Some((_, rc, lines)) = answers.iter().find(|(n, _, _)| n == case.name) else {
        return Verdict {
            id,
            pass: false,
            detail: format!("no RAWKEXEC line in the log ({kept})"),
        };
    };
    let want = if boot == STOCK {
        case.stock
    } else {
        case.patched
    };
    let line = lines.first().map_or("", String::as_str);
    let logged = match boot {
        STOCK => lines.is_empty(),
        ENFORCE if case.rust != 0 => {
            line.starts_with(&format!("kexec-rust: load rust={} ", case.rust))
                && line.ends_with("enforced")
        }
        _ => {
            line.starts_with(&format!("kexec-rust: load rust={} ", case.rust))
                && line.ends_with(": agree")
        }
    };
    let pass = *rc == want && logged && lines.len() <= 1;
    Verdict {
        id,
        pass,
        detail: if pass {
            format!("rc={rc} {line}")
        } else {
            format!("rc={rc}, want {want}; Xen logged {lines:?} ({kept})")
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "RAWKEXEC-BEGIN segments-16\n\
        (XEN) kexec-rust: load rust=-22 (TooManySegments): enforced\n\
        RAWKEXEC segments-16 rc=-22\n\
        RAWKEXEC-BEGIN source-faults\n\
        (XEN) kexec-rust: load rust=0 () xen=-14 (copy): agree\n\
        RAWKEXEC source-faults rc=-14\n";

    /// Each case's answer comes with the Xen lines printed during its hypercall only.
    #[test]
    fn raw_answers_pair_each_case_with_its_xen_lines() {
        let a = raw_answers(LOG);
        assert_eq!(a.len(), 2);
        assert_eq!(
            (a[0].0.as_str(), a[0].1, a[0].2.len()),
            ("segments-16", -22, 1)
        );
        assert!(a[1].2[0].ends_with("(copy): agree"));
    }

    /// An enforced refusal passes only in the enforce boot; in the compare boot the same
    /// line is a failure (compare mode must not refuse).
    #[test]
    fn an_enforced_line_passes_only_in_the_enforce_boot() {
        let a = raw_answers(LOG);
        let c = CASES[2];
        assert!(judge_case(ENFORCE, &c, &a, "").pass);
        assert!(!judge_case(COMPARE, &c, &a, "").pass);
        // The stock boot has no such lines: any is a failure.
        assert!(!judge_case(STOCK, &c, &a, "").pass);
        // The faulting source: EFAULT after the patch; stock Xen's 0 would fail here.
        assert!(judge_case(COMPARE, &CASES[10], &a, "").pass);
    }
}
