// SPDX-License-Identifier: MIT
//! The multi-fault section of the catalogue, `fixtures/cases-multi-fault.toml` (that the
//! committed file is what its generator writes now is `headgen check`'s): every consumer
//! of the manifest sees it,
//! and each generated request breaks exactly the rules its case names (so a pair is a
//! pair, never a third fault in disguise). The cases themselves run through the decoder
//! in `cases.rs` and through `xen-kexec decode` in `toolstack/tests/manifest_cases.rs`.

use std::collections::BTreeSet;

use compat_tests::manifest;
use compat_tests::multifault::{
    cases, Fault, GenCase, Placed, Request, CRASH, FAULTS, PAGE, SEGMENT_BYTES,
};
use xen_kexec_abi::GuestAbi;

#[test]
fn loading_the_manifest_gives_every_generated_case() {
    let m = manifest::load(&manifest::manifest_path()).expect("fixtures/cases.toml");
    let names: BTreeSet<&str> = m.cases.iter().map(|c| c.name.as_str()).collect();
    for case in cases() {
        assert!(
            names.contains(case.name.as_str()),
            "{} is not loaded",
            case.name
        );
    }
}

/// Every load rule evaluated on its own, as if all the others passed, over the request
/// as the guest wrote it: `(rule, segment)` for each rule broken (segment 0 for rules
/// about the whole request). Crash rules are measured against the base's region when
/// the host has none. Wide (u128) arithmetic, so a wrap is seen as such.
fn broken_rules(r: &Request) -> BTreeSet<(Fault, usize)> {
    let mut out = BTreeSet::new();
    let nr = usize::try_from(r.load.nr_segments).unwrap();
    if nr > 16 {
        out.insert((Fault::TooManySegments, 0));
    }
    let readable = r.truncate.unwrap_or(usize::MAX) / SEGMENT_BYTES;
    if nr > r.segments.len().min(readable) {
        out.insert((Fault::ArrayUnreadable, 0));
    }
    if r.load.type_.0 > 1 {
        out.insert((Fault::UnknownType, 0));
    }
    if r.crash_region.is_none() {
        out.insert((Fault::NoCrashRegion, 0));
    }
    let (cs, csize) = r.crash_region.unwrap_or(CRASH);
    let (cs, ce) = (u128::from(cs), u128::from(cs) + u128::from(csize));
    let entry = u128::from(r.load.entry_maddr);
    if !(cs <= entry && entry < ce) {
        out.insert((Fault::EntryOutside, 0));
    }
    let segs = &r.segments[..nr.min(r.segments.len())];
    let span = |i: usize| {
        let start = u128::from(segs[i].dest_maddr);
        (start, start + u128::from(segs[i].dest_size))
    };
    let page = u128::from(PAGE);
    for (i, s) in segs.iter().enumerate() {
        let (start, end) = span(i);
        if s.buf.raw() != 0 && !(cs <= start && end <= ce) {
            out.insert((Fault::CrashSegmentOutside, i));
        }
        if start % page != 0 {
            out.insert((Fault::StartMisaligned, i));
        }
        if end >= 1 << 64 {
            out.insert((Fault::Wraps, i));
        }
        if end % page != 0 {
            out.insert((Fault::EndMisaligned, i));
        }
        for j in 0..i {
            let (a, b) = (span(j), span(i));
            if a.0 < b.1 && b.0 < a.1 {
                out.insert((Fault::Overlap, i));
            }
        }
        if s.buf_size > s.dest_size {
            out.insert((Fault::BufferExceedsDest, i));
        }
    }
    if r.load.arch.0 != 3 && r.load.arch.0 != 62 {
        out.insert((Fault::UnsupportedArch, 0));
    }
    if r.load._pad != 0 {
        out.insert((Fault::ReservedNotZero, 0));
    }
    out
}

#[test]
fn each_generated_request_breaks_exactly_the_rules_its_case_names() {
    for case in cases() {
        let named: BTreeSet<(Fault, usize)> = case
            .faults
            .iter()
            .map(|p| (p.fault, if p.fault.on_segment() { p.slot } else { 0 }))
            .collect();
        assert_eq!(broken_rules(&case.request), named, "{}", case.name);
    }
}

#[test]
fn every_pair_of_faults_is_generated_for_both_widths() {
    let generated = cases();
    for guest in GuestAbi::ALL {
        for (i, a) in FAULTS.iter().enumerate() {
            for b in &FAULTS[i + 1..] {
                let pair: BTreeSet<Fault> = [*a, *b].into();
                assert!(
                    generated.iter().any(|c| c.guest == guest
                        && c.faults.iter().map(|p| p.fault).collect::<BTreeSet<_>>() == pair),
                    "no {guest:?} case with {a:?} and {b:?}"
                );
            }
        }
    }
}

/// The oracle's answer for `faults` placed on the base, from a 64-bit guest: the fault it
/// reports.
fn reported(faults: &[Placed]) -> Option<Placed> {
    let case = cases()
        .into_iter()
        .find(|c| c.guest == GuestAbi::X86_64 && c.faults == faults);
    case.as_ref().and_then(GenCase::winner)
}

#[test]
fn faults_are_listed_in_the_order_the_oracle_checks_them() {
    // For each pair, the fault listed first sits on the later segment; the oracle must
    // still report it, unless both are checked by one pass over the segments, where the
    // earlier segment wins. So the listing, which decides the placements, follows the
    // oracle's order, and every pair case shows the order of the passes.
    for (i, a) in FAULTS.iter().enumerate() {
        for b in &FAULTS[i + 1..] {
            let placed = [Placed { fault: *a, slot: 2 }, Placed { fault: *b, slot: 1 }];
            let want = if a.on_segment() && a.check() == b.check() {
                placed[1]
            } else {
                placed[0]
            };
            assert_eq!(reported(&placed), Some(want), "{a:?} and {b:?}");
        }
    }
}
