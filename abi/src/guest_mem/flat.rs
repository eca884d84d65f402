// SPDX-License-Identifier: MIT
//! [`FlatMemory`]: guest memory that is one run of bytes, the memory to measure a decoder
//! on.

use crate::error::{Access, GuestFault};

use super::{GuestMemory, GuestRegion, RegionBytes, RegionError, Sealed};

/// Guest memory that is one run of bytes at a guest address: `bytes` occupy
/// `[base, base + bytes.len())` and every other address faults. Each access is one
/// bounds check and one copy, as a hypervisor's `copy_from_guest` on a mapped buffer
/// is, so it is the memory to measure a decoder on. A zero-length access always
/// succeeds, as for [`SparseMemory`](super::SparseMemory).
///
/// ```
/// use xen_kexec_abi::guest_mem::{FlatMemory, GuestMemory, RegionError};
/// use xen_kexec_abi::{Access, GuestFault};
/// let mut page = [0u8; 4096];
/// let mut mem = FlatMemory::new(0x10_0000, &mut page[..]).unwrap();
/// mem.write(0x10_0ffe, &[1, 2]).unwrap();
/// let mut buf = [0u8; 2];
/// mem.read(0x10_0ffe, &mut buf).unwrap();
/// assert_eq!(buf, [1, 2]);
/// // One byte past the end: the whole access faults.
/// assert_eq!(
///     mem.read(0x10_0fff, &mut buf),
///     Err(GuestFault { addr: 0x10_0fff, len: 2, access: Access::Read })
/// );
/// // Bytes that would run past 2^64 - 1 are refused up front.
/// assert_eq!(FlatMemory::new(u64::MAX, &[0u8; 2][..]).unwrap_err(), RegionError::Wraps { index: 0 });
/// ```
#[derive(Debug)]
pub struct FlatMemory<B> {
    base: u64,
    bytes: B,
}

impl<B: RegionBytes> FlatMemory<B> {
    /// Guest memory of `bytes` at guest address `base`.
    ///
    /// # Errors
    /// [`RegionError::Wraps`] (index 0) if the bytes run past 2^64 - 1 (ending exactly
    /// at 2^64 is fine).
    pub fn new(base: u64, bytes: B) -> Result<Self, RegionError> {
        let region = GuestRegion { base, bytes };
        match region.last() {
            Ok(_) => Ok(FlatMemory {
                base: region.base,
                bytes: region.bytes,
            }),
            Err(()) => Err(RegionError::Wraps { index: 0 }),
        }
    }

    /// The guest address of the first byte.
    pub const fn base(&self) -> u64 {
        self.base
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.bytes()
    }

    /// The offset of `addr` in the bytes (`addr - base`, wrapping: an address below
    /// `base` gives an offset past any slice, so the slice's own bounds check refuses
    /// it). `new` refused bytes past 2^64 - 1, so no range inside the bytes wraps.
    fn offset(&self, addr: u64) -> Option<usize> {
        usize::try_from(addr.wrapping_sub(self.base)).ok()
    }
}

impl<B: RegionBytes> GuestMemory for FlatMemory<B> {
    #[inline]
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), GuestFault> {
        let len = buf.len();
        let bytes = self.bytes.bytes();
        // The one bounds check: the offset is inside, and `len` bytes follow it.
        match self.offset(addr).and_then(|o| bytes.get(o..)?.get(..len)) {
            Some(src) => {
                buf.copy_from_slice(src);
                Ok(())
            }
            None if len == 0 => Ok(()),
            None => Err(GuestFault::new(addr, len, Access::Read)),
        }
    }

    #[inline]
    fn lend(&self, addr: u64, len: usize, _: Sealed) -> Option<&[u8]> {
        self.offset(addr)
            .and_then(|o| self.bytes.bytes().get(o..)?.get(..len))
    }

    #[inline]
    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), GuestFault> {
        let len = bytes.len();
        let offset = self.offset(addr);
        let dst = self
            .bytes
            .bytes_mut()
            .zip(offset)
            .and_then(|(all, o)| all.get_mut(o..)?.get_mut(..len));
        match dst {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                Ok(())
            }
            None if len == 0 => Ok(()),
            None => Err(GuestFault::new(addr, len, Access::Write)),
        }
    }
}
