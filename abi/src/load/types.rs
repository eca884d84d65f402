// SPDX-License-Identifier: MIT
//! The types of a load, independent of the guest's width: a [`Segment`], a
//! [`SegmentList`] of at most `KEXEC_SEGMENT_MAX`, the toolstack's [`LoadRequest`], and
//! the [`ValidatedLoad`] that only the rules make.

use core::fmt;

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::consts::KEXEC_SEGMENT_MAX;
use crate::entry::EntryMode;
use crate::enums::{ElfMachine, KexecType};
use crate::error::Error;
use crate::host::{HostDescription, MachineRange};
use crate::layout::size_of_return;
use crate::x86_64;

use super::rules::check_count;
use super::sweep::check_rules;

/// The capacity of a [`SegmentList`]: `KEXEC_SEGMENT_MAX`.
pub(crate) const CAPACITY: usize = KEXEC_SEGMENT_MAX as usize;

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

    /// `dest_maddr + dest_size`, or `None` if it does not fit in a `u64`: it wraps past
    /// 2^64, or ends exactly there (a valid destination: see
    /// [`dest_range`](Self::dest_range)).
    pub const fn dest_end(&self) -> Option<u64> {
        self.dest_maddr.checked_add(self.dest_size)
    }

    /// The destination as a machine range, or `None` if it wraps past 2^64. A
    /// destination may end exactly at 2^64 (its last byte at `u64::MAX`), as Xen's
    /// check admits it.
    ///
    /// ```
    /// use xen_kexec_abi::load::Segment;
    /// let top = Segment { buf: 0, buf_size: 0, dest_maddr: u64::MAX - 0xfff, dest_size: 0x1000 };
    /// assert_eq!(top.dest_end(), None);
    /// assert_eq!(top.dest_range().map(|r| r.last()), Some(Some(u64::MAX)));
    /// let wraps = Segment { dest_size: 0x2000, ..top };
    /// assert_eq!(wraps.dest_range(), None);
    /// ```
    pub const fn dest_range(&self) -> Option<MachineRange> {
        MachineRange::new(self.dest_maddr, self.dest_size)
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
    /// How many of `items` are segments of the list.
    pub(crate) len: u8,
    /// The storage; only `items[..len]` are segments of the list.
    pub(crate) items: [Segment; CAPACITY],
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

    /// Checks every rule of [`rules`](super::rules) (all but the decoder-only copies
    /// and `_pad` rule) against `host`, in Xen's order.
    ///
    /// # Errors
    /// The first rule broken, in the order listed there.
    pub fn validate(&self, host: &HostDescription) -> Result<ValidatedLoad, Error> {
        // At most 16 segments fit in the list; the Xen profile allows 15.
        let count = u32::try_from(self.segments.len()).unwrap_or(u32::MAX);
        check_count(count, host.profile)?;
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
    /// DEFAULT or CRASH.
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub(crate) type_: KexecType,
    /// The image's ELF machine.
    pub(crate) arch: ElfMachine,
    /// How Xen enters the image.
    pub(crate) entry_mode: EntryMode,
    /// Machine address of the entry point.
    pub(crate) entry_maddr: u64,
    /// The segments.
    pub(crate) segments: SegmentList,
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
