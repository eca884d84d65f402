// SPDX-License-Identifier: MIT
//! `KEXEC_CMD_kexec_get_range`: the question a guest asks, and writing the hypervisor's
//! answer back in the guest's layout.
//!
//! As in Xen 4.23 (`kexec_get_range` and `kexec_get_range_compat`): the whole
//! `xen_kexec_range_t` is read once (16 bytes from a 32-bit guest, 24 from a 64-bit
//! one), an undefined range kind is refused with `EINVAL`, and the answer is written
//! back as the whole structure. For a 32-bit guest, a `size` or `start` that does not fit
//! its 4-byte `unsigned long` is refused with `ERANGE` and **nothing is written**, never
//! truncated (the narrowing is [`crate::compat`]'s `TryFrom`).

use crate::guest_mem::{read_object, write_object, GuestMemory};
use crate::{x86_32, x86_64, Error, GuestAbi, KexecRangeKind};

/// A decoded get_range request: where it came from and what it asks.
///
/// ```
/// use xen_kexec_abi::decode::{decode, Operation};
/// use xen_kexec_abi::guest_mem::{GuestMemory, GuestRegion, SparseMemory};
/// use xen_kexec_abi::host::HostDescription;
/// use xen_kexec_abi::{x86_32, Errno, GuestAbi, KexecCmd, KexecRangeKind};
/// use zerocopy::{FromBytes, IntoBytes};
///
/// let mut page = [0u8; 16];
/// x86_32::KexecRange { range: KexecRangeKind::MA_CRASH, nr: 0, size: 0, start: 0 }
///     .write_to(&mut page[..]).unwrap();
/// let mut regions = [GuestRegion { base: 0x3000, bytes: &mut page[..] }];
/// let mut mem = SparseMemory::new(&mut regions).unwrap();
/// let Ok(Operation::GetRange(q)) =
///     decode(GuestAbi::X86_32, KexecCmd::GET_RANGE, 0x3000, &mut mem, &HostDescription::x86(None))
/// else { panic!() };
/// // An answer above 4 GiB cannot be given to a 32-bit guest.
/// assert_eq!(q.complete(&mut mem, 0x1000, 1 << 32).unwrap_err().errno(), Errno::ERANGE);
/// q.complete(&mut mem, 0x800_0000, 0x1000_0000).unwrap();
/// let mut reply = [0u8; 16];
/// mem.read(0x3000, &mut reply).unwrap();
/// let reply = x86_32::KexecRange::read_from_bytes(&reply).unwrap();
/// assert_eq!((reply.size, reply.start), (0x800_0000, 0x1000_0000));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RangeQuery {
    /// The width of the guest that asked: the layout of the answer.
    pub abi: GuestAbi,
    /// The guest address of its `xen_kexec_range_t`, where the answer goes.
    pub arg: u64,
    /// Which range (a defined `KEXEC_RANGE_MA_*` kind).
    pub range: KexecRangeKind,
    /// For `KEXEC_RANGE_MA_CPU`, the physical CPU; otherwise as the guest passed it.
    pub nr: i32,
}

impl RangeQuery {
    /// Writes the answer (`size` bytes at machine address `start`) back to the guest as
    /// its whole `xen_kexec_range_t`, in its layout, with one write.
    ///
    /// # Errors
    /// [`Error::RangeTooWide`] (`ERANGE`) for a 32-bit guest when `size` or `start`
    /// needs more than 32 bits: nothing is written. [`Error::GuestFault`] (`EFAULT`) if
    /// the write faults.
    pub fn complete<M: GuestMemory + ?Sized>(
        &self,
        mem: &mut M,
        size: u64,
        start: u64,
    ) -> Result<(), Error> {
        let wide = x86_64::KexecRange {
            range: self.range,
            nr: self.nr,
            size,
            start,
        };
        match self.abi {
            GuestAbi::X86_64 => Ok(write_object(mem, self.arg, &wide)?),
            GuestAbi::X86_32 => {
                let narrow = x86_32::KexecRange::try_from(wide)?;
                Ok(write_object(mem, self.arg, &narrow)?)
            }
        }
    }

    /// Reads `xen_kexec_range_t` at `arg` in the layout of `abi`: the decoder's
    /// [`get_range`](crate::decode::get_range).
    pub(crate) fn read<M: GuestMemory + ?Sized>(
        abi: GuestAbi,
        mem: &mut M,
        arg: u64,
    ) -> Result<RangeQuery, Error> {
        let (range, nr) = match abi {
            GuestAbi::X86_64 => {
                let r = read_object::<x86_64::KexecRange, M>(mem, arg)?;
                (r.range, r.nr)
            }
            GuestAbi::X86_32 => {
                let r = read_object::<x86_32::KexecRange, M>(mem, arg)?;
                (r.range, r.nr)
            }
        };
        if !range.is_known() {
            return Err(Error::UnknownRangeKind { range });
        }
        Ok(RangeQuery {
            abi,
            arg,
            range,
            nr,
        })
    }
}
