// SPDX-License-Identifier: MIT
//! A hostile guest: memory that changes every byte right after it is read. Decoding
//! still gives what the guest wrote before the hypercall, and every guest byte is read
//! at most once (the argument and the whole segment array exactly once): no double
//! fetch can make validation and use disagree.

mod decode_support;

use decode_support::*;
use xen_kexec_abi::decode::{decode, Operation};
use xen_kexec_abi::guest_mem::GuestMemory;
use xen_kexec_abi::layout;
use xen_kexec_abi::{
    x86_32, x86_64, Access, ElfMachine, Error, GuestAbi, GuestFault, KexecCmd, KexecExecType,
    KexecRangeKind, KexecType,
};
use zerocopy::IntoBytes;

/// One region of guest memory that flips every byte it hands out, counting reads per
/// byte.
struct HostileMemory {
    base: u64,
    bytes: Vec<u8>,
    reads: Vec<u32>,
    read_calls: usize,
}

impl HostileMemory {
    fn new(base: u64, bytes: Vec<u8>) -> HostileMemory {
        let reads = vec![0; bytes.len()];
        HostileMemory {
            base,
            bytes,
            reads,
            read_calls: 0,
        }
    }

    fn span(&self, addr: u64, len: usize) -> Option<std::ops::Range<usize>> {
        let start = usize::try_from(addr.checked_sub(self.base)?).ok()?;
        let end = start.checked_add(len)?;
        (end <= self.bytes.len()).then_some(start..end)
    }

    /// How many times each byte of `[addr, addr + len)` was read.
    fn counts(&self, addr: u64, len: usize) -> &[u32] {
        &self.reads[self.span(addr, len).unwrap()]
    }
}

impl GuestMemory for HostileMemory {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), GuestFault> {
        let span = self
            .span(addr, buf.len())
            .ok_or_else(|| GuestFault::new(addr, buf.len(), Access::Read))?;
        self.read_calls += 1;
        buf.copy_from_slice(&self.bytes[span.clone()]);
        for i in span {
            self.reads[i] += 1;
            // The guest's other vCPU rewrites the byte as soon as Xen has copied it.
            self.bytes[i] ^= 0xa5;
        }
        Ok(())
    }

    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), GuestFault> {
        let span = self
            .span(addr, bytes.len())
            .ok_or_else(|| GuestFault::new(addr, bytes.len(), Access::Write))?;
        self.bytes[span].copy_from_slice(bytes);
        Ok(())
    }
}

/// Guest memory from ARG: the argument at ARG, segments at SEGS.
fn hostile(arg: &[u8], segs: &[u8]) -> HostileMemory {
    let mut bytes = vec![0u8; 0x2000];
    bytes[..arg.len()].copy_from_slice(arg);
    let off = usize::try_from(SEGS - ARG).unwrap();
    bytes[off..off + segs.len()].copy_from_slice(segs);
    HostileMemory::new(ARG, bytes)
}

#[test]
fn load_with_sixteen_segments_reads_each_byte_once_and_uses_the_first_copy() {
    for abi in GuestAbi::ALL {
        for (type_, host) in [
            (KexecType::DEFAULT, plain_host()),
            (KexecType::CRASH, crash_host()),
        ] {
            let segs = touching(16, CRASH_START);
            let raw = header(type_, ElfMachine::EM_X86_64, CRASH_START, 16);
            let want =
                decode_load(abi, &raw, &segs, &host).expect("a stable guest's load is valid");

            let mut mem = hostile(&load_bytes(abi, &raw), &segment_bytes(abi, &segs));
            let got = decode(abi, KexecCmd::LOAD, ARG, &mut mem, &host);
            assert_eq!(got, Ok(Operation::Load(want)), "{abi:?} {type_:?}");
            assert_eq!(
                mem.read_calls, 2,
                "one copy of the load, one of the segment array"
            );
            assert!(
                mem.counts(ARG, layout::LOAD.size(abi.arch()))
                    .iter()
                    .all(|&n| n == 1),
                "load struct read once"
            );
            assert!(
                mem.counts(SEGS, 16 * layout::SEGMENT.size(abi.arch()))
                    .iter()
                    .all(|&n| n == 1),
                "segment array read once"
            );
            assert!(mem.reads.iter().all(|&n| n <= 1), "no byte read twice");
        }
    }
}

#[test]
fn small_commands_read_their_argument_once() {
    for abi in GuestAbi::ALL {
        let cases: [(KexecCmd, Vec<u8>, Operation); 3] = [
            (
                KexecCmd::KEXEC,
                x86_64::KexecExec {
                    type_: KexecExecType::CRASH,
                }
                .as_bytes()
                .to_vec(),
                Operation::Exec {
                    type_: KexecType::CRASH,
                },
            ),
            (
                KexecCmd::UNLOAD,
                vec![0],
                Operation::Unload {
                    type_: KexecType::DEFAULT,
                },
            ),
            (
                KexecCmd::STATUS,
                vec![1],
                Operation::Status {
                    type_: KexecType::CRASH,
                },
            ),
        ];
        for (cmd, arg, want) in cases {
            let mut mem = hostile(&arg, &[]);
            assert_eq!(decode(abi, cmd, ARG, &mut mem, &plain_host()), Ok(want));
            assert_eq!(mem.read_calls, 1);
            assert!(mem.counts(ARG, arg.len()).iter().all(|&n| n == 1));
            assert!(mem.reads.iter().all(|&n| n <= 1));
        }
    }
}

#[test]
fn get_range_reads_once_and_answers_with_the_first_copy() {
    for abi in GuestAbi::ALL {
        let (arg, len) = match abi {
            GuestAbi::X86_64 => (
                x86_64::KexecRange {
                    range: KexecRangeKind::MA_CPU,
                    nr: 2,
                    size: 0,
                    start: 0,
                }
                .as_bytes()
                .to_vec(),
                layout::RANGE.size(abi.arch()),
            ),
            GuestAbi::X86_32 => (
                x86_32::KexecRange {
                    range: KexecRangeKind::MA_CPU,
                    nr: 2,
                    size: 0,
                    start: 0,
                }
                .as_bytes()
                .to_vec(),
                layout::RANGE.size(abi.arch()),
            ),
        };
        let mut mem = hostile(&arg, &[]);
        let Ok(Operation::GetRange(q)) =
            decode(abi, KexecCmd::GET_RANGE, ARG, &mut mem, &plain_host())
        else {
            panic!("get_range decodes");
        };
        assert_eq!((q.range, q.nr), (KexecRangeKind::MA_CPU, 2));
        assert_eq!(mem.read_calls, 1);
        assert!(mem.counts(ARG, len).iter().all(|&n| n == 1));
        assert!(mem.reads.iter().all(|&n| n <= 1));
        // The answer echoes the range and nr first read, not the rewritten bytes.
        q.complete(&mut mem, 0x1000, 0x2000).unwrap();
        let mut echo = [0u8; 8];
        echo.copy_from_slice(&mem.bytes[..8]);
        assert_eq!(echo, [2, 0, 0, 0, 2, 0, 0, 0]);
    }
}

#[test]
fn refused_load_still_reads_nothing_twice() {
    for abi in GuestAbi::ALL {
        let mut segs = touching(4, 0x100_0000);
        segs[3].dest_maddr = 0x100_0000; // overlaps segment 0
        let raw = header(KexecType::DEFAULT, ElfMachine::EM_386, 0, 4);
        let mut mem = hostile(&load_bytes(abi, &raw), &segment_bytes(abi, &segs));
        let got = decode(abi, KexecCmd::LOAD, ARG, &mut mem, &plain_host());
        assert_eq!(
            got,
            Err(Error::SegmentsOverlap {
                first: 0,
                second: 3
            })
        );
        assert!(mem.reads.iter().all(|&n| n <= 1));
    }
}
