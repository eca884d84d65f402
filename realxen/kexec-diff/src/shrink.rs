// SPDX-License-Identifier: MIT
//! A difference, shrunk to a short reproducing sequence.
//!
//! What is replayed where: the shrinking replays subsequences **on the engine only**,
//! against the answers Xen gave to those calls in the full run. A call's answer from
//! Xen may depend on calls removed before it (the loaded images, the position bits),
//! so the result is a candidate reproduction, to be confirmed on Xen; for a difference
//! that needs no state (a refusal, a get_range answer) it is exact.

use std::fmt::Write as _;

use xen_kexec_hypervisor::sim::SimConfig;

use crate::compare::{compare, describe};
use crate::gen::{Call, Region};
use crate::replay::{replay, Plant};
use crate::transcript::Answer;

/// Whether the calls `keep` (indices into `calls`) still show a difference no rule
/// permits.
fn fails(
    keep: &[usize],
    calls: &[Call],
    xen: &[Answer],
    config: &SimConfig,
    base: u64,
    plant: Plant,
) -> bool {
    let sub: Vec<&Call> = keep.iter().map(|&i| &calls[i]).collect();
    let xen_sub: Vec<Answer> = keep.iter().map(|&i| xen[i].clone()).collect();
    let crash = config
        .crash_region
        .map_or(Region { start: 0, size: 0 }, |r| Region {
            start: r.start,
            size: r.size,
        });
    replay(&sub, config, base, plant).is_ok_and(|engine| {
        !compare(&sub, base, crash, &xen_sub, &engine)
            .differences
            .is_empty()
    })
}

/// The indices of a short sequence ending at call `at` (the first difference) that
/// still differs: the shortest window before it that differs, then delta debugging
/// (chunks of halving size removed while it still differs).
pub fn shrink(
    at: usize,
    calls: &[Call],
    xen: &[Answer],
    config: &SimConfig,
    base: u64,
    plant: Plant,
) -> Vec<usize> {
    let mut window = 1;
    let mut keep: Vec<usize> = (0..=at).collect();
    while window <= at + 1 {
        let candidate: Vec<usize> = (at + 1 - window..=at).collect();
        if fails(&candidate, calls, xen, config, base, plant) {
            keep = candidate;
            break;
        }
        window *= 2;
    }
    let mut chunk = keep.len() / 2;
    while chunk >= 1 {
        let mut i = 0;
        while i + 1 < keep.len() {
            let end = (i + chunk).min(keep.len() - 1);
            let candidate: Vec<usize> = keep[..i].iter().chain(&keep[end..]).copied().collect();
            if end > i && fails(&candidate, calls, xen, config, base, plant) {
                keep = candidate;
            } else {
                i += chunk;
            }
        }
        chunk /= 2;
    }
    keep
}

/// The shrunk sequence as printed: each call, Xen's answer in the full run, and the
/// engine's in the shrunk replay.
pub fn render(
    keep: &[usize],
    calls: &[Call],
    xen: &[Answer],
    config: &SimConfig,
    base: u64,
    plant: Plant,
) -> String {
    let sub: Vec<&Call> = keep.iter().map(|&i| &calls[i]).collect();
    let engine = replay(&sub, config, base, plant).unwrap_or_default();
    let mut s = format!(
        "minimal sequence ({} calls; buffer at {base:#x}):\n",
        keep.len()
    );
    for (n, &i) in keep.iter().enumerate() {
        let c = &calls[i];
        let _ = writeln!(
            s,
            "  call {i}: kexec_op({}, {:#x}) {:?}\n    Xen: {}; engine: {}",
            c.cmd,
            c.arg,
            c.req,
            describe(&xen[i]),
            engine.get(n).map_or("?".to_owned(), describe)
        );
    }
    s
}
