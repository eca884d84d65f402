//! The toolstack side: the bytes of a `kexec_op` argument, in the layout of a chosen
//! guest width, without a heap.
//!
//! A load is built as a [`LoadRequest`], checked with [`LoadRequest::validate`] (the
//! very rules the hypervisor's decoder applies, from [`crate::load`]) and encoded from
//! the resulting [`ValidatedLoad`], so only a request the rules accept can be encoded.
//! The reserved `_pad` byte is always written as zero. For a 32-bit guest every handle
//! is written in the low 4 bytes with zero above, and an address that does not fit is
//! refused ([`Error::HandleTooWide`], `ERANGE`) rather than truncated.
//!
//! The other commands' arguments carry only a type or a range kind, and their encoders
//! write whatever value they are given, known or not, so that tests and debugging tools
//! can produce any request; the hypervisor refuses unknown values.
//!
//! ```
//! use xen_kexec_abi::build::encode_status;
//! use xen_kexec_abi::KexecType;
//! assert_eq!(encode_status(KexecType::CRASH).as_bytes(), &[1]);
//! ```

use zerocopy::{transmute, Immutable, IntoBytes};

use crate::error::HandleField;
use crate::guest_mem::GuestMemory;
use crate::load::{LoadRequest, SegmentList, ValidatedLoad};
use crate::{
    x86_32, x86_64, Error, GuestAbi, GuestHandle64, KexecExecType, KexecRangeKind, KexecType,
};

/// The size of the largest non-load argument: a 64-bit guest's `xen_kexec_range_t`.
const ARG_MAX: usize = size_of::<x86_64::KexecRange>();

/// The bytes of one small argument structure (exec, get_range, unload, status).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgBytes {
    buf: [u8; ARG_MAX],
    len: usize,
}

impl ArgBytes {
    fn of<T: IntoBytes + Immutable>(obj: &T) -> ArgBytes {
        let mut arg = ArgBytes {
            buf: [0; ARG_MAX],
            len: 0,
        };
        if obj.write_to_prefix(&mut arg.buf[..]).is_ok() {
            arg.len = size_of_val(obj);
        }
        arg
    }

    /// The bytes, exactly as long as the structure.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

/// `xen_kexec_exec_t { int type; }`, the same 4 bytes for both widths.
///
/// ```
/// use xen_kexec_abi::build::encode_exec;
/// use xen_kexec_abi::KexecType;
/// assert_eq!(encode_exec(KexecType::CRASH).as_bytes(), &[1, 0, 0, 0]);
/// ```
pub fn encode_exec(type_: KexecType) -> ArgBytes {
    ArgBytes::of(&x86_64::KexecExec {
        type_: KexecExecType(i32::from(type_.0)),
    })
}

/// `xen_kexec_unload_t { uint8_t type; }`, both widths.
pub fn encode_unload(type_: KexecType) -> ArgBytes {
    ArgBytes::of(&x86_64::KexecUnload { type_ })
}

/// `xen_kexec_status_t { uint8_t type; }`, both widths.
pub fn encode_status(type_: KexecType) -> ArgBytes {
    ArgBytes::of(&x86_64::KexecStatus { type_ })
}

/// `xen_kexec_range_t` with `range` and `nr` set and `size`, `start` zero: 16 bytes for
/// a 32-bit guest, 24 for a 64-bit one.
///
/// ```
/// use xen_kexec_abi::build::encode_get_range;
/// use xen_kexec_abi::{GuestAbi, KexecRangeKind};
/// assert_eq!(encode_get_range(GuestAbi::X86_32, KexecRangeKind::MA_CPU, 1).as_bytes().len(), 16);
/// assert_eq!(encode_get_range(GuestAbi::X86_64, KexecRangeKind::MA_CPU, 1).as_bytes().len(), 24);
/// ```
pub fn encode_get_range(abi: GuestAbi, range: KexecRangeKind, nr: i32) -> ArgBytes {
    match abi {
        GuestAbi::X86_64 => ArgBytes::of(&x86_64::KexecRange {
            range,
            nr,
            size: 0,
            start: 0,
        }),
        GuestAbi::X86_32 => ArgBytes::of(&x86_32::KexecRange {
            range,
            nr,
            size: 0,
            start: 0,
        }),
    }
}

/// The size of one encoded segment (both widths).
const SEGMENT_SIZE: usize = size_of::<x86_64::KexecSegment>();

/// The two objects of an encoded load: the load structure and the segment array it
/// points to, in one guest width's layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodedLoad {
    load: [u8; size_of::<x86_64::KexecLoad>()],
    segments_addr: u64,
    segments: [[u8; SEGMENT_SIZE]; SegmentList::CAPACITY],
    segments_len: usize,
}

impl EncodedLoad {
    /// The 24 bytes of `xen_kexec_load_t`.
    pub fn load_bytes(&self) -> &[u8] {
        &self.load
    }

    /// The bytes of the segment array: 32 per segment.
    pub fn segment_bytes(&self) -> &[u8] {
        self.segments
            .get(..self.segments_len)
            .unwrap_or(&[])
            .as_flattened()
    }

    /// The number of segments.
    pub const fn nr_segments(&self) -> usize {
        self.segments_len
    }

    /// The guest address the load structure's `segments` handle points to.
    pub const fn segments_addr(&self) -> u64 {
        self.segments_addr
    }

    /// Writes the segment array at [`segments_addr`](Self::segments_addr) and the load
    /// structure at `load_addr`, the address to pass as the hypercall's argument.
    ///
    /// # Errors
    /// The first write's fault.
    pub fn write_to<M: GuestMemory + ?Sized>(
        &self,
        mem: &mut M,
        load_addr: u64,
    ) -> Result<(), Error> {
        mem.write(self.segments_addr, self.segment_bytes())?;
        mem.write(load_addr, self.load_bytes())
    }
}

impl ValidatedLoad {
    /// Encodes this load for a guest of width `abi`, its segment array to be placed at
    /// guest address `segments_addr`.
    ///
    /// # Errors
    /// For a 32-bit guest, [`Error::HandleTooWide`] (`ERANGE`) if `segments_addr` or a
    /// segment's `buf` needs more than 32 bits.
    ///
    /// ```
    /// use xen_kexec_abi::decode::{decode, Operation};
    /// use xen_kexec_abi::guest_mem::{GuestRegion, SparseMemory};
    /// use xen_kexec_abi::host::HostDescription;
    /// use xen_kexec_abi::load::{LoadRequest, Segment};
    /// use xen_kexec_abi::{ElfMachine, GuestAbi, KexecCmd, KexecType};
    ///
    /// let host = HostDescription::x86(None);
    /// let mut req = LoadRequest::new(KexecType::DEFAULT, ElfMachine::EM_386, 0x10_0000);
    /// req.push_segment(Segment { buf: 0x4000_0000, buf_size: 0x800,
    ///                            dest_maddr: 0x10_0000, dest_size: 0x1000 })?;
    /// let encoded = req.validate(&host)?.encode(GuestAbi::X86_32, 0x1800)?;
    ///
    /// let mut page = [0u8; 0x1000];
    /// let mut regions = [GuestRegion { base: 0x1000, bytes: &mut page[..] }];
    /// let mut mem = SparseMemory::new(&mut regions).unwrap();
    /// encoded.write_to(&mut mem, 0x1000)?;
    /// let Operation::Load(load) = decode(GuestAbi::X86_32, KexecCmd::LOAD, 0x1000, &mut mem, &host)?
    /// else { unreachable!() };
    /// assert_eq!(load.request(), req);
    /// # Ok::<(), xen_kexec_abi::Error>(())
    /// ```
    pub fn encode(&self, abi: GuestAbi, segments_addr: u64) -> Result<EncodedLoad, Error> {
        encode_load(&self.request(), abi, segments_addr)
    }
}

/// A guest handle for `abi`: all 8 bytes for a 64-bit guest, the low 4 (zero above) for
/// a 32-bit guest, refusing an address that does not fit.
fn handle<T: ?Sized>(
    abi: GuestAbi,
    addr: u64,
    field: HandleField,
) -> Result<GuestHandle64<T>, Error> {
    match abi {
        GuestAbi::X86_64 => Ok(GuestHandle64::from_raw(addr)),
        GuestAbi::X86_32 => u32::try_from(addr)
            .map(GuestHandle64::from_low32)
            .map_err(|_| Error::HandleTooWide {
                handle: field,
                value: addr,
            }),
    }
}

/// Encodes a request (already validated by the caller) in `abi`'s layout.
///
/// Segment and load are *checked* structures: their bytes are the same in both guest
/// layouts (proven in [`crate::compat`]), so the 64-bit types encode both, and only the
/// handles' values depend on the width.
fn encode_load(req: &LoadRequest, abi: GuestAbi, segments_addr: u64) -> Result<EncodedLoad, Error> {
    let mut segments = [[0u8; SEGMENT_SIZE]; SegmentList::CAPACITY];
    let list = req.segments.as_slice();
    for ((index, seg), slot) in (0u8..).zip(list).zip(segments.iter_mut()) {
        // `transmute!` checks at compile time that a segment is exactly SEGMENT_SIZE bytes.
        *slot = transmute!(x86_64::KexecSegment {
            buf: handle(abi, seg.buf, HandleField::Buf(index))?,
            buf_size: seg.buf_size,
            dest_maddr: seg.dest_maddr,
            dest_size: seg.dest_size,
        });
    }
    let load = transmute!(x86_64::KexecLoad {
        type_: req.type_,
        _pad: 0,
        arch: req.arch,
        nr_segments: u32::try_from(list.len()).unwrap_or(u32::MAX),
        segments: handle(abi, segments_addr, HandleField::Segments)?,
        entry_maddr: req.entry_maddr,
    });
    Ok(EncodedLoad {
        load,
        segments_addr,
        segments,
        segments_len: list.len(),
    })
}
