// SPDX-License-Identifier: MIT
//! Shared by the `decode_*` tests: a guest whose memory is a few owned regions, and raw
//! requests written in either guest layout (raw, so that tests can write what the
//! builder would refuse to).
#![allow(dead_code, unreachable_pub)]

use xen_kexec_abi::decode::{decode, Operation};
use xen_kexec_abi::guest_mem::{Copying, GuestRegion, SparseMemory};
use xen_kexec_abi::host::{HostDescription, MachineRange};
use xen_kexec_abi::load::ValidatedLoad;
use xen_kexec_abi::{
    x86_32, x86_64, ElfMachine, Error, GuestAbi, GuestHandle64, KexecCmd, KexecType,
};
use zerocopy::IntoBytes;

/// Where the tests put an argument structure.
pub const ARG: u64 = 0x10_0000;
/// Where the tests put a segment array.
pub const SEGS: u64 = 0x10_1000;
/// 4 KiB.
pub const PAGE: u64 = 0x1000;
/// The crash region of [`crash_host`]: 256 MiB at 1 GiB.
pub const CRASH_START: u64 = 0x4000_0000;
/// Its size.
pub const CRASH_SIZE: u64 = 0x1000_0000;

/// An x86 host with the crash region above.
pub fn crash_host() -> HostDescription {
    HostDescription::x86(Some(MachineRange::new(CRASH_START, CRASH_SIZE).unwrap()))
}

/// An x86 host without a crash region.
pub fn plain_host() -> HostDescription {
    HostDescription::x86(None)
}

/// A load structure's fields, raw: `segments` is all 8 bytes of the handle field.
#[derive(Clone, Copy, Debug)]
pub struct RawLoad {
    pub type_: u8,
    pub pad: u8,
    pub arch: u16,
    pub nr_segments: u32,
    pub segments: u64,
    pub entry_maddr: u64,
}

/// A segment's fields, raw: `buf` is all 8 bytes of the handle field.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawSegment {
    pub buf: u64,
    pub buf_size: u64,
    pub dest_maddr: u64,
    pub dest_size: u64,
}

/// A segment with a buffer.
pub fn seg(buf: u64, buf_size: u64, dest_maddr: u64, dest_size: u64) -> RawSegment {
    RawSegment {
        buf,
        buf_size,
        dest_maddr,
        dest_size,
    }
}

/// A load header pointing at [`SEGS`] with `nr` segments and a zero `_pad`.
pub fn header(type_: KexecType, arch: ElfMachine, entry_maddr: u64, nr: usize) -> RawLoad {
    RawLoad {
        type_: type_.0,
        pad: 0,
        arch: arch.0,
        nr_segments: u32::try_from(nr).unwrap(),
        segments: SEGS,
        entry_maddr,
    }
}

/// The bytes of `raw` in `abi`'s layout.
pub fn load_bytes(abi: GuestAbi, raw: &RawLoad) -> Vec<u8> {
    let wide = x86_64::KexecLoad {
        type_: KexecType(raw.type_),
        _pad: raw.pad,
        arch: ElfMachine(raw.arch),
        nr_segments: raw.nr_segments,
        segments: GuestHandle64::from_raw(raw.segments),
        entry_maddr: raw.entry_maddr,
    };
    match abi {
        GuestAbi::X86_64 => wide.as_bytes().to_vec(),
        GuestAbi::X86_32 => x86_32::KexecLoad::from(wide).as_bytes().to_vec(),
    }
}

/// The bytes of a segment array in `abi`'s layout.
pub fn segment_bytes(abi: GuestAbi, segs: &[RawSegment]) -> Vec<u8> {
    let wide: Vec<x86_64::KexecSegment> = segs
        .iter()
        .map(|s| x86_64::KexecSegment {
            buf: GuestHandle64::from_raw(s.buf),
            buf_size: s.buf_size,
            dest_maddr: s.dest_maddr,
            dest_size: s.dest_size,
        })
        .collect();
    match abi {
        GuestAbi::X86_64 => wide.as_bytes().to_vec(),
        GuestAbi::X86_32 => {
            let narrow: Vec<x86_32::KexecSegment> =
                wide.into_iter().map(x86_32::KexecSegment::from).collect();
            narrow.as_bytes().to_vec()
        }
    }
}

/// A guest whose memory is a few owned regions.
#[derive(Clone, Debug, Default)]
pub struct Guest {
    pub regions: Vec<(u64, Vec<u8>)>,
}

impl Guest {
    /// No memory at all.
    pub fn new() -> Guest {
        Guest::default()
    }

    /// Adds `bytes` at `addr`.
    pub fn with(mut self, addr: u64, bytes: impl Into<Vec<u8>>) -> Guest {
        self.regions.push((addr, bytes.into()));
        self
    }

    /// Runs `f` over this guest's memory as a [`SparseMemory`].
    pub fn with_memory<R>(&mut self, f: impl FnOnce(&mut SparseMemory<'_, &mut [u8]>) -> R) -> R {
        let mut regions: Vec<GuestRegion<&mut [u8]>> = self
            .regions
            .iter_mut()
            .map(|(base, bytes)| GuestRegion {
                base: *base,
                bytes: &mut bytes[..],
            })
            .collect();
        let mut mem = SparseMemory::new(&mut regions).expect("test regions are disjoint");
        f(&mut mem)
    }

    /// Decodes `kexec_op(cmd, arg)` from this guest.
    pub fn decode(
        &mut self,
        abi: GuestAbi,
        cmd: KexecCmd,
        arg: u64,
        host: &HostDescription,
    ) -> Result<Operation, Error> {
        let lent = self.with_memory(|mem| decode(abi, cmd, arg, mem, host));
        // The decoder's other path: memory it can only copy from (as a hypervisor's
        // `copy_from_guest`), not borrow. The same answer, always.
        let copied = self.with_memory(|mem| decode(abi, cmd, arg, &mut Copying(mem), host));
        assert_eq!(
            lent, copied,
            "lending and copying memory answer differently"
        );
        lent
    }
}

/// A guest holding `raw` at [`ARG`] and `segs` at [`SEGS`], both in `abi`'s layout.
pub fn load_guest(abi: GuestAbi, raw: &RawLoad, segs: &[RawSegment]) -> Guest {
    let mut guest = Guest::new().with(ARG, load_bytes(abi, raw));
    if !segs.is_empty() {
        guest = guest.with(SEGS, segment_bytes(abi, segs));
    }
    guest
}

/// Decodes the load `raw` with segments `segs` from a guest of width `abi`.
pub fn decode_load(
    abi: GuestAbi,
    raw: &RawLoad,
    segs: &[RawSegment],
    host: &HostDescription,
) -> Result<ValidatedLoad, Error> {
    match load_guest(abi, raw, segs).decode(abi, KexecCmd::LOAD, ARG, host)? {
        Operation::Load(load) => Ok(load),
        other => panic!("a load decoded as {other:?}"),
    }
}

/// `n` touching one-page segments with buffers, from `dest`.
pub fn touching(n: usize, dest: u64) -> Vec<RawSegment> {
    (0..n as u64)
        .map(|i| seg(0x7000_0000 + i * PAGE, PAGE, dest + i * PAGE, PAGE))
        .collect()
}
