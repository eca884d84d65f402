// SPDX-License-Identifier: MIT
//! Differential testing of `kexec_op` against real Xen (issue 29).
//!
//! A seeded generator ([`gen`], [`sequence`]) makes thousands of raw `kexec_op` calls.
//! The dom0 runner (`src/bin/kexec-diff.rs`, a static binary in the real-Xen harness's
//! initramfs) issues each exactly as generated through privcmd and prints what Xen
//! returned and wrote ([`transcript`]). On the host the same calls go through the engine
//! on a simulated host configured from Xen's own answers ([`replay`]), and the two are
//! compared call by call ([`compare`]): the only differences allowed are the README's
//! departures, each named by its rule. A difference no rule permits is shrunk to a short
//! sequence ([`shrink`]).

pub mod compare;
pub mod gen;
pub mod replay;
pub mod sequence;
pub mod shrink;
pub mod transcript;

use compare::Summary;
use gen::Call;
use replay::Plant;
use transcript::Transcript;

/// A whole comparison: the figures, and the first difference shrunk.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The figures and verdicts.
    pub summary: Summary,
    /// The first difference no rule permits, shrunk and rendered.
    pub shrunk: Option<String>,
}

/// Regenerates the run's calls, replays them on the engine (`plant`: see [`Plant`]) and
/// compares them with Xen's answers in `t`.
///
/// # Errors
/// Xen did not answer the probes, or the sim host refused the configuration.
pub fn judge(t: &Transcript, cpus: u32, plant: Plant) -> Result<Outcome, String> {
    let calls = sequence::generate(&t.params);
    let config = replay::sim_config(&t.answers, cpus)?;
    let answered: Vec<&Call> = calls.iter().take(t.answers.len()).collect();
    let engine = replay::replay(&answered, &config, t.params.base, plant)?;
    let summary = compare::compare(
        &answered,
        t.params.base,
        t.params.crash,
        &t.answers,
        &engine,
    );
    let shrunk = summary.differences.first().map(|&(at, _)| {
        let keep = shrink::shrink(at, &calls, &t.answers, &config, t.params.base, plant);
        shrink::render(&keep, &calls, &t.answers, &config, t.params.base, plant)
    });
    Ok(Outcome { summary, shrunk })
}
