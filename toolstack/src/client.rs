// SPDX-License-Identifier: MIT
//! The typed client: `status`, `get_range`, `load`, `unload` and `exec` over any
//! [`Transport`], in the argument layout of the kernel that makes the hypercall, and
//! the machine memory map (`memory_op`'s `XENMEM_machine_memory_map`).
//!
//! Each call puts its argument structure, built by the `xen-kexec-abi` crate, in a
//! hypercall buffer of the transport and makes `kexec_op`. A load is checked by the very
//! rules the hypervisor applies ([`LoadRequest::validate`]) before any source byte is
//! read, so a load Xen would refuse is refused here, naming the segment; a CRASH load is
//! first checked against the crash region the hypervisor reports.

use std::fmt;

use xen_kexec_abi::encode::{self, EncodeError};
use xen_kexec_abi::host::{HostDescription, MachineRange};
use xen_kexec_abi::load::{LoadRequest, ValidatedLoad};
use xen_kexec_abi::load_fill::{FillError, FilledLoad};
use xen_kexec_abi::memory::MemoryMapArg;
use xen_kexec_abi::{
    x86_32, x86_64, EntryMode, Errno, Error, GuestAbi, KexecCmd, KexecRangeKind, KexecType,
    OpenEnum,
};
use zerocopy::FromBytes;

use crate::memmap::{E820Entry, MemRange};
use crate::plan::{LoadPlan, PlanError};
use crate::transport::{
    not_one_piece, CallError, Hypercall, HypercallBuffer, HypercallCmd, Refused, Transport,
    TransportError,
};

/// Why a request was refused: by the hypervisor (its errno), or by this toolstack before
/// the hypercall, for a reason the hypervisor would refuse it too (with the precise rule).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The command refused.
    pub cmd: HypercallCmd,
    /// The errno: the hypervisor's, or the one it would return.
    pub errno: Errno,
    /// The rule broken, when known: an error's [`rule`](Error::rule), or a toolstack
    /// rule (`XenSegmentLimit`).
    pub rule: Option<&'static str>,
    /// The segment the refusal is about, if one.
    pub segment: Option<u32>,
    /// What was wrong, in words.
    pub reason: String,
    /// Whether the toolstack refused by itself: before making the hypercall, or
    /// because of what the hypervisor answered (a machine memory map entry that
    /// cannot be one).
    pub local: bool,
}

/// An error that names the rule it breaks: the errors of the abi crate and of the
/// engine all do ([`Error::rule`], [`EncodeError::rule`], [`FillError::rule`]).
pub trait RuleError: fmt::Display {
    /// The errno the hypervisor returns for it.
    fn errno(&self) -> Errno;
    /// The rule's name.
    fn rule(&self) -> &'static str;
    /// The segment it is about, if one.
    fn segment(&self) -> Option<u8>;
}

macro_rules! rule_error {
    ($($t:ty),*) => {$(
        impl RuleError for $t {
            fn errno(&self) -> Errno {
                <$t>::errno(self)
            }
            fn rule(&self) -> &'static str {
                <$t>::rule(self)
            }
            fn segment(&self) -> Option<u8> {
                <$t>::segment(self)
            }
        }
    )*};
}

rule_error!(
    Error,
    EncodeError,
    FillError,
    xen_kexec_hypervisor::Error,
    MemoryMapError
);

/// The capacity, in entries, of the first buffer [`Client::machine_memory_map`] asks
/// with: Linux's and kexec-tools' `E820MAX`.
pub const E820MAX: u32 = 128;

/// Why the machine memory map the hypervisor answered, or the request for it, cannot
/// be used. Each names its rule and carries an errno (refused locally, exit status 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemoryMapError {
    /// An entry is empty or runs past 2^64 (`EINVAL`).
    BadEntry {
        /// The entry's index in the map.
        index: usize,
        /// Its `addr`.
        addr: u64,
        /// Its `size`.
        size: u64,
    },
    /// The hypervisor reports more entries than the buffer holds (`EINVAL`).
    TooManyEntries {
        /// The entries it reports.
        nr_entries: u32,
        /// The buffer's capacity.
        capacity: u32,
    },
    /// The buffer's guest address does not fit a 32-bit guest's handle (`ERANGE`).
    BufferAbove4G {
        /// The buffer's address.
        addr: u64,
    },
}

impl MemoryMapError {
    /// The errno.
    pub const fn errno(&self) -> Errno {
        match self {
            MemoryMapError::BadEntry { .. } | MemoryMapError::TooManyEntries { .. } => {
                Errno::EINVAL
            }
            MemoryMapError::BufferAbove4G { .. } => Errno::ERANGE,
        }
    }

    /// The rule's name: the variant's.
    pub const fn rule(&self) -> &'static str {
        match self {
            MemoryMapError::BadEntry { .. } => "BadEntry",
            MemoryMapError::TooManyEntries { .. } => "TooManyEntries",
            MemoryMapError::BufferAbove4G { .. } => "BufferAbove4G",
        }
    }

    /// About no segment.
    pub const fn segment(&self) -> Option<u8> {
        None
    }
}

impl fmt::Display for MemoryMapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MemoryMapError::BadEntry {
                index,
                addr,
                size: 0,
            } => write!(
                f,
                "machine memory map entry {index} (addr {addr:#x}) is empty"
            ),
            MemoryMapError::BadEntry { index, addr, size } => write!(
                f,
                "machine memory map entry {index} (addr {addr:#x}, size {size:#x}) \
                 runs past the top of the address space"
            ),
            MemoryMapError::TooManyEntries {
                nr_entries,
                capacity,
            } => write!(
                f,
                "the hypervisor reports {nr_entries} machine memory map entries \
                 in a buffer of {capacity}"
            ),
            MemoryMapError::BufferAbove4G { addr } => write!(
                f,
                "the memory map buffer at {addr:#x} does not fit a 32-bit guest's handle"
            ),
        }
    }
}

impl std::error::Error for MemoryMapError {}

/// A local refusal of the machine memory map.
fn memory_map_refused(e: &MemoryMapError) -> ClientError {
    ClientError::Refused(Refusal::from_error(
        HypercallCmd::MACHINE_MEMORY_MAP,
        e,
        true,
    ))
}

/// The ranges of the e820 entries in `bytes`, the first `n`; an entry that is empty or
/// wraps is refused, naming it.
fn memory_ranges(bytes: &[u8], n: usize) -> Result<Vec<MemRange>, MemoryMapError> {
    bytes
        .chunks_exact(size_of::<E820Entry>())
        .take(n)
        .enumerate()
        .map(|(index, chunk)| {
            let e = E820Entry::read_from_bytes(chunk).unwrap_or_default();
            MemRange::from_entry(&e).ok_or(MemoryMapError::BadEntry {
                index,
                addr: e.addr.get(),
                size: e.size.get(),
            })
        })
        .collect()
}

impl Refusal {
    /// The refusal of `cmd` for `error`, naming its rule and segment; `local` when this
    /// toolstack refused before making the hypercall.
    pub fn from_error<E: RuleError + ?Sized>(
        cmd: impl Into<HypercallCmd>,
        error: &E,
        local: bool,
    ) -> Refusal {
        Refusal {
            cmd: cmd.into(),
            errno: error.errno(),
            rule: Some(error.rule()),
            segment: error.segment().map(u32::from),
            reason: error.to_string(),
            local,
        }
    }

    /// The hypervisor's refusal of `cmd`, with what the transport knows of it.
    pub fn from_refused(cmd: impl Into<HypercallCmd>, refused: Refused) -> Refusal {
        let cmd = cmd.into();
        Refusal {
            cmd,
            errno: refused.errno,
            rule: refused.rule,
            segment: refused.segment,
            reason: refused
                .reason
                .unwrap_or_else(|| errno_reason(cmd, refused.errno)),
            local: false,
        }
    }

    /// The hypervisor's refusal of `cmd` with `errno` and nothing more.
    pub fn from_errno(cmd: impl Into<HypercallCmd>, errno: Errno) -> Refusal {
        Refusal::from_refused(
            cmd,
            Refused {
                errno,
                rule: None,
                segment: None,
                reason: None,
            },
        )
    }

    /// The errno's name without Xen's `XEN_` prefix (`EINVAL`), or its number.
    pub fn errno_name(&self) -> String {
        errno_name(self.errno)
    }
}

/// A local refusal of a load for `error`: the one way the load path refuses by a rule.
fn load_refused<E: RuleError>(error: &E) -> ClientError {
    ClientError::Refused(Refusal::from_error(KexecCmd::LOAD, error, true))
}

impl fmt::Display for Refusal {
    /// `ENAME (value): reason`, the form every refusal is reported in.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.errno_name(),
            self.errno.0,
            self.reason
        )
    }
}

/// An errno's name without Xen's `XEN_` prefix, or `errno N` for an unknown one.
pub fn errno_name(errno: Errno) -> String {
    errno.c_name().map_or_else(
        || format!("errno {}", errno.0),
        |n| n.strip_prefix("XEN_").unwrap_or(n).to_owned(),
    )
}

/// What Xen means by `errno` for `cmd`, where the facts say; else a plain statement.
fn errno_reason(cmd: HypercallCmd, errno: Errno) -> String {
    use HypercallCmd::{Kexec, Memory};
    let what = match (cmd, errno) {
        (Kexec(KexecCmd::KEXEC), Errno::ENOENT) => "no image of that type is loaded",
        (Kexec(_), Errno::EBUSY) => "an exec is in progress",
        (Kexec(_), Errno::EPERM) => "the caller is not privileged for kexec_op",
        (Kexec(KexecCmd::GET_RANGE), Errno::ERANGE) => {
            "the CPU number is out of range, or the answer does not fit the caller's layout"
        }
        (Kexec(KexecCmd::GET_RANGE), Errno::EINVAL) => {
            "the hypervisor does not answer this range kind"
        }
        (Memory(_), Errno::EPERM) => "the caller is not privileged for the machine memory map",
        (Memory(_), Errno::EINVAL) => {
            "the buffer is too small for the map (Xen wants room for one entry more)"
        }
        (Memory(_), Errno::ENOSYS) => {
            "the hypervisor does not give this domain the machine memory map \
             (an HVM or PVH dom0 gets ENOSYS)"
        }
        (_, Errno::EFAULT) => "the hypervisor could not access an argument",
        (_, Errno::ENOMEM) => "the hypervisor is out of memory",
        (Kexec(_), Errno::EOPNOTSUPP | Errno::ENOSYS) => {
            "the hypervisor does not support this kexec_op command"
        }
        _ => "",
    };
    if what.is_empty() {
        format!("the hypervisor refused {cmd}")
    } else {
        format!("the hypervisor refused {cmd}: {what}")
    }
}

/// Why a client call did not succeed.
#[derive(Debug)]
pub enum ClientError {
    /// Refused, by the hypervisor or locally by its rules.
    Refused(Refusal),
    /// The hypercall could not be made.
    Transport(TransportError),
    /// The image's input could not be read.
    Input(PlanError),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Refused(r) => r.fmt(f),
            ClientError::Transport(e) => e.fmt(f),
            ClientError::Input(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<TransportError> for ClientError {
    fn from(e: TransportError) -> Self {
        ClientError::Transport(e)
    }
}

impl ClientError {
    /// The error of a call of `cmd` that gave no value.
    fn of_call(cmd: impl Into<HypercallCmd>, e: CallError) -> ClientError {
        match e {
            CallError::Refused(r) => ClientError::Refused(Refusal::from_refused(cmd, r)),
            CallError::Transport(t) => ClientError::Transport(t),
        }
    }
}

/// A machine range as the hypervisor reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeAnswer {
    /// Which range was asked for.
    pub range: KexecRangeKind,
    /// The `nr` asked with.
    pub nr: i32,
    /// The first machine address.
    pub start: u64,
    /// The size in bytes.
    pub size: u64,
}

impl RangeAnswer {
    /// The range, or `None` when the hypervisor reports none (Xen answers a missing
    /// crash region with start = size = 0) or an answer past 2^64.
    pub fn machine_range(&self) -> Option<MachineRange> {
        if self.size == 0 {
            None
        } else {
            MachineRange::new(self.start, self.size)
        }
    }
}

/// What a load sent (or, for a dry run, would send).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadSummary {
    /// The request: with the source buffers' guest addresses as sent, or for a dry run
    /// as checked, each source buffer at a stand-in address that is not null.
    pub request: LoadRequest,
    /// How the image will be entered.
    pub entry_mode: EntryMode,
    /// The crash region the plan was checked against (CRASH loads).
    pub crash_region: Option<MachineRange>,
}

/// A plan that passed the hypervisor's rules, its source buffers at stand-in addresses:
/// made only by [`Client::check_plan`], the toolstack's one run of the rules, and sent
/// by [`Client::send`], which fills the buffers in without running them again
/// ([`ValidatedLoad::with_buffers`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedLoad {
    load: ValidatedLoad,
    crash_region: Option<MachineRange>,
}

impl CheckedLoad {
    /// What a dry run reports.
    pub fn summary(&self) -> LoadSummary {
        LoadSummary {
            request: self.load.request(),
            entry_mode: self.load.entry_mode(),
            crash_region: self.crash_region,
        }
    }
}

/// A stand-in guest address for a source buffer while a plan is checked before any
/// buffer exists: the rules only ask whether `buf` is null.
const PLANNED_BUF: u64 = 0x1000;

/// Runs the load rules: the toolstack's only call of [`LoadRequest::validate`].
fn validate(request: &LoadRequest, host: &HostDescription) -> Result<ValidatedLoad, Error> {
    #[cfg(test)]
    tests::VALIDATIONS.with(|n| n.set(n.get() + 1));
    request.validate(host)
}

/// The typed `kexec_op` client.
#[derive(Debug)]
pub struct Client<T> {
    transport: T,
    abi: GuestAbi,
}

impl<T: Transport> Client<T> {
    /// A client in the layout `guest`, or the kernel's (`None`: `--guest auto`).
    ///
    /// # Errors
    /// The transport's, when the kernel's layout is asked for and unknown.
    pub fn new(transport: T, guest: Option<GuestAbi>) -> Result<Client<T>, TransportError> {
        let abi = match guest {
            Some(abi) => abi,
            None => transport.kernel_abi()?,
        };
        Ok(Client { transport, abi })
    }

    /// The argument layout in use.
    pub fn abi(&self) -> GuestAbi {
        self.abi
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The transport, mutably.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Gives the transport back.
    pub fn into_transport(self) -> T {
        self.transport
    }

    /// Makes `kexec_op(cmd, arg)` with the argument bytes `arg` in a fresh buffer;
    /// returns the buffer (holding what the hypervisor wrote back) and the value.
    fn call_small(&mut self, cmd: KexecCmd, arg: &[u8]) -> Result<(T::Buffer, i64), ClientError> {
        let mut buf = self.transport.alloc(arg.len())?;
        one_piece(buf.as_mut_bytes(), arg.len())?.copy_from_slice(arg);
        let addr = buf.guest_addr();
        let ret = self
            .transport
            .kexec_op(cmd, addr, &mut [&mut buf])
            .map_err(|e| ClientError::of_call(cmd, e))?;
        Ok((buf, ret))
    }

    /// `memory_op(XENMEM_machine_memory_map)`: the machine's e820 map, in the client's
    /// layout ([`abi`](Self::abi)). Asks with a buffer of [`E820MAX`] entries; when Xen
    /// refuses it as too small (`EINVAL`), asks for the count (a null buffer) and tries
    /// once more with room for it (Xen wants one entry more than it writes).
    ///
    /// # Errors
    /// The hypervisor's refusal (`EPERM` unprivileged, `ENOSYS` for an HVM or PVH dom0,
    /// `EINVAL`, `EFAULT`), a local refusal ([`MemoryMapError`]: an entry that is empty
    /// or wraps, named), or the transport's failure.
    pub fn machine_memory_map(&mut self) -> Result<Vec<MemRange>, ClientError> {
        match self.memory_map_with(E820MAX) {
            Err(ClientError::Refused(r)) if r.errno == Errno::EINVAL && !r.local => {
                let count = self.memory_map_count()?;
                match count.checked_add(1) {
                    Some(capacity) if capacity > E820MAX => self.memory_map_with(capacity),
                    // Not too small after all: the first refusal stands.
                    _ => Err(ClientError::Refused(r)),
                }
            }
            other => other,
        }
    }

    /// The number of entries of the machine memory map: the call with a null buffer.
    fn memory_map_count(&mut self) -> Result<u32, ClientError> {
        let (arg, _) = self.memory_map_call(0, None)?;
        Ok(arg.nr_entries)
    }

    /// The machine memory map, asked for with a buffer of `capacity` entries.
    fn memory_map_with(&mut self, capacity: u32) -> Result<Vec<MemRange>, ClientError> {
        let (arg, entries) = self.memory_map_call(capacity, Some(capacity))?;
        if arg.nr_entries > capacity {
            return Err(memory_map_refused(&MemoryMapError::TooManyEntries {
                nr_entries: arg.nr_entries,
                capacity,
            }));
        }
        let n = usize::try_from(arg.nr_entries).unwrap_or(usize::MAX);
        let bytes = match entries.as_ref() {
            Some(b) => b.as_bytes().ok_or_else(|| not_one_piece(0))?,
            None => &[][..],
        };
        memory_ranges(bytes, n).map_err(|e| memory_map_refused(&e))
    }

    /// Makes the call with `nr_entries`, and a fresh buffer of `buffer` entries (or a
    /// null one); returns the argument as written back, and the buffer.
    fn memory_map_call(
        &mut self,
        nr_entries: u32,
        buffer: Option<u32>,
    ) -> Result<(MemoryMapArg, Option<T::Buffer>), ClientError> {
        let cmd = HypercallCmd::MACHINE_MEMORY_MAP;
        let size = MemoryMapArg::size(self.abi);
        let mut arg_buf = self.transport.alloc(size)?;
        let mut entries = match buffer {
            Some(n) => Some(
                self.transport.alloc(
                    usize::try_from(n)
                        .unwrap_or(usize::MAX)
                        .saturating_mul(size_of::<E820Entry>()),
                )?,
            ),
            None => None,
        };
        let request = MemoryMapArg {
            nr_entries,
            buffer: entries.as_ref().map_or(0, HypercallBuffer::guest_addr),
        };
        let mut raw = [0u8; 16];
        let bytes = request.encode(self.abi, &mut raw).ok_or_else(|| {
            memory_map_refused(&MemoryMapError::BufferAbove4G {
                addr: request.buffer,
            })
        })?;
        one_piece(arg_buf.as_mut_bytes(), size)?.copy_from_slice(bytes);
        let call = Hypercall::MachineMemoryMap {
            arg: arg_buf.guest_addr(),
        };
        match entries.as_mut() {
            Some(e) => self.transport.hypercall(call, &mut [&mut arg_buf, e]),
            None => self.transport.hypercall(call, &mut [&mut arg_buf]),
        }
        .map_err(|e| ClientError::of_call(cmd, e))?;
        let written = arg_buf.as_bytes().ok_or_else(|| not_one_piece(size))?;
        let answer = MemoryMapArg::decode(self.abi, written).ok_or_else(|| {
            ClientError::Transport(TransportError::Memory {
                what: "reading the machine memory map answer".into(),
                source: std::io::Error::other(
                    "the argument buffer is shorter than struct xen_memory_map",
                ),
            })
        })?;
        Ok((answer, entries))
    }

    /// `KEXEC_CMD_kexec_status`: whether the hypervisor reports an image of `type_`
    /// loaded (Xen before this project reports its slot-position bit instead).
    ///
    /// # Errors
    /// The hypervisor's refusal, or the transport's failure.
    pub fn status(&mut self, type_: KexecType) -> Result<bool, ClientError> {
        let (_, ret) = self.call_small(KexecCmd::STATUS, encode::status(type_).as_bytes())?;
        Ok(ret != 0)
    }

    /// `KEXEC_CMD_kexec_get_range`.
    ///
    /// # Errors
    /// The hypervisor's refusal (`ERANGE` for a CPU out of range, or an answer that a
    /// 32-bit caller cannot hold; `EINVAL` for a kind it does not answer), or the
    /// transport's failure.
    pub fn get_range(
        &mut self,
        range: KexecRangeKind,
        nr: i32,
    ) -> Result<RangeAnswer, ClientError> {
        let arg = encode::get_range(self.abi, range, nr);
        let (buf, _) = self.call_small(KexecCmd::GET_RANGE, arg.as_bytes())?;
        let bytes = buf
            .as_bytes()
            .ok_or_else(|| not_one_piece(arg.as_bytes().len()))?;
        let (start, size) = match self.abi {
            GuestAbi::X86_64 => x86_64::KexecRange::read_from_prefix(bytes)
                .map(|(r, _)| (r.start, r.size))
                .map_err(|_| short_answer())?,
            GuestAbi::X86_32 => x86_32::KexecRange::read_from_prefix(bytes)
                .map(|(r, _)| (u64::from(r.start), u64::from(r.size)))
                .map_err(|_| short_answer())?,
        };
        Ok(RangeAnswer {
            range,
            nr,
            start,
            size,
        })
    }

    /// `KEXEC_CMD_kexec_unload`.
    ///
    /// # Errors
    /// The hypervisor's refusal, or the transport's failure.
    pub fn unload(&mut self, type_: KexecType) -> Result<(), ClientError> {
        self.call_small(KexecCmd::UNLOAD, encode::unload(type_).as_bytes())
            .map(drop)
    }

    /// `KEXEC_CMD_kexec`: enter the loaded image of `type_`. On a real hypervisor a
    /// successful call does not return.
    ///
    /// # Errors
    /// The hypervisor's refusal (`ENOENT` when no image of that type is loaded), or the
    /// transport's failure.
    pub fn exec(&mut self, type_: KexecType) -> Result<(), ClientError> {
        self.call_small(KexecCmd::KEXEC, encode::exec(type_).as_bytes())
            .map(drop)
    }

    /// Checks `plan` as the hypervisor will (for CRASH, against the crash region it
    /// reports) without reading any source byte: the one run of the load rules.
    ///
    /// # Errors
    /// A local [`Refusal`] naming the rule and segment, or the failure of get_range.
    pub fn check_plan(&mut self, plan: &LoadPlan) -> Result<CheckedLoad, ClientError> {
        let crash_region = if plan.type_ == KexecType::CRASH {
            self.get_range(KexecRangeKind::MA_CRASH, 0)?.machine_range()
        } else {
            None
        };
        plan.check_segment_limit()
            .map_err(|r| ClientError::Refused(*r))?;
        let request = plan
            .request(|_| PLANNED_BUF)
            .map_err(|e| load_refused(&e))?;
        let load = validate(&request, &HostDescription::x86(crash_region))
            .map_err(|e| load_refused(&e))?;
        Ok(CheckedLoad { load, crash_region })
    }

    /// `KEXEC_CMD_kexec_load` of `plan`: [`check_plan`](Self::check_plan), then for a
    /// CRASH image `KEXEC_CMD_kexec_unload` of the loaded one, then
    /// [`send`](Self::send).
    ///
    /// The unload is a departure from libxenctrl and kexec-tools, which load the new
    /// crash image over the old one: Xen 4.17 and its development head copy the new
    /// image into the crash region before they free the old one, whose control pages
    /// lie in that region, and can fault in `kimage_free` (a hypervisor panic). Unloading
    /// first never leaves an old image to free. Unloading with none loaded is 0 in Xen.
    /// A plan the check refuses unloads nothing.
    ///
    /// # Errors
    /// A local or hypervisor [`Refusal`], an input file that cannot be read, or the
    /// transport's failure. A CRASH load that fails after the unload leaves no crash
    /// image.
    pub fn load(&mut self, plan: &LoadPlan) -> Result<LoadSummary, ClientError> {
        let checked = self.check_plan(plan)?;
        if plan.type_ == KexecType::CRASH {
            self.unload(KexecType::CRASH)?;
        }
        self.send(plan, &checked)
    }

    /// Sends the checked load of `plan`: each source read into its own hypercall buffer,
    /// the buffers' addresses filled in (keeping the validation), the request encoded in
    /// this client's layout straight into one more buffer, and `kexec_op` made.
    ///
    /// # Errors
    /// A local refusal (a handle a 32-bit layout cannot hold), the hypervisor's refusal,
    /// an input file that cannot be read, or the transport's failure.
    pub fn send(
        &mut self,
        plan: &LoadPlan,
        checked: &CheckedLoad,
    ) -> Result<LoadSummary, ClientError> {
        let mut sources = self.read_sources(plan)?;
        let filled = checked
            .load
            .with_buffers(|i| {
                sources
                    .get(i)
                    .and_then(Option::as_ref)
                    .map_or(0, HypercallBuffer::guest_addr)
            })
            .map_err(|e| load_refused(&e))?;
        let (mut args, load_addr) = self.encode_args(&filled)?;
        let mut buffers: Vec<&mut T::Buffer> = sources.iter_mut().flatten().collect();
        buffers.push(&mut args);
        self.transport
            .kexec_op(KexecCmd::LOAD, load_addr, &mut buffers)
            .map_err(|e| ClientError::of_call(KexecCmd::LOAD, e))?;
        Ok(LoadSummary {
            request: filled.request(),
            entry_mode: filled.entry_mode(),
            crash_region: checked.crash_region,
        })
    }

    /// One hypercall buffer per buffered segment of `plan`, filled from its input files.
    fn read_sources(&mut self, plan: &LoadPlan) -> Result<Vec<Option<T::Buffer>>, ClientError> {
        let mut sources = Vec::with_capacity(plan.segments.len());
        for (index, seg) in plan.segments.iter().enumerate() {
            if !seg.buffered {
                sources.push(None);
                continue;
            }
            let size = seg.buf_size();
            let len = usize::try_from(size).map_err(|_| {
                ClientError::Input(PlanError::TooLarge {
                    what: seg.what.clone(),
                    size,
                })
            })?;
            let buf = self.transport.alloc_source(len, &mut |offset, part| {
                plan.fill_part(index, offset, part)
                    .map_err(ClientError::Input)
            })?;
            sources.push(Some(buf));
        }
        Ok(sources)
    }

    /// The encoded load in a buffer of its own: the segment array, then the load
    /// structure (8-byte aligned). Returns the buffer and the load structure's address.
    fn encode_args(&mut self, load: &FilledLoad) -> Result<(T::Buffer, u64), ClientError> {
        let array_len = load.request().segments.len() * size_of::<x86_64::KexecSegment>();
        let load_off = array_len.next_multiple_of(8);
        let mut args = self
            .transport
            .alloc(load_off + size_of::<x86_64::KexecLoad>())?;
        let base = args.guest_addr();
        let encoded = load.encode(self.abi, base).map_err(|e| load_refused(&e))?;
        let bytes = one_piece(
            args.as_mut_bytes(),
            load_off + size_of::<x86_64::KexecLoad>(),
        )?;
        bytes[..array_len].copy_from_slice(encoded.segment_bytes());
        bytes[load_off..].copy_from_slice(encoded.load_bytes());
        Ok((args, base + load_off as u64))
    }
}

/// The first `len` bytes of a buffer from [`Transport::alloc`], which is in one piece.
fn one_piece(bytes: Option<&mut [u8]>, len: usize) -> Result<&mut [u8], ClientError> {
    bytes
        .and_then(|b| b.get_mut(..len))
        .ok_or_else(|| not_one_piece(len).into())
}

fn short_answer() -> ClientError {
    ClientError::Transport(TransportError::Memory {
        what: "reading the get_range answer".into(),
        source: std::io::Error::other("the argument buffer is shorter than xen_kexec_range_t"),
    })
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use xen_kexec_hypervisor::sim::SimConfig;

    use super::*;
    use crate::plan::{self, PlanOptions};
    use crate::sim::SimTransport;

    thread_local! {
        /// How many times this thread ran the load rules in the toolstack.
        pub(super) static VALIDATIONS: Cell<usize> = const { Cell::new(0) };
    }

    /// A 64-bit ELF executable of one `PT_LOAD`: 0x100 file bytes at physical
    /// `paddr`, entered there.
    fn elf64(paddr: u64) -> Vec<u8> {
        let mut e = vec![0u8; 0x200];
        e[..4].copy_from_slice(b"\x7fELF");
        e[4] = 2; // ELFCLASS64
        e[5] = 1; // little-endian
        e[6] = 1; // EV_CURRENT
        let put = |e: &mut Vec<u8>, at: usize, bytes: &[u8]| {
            e[at..at + bytes.len()].copy_from_slice(bytes);
        };
        put(&mut e, 16, &2u16.to_le_bytes()); // ET_EXEC
        put(&mut e, 18, &62u16.to_le_bytes()); // EM_X86_64
        put(&mut e, 20, &1u32.to_le_bytes());
        put(&mut e, 24, &paddr.to_le_bytes()); // e_entry
        put(&mut e, 32, &64u64.to_le_bytes()); // e_phoff
        put(&mut e, 52, &64u16.to_le_bytes()); // e_ehsize
        put(&mut e, 54, &56u16.to_le_bytes()); // e_phentsize
        put(&mut e, 56, &1u16.to_le_bytes()); // e_phnum
        let ph = 64;
        put(&mut e, ph, &1u32.to_le_bytes()); // PT_LOAD
        put(&mut e, ph + 4, &5u32.to_le_bytes()); // R+X
        put(&mut e, ph + 8, &0x100u64.to_le_bytes()); // p_offset
        put(&mut e, ph + 16, &paddr.to_le_bytes()); // p_vaddr
        put(&mut e, ph + 24, &paddr.to_le_bytes()); // p_paddr
        put(&mut e, ph + 32, &0x100u64.to_le_bytes()); // p_filesz
        put(&mut e, ph + 40, &0x100u64.to_le_bytes()); // p_memsz
        put(&mut e, ph + 48, &0x1000u64.to_le_bytes()); // p_align
        e[0x100..0x108].copy_from_slice(&[0xf4; 8]); // hlt
        e
    }

    /// A load through the client runs the toolstack's rules exactly once (the
    /// simulated hypervisor's own check is the other side, and does not count), and
    /// what it sent is what the hypervisor loaded.
    #[test]
    fn a_load_runs_the_rules_once_in_the_toolstack() {
        let dir = tempfile::tempdir().expect("temp dir");
        let elf = dir.path().join("k.elf");
        std::fs::write(&elf, elf64(0x20_0000)).expect("write ELF");
        let plan = plan::plan(&PlanOptions {
            type_: KexecType::CRASH,
            elf,
            blobs: Vec::new(),
            entry: None,
            map_low_1m: true,
            allow_16_segments: false,
        })
        .expect("plan");
        for abi in GuestAbi::ALL {
            let config = SimConfig {
                crash_region: Some(xen_kexec_hypervisor::sim::SimRange {
                    start: 0x20_0000,
                    size: 0x40_0000,
                }),
                ..SimConfig::default()
            };
            let sim = SimTransport::create(&dir.path().join("sim"), config, abi).expect("sim");
            let mut client = Client::new(sim, None).expect("client");
            VALIDATIONS.with(|n| n.set(0));
            let summary = client.load(&plan).expect("loads");
            assert_eq!(VALIDATIONS.with(Cell::get), 1, "{abi:?}");
            let segs = summary.request.segments.as_slice();
            assert_eq!((segs[0].buf, segs.len()), (0, 2), "low 1 MiB: no buffer");
            assert_ne!(segs[1].buf, PLANNED_BUF, "the real buffer was sent");
            assert!(client.status(KexecType::CRASH).expect("status"));

            // A dry run checks once too, and sends nothing.
            VALIDATIONS.with(|n| n.set(0));
            client.check_plan(&plan).expect("checks");
            assert_eq!(VALIDATIONS.with(Cell::get), 1);
        }
    }

    /// A refusal by the simulated hypervisor names its rule: the transport passes it
    /// with the errno, nothing is recovered from text.
    #[test]
    fn hypervisor_refusals_carry_their_rule() {
        let dir = tempfile::tempdir().expect("temp dir");
        let sim = SimTransport::create(
            &dir.path().join("sim"),
            SimConfig::default(),
            GuestAbi::X86_64,
        )
        .expect("sim");
        let mut client = Client::new(sim, None).expect("client");
        match client.exec(KexecType::DEFAULT) {
            Err(ClientError::Refused(r)) => {
                assert_eq!(r.errno, Errno::ENOENT);
                assert_eq!(r.rule, Some("NoImage"));
                assert!(!r.local);
                assert_eq!(r.reason, "no KEXEC_TYPE_DEFAULT image is loaded");
            }
            other => panic!("{other:?}"),
        }
    }

    /// The simulated hypervisor's default map, in both layouts, as ranges.
    #[test]
    fn the_machine_memory_map_comes_back_in_both_layouts() {
        let dir = tempfile::tempdir().expect("temp dir");
        let want = xen_kexec_hypervisor::sim::default_memory_map();
        for abi in GuestAbi::ALL {
            let sim = SimTransport::create(&dir.path().join("sim"), SimConfig::default(), abi)
                .expect("sim");
            let mut client = Client::new(sim, None).expect("client");
            let map = client.machine_memory_map().expect("map");
            let got: Vec<(u64, u64, u32)> =
                map.iter().map(|r| (r.start, r.size, r.kind.0)).collect();
            let want: Vec<(u64, u64, u32)> =
                want.iter().map(|e| (e.start, e.size, e.kind)).collect();
            assert_eq!(got, want, "{abi:?}");
        }
    }

    /// A map of more than E820MAX - 1 entries: refused as too small, counted, and asked
    /// for once more with room for it.
    #[test]
    fn a_map_too_big_for_the_first_buffer_is_asked_for_again_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let map: Vec<xen_kexec_hypervisor::sim::SimE820> = (0..u64::from(E820MAX))
            .map(|i| xen_kexec_hypervisor::sim::SimE820 {
                start: i << 20,
                size: 0x1000,
                kind: 1,
            })
            .collect();
        for abi in GuestAbi::ALL {
            let config = SimConfig {
                memory_map: map.clone(),
                ..SimConfig::default()
            };
            let sim = SimTransport::create(&dir.path().join("sim"), config, abi).expect("sim");
            let mut client = Client::new(sim, None).expect("client");
            let got = client.machine_memory_map().expect("map");
            assert_eq!(got.len(), map.len(), "{abi:?}");
            assert_eq!(got[127].start, 127 << 20);
        }
    }

    /// A hypervisor that answers with what it likes: one entry, then `nr_entries`.
    struct Answering {
        entry: E820Entry,
        nr_entries: u32,
        next: u64,
    }

    struct Buf {
        addr: u64,
        bytes: Vec<u8>,
    }

    impl HypercallBuffer for Buf {
        fn guest_addr(&self) -> u64 {
            self.addr
        }
        fn as_bytes(&self) -> Option<&[u8]> {
            Some(&self.bytes)
        }
        fn as_mut_bytes(&mut self) -> Option<&mut [u8]> {
            Some(&mut self.bytes)
        }
    }

    impl Transport for Answering {
        type Buffer = Buf;

        fn kernel_abi(&self) -> Result<GuestAbi, TransportError> {
            Ok(GuestAbi::X86_64)
        }

        fn alloc(&mut self, len: usize) -> Result<Buf, TransportError> {
            self.next += 0x10_0000;
            Ok(Buf {
                addr: self.next,
                bytes: vec![0; len],
            })
        }

        fn hypercall(
            &mut self,
            call: Hypercall,
            buffers: &mut [&mut Buf],
        ) -> Result<i64, CallError> {
            assert!(matches!(call, Hypercall::MachineMemoryMap { .. }));
            let [arg, entries] = buffers else {
                panic!("an argument and a buffer")
            };
            entries.bytes[..20].copy_from_slice(zerocopy::IntoBytes::as_bytes(&self.entry));
            arg.bytes[..4].copy_from_slice(&self.nr_entries.to_le_bytes());
            Ok(0)
        }
    }

    /// A transport whose buffers are not in one piece (as a simulated source is), which
    /// no transport of this crate gives from `alloc`.
    struct InPieces;

    struct Piecewise(u64);

    impl HypercallBuffer for Piecewise {
        fn guest_addr(&self) -> u64 {
            self.0
        }
        fn as_bytes(&self) -> Option<&[u8]> {
            None
        }
        fn as_mut_bytes(&mut self) -> Option<&mut [u8]> {
            None
        }
    }

    impl Transport for InPieces {
        type Buffer = Piecewise;

        fn kernel_abi(&self) -> Result<GuestAbi, TransportError> {
            Ok(GuestAbi::X86_64)
        }

        fn alloc(&mut self, _len: usize) -> Result<Piecewise, TransportError> {
            Ok(Piecewise(0x10_0000))
        }

        fn hypercall(&mut self, _: Hypercall, _: &mut [&mut Piecewise]) -> Result<i64, CallError> {
            panic!("no call is made with an argument that cannot be written")
        }
    }

    #[test]
    fn a_buffer_not_in_one_piece_is_a_transport_error_before_any_call() {
        let mut client = Client::new(InPieces, None).expect("client");
        let err = client.status(KexecType::DEFAULT).expect_err("refused");
        assert_eq!(
            err.to_string(),
            "hypercall buffer of 1 bytes: the transport gave a buffer not in one piece"
        );
    }

    #[test]
    fn an_entry_that_is_empty_or_wraps_is_refused_by_its_index() {
        let cases = [
            (
                E820Entry::new(0x1000, 0, 1),
                "machine memory map entry 0 (addr 0x1000) is empty",
            ),
            (
                E820Entry::new(u64::MAX, 2, 1),
                "machine memory map entry 0 (addr 0xffffffffffffffff, size 0x2) runs past \
                 the top of the address space",
            ),
        ];
        for (entry, reason) in cases {
            let t = Answering {
                entry,
                nr_entries: 1,
                next: 0,
            };
            let mut client = Client::new(t, None).expect("client");
            match client.machine_memory_map() {
                Err(ClientError::Refused(r)) => {
                    assert_eq!(r.errno, Errno::EINVAL);
                    assert_eq!(r.rule, Some("BadEntry"));
                    assert!(r.local);
                    assert_eq!(r.reason, reason);
                    assert_eq!(r.cmd, HypercallCmd::MACHINE_MEMORY_MAP);
                }
                other => panic!("{other:?}"),
            }
        }
        let t = Answering {
            entry: E820Entry::new(0, 0x1000, 1),
            nr_entries: E820MAX + 1,
            next: 0,
        };
        let mut client = Client::new(t, None).expect("client");
        match client.machine_memory_map() {
            Err(ClientError::Refused(r)) => assert_eq!(r.rule, Some("TooManyEntries")),
            other => panic!("{other:?}"),
        }
    }
}
