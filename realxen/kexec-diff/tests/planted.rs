// SPDX-License-Identifier: MIT
//! Proof that the differential run can fail: a recorded run on Xen 4.17.7 (the runner's
//! lines of a real boot's serial log, `tests/data/`) is compared again with the engine,
//! once as it is (it passes, each allowed difference named by its rule) and once with a
//! departure planted in the engine's answers (it must be reported, and shrunk).

use kexec_diff::replay::Plant;
use kexec_diff::transcript::{self, Transcript};

fn recorded() -> Transcript {
    let text = include_str!("data/xen-4.17.7-seed-1932550228.log");
    transcript::parse(text).expect("the recorded run reads")
}

#[test]
fn the_recorded_xen_run_agrees_with_the_engine_but_for_named_departures() {
    let t = recorded();
    assert_eq!(t.answers.len(), 6000);
    assert!(t.ended);
    let outcome = kexec_diff::judge(&t, 1, Plant::None).unwrap();
    let s = &outcome.summary;
    assert!(
        s.differences.is_empty(),
        "{:?}",
        &s.differences[..s.differences.len().min(5)]
    );
    assert!(outcome.shrunk.is_none());
    for rule in [
        "status-is-presence",
        "sixteen-segments",
        "segment-wraps",
        "crash-entry-in-region",
        "pad-is-zero",
        "faulting-source-is-efault",
        "unknown-cmd-is-eopnotsupp",
        "empty-segment-loads",
    ] {
        assert!(
            s.allowed.get(rule).copied().unwrap_or(0) > 0,
            "{rule}: {s:?}"
        );
    }
    let text = s.render();
    assert!(text.contains("6000 hypercalls compared"), "{text}");
    assert!(text.contains("per errno (Xen's answers): "), "{text}");
}

#[test]
fn a_departure_planted_in_the_engine_is_reported_and_shrunk_to_one_call() {
    let t = recorded();
    let outcome = kexec_diff::judge(&t, 1, Plant::UnknownCmdIsEnosys).unwrap();
    let s = &outcome.summary;
    // Every unknown command now differs, and no rule permits it.
    assert_eq!(
        s.differences.len(),
        s.per_cmd.get("unknown").copied().unwrap_or(0),
        "{s:?}"
    );
    let (at, why) = &s.differences[0];
    assert!(why.contains("ENOSYS"), "{why}");
    let shrunk = outcome.shrunk.expect("a difference is shrunk");
    assert!(shrunk.contains("minimal sequence (1 calls"), "{shrunk}");
    assert!(
        shrunk.contains(&format!("call {at}: kexec_op(")),
        "{shrunk}"
    );
}
