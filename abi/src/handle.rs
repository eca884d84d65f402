// SPDX-License-Identifier: MIT
//! Guest handles: `union { XEN_GUEST_HANDLE(T) h; uint64_t _pad; }`, 8 bytes on every arch.

use core::fmt;
use core::hash::{Hash, Hasher};
use core::marker::PhantomData;

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::GuestAbi;

/// A guest address of a `T`, as the kexec structures carry it: Xen's
/// `union { XEN_GUEST_HANDLE(T) h; uint64_t _pad; }`.
///
/// The union is 8 bytes on every arch; its alignment is that of a `uint64_t` member, which
/// the enclosing structure's layout supplies (4 on x86_32, 8 elsewhere). zerocopy cannot
/// derive byte conversions for a Rust `union`, and none is needed: the union is modelled
/// as the 64-bit integer it occupies, tagged with the pointee type.
///
/// **32-bit guests.** On x86_32 the handle member is `struct { T *p; }`, 4 bytes, so a
/// 32-bit guest's compiler fills only the **low 4 bytes** (little-endian) of the 8; the
/// upper 4 bytes are whatever the guest left there (often garbage from an uninitialised
/// stack). Read a 32-bit guest's handle with [`addr`](Self::addr) and
/// [`GuestAbi::X86_32`], or [`low32`](Self::low32): both ignore the upper half.
/// 64-bit guests (and every Arm guest) use all 8 bytes.
///
/// ```
/// use xen_kexec_abi::{x86_64::KexecSegment, GuestAbi, GuestHandle64};
/// let h = GuestHandle64::<KexecSegment>::from_raw(0xdead_beef_0010_0000);
/// assert_eq!(h.addr(GuestAbi::X86_64), 0xdead_beef_0010_0000);
/// assert_eq!(h.addr(GuestAbi::X86_32), 0x0010_0000); // upper bytes ignored
/// ```
#[doc(alias = "XEN_GUEST_HANDLE")]
#[repr(transparent)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct GuestHandle64<T: ?Sized> {
    raw: u64,
    _pointee: PhantomData<T>,
}

impl<T: ?Sized> GuestHandle64<T> {
    /// The null handle.
    pub const NULL: Self = Self::from_raw(0);

    /// A handle from all 8 bytes of the union, as a 64-bit guest writes them.
    pub const fn from_raw(raw: u64) -> Self {
        Self {
            raw,
            _pointee: PhantomData,
        }
    }

    /// A handle as a 32-bit guest writes it: `addr` in the low 4 bytes, zero above.
    pub const fn from_low32(addr: u32) -> Self {
        Self::from_raw(addr as u64)
    }

    /// All 8 bytes of the union as a little-endian integer, upper half included.
    pub const fn raw(self) -> u64 {
        self.raw
    }

    /// The low 4 bytes: the whole handle of a 32-bit guest.
    pub const fn low32(self) -> u32 {
        // Deliberate truncation: a 32-bit guest's handle is exactly these bytes.
        #[allow(clippy::cast_possible_truncation)]
        let low = self.raw as u32;
        low
    }

    /// The guest address this handle holds for a guest of the given ABI: all 8 bytes
    /// for a 64-bit guest, the low 4 for a 32-bit guest.
    pub const fn addr(self, abi: GuestAbi) -> u64 {
        match abi {
            GuestAbi::X86_64 => self.raw,
            GuestAbi::X86_32 => self.low32() as u64,
        }
    }

    /// Whether the address this handle holds for `abi` is zero.
    pub const fn is_null(self, abi: GuestAbi) -> bool {
        self.addr(abi) == 0
    }
}

impl<T: ?Sized> crate::layout::sealed::Sealed for GuestHandle64<T> {}
impl<T: ?Sized> crate::layout::AbiField for GuestHandle64<T> {
    const SIGNED: bool = false;
}

impl<T: ?Sized> Clone for GuestHandle64<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: ?Sized> Copy for GuestHandle64<T> {}
impl<T: ?Sized> PartialEq for GuestHandle64<T> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}
impl<T: ?Sized> Eq for GuestHandle64<T> {}
impl<T: ?Sized> Hash for GuestHandle64<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.raw.hash(state);
    }
}
impl<T: ?Sized> Default for GuestHandle64<T> {
    fn default() -> Self {
        Self::NULL
    }
}
impl<T: ?Sized> fmt::Debug for GuestHandle64<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GuestHandle64({:#x})", self.raw)
    }
}

#[cfg(feature = "serde")]
impl<T: ?Sized> serde::Serialize for GuestHandle64<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.raw)
    }
}

#[cfg(feature = "serde")]
impl<'de, T: ?Sized> serde::Deserialize<'de> for GuestHandle64<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        u64::deserialize(deserializer).map(Self::from_raw)
    }
}

/// The pointee of `XEN_GUEST_HANDLE(const_void)`: untyped guest bytes (a segment's
/// source buffer). Uninhabited; only its name matters.
#[doc(alias = "const_void")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstVoid {}
