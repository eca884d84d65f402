// SPDX-License-Identifier: MIT
//! With the `serde` feature, every ABI structure and value serializes field-wise and
//! round-trips, under Xen's C field names (`type`, not `type_`). The `assert_impl_all!` lines fail to compile if a derive goes missing.
#![cfg(feature = "serde")]

use serde::{de::DeserializeOwned, Serialize};
use xen_kexec_abi::{
    x86_32, x86_64, ElfMachine, EntryMode, Errno, Error, GuestAbi, GuestHandle64, KexecCmd,
    KexecExecType, KexecRangeKind, KexecType, RangeField,
};

static_assertions::assert_impl_all!(x86_64::KexecExec: Serialize, DeserializeOwned);
static_assertions::assert_impl_all!(x86_64::KexecRange: Serialize, DeserializeOwned);
static_assertions::assert_impl_all!(x86_64::KexecSegment: Serialize, DeserializeOwned);
static_assertions::assert_impl_all!(x86_64::KexecLoad: Serialize, DeserializeOwned);
static_assertions::assert_impl_all!(x86_64::KexecUnload: Serialize, DeserializeOwned);
static_assertions::assert_impl_all!(x86_64::KexecStatus: Serialize, DeserializeOwned);
static_assertions::assert_impl_all!(x86_32::KexecRange: Serialize, DeserializeOwned);
static_assertions::assert_impl_all!(x86_32::KexecSegment: Serialize, DeserializeOwned);
static_assertions::assert_impl_all!(x86_32::KexecLoad: Serialize, DeserializeOwned);
static_assertions::assert_impl_all!(KexecCmd: Serialize, DeserializeOwned);
static_assertions::assert_impl_all!(Errno: Serialize, DeserializeOwned);
static_assertions::assert_impl_all!(Error: Serialize, DeserializeOwned);
static_assertions::assert_impl_all!(EntryMode: Serialize, DeserializeOwned);
static_assertions::assert_impl_all!(GuestAbi: Serialize, DeserializeOwned);

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + core::fmt::Debug>(value: &T) -> String {
    let json = serde_json::to_string(value).expect("serialize");
    let back: T = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(&back, value, "round trip of {json}");
    json
}

#[test]
fn load_serializes_field_wise_and_round_trips_in_both_layouts() {
    let wide = x86_64::KexecLoad {
        type_: KexecType::CRASH,
        _pad: 0,
        arch: ElfMachine::EM_X86_64,
        nr_segments: 2,
        segments: GuestHandle64::from_raw(0x1000),
        entry_maddr: 0x20_0000,
    };
    assert_eq!(
        round_trip(&wide),
        r#"{"type":1,"_pad":0,"arch":62,"nr_segments":2,"segments":4096,"entry_maddr":2097152}"#
    );
    round_trip(&x86_32::KexecLoad::from(wide));
}

#[test]
fn every_structure_round_trips() {
    round_trip(&x86_64::KexecExec {
        type_: KexecExecType::CRASH,
    });
    round_trip(&x86_64::KexecRange {
        range: KexecRangeKind::MA_CPU,
        nr: 3,
        size: 1 << 40,
        start: 7,
    });
    round_trip(&x86_32::KexecRange {
        range: KexecRangeKind(-5),
        nr: 3,
        size: 1,
        start: 2,
    });
    let seg = x86_64::KexecSegment {
        buf: GuestHandle64::from_raw(u64::MAX),
        buf_size: 1,
        dest_maddr: 2,
        dest_size: 3,
    };
    round_trip(&seg);
    round_trip(&x86_32::KexecSegment::from(seg));
    round_trip(&x86_64::KexecUnload {
        type_: KexecType(200),
    });
    round_trip(&x86_64::KexecStatus {
        type_: KexecType::DEFAULT,
    });
}

#[test]
fn values_and_errors_round_trip() {
    round_trip(&KexecCmd::LOAD);
    round_trip(&Errno::EOPNOTSUPP);
    round_trip(&Error::RangeTooWide {
        field: RangeField::Size,
        value: u64::MAX,
    });
    round_trip(&EntryMode::Protected32);
    round_trip(&GuestAbi::X86_32);
}
