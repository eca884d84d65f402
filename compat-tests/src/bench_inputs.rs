// SPDX-License-Identifier: MIT
//! The load requests the benchmark decodes and the C reference test checks: shaped like
//! the ones kexec-tools sends, in every segment order the benchmark measures. Inputs and
//! outputs lie wherever the heap and stack put them, as they do for a user of the crate:
//! the timed code is the code as users run it.

use std::hint::black_box;

use xen_kexec_abi::decode::{decode, load_into, LoadSlot};
use xen_kexec_abi::guest_mem::GuestMemory;
use xen_kexec_abi::host::{HostDescription, MachineRange};
use xen_kexec_abi::load::{LoadRequest, Segment};
use xen_kexec_abi::{x86_64, ElfMachine, GuestAbi, KexecCmd, KexecType};

/// Guest address of the load structure; the guest memory starts here.
pub const LOAD_ADDR: u64 = 0x1000;
/// Guest address of the segment array.
pub const SEGMENTS_ADDR: u64 = 0x2000;
/// Size of the guest memory: the load structure's page and the segment array's.
pub const MEMORY_SIZE: usize = 0x2000;
/// The host's crash region: 256 MiB at 256 MiB; the segments lie in it.
pub const CRASH_BASE: u64 = 0x1000_0000;
/// Its size.
pub const CRASH_SIZE: u64 = 0x1000_0000;
const PAGE: u64 = 0x1000;

/// The segment counts measured.
pub const COUNTS: [usize; 4] = [1, 4, 15, 16];

/// The order of a request's segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Ascending destinations, as kexec-tools sorts them.
    Ascending,
    /// Ascending, then one segment without a buffer for low memory (`[0, 1 MiB)`)
    /// appended last, as kexec-tools' Xen path adds it.
    AscendingLow,
    /// Descending destinations: the worst case for an overlap check.
    Descending,
}

impl Order {
    /// Every order, in the benchmark's order.
    pub const ALL: [Order; 3] = [Order::Ascending, Order::AscendingLow, Order::Descending];

    /// The name the benchmark gives the order.
    pub const fn name(self) -> &'static str {
        match self {
            Order::Ascending => "ascending",
            Order::AscendingLow => "ascending+low",
            Order::Descending => "descending",
        }
    }
}

/// The host: 4 KiB pages and the crash region above.
pub fn host() -> HostDescription {
    HostDescription::x86(MachineRange::new(CRASH_BASE, CRASH_SIZE))
}

/// A valid request of `n` segments (`1..=16`) in `order`: destinations of one to
/// three pages a page apart inside the crash region, each with a buffer a little
/// smaller than its destination; for [`Order::AscendingLow`], the last of the `n` is
/// the bufferless low-memory segment.
///
/// # Panics
/// If `n` is 0 or more than 16.
pub fn request(kind: KexecType, n: usize, order: Order) -> LoadRequest {
    let mut req = LoadRequest::new(kind, ElfMachine::EM_X86_64, CRASH_BASE);
    let sized = if order == Order::AscendingLow {
        n - 1
    } else {
        n
    };
    let mut segments = [Segment::default(); 16];
    let mut dest = CRASH_BASE;
    for (i, seg) in (0u64..).zip(segments.iter_mut().take(sized)) {
        let dest_size = (i % 3 + 1) * PAGE;
        *seg = Segment {
            buf: 0x4000_0000 + dest - CRASH_BASE,
            buf_size: dest_size - 0x100,
            dest_maddr: dest,
            dest_size,
        };
        dest += dest_size + PAGE;
    }
    let segments = &mut segments[..sized];
    if order == Order::Descending {
        segments.reverse();
    }
    for seg in segments.iter() {
        req.push_segment(*seg).expect("at most 16");
    }
    if order == Order::AscendingLow {
        req.push_segment(Segment {
            buf: 0,
            buf_size: 0,
            dest_maddr: 0,
            dest_size: 0x10_0000,
        })
        .expect("at most 16");
    }
    req
}

/// Guest memory (`MEMORY_SIZE` bytes at `LOAD_ADDR`) holding `req` encoded for `abi`:
/// the load structure at `LOAD_ADDR`, the segment array at `SEGMENTS_ADDR`.
///
/// # Panics
/// If `req` is not valid for [`host`].
pub fn guest_memory(req: &LoadRequest, abi: GuestAbi) -> Vec<u8> {
    let mut bytes = vec![0u8; MEMORY_SIZE];
    let encoded = req
        .validate(&host())
        .expect("valid")
        .encode(abi, SEGMENTS_ADDR)
        .expect("fits");
    let mut mem = xen_kexec_abi::guest_mem::FlatMemory::new(LOAD_ADDR, &mut bytes[..])
        .expect("in the address space");
    encoded.write_to(&mut mem, LOAD_ADDR).expect("in memory");
    bytes
}

/// Bytes of the load structure (the same for both widths).
pub const LOAD_SIZE: usize = size_of::<x86_64::KexecLoad>();
/// Bytes of one segment (the same for both widths).
pub const SEGMENT_SIZE: usize = size_of::<x86_64::KexecSegment>();

/// Where [`copy_floor`] copies to: the load structure and up to 16 segments.
pub type FloorOut = ([u8; LOAD_SIZE], [u8; 16 * SEGMENT_SIZE]);

/// A zeroed [`FloorOut`].
pub const FLOOR_OUT: FloorOut = ([0; LOAD_SIZE], [0; 16 * SEGMENT_SIZE]);

/// The floor every decoder is measured against: the bytes any decoder must copy, the
/// load structure at [`LOAD_ADDR`] and the `n`-segment array at [`SEGMENTS_ADDR`], copied
/// (`copy_from_slice`) from the guest's `bytes` (which begin at `LOAD_ADDR`) into `out`.
///
/// # Panics
/// If `bytes` do not hold both, or `n` is over 16.
#[inline]
pub fn copy_floor(bytes: &[u8], n: usize, out: &mut FloorOut) {
    let at = |addr: u64| usize::try_from(addr - LOAD_ADDR).expect("small");
    let (load, segments) = &mut *out;
    let src = black_box(bytes);
    load.copy_from_slice(&src[at(black_box(LOAD_ADDR))..][..LOAD_SIZE]);
    segments[..n * SEGMENT_SIZE]
        .copy_from_slice(&src[at(black_box(SEGMENTS_ADDR))..][..n * SEGMENT_SIZE]);
    black_box(out);
}

/// One `decode::load_into` of the load at [`LOAD_ADDR`] into `slot`: whether it decoded.
#[inline]
pub fn load_once<M: GuestMemory>(
    abi: GuestAbi,
    mem: &mut M,
    host: &HostDescription,
    slot: &mut LoadSlot,
) -> bool {
    // The load is in `slot`, which the caller keeps: only the answer needs hiding from
    // the optimiser, not a copy of the whole `Result`.
    let load = load_into(black_box(abi), mem, black_box(LOAD_ADDR), host, slot);
    black_box(load.is_ok())
}

/// One `decode::decode` (by value) of the load at [`LOAD_ADDR`]: whether it decoded. The
/// operation stays where `decode` returned it: what is measured is the decode, not the
/// caller moving ~540 bytes.
#[inline]
pub fn decode_once<M: GuestMemory>(abi: GuestAbi, mem: &mut M, host: &HostDescription) -> bool {
    let op = decode(
        black_box(abi),
        KexecCmd::LOAD,
        black_box(LOAD_ADDR),
        mem,
        host,
    );
    black_box(&op).is_ok()
}
