// SPDX-License-Identifier: MIT
//! The toolstack side: the bytes of a `kexec_op` argument, in the layout of a chosen
//! guest width, without a heap.
//!
//! A load is built as a [`LoadRequest`], checked with [`LoadRequest::validate`] (the
//! very rules the hypervisor's decoder applies, from [`crate::load`]) and encoded from
//! the resulting [`ValidatedLoad`], so only a request the rules accept can be encoded.
//! The reserved `_pad` byte is always written as zero. For a 32-bit guest every handle
//! is written in the low 4 bytes with zero above, and an address that does not fit is
//! refused ([`EncodeError::HandleTooWide`], `ERANGE`) rather than truncated.
//!
//! The encoder's errors ([`EncodeError`]) keep its own refusal (a handle that does not
//! fit the chosen width) apart from the hypervisor's ([`Error`], a rule the load breaks).
//!
//! The other commands' arguments carry only a type or a range kind, and their encoders
//! write whatever value they are given, known or not, so that tests and debugging tools
//! can produce any request; the hypervisor refuses unknown values.
//!
//! ```
//! use xen_kexec_abi::{encode, KexecType};
//! assert_eq!(encode::status(KexecType::CRASH).as_bytes(), &[1]);
//! ```

use core::fmt;

use zerocopy::{transmute, Immutable, IntoBytes};

use crate::guest_mem::GuestMemory;
use crate::host::HostDescription;
use crate::load::{LoadRequest, SegmentList, ValidatedLoad};
use crate::{
    x86_32, x86_64, Errno, Error, GuestAbi, GuestFault, GuestHandle64, KexecExecType,
    KexecRangeKind, KexecType,
};

/// Which guest handle of a load request an [`EncodeError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum HandleField {
    /// The load structure's `segments` handle.
    Segments,
    /// The `buf` handle of the segment with this index.
    Buf(u8),
}

/// Why a load cannot be encoded.
///
/// ```
/// use xen_kexec_abi::encode::{EncodeError, HandleField};
/// use xen_kexec_abi::{Errno, Error};
/// let e = EncodeError::HandleTooWide { handle: HandleField::Segments, value: 1 << 32 };
/// assert_eq!(e.errno(), Errno::ERANGE);
/// assert_eq!(EncodeError::from(Error::NoCrashRegion).errno(), Errno::EADDRNOTAVAIL);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum EncodeError {
    /// The hypervisor would refuse the load: it breaks a rule of [`crate::load`].
    Refused(Error),
    /// An address cannot be put in a 32-bit guest's handle, whose value is 4 bytes
    /// (`ERANGE`): the encoder refuses rather than truncate.
    HandleTooWide {
        /// Which handle.
        handle: HandleField,
        /// The address that does not fit.
        value: u64,
    },
    /// Writing the encoded load to guest memory faulted (`EFAULT`).
    Fault(GuestFault),
}

impl EncodeError {
    /// The name of the rule broken: the hypervisor rule's ([`Error::rule`]) for
    /// [`EncodeError::Refused`], else the variant's name, which is its serde tag
    /// (`"HandleTooWide"`, `"Fault"`).
    pub const fn rule(&self) -> &'static str {
        match self {
            EncodeError::Refused(e) => e.rule(),
            EncodeError::HandleTooWide { .. } => "HandleTooWide",
            EncodeError::Fault(_) => "Fault",
        }
    }

    /// The errno a caller would report: the rule's for [`EncodeError::Refused`],
    /// `ERANGE` for a handle that does not fit, `EFAULT` for a fault.
    pub const fn errno(&self) -> Errno {
        match self {
            EncodeError::Refused(e) => e.errno(),
            EncodeError::HandleTooWide { .. } => Errno::ERANGE,
            EncodeError::Fault(f) => f.errno(),
        }
    }

    /// The index of the segment this error is about, if any.
    pub const fn segment(&self) -> Option<u8> {
        match self {
            EncodeError::Refused(e) => e.segment(),
            EncodeError::HandleTooWide {
                handle: HandleField::Buf(segment),
                ..
            } => Some(*segment),
            _ => None,
        }
    }
}

impl From<Error> for EncodeError {
    fn from(e: Error) -> Self {
        EncodeError::Refused(e)
    }
}

impl From<GuestFault> for EncodeError {
    fn from(f: GuestFault) -> Self {
        EncodeError::Fault(f)
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EncodeError::Refused(e) => e.fmt(f),
            EncodeError::HandleTooWide {
                handle: HandleField::Segments,
                value,
            } => write!(
                f,
                "segments address {value:#x} does not fit in a 32-bit guest's handle"
            ),
            EncodeError::HandleTooWide {
                handle: HandleField::Buf(segment),
                value,
            } => write!(
                f,
                "segment {segment}: buf address {value:#x} does not fit in a 32-bit guest's handle"
            ),
            EncodeError::Fault(fault) => fault.fmt(f),
        }
    }
}

impl core::error::Error for EncodeError {}

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
/// use xen_kexec_abi::KexecType;
/// assert_eq!(xen_kexec_abi::encode::exec(KexecType::CRASH).as_bytes(), &[1, 0, 0, 0]);
/// ```
pub fn exec(type_: KexecType) -> ArgBytes {
    ArgBytes::of(&x86_64::KexecExec {
        type_: KexecExecType(i32::from(type_.0)),
    })
}

/// `xen_kexec_unload_t { uint8_t type; }`, both widths.
pub fn unload(type_: KexecType) -> ArgBytes {
    ArgBytes::of(&x86_64::KexecUnload { type_ })
}

/// `xen_kexec_status_t { uint8_t type; }`, both widths.
pub fn status(type_: KexecType) -> ArgBytes {
    ArgBytes::of(&x86_64::KexecStatus { type_ })
}

/// `xen_kexec_range_t` with `range` and `nr` set and `size`, `start` zero: 16 bytes for
/// a 32-bit guest, 24 for a 64-bit one.
///
/// ```
/// use xen_kexec_abi::{GuestAbi, KexecRangeKind};
/// assert_eq!(xen_kexec_abi::encode::get_range(GuestAbi::X86_32, KexecRangeKind::MA_CPU, 1).as_bytes().len(), 16);
/// assert_eq!(xen_kexec_abi::encode::get_range(GuestAbi::X86_64, KexecRangeKind::MA_CPU, 1).as_bytes().len(), 24);
/// ```
pub fn get_range(abi: GuestAbi, range: KexecRangeKind, nr: i32) -> ArgBytes {
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
    ) -> Result<(), GuestFault> {
        mem.write(self.segments_addr, self.segment_bytes())?;
        mem.write(load_addr, self.load_bytes())
    }
}

impl ValidatedLoad {
    /// Encodes this load for a guest of width `abi`, its segment array to be placed at
    /// guest address `segments_addr`.
    ///
    /// # Errors
    /// For a 32-bit guest, [`EncodeError::HandleTooWide`] (`ERANGE`) if `segments_addr`
    /// or a segment's `buf` needs more than 32 bits.
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
    /// # Ok::<(), xen_kexec_abi::encode::EncodeError>(())
    /// ```
    pub fn encode(&self, abi: GuestAbi, segments_addr: u64) -> Result<EncodedLoad, EncodeError> {
        encode_load(&self.request(), abi, segments_addr)
    }
}

/// Validates `req` against `host` (the hypervisor's rules, in its order) and encodes it
/// for a guest of width `abi`, its segment array to be placed at `segments_addr`: the
/// toolstack's one call.
///
/// # Errors
/// [`EncodeError::Refused`] with the rule the hypervisor would refuse the load for;
/// [`EncodeError::HandleTooWide`] for an address a 32-bit guest's handle cannot hold.
///
/// ```
/// use xen_kexec_abi::encode::{self, EncodeError, HandleField};
/// use xen_kexec_abi::host::HostDescription;
/// use xen_kexec_abi::load::{LoadRequest, Segment};
/// use xen_kexec_abi::{ElfMachine, GuestAbi, KexecType};
///
/// let mut req = LoadRequest::new(KexecType::DEFAULT, ElfMachine::EM_X86_64, 0x10_0000);
/// req.push_segment(Segment { buf: 0x1_0000_0000, buf_size: 0x800,
///                            dest_maddr: 0x10_0000, dest_size: 0x1000 })?;
/// let host = HostDescription::x86(None);
/// assert_eq!(encode::load(&req, &host, GuestAbi::X86_64, 0x2000)?.nr_segments(), 1);
/// assert_eq!(
///     encode::load(&req, &host, GuestAbi::X86_32, 0x2000),
///     Err(EncodeError::HandleTooWide { handle: HandleField::Buf(0), value: 0x1_0000_0000 })
/// );
/// # Ok::<(), EncodeError>(())
/// ```
pub fn load(
    req: &LoadRequest,
    host: &HostDescription,
    abi: GuestAbi,
    segments_addr: u64,
) -> Result<EncodedLoad, EncodeError> {
    req.validate(host)?.encode(abi, segments_addr)
}

/// A guest handle for `abi`: all 8 bytes for a 64-bit guest, the low 4 (zero above) for
/// a 32-bit guest, refusing an address that does not fit.
fn handle<T: ?Sized>(
    abi: GuestAbi,
    addr: u64,
    field: HandleField,
) -> Result<GuestHandle64<T>, EncodeError> {
    match abi {
        GuestAbi::X86_64 => Ok(GuestHandle64::from_raw(addr)),
        GuestAbi::X86_32 => u32::try_from(addr)
            .map(GuestHandle64::from_low32)
            .map_err(|_| EncodeError::HandleTooWide {
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
pub(crate) fn encode_load(
    req: &LoadRequest,
    abi: GuestAbi,
    segments_addr: u64,
) -> Result<EncodedLoad, EncodeError> {
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

#[cfg(all(test, feature = "serde"))]
mod tests {
    use super::{EncodeError, HandleField};
    use crate::error::tests::{serde_tag, ALL};
    use crate::{Access, GuestFault};

    #[test]
    fn every_encode_error_rule_is_its_serde_tag_or_the_refused_rules() {
        let fault = GuestFault::new(0x1000, 8, Access::Write);
        for e in [
            EncodeError::HandleTooWide {
                handle: HandleField::Buf(3),
                value: 1 << 32,
            },
            EncodeError::Fault(fault),
        ] {
            // Exhaustive: a new variant fails to compile here until it is listed.
            match e {
                EncodeError::Refused(_)
                | EncodeError::HandleTooWide { .. }
                | EncodeError::Fault(_) => {}
            }
            assert_eq!(e.rule(), serde_tag(&e));
        }
        // A refusal names the hypervisor's rule, as the hypervisor would.
        for e in ALL {
            assert_eq!(EncodeError::Refused(e).rule(), serde_tag(&e));
        }
    }
}
