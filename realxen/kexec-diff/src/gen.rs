// SPDX-License-Identifier: MIT
//! The seeded generator of `kexec_op` calls (64-bit layout: the dom0 is 64-bit).
//!
//! Every call's memory is one 64 KiB buffer at `base` (the runner's hypercall buffer):
//! the argument in its first page, a segment array in the second, sources after.
//! Addresses that fault are [`BAD_LOW`] (below `mmap_min_addr`) and [`BAD_HIGH`]
//! (non-canonical; the only kind of argument outside the buffer, since get_range writes
//! there). Xen reads a source or segment array anywhere dom0 can see, so those pointers
//! too are either in the buffer, null, or faulting.
//!
//! **What it never sends to Xen**: `exec` (it ends the machine), the v1 commands 1 and 2
//! (Xen 4.17 still has them), random bytes as a load, a load Xen would act on with a
//! wrapping, huge (over 1 MiB) or high (over 4 GiB) segment (Xen would copy, zero or map
//! it page by page), and a crash load Xen might act on while a crash image may be loaded:
//! an `unload` of the crash type goes before each (`Call::guard`), since two crash loads
//! can panic Xen (`docs/realxen.md`). Mutations that Xen would act on unsafely are dropped
//! unless a check Xen makes before any copy certainly refuses the request
//! ([`certainly_refused`]).

/// The runner's buffer: every call's argument, segment array and sources.
pub const BUF_LEN: usize = 0x1_0000;
/// [`BUF_LEN`] as an address offset.
pub const BUF_SIZE: u64 = 0x1_0000;
/// A low address no process maps (below `vm.mmap_min_addr`): reading it faults.
pub const BAD_LOW: u64 = 0x1000;
/// A non-canonical address (inside the toolstack's `privcmd::NEVER_MAPPED`): any
/// access faults.
pub const BAD_HIGH: u64 = 0x8000_0000_0010_0000;

/// `kexec_op` command numbers used here.
pub mod cmd {
    /// `KEXEC_CMD_kexec_get_range`.
    pub const GET_RANGE: u32 = 3;
    /// `KEXEC_CMD_kexec_load`.
    pub const LOAD: u32 = 4;
    /// `KEXEC_CMD_kexec_unload`.
    pub const UNLOAD: u32 = 5;
    /// `KEXEC_CMD_kexec_status`.
    pub const STATUS: u32 = 6;
}

/// splitmix64: small, seedable, the same everywhere.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub const fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` for `n == 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `xs` (which is not empty).
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        let i = usize::try_from(self.below(len64(xs.len()))).unwrap_or(0);
        xs[i]
    }

    /// A random byte.
    pub fn u8_pub(&mut self) -> u8 {
        self.next_u64().to_le_bytes()[0]
    }

    /// A random `i32`.
    pub fn i32_pub(&mut self) -> i32 {
        let [a, b, c, d, ..] = self.next_u64().to_le_bytes();
        i32::from_le_bytes([a, b, c, d])
    }

    /// `N` random bytes.
    pub fn bytes_pub<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for b in &mut out {
            *b = self.u8_pub();
        }
        out
    }
}

/// A machine range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// The first address.
    pub start: u64,
    /// The size in bytes.
    pub size: u64,
}

impl Region {
    /// One past the last address (saturating).
    pub const fn end(self) -> u64 {
        self.start.saturating_add(self.size)
    }
}

/// What a sequence is generated from: all of it printed by the runner, so the host
/// generates the very same calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// The seed.
    pub seed: u64,
    /// How many calls (guards and probes included).
    pub count: usize,
    /// The buffer's guest address.
    pub base: u64,
    /// The crash region (`crashkernel=` of the booted Xen).
    pub crash: Region,
}

/// One `xen_kexec_segment_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seg {
    /// The source's guest address (0: none).
    pub buf: u64,
    /// The source's size.
    pub buf_size: u64,
    /// The destination machine address.
    pub dest: u64,
    /// The destination size.
    pub size: u64,
}

/// One `xen_kexec_load_t` and the segments its array holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Load {
    /// `type`.
    pub type_: u8,
    /// `_pad`.
    pub pad: u8,
    /// `arch`.
    pub arch: u16,
    /// `nr_segments`.
    pub nr_segments: u32,
    /// The segment array's guest address.
    pub segments: u64,
    /// `entry_maddr`.
    pub entry: u64,
    /// The segments written at `segments` (zeros follow them).
    pub segs: Vec<Seg>,
}

/// A request: what the argument holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// `xen_kexec_range_t` with stale bytes in `size` and `start`.
    GetRange {
        /// `range`.
        range: i32,
        /// `nr`.
        nr: i32,
        /// What `size` and `start` hold before the call.
        fill: [u8; 16],
    },
    /// A load.
    Load(Load),
    /// `xen_kexec_unload_t` (one byte) and the bytes after it.
    Unload {
        /// `type`.
        type_: u8,
    },
    /// `xen_kexec_status_t`.
    Status {
        /// `type`.
        type_: u8,
    },
    /// Random bytes (for an unknown command, or as a get_range, unload or status).
    Raw {
        /// The 24 bytes at the argument.
        bytes: [u8; 24],
    },
}

/// One call of the sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The command.
    pub cmd: u32,
    /// The argument's guest address.
    pub arg: u64,
    /// What the argument holds.
    pub req: Request,
    /// An `unload` put before a crash load (see the module docs).
    pub guard: bool,
}

/// Whether `[addr, addr + len)` lies in the buffer at `base`.
pub fn in_buffer(base: u64, addr: u64, len: u64) -> bool {
    addr >= base && addr.checked_add(len).is_some_and(|e| e <= base + BUF_SIZE)
}

impl Call {
    /// The bytes to write before the call: `(guest address, bytes)`, each inside the
    /// buffer at `base` (an argument or array outside it is not written).
    pub fn writes(&self, base: u64) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        let arg = match &self.req {
            Request::GetRange { range, nr, fill } => {
                let mut b = range.to_le_bytes().to_vec();
                b.extend_from_slice(&nr.to_le_bytes());
                b.extend_from_slice(fill);
                b
            }
            Request::Load(l) => {
                let mut b = vec![l.type_, l.pad];
                b.extend_from_slice(&l.arch.to_le_bytes());
                b.extend_from_slice(&l.nr_segments.to_le_bytes());
                b.extend_from_slice(&l.segments.to_le_bytes());
                b.extend_from_slice(&l.entry.to_le_bytes());
                let array: Vec<u8> = l
                    .segs
                    .iter()
                    .flat_map(|s| [s.buf, s.buf_size, s.dest, s.size])
                    .flat_map(u64::to_le_bytes)
                    .collect();
                if in_buffer(base, l.segments, len64(array.len())) && !array.is_empty() {
                    out.push((l.segments, array));
                }
                b
            }
            Request::Unload { type_ } | Request::Status { type_ } => vec![*type_],
            Request::Raw { bytes } => bytes.to_vec(),
        };
        if in_buffer(base, self.arg, len64(arg.len())) {
            out.insert(0, (self.arg, arg));
        }
        out
    }

    /// The `type` byte the hypervisor reads, for a load, unload or status whose
    /// argument is in the buffer.
    pub fn type_byte(&self, base: u64) -> Option<u8> {
        if !in_buffer(base, self.arg, 1) {
            return None;
        }
        match (&self.req, self.cmd) {
            (Request::Load(l), _) => Some(l.type_),
            (Request::Unload { type_ } | Request::Status { type_ }, _) => Some(*type_),
            (Request::Raw { bytes }, cmd::LOAD | cmd::UNLOAD | cmd::STATUS) => Some(bytes[0]),
            _ => None,
        }
    }
}

impl Load {
    /// The segments the hypervisor reads: the array's first `nr_segments` (zeros after
    /// the written ones), at most 17 (more are refused by count first).
    pub fn read_segments(&self) -> Vec<Seg> {
        let n = usize::try_from(self.nr_segments.min(17)).unwrap_or(17);
        let zero = Seg {
            buf: 0,
            buf_size: 0,
            dest: 0,
            size: 0,
        };
        (0..n)
            .map(|i| self.segs.get(i).copied().unwrap_or(zero))
            .collect()
    }
}

/// Whether `addr` is one of the generator's faulting addresses.
pub fn faults(base: u64, addr: u64, len: u64) -> bool {
    addr != 0 && !in_buffer(base, addr, len.max(1))
}

/// Whether Xen certainly refuses the load before copying, zeroing or mapping anything,
/// by a check that is simple and certain: the argument or array faults, more than 16
/// segments, a type that is neither DEFAULT nor CRASH, an unaligned start or end
/// (computed as Xen does, wrapping), or `buf_size > dest_size`. (16 segments, the
/// crash-region checks and the overlap test refuse too, but are not relied upon.)
pub fn certainly_refused(load: &Load, arg: u64, base: u64) -> bool {
    if faults(base, arg, 24) || load.nr_segments > 16 || load.type_ > 1 {
        return true;
    }
    let array_len = u64::from(load.nr_segments) * 32;
    if load.nr_segments > 0 && faults(base, load.segments, array_len) {
        return true;
    }
    load.read_segments().iter().any(|s| {
        s.dest & 0xfff != 0 || s.dest.wrapping_add(s.size) & 0xfff != 0 || s.buf_size > s.size
    })
}

/// Whether everything Xen would act on is small and low: no wrap, each segment at most
/// 1 MiB and below 4 GiB, and each source in the buffer, null or faulting.
pub fn small_and_sane(load: &Load, base: u64) -> bool {
    load.nr_segments <= 16
        && load.read_segments().iter().all(|s| {
            s.size <= 0x10_0000
                && s.dest.checked_add(s.size).is_some_and(|e| e <= 1 << 32)
                && (s.buf == 0 || in_buffer(base, s.buf, s.buf_size) || !in_buffer(base, s.buf, 1))
        })
}

/// A length as a 64-bit number.
pub fn len64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
