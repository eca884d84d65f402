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

/// A range of machine addresses `[start, start + size)` whose end does not wrap past
/// 2^64 (so [`end`](Self::end) is always exact).
///
/// ```
/// use xen_kexec_abi::host::MachineRange;
/// let r = MachineRange::new(0x1000_0000, 0x800_0000).unwrap();
/// assert_eq!(r.end(), 0x1800_0000);
/// assert!(r.contains(0x17ff_ffff));
/// assert!(!r.contains(0x1800_0000)); // one past the end is outside
/// assert_eq!(MachineRange::new(u64::MAX, 2), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MachineRange {
    start: u64,
    size: u64,
}

impl MachineRange {
    /// The range of `size` bytes at `start`, if `start + size` does not exceed
    /// `u64::MAX`.
    pub const fn new(start: u64, size: u64) -> Option<MachineRange> {
        match start.checked_add(size) {
            Some(_) => Some(MachineRange { start, size }),
            None => None,
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

    /// One past the last address.
    pub const fn end(self) -> u64 {
        // Cannot overflow: `new` refused any range whose end does.
        self.start + self.size
    }

    /// Whether `addr` lies in `[start, end)`.
    pub const fn contains(self, addr: u64) -> bool {
        self.start <= addr && addr < self.end()
    }

    /// Whether `[start, end)` lies within this range (an empty range at this range's
    /// end counts as inside).
    pub const fn covers(self, start: u64, end: u64) -> bool {
        self.start <= start && start <= end && end <= self.end()
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
}

impl HostDescription {
    /// An x86 host (4 KiB pages) with the given crash region.
    pub const fn x86(crash_region: Option<MachineRange>) -> HostDescription {
        HostDescription {
            page_size: PageSize::X86,
            crash_region,
        }
    }
}
