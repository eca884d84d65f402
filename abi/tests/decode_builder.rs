// SPDX-License-Identifier: MIT
//! The toolstack side: the builder validates with the decoder's rules, encodes each
//! command's argument in the chosen guest width's layout, and refuses what a 32-bit
//! guest's handle cannot hold; with `serde`, requests and decoded operations serialize.

mod decode_support;

use decode_support::*;
use xen_kexec_abi::decode::Operation;
use xen_kexec_abi::encode;
use xen_kexec_abi::encode::{EncodeError, HandleField};
use xen_kexec_abi::load::{LoadRequest, Segment, SegmentList};
use xen_kexec_abi::{
    x86_32, x86_64, ElfMachine, Errno, Error, GuestAbi, KexecCmd, KexecRangeKind, KexecType,
};
use zerocopy::FromBytes;

fn one_segment(type_: KexecType) -> LoadRequest {
    let mut req = LoadRequest::new(type_, ElfMachine::EM_X86_64, CRASH_START);
    req.push_segment(Segment {
        buf: 0x7000_0000,
        buf_size: 0x10,
        dest_maddr: CRASH_START,
        dest_size: PAGE,
    })
    .unwrap();
    req
}

#[test]
fn small_commands_encode_to_their_c_layouts_and_decode_back() {
    for abi in GuestAbi::ALL {
        for t in [KexecType::DEFAULT, KexecType::CRASH] {
            let cases = [
                (
                    KexecCmd::KEXEC,
                    encode::exec(t),
                    Operation::Exec { type_: t },
                ),
                (
                    KexecCmd::UNLOAD,
                    encode::unload(t),
                    Operation::Unload { type_: t },
                ),
                (
                    KexecCmd::STATUS,
                    encode::status(t),
                    Operation::Status { type_: t },
                ),
            ];
            for (cmd, bytes, op) in cases {
                let mut guest = Guest::new().with(ARG, bytes.as_bytes());
                assert_eq!(guest.decode(abi, cmd, ARG, &plain_host()), Ok(op));
            }
        }
    }
    assert_eq!(encode::exec(KexecType::CRASH).as_bytes(), &[1, 0, 0, 0]);
    assert_eq!(encode::unload(KexecType::CRASH).as_bytes(), &[1]);
}

#[test]
fn get_range_encodes_in_each_width_and_decodes_back() {
    let b32 = encode::get_range(GuestAbi::X86_32, KexecRangeKind::MA_CPU, 7);
    let r32 = x86_32::KexecRange::read_from_bytes(b32.as_bytes()).unwrap();
    assert_eq!(
        (r32.range, r32.nr, r32.size, r32.start),
        (KexecRangeKind::MA_CPU, 7, 0, 0)
    );
    let b64 = encode::get_range(GuestAbi::X86_64, KexecRangeKind::MA_CPU, 7);
    let r64 = x86_64::KexecRange::read_from_bytes(b64.as_bytes()).unwrap();
    assert_eq!(
        (r64.range, r64.nr, r64.size, r64.start),
        (KexecRangeKind::MA_CPU, 7, 0, 0)
    );
    for (abi, bytes) in [(GuestAbi::X86_32, b32), (GuestAbi::X86_64, b64)] {
        let got = Guest::new().with(ARG, bytes.as_bytes()).decode(
            abi,
            KexecCmd::GET_RANGE,
            ARG,
            &plain_host(),
        );
        let Ok(Operation::GetRange(q)) = got else {
            panic!("{got:?}")
        };
        assert_eq!((q.abi, q.range, q.nr), (abi, KexecRangeKind::MA_CPU, 7));
    }
}

#[test]
fn encoded_load_has_zero_pad_and_32_bit_handles_with_zero_upper_bytes() {
    let load = one_segment(KexecType::CRASH)
        .validate(&crash_host())
        .unwrap();
    let enc32 = load.encode(GuestAbi::X86_32, SEGS).unwrap();
    let l32 = x86_32::KexecLoad::read_from_bytes(enc32.load_bytes()).unwrap();
    assert_eq!(l32._pad, 0);
    assert_eq!({ l32.segments }.raw(), SEGS, "upper 4 bytes zero");
    let s32 = x86_32::KexecSegment::read_from_bytes(enc32.segment_bytes()).unwrap();
    assert_eq!({ s32.buf }.raw(), 0x7000_0000);
    assert_eq!(enc32.segments_addr(), SEGS);
    assert_eq!(enc32.nr_segments(), 1);

    // The two widths' bytes are identical when every handle fits in 32 bits.
    let enc64 = load.encode(GuestAbi::X86_64, SEGS).unwrap();
    assert_eq!(enc64.load_bytes(), enc32.load_bytes());
    assert_eq!(enc64.segment_bytes(), enc32.segment_bytes());
}

#[test]
fn addresses_above_4_gib_cannot_be_encoded_for_a_32_bit_guest() {
    let load = one_segment(KexecType::DEFAULT)
        .validate(&plain_host())
        .unwrap();
    let err = load.encode(GuestAbi::X86_32, 1 << 32).unwrap_err();
    assert_eq!(
        err,
        EncodeError::HandleTooWide {
            handle: HandleField::Segments,
            value: 1 << 32
        }
    );
    assert_eq!(err.errno(), Errno::ERANGE);
    assert!(load.encode(GuestAbi::X86_64, 1 << 32).is_ok());

    let mut req = one_segment(KexecType::DEFAULT);
    req.push_segment(Segment {
        buf: 0x1_0000_0000,
        buf_size: 0,
        dest_maddr: 0x100_0000,
        dest_size: PAGE,
    })
    .unwrap();
    let load = req.validate(&plain_host()).unwrap();
    assert_eq!(
        load.encode(GuestAbi::X86_32, SEGS),
        Err(EncodeError::HandleTooWide {
            handle: HandleField::Buf(1),
            value: 0x1_0000_0000
        })
    );
    assert!(load.encode(GuestAbi::X86_64, SEGS).is_ok());
}

#[test]
fn builder_holds_sixteen_segments_and_refuses_the_seventeenth() {
    let mut req = LoadRequest::new(KexecType::DEFAULT, ElfMachine::EM_386, 0);
    for i in 0..16 {
        req.push_segment(Segment {
            buf: 0,
            buf_size: 0,
            dest_maddr: i * PAGE,
            dest_size: PAGE,
        })
        .unwrap();
    }
    let extra = Segment {
        buf: 0,
        buf_size: 0,
        dest_maddr: 16 * PAGE,
        dest_size: PAGE,
    };
    assert_eq!(
        req.push_segment(extra).map(|_| ()),
        Err(Error::TooManySegments { nr: 17 })
    );
    assert_eq!(req.segments.len(), 16);
    assert!(req.validate(&plain_host()).is_ok());
    let seventeen = [extra; 17];
    assert_eq!(
        SegmentList::from_slice(&seventeen).unwrap_err().errno(),
        Errno::EINVAL
    );
}

#[test]
fn builder_refuses_with_the_decoders_errors() {
    let host = crash_host();
    let mut req = one_segment(KexecType::CRASH);
    req.entry_maddr = CRASH_START + CRASH_SIZE; // one past the end: Xen would accept
    assert_eq!(
        req.validate(&host),
        Err(Error::CrashEntryOutside {
            entry: CRASH_START + CRASH_SIZE
        })
    );
    let mut req = one_segment(KexecType(5));
    assert_eq!(req.validate(&host), Err(Error::UnknownType { value: 5 }));
    req.type_ = KexecType::DEFAULT;
    req.arch = ElfMachine(40);
    assert_eq!(
        req.validate(&host),
        Err(Error::UnsupportedArch {
            arch: ElfMachine(40)
        })
    );
    req.arch = ElfMachine::EM_386;
    req.push_segment(Segment {
        buf: 1,
        buf_size: 0,
        dest_maddr: CRASH_START,
        dest_size: PAGE,
    })
    .unwrap();
    assert_eq!(
        req.validate(&host),
        Err(Error::SegmentsOverlap {
            first: 0,
            second: 1
        })
    );
}

#[cfg(feature = "serde")]
mod serde_forms {
    use super::*;
    use serde::{de::DeserializeOwned, Serialize};
    use xen_kexec_abi::get_range::RangeQuery;
    use xen_kexec_abi::load::ValidatedLoad;

    static_assertions::assert_impl_all!(LoadRequest: Serialize, DeserializeOwned);
    static_assertions::assert_impl_all!(Segment: Serialize, DeserializeOwned);
    static_assertions::assert_impl_all!(SegmentList: Serialize, DeserializeOwned);
    static_assertions::assert_impl_all!(RangeQuery: Serialize, DeserializeOwned);
    static_assertions::assert_impl_all!(ValidatedLoad: Serialize);
    static_assertions::assert_impl_all!(Operation: Serialize);

    #[test]
    fn load_request_round_trips_through_json() {
        let req = one_segment(KexecType::CRASH);
        let json = serde_json::to_string(&req).unwrap();
        assert!(
            json.starts_with(r#"{"type":1,"arch":62,"entry_maddr":1073741824,"segments":[{"buf":"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<LoadRequest>(&json).unwrap(), req);
    }

    #[test]
    fn more_than_sixteen_segments_do_not_deserialize() {
        let seg = r#"{"buf":0,"buf_size":0,"dest_maddr":0,"dest_size":0}"#;
        let sixteen = format!("[{}]", vec![seg; 16].join(","));
        assert_eq!(
            serde_json::from_str::<SegmentList>(&sixteen).unwrap().len(),
            16
        );
        let seventeen = format!("[{}]", vec![seg; 17].join(","));
        let err = serde_json::from_str::<SegmentList>(&seventeen).unwrap_err();
        assert!(err.to_string().contains("at most 16"), "{err}");
    }

    #[test]
    fn decoded_operations_serialize_under_their_command_names() {
        let load = one_segment(KexecType::CRASH)
            .validate(&crash_host())
            .unwrap();
        let json = serde_json::to_value(Operation::Load(load)).unwrap();
        assert_eq!(json["load"]["type"], 1);
        assert_eq!(json["load"]["entry_mode"], "Long64");
        assert_eq!(json["load"]["segments"][0]["dest_size"], 4096);
        let json = serde_json::to_value(Operation::Status {
            type_: KexecType::CRASH,
        })
        .unwrap();
        assert_eq!(json, serde_json::json!({ "status": { "type": 1 } }));
    }
}

/// The builder follows the host's rule profile: under `RuleProfile::Xen` a request of
/// `KEXEC_SEGMENT_MAX` segments is refused, as Xen refuses it (and the decoder under that
/// profile), while 15 pass; the strict profile, the default, takes all 16.
#[test]
fn the_builder_refuses_16_segments_under_the_xen_profile_only() {
    use xen_kexec_abi::host::RuleProfile;
    let build = |n: u64| {
        let mut req = LoadRequest::new(KexecType::DEFAULT, ElfMachine::EM_X86_64, 0x100_0000);
        for i in 0..n {
            req.push_segment(Segment {
                buf: 0,
                buf_size: 0,
                dest_maddr: 0x100_0000 + i * PAGE,
                dest_size: PAGE,
            })
            .unwrap();
        }
        req
    };
    let strict = plain_host();
    let xen = plain_host().with_profile(RuleProfile::Xen);
    assert_eq!(strict.profile, RuleProfile::Strict);
    assert!(build(16).validate(&strict).is_ok());
    assert!(build(15).validate(&xen).is_ok());
    assert_eq!(
        build(16).validate(&xen).err(),
        Some(Error::TooManySegments { nr: 16 })
    );
}
