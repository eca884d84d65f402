// SPDX-License-Identifier: MIT
//! The load requests the benchmark decodes and the C reference test checks: shaped like
//! the ones kexec-tools sends, in every segment order the benchmark measures.

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

/// Guest memory on whole pages, as a guest's is: [`MEMORY_SIZE`] bytes, page aligned, so
/// that the load structure and the segment array each begin a page.
#[repr(C, align(4096))]
pub struct GuestPages(pub [u8; MEMORY_SIZE]);

/// Where every benchmarked decoder's output lies in its page: half a page away from the
/// guest's objects (each at the start of a page). An output that lies a few bytes above
/// its input modulo 4 KiB makes the CPU hold the input's loads behind the output's stores
/// ("4K aliasing"); left to where the heap and stack happen to put things, that cost the
/// Rust decode 7 to 18 ns in some runs and not in others. Every row is placed alike.
pub const OUTPUT_OFFSET: usize = 0x800;

/// Where the decoders' other inputs lie in their pages: the host description and the
/// guest memory's description (a `FlatMemory`, the C reference's). Apart, modulo 4 KiB,
/// from the guest's objects (offsets 0 to 0x200) and from the outputs (`OUTPUT_OFFSET`
/// to 0xa20), for the same reason: a decoder reads the host after it has stored the
/// segments. On the benchmark's stack the host had lain at page offset 0x9b0, where the
/// slot's 13th segment is stored, and the 16-segment x86_32 CRASH decode, which reads
/// the host's crash region last, measured 23.0 ns against 22.2 to 22.5 with the host at
/// 0x400 or 0xc00.
pub const INPUT_OFFSET: usize = 0xc00;

/// Where the stack of every timed loop lies: the page offset of a local in the frame
/// that calls the loop (see [`on_stack_in`]). The decoder's frame, a few hundred bytes
/// further down, then falls between the guest's objects (0 to 0x200) and the outputs
/// ([`OUTPUT_OFFSET`]) modulo 4 KiB.
///
/// Left where criterion's call depth put it, the decoder's frame lay at page offset
/// 0x0d8, over the guest's segment array: the loop's loads of the array waited behind
/// the frame's stores (4K aliasing), 1.1 ns of the 16-segment x86_32 CRASH decode (22.0
/// against 20.9 ns). With the window at each of 0x000, 0x200, ... 0xe00 in turn, six of
/// the eight measured that decode at 20.7 to 21.0 ns; the two that put the frame over
/// the guest's objects or the end of the outputs, 21.7 and 22.0; the C reference measured
/// the same in every window (85.4 to 85.6 ns DEFAULT, 97.5 to 98.0 CRASH), the copy 7.39
/// to 7.45 in seven and 7.70 at 0x800. Every row runs on this stack.
pub const STACK_WINDOW: core::ops::Range<usize> = 0x600..0x800;

/// Runs `f` from a frame whose local lies at a page offset in `window`, reached by moving
/// the stack down one small frame at a time (a 64-byte local and what the call saves):
/// the stack's page offset is otherwise wherever the harness's depth puts it.
///
/// # Panics
/// If `window` is not within a page, or no step lands in it (a window narrower than a
/// step); then after at most 256 steps, well within any thread's stack.
pub fn on_stack_in<R>(window: core::ops::Range<usize>, f: impl FnOnce() -> R) -> R {
    assert!(
        window.start < window.end && window.end <= 0x1000,
        "on_stack_in: {window:#x?} is not a non-empty range of page offsets"
    );
    let mut f = Some(f);
    let mut out = None;
    descend(&window, 256, &mut || out = f.take().map(|f| f()));
    out.expect("ran once")
}

/// One step of [`on_stack_in`]: runs `f` here if this frame's local lies in `window`,
/// or one frame further down, at most `steps` more.
#[inline(never)]
fn descend(window: &core::ops::Range<usize>, steps: u32, f: &mut dyn FnMut()) {
    let pad = [0u8; 64];
    let here = black_box(&pad).as_ptr() as usize % 0x1000;
    if window.contains(&here) {
        f();
    } else if let Some(steps) = steps.checked_sub(1) {
        descend(window, steps, f);
    } else {
        panic!("no frame landed at a page offset in {window:#x?}");
    }
}

/// A value at `OFFSET` in a page of its own (see [`OUTPUT_OFFSET`], [`INPUT_OFFSET`]).
#[repr(C, align(4096))]
pub struct Placed<T, const OFFSET: usize> {
    _before: [u8; OFFSET],
    /// The value.
    pub value: T,
}

impl<T, const OFFSET: usize> Placed<T, OFFSET> {
    /// `value`, placed.
    pub fn new(value: T) -> Box<Self> {
        Box::new(Placed {
            _before: [0; OFFSET],
            value,
        })
    }
}

/// A decoder's output at [`OUTPUT_OFFSET`] in a page of its own.
pub type OutputPage<T> = Placed<T, OUTPUT_OFFSET>;

/// A decoder's input (the host, a guest memory's description) at [`INPUT_OFFSET`] in a
/// page of its own.
pub type InputPage<T> = Placed<T, INPUT_OFFSET>;

/// [`guest_memory`] on whole pages.
///
/// # Panics
/// As [`guest_memory`].
pub fn guest_pages(req: &LoadRequest, abi: GuestAbi) -> Box<GuestPages> {
    let mut pages = Box::new(GuestPages([0; MEMORY_SIZE]));
    pages.0.copy_from_slice(&guest_memory(req, abi));
    pages
}

/// Bytes of the load structure (the same for both widths).
pub const LOAD_SIZE: usize = size_of::<x86_64::KexecLoad>();
/// Bytes of one segment (the same for both widths).
pub const SEGMENT_SIZE: usize = size_of::<x86_64::KexecSegment>();

/// Where [`copy_floor!`](crate::copy_floor) copies to: the load structure and up to 16
/// segments.
pub type FloorOut = ([u8; LOAD_SIZE], [u8; 16 * SEGMENT_SIZE]);

/// A zeroed [`FloorOut`].
pub const FLOOR_OUT: FloorOut = ([0; LOAD_SIZE], [0; 16 * SEGMENT_SIZE]);

/// The floor every decoder is measured against: the bytes any decoder must copy, the
/// load structure at [`LOAD_ADDR`] and the `n`-segment array at [`SEGMENTS_ADDR`], copied
/// (`copy_from_slice`) from the guest's `bytes` (a `&[u8]` that begins at `LOAD_ADDR`)
/// into `out` (a `&mut` [`FloorOut`]).
///
/// A macro, expanded where it is timed: called through a function (even an inlined one),
/// the same copy measured 8.3 ns for 16 segments where written out it measures 7.4 to
/// 7.5, and a floor must be the fastest honest copy.
///
/// # Panics
/// If `bytes` do not hold both.
#[macro_export]
macro_rules! copy_floor {
    ($bytes:expr, $n:expr, $out:expr) => {{
        use $crate::bench_inputs::{LOAD_ADDR, LOAD_SIZE, SEGMENTS_ADDR, SEGMENT_SIZE};
        let at = |addr: u64| usize::try_from(addr - LOAD_ADDR).expect("small");
        let (load, segments) = $out;
        let src = ::std::hint::black_box($bytes);
        load.copy_from_slice(&src[at(::std::hint::black_box(LOAD_ADDR))..][..LOAD_SIZE]);
        segments[..$n * SEGMENT_SIZE].copy_from_slice(
            &src[at(::std::hint::black_box(SEGMENTS_ADDR))..][..$n * SEGMENT_SIZE],
        );
        ::std::hint::black_box((load, segments));
    }};
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_stack_in_runs_f_once_just_below_a_frame_in_the_window() {
        for start in (0..0x1000).step_by(0x200) {
            let window = start..start + 0x200;
            let mut runs = 0;
            let local = on_stack_in(window.clone(), || {
                runs += 1;
                let probe = 0u8;
                std::ptr::from_ref(black_box(&probe)) as usize % 0x1000
            });
            assert_eq!(runs, 1);
            // `f`'s local lies below the frame that landed in the window, by `f`'s own
            // frame and the closure's: less than half a page below the window's end.
            // Without the descent, half of these windows would be missed.
            let below = (window.end + 0x1000 - local) % 0x1000;
            assert!(below < 0x800, "local at {local:#x}, window {window:#x?}");
        }
    }

    #[test]
    #[should_panic(expected = "on_stack_in: 0x100..0x100 is not a non-empty range of page offsets")]
    fn on_stack_in_refuses_an_empty_window() {
        on_stack_in(0x100..0x100, || ());
    }

    #[test]
    #[should_panic(expected = "is not a non-empty range of page offsets")]
    fn on_stack_in_refuses_a_window_past_the_page() {
        on_stack_in(0xf00..0x1100, || ());
    }
}
