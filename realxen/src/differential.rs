// SPDX-License-Identifier: MIT
//! The differential boot (issue 29): `kexec-diff` (`realxen/kexec-diff`) issues thousands
//! of seeded random `kexec_op` calls to real Xen from dom0; the host replays them on the
//! engine and compares them call by call. And the crash-reload boot: two raw crash loads
//! that reproduce Xen's panic in `kimage_free` (`docs/realxen.md`).

use std::time::{SystemTime, UNIX_EPOCH};

use kexec_diff::replay::Plant;
use kexec_diff::transcript::{self, MARK};

use crate::machine::Machine;
use crate::scenario::Verdict;

/// The differential boot's name.
pub const BOOT: &str = "differential";
/// The crash-reload boot's name.
pub const PANIC_BOOT: &str = "crash-reload-panic";
/// Where the runner is in dom0.
pub const RUNNER: &str = "bin/kexec-diff";
/// Hypercalls per run.
pub const COUNT: usize = 6000;
/// What Xen 4.17 prints last after a panic with `noreboot`: the harness stops QEMU there.
pub const PANIC_END: &str = "Manual reset required";
/// The environment variable that fixes the seed (else one from the clock, printed).
pub const SEED_VAR: &str = "REALXEN_DIFF_SEED";

/// The run's seed: `REALXEN_DIFF_SEED`, else from the clock (a different one each run).
pub fn seed() -> u64 {
    std::env::var(SEED_VAR)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_secs() ^ u64::from(d.subsec_nanos()))
        })
}

/// The one command that repeats a run of `seed`.
pub fn reproduce(seed: u64) -> String {
    format!("{SEED_VAR}={seed} REALXEN_ONLY={BOOT} cargo run -q -p realxen")
}

/// dom0's shell lines for the differential boot.
pub fn dom0_lines(seed: u64, machine: &Machine) -> String {
    format!(
        "/{RUNNER} run {seed} {COUNT} {:#x} {:#x}\nsay diff-rc \"$?\"\n",
        machine.crash.start, machine.crash.size
    )
}

/// dom0's shell lines for the crash-reload boot.
pub fn panic_lines(machine: &Machine) -> String {
    format!(
        "/{RUNNER} crash-reload {:#x} {:#x}\nsay reload-rc \"$?\"\n",
        machine.crash.start, machine.crash.size
    )
}

/// The differential boot's verdicts, and its figures as information.
pub fn judge(log: &str, cpus: u32, seed: u64, kept: &str) -> (Vec<Verdict>, Vec<String>) {
    let id = |s: &str| format!("{BOOT}/{s}");
    let fail = |s: &str, detail: String| Verdict {
        id: id(s),
        pass: false,
        detail: format!(
            "{detail}; seed {seed}, repeat with: {} ({kept})",
            reproduce(seed)
        ),
    };
    let t = match transcript::parse(log) {
        Ok(t) => t,
        Err(e) => return (vec![fail("run", e)], Vec::new()),
    };
    let mut vs = Vec::new();
    let panicked = log.contains("Panic on CPU");
    if t.ended && t.answers.len() == t.params.count {
        vs.push(Verdict {
            id: id("run"),
            pass: true,
            detail: format!("{} hypercalls made by dom0 (seed {seed})", t.answers.len()),
        });
    } else {
        let why = match (&t.error, panicked) {
            (_, true) => format!("Xen panicked at call {} (a finding)", t.answers.len()),
            (Some(e), _) => format!("the runner gave up: {e}"),
            (None, _) => format!("the run stopped after {} calls", t.answers.len()),
        };
        vs.push(fail("run", why));
    }
    let outcome = match kexec_diff::judge(&t, cpus, Plant::None) {
        Ok(o) => o,
        Err(e) => {
            vs.push(fail("compare", e));
            return (vs, Vec::new());
        }
    };
    let figures = format!("differential (seed {seed}): {}", outcome.summary.render());
    match (&outcome.summary.differences.first(), &outcome.shrunk) {
        (Some((at, why)), shrunk) => vs.push(fail(
            "compare",
            format!(
                "{} differences no rule permits; the first at call {at}: {why}\n{}",
                outcome.summary.differences.len(),
                shrunk.as_deref().unwrap_or("")
            ),
        )),
        (None, _) => vs.push(Verdict {
            id: id("compare"),
            pass: true,
            detail: format!(
                "Xen and the engine agree on all {} calls but for the allowed departures",
                outcome.summary.calls
            ),
        }),
    }
    (vs, vec![figures])
}

/// The crash-reload boot's verdict: Xen must panic in `kimage_free` on the second load.
pub fn judge_panic(log: &str, kept: &str) -> Verdict {
    let id = format!("{PANIC_BOOT}/panic");
    let first = log.contains(&format!("{MARK} step A 0"));
    let survived = log.contains(&format!("{MARK} survived"));
    let panicked = log.contains("Panic on CPU") && log.contains("kimage_free");
    let (pass, detail) = match (first, survived, panicked) {
        (true, false, true) => (
            true,
            "reproduced: the second crash load panicked Xen in kimage_free (Xen's bug, docs/realxen.md)".to_owned(),
        ),
        (true, true, _) => (
            false,
            "this Xen no longer panics on a crash load over the loaded image's control pages: \
             the bug is fixed in this release (revisit the README's departure)"
                .to_owned(),
        ),
        _ => (
            false,
            format!("want load A to succeed and load B to panic Xen in kimage_free; first load ok: {first}, panic seen: {panicked}"),
        ),
    };
    Verdict {
        id,
        pass,
        detail: if pass {
            detail
        } else {
            format!("{detail} ({kept})")
        },
    }
}
