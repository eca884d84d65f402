// SPDX-License-Identifier: MIT
//! No decoding path allocates: a counting global allocator watches every decode (all
//! commands, both widths, accepted and refused), get_range completion, the builder,
//! and the errors' `Display`, and finds zero allocations. The abi crate is `no_std`
//! without `alloc`, so this holds by construction; the test keeps it so if someone adds
//! an `alloc` dependency behind a feature.
// A `GlobalAlloc` impl is `unsafe`: this file is the one place the workspace allows it.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Write as _;

use proptest::prelude::*;
use xen_kexec_abi::decode::{decode, Operation};
use xen_kexec_abi::encode;
use xen_kexec_abi::guest_mem::{GuestRegion, SparseMemory};
use xen_kexec_abi::host::{HostDescription, MachineRange};
use xen_kexec_abi::load::{LoadRequest, Segment};
use xen_kexec_abi::{
    x86_64, ElfMachine, Error, GuestAbi, GuestHandle64, KexecCmd, KexecRangeKind, KexecType,
};
use zerocopy::IntoBytes;

/// Counts the allocations made by the current thread while counting is on, and
/// otherwise is `System`.
struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: during thread teardown the thread locals may be gone; such
    // allocations are not ours to count. Const-initialised thread locals never allocate.
    let on = COUNTING.try_with(Cell::get).unwrap_or(false);
    if on {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: every method passes its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the only addition is a counter in a const-initialised thread
// local, which neither allocates nor touches the memory handed out.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: the caller's contract for `alloc` is `System.alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: `ptr` and `layout` came from this allocator, i.e. from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` and `layout` came from this allocator, i.e. from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Runs `f` and returns its result with the number of allocations it made.
fn allocations<R>(f: impl FnOnce() -> R) -> (R, usize) {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|on| on.set(true));
    let result = f();
    COUNTING.with(|on| on.set(false));
    (result, ALLOCATIONS.with(Cell::get))
}

const ARG: u64 = 0x10_0000;
const SEGS: u64 = 0x10_1000;
const PAGE: u64 = 0x1000;
const CRASH: u64 = 0x4000_0000;

fn host() -> HostDescription {
    HostDescription::x86(MachineRange::new(CRASH, 0x1000_0000))
}

/// Decodes `cmd` at `ARG` from a guest holding `arg` at ARG and `segs` at SEGS, counting
/// the allocations of the decode (and of a get_range completion) alone.
fn decode_counted(
    abi: GuestAbi,
    cmd: KexecCmd,
    arg: &[u8],
    segs: &[u8],
) -> (Result<Operation, Error>, usize) {
    let mut arg = arg.to_vec();
    let mut segs = segs.to_vec();
    let mut regions = [
        GuestRegion {
            base: ARG,
            bytes: &mut arg[..],
        },
        GuestRegion {
            base: SEGS,
            bytes: &mut segs[..],
        },
    ];
    let mut mem = SparseMemory::new(&mut regions).expect("disjoint");
    let host = host();
    allocations(|| {
        let op = decode(abi, cmd, ARG, &mut mem, &host);
        if let Ok(Operation::GetRange(q)) = op {
            let _ = q.complete(&mut mem, 0x1000, 0x2000);
            let _ = q.complete(&mut mem, 0x1000, 1 << 40);
        }
        op
    })
}

fn request(type_: KexecType, nr: u64) -> LoadRequest {
    let mut req = LoadRequest::new(type_, ElfMachine::EM_X86_64, CRASH);
    for i in 0..nr {
        req.push_segment(Segment {
            buf: 0x7000_0000 + i * PAGE,
            buf_size: PAGE,
            dest_maddr: CRASH + i * PAGE,
            dest_size: PAGE,
        })
        .expect("at most 16");
    }
    req
}

#[test]
fn the_counter_sees_an_allocation() {
    let (_, n) = allocations(|| std::hint::black_box(vec![1u8; 64]));
    assert!(n >= 1, "the counting allocator must notice a Vec");
}

#[test]
fn decoding_every_command_in_both_widths_does_not_allocate() {
    for abi in GuestAbi::ALL {
        let mut ops = 0;
        let small = [
            (KexecCmd::KEXEC, encode::exec(KexecType::CRASH)),
            (KexecCmd::KEXEC, encode::exec(KexecType(9))),
            (KexecCmd::UNLOAD, encode::unload(KexecType::DEFAULT)),
            (KexecCmd::STATUS, encode::status(KexecType(3))),
            (
                KexecCmd::GET_RANGE,
                encode::get_range(abi, KexecRangeKind::MA_CRASH, 0),
            ),
            (
                KexecCmd::GET_RANGE,
                encode::get_range(abi, KexecRangeKind(40), 0),
            ),
            (KexecCmd::LOAD_V1, encode::exec(KexecType::CRASH)),
            (KexecCmd(77), encode::exec(KexecType::CRASH)),
        ];
        for (cmd, arg) in small {
            let (op, n) = decode_counted(abi, cmd, arg.as_bytes(), &[]);
            assert_eq!(n, 0, "{abi:?} {cmd:?} -> {op:?} allocated");
            ops += usize::from(op.is_ok());
        }
        assert_eq!(ops, 3, "exec, unload and get_range succeed");

        for type_ in [KexecType::DEFAULT, KexecType::CRASH] {
            for nr in [0, 1, 4, 16] {
                let load = request(type_, nr).validate(&host()).expect("valid");
                let (enc, n) = allocations(|| load.encode(abi, SEGS));
                assert_eq!(n, 0, "encoding allocated");
                let enc = enc.expect("encodes");
                let (op, n) =
                    decode_counted(abi, KexecCmd::LOAD, enc.load_bytes(), enc.segment_bytes());
                assert_eq!(op, Ok(Operation::Load(load)));
                assert_eq!(n, 0, "{abi:?} load of {nr} allocated");
            }
            // Refused loads: too many segments, an overlap, a fault.
            let mut load = x86_64::KexecLoad {
                type_,
                _pad: 0,
                arch: ElfMachine::EM_X86_64,
                nr_segments: 17,
                segments: GuestHandle64::from_raw(SEGS),
                entry_maddr: CRASH,
            };
            let (op, n) = decode_counted(abi, KexecCmd::LOAD, load.as_bytes(), &[]);
            assert!(
                matches!(op, Err(Error::TooManySegments { nr: 17 })),
                "{op:?}"
            );
            assert_eq!(n, 0);
            load.nr_segments = 2;
            let seg = x86_64::KexecSegment {
                buf: GuestHandle64::from_raw(0x7000_0000),
                buf_size: 0,
                dest_maddr: CRASH,
                dest_size: PAGE,
            };
            let overlapping = [seg, seg];
            let (op, n) =
                decode_counted(abi, KexecCmd::LOAD, load.as_bytes(), overlapping.as_bytes());
            assert!(matches!(op, Err(Error::SegmentsOverlap { .. })), "{op:?}");
            assert_eq!(n, 0);
            let (op, n) = decode_counted(abi, KexecCmd::LOAD, load.as_bytes(), seg.as_bytes());
            assert!(matches!(op, Err(Error::GuestFault(_))), "{op:?}");
            assert_eq!(n, 0);
        }
    }
}

#[test]
fn building_validating_and_formatting_errors_do_not_allocate() {
    let (res, n) = allocations(|| {
        let mut req = request(KexecType::CRASH, 16);
        let full = req.push_segment(Segment::default()).map(|_| ());
        let valid = req.validate(&host()).map(|_| ());
        req.entry_maddr = 0;
        let refused = req.validate(&host());
        let mut text = Buf {
            bytes: [0; 256],
            len: 0,
        };
        if let Err(e) = refused {
            let _ = write!(text, "{e}");
        }
        (full, valid, text.len)
    });
    assert_eq!(n, 0);
    assert!(res.0.is_err() && res.1.is_ok() && res.2 > 0);
}

/// A fixed-size `fmt::Write` sink.
struct Buf {
    bytes: [u8; 256],
    len: usize,
}

impl std::fmt::Write for Buf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

proptest! {
    /// Arbitrary bytes, commands and widths: the decode itself never allocates.
    #[test]
    fn decoding_arbitrary_bytes_does_not_allocate(
        abi in prop_oneof![Just(GuestAbi::X86_32), Just(GuestAbi::X86_64)],
        cmd in 0u32..8,
        arg in prop::collection::vec(any::<u8>(), 0..32),
        segs in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let (_, n) = decode_counted(abi, KexecCmd(cmd), &arg, &segs);
        prop_assert_eq!(n, 0);
    }
}
