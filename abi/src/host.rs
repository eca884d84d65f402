// SPDX-License-Identifier: MIT
//! What the hypervisor tells the load rules about itself: its page size and its crash
//! region. Nothing else is global; Xen reads both from globals (`PAGE_SIZE`,
//! `kexec_crash_area`), this crate takes them as an argument so that one build can serve
//! any host and tests can describe any host.

/// A page size: a power of two, so alignment is a mask test and never divides by zero.
///
/// ```
/// use xen_kexec_abi::host::PageSize;
/// assert_eq!(PageSize::X86.get(), 4096);
/// assert!(PageSize::X86.is_aligned(0x20_0000));
/// assert!(!PageSize::X86.is_aligned(0x20_0800));
/// assert_eq!(PageSize::new(3000), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageSize(u64);

impl PageSize {
    /// 4 KiB, the page size of x86 (Xen's `PAGE_SIZE`).
    pub const X86: PageSize = PageSize(4096);

    /// A page size of `bytes`, if that is a power of two.
    pub const fn new(bytes: u64) -> Option<PageSize> {
        if bytes.is_power_of_two() {
            Some(PageSize(bytes))
        } else {
            None
        }
    }

    /// The size in bytes.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// Whether `addr` is a multiple of the page size.
    pub const fn is_aligned(self, addr: u64) -> bool {
        addr & (self.0 - 1) == 0
    }
}

/// A range of machine addresses `[start, start + size)` that lies within the 64-bit
/// address space: its end is at most 2^64, so a range may end exactly at the top of
/// memory (its last byte at `u64::MAX`).
///
/// Such a range has no `u64` end, so [`end`](Self::end) is an `Option` and
/// [`contains`](Self::contains) and [`covers`](Self::covers) never compute one: a crash
/// region reserved at the very top of memory stays a region, never "no region".
///
/// ```
/// use xen_kexec_abi::host::MachineRange;
/// let r = MachineRange::new(0x1000_0000, 0x800_0000).unwrap();
/// assert_eq!(r.end(), Some(0x1800_0000));
/// assert!(r.contains(0x17ff_ffff));
/// assert!(!r.contains(0x1800_0000)); // one past the end is outside
///
/// // Ending exactly at 2^64 is valid; one byte more is not.
/// let top = MachineRange::new(u64::MAX - 0xfff, 0x1000).unwrap();
/// assert_eq!((top.end(), top.last()), (None, Some(u64::MAX)));
/// assert!(top.contains(u64::MAX));
/// assert_eq!(MachineRange::new(u64::MAX, 2), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MachineRange {
    start: u64,
    size: u64,
}

impl MachineRange {
    /// The range of `size` bytes at `start`, if it ends at or below 2^64
    /// (`start + size <= 2^64`).
    pub const fn new(start: u64, size: u64) -> Option<MachineRange> {
        // `start + size <= 2^64` is `size <= 2^64 - start`, and `2^64 - start` is
        // `(u64::MAX - start) + 1`, which overflows only for `start == 0`, where every
        // size fits.
        if start == 0 || size <= (u64::MAX - start) + 1 {
            Some(MachineRange { start, size })
        } else {
            None
        }
    }

    /// The first address.
    pub const fn start(self) -> u64 {
        self.start
    }

    /// The size in bytes.
    pub const fn size(self) -> u64 {
        self.size
    }

    /// One past the last address, or `None` for a range that ends exactly at 2^64,
    /// which no `u64` can hold.
    pub const fn end(self) -> Option<u64> {
        self.start.checked_add(self.size)
    }

    /// The last address in the range, or `None` for an empty range.
    pub const fn last(self) -> Option<u64> {
        match self.size {
            0 => None,
            // Cannot overflow: `new` refused any range that ends past 2^64.
            n => Some(self.start + (n - 1)),
        }
    }

    /// Whether `addr` lies in `[start, start + size)`.
    pub const fn contains(self, addr: u64) -> bool {
        // `addr - start` cannot underflow once `start <= addr`.
        self.start <= addr && addr - self.start < self.size
    }

    /// Whether `other` lies within this range (an empty range at this range's end counts
    /// as inside). Unlike [`covers`](Self::covers), `other` may end exactly at 2^64.
    pub const fn covers_range(self, other: MachineRange) -> bool {
        // Offsets from this range's start: no end is ever computed.
        other.start >= self.start
            && other.size <= self.size
            && other.start - self.start <= self.size - other.size
    }

    /// Whether `[start, end)` lies within this range (an empty range at this range's
    /// end counts as inside).
    pub const fn covers(self, start: u64, end: u64) -> bool {
        // Offsets from this range's start, so that its end (perhaps 2^64) is never
        // computed.
        self.start <= start && start <= end && end - self.start <= self.size
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)] // a test's expectations
mod tests {
    use super::MachineRange;

    /// A crash region whose last byte is the last byte of the address space is a
    /// region: `new` keeps it, and membership is exact at both of its edges.
    #[test]
    fn a_range_ending_exactly_at_2_pow_64_is_valid_and_exact() {
        let start = u64::MAX - 0xfff_ffff; // 256 MiB below 2^64
        let r = MachineRange::new(start, 0x1000_0000).expect("ends at 2^64");
        assert_eq!(r.end(), None);
        assert_eq!(r.last(), Some(u64::MAX));
        assert!(r.contains(start) && r.contains(u64::MAX));
        assert!(!r.contains(start - 1));
        assert!(r.covers(start, start + 0x1000));
        assert!(r.covers(u64::MAX - 0xfff, u64::MAX));
        assert!(!r.covers(start - 0x1000, start + 0x1000));
        // A range that ends at 2^64 too is covered by one that does.
        let top = MachineRange::new(u64::MAX - 0xfff, 0x1000).expect("ends at 2^64");
        assert!(r.covers_range(top) && r.covers_range(r) && !top.covers_range(r));
        let below = MachineRange::new(start - 0x1000, 0x2000).expect("fits");
        assert!(!r.covers_range(below));
        // The whole address space is one range too.
        let all = MachineRange::new(0, u64::MAX).expect("fits");
        assert!(all.contains(u64::MAX - 1) && !all.contains(u64::MAX));
        // One byte past 2^64 is refused, at any start.
        assert_eq!(MachineRange::new(start, 0x1000_0001), None);
        assert_eq!(MachineRange::new(u64::MAX, 2), None);
        assert_eq!(MachineRange::new(2, u64::MAX), None);
        assert_eq!(
            MachineRange::new(1, u64::MAX).map(MachineRange::last),
            Some(Some(u64::MAX))
        );
    }

    #[test]
    fn empty_and_ordinary_ranges() {
        let r = MachineRange::new(0x1000, 0x2000).expect("fits");
        assert_eq!((r.end(), r.last()), (Some(0x3000), Some(0x2fff)));
        assert!(r.covers(0x3000, 0x3000) && !r.covers(0x3000, 0x3001));
        let empty = MachineRange::new(0x1000, 0).expect("fits");
        assert_eq!((empty.end(), empty.last()), (Some(0x1000), None));
        assert!(!empty.contains(0x1000));
    }
}

/// Which statement of the load rules a host follows. [`Strict`](Self::Strict), the
/// default, is this crate's: Xen's rules with Xen's weaknesses fixed.
/// [`Xen`](Self::Xen) keeps the two departures that would make a hypervisor answer
/// differently from Xen's C to callers Xen accepts today, for Xen itself when it calls
/// this crate (see `xen/README.md`):
///
/// - at most 15 segments, as Xen's `nr_segments >= KEXEC_SEGMENT_MAX` test; 16 is
///   refused (`EINVAL`, [`Error::TooManySegments`](crate::Error::TooManySegments));
/// - the reserved `_pad` byte is ignored, as Xen does: libxenctrl's `xc_kexec_load` never
///   writes it, so it holds whatever the hypercall buffer held.
///
/// Every other rule (the wrap check, the crash entry inside the region, the order of the
/// rules) is the same in both.
///
/// ```
/// use xen_kexec_abi::host::RuleProfile;
/// assert_eq!(RuleProfile::Strict.max_segments(), 16);
/// assert_eq!(RuleProfile::Xen.max_segments(), 15);
/// assert_eq!(RuleProfile::Xen.reserved(0xff), 0); // ignored
/// assert_eq!(RuleProfile::Strict.reserved(0xff), 0xff); // refused by the rules
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RuleProfile {
    /// This crate's rules: 16 segments accepted, a non-zero `_pad` refused.
    #[default]
    Strict = 0,
    /// Xen's answers: at most 15 segments, `_pad` ignored.
    Xen = 1,
}

impl RuleProfile {
    /// The most segments a load may have.
    pub const fn max_segments(self) -> u32 {
        // Without a branch (the decoder's hot path): Strict is 0, Xen 1.
        crate::consts::KEXEC_SEGMENT_MAX - self as u32
    }

    /// The reserved byte the rules check: `pad` itself, or 0 where it is ignored.
    pub const fn reserved(self, pad: u8) -> u8 {
        // A mask without a branch: 0xff for Strict (0), 0 for Xen (1).
        pad & (self as u8).wrapping_sub(1)
    }
}

/// The host facts the load rules need, supplied by the hypervisor.
///
/// ```
/// use xen_kexec_abi::host::{HostDescription, MachineRange};
/// let host = HostDescription::x86(MachineRange::new(0x1000_0000, 0x1000_0000));
/// assert_eq!(host.page_size.get(), 4096);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HostDescription {
    /// The page size that segment destinations must be aligned to.
    pub page_size: PageSize,
    /// The machine range reserved for the crash image (Xen's `kexec_crash_area`), or
    /// `None` when the host reserves none: every crash load is then refused.
    pub crash_region: Option<MachineRange>,
    /// Which statement of the rules to apply ([`RuleProfile::Strict`] unless the host is
    /// Xen itself).
    pub profile: RuleProfile,
}

impl HostDescription {
    /// An x86 host (4 KiB pages) with the given crash region, under the strict rules.
    pub const fn x86(crash_region: Option<MachineRange>) -> HostDescription {
        HostDescription {
            page_size: PageSize::X86,
            crash_region,
            profile: RuleProfile::Strict,
        }
    }

    /// This host under `profile`.
    ///
    /// ```
    /// use xen_kexec_abi::host::{HostDescription, RuleProfile};
    /// let xen = HostDescription::x86(None).with_profile(RuleProfile::Xen);
    /// assert_eq!(xen.profile.max_segments(), 15);
    /// ```
    #[must_use]
    pub const fn with_profile(self, profile: RuleProfile) -> HostDescription {
        HostDescription { profile, ..self }
    }
}
