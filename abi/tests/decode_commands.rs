// SPDX-License-Identifier: MIT
//! What the case catalogue (`fixtures/cases.toml`, run through the decoder by
//! `compat-tests/tests/cases.rs`) cannot express: a get_range answer written to read-only
//! guest memory, the command an operation names, the size of the error type, and the words
//! of every error message (the catalogue compares errors by value, and the CLI test renders
//! the expected text with the same `Display`).

mod decode_support;

use decode_support::*;
use xen_kexec_abi::decode::Operation;
use xen_kexec_abi::guest_mem::GuestMemory;
use xen_kexec_abi::layout::{self, Arch};
use xen_kexec_abi::{
    x86_64, Access, Errno, Error, GuestAbi, GuestFault, KexecCmd, KexecExecType, KexecRangeKind,
    KexecType,
};
use zerocopy::IntoBytes;

#[test]
fn each_decoded_operation_names_the_command_it_came_from() {
    let exec = x86_64::KexecExec {
        type_: KexecExecType(1),
    };
    let small: [(KexecCmd, Vec<u8>); 4] = [
        (KexecCmd::KEXEC, exec.as_bytes().to_vec()),
        (KexecCmd::UNLOAD, vec![0]),
        (KexecCmd::STATUS, vec![1]),
        (
            KexecCmd::GET_RANGE,
            x86_64::KexecRange {
                range: KexecRangeKind::MA_CPU,
                nr: 1,
                size: 0,
                start: 0,
            }
            .as_bytes()
            .to_vec(),
        ),
    ];
    for (cmd, bytes) in small {
        let op = Guest::new()
            .with(ARG, bytes)
            .decode(GuestAbi::X86_64, cmd, ARG, &plain_host());
        assert_eq!(op.map(|op| op.cmd()), Ok(cmd));
    }
    let raw = header(
        KexecType::DEFAULT,
        xen_kexec_abi::ElfMachine::EM_X86_64,
        0,
        1,
    );
    let op = load_guest(GuestAbi::X86_32, &raw, &touching(1, 0x100_0000)).decode(
        GuestAbi::X86_32,
        KexecCmd::LOAD,
        ARG,
        &plain_host(),
    );
    assert!(matches!(op, Ok(Operation::Load(_))), "{op:?}");
    assert_eq!(op.map(|op| op.cmd()), Ok(KexecCmd::LOAD));
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
            len: u64::try_from(layout::RANGE.size(Arch::X86_64)).unwrap(),
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
    let cases: [(Error, &[&str]); 15] = [
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
            Error::UnsupportedCmd {
                cmd: KexecCmd::LOAD_V1,
            },
            &["KEXEC_CMD_kexec_load_v1", "removed in Xen 4.23"],
        ),
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
