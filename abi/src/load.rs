// SPDX-License-Identifier: MIT
//! Load requests independent of the guest's width, and the one implementation of the
//! rules a load must pass: used by the hypervisor's decoder ([`crate::decode`]) and by
//! the toolstack's builder ([`LoadRequest::validate`]) alike.
//!
//! The rules are those of Xen 4.23's `kexec_load` (`xen/common/kexec.c` and
//! `kimage.c`), with Xen's weaknesses fixed, **checked in Xen's order**, so that a request
//! that breaks several rules gets the errno Xen returns for it (the errno is part of the
//! ABI a caller sees). Each pass over the segments completes before the next begins, so
//! the segment an error names is the one Xen's pass stops at:
//!
//! 0. (decoder) the load structure is copied (`EFAULT`, [`Error::GuestFault`]);
//!    `nr_segments <= KEXEC_SEGMENT_MAX`, else `EINVAL` ([`Error::TooManySegments`]);
//!    then the segment array is copied (`EFAULT`). **Departure**: Xen tests
//!    `nr_segments >= KEXEC_SEGMENT_MAX` and so refuses the maximum itself; 16 segments
//!    are accepted here.
//! 1. `type` is `KEXEC_TYPE_DEFAULT` or `KEXEC_TYPE_CRASH`, else `EINVAL`
//!    ([`Error::UnknownType`]).
//! 2. For a crash image (`kimage_crash_alloc`):
//!    - the host reserves a crash region, else `EADDRNOTAVAIL` ([`Error::NoCrashRegion`]);
//!    - the entry point is in `[start, start + size)`, else `EADDRNOTAVAIL`
//!      ([`Error::CrashEntryOutside`]). **Departure**: Xen's test accepts an entry
//!      equal to `start + size`, one byte past the region;
//!    - every segment with a source buffer (a non-null `buf`, read at the guest's width)
//!      has its destination inside the crash region, else `EADDRNOTAVAIL`
//!      ([`Error::CrashSegmentOutside`]). As in Xen, a segment without a buffer is not
//!      checked: Xen copies nothing for it. A destination whose end wraps is not inside.
//! 3. For each segment (`do_kimage_alloc`'s first loop):
//!    - `dest_maddr` is page aligned, else `EADDRNOTAVAIL`
//!      ([`Error::SegmentMisaligned`], [`DestBound::Start`]);
//!    - `dest_maddr + dest_size` does not wrap past 2^64, else `EADDRNOTAVAIL`
//!      ([`Error::SegmentWraps`]). **Departure**: Xen adds without a check, so a
//!      segment near the top of the address space wraps to a small end that passes the
//!      alignment test and defeats the overlap test. A wrapping end is not a machine
//!      address at all, so this crate answers as it does for the other unusable
//!      destination addresses: `EADDRNOTAVAIL` (Linux's kexec answers the same for a
//!      segment whose end is below its start). The highest end accepted is therefore
//!      2^64 - page size;
//!    - the end is page aligned, else `EADDRNOTAVAIL` ([`Error::SegmentMisaligned`],
//!      [`DestBound::End`]).
//! 4. Destinations are pairwise disjoint, else `EINVAL` ([`Error::SegmentsOverlap`],
//!    the first pair in `(second, first)` order, as Xen's nested loop finds it). Ranges
//!    are half-open, so segments that touch do not overlap. As in Xen, the test is
//!    `a.start < b.end && b.start < a.end`, so an empty destination strictly inside
//!    another one counts as overlapping.
//! 5. For each segment, `buf_size <= dest_size`, else `EINVAL`
//!    ([`Error::BufferExceedsDest`]).
//! 6. `arch` is `EM_386` or `EM_X86_64`, else `EINVAL` ([`Error::UnsupportedArch`]). Xen
//!    checks it last of all, in `machine_kexec_load`, after copying the segments'
//!    sources; here it is checked before any source is touched, which changes the errno
//!    only for a request that has both a bad arch and a faulting source (`EINVAL` here,
//!    `EFAULT` from Xen).
//! 7. (decoder only) the reserved `_pad` byte is zero, else `EINVAL`
//!    ([`Error::ReservedNotZero`]). **Departure**: Xen never reads it. The facts this
//!    crate follows list unchecked reserved bytes among Xen's weaknesses: a byte that
//!    callers may fill with garbage can never be given a meaning later, and refusing it
//!    now is the only way to keep it usable. It is checked after all of Xen's rules, so
//!    it never changes which errno Xen's rules give. The cost: a caller that leaves the
//!    byte uninitialised, which Xen tolerates, is refused here; the encoder in
//!    [`crate::encode`] always writes zero. (The upper 4 bytes of a 32-bit guest's
//!    handles are not reserved bytes but the rest of a union, and stay ignored: see
//!    [`crate::GuestHandle64`].)
//!
//! **Speed without a change of order.** A load that passes every rule is recognised in
//! one branch-free sweep (linear in the segments for the orders loaders send); only a
//! load that may fail some rule (or that names a destination start or size of 2^63 or
//! more, which no machine has) runs the rules one pass after another in the order above,
//! and those passes alone choose the error. See `passes_all` and the README's benchmarks.
//!
//! The page size and the crash region come from the [`HostDescription`], never from a
//! global.

use core::fmt;

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::consts::KEXEC_SEGMENT_MAX;
use crate::entry::EntryMode;
use crate::enums::{ElfMachine, KexecType};
use crate::error::{DestBound, Error};
use crate::guest_mem::{GuestMemory, Sealed};
use crate::handle::{ConstVoid, GuestHandle64};
use crate::host::{HostDescription, MachineRange, PageSize};
use crate::layout::size_of_return;
use crate::{x86_64, GuestAbi};

/// The capacity of a [`SegmentList`]: `KEXEC_SEGMENT_MAX`.
const CAPACITY: usize = KEXEC_SEGMENT_MAX as usize;

/// One segment of a load, independent of the guest's width: `buf` is the source's guest
/// address already read at the guest's width (the low 4 bytes of a 32-bit guest's
/// handle), 0 for a segment without a source buffer.
///
/// ```
/// use xen_kexec_abi::load::Segment;
/// let seg = Segment { buf: 0x8000_0000, buf_size: 0x1800, dest_maddr: 0x100_0000, dest_size: 0x2000 };
/// assert_eq!(seg.dest_end(), Some(0x100_2000));
/// assert!(seg.has_buffer());
/// ```
///
/// Its bytes are those of a 64-bit guest's `xen_kexec_segment_t` (asserted below), so
/// the decoder reads a guest's segment array straight into a [`SegmentList`].
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Segment {
    /// Guest address of the source bytes; 0 for none.
    pub buf: u64,
    /// Number of source bytes.
    pub buf_size: u64,
    /// Machine address of the destination.
    pub dest_maddr: u64,
    /// Size of the destination in bytes.
    pub dest_size: u64,
}

// Filled straight from guest bytes, so held to the ABI structures' rule: every field an
// explicit-width `AbiField`.
static_assertions::const_assert_eq!(
    size_of_return(|s: Segment| s.buf)
        + size_of_return(|s: Segment| s.buf_size)
        + size_of_return(|s: Segment| s.dest_maddr)
        + size_of_return(|s: Segment| s.dest_size),
    size_of::<Segment>()
);
static_assertions::assert_eq_size!(Segment, x86_64::KexecSegment);
static_assertions::const_assert_eq!(
    core::mem::offset_of!(Segment, buf),
    core::mem::offset_of!(x86_64::KexecSegment, buf)
);
static_assertions::const_assert_eq!(
    core::mem::offset_of!(Segment, buf_size),
    core::mem::offset_of!(x86_64::KexecSegment, buf_size)
);
static_assertions::const_assert_eq!(
    core::mem::offset_of!(Segment, dest_maddr),
    core::mem::offset_of!(x86_64::KexecSegment, dest_maddr)
);
static_assertions::const_assert_eq!(
    core::mem::offset_of!(Segment, dest_size),
    core::mem::offset_of!(x86_64::KexecSegment, dest_size)
);

impl Segment {
    /// The segment of zeroes: no buffer, an empty destination at 0.
    pub(crate) const ZERO: Segment = Segment {
        buf: 0,
        buf_size: 0,
        dest_maddr: 0,
        dest_size: 0,
    };

    /// `dest_maddr + dest_size`, or `None` if it wraps past 2^64.
    pub const fn dest_end(&self) -> Option<u64> {
        self.dest_maddr.checked_add(self.dest_size)
    }

    /// Whether the segment has a source buffer (a non-null `buf`).
    pub const fn has_buffer(&self) -> bool {
        self.buf != 0
    }
}

/// Up to `KEXEC_SEGMENT_MAX` (16) segments, in a fixed array: no heap.
///
/// ```
/// use xen_kexec_abi::load::{Segment, SegmentList};
/// use xen_kexec_abi::Errno;
/// let mut list = SegmentList::new();
/// for _ in 0..16 {
///     list.push(Segment::default()).unwrap();
/// }
/// assert_eq!(list.len(), 16);
/// assert_eq!(list.push(Segment::default()).unwrap_err().errno(), Errno::EINVAL);
/// ```
#[derive(Clone, Copy)]
pub struct SegmentList {
    len: u8,
    items: [Segment; CAPACITY],
}

impl SegmentList {
    /// The most segments a list holds.
    pub const CAPACITY: usize = CAPACITY;

    /// An empty list.
    pub const fn new() -> SegmentList {
        SegmentList {
            len: 0,
            items: [Segment {
                buf: 0,
                buf_size: 0,
                dest_maddr: 0,
                dest_size: 0,
            }; CAPACITY],
        }
    }

    /// A list of `segments`.
    ///
    /// # Errors
    /// [`Error::TooManySegments`] (`EINVAL`) for more than 16.
    pub fn from_slice(segments: &[Segment]) -> Result<SegmentList, Error> {
        let mut list = SegmentList::new();
        for seg in segments {
            list.push(*seg)?;
        }
        Ok(list)
    }

    /// Appends a segment.
    ///
    /// # Errors
    /// [`Error::TooManySegments`] (`EINVAL`) if the list already holds 16; it is
    /// unchanged.
    pub fn push(&mut self, segment: Segment) -> Result<(), Error> {
        match self.items.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = segment;
                self.len += 1;
                Ok(())
            }
            None => Err(Error::TooManySegments {
                nr: u32::from(self.len) + 1,
            }),
        }
    }

    /// Reads `count` (at most 16) segments of a guest of width `abi` at `addr` into this
    /// list, replacing its contents, with one read straight into its storage: a guest's
    /// segment array has the bytes of a `[Segment]` except that a 32-bit guest's `buf` is
    /// only its low 4 bytes, which are then kept and the upper 4 ignored. Nothing is
    /// zeroed first: the read overwrites the `count` entries it fills, and the others are
    /// not part of the list. On an error the list is empty.
    #[inline]
    fn read_from_guest<M: GuestMemory + ?Sized>(
        &mut self,
        mem: &mut M,
        abi: GuestAbi,
        addr: u64,
        count: usize,
        sweep: &mut Sweep,
    ) -> Result<(), Error> {
        self.len = 0;
        let (Some(wanted), Ok(len)) = (self.items.get_mut(..count), u8::try_from(count)) else {
            return Err(Error::TooManySegments {
                nr: u32::try_from(count).unwrap_or(u32::MAX),
            });
        };
        if wanted.is_empty() {
            // Nothing to read.
        } else if let Some(src) = mem
            .lend(addr, size_of_val(wanted), Sealed(()))
            // Every byte asked for, or none: no segment may go unchecked.
            .filter(|src| src.len() == size_of_val(wanted))
        {
            // Memory of this crate's own (see `GuestMemory::lend`), which nothing can
            // change while it is lent: each segment copied as bytes, and swept from
            // registers loaded from the same bytes, in one pass. (The same instruction
            // count as storing the four words it loads, and measured faster: see the
            // README's benchmarks.)
            //
            // The upper half of a 32-bit guest's handle is not its: zeroed in place, which
            // leaves `GuestHandle64::addr` of the handle (as the copying path below does).
            // A store, not a mask on the copied value: the mask measured slower. Two loops,
            // not one that tests the width: the compiler then calls `memset` per segment.
            let pairs = wanted
                .iter_mut()
                .zip(src.chunks_exact(size_of::<Segment>()));
            if abi == GuestAbi::X86_32 {
                let upper = if cfg!(target_endian = "little") {
                    4..8
                } else {
                    0..4
                };
                for (seg, bytes) in pairs {
                    seg.as_mut_bytes().copy_from_slice(bytes);
                    if let Some(half) = seg.as_mut_bytes().get_mut(upper.clone()) {
                        half.fill(0);
                    }
                    if let Ok(value) = Segment::read_from_bytes(bytes) {
                        sweep.add(&value);
                    }
                }
            } else {
                for (seg, bytes) in pairs {
                    seg.as_mut_bytes().copy_from_slice(bytes);
                    if let Ok(value) = Segment::read_from_bytes(bytes) {
                        sweep.add(&value);
                    }
                }
            }
        } else {
            // Any other memory: one copy, then the sweep over the copy.
            mem.read(addr, wanted.as_mut_bytes())?;
            if abi == GuestAbi::X86_32 {
                for seg in wanted.iter_mut() {
                    seg.buf = GuestHandle64::<ConstVoid>::from_raw(seg.buf).addr(abi);
                }
            }
            sweep.add_all(wanted);
        }
        self.len = len;
        Ok(())
    }

    /// The segments.
    pub fn as_slice(&self) -> &[Segment] {
        self.items.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Iterates over the segments.
    pub fn iter(&self) -> core::slice::Iter<'_, Segment> {
        self.as_slice().iter()
    }

    /// The number of segments.
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether there are none.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Default for SegmentList {
    fn default() -> Self {
        SegmentList::new()
    }
}

impl PartialEq for SegmentList {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for SegmentList {}

impl fmt::Debug for SegmentList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl<'a> IntoIterator for &'a SegmentList {
    type Item = &'a Segment;
    type IntoIter = core::slice::Iter<'a, Segment>;

    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for SegmentList {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.as_slice())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for SegmentList {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = SegmentList;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a sequence of at most {CAPACITY} segments")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<SegmentList, A::Error> {
                let mut list = SegmentList::new();
                while let Some(seg) = seq.next_element()? {
                    if list.push(seg).is_err() {
                        return Err(serde::de::Error::invalid_length(CAPACITY + 1, &self));
                    }
                }
                Ok(list)
            }
        }
        deserializer.deserialize_seq(Visitor)
    }
}

/// A load request, independent of the guest's width: the toolstack's builder, and what
/// the hypervisor's decoder reads a guest's request into before validating it.
///
/// ```
/// use xen_kexec_abi::host::{HostDescription, MachineRange};
/// use xen_kexec_abi::load::{LoadRequest, Segment};
/// use xen_kexec_abi::{ElfMachine, EntryMode, KexecType};
///
/// let mut req = LoadRequest::new(KexecType::CRASH, ElfMachine::EM_X86_64, 0x1000_0000);
/// req.push_segment(Segment { buf: 0x7f00_0000, buf_size: 0x1800,
///                            dest_maddr: 0x1000_0000, dest_size: 0x2000 })?;
/// let host = HostDescription::x86(MachineRange::new(0x1000_0000, 0x1000_0000));
/// let load = req.validate(&host)?;
/// assert_eq!(load.entry_mode(), EntryMode::Long64);
/// assert_eq!(load.request(), req);
/// # Ok::<(), xen_kexec_abi::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LoadRequest {
    /// Which image: DEFAULT or CRASH.
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub type_: KexecType,
    /// The image's ELF machine.
    pub arch: ElfMachine,
    /// Machine address of the entry point.
    pub entry_maddr: u64,
    /// The segments.
    pub segments: SegmentList,
}

impl LoadRequest {
    /// A request without segments.
    pub const fn new(type_: KexecType, arch: ElfMachine, entry_maddr: u64) -> LoadRequest {
        LoadRequest {
            type_,
            arch,
            entry_maddr,
            segments: SegmentList::new(),
        }
    }

    /// Appends a segment.
    ///
    /// # Errors
    /// [`Error::TooManySegments`] (`EINVAL`) beyond 16.
    pub fn push_segment(&mut self, segment: Segment) -> Result<&mut Self, Error> {
        self.segments.push(segment)?;
        Ok(self)
    }

    /// Checks every rule of the [module documentation](self) (all but the decoder-only
    /// copies and `_pad` rule) against `host`, in Xen's order.
    ///
    /// # Errors
    /// The first rule broken, in the order listed there.
    pub fn validate(&self, host: &HostDescription) -> Result<ValidatedLoad, Error> {
        let entry_mode = check_rules(self, host, 0)?;
        Ok(ValidatedLoad {
            type_: self.type_,
            arch: self.arch,
            entry_mode,
            entry_maddr: self.entry_maddr,
            segments: self.segments,
        })
    }
}

/// A load request that passed every rule for some host: what the hypervisor acts on.
///
/// Only [`LoadRequest::validate`] (directly, or through [`crate::decode`]) makes one,
/// so its fields are read through methods. It is the same whichever guest width sent the
/// request: handles are already read at the sender's width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ValidatedLoad {
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    type_: KexecType,
    arch: ElfMachine,
    entry_mode: EntryMode,
    entry_maddr: u64,
    segments: SegmentList,
}

impl ValidatedLoad {
    /// The load of nothing: a DEFAULT image of no segments for `EM_X86_64`, entered at
    /// 0, which every rule accepts on every host. Storage for
    /// [`decode::LoadSlot`](crate::decode::LoadSlot), and what a failed decode leaves.
    ///
    /// A function, not a constant: at run time it is built in place with a few stores,
    /// where a constant of ~540 bytes is copied from its image in memory.
    #[inline]
    pub(crate) const fn empty() -> ValidatedLoad {
        ValidatedLoad {
            type_: KexecType::DEFAULT,
            arch: ElfMachine::EM_X86_64,
            entry_mode: EntryMode::Long64,
            entry_maddr: 0,
            segments: SegmentList {
                len: 0,
                items: [Segment::ZERO; CAPACITY],
            },
        }
    }

    /// The decoder's path: makes `self` the load of `type_`, `arch`, `entry_maddr`, the
    /// `count` segments of a guest of width `abi` at `segments_addr` (read straight into
    /// `self`, no copy, no zeroing) and the reserved byte `reserved`, if it passes every
    /// rule against `host`.
    ///
    /// # Errors
    /// The read's fault, or the first rule broken. `self` is then [`Self::empty`].
    #[inline]
    pub(crate) fn decode_in_place<M: GuestMemory + ?Sized>(
        &mut self,
        mem: &mut M,
        abi: GuestAbi,
        host: &HostDescription,
        (type_, reserved, arch, entry_maddr): (KexecType, u8, ElfMachine, u64),
        segments_addr: u64,
        count: usize,
    ) -> Result<(), Error> {
        // The header's fields go into `self` at once, so that only `self` is live across
        // the read of the array.
        self.type_ = type_;
        self.arch = arch;
        self.entry_maddr = entry_maddr;
        let mut sweep = Sweep::new();
        let checked =
            match self
                .segments
                .read_from_guest(mem, abi, segments_addr, count, &mut sweep)
            {
                Ok(()) => match passes_swept(self.rules(), &sweep, host, reserved) {
                    Some(mode) => Ok(mode),
                    None => first_broken_of(&*self, host, reserved),
                },
                Err(e) => Err(e),
            };
        match checked {
            Ok(entry_mode) => {
                self.entry_mode = entry_mode;
                Ok(())
            }
            Err(e) => {
                *self = ValidatedLoad::empty();
                Err(e)
            }
        }
    }

    /// DEFAULT or CRASH.
    pub const fn kexec_type(&self) -> KexecType {
        self.type_
    }

    /// The image's ELF machine: `EM_386` or `EM_X86_64`.
    pub const fn arch(&self) -> ElfMachine {
        self.arch
    }

    /// How Xen enters the image: from its `arch` alone.
    pub const fn entry_mode(&self) -> EntryMode {
        self.entry_mode
    }

    /// Machine address of the entry point.
    pub const fn entry_maddr(&self) -> u64 {
        self.entry_maddr
    }

    /// The segments, in the order given.
    pub fn segments(&self) -> &[Segment] {
        self.segments.as_slice()
    }

    /// The request this load was validated from.
    pub const fn request(&self) -> LoadRequest {
        LoadRequest {
            type_: self.type_,
            arch: self.arch,
            entry_maddr: self.entry_maddr,
            segments: self.segments,
        }
    }
}

/// What the rules look at: a [`LoadRequest`]'s fields, with the segments borrowed from
/// wherever they were read to.
#[derive(Clone, Copy)]
struct Rules<'a> {
    type_: KexecType,
    arch: ElfMachine,
    entry_maddr: u64,
    segments: &'a [Segment],
}

/// What the rules are checked on: a request, or a load being decoded in place.
trait AsRules {
    /// The fields the rules look at.
    fn rules(&self) -> Rules<'_>;
}

/// `AsRules` for types with the request's four fields, under their names.
macro_rules! as_rules {
    ($($t:ty),*) => {$(
        impl AsRules for $t {
            #[inline]
            fn rules(&self) -> Rules<'_> {
                Rules {
                    type_: self.type_,
                    arch: self.arch,
                    entry_maddr: self.entry_maddr,
                    segments: self.segments.as_slice(),
                }
            }
        }
    )*};
}
as_rules!(LoadRequest, ValidatedLoad);

/// Every rule of the module documentation, with the reserved byte of a decoded request
/// (`0` for the builder's); gives the entry mode.
///
/// Two ways to one answer. [`passes_all`] decides in one branch-free sweep whether
/// every rule passes, which is the common case; it is only ever trusted to say yes (a
/// yes is exact: see its documentation). Anything else goes to [`first_broken`], the
/// rules one pass after another in Xen's order, which finds the error to give. So the
/// error and its precedence are always the ordered passes' own.
#[inline]
fn check_rules<R: AsRules>(
    req: &R,
    host: &HostDescription,
    reserved: u8,
) -> Result<EntryMode, Error> {
    match passes_all(req.rules(), host, reserved) {
        Some(mode) => Ok(mode),
        None => first_broken_of(req, host, reserved),
    }
}

/// [`first_broken`] out of line, given where to find the request: the error path,
/// which costs the fast one nothing (not even spilling the request's fields).
#[cold]
#[inline(never)]
fn first_broken_of<R: AsRules>(
    req: &R,
    host: &HostDescription,
    reserved: u8,
) -> Result<EntryMode, Error> {
    first_broken(req.rules(), host, reserved)
}

/// The rules in Xen's order, each pass over the segments complete before the next.
fn first_broken(req: Rules<'_>, host: &HostDescription, reserved: u8) -> Result<EntryMode, Error> {
    check_type(req.type_)?;
    let segments = req.segments;
    if req.type_ == KexecType::CRASH {
        check_crash(segments, req.entry_maddr, host)?;
    }
    let mut ends = [0u64; CAPACITY];
    for ((index, seg), end) in (0u8..).zip(segments).zip(ends.iter_mut()) {
        *end = check_destination(index, seg, host.page_size)?;
    }
    check_disjoint(segments, &ends)?;
    for (index, seg) in (0u8..).zip(segments) {
        check_buffer(index, seg)?;
    }
    let entry_mode = check_arch(req.arch)?;
    check_reserved(reserved)?;
    Ok(entry_mode)
}

/// The fast path: `Some(entry mode)` only if every rule passes; `None` when some rule
/// may not, or when a destination's start or size is 2^63 or more (then [`first_broken`]
/// decides). One sweep over the segments ([`Sweep`]), without branches on their
/// contents, counts buffers larger than their destinations and destinations that begin
/// before the previous one's end, and ors every start and size (their low bits for
/// alignment, the top bit for a possible wrap). Destinations that ascend form one chain
/// `start[0] <= end[0] <= start[1] <= ... <= end[n-1]`: pairwise disjoint (the overlap
/// rule in linear time for the order kexec-tools sends), and inside a crash region if
/// the region covers the chain, buffers or not; only if it does not is each segment with
/// a buffer looked at ([`passes_swept`]). Other orders go to [`passes_unordered`]:
/// kexec-tools' appended low-memory segment is tested against the chain's ends,
/// descending destinations are a chain too, anything else falls back to all pairs.
#[inline]
fn passes_all(req: Rules<'_>, host: &HostDescription, reserved: u8) -> Option<EntryMode> {
    let mut sweep = Sweep::new();
    sweep.add_all(req.segments);
    passes_swept(req, &sweep, host, reserved)
}

/// [`passes_all`] once `sweep` has swept `req`'s segments (the decoder sweeps them as it
/// reads them).
// Always inlined into the decoder: left to the compiler, a binary that decodes over
// several kinds of guest memory (the benchmark's) got one shared copy, called, which
// spills what the inlined checks keep in registers: 2-4 ns of a 25 ns decode.
#[allow(clippy::inline_always)]
#[inline(always)]
fn passes_swept(
    req: Rules<'_>,
    sweep: &Sweep,
    host: &HostDescription,
    reserved: u8,
) -> Option<EntryMode> {
    let segments = req.segments;
    let mode = check_arch(req.arch).ok()?;
    // Misaligned, or some start or size of 2^63 or more (which might wrap).
    let misaligned = sweep.bits & ((host.page_size.get() - 1) | 1 << 63);
    if check_type(req.type_).is_err() || reserved != 0 || sweep.bad != 0 || misaligned != 0 {
        return None;
    }
    if sweep.unordered != 0 {
        let image = (req.type_, req.entry_maddr);
        return passes_unordered(segments, host, image, sweep.unordered).then_some(mode);
    }
    if req.type_ != KexecType::CRASH {
        return Some(mode);
    }
    // A crash image is entered in the host's crash region, which must exist.
    let region = host.crash_region?;
    // One chain from the first's start to the last's end: disjoint, and if the region
    // covers it, every segment lies inside, buffer or not (no handle is read); if not,
    // look at each segment with a buffer.
    let inside = match segments.first() {
        Some(first) => {
            // `covers`, knowing that the chain does not wrap: offsets from the
            // region's start, so that its end (perhaps 2^64) is never computed. The
            // chain's end is the last segment's, which the sweep holds.
            ((first.dest_maddr >= region.start())
                & (sweep.prev_end.wrapping_sub(region.start()) <= region.size()))
                || all_inside(segments, region)
        }
        None => true,
    };
    (region.contains(req.entry_maddr) & inside).then_some(mode)
}

/// The end of a destination that does not wrap (callers have checked).
#[inline]
const fn end(seg: &Segment) -> u64 {
    seg.dest_maddr.wrapping_add(seg.dest_size)
}

/// [`passes_all`] for segments that are not in ascending order (`unordered` of them
/// begin before the previous one's end), none wrapping, all aligned: whether they are
/// pairwise disjoint and, when `image` (its type and entry point) is a crash image,
/// whether it is entered in the `host`'s crash region and those with buffers lie there
/// (the region is looked up here, off the ascending path). When only the last segment
/// breaks the order (kexec-tools' low-memory segment on Xen), the others form one chain,
/// and the last is checked against the chain's two ends; descending destinations are
/// checked in one linear pass; any other order falls back to all pairs.
fn passes_unordered(
    segments: &[Segment],
    host: &HostDescription,
    (type_, entry_maddr): (KexecType, u64),
    unordered: u64,
) -> bool {
    // A crash image is entered in the host's crash region, which must exist.
    let crash = if type_ == KexecType::CRASH {
        match host.crash_region {
            Some(region) if region.contains(entry_maddr) => Some(region),
            _ => return false,
        }
    } else {
        None
    };
    let Some((last, init)) = segments.split_last() else {
        return true;
    };
    let (Some(init_first), Some(init_high)) = (init.first(), init.last()) else {
        return true;
    };
    let (init_start, init_end, last_end) = (init_first.dest_maddr, end(init_high), end(last));
    let init_ascends = unordered == u64::from(last.dest_maddr < init_end);
    // Descending: one chain from the last's start up to the first's end.
    let descends = !init_ascends
        && segments.windows(2).all(|w| match w {
            [higher, lower] => end(lower) <= higher.dest_maddr,
            _ => true,
        });
    let disjoint = descends
        || (init_ascends
            && (last_end <= init_start
                || init_end <= last.dest_maddr
                || !init
                    .iter()
                    .any(|seg| overlap(seg, end(seg), last, last_end))))
        || !any_overlap(segments);
    disjoint
        && match crash {
            None => true,
            // A chain the region covers lies inside it, buffers or not; else each
            // segment with a buffer is looked at.
            Some(region) if init_ascends => {
                (region.covers(init_start, init_end) || all_inside(init, region))
                    && all_inside(core::slice::from_ref(last), region)
            }
            Some(region) if descends => {
                region.covers(last.dest_maddr, end(init_first)) || all_inside(segments, region)
            }
            Some(region) => all_inside(segments, region),
        }
}

/// The accumulators of [`passes_all`]'s sweep: counts and or-ed bits, which a compiler
/// keeps in registers and updates with an add-with-carry per test, no branch.
struct Sweep {
    /// Every destination's start and size, or-ed. Its low bits: both bounds of every
    /// destination are aligned iff all of these are (`end = start + size`, and
    /// `size = end - start` modulo 2^64). Its top bit: while it is clear, every start and
    /// size is below 2^63, so no end (their sum) wraps past 2^64, and the sweep needs no
    /// carry test. (No machine has memory at 2^63; a load that names such an address is
    /// left to the ordered rules.)
    bits: u64,
    /// How many buffers are larger than their destinations.
    bad: u64,
    /// How many destinations begin before the previous one's end.
    unordered: u64,
    /// The previous destination's end (0 before the first): after the sweep, the last
    /// segment's end, which [`passes_swept`] takes as the end of an ascending chain.
    prev_end: u64,
}

impl Sweep {
    const fn new() -> Sweep {
        Sweep {
            bits: 0,
            bad: 0,
            unordered: 0,
            prev_end: 0,
        }
    }

    /// Folds in one segment; gives its end.
    #[inline]
    fn add(&mut self, seg: &Segment) -> u64 {
        // Cannot wrap unless a start or size has its top bit set, which `bits` notes.
        let end = seg.dest_maddr.wrapping_add(seg.dest_size);
        self.bad += u64::from(seg.dest_size < seg.buf_size);
        self.bits |= seg.dest_maddr | seg.dest_size;
        self.unordered += u64::from(seg.dest_maddr < self.prev_end);
        self.prev_end = end;
        end
    }

    /// Folds in every segment of `segments`, four at a time.
    #[inline]
    fn add_all(&mut self, segments: &[Segment]) {
        let quads = segments.chunks_exact(4);
        let rest = quads.remainder();
        for quad in quads {
            if let [a, b, c, d] = quad {
                self.add(a);
                self.add(b);
                self.add(c);
                self.add(d);
            }
        }
        for seg in rest {
            self.add(seg);
        }
    }
}

/// Whether every segment of `segments` with a buffer lies in `region`, branch-free;
/// ends are computed without a wrap check (callers have checked that none wraps).
#[allow(clippy::needless_bitwise_bool)]
fn all_inside(segments: &[Segment], region: MachineRange) -> bool {
    let (start, size) = (region.start(), region.size());
    let mut outside = false;
    for seg in segments {
        let seg_end = seg.dest_maddr.wrapping_add(seg.dest_size);
        // `covers` without branches: offsets from the region's start, so that its end
        // (perhaps 2^64) is never computed.
        outside |=
            seg.has_buffer() & ((seg.dest_maddr < start) | (seg_end.wrapping_sub(start) > size));
    }
    !outside
}

/// Whether any two destinations overlap, over all pairs, branch-free; ends are
/// computed without a wrap check (callers have checked that none wraps).
fn any_overlap(segments: &[Segment]) -> bool {
    let mut any = false;
    for (j, b) in segments.iter().enumerate() {
        let b_end = b.dest_maddr.wrapping_add(b.dest_size);
        for a in segments.iter().take(j) {
            any |= overlap(a, a.dest_maddr.wrapping_add(a.dest_size), b, b_end);
        }
    }
    any
}

/// Rule 1: the type is DEFAULT or CRASH.
pub(crate) const fn check_type(type_: KexecType) -> Result<KexecType, Error> {
    type_.known()
}

/// Rule 7 (decoder only): the reserved byte is zero. See the module documentation for
/// why this departs from Xen.
const fn check_reserved(pad: u8) -> Result<(), Error> {
    if pad == 0 {
        Ok(())
    } else {
        Err(Error::ReservedNotZero { value: pad })
    }
}

/// Rule 6: the arch is one Xen can enter; gives the entry mode.
const fn check_arch(arch: ElfMachine) -> Result<EntryMode, Error> {
    EntryMode::for_arch(arch)
}

/// Rule 0: at most `KEXEC_SEGMENT_MAX` segments; gives the count.
///
/// Departure from Xen: Xen refuses `nr_segments >= KEXEC_SEGMENT_MAX`, so a load of
/// exactly the maximum, 16, fails there. The maximum is a maximum: 16 is accepted here.
pub(crate) fn check_count(nr_segments: u32) -> Result<usize, Error> {
    if nr_segments <= KEXEC_SEGMENT_MAX {
        usize::try_from(nr_segments).map_err(|_| Error::TooManySegments { nr: nr_segments })
    } else {
        Err(Error::TooManySegments { nr: nr_segments })
    }
}

/// Rule 2: a crash image is entered in the crash region, and every segment it copies
/// lies there.
fn check_crash(segments: &[Segment], entry: u64, host: &HostDescription) -> Result<(), Error> {
    let region = host.crash_region.ok_or(Error::NoCrashRegion)?;
    // Departure from Xen: Xen accepts `entry == start + size`, one byte past the
    // region; the entry must be one of the region's bytes.
    if !region.contains(entry) {
        return Err(Error::CrashEntryOutside { entry });
    }
    for (index, seg) in (0u8..).zip(segments) {
        // As in Xen: only segments with a source buffer are checked; Xen copies nothing
        // for the others. A wrapping end lies in no region.
        let inside = match seg.dest_end() {
            Some(end) => region.covers(seg.dest_maddr, end),
            None => false,
        };
        if seg.has_buffer() && !inside {
            return Err(Error::CrashSegmentOutside {
                segment: index,
                dest_maddr: seg.dest_maddr,
                dest_size: seg.dest_size,
            });
        }
    }
    Ok(())
}

/// Rule 3, for segment `index`: alignment of both bounds, no wrap. Gives the end of the
/// destination.
fn check_destination(index: u8, seg: &Segment, page: PageSize) -> Result<u64, Error> {
    if !page.is_aligned(seg.dest_maddr) {
        return Err(Error::SegmentMisaligned {
            segment: index,
            bound: DestBound::Start,
            addr: seg.dest_maddr,
        });
    }
    // Departure from Xen: the end is computed with an overflow check; a wrap is
    // EADDRNOTAVAIL, not a small end (see the module documentation).
    let Some(end) = seg.dest_end() else {
        return Err(Error::SegmentWraps {
            segment: index,
            dest_maddr: seg.dest_maddr,
            dest_size: seg.dest_size,
        });
    };
    if !page.is_aligned(end) {
        return Err(Error::SegmentMisaligned {
            segment: index,
            bound: DestBound::End,
            addr: end,
        });
    }
    Ok(end)
}

/// Rule 5, for segment `index`: the source fits in the destination.
fn check_buffer(index: u8, seg: &Segment) -> Result<(), Error> {
    if seg.buf_size > seg.dest_size {
        return Err(Error::BufferExceedsDest {
            segment: index,
            buf_size: seg.buf_size,
            dest_size: seg.dest_size,
        });
    }
    Ok(())
}

/// Whether destinations `a` and `b` (half-open) overlap. `&`, not `&&`: no branch, so
/// the pass over all pairs stays branch-free.
#[allow(clippy::needless_bitwise_bool)]
const fn overlap(a: &Segment, a_end: u64, b: &Segment, b_end: u64) -> bool {
    (a.dest_maddr < b_end) & (b.dest_maddr < a_end)
}

/// Rule 4: destinations are pairwise disjoint; `ends` holds each segment's end.
///
/// The ordered pass, run only when some rule may fail (a valid load is accepted by
/// [`passes_all`], in linear time for the orders loaders send). O(n^2) pairs (at most 120
/// at `KEXEC_SEGMENT_MAX` = 16), no allocation: the first loop only asks whether any pair
/// overlaps, branch-free ([`any_overlap`] is the same loop); only when one does, the
/// second looks for the first overlapping pair in `(second, first)` order, as Xen's nested
/// loop finds it, so the error names the same pair whatever the speed-up.
fn check_disjoint(segments: &[Segment], ends: &[u64]) -> Result<(), Error> {
    let mut any = false;
    for (j, (b, &b_end)) in segments.iter().zip(ends).enumerate() {
        for (a, &a_end) in segments.iter().zip(ends).take(j) {
            any |= overlap(a, a_end, b, b_end);
        }
    }
    if !any {
        return Ok(());
    }
    for ((second, b), &b_end) in (0u8..).zip(segments).zip(ends) {
        for ((first, a), &a_end) in (0u8..).zip(segments).zip(ends).take(usize::from(second)) {
            if overlap(a, a_end, b, b_end) {
                return Err(Error::SegmentsOverlap { first, second });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;

    use proptest::prelude::*;
    use std::vec::Vec;

    use super::*;
    use crate::host::MachineRange;

    const PAGE: u64 = 0x1000;
    const CRASH: u64 = 0x100_0000;

    /// Segments a page or so apart, in the orders loaders send and in any order, with
    /// the odd field broken.
    fn segments() -> impl Strategy<Value = Vec<Segment>> {
        // Each segment a gap of 0 to 2 pages after the previous one (so mostly disjoint,
        // and a run of them crosses the crash region's end), or anywhere in the first 24
        // pages from two below the region (so often overlapping).
        let seg = (
            0u64..3,
            0u64..24,
            prop::bool::weighted(0.8),
            0u64..4,
            0u64..4,
            any::<bool>(),
            0u8..100,
        );
        let laid_out = prop::collection::vec(seg, 0..=16).prop_map(|segs| {
            let mut next = CRASH - 2 * PAGE;
            segs.into_iter()
                .map(|(gap, page, chained, pages, buf_pages, buffered, odd)| {
                    let dest = if chained {
                        next + gap * PAGE
                    } else {
                        CRASH - 2 * PAGE + page * PAGE
                    };
                    let mut s = Segment {
                        buf: u64::from(buffered) * 0x8000,
                        // Mostly no larger than the destination.
                        buf_size: buf_pages.min(pages) * PAGE,
                        dest_maddr: dest,
                        dest_size: pages * PAGE,
                    };
                    next = dest + pages * PAGE;
                    match odd {
                        0 => s.dest_maddr += 0x800,
                        1 => s.dest_size += 0x10,
                        2 => s.dest_maddr = u64::MAX - PAGE + 1,
                        3 => s.dest_maddr = 0,
                        4 => s.buf_size = s.dest_size + 1,
                        _ => {}
                    }
                    s
                })
                .collect::<Vec<_>>()
        });
        (laid_out, 0u8..6).prop_map(|(mut v, order)| {
            match order {
                0 => v.sort_by_key(|s| s.dest_maddr),
                1 => v.sort_by_key(|s| core::cmp::Reverse(s.dest_maddr)),
                2 => {
                    // kexec-tools' bufferless low-memory segment, appended last.
                    v.sort_by_key(|s| s.dest_maddr);
                    if let Some(last) = v.last_mut() {
                        last.buf = 0;
                        last.dest_maddr = 0;
                    }
                }
                3 => {
                    // Ascending but for the last, which keeps its buffer and lies below.
                    v.sort_by_key(|s| s.dest_maddr);
                    let n = v.len();
                    v.rotate_left(1.min(n));
                }
                4 => {
                    // Ascending but for the last two: the last lies among the others.
                    v.sort_by_key(|s| s.dest_maddr);
                    let n = v.len();
                    if n >= 2 {
                        v.swap(n - 1, n - 2);
                    }
                }
                _ => {}
            }
            v
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 8192, ..ProptestConfig::default() })]

        /// The fast path accepts exactly what the rules in Xen's order accept, so it
        /// can neither let a broken load through nor cost a valid one the slow path;
        /// the one exception, by design, is a valid load naming a destination start or
        /// size of 2^63 or more (no machine has such memory), which it leaves to the
        /// ordered rules.
        #[test]
        fn fast_path_accepts_exactly_what_the_ordered_rules_accept(
            segs in segments(),
            crash in any::<bool>(),
            arch in prop_oneof![4 => Just(ElfMachine::EM_X86_64), 4 => Just(ElfMachine::EM_386), 1 => Just(ElfMachine(40))],
            entry in prop_oneof![4 => Just(CRASH), 1 => Just(0u64)],
            reserved in prop_oneof![9 => Just(0u8), 1 => Just(1u8)],
            region in prop_oneof![3 => Just(MachineRange::new(CRASH, 16 * PAGE)), 1 => Just(None), 3 => Just(MachineRange::new(CRASH, 64 * PAGE))],
        ) {
            let req = Rules {
                type_: if crash { KexecType::CRASH } else { KexecType::DEFAULT },
                arch,
                entry_maddr: entry,
                segments: &segs,
            };
            let host = HostDescription::x86(region);
            let ordered = first_broken(req, &host, reserved);
            let beyond_2_63 = segs.iter().any(|s| (s.dest_maddr | s.dest_size) >> 63 != 0);
            match passes_all(req, &host, reserved) {
                Some(mode) => prop_assert_eq!(ordered, Ok(mode)),
                None => prop_assert!(ordered.is_err() || beyond_2_63, "{:?}", ordered),
            }
        }
    }
}
