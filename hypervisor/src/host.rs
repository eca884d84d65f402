// SPDX-License-Identifier: MIT
//! The hooks a hypervisor implements to get the whole of `kexec_op`: what the engine
//! asks of the machine ([`Host`]), and where an image's bytes go ([`ImageSlot`]).
//!
//! Xen keeps these facts in globals (`PAGE_SIZE`, `kexec_crash_area`, `per_cpu(crash_notes)`,
//! `vmcoreinfo_data`) and does the memory work in `kimage.c`; here they are the methods
//! of one trait, so one build of the engine serves any host and a test can simulate one
//! (the `sim` module, feature `sim`).

use core::fmt;

use xen_kexec_abi::host::{HostDescription, MachineRange, PageSize, RuleProfile};
use xen_kexec_abi::{Errno, KexecRangeKind};

use crate::engine::Image;

/// One of the two staging areas of DEFAULT images.
///
/// A DEFAULT load is staged in the area the current DEFAULT image does not use, so the
/// current image stays whole and usable until the new one is fully staged (Xen's two
/// slots per type, `kexec_image[]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum StagingArea {
    /// The first area; a DEFAULT load when none is loaded goes here.
    A,
    /// The second area.
    B,
}

impl StagingArea {
    /// The other area.
    #[must_use]
    pub const fn other(self) -> StagingArea {
        match self {
            StagingArea::A => StagingArea::B,
            StagingArea::B => StagingArea::A,
        }
    }

    /// 0 for [`StagingArea::A`], 1 for [`StagingArea::B`]: an index for hosts that keep
    /// the areas in an array.
    pub const fn index(self) -> usize {
        match self {
            StagingArea::A => 0,
            StagingArea::B => 1,
        }
    }
}

/// Where the bytes of an image are held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum ImageSlot {
    /// A DEFAULT image: pages the host allocates and keeps, copied to the image's
    /// destinations only when it is entered (Xen's relocation at `machine_reboot_kexec`).
    Default(StagingArea),
    /// The CRASH image: written straight into machine memory, inside the crash region.
    Crash,
}

/// A refusal from a hook, with the errno the hypercall returns for it (for example
/// `ENOMEM` when the host cannot allocate staging pages).
///
/// Its errno is always a failure the guest recognises: a positive value no larger than
/// [`HostError::MAX_ERRNO`] (4095, the most Linux's syscall and hypercall paths take for
/// an error). [`HostError::new`] maps anything else (0, a negative value, a larger one)
/// to `EIO`, so that no hook's error can make the hypercall return 0 (success) or a
/// positive value for a failure. Deserializing applies the same mapping.
///
/// ```
/// use xen_kexec_abi::Errno;
/// use xen_kexec_hypervisor::HostError;
/// assert_eq!(HostError::ENOMEM.errno(), Errno::ENOMEM);
/// assert_eq!(HostError::new(Errno::EBUSY).errno(), Errno::EBUSY);
/// // No errno that is not a failure survives: 0, negatives and huge values are EIO.
/// assert_eq!(HostError::new(Errno(0)).errno(), Errno::EIO);
/// assert_eq!(HostError::new(Errno(-12)).errno(), Errno::EIO);
/// assert_eq!(HostError::new(Errno(i32::MIN)).errno(), Errno::EIO);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(into = "HostErrorRepr", from = "HostErrorRepr")
)]
pub struct HostError {
    errno: Errno,
}

/// The serialized form of a [`HostError`]: `{"errno": N}`.
#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize)]
struct HostErrorRepr {
    errno: Errno,
}

#[cfg(feature = "serde")]
impl From<HostError> for HostErrorRepr {
    fn from(e: HostError) -> Self {
        HostErrorRepr { errno: e.errno }
    }
}

#[cfg(feature = "serde")]
impl From<HostErrorRepr> for HostError {
    fn from(r: HostErrorRepr) -> Self {
        HostError::new(r.errno)
    }
}

impl HostError {
    /// Out of memory: the host cannot hold the image.
    pub const ENOMEM: HostError = HostError {
        errno: Errno::ENOMEM,
    };

    /// An I/O error: also what an errno that is not a failure becomes.
    pub const EIO: HostError = HostError { errno: Errno::EIO };

    /// The largest errno a [`HostError`] carries (Linux's `MAX_ERRNO`).
    pub const MAX_ERRNO: i32 = 4095;

    /// The refusal with `errno`, if it is in `1..=MAX_ERRNO`; otherwise `EIO`.
    pub const fn new(errno: Errno) -> HostError {
        if errno.0 >= 1 && errno.0 <= Self::MAX_ERRNO {
            HostError { errno }
        } else {
            HostError::EIO
        }
    }

    /// The errno the hypercall returns (negated): always in `1..=MAX_ERRNO`.
    pub const fn errno(self) -> Errno {
        self.errno
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the host refused ({:?})", self.errno)
    }
}

impl core::error::Error for HostError {}

/// What the engine needs from the hypervisor it runs in.
///
/// **Answers** (read-only): the page size and crash region the load rules check
/// against, and the answers to `KEXEC_CMD_kexec_get_range`. The engine decides what Xen
/// decides around them: `KEXEC_RANGE_MA_CRASH` without a region answers start = size =
/// 0; a CPU number below 0 or not below [`cpu_count`](Self::cpu_count) is `ERANGE`
/// before [`cpu_notes`](Self::cpu_notes) is asked; `None` from an answer hook is
/// `EINVAL`, as x86 Xen answers the kinds it does not support.
///
/// **Memory** (the work of Xen's `kimage.c`): the engine copies each segment's source
/// through a bounded stack buffer in chunks that never cross a page boundary of
/// [`page_size`](Self::page_size), in ascending address order within a segment, and
/// hands each chunk to [`write_crash`](Self::write_crash) or
/// [`stage_default`](Self::stage_default); the rest of each destination is one
/// [`zero_crash`](Self::zero_crash) or [`zero_default`](Self::zero_default) call, so a
/// large zero tail (an image's bss) costs the host one call, not one per page. Every
/// address handed to these hooks lies inside a destination that passed the load rules
/// (for the crash image: inside the crash region). A hook's error stops the load, which
/// is then undone with [`release`](Self::release).
///
/// **Life cycle**: [`release`](Self::release) when a slot's content stops being an
/// image (replaced, unloaded, or a failed load's partial content);
/// [`enter`](Self::enter) for `KEXEC_CMD_kexec`.
///
/// The engine calls these only from within a hypercall, which the host serialises (see
/// [`crate::Kexec`]).
pub trait Host {
    /// The page size segment destinations must be aligned to (Xen: `PAGE_SIZE`).
    fn page_size(&self) -> PageSize;

    /// The machine range reserved for the crash image (Xen: `kexec_crash_area`), or
    /// `None` when none is reserved: every CRASH load is then refused with
    /// `EADDRNOTAVAIL`, and get_range of `KEXEC_RANGE_MA_CRASH` answers start = size = 0.
    fn crash_region(&self) -> Option<MachineRange>;

    /// `KEXEC_RANGE_MA_XEN`: the machine range of the hypervisor's own image.
    fn xen_range(&self) -> MachineRange;

    /// The number of CPU ids (Xen: `nr_cpu_ids`); `KEXEC_RANGE_MA_CPU` with `nr` not
    /// in `0..cpu_count()` is `ERANGE`.
    fn cpu_count(&self) -> u32;

    /// `KEXEC_RANGE_MA_CPU`: CPU `cpu`'s crash-note range (`cpu < cpu_count()`).
    ///
    /// `None` when the host has no crash-note area at all (`EINVAL`, as Xen answers);
    /// a CPU whose notes could not be allocated answers `Some` of an empty range at 0,
    /// as Xen does.
    fn cpu_notes(&self, cpu: u32) -> Option<MachineRange>;

    /// `KEXEC_RANGE_MA_VMCOREINFO`: the vmcoreinfo note, or `None` (`EINVAL`) when the
    /// host has none.
    fn vmcoreinfo(&self) -> Option<MachineRange>;

    /// Any other defined kind (`KEXEC_RANGE_MA_XENHEAP`, `_BOOT_PARAM`, `_EFI_MEMMAP`)
    /// with the guest's `nr`: `None` (`EINVAL`) for a kind the host does not support.
    /// x86 Xen supports none of these three, which is what the default answers.
    fn other_range(&self, range: KexecRangeKind, nr: i32) -> Option<MachineRange> {
        let _ = (range, nr);
        None
    }

    /// Writes `bytes` of the CRASH image to machine memory at `maddr`, inside the crash
    /// region.
    ///
    /// # Errors
    /// A [`HostError`]: the load stops and the crash slot is released.
    fn write_crash(&mut self, maddr: u64, bytes: &[u8]) -> Result<(), HostError>;

    /// Zeroes `len` bytes of machine memory at `maddr`, inside the crash region: the
    /// tail of a CRASH segment's destination beyond its source bytes.
    ///
    /// # Errors
    /// A [`HostError`]: the load stops and the crash slot is released.
    fn zero_crash(&mut self, maddr: u64, len: u64) -> Result<(), HostError>;

    /// Stages `bytes` of a DEFAULT image in `area`, for machine address `maddr`, where
    /// they go when the image is entered.
    ///
    /// # Errors
    /// A [`HostError`] (typically `ENOMEM`): the load stops and `area` is released.
    fn stage_default(
        &mut self,
        area: StagingArea,
        maddr: u64,
        bytes: &[u8],
    ) -> Result<(), HostError>;

    /// Stages `len` zero bytes of a DEFAULT image in `area`, for machine address `maddr`.
    ///
    /// # Errors
    /// A [`HostError`]: the load stops and `area` is released.
    fn zero_default(&mut self, area: StagingArea, maddr: u64, len: u64) -> Result<(), HostError>;

    /// The content of `slot` is no longer an image: the image was replaced or unloaded,
    /// or a load into the slot failed part way. A host frees a staging area's pages; for
    /// [`ImageSlot::Crash`] the bytes stay in machine memory but are no image. May be
    /// called for a slot that holds nothing.
    fn release(&mut self, slot: ImageSlot);

    /// The CRASH image was unloaded, or is about to be replaced by a new load: called
    /// after [`release`](Self::release) of [`ImageSlot::Crash`], and only when an image
    /// was loaded (never for a failed load's partial content, which stays in machine
    /// memory as on Xen). A host that keeps machine memory in storage it must pay for
    /// (a simulated host) may free the image's bytes here; Xen's crash region keeps
    /// them, which is what the default (nothing) does.
    fn free_crash_image(&mut self) {}

    /// Enters `image` (`KEXEC_CMD_kexec`): a reboot into a DEFAULT image, relocating
    /// its staged pages to their destinations, or a crash into the CRASH image; at
    /// [`Image::entry_maddr`] in [`Image::entry_mode`]. On a real machine this does
    /// not return; a simulated host returns `Ok` and the hypercall returns 0.
    ///
    /// # Errors
    /// A [`HostError`] if the exec cannot start; the engine then clears its
    /// in-progress state.
    fn enter(&mut self, image: &Image) -> Result<(), HostError>;

    /// Which statement of the load rules this host follows: the strict rules unless it
    /// overrides this (Xen itself would answer [`RuleProfile::Xen`]).
    fn rule_profile(&self) -> RuleProfile {
        RuleProfile::Strict
    }

    /// The facts the load rules check against: [`page_size`](Self::page_size),
    /// [`crash_region`](Self::crash_region) and [`rule_profile`](Self::rule_profile).
    fn description(&self) -> HostDescription {
        HostDescription {
            page_size: self.page_size(),
            crash_region: self.crash_region(),
            profile: self.rule_profile(),
        }
    }
}
