// SPDX-License-Identifier: MIT
//! The engine: Xen's `kexec_op` state machine (`common/kexec.c`, Xen 4.23) over the
//! [`Host`] hooks, without Xen's bugs.

use xen_kexec_abi::decode::{decode, load_into, LoadSlot, Operation};
use xen_kexec_abi::get_range::RangeQuery;
use xen_kexec_abi::guest_mem::GuestMemory;
use xen_kexec_abi::load::{Segment, ValidatedLoad};
use xen_kexec_abi::{ElfMachine, EntryMode, GuestAbi, KexecCmd, KexecRangeKind, KexecType};

use crate::copy::copy_segments;
use crate::error::Error;
use crate::host::{Host, ImageSlot, StagingArea};

/// A loaded image: the load that made it and the slot that holds its bytes.
///
/// Only the engine makes one, from a load the `abi` crate validated; deserializing one
/// (feature `serde`) checks its load again with the rules that do not depend on a host
/// (type, arch, no wrap, no overlap, `buf_size <= dest_size`) and that its slot fits its
/// type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(into = "ImageRepr", try_from = "ImageRepr")
)]
pub struct Image {
    slot: ImageSlot,
    load: ValidatedLoad,
}

impl Image {
    /// DEFAULT or CRASH.
    pub const fn kexec_type(&self) -> KexecType {
        self.load.kexec_type()
    }

    /// Where the image's bytes are held.
    pub const fn slot(&self) -> ImageSlot {
        self.slot
    }

    /// The image's ELF machine.
    pub const fn arch(&self) -> ElfMachine {
        self.load.arch()
    }

    /// How the image is entered: from its `arch` alone, never the loader's width.
    pub const fn entry_mode(&self) -> EntryMode {
        self.load.entry_mode()
    }

    /// Machine address of the entry point.
    pub const fn entry_maddr(&self) -> u64 {
        self.load.entry_maddr()
    }

    /// The segments, as loaded. Those without a source buffer were neither copied nor
    /// zeroed: the image only expects them mapped (kexec-tools maps the first MiB so).
    pub fn segments(&self) -> &[Segment] {
        self.load.segments()
    }

    /// The validated load this image was made from.
    pub const fn load(&self) -> &ValidatedLoad {
        &self.load
    }
}

/// The plain-data form of an [`Image`], through which it is serialized.
#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize)]
struct ImageRepr {
    slot: ImageSlot,
    load: xen_kexec_abi::load::LoadRequest,
}

#[cfg(feature = "serde")]
impl From<Image> for ImageRepr {
    fn from(image: Image) -> Self {
        ImageRepr {
            slot: image.slot,
            load: image.load.request(),
        }
    }
}

#[cfg(feature = "serde")]
impl TryFrom<ImageRepr> for Image {
    type Error = &'static str;

    fn try_from(repr: ImageRepr) -> Result<Self, Self::Error> {
        // The rules that hold on every host: page size 1 aligns everything, and a crash
        // region of the whole address space leaves only the entry's own check.
        let structural = xen_kexec_abi::host::HostDescription {
            page_size: xen_kexec_abi::host::PageSize::new(1).ok_or("page size 1")?,
            crash_region: xen_kexec_abi::host::MachineRange::new(0, u64::MAX),
            profile: xen_kexec_abi::host::RuleProfile::Strict,
        };
        let load = repr
            .load
            .validate(&structural)
            .map_err(|_| "the image's load breaks the load rules")?;
        let fits = match repr.slot {
            ImageSlot::Crash => load.kexec_type() == KexecType::CRASH,
            ImageSlot::Default(_) => load.kexec_type() == KexecType::DEFAULT,
        };
        if fits {
            Ok(Image {
                slot: repr.slot,
                load,
            })
        } else {
            Err("the image's slot does not hold images of its type")
        }
    }
}

/// What a `kexec_op` call did, when it succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Outcome {
    /// `KEXEC_CMD_kexec`: the host entered the image and returned (only a simulated
    /// host returns).
    Entered,
    /// `KEXEC_CMD_kexec_get_range`: this answer was written back to the guest.
    Range {
        /// The first machine address.
        start: u64,
        /// The size in bytes.
        size: u64,
    },
    /// `KEXEC_CMD_kexec_load`: the image is loaded.
    Loaded,
    /// `KEXEC_CMD_kexec_unload`: no image of the type is loaded (also when none was).
    Unloaded,
    /// `KEXEC_CMD_kexec_status`: whether an image of the type is loaded.
    Status {
        /// The answer.
        loaded: bool,
    },
}

impl Outcome {
    /// What the hypercall returns: 1 or 0 for status, 0 for everything else.
    pub const fn ret(self) -> i64 {
        match self {
            Outcome::Status { loaded: true } => 1,
            Outcome::Status { loaded: false }
            | Outcome::Entered
            | Outcome::Range { .. }
            | Outcome::Loaded
            | Outcome::Unloaded => 0,
        }
    }
}

/// The `kexec_op` engine: one DEFAULT and one CRASH image slot and the exec-in-progress
/// state, driven by [`hypercall`](Self::hypercall).
///
/// # Semantics (Xen 4.23's, minus its bugs)
/// - **Load** (DEFAULT) stages the new image in the staging area the current one does
///   not use and only then replaces it: the old image stays loaded and usable until the
///   new one is fully staged, and a failed load leaves it in place.
/// - **Load** (CRASH) copies straight into the crash region, over the current crash
///   image, so that image is unloaded (and released) *before the first byte is
///   written*, as Linux does. A load that then fails (a source fault, a hook's error)
///   leaves no crash image. **Departure**: Xen keeps the old crash image marked loaded
///   until the swap at the end, so a fault midway leaves a half-overwritten image that
///   status reports as loaded and a crash would enter.
/// - **Segments**: for each segment with a source buffer, `buf_size` bytes are read from
///   the guest and written to the destination, then the rest of `dest_size` is zeroed;
///   each source byte is read exactly once, through a stack buffer of
///   [`COPY_CHUNK`](crate::COPY_CHUNK) bytes, in chunks that never cross a destination
///   page. A segment without a buffer is neither copied nor zeroed: it is only mapped
///   for the image. A source fault is `EFAULT` and the load is undone: the slot it wrote
///   to is released, nothing staged stays staged.
/// - **Arch before sources**: the image's `arch` is checked by the decoder with the
///   other load rules, before any source byte is read or anything is written.
///   **Departure**: Xen checks it last, in `machine_kexec_load`, after copying every
///   source into the image (over the old crash image, for a crash load).
/// - **Status** reports presence: 1 if an image of the type is loaded, else 0.
///   **Departure**: Xen returns its slot-position bit, which flips on every load and
///   unload, so after two loads it says 0 with an image loaded.
/// - **Unload** releases the image of the type; unloading a type with none is 0, as in
///   Xen.
/// - **Exec** of a type with no image is `ENOENT`; otherwise the exec is marked in
///   progress and the host enters the image. While an exec is in progress, load,
///   unload and exec are `EBUSY` (Xen's `KEXEC_FLAG_IN_PROGRESS`); status and get_range
///   still answer. Arguments are decoded first, so a malformed one gets its own error.
/// - **get_range**: see [`Host`]; the answer is written back at the caller's width by
///   [`RangeQuery::complete`] (a 32-bit caller gets `ERANGE` and nothing written when
///   an answer needs more than 32 bits).
/// - Commands, types and arguments are decoded and validated by
///   [`xen_kexec_abi::decode`] against the host's [`Host::description`]; nothing is
///   re-read or re-checked here. Unknown types are `EINVAL`, unknown commands
///   `EOPNOTSUPP`.
///
/// # Concurrency
/// The engine is `&mut self`: one hypercall at a time. The host serialises `kexec_op`
/// calls, as Xen does with its in-hypercall flag and a continuation for the second
/// caller; a hypervisor in Rust puts the engine and its host behind a lock. Every
/// privilege check (Xen's XSM check, `EPERM`) is the host's, before calling in.
///
/// ```
/// use xen_kexec_abi::guest_mem::{GuestRegion, SparseMemory};
/// use xen_kexec_abi::{GuestAbi, KexecCmd};
/// use xen_kexec_hypervisor::Kexec;
/// # #[cfg(feature = "sim")] {
/// use xen_kexec_hypervisor::sim::{SimConfig, SimHost};
///
/// let mut host = SimHost::new(SimConfig::default()).unwrap();
/// let mut kexec = Kexec::new();
/// let status = [1u8]; // xen_kexec_status_t { type = KEXEC_TYPE_CRASH }
/// let mut regions = [GuestRegion { base: 0x1000, bytes: &status[..] }];
/// let mut mem = SparseMemory::new(&mut regions).unwrap();
/// assert_eq!(kexec.hypercall(GuestAbi::X86_64, KexecCmd::STATUS, 0x1000, &mut mem, &mut host), 0);
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(into = "KexecRepr", try_from = "KexecRepr")
)]
pub struct Kexec {
    default: Option<Image>,
    crash: Option<Image>,
    exec: Option<KexecType>,
}

/// The plain-data form of [`Kexec`].
#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize)]
struct KexecRepr {
    default: Option<Image>,
    crash: Option<Image>,
    exec_in_progress: Option<KexecType>,
}

#[cfg(feature = "serde")]
impl From<Kexec> for KexecRepr {
    fn from(k: Kexec) -> Self {
        KexecRepr {
            default: k.default,
            crash: k.crash,
            exec_in_progress: k.exec,
        }
    }
}

#[cfg(feature = "serde")]
impl TryFrom<KexecRepr> for Kexec {
    type Error = &'static str;

    fn try_from(r: KexecRepr) -> Result<Self, Self::Error> {
        if r.default
            .is_some_and(|i| i.kexec_type() != KexecType::DEFAULT)
        {
            return Err("the DEFAULT slot holds a CRASH image");
        }
        if r.crash.is_some_and(|i| i.kexec_type() != KexecType::CRASH) {
            return Err("the CRASH slot holds a DEFAULT image");
        }
        let k = Kexec {
            default: r.default,
            crash: r.crash,
            exec: r.exec_in_progress,
        };
        match r.exec_in_progress {
            Some(t) if k.image(t).is_none() => Err("an exec is in progress with no image"),
            _ => Ok(k),
        }
    }
}

impl Kexec {
    /// An engine with no image loaded and no exec in progress.
    pub const fn new() -> Kexec {
        Kexec {
            default: None,
            crash: None,
            exec: None,
        }
    }

    /// `kexec_op(cmd, arg)` from a guest of width `abi` whose memory is `mem`, on
    /// `host`: performs the operation and returns what the hypercall returns (`0`, `1`
    /// or `0` for status, or `-errno`). A failure is always negative, never 0, whatever
    /// a host hook answered (see [`HostError`](crate::HostError)).
    /// [`kexec_op`](Self::kexec_op) gives the typed result.
    pub fn hypercall<M, H>(
        &mut self,
        abi: GuestAbi,
        cmd: KexecCmd,
        arg: u64,
        mem: &mut M,
        host: &mut H,
    ) -> i64
    where
        M: GuestMemory + ?Sized,
        H: Host + ?Sized,
    {
        match self.kexec_op(abi, cmd, arg, mem, host) {
            Ok(outcome) => outcome.ret(),
            // Every refusal's errno is positive (the abi crate's are constants, a
            // host's is a `HostError`, which holds only 1..=4095), so this is negative;
            // the guard keeps a failure from ever reading as success all the same.
            Err(e) => match e.to_hypercall_ret() {
                ret @ ..0 => ret,
                _ => xen_kexec_abi::Errno::EIO.to_hypercall_ret(),
            },
        }
    }

    /// [`hypercall`](Self::hypercall) with a typed result.
    ///
    /// # Errors
    /// The refusal, with its errno ([`Error::errno`]).
    pub fn kexec_op<M, H>(
        &mut self,
        abi: GuestAbi,
        cmd: KexecCmd,
        arg: u64,
        mem: &mut M,
        host: &mut H,
    ) -> Result<Outcome, Error>
    where
        M: GuestMemory + ?Sized,
        H: Host + ?Sized,
    {
        if cmd == KexecCmd::LOAD {
            // Decoded in a slot on this stack and used there: `decode` would return the
            // ~540-byte load by value, one more copy (the same checks, order and errors).
            let mut slot = LoadSlot::new();
            let load = load_into(abi, mem, arg, &host.description(), &mut slot)?;
            return self.load(load, mem, host);
        }
        match decode(abi, cmd, arg, mem, &host.description())? {
            Operation::Exec { type_ } => self.exec(type_, host),
            Operation::GetRange(query) => get_range(&query, mem, host),
            Operation::Unload { type_ } => self.unload(type_, host),
            Operation::Status { type_ } => Ok(Outcome::Status {
                loaded: self.is_loaded(type_),
            }),
            // `Operation::Load` cannot come here: LOAD was decoded in place above. Else a
            // command a newer decoder knows and this engine does not.
            _ => Err(xen_kexec_abi::Error::UnsupportedCmd { cmd }.into()),
        }
    }

    /// Whether an image of `type_` is loaded: what status answers.
    pub fn is_loaded(&self, type_: KexecType) -> bool {
        self.image(type_).is_some()
    }

    /// The loaded image of `type_`, if any.
    pub fn image(&self, type_: KexecType) -> Option<&Image> {
        match type_ {
            KexecType::DEFAULT => self.default.as_ref(),
            KexecType::CRASH => self.crash.as_ref(),
            _ => None,
        }
    }

    /// The type of the image an exec is in progress for, if one is.
    pub const fn exec_in_progress(&self) -> Option<KexecType> {
        self.exec
    }

    fn not_busy(&self) -> Result<(), Error> {
        match self.exec {
            Some(type_) => Err(Error::ExecInProgress { type_ }),
            None => Ok(()),
        }
    }

    fn load<M, H>(
        &mut self,
        load: &ValidatedLoad,
        mem: &mut M,
        host: &mut H,
    ) -> Result<Outcome, Error>
    where
        M: GuestMemory + ?Sized,
        H: Host + ?Sized,
    {
        self.not_busy()?;
        if load.kexec_type() == KexecType::CRASH {
            // The new image is written over the old one: unload it first, so no moment
            // exists where a partly overwritten image is marked loaded.
            if self.crash.take().is_some() {
                host.release(ImageSlot::Crash);
                host.free_crash_image();
            }
            if let Err(e) = copy_segments(load, ImageSlot::Crash, mem, host) {
                host.release(ImageSlot::Crash);
                return Err(e);
            }
            self.crash = Some(Image {
                slot: ImageSlot::Crash,
                load: *load,
            });
        } else {
            // DEFAULT (the decoder admits no other type): stage in the free area, then
            // swap; the old image is untouched until the new one is complete.
            let area = match self.default {
                Some(Image {
                    slot: ImageSlot::Default(current),
                    ..
                }) => current.other(),
                _ => StagingArea::A,
            };
            let slot = ImageSlot::Default(area);
            if let Err(e) = copy_segments(load, slot, mem, host) {
                host.release(slot);
                return Err(e);
            }
            if let Some(old) = self.default.replace(Image { slot, load: *load }) {
                host.release(old.slot);
            }
        }
        Ok(Outcome::Loaded)
    }

    fn unload<H: Host + ?Sized>(
        &mut self,
        type_: KexecType,
        host: &mut H,
    ) -> Result<Outcome, Error> {
        self.not_busy()?;
        let slot = match type_ {
            KexecType::CRASH => &mut self.crash,
            _ => &mut self.default,
        };
        if let Some(old) = slot.take() {
            host.release(old.slot);
            if old.slot == ImageSlot::Crash {
                host.free_crash_image();
            }
        }
        Ok(Outcome::Unloaded)
    }

    fn exec<H: Host + ?Sized>(&mut self, type_: KexecType, host: &mut H) -> Result<Outcome, Error> {
        // As Xen: no image is ENOENT before anything else.
        let image = *self.image(type_).ok_or(Error::NoImage { type_ })?;
        self.not_busy()?;
        self.exec = Some(type_);
        match host.enter(&image) {
            Ok(()) => Ok(Outcome::Entered),
            Err(e) => {
                self.exec = None;
                Err(e.into())
            }
        }
    }
}

/// Answers a get_range query from the host's hooks and writes it back to the guest.
fn get_range<M, H>(query: &RangeQuery, mem: &mut M, host: &H) -> Result<Outcome, Error>
where
    M: GuestMemory + ?Sized,
    H: Host + ?Sized,
{
    let unavailable = Error::RangeUnavailable { range: query.range };
    let (start, size) = match query.range {
        // As Xen: no region reserved answers start = size = 0.
        KexecRangeKind::MA_CRASH => host
            .crash_region()
            .map_or((0, 0), |r| (r.start(), r.size())),
        KexecRangeKind::MA_XEN => {
            let r = host.xen_range();
            (r.start(), r.size())
        }
        KexecRangeKind::MA_CPU => {
            let cpus = host.cpu_count();
            let cpu = u32::try_from(query.nr)
                .ok()
                .filter(|&cpu| cpu < cpus)
                .ok_or(Error::CpuOutOfRange { nr: query.nr, cpus })?;
            let r = host.cpu_notes(cpu).ok_or(unavailable)?;
            (r.start(), r.size())
        }
        KexecRangeKind::MA_VMCOREINFO => {
            let r = host.vmcoreinfo().ok_or(unavailable)?;
            (r.start(), r.size())
        }
        other => {
            let r = host.other_range(other, query.nr).ok_or(unavailable)?;
            (r.start(), r.size())
        }
    };
    query.complete(mem, size, start)?;
    Ok(Outcome::Range { start, size })
}
