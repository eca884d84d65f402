// SPDX-License-Identifier: MIT
//! A simulated host (feature `sim`): the [`Host`] hooks over sparse machine memory held
//! on the heap, for tests and the toolstack's simulator (`xen-kexec --backend sim:PATH`).
//!
//! **Why this module allocates.** The engine ([`Kexec`]) never does: it runs in a
//! hypervisor without a heap. A simulated machine must hold the bytes loads write (a
//! crash kernel is megabytes) and grow with what is loaded, so this module, and only
//! this module, uses `alloc` (`BTreeMap`, `Vec`); it is behind the `sim` feature, so a
//! hypervisor that depends on the crate without it links no allocator. Its memory is
//! bounded: only pages holding a non-zero byte are stored, and at most
//! [`SimConfig::memory_limit`] bytes of them (beyond that a load is `ENOMEM`, as a
//! real host answers when it cannot allocate, and is undone).
//!
//! **State is plain data.** [`Sim`] (the engine and its [`SimHost`]) serializes with
//! the `serde` feature: the host's configuration, the machine memory the crash image was
//! written to, the two DEFAULT staging areas, the loaded images and the last entry. A
//! deserialized `Sim` is checked: the configuration again, and every image's load again
//! against the host's page size and crash region. Pages are stored as hex strings keyed
//! by machine address.
//!
//! **What an image finds** ([`Sim::image_bytes`]): the CRASH image finds machine memory
//! (its segments were written there). The DEFAULT image, once entered, finds its staged
//! bytes at the destinations of its segments with a source buffer (Xen relocates them
//! there at exec) and machine memory everywhere else. Machine memory never written
//! reads as zero.
//!
//! ```
//! use xen_kexec_abi::encode;
//! use xen_kexec_abi::guest_mem::{GuestRegion, SparseMemory};
//! use xen_kexec_abi::load::{LoadRequest, Segment};
//! use xen_kexec_abi::{ElfMachine, GuestAbi, KexecCmd, KexecType};
//! use xen_kexec_hypervisor::sim::{Sim, SimConfig, SimRange};
//! use xen_kexec_hypervisor::Host;
//!
//! let mut sim = Sim::new(SimConfig {
//!     crash_region: Some(SimRange { start: 0x2000_0000, size: 0x400_0000 }),
//!     ..SimConfig::default()
//! })?;
//!
//! // A 64-bit dom0 loads a 2-page crash image from 0x1800 source bytes.
//! let kernel = [0x90u8; 0x1800];
//! let mut req = LoadRequest::new(KexecType::CRASH, ElfMachine::EM_X86_64, 0x2000_0000);
//! req.push_segment(Segment { buf: 0x10_0000, buf_size: 0x1800,
//!                            dest_maddr: 0x2000_0000, dest_size: 0x2000 })?;
//! let encoded = req.validate(&sim.host().description())?.encode(GuestAbi::X86_64, 0x8800)?;
//! let mut args = [0u8; 0x1000];
//! let mut regions = [
//!     GuestRegion { base: 0x8000, bytes: &mut args[..] },
//!     GuestRegion { base: 0x10_0000, bytes: &mut kernel.clone()[..] },
//! ];
//! let mut mem = SparseMemory::new(&mut regions).unwrap();
//! encoded.write_to(&mut mem, 0x8000)?;
//! assert_eq!(sim.hypercall(GuestAbi::X86_64, KexecCmd::LOAD, 0x8000, &mut mem), 0);
//!
//! use xen_kexec_abi::guest_mem::GuestMemory;
//! mem.write(0x8000, encode::status(KexecType::CRASH).as_bytes())?;
//! assert_eq!(sim.hypercall(GuestAbi::X86_64, KexecCmd::STATUS, 0x8000, &mut mem), 1);
//!
//! // What the crash image finds: the source bytes, then zeros to the end of the page.
//! let mut found = [0xffu8; 0x2000];
//! sim.image_bytes(KexecType::CRASH, 0x2000_0000, &mut found)?;
//! assert_eq!(&found[..0x1800], &kernel[..]);
//! assert!(found[0x1800..].iter().all(|&b| b == 0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod memory_map;
mod pages;

use core::fmt;

use xen_kexec_abi::guest_mem::GuestMemory;
use xen_kexec_abi::host::{MachineRange, PageSize};
use xen_kexec_abi::{EntryMode, GuestAbi, KexecCmd, KexecType};

use crate::engine::{Image, Kexec, Outcome};
use crate::error::Error;
use crate::host::{Host, HostError, ImageSlot, StagingArea};

pub use memory_map::{default_memory_map, MemoryOpError, SimE820, SIM_E820_MAX};
pub use pages::{PageMap, SIM_PAGE, SIM_PAGE_LEN};

/// A machine range as plain data: `size` bytes from `start`. The simulated host checks
/// it with [`MachineRange::new`] when it is configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SimRange {
    /// The first machine address.
    pub start: u64,
    /// The size in bytes.
    pub size: u64,
}

impl SimRange {
    /// The checked [`MachineRange`], or `None` if it runs past the address space.
    pub const fn machine_range(self) -> Option<MachineRange> {
        MachineRange::new(self.start, self.size)
    }
}

impl From<MachineRange> for SimRange {
    fn from(r: MachineRange) -> Self {
        SimRange {
            start: r.start(),
            size: r.size(),
        }
    }
}

/// How a simulated host is set up: everything the hooks answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SimConfig {
    /// The page size in bytes (a power of two).
    pub page_size: u64,
    /// The crash region, or `None` for a host that reserves none.
    pub crash_region: Option<SimRange>,
    /// The hypervisor's own image (`KEXEC_RANGE_MA_XEN`).
    pub xen: SimRange,
    /// The number of CPU ids.
    pub cpus: u32,
    /// CPU 0's crash notes; CPU `i`'s are the `i`-th range of the same size after it
    /// (start = size = 0 if that would run past the address space, as Xen answers for
    /// notes it could not allocate). `None`: the host has no crash-note area, and
    /// `KEXEC_RANGE_MA_CPU` is `EINVAL`.
    pub cpu_notes: Option<SimRange>,
    /// The vmcoreinfo note, or `None` (`EINVAL`).
    pub vmcoreinfo: Option<SimRange>,
    /// The most bytes of non-zero pages the host holds, machine memory and staging
    /// areas together; a load beyond it is `ENOMEM`.
    pub memory_limit: u64,
    /// The machine's e820 map, as `XENMEM_machine_memory_map` answers it: in ascending
    /// order, no entry empty, wrapping or overlapping the one before, at most
    /// [`SIM_E820_MAX`] entries. A state saved before the map existed reads with
    /// [`default_memory_map`].
    #[cfg_attr(feature = "serde", serde(default = "default_memory_map"))]
    pub memory_map: alloc::vec::Vec<SimE820>,
}

impl Default for SimConfig {
    /// Plausible values for an x86 host: 4 KiB pages, a 64 MiB crash region at 512 MiB
    /// (`crashkernel=64M@512M`), Xen at 2 MiB (6 MiB), 4 CPUs with 1 KiB of notes each
    /// at 16 MiB, vmcoreinfo after them, and 1 GiB of memory for images; the memory map
    /// of a 1 GiB QEMU PC ([`default_memory_map`]), whose RAM holds all of these.
    fn default() -> Self {
        SimConfig {
            page_size: 4096,
            crash_region: Some(SimRange {
                start: 0x2000_0000,
                size: 0x400_0000,
            }),
            xen: SimRange {
                start: 0x20_0000,
                size: 0x60_0000,
            },
            cpus: 4,
            cpu_notes: Some(SimRange {
                start: 0x100_0000,
                size: 0x400,
            }),
            vmcoreinfo: Some(SimRange {
                start: 0x100_2000,
                size: 0x1000,
            }),
            memory_limit: 1 << 30,
            memory_map: default_memory_map(),
        }
    }
}

/// Why a simulated host cannot be set up, or an image's bytes cannot be given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimError {
    /// `page_size` is not a power of two.
    PageSize {
        /// The value given.
        page_size: u64,
    },
    /// A configured range runs past the top of the address space.
    RangeWraps {
        /// Which one: `crash_region`, `xen`, `cpu_notes` or `vmcoreinfo`.
        field: &'static str,
        /// The range.
        range: SimRange,
    },
    /// No image of this type is loaded.
    NoImage {
        /// The type asked for.
        type_: KexecType,
    },
    /// `[maddr, maddr + len)` runs past the top of the address space.
    AddressWraps {
        /// The first address.
        maddr: u64,
        /// The length.
        len: u64,
    },
    /// An entry of the memory map cannot be one (see [`SimConfig::memory_map`]).
    MemoryMap {
        /// The index of the entry.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A deserialized state is inconsistent (an image its host would refuse).
    Inconsistent {
        /// What is wrong.
        reason: &'static str,
    },
}

impl SimError {
    /// The name of the rule broken: the variant's name (`"NoImage"`, the same name as
    /// [`Error::NoImage`]'s rule).
    pub const fn rule(&self) -> &'static str {
        match self {
            SimError::PageSize { .. } => "PageSize",
            SimError::RangeWraps { .. } => "RangeWraps",
            SimError::NoImage { .. } => "NoImage",
            SimError::AddressWraps { .. } => "AddressWraps",
            SimError::MemoryMap { .. } => "MemoryMap",
            SimError::Inconsistent { .. } => "Inconsistent",
        }
    }
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SimError::PageSize { page_size } => {
                write!(f, "page size {page_size:#x} is not a power of two")
            }
            SimError::RangeWraps { field, range } => write!(
                f,
                "{field} {:#x}:{:#x} runs past the top of the address space",
                range.start, range.size
            ),
            SimError::NoImage { type_ } => write!(f, "no {type_:?} image is loaded"),
            SimError::AddressWraps { maddr, len } => write!(
                f,
                "{len:#x} bytes at {maddr:#x} run past the top of the address space"
            ),
            SimError::MemoryMap { index, reason } => {
                write!(f, "memory map entry {index} {reason}")
            }
            SimError::Inconsistent { reason } => write!(f, "inconsistent sim state: {reason}"),
        }
    }
}

impl core::error::Error for SimError {}

/// The last image the simulated host entered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Entered {
    /// DEFAULT (a reboot) or CRASH (a crash).
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub type_: KexecType,
    /// Where it was entered.
    pub entry_maddr: u64,
    /// In which mode.
    pub entry_mode: EntryMode,
}

/// A simulated hypervisor host: configured answers, sparse machine memory, two DEFAULT
/// staging areas, and a record of the last entry.
///
/// Every write hook checks what the engine promises (crash writes inside the crash
/// region) and refuses otherwise with `EADDRNOTAVAIL`, so a test would see an engine
/// that broke the promise.
///
/// Equality ignores whether a hook has touched the pages ([`SimHost::pages_touched`]).
#[derive(Clone, Debug)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(into = "SimHostRepr", try_from = "SimHostRepr")
)]
pub struct SimHost {
    config: SimConfig,
    page_size: PageSize,
    crash_region: Option<MachineRange>,
    xen: MachineRange,
    cpu_notes: Option<MachineRange>,
    vmcoreinfo: Option<MachineRange>,
    machine: PageMap,
    staged: [PageMap; 2],
    entered: Option<Entered>,
    /// A hook that may change the pages ran since the host was made or read.
    touched: bool,
}

impl PartialEq for SimHost {
    fn eq(&self, other: &SimHost) -> bool {
        // The ranges are derived from the configuration.
        self.config == other.config
            && self.machine == other.machine
            && self.staged == other.staged
            && self.entered == other.entered
    }
}

impl Eq for SimHost {}

/// The pages of a [`SimHost`], taken out of it ([`Sim::take_pages`]) to be stored apart
/// from its small description.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimPages {
    /// Machine memory: the crash image's bytes.
    pub machine: PageMap,
    /// The DEFAULT staging areas A and B.
    pub staged: [PageMap; 2],
}

impl SimPages {
    /// Bytes of the pages stored, all three maps together.
    pub fn stored_bytes(&self) -> u64 {
        self.machine.stored_bytes() + self.staged.iter().map(PageMap::stored_bytes).sum::<u64>()
    }
}

/// The plain-data form of [`SimHost`].
#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize)]
struct SimHostRepr {
    config: SimConfig,
    machine: PageMap,
    staged: [PageMap; 2],
    entered: Option<Entered>,
}

#[cfg(feature = "serde")]
impl From<SimHost> for SimHostRepr {
    fn from(h: SimHost) -> Self {
        SimHostRepr {
            config: h.config,
            machine: h.machine,
            staged: h.staged,
            entered: h.entered,
        }
    }
}

#[cfg(feature = "serde")]
impl TryFrom<SimHostRepr> for SimHost {
    type Error = SimError;

    fn try_from(r: SimHostRepr) -> Result<Self, SimError> {
        let mut host = SimHost::new(r.config)?;
        let pages =
            r.machine.stored_bytes() + r.staged.iter().map(PageMap::stored_bytes).sum::<u64>();
        if pages > host.config.memory_limit {
            return Err(SimError::Inconsistent {
                reason: "more memory stored than memory_limit",
            });
        }
        host.machine = r.machine;
        host.staged = r.staged;
        host.entered = r.entered;
        Ok(host)
    }
}

fn checked(field: &'static str, range: SimRange) -> Result<MachineRange, SimError> {
    range
        .machine_range()
        .ok_or(SimError::RangeWraps { field, range })
}

fn checked_opt(
    field: &'static str,
    range: Option<SimRange>,
) -> Result<Option<MachineRange>, SimError> {
    range.map(|r| checked(field, r)).transpose()
}

impl SimHost {
    /// A host set up as `config` says, with zeroed memory and nothing staged.
    ///
    /// # Errors
    /// [`SimError::MemoryMap`], [`SimError::PageSize`] or [`SimError::RangeWraps`].
    pub fn new(config: SimConfig) -> Result<SimHost, SimError> {
        memory_map::check_memory_map(&config.memory_map)
            .map_err(|(index, reason)| SimError::MemoryMap { index, reason })?;
        Ok(SimHost {
            page_size: PageSize::new(config.page_size).ok_or(SimError::PageSize {
                page_size: config.page_size,
            })?,
            // A crash region of size 0 is none: Xen answers 0/0 without `crashkernel=`.
            crash_region: checked_opt("crash_region", config.crash_region.filter(|r| r.size != 0))?,
            xen: checked("xen", config.xen)?,
            cpu_notes: checked_opt("cpu_notes", config.cpu_notes)?,
            vmcoreinfo: checked_opt("vmcoreinfo", config.vmcoreinfo)?,
            config,
            machine: PageMap::new(),
            staged: [PageMap::new(), PageMap::new()],
            touched: false,
            entered: None,
        })
    }

    /// The configuration.
    pub const fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The last image entered, if any.
    pub const fn entered(&self) -> Option<Entered> {
        self.entered
    }

    /// Machine memory: what the crash image was written to.
    pub const fn machine(&self) -> &PageMap {
        &self.machine
    }

    /// A DEFAULT staging area.
    pub fn staged(&self, area: StagingArea) -> &PageMap {
        self.area(area)
    }

    fn area(&self, area: StagingArea) -> &PageMap {
        match area {
            StagingArea::A => &self.staged[0],
            StagingArea::B => &self.staged[1],
        }
    }

    fn area_mut(&mut self, area: StagingArea) -> &mut PageMap {
        match area {
            StagingArea::A => &mut self.staged[0],
            StagingArea::B => &mut self.staged[1],
        }
    }

    /// Whether a hook that may change the pages (a write, a zeroing, a release or a
    /// free) ran since this host was made or read, or since
    /// [`Sim::forget_pages_touched`]: when not, its pages are the ones it started with.
    pub const fn pages_touched(&self) -> bool {
        self.touched
    }

    /// Bytes of non-zero pages held, machine memory and staging areas together.
    pub fn stored_bytes(&self) -> u64 {
        self.machine.stored_bytes() + self.staged.iter().map(PageMap::stored_bytes).sum::<u64>()
    }

    /// How many more bytes of pages may be stored.
    fn room(&self) -> u64 {
        self.config.memory_limit.saturating_sub(self.stored_bytes())
    }

    /// Whether `[maddr, maddr + len)` lies in the crash region.
    fn in_crash_region(&self, maddr: u64, len: u64) -> Result<(), HostError> {
        // The range may end exactly at 2^64, with a region that does.
        match (self.crash_region, MachineRange::new(maddr, len)) {
            (Some(r), Some(range)) if r.covers_range(range) => Ok(()),
            _ => Err(HostError::new(xen_kexec_abi::Errno::EADDRNOTAVAIL)),
        }
    }
}

fn len64(bytes: &[u8]) -> u64 {
    u64::try_from(bytes.len()).unwrap_or(u64::MAX)
}

impl Host for SimHost {
    fn page_size(&self) -> PageSize {
        self.page_size
    }

    fn crash_region(&self) -> Option<MachineRange> {
        self.crash_region
    }

    fn xen_range(&self) -> MachineRange {
        self.xen
    }

    fn cpu_count(&self) -> u32 {
        self.config.cpus
    }

    fn cpu_notes(&self, cpu: u32) -> Option<MachineRange> {
        let first = self.cpu_notes?;
        let placed = first
            .size()
            .checked_mul(u64::from(cpu))
            .and_then(|offset| first.start().checked_add(offset))
            .and_then(|start| MachineRange::new(start, first.size()));
        // As Xen for notes it could not allocate: start = size = 0.
        placed.or(MachineRange::new(0, 0))
    }

    fn vmcoreinfo(&self) -> Option<MachineRange> {
        self.vmcoreinfo
    }

    fn write_crash(&mut self, maddr: u64, bytes: &[u8]) -> Result<(), HostError> {
        self.in_crash_region(maddr, len64(bytes))?;
        self.touched = true;
        let room = self.room();
        self.machine.write(maddr, bytes, room)
    }

    fn zero_crash(&mut self, maddr: u64, len: u64) -> Result<(), HostError> {
        self.in_crash_region(maddr, len)?;
        self.touched = true;
        self.machine.zero(maddr, len);
        Ok(())
    }

    fn stage_default(
        &mut self,
        area: StagingArea,
        maddr: u64,
        bytes: &[u8],
    ) -> Result<(), HostError> {
        let room = self.room();
        self.touched = true;
        self.area_mut(area).write(maddr, bytes, room)
    }

    fn zero_default(&mut self, area: StagingArea, maddr: u64, len: u64) -> Result<(), HostError> {
        self.touched = true;
        self.area_mut(area).zero(maddr, len);
        Ok(())
    }

    fn release(&mut self, slot: ImageSlot) {
        match slot {
            // The bytes stay in machine memory; they are simply no image any more.
            ImageSlot::Crash => {}
            ImageSlot::Default(area) => {
                self.touched = true;
                self.area_mut(area).clear();
            }
        }
    }

    /// **Departure** from Xen, whose crash region keeps an unloaded image's bytes: the
    /// simulated host frees machine memory, so that its pages (and the state file that
    /// holds them) do not grow with every load, and unloaded bytes stop counting
    /// against [`SimConfig::memory_limit`]. Machine memory holds only crash-region
    /// bytes, and a successful crash load writes every page it uses, so what is freed
    /// is the old image and any earlier failed load's leftovers.
    fn free_crash_image(&mut self) {
        self.touched = true;
        self.machine.clear();
    }

    fn enter(&mut self, image: &Image) -> Result<(), HostError> {
        self.entered = Some(Entered {
            type_: image.kexec_type(),
            entry_maddr: image.entry_maddr(),
            entry_mode: image.entry_mode(),
        });
        Ok(())
    }
}

/// The engine and a simulated host together: a whole simulated `kexec_op`, as the
/// toolstack's simulator persists it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(into = "SimRepr", try_from = "SimRepr")
)]
pub struct Sim {
    kexec: Kexec,
    host: SimHost,
}

/// The plain-data form of [`Sim`].
#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize)]
struct SimRepr {
    host: SimHost,
    kexec: Kexec,
}

#[cfg(feature = "serde")]
impl From<Sim> for SimRepr {
    fn from(s: Sim) -> Self {
        SimRepr {
            host: s.host,
            kexec: s.kexec,
        }
    }
}

#[cfg(feature = "serde")]
impl TryFrom<SimRepr> for Sim {
    type Error = SimError;

    fn try_from(r: SimRepr) -> Result<Self, SimError> {
        Sim::from_parts(r.kexec, r.host)
    }
}

impl Sim {
    /// A simulated host set up as `config` says, with no image loaded.
    ///
    /// # Errors
    /// As [`SimHost::new`].
    pub fn new(config: SimConfig) -> Result<Sim, SimError> {
        Ok(Sim {
            kexec: Kexec::new(),
            host: SimHost::new(config)?,
        })
    }

    /// An engine and a host that belong together: every loaded image passes the load
    /// rules on this host.
    ///
    /// # Errors
    /// [`SimError::Inconsistent`].
    pub fn from_parts(kexec: Kexec, host: SimHost) -> Result<Sim, SimError> {
        let desc = host.description();
        for type_ in [KexecType::DEFAULT, KexecType::CRASH] {
            if let Some(image) = kexec.image(type_) {
                if image.load().request().validate(&desc).is_err() {
                    return Err(SimError::Inconsistent {
                        reason: "a loaded image breaks the load rules of its host",
                    });
                }
            }
        }
        Ok(Sim { kexec, host })
    }

    /// The engine's state.
    pub const fn kexec(&self) -> &Kexec {
        &self.kexec
    }

    /// The simulated host.
    pub const fn host(&self) -> &SimHost {
        &self.host
    }

    /// Takes the host's pages out, leaving it with zeroed memory and nothing staged:
    /// to store the pages apart from the rest, which is then small.
    pub fn take_pages(&mut self) -> SimPages {
        SimPages {
            machine: core::mem::take(&mut self.host.machine),
            staged: core::mem::take(&mut self.host.staged),
        }
    }

    /// Gives the host `pages` (replacing its own), as [`Sim::take_pages`] took them or as
    /// they were read back. [`SimHost::pages_touched`] is unchanged (see
    /// [`Sim::forget_pages_touched`]).
    ///
    /// # Errors
    /// [`SimError::Inconsistent`] when they hold more than
    /// [`SimConfig::memory_limit`]; the host is then unchanged.
    pub fn put_pages(&mut self, pages: SimPages) -> Result<(), SimError> {
        if pages.stored_bytes() > self.host.config.memory_limit {
            return Err(SimError::Inconsistent {
                reason: "more memory stored than memory_limit",
            });
        }
        self.host.machine = pages.machine;
        self.host.staged = pages.staged;
        Ok(())
    }

    /// [`SimHost::pages_touched`] is false again: the pages as they are now were saved.
    pub fn forget_pages_touched(&mut self) {
        self.host.touched = false;
    }

    /// `kexec_op(cmd, arg)` from a guest of width `abi`: [`Kexec::hypercall`] on this
    /// host.
    pub fn hypercall<M: GuestMemory + ?Sized>(
        &mut self,
        abi: GuestAbi,
        cmd: KexecCmd,
        arg: u64,
        mem: &mut M,
    ) -> i64 {
        self.kexec.hypercall(abi, cmd, arg, mem, &mut self.host)
    }

    /// `memory_op(cmd, arg)` from a guest of width `abi`: `XENMEM_machine_memory_map`
    /// answered from [`SimConfig::memory_map`] with Xen's semantics (see
    /// [`MemoryOpError`] for the refusals, and the `memory_map` module's documentation
    /// for the one departure: no I/O holes are added). Returns the hypercall's value.
    ///
    /// # Errors
    /// The refusal.
    pub fn memory_op<M: GuestMemory + ?Sized>(
        &mut self,
        abi: GuestAbi,
        cmd: u32,
        arg: u64,
        mem: &mut M,
    ) -> Result<i64, MemoryOpError> {
        memory_map::memory_op(&self.host.config.memory_map, abi, cmd, arg, mem)
    }

    /// [`Kexec::kexec_op`] on this host.
    ///
    /// # Errors
    /// The refusal.
    pub fn kexec_op<M: GuestMemory + ?Sized>(
        &mut self,
        abi: GuestAbi,
        cmd: KexecCmd,
        arg: u64,
        mem: &mut M,
    ) -> Result<Outcome, Error> {
        self.kexec.kexec_op(abi, cmd, arg, mem, &mut self.host)
    }

    /// Fills `buf` with what the loaded image of `type_` finds at machine addresses
    /// `[maddr, maddr + buf.len())` when entered (see the [module documentation](self)).
    ///
    /// # Errors
    /// [`SimError::NoImage`] when no image of that type is loaded;
    /// [`SimError::AddressWraps`] when the range runs past 2^64 (one ending exactly at
    /// 2^64 is fine).
    pub fn image_bytes(
        &self,
        type_: KexecType,
        maddr: u64,
        buf: &mut [u8],
    ) -> Result<(), SimError> {
        let image = self.kexec.image(type_).ok_or(SimError::NoImage { type_ })?;
        let len = len64(buf);
        // One past the last byte, which may be 2^64 itself (the top page is memory too).
        let end = u128::from(maddr) + u128::from(len);
        if end > 1u128 << 64 {
            return Err(SimError::AddressWraps { maddr, len });
        }
        self.host.machine.read(maddr, buf);
        if let ImageSlot::Default(area) = image.slot() {
            let staged = self.host.area(area);
            for seg in image.segments().iter().filter(|s| s.has_buffer()) {
                // A destination may end exactly at 2^64: ends are compared as u128.
                let seg_end = u128::from(seg.dest_maddr) + u128::from(seg.dest_size);
                let from = seg.dest_maddr.max(maddr);
                let Some(n) = seg_end.min(end).checked_sub(u128::from(from)) else {
                    continue;
                };
                let (Ok(at), Ok(n)) = (usize::try_from(from - maddr), usize::try_from(n)) else {
                    continue;
                };
                if n == 0 {
                    continue;
                }
                if let Some(part) = buf.get_mut(at..at.saturating_add(n)) {
                    staged.read(from, part);
                }
            }
        }
        Ok(())
    }
}
