// SPDX-License-Identifier: MIT
//! The benchmark's C reference decode does the crate's work: on every input the
//! benchmark measures it accepts the same load, and on those inputs with fields broken
//! (one to four at a time, so that the order of the rules matters) it answers the
//! crate's errno. A yardstick that skipped a rule would fail here.

use compat_tests::bench_inputs::{
    guest_memory, host, request, Order, COUNTS, CRASH_BASE, CRASH_SIZE, LOAD_ADDR, SEGMENTS_ADDR,
};
use compat_tests::c_reference::{CReference, RefLoad};
use proptest::prelude::*;
use xen_kexec_abi::decode;
use xen_kexec_abi::guest_mem::FlatMemory;
use xen_kexec_abi::host::{HostDescription, MachineRange, PageSize, RuleProfile};
use xen_kexec_abi::load::ValidatedLoad;
use xen_kexec_abi::{EntryMode, Error, GuestAbi, KexecType};

/// The crate's answer and the C reference's for the load at `LOAD_ADDR` in `bytes`:
/// equal errnos, and for an accepted load equal contents.
fn agree(abi: GuestAbi, bytes: &[u8], host: &HostDescription) -> Result<i32, String> {
    let mut mem = FlatMemory::new(LOAD_ADDR, bytes).expect("flat");
    let rust = decode::load(abi, &mut mem, LOAD_ADDR, host);
    let mut out = RefLoad::new();
    let c = CReference::new(LOAD_ADDR, bytes, host).load(abi, LOAD_ADDR, &mut out);
    let rust_ret = rust.as_ref().map_or_else(Error::to_hypercall_ret, |_| 0);
    let rust_ret = i32::try_from(rust_ret).expect("an errno");
    if rust_ret != c {
        return Err(format!("{abi:?}: crate {rust:?} ({rust_ret}), C {c}"));
    }
    if let Ok(load) = rust {
        same_load(&load, &out).map_err(|e| format!("{abi:?}: {e}"))?;
    }
    Ok(c)
}

fn same_load(load: &ValidatedLoad, out: &RefLoad) -> Result<(), String> {
    let c_segments: Vec<_> = out.segments().collect();
    let same = load.kexec_type().0 == out.type_
        && load.arch().0 == out.arch
        && (load.entry_mode() == EntryMode::Long64) == (out.long_mode == 1)
        && load.entry_maddr() == out.entry_maddr
        && load.segments() == c_segments.as_slice();
    if same {
        Ok(())
    } else {
        Err(format!("crate accepted {load:?}, C {out:?}"))
    }
}

#[test]
fn c_reference_accepts_every_benchmarked_load_as_the_crate_does() {
    let mut checked = 0;
    for abi in GuestAbi::ALL {
        for n in COUNTS {
            for order in Order::ALL {
                for kind in [KexecType::DEFAULT, KexecType::CRASH] {
                    let bytes = guest_memory(&request(kind, n, order), abi);
                    assert_eq!(agree(abi, &bytes, &host()), Ok(0), "{n} {order:?} {kind:?}");
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 2 * COUNTS.len() * Order::ALL.len() * 2);
}

/// A field of the guest's bytes to overwrite: (offset in the memory, width in bytes).
fn field() -> impl Strategy<Value = (usize, usize)> {
    let load = prop_oneof![
        Just((0, 1)),  // type
        Just((1, 1)),  // _pad
        Just((2, 2)),  // arch
        Just((4, 4)),  // nr_segments
        Just((8, 8)),  // segments
        Just((16, 8)), // entry_maddr
    ];
    let array = usize::try_from(SEGMENTS_ADDR - LOAD_ADDR).expect("small");
    let segment = (0usize..17, 0usize..4).prop_map(move |(i, f)| (array + 32 * i + 8 * f, 8));
    prop_oneof![1 => load, 2 => segment]
}

/// A value for a field: the interesting ones for the rules, or anything.
fn value() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(2),
        Just(3),  // EM_386
        Just(62), // EM_X86_64
        Just(16),
        Just(17),
        (0u64..8).prop_map(|p| CRASH_BASE + p * 0x1000),
        (0u64..8).prop_map(|p| CRASH_BASE + CRASH_SIZE - p * 0x1000),
        (0u64..4).prop_map(|p| p * 0x1000),
        (0u64..0x40).prop_map(|p| SEGMENTS_ADDR + p * 0x40),
        Just(u64::MAX - 0xfff),
        Just(0x1_0000_0000 + SEGMENTS_ADDR),
        Just(0x800),
        any::<u64>(),
    ]
}

fn a_host() -> impl Strategy<Value = HostDescription> {
    prop_oneof![
        4 => Just(host()),
        1 => Just(HostDescription::x86(None)),
        1 => Just(HostDescription { page_size: PageSize::new(0x2000).expect("2^13"), crash_region: MachineRange::new(CRASH_BASE, CRASH_SIZE), profile: RuleProfile::Strict }),
        1 => Just(HostDescription::x86(MachineRange::new(CRASH_BASE + 0x2000, 0x4000))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// Benchmarked loads with one to four fields overwritten (the load structure's
    /// fields and any segment's, the seventeenth included), on a few hosts: the C
    /// reference answers the crate's errno, and accepts the same load when both accept.
    #[test]
    fn c_reference_answers_the_crates_errno_on_broken_loads(
        abi in prop_oneof![Just(GuestAbi::X86_32), Just(GuestAbi::X86_64)],
        n in prop::sample::select(COUNTS.to_vec()),
        order in prop::sample::select(Order::ALL.to_vec()),
        crash in any::<bool>(),
        host in a_host(),
        writes in prop::collection::vec((field(), value()), 1..5),
    ) {
        let kind = if crash { KexecType::CRASH } else { KexecType::DEFAULT };
        let mut bytes = guest_memory(&request(kind, n, order), abi);
        for ((at, width), v) in writes {
            bytes[at..at + width].copy_from_slice(&v.to_le_bytes()[..width]);
        }
        if let Err(e) = agree(abi, &bytes, &host) {
            return Err(TestCaseError::fail(e));
        }
    }
}

#[test]
fn each_rule_broken_alone_gives_the_same_errno_in_c() {
    // One hand-picked breakage per rule, on the 16-segment ascending crash load: the
    // errno of each is the crate's, and each rule is really met (not all EINVAL).
    let cases: [(&str, usize, u64, usize); 12] = [
        ("type", 0, 7, 1),
        ("nr_segments", 4, 17, 4),
        ("segments unmapped", 8, 0x10_0000, 8),
        ("entry outside", 16, CRASH_BASE + CRASH_SIZE, 8),
        ("segment outside", 0x1000 + 32 * 3 + 16, 0x1000, 8),
        (
            "start misaligned",
            0x1000 + 32 * 3 + 16,
            CRASH_BASE + 0x10_0800,
            8,
        ),
        ("end wraps", 0x1000 + 32 * 3 + 24, u64::MAX - 0xfff, 8),
        ("end misaligned", 0x1000 + 32 * 3 + 24, 0x1800, 8),
        ("overlap", 0x1000 + 32 * 3 + 16, CRASH_BASE, 8),
        ("buffer too big", 0x1000 + 32 * 3 + 8, 0x10_0000, 8),
        ("arch", 2, 40, 2),
        ("_pad", 1, 1, 1),
    ];
    let mut errnos = std::collections::BTreeSet::new();
    for abi in GuestAbi::ALL {
        for (what, at, v, width) in cases {
            let mut bytes = guest_memory(&request(KexecType::CRASH, 16, Order::Ascending), abi);
            bytes[at..at + width].copy_from_slice(&v.to_le_bytes()[..width]);
            let ret = agree(abi, &bytes, &host()).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_ne!(ret, 0, "{what} must be refused");
            errnos.insert(ret);
        }
    }
    let expected: std::collections::BTreeSet<i32> = [
        Error::GuestFault(xen_kexec_abi::GuestFault::new(
            0,
            0,
            xen_kexec_abi::Access::Read,
        )),
        Error::NoCrashRegion,
        Error::TooManySegments { nr: 17 },
    ]
    .iter()
    .map(|e| i32::try_from(e.to_hypercall_ret()).expect("an errno"))
    .collect();
    assert_eq!(errnos, expected, "EFAULT, EADDRNOTAVAIL and EINVAL all met");
}
