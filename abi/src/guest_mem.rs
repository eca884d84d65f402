// SPDX-License-Identifier: MIT
//! Guest memory as the decoder sees it: copy bytes in from a guest address, copy bytes
//! out to one. A hypervisor implements [`GuestMemory`] over its `copy_from_guest` /
//! `copy_to_guest`; tests and tools use [`FlatMemory`], one run of bytes at a guest
//! address (one bounds check and one copy per access, as a hypervisor's copy from a
//! mapped buffer), or [`SparseMemory`], any number of byte regions at chosen guest
//! addresses. Neither needs `std` or a heap.
//!
//! A fault is a [`GuestFault`] (`EFAULT`), naming the address, length and direction of
//! the access; the decoder turns it into [`Error::GuestFault`](crate::Error::GuestFault). Address arithmetic is checked: an access whose last byte
//! would lie beyond 2^64 - 1 is a fault, never a wrap to address 0 and never a panic.

use core::fmt;

use zerocopy::{FromBytes, Immutable, IntoBytes};

use crate::error::{Access, GuestFault};

mod flat;
pub use flat::FlatMemory;

/// Byte access to a guest's memory.
///
/// Both methods take `&mut self`: an implementation may keep state per access (a mapping
/// cache, an access log, a test double that changes the guest's bytes after each read).
/// An access either succeeds in full or fails with a [`GuestFault`]; after a
/// failed read the contents of `buf` are unspecified, and callers discard them.
///
/// ```
/// use xen_kexec_abi::guest_mem::{GuestMemory, GuestRegion, SparseMemory};
/// let mut page = [0u8; 4096];
/// let mut regions = [GuestRegion { base: 0x10_0000, bytes: &mut page[..] }];
/// let mut mem = SparseMemory::new(&mut regions).unwrap();
/// mem.write(0x10_0010, &[1, 2, 3]).unwrap();
/// let mut buf = [0u8; 3];
/// mem.read(0x10_0010, &mut buf).unwrap();
/// assert_eq!(buf, [1, 2, 3]);
/// assert_eq!(mem.read(0x20_0000, &mut buf).unwrap_err().errno(), xen_kexec_abi::Errno::EFAULT);
/// ```
pub trait GuestMemory {
    /// Copies `buf.len()` bytes starting at guest address `addr` into `buf`.
    ///
    /// # Errors
    /// A [`GuestFault`] with [`Access::Read`] if any byte cannot be read.
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), GuestFault>;

    /// Copies `bytes` to guest memory starting at guest address `addr`.
    ///
    /// # Errors
    /// A [`GuestFault`] with [`Access::Write`] if any byte cannot be written.
    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), GuestFault>;

    /// Not for implementations outside this crate, which keep this default (they cannot
    /// name the last argument's type): the bytes at `[addr, addr + len)` if this memory
    /// holds them in one Rust slice, which nothing can change while it is lent.
    /// [`FlatMemory`] and [`SparseMemory`] lend; the load decoder then copies a segment
    /// array and checks it in one pass, each segment copied as bytes and checked in
    /// registers loaded from the same lent bytes. Other memories answer `None`, and the
    /// decoder copies with [`read`](Self::read), then checks the copy.
    #[doc(hidden)]
    fn lend(&self, addr: u64, len: usize, _: Sealed) -> Option<&[u8]> {
        let _ = (addr, len);
        None
    }
}

/// The argument only this crate can pass to, or name in, [`GuestMemory::lend`].
mod sealed {
    /// See [`GuestMemory::lend`](super::GuestMemory::lend).
    #[derive(Clone, Copy, Debug)]
    pub struct Sealed(pub(crate) ());
}
pub(crate) use sealed::Sealed;

impl<M: GuestMemory + ?Sized> GuestMemory for &mut M {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), GuestFault> {
        (**self).read(addr, buf)
    }

    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), GuestFault> {
        (**self).write(addr, bytes)
    }

    fn lend(&self, addr: u64, len: usize, sealed: Sealed) -> Option<&[u8]> {
        (**self).lend(addr, len, sealed)
    }
}

/// `M` seen only through [`GuestMemory::read`] and [`GuestMemory::write`], as a
/// hypervisor's `copy_from_guest` is: the load decoder copies a segment array out of it
/// and then checks the copy, where over [`FlatMemory`] or [`SparseMemory`] themselves it
/// checks each segment as it copies it (see [`GuestMemory::lend`]). The answers are the
/// same; the tests and the benchmark use it to show both paths.
///
/// ```
/// use xen_kexec_abi::guest_mem::{Copying, FlatMemory, GuestMemory};
/// let bytes = [1u8, 2, 3, 4];
/// let mut mem = Copying(FlatMemory::new(0x1000, &bytes[..]).unwrap());
/// let mut two = [0u8; 2];
/// mem.read(0x1002, &mut two).unwrap();
/// assert_eq!(two, [3, 4]);
/// ```
#[derive(Debug)]
pub struct Copying<M>(pub M);

impl<M: GuestMemory> GuestMemory for Copying<M> {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), GuestFault> {
        self.0.read(addr, buf)
    }

    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), GuestFault> {
        self.0.write(addr, bytes)
    }
}

/// Reads one `T` at `addr` with a single [`GuestMemory::read`] of `size_of::<T>()` bytes.
///
/// # Errors
/// The fault of the read.
///
/// ```
/// use xen_kexec_abi::guest_mem::{read_object, GuestRegion, SparseMemory};
/// use xen_kexec_abi::x86_64::KexecExec;
/// let bytes = [1u8, 0, 0, 0];
/// let mut regions = [GuestRegion { base: 0x1000, bytes: &bytes[..] }];
/// let mut mem = SparseMemory::new(&mut regions).unwrap();
/// let exec: KexecExec = read_object(&mut mem, 0x1000).unwrap();
/// assert_eq!(exec.type_, xen_kexec_abi::KexecExecType::CRASH);
/// ```
pub fn read_object<T, M>(mem: &mut M, addr: u64) -> Result<T, GuestFault>
where
    T: FromBytes + IntoBytes,
    M: GuestMemory + ?Sized,
{
    let mut obj = T::new_zeroed();
    mem.read(addr, obj.as_mut_bytes())?;
    Ok(obj)
}

/// Writes `obj` at `addr` with a single [`GuestMemory::write`].
///
/// # Errors
/// The fault of the write.
pub fn write_object<T, M>(mem: &mut M, addr: u64, obj: &T) -> Result<(), GuestFault>
where
    T: IntoBytes + Immutable,
    M: GuestMemory + ?Sized,
{
    mem.write(addr, obj.as_bytes())
}

/// The backing bytes of one [`GuestRegion`]: read-only (`&[u8]`) or writable
/// (`&mut [u8]`, `[u8; N]`). Writes to a read-only region fault.
pub trait RegionBytes {
    /// Whether [`bytes_mut`](Self::bytes_mut) gives access.
    const WRITABLE: bool;
    /// The region's bytes.
    fn bytes(&self) -> &[u8];
    /// The region's bytes for writing, or `None` if the region is read-only.
    fn bytes_mut(&mut self) -> Option<&mut [u8]>;
}

impl RegionBytes for &[u8] {
    const WRITABLE: bool = false;

    fn bytes(&self) -> &[u8] {
        self
    }

    fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        None
    }
}

impl RegionBytes for &mut [u8] {
    const WRITABLE: bool = true;

    fn bytes(&self) -> &[u8] {
        self
    }

    fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        Some(self)
    }
}

impl<const N: usize> RegionBytes for [u8; N] {
    const WRITABLE: bool = true;

    fn bytes(&self) -> &[u8] {
        self
    }

    fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        Some(self)
    }
}

/// Guest bytes at a guest address: `bytes` occupy `[base, base + bytes.len())`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestRegion<B> {
    /// The guest address of the first byte.
    pub base: u64,
    /// The bytes.
    pub bytes: B,
}

impl<B: RegionBytes> GuestRegion<B> {
    /// The address of the last byte, or `None` for an empty region. `Err` if the region
    /// runs past 2^64 - 1.
    fn last(&self) -> Result<Option<u64>, ()> {
        let len = self.bytes.bytes().len();
        let Some(extra) = len.checked_sub(1) else {
            return Ok(None);
        };
        let extra = u64::try_from(extra).map_err(|_| ())?;
        self.base.checked_add(extra).map(Some).ok_or(())
    }

    /// Whether `addr` is one of this region's bytes.
    fn holds(&self, addr: u64) -> bool {
        matches!(self.last(), Ok(Some(last)) if self.base <= addr && addr <= last)
    }
}

/// Why a set of regions cannot form a [`SparseMemory`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RegionError {
    /// Region `index` runs past the top of the 64-bit address space.
    Wraps {
        /// The index of the region in the slice given.
        index: usize,
    },
    /// Regions `first` and `second` (`first < second`) share an address.
    Overlap {
        /// The index of the earlier region.
        first: usize,
        /// The index of the later region.
        second: usize,
    },
}

impl RegionError {
    /// The name of the rule broken: the variant's name, which is its serde tag
    /// (`"Wraps"`, `"Overlap"`).
    pub const fn rule(&self) -> &'static str {
        match self {
            RegionError::Wraps { .. } => "Wraps",
            RegionError::Overlap { .. } => "Overlap",
        }
    }
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RegionError::Wraps { index } => {
                write!(f, "region {index} runs past the top of the address space")
            }
            RegionError::Overlap { first, second } => {
                write!(f, "regions {first} and {second} overlap")
            }
        }
    }
}

impl core::error::Error for RegionError {}

/// Guest memory made of disjoint regions at chosen guest addresses; every other address
/// faults. Borrows its regions, so it needs no heap.
///
/// An access may span regions that touch (the end of one is the base of the next), as
/// it would span pages of a real guest. An access is checked in full before any byte is
/// copied, so a faulting write changes nothing. A zero-length access always succeeds.
///
/// [`new`](Self::new) sorts the caller's regions in place by base address (regions
/// without bytes last), in O(n log n) time and no extra memory; each access then finds
/// its region by binary search, in O(log n). For one region, [`FlatMemory`] is simpler.
///
/// ```
/// use xen_kexec_abi::guest_mem::{GuestMemory, GuestRegion, RegionError, SparseMemory};
/// let (a, b) = ([1u8; 8], [2u8; 8]);
/// let mut regions = [
///     GuestRegion { base: 0x1008, bytes: &b[..] },
///     GuestRegion { base: 0x1000, bytes: &a[..] },
/// ];
/// let mut mem = SparseMemory::new(&mut regions).unwrap();
/// let mut buf = [0u8; 4];
/// mem.read(0x1006, &mut buf).unwrap(); // spans the two touching regions
/// assert_eq!(buf, [1, 1, 2, 2]);
/// assert_eq!(mem.regions()[0].base, 0x1000); // sorted by base
///
/// let mut overlapping = [
///     GuestRegion { base: 0x1004, bytes: &b[..] },
///     GuestRegion { base: 0x1000, bytes: &a[..] },
/// ];
/// // Indices of the sorted regions: 0x1000 is now first.
/// assert_eq!(
///     SparseMemory::new(&mut overlapping).unwrap_err(),
///     RegionError::Overlap { first: 0, second: 1 }
/// );
/// assert_eq!(overlapping[0].base, 0x1000);
/// ```
#[derive(Debug)]
pub struct SparseMemory<'r, B> {
    /// Sorted by base, the regions with bytes first.
    regions: &'r mut [GuestRegion<B>],
    /// How many regions have bytes: `regions[..backed]`, pairwise disjoint.
    backed: usize,
}

/// One piece of an access: inside region `region`, from byte `offset` of it, `len` bytes,
/// which are bytes `at..at + len` of the access.
#[derive(Clone, Copy)]
struct Piece {
    region: usize,
    offset: usize,
    at: usize,
    len: usize,
}

impl<'r, B: RegionBytes> SparseMemory<'r, B> {
    /// Guest memory over `regions`, which it sorts in place: by base address, the
    /// regions without bytes after all the others.
    ///
    /// # Errors
    /// [`RegionError::Wraps`] for a region that runs past 2^64 - 1 (one ending exactly
    /// at 2^64 is fine), found before anything moves, so its index is the one given;
    /// [`RegionError::Overlap`] for two regions sharing an address, found after the
    /// sort, so its indices are positions in the sorted slice, which the caller can
    /// look at (the lowest-addressed such pair is named).
    pub fn new(regions: &'r mut [GuestRegion<B>]) -> Result<Self, RegionError> {
        if let Some(index) = regions.iter().position(|r| r.last().is_err()) {
            return Err(RegionError::Wraps { index });
        }
        regions.sort_unstable_by_key(|r| (r.bytes.bytes().is_empty(), r.base));
        let backed = regions.partition_point(|r| !r.bytes.bytes().is_empty());
        // Sorted and non-empty: two regions share an address only if some region
        // reaches the next one's base.
        let sorted = regions.get(..backed).unwrap_or(&[]);
        for (first, pair) in sorted.windows(2).enumerate() {
            if let [earlier, later] = pair {
                if matches!(earlier.last(), Ok(Some(last)) if later.base <= last) {
                    return Err(RegionError::Overlap {
                        first,
                        second: first + 1,
                    });
                }
            }
        }
        Ok(SparseMemory { regions, backed })
    }

    /// The regions, sorted by base address, those without bytes last.
    pub fn regions(&self) -> &[GuestRegion<B>] {
        self.regions
    }

    /// The piece of the access `[addr, addr + len)` that starts `at` bytes in, or `None`
    /// if that byte is not backed or its address wraps.
    fn piece(&self, addr: u64, len: usize, at: usize) -> Option<Piece> {
        let cur = addr.checked_add(u64::try_from(at).ok()?)?;
        let backed = self.regions.get(..self.backed)?;
        // The last region starting at or below `cur` is the only one that can hold it.
        let region = backed.partition_point(|r| r.base <= cur).checked_sub(1)?;
        let r = backed.get(region).filter(|r| r.holds(cur))?;
        let offset = usize::try_from(cur - r.base).ok()?;
        let available = r.bytes.bytes().len().checked_sub(offset)?;
        Some(Piece {
            region,
            offset,
            at,
            len: available.min(len - at),
        })
    }

    /// Whether every byte of `[addr, addr + len)` is backed (and writable, if `write`).
    fn check(&self, addr: u64, len: usize, write: bool) -> bool {
        let mut at = 0;
        while at < len {
            match self.piece(addr, len, at) {
                Some(p) if p.len > 0 && (!write || B::WRITABLE) => at += p.len,
                _ => return false,
            }
        }
        true
    }
}

impl<B: RegionBytes> GuestMemory for SparseMemory<'_, B> {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), GuestFault> {
        let len = buf.len();
        let err = || GuestFault::new(addr, len, Access::Read);
        if !self.check(addr, len, false) {
            return Err(err());
        }
        let mut at = 0;
        while at < len {
            let p = self.piece(addr, len, at).ok_or_else(err)?;
            let src = self
                .regions
                .get(p.region)
                .and_then(|r| r.bytes.bytes().get(p.offset..p.offset + p.len));
            let dst = buf.get_mut(p.at..p.at + p.len);
            match (src, dst) {
                (Some(src), Some(dst)) => dst.copy_from_slice(src),
                _ => return Err(err()),
            }
            at += p.len;
        }
        Ok(())
    }

    fn lend(&self, addr: u64, len: usize, _: Sealed) -> Option<&[u8]> {
        // Only what one region holds whole.
        if !self.check(addr, len, false) {
            return None;
        }
        let p = self.piece(addr, len, 0)?;
        if p.len != len {
            return None;
        }
        self.regions
            .get(p.region)?
            .bytes
            .bytes()
            .get(p.offset..p.offset + p.len)
    }

    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), GuestFault> {
        let len = bytes.len();
        let err = || GuestFault::new(addr, len, Access::Write);
        if !self.check(addr, len, true) {
            return Err(err());
        }
        let mut at = 0;
        while at < len {
            let p = self.piece(addr, len, at).ok_or_else(err)?;
            let dst = self
                .regions
                .get_mut(p.region)
                .and_then(|r| r.bytes.bytes_mut())
                .and_then(|b| b.get_mut(p.offset..p.offset + p.len));
            let src = bytes.get(p.at..p.at + p.len);
            match (src, dst) {
                (Some(src), Some(dst)) => dst.copy_from_slice(src),
                _ => return Err(err()),
            }
            at += p.len;
        }
        Ok(())
    }
}

#[cfg(all(test, feature = "serde"))]
mod rule_tests {
    use super::RegionError;

    #[test]
    fn every_region_error_rule_is_its_serde_tag() {
        for e in [
            RegionError::Wraps { index: 0 },
            RegionError::Overlap {
                first: 0,
                second: 1,
            },
        ] {
            // Exhaustive: a new variant fails to compile here until it is listed.
            match e {
                RegionError::Wraps { .. } | RegionError::Overlap { .. } => {}
            }
            assert_eq!(e.rule(), crate::error::tests::serde_tag(&e));
        }
    }
}
