//! Decoding of every `kexec_op` command for both guest widths: the typed operation, or
//! the exact error (unsupported commands, unknown types and range kinds, faults), and
//! get_range completion in the guest's layout.

mod decode_support;

use decode_support::*;
use xen_kexec_abi::decode::Operation;
use xen_kexec_abi::get_range::RangeQuery;
use xen_kexec_abi::guest_mem::GuestMemory;
use xen_kexec_abi::{
    x86_32, x86_64, Access, Errno, Error, GuestAbi, GuestFault, KexecCmd, KexecExecType,
    KexecRangeKind, KexecType, RangeField,
};
use zerocopy::{FromBytes, IntoBytes};

#[test]
fn removed_v1_and_unknown_commands_are_eopnotsupp_and_read_nothing() {
    for cmd in [1u32, 2, 7, 8, 0x100, u32::MAX] {
        for abi in GuestAbi::ALL {
            // No memory at all: a read would be EFAULT.
            let got = Guest::new().decode(abi, KexecCmd(cmd), ARG, &crash_host());
            assert_eq!(got, Err(Error::UnsupportedCmd { cmd: KexecCmd(cmd) }));
            assert_eq!(got.unwrap_err().errno(), Errno::EOPNOTSUPP);
        }
    }
    let v1 = Error::UnsupportedCmd {
        cmd: KexecCmd::LOAD_V1,
    };
    assert!(v1.to_string().contains("removed in Xen 4.23"), "{v1}");
}

#[test]
fn exec_decodes_its_int_type_for_both_widths() {
    for abi in GuestAbi::ALL {
        for t in [KexecType::DEFAULT, KexecType::CRASH] {
            let exec = x86_64::KexecExec {
                type_: KexecExecType(i32::from(t.0)),
            };
            let mut guest = Guest::new().with(ARG, exec.as_bytes());
            let op = guest.decode(abi, KexecCmd::KEXEC, ARG, &plain_host());
            assert_eq!(op, Ok(Operation::Exec { type_: t }));
            assert_eq!(op.unwrap().cmd(), KexecCmd::KEXEC);
        }
    }
}

#[test]
fn exec_with_unknown_type_is_einval() {
    for value in [2, -1, 256, i32::MIN, i32::MAX] {
        let exec = x86_64::KexecExec {
            type_: KexecExecType(value),
        };
        for abi in GuestAbi::ALL {
            let got = Guest::new().with(ARG, exec.as_bytes()).decode(
                abi,
                KexecCmd::KEXEC,
                ARG,
                &plain_host(),
            );
            assert_eq!(got, Err(Error::UnknownType { value }));
            assert_eq!(got.unwrap_err().errno(), Errno::EINVAL);
        }
    }
}

#[test]
fn unload_and_status_decode_their_type_and_refuse_unknown_ones() {
    for abi in GuestAbi::ALL {
        for (cmd, make) in [
            (
                KexecCmd::UNLOAD,
                (|t| Operation::Unload { type_: t }) as fn(KexecType) -> Operation,
            ),
            (KexecCmd::STATUS, |t| Operation::Status { type_: t }),
        ] {
            for t in [KexecType::DEFAULT, KexecType::CRASH] {
                let got = Guest::new()
                    .with(ARG, [t.0])
                    .decode(abi, cmd, ARG, &plain_host());
                assert_eq!(got, Ok(make(t)));
                assert_eq!(got.unwrap().cmd(), cmd);
            }
            for bad in [2u8, 0x7f, 0xff] {
                let got = Guest::new()
                    .with(ARG, [bad])
                    .decode(abi, cmd, ARG, &plain_host());
                assert_eq!(
                    got,
                    Err(Error::UnknownType {
                        value: i32::from(bad)
                    }),
                    "{cmd:?}"
                );
            }
        }
    }
}

#[test]
fn unreadable_argument_is_efault_naming_address_and_length() {
    let cases = [
        (KexecCmd::KEXEC, 4u64, 4u64),
        (KexecCmd::UNLOAD, 1, 1),
        (KexecCmd::STATUS, 1, 1),
        (KexecCmd::LOAD, 24, 24),
        (KexecCmd::GET_RANGE, 16, 24),
    ];
    for (cmd, len32, len64) in cases {
        for (abi, len) in [(GuestAbi::X86_32, len32), (GuestAbi::X86_64, len64)] {
            // One byte short of the argument is mapped.
            let short = usize::try_from(len - 1).unwrap();
            let mut guest = Guest::new().with(ARG, vec![0u8; short]);
            let got = guest.decode(abi, cmd, ARG, &crash_host());
            assert_eq!(
                got,
                Err(Error::GuestFault(GuestFault {
                    addr: ARG,
                    len,
                    access: Access::Read
                })),
                "{cmd:?} {abi:?}"
            );
            assert_eq!(got.unwrap_err().errno(), Errno::EFAULT);
        }
    }
}

#[test]
fn argument_at_the_top_of_the_address_space_faults_instead_of_wrapping() {
    // Memory at address 0 must not be read through a wrapped address.
    let mut guest = Guest::new().with(0, vec![0u8; 64]);
    for cmd in [KexecCmd::KEXEC, KexecCmd::LOAD, KexecCmd::GET_RANGE] {
        for abi in GuestAbi::ALL {
            let got = guest.decode(abi, cmd, u64::MAX - 2, &crash_host());
            assert_eq!(got.unwrap_err().errno(), Errno::EFAULT, "{cmd:?} {abi:?}");
        }
    }
}

#[test]
fn unreadable_segment_array_is_efault_naming_the_whole_array() {
    for abi in GuestAbi::ALL {
        // Three segments announced, only two mapped.
        let raw = header(
            KexecType::DEFAULT,
            xen_kexec_abi::ElfMachine::EM_X86_64,
            0,
            3,
        );
        let mut guest = load_guest(abi, &raw, &touching(2, 0x100_0000));
        let got = guest.decode(abi, KexecCmd::LOAD, ARG, &plain_host());
        assert_eq!(
            got,
            Err(Error::GuestFault(GuestFault {
                addr: SEGS,
                len: 96,
                access: Access::Read
            }))
        );
    }
}

fn range_guest(abi: GuestAbi, range: KexecRangeKind, nr: i32) -> Guest {
    let bytes = match abi {
        GuestAbi::X86_64 => x86_64::KexecRange {
            range,
            nr,
            size: 0,
            start: 0,
        }
        .as_bytes()
        .to_vec(),
        GuestAbi::X86_32 => x86_32::KexecRange {
            range,
            nr,
            size: 0,
            start: 0,
        }
        .as_bytes()
        .to_vec(),
    };
    Guest::new().with(ARG, bytes)
}

fn query(guest: &mut Guest, abi: GuestAbi) -> RangeQuery {
    match guest.decode(abi, KexecCmd::GET_RANGE, ARG, &plain_host()) {
        Ok(Operation::GetRange(q)) => q,
        other => panic!("{other:?}"),
    }
}

#[test]
fn get_range_decodes_kind_and_nr_in_each_layout() {
    for abi in GuestAbi::ALL {
        for (_, kind) in <KexecRangeKind as xen_kexec_abi::OpenEnum>::KNOWN {
            let q = query(&mut range_guest(abi, *kind, 5), abi);
            assert_eq!(
                q,
                RangeQuery {
                    abi,
                    arg: ARG,
                    range: *kind,
                    nr: 5
                }
            );
        }
    }
}

#[test]
fn get_range_with_unknown_kind_is_einval() {
    for abi in GuestAbi::ALL {
        for kind in [7, -1, i32::MAX] {
            let got = range_guest(abi, KexecRangeKind(kind), 0).decode(
                abi,
                KexecCmd::GET_RANGE,
                ARG,
                &plain_host(),
            );
            assert_eq!(
                got,
                Err(Error::UnknownRangeKind {
                    range: KexecRangeKind(kind)
                })
            );
            assert_eq!(got.unwrap_err().errno(), Errno::EINVAL);
        }
    }
}

#[test]
fn get_range_answer_is_written_in_the_64_bit_layout() {
    let mut guest = range_guest(GuestAbi::X86_64, KexecRangeKind::MA_CPU, 3);
    let q = query(&mut guest, GuestAbi::X86_64);
    guest
        .with_memory(|mem| q.complete(mem, 0x1_0000_0000, 0xffff_ffff_0000_0000))
        .unwrap();
    let back = x86_64::KexecRange::read_from_bytes(&guest.regions[0].1).unwrap();
    assert_eq!(
        back,
        x86_64::KexecRange {
            range: KexecRangeKind::MA_CPU,
            nr: 3,
            size: 0x1_0000_0000,
            start: 0xffff_ffff_0000_0000
        }
    );
}

#[test]
fn get_range_answer_is_written_in_the_32_bit_layout_up_to_4_gib() {
    let mut guest = range_guest(GuestAbi::X86_32, KexecRangeKind::MA_CRASH, 0);
    let q = query(&mut guest, GuestAbi::X86_32);
    guest
        .with_memory(|mem| q.complete(mem, u64::from(u32::MAX), 0x4000_0000))
        .unwrap();
    assert_eq!(
        guest.regions[0].1.len(),
        16,
        "only the 16-byte layout is touched"
    );
    let back = x86_32::KexecRange::read_from_bytes(&guest.regions[0].1).unwrap();
    assert_eq!(
        back,
        x86_32::KexecRange {
            range: KexecRangeKind::MA_CRASH,
            nr: 0,
            size: u32::MAX,
            start: 0x4000_0000
        }
    );
}

#[test]
fn get_range_answer_too_wide_for_a_32_bit_guest_is_erange_and_writes_nothing() {
    for (size, start, want) in [
        (
            1u64 << 32,
            0u64,
            Error::RangeTooWide {
                field: RangeField::Size,
                value: 1 << 32,
            },
        ),
        (
            0x1000,
            0x1_0000_0000,
            Error::RangeTooWide {
                field: RangeField::Start,
                value: 0x1_0000_0000,
            },
        ),
        (
            u64::MAX,
            u64::MAX,
            Error::RangeTooWide {
                field: RangeField::Size,
                value: u64::MAX,
            },
        ),
    ] {
        let mut guest = range_guest(GuestAbi::X86_32, KexecRangeKind::MA_XEN, 0);
        let before = guest.regions[0].1.clone();
        let q = query(&mut guest, GuestAbi::X86_32);
        let got = guest.with_memory(|mem| q.complete(mem, size, start));
        assert_eq!(got, Err(want));
        assert_eq!(want.errno(), Errno::ERANGE);
        assert_eq!(guest.regions[0].1, before, "nothing written");
    }
}

#[test]
fn get_range_answer_to_unwritable_memory_is_efault() {
    let bytes = x86_64::KexecRange {
        range: KexecRangeKind::MA_XEN,
        nr: 0,
        size: 0,
        start: 0,
    };
    let mut regions = [xen_kexec_abi::guest_mem::GuestRegion {
        base: ARG,
        bytes: bytes.as_bytes(),
    }];
    let mut mem = xen_kexec_abi::guest_mem::SparseMemory::new(&mut regions).unwrap();
    let q = xen_kexec_abi::decode::get_range(GuestAbi::X86_64, &mut mem, ARG).unwrap();
    assert_eq!(
        q.complete(&mut mem, 1, 2),
        Err(Error::GuestFault(GuestFault {
            addr: ARG,
            len: 24,
            access: Access::Write
        }))
    );
    let mut probe = [0u8; 1];
    assert!(mem.read(ARG, &mut probe).is_ok());
}

#[test]
fn error_stays_small_and_copy() {
    // Four words at most: a fault's address and length, its direction, the tag.
    assert!(
        size_of::<Error>() <= 32,
        "Error is {} bytes",
        size_of::<Error>()
    );
    static_assertions::assert_impl_all!(Error: Copy, Send, Sync, core::error::Error);
}

#[test]
fn every_error_message_names_its_rule_and_segment() {
    use xen_kexec_abi::{DestBound, ElfMachine};
    let cases: [(Error, &[&str]); 14] = [
        (
            Error::GuestFault(GuestFault {
                addr: 0x1000,
                len: 24,
                access: Access::Read,
            }),
            &["read", "24 bytes", "0x1000"],
        ),
        (
            Error::GuestFault(GuestFault {
                addr: 0x2000,
                len: 1,
                access: Access::Write,
            }),
            &["write", "0x2000"],
        ),
        (Error::UnsupportedCmd { cmd: KexecCmd(9) }, &["KexecCmd(9)"]),
        (
            Error::UnknownRangeKind {
                range: KexecRangeKind(9),
            },
            &["KexecRangeKind(9)"],
        ),
        (Error::ReservedNotZero { value: 3 }, &["_pad", "0x3"]),
        (
            Error::TooManySegments { nr: 17 },
            &["nr_segments 17", "KEXEC_SEGMENT_MAX (16)"],
        ),
        (
            Error::SegmentWraps {
                segment: 4,
                dest_maddr: 1,
                dest_size: 2,
            },
            &["segment 4", "wraps"],
        ),
        (
            Error::SegmentMisaligned {
                segment: 5,
                bound: DestBound::End,
                addr: 0x1001,
            },
            &[
                "segment 5",
                "dest_maddr + dest_size",
                "0x1001",
                "page aligned",
            ],
        ),
        (
            Error::BufferExceedsDest {
                segment: 6,
                buf_size: 2,
                dest_size: 1,
            },
            &["segment 6", "buf_size", "dest_size"],
        ),
        (
            Error::SegmentsOverlap {
                first: 1,
                second: 7,
            },
            &["segments 1 and 7", "overlap"],
        ),
        (Error::NoCrashRegion, &["crash region"]),
        (
            Error::CrashSegmentOutside {
                segment: 8,
                dest_maddr: 0x5000,
                dest_size: 0x1000,
            },
            &["segment 8", "0x5000", "crash region"],
        ),
        (
            Error::CrashEntryOutside { entry: 0x9000 },
            &["entry_maddr", "0x9000", "crash region"],
        ),
        (
            Error::UnsupportedArch {
                arch: ElfMachine(2),
            },
            &["ElfMachine(2)"],
        ),
    ];
    for (err, words) in cases {
        let text = err.to_string();
        for w in words {
            assert!(text.contains(w), "{err:?} displays {text:?}, missing {w:?}");
        }
    }
}

#[test]
fn encode_errors_name_the_handle_and_keep_the_rule_apart() {
    use xen_kexec_abi::encode::{EncodeError, HandleField};
    let wide = EncodeError::HandleTooWide {
        handle: HandleField::Buf(9),
        value: 1 << 32,
    };
    let text = wide.to_string();
    for w in ["segment 9", "buf", "0x100000000", "32-bit"] {
        assert!(text.contains(w), "{text:?} missing {w:?}");
    }
    assert_eq!(wide.errno(), Errno::ERANGE);
    assert_eq!(wide.segment(), Some(9));
    let refused = EncodeError::from(Error::SegmentsOverlap {
        first: 0,
        second: 2,
    });
    assert_eq!(refused.errno(), Errno::EINVAL);
    assert_eq!(refused.segment(), Some(2));
    assert_eq!(
        refused.to_string(),
        "segments 0 and 2 have overlapping destinations"
    );
}
