// SPDX-License-Identifier: MIT
//! The typed client: `status`, `get_range`, `load`, `unload` and `exec` over any
//! [`Transport`], in the argument layout of the kernel that makes the hypercall.
//!
//! Each call puts its argument structure, built by the `xen-kexec-abi` crate, in a
//! hypercall buffer of the transport and makes `kexec_op`. A load is checked by the very
//! rules the hypervisor applies ([`LoadRequest::validate`]) before any source byte is
//! read, so a load Xen would refuse is refused here, naming the segment; a CRASH load is
//! first checked against the crash region the hypervisor reports.

use std::fmt;

use xen_kexec_abi::encode::{self, EncodeError};
use xen_kexec_abi::guest_mem::{GuestRegion, SparseMemory};
use xen_kexec_abi::host::{HostDescription, MachineRange};
use xen_kexec_abi::load::LoadRequest;
use xen_kexec_abi::{
    x86_32, x86_64, EntryMode, Errno, Error, GuestAbi, KexecCmd, KexecRangeKind, KexecType,
    OpenEnum,
};
use zerocopy::FromBytes;

use crate::plan::{LoadPlan, PlanError};
pub use crate::transport::RefusalDetail;
use crate::transport::{HypercallBuffer, Transport, TransportError};

/// Why a request was refused: by the hypervisor (its errno), or by this toolstack before
/// the hypercall, for a reason the hypervisor would refuse it too (with the precise rule).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The command refused.
    pub cmd: KexecCmd,
    /// The errno: the hypervisor's, or the one it would return.
    pub errno: Errno,
    /// The rule broken, when known: an [`Error`] variant's name, or a toolstack rule.
    pub rule: Option<String>,
    /// The segment the refusal is about, if one.
    pub segment: Option<u32>,
    /// What was wrong, in words.
    pub reason: String,
    /// Whether the toolstack refused before making the hypercall.
    pub local: bool,
}

impl Refusal {
    /// A refusal with the precise reason of an abi [`Error`].
    pub fn from_error(cmd: KexecCmd, error: &Error, local: bool) -> Refusal {
        Refusal {
            cmd,
            errno: error.errno(),
            rule: error_rule(error),
            segment: error.segment().map(u32::from),
            reason: error.to_string(),
            local,
        }
    }

    /// A local refusal of a load that cannot be encoded.
    pub fn from_encode(error: &EncodeError) -> Refusal {
        match error {
            EncodeError::Refused(e) => Refusal::from_error(KexecCmd::LOAD, e, true),
            other => Refusal {
                cmd: KexecCmd::LOAD,
                errno: other.errno(),
                rule: serde_json::to_value(other)
                    .ok()
                    .and_then(|v| v.as_object().and_then(|m| m.keys().next().cloned())),
                segment: other.segment().map(u32::from),
                reason: other.to_string(),
                local: true,
            },
        }
    }

    /// The hypervisor's refusal of `cmd` with `errno` and nothing more.
    pub fn from_errno(cmd: KexecCmd, errno: Errno) -> Refusal {
        Refusal {
            cmd,
            errno,
            rule: None,
            segment: None,
            reason: errno_reason(cmd, errno),
            local: false,
        }
    }

    /// The errno's name without Xen's `XEN_` prefix (`EINVAL`), or its number.
    pub fn errno_name(&self) -> String {
        errno_name(self.errno)
    }
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

/// The name of an [`Error`]'s variant (its serde tag): the rule it breaks.
pub fn error_rule(error: &Error) -> Option<String> {
    match serde_json::to_value(error).ok()? {
        serde_json::Value::String(name) => Some(name),
        serde_json::Value::Object(map) => map.keys().next().cloned(),
        _ => None,
    }
}

/// What Xen means by `errno` for `cmd`, where the facts say; else a plain statement.
fn errno_reason(cmd: KexecCmd, errno: Errno) -> String {
    let what = match (cmd, errno) {
        (KexecCmd::KEXEC, Errno::ENOENT) => "no image of that type is loaded",
        (_, Errno::EBUSY) => "an exec is in progress",
        (_, Errno::EPERM) => "the caller is not privileged for kexec_op",
        (KexecCmd::GET_RANGE, Errno::ERANGE) => {
            "the CPU number is out of range, or the answer does not fit the caller's layout"
        }
        (KexecCmd::GET_RANGE, Errno::EINVAL) => "the hypervisor does not answer this range kind",
        (_, Errno::EFAULT) => "the hypervisor could not access an argument",
        (_, Errno::ENOMEM) => "the hypervisor is out of memory",
        (_, Errno::EOPNOTSUPP | Errno::ENOSYS) => {
            "the hypervisor does not support this kexec_op command"
        }
        _ => "",
    };
    if what.is_empty() {
        format!("the hypervisor refused {cmd:?}")
    } else {
        format!("the hypervisor refused {cmd:?}: {what}")
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
    /// The request, with the source buffers' guest addresses (zero for a dry run).
    pub request: LoadRequest,
    /// How the image will be entered.
    pub entry_mode: EntryMode,
    /// The crash region the plan was checked against (CRASH loads).
    pub crash_region: Option<MachineRange>,
}

/// A stand-in guest address for a source buffer while a plan is checked before any
/// buffer exists: the rules only ask whether `buf` is null.
const PLANNED_BUF: u64 = 0x1000;

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
        buf.as_mut_bytes()[..arg.len()].copy_from_slice(arg);
        let addr = buf.guest_addr();
        let ret = self.transport.kexec_op(cmd, addr, &mut [&mut buf])?;
        Ok((buf, ret))
    }

    /// The hypervisor's refusal for a negative return value, with the transport's
    /// precise reason when it has one.
    fn check(&self, cmd: KexecCmd, ret: i64) -> Result<i64, ClientError> {
        if ret >= 0 {
            return Ok(ret);
        }
        let errno = Errno(i32::try_from(-ret).unwrap_or(i32::MAX));
        let mut refusal = Refusal::from_errno(cmd, errno);
        if let Some(detail) = self.transport.refusal_detail() {
            if detail.errno == errno {
                refusal.rule = Some(detail.rule);
                refusal.segment = detail.segment;
                refusal.reason = detail.reason;
            }
        }
        Err(ClientError::Refused(refusal))
    }

    /// `KEXEC_CMD_kexec_status`: whether the hypervisor reports an image of `type_`
    /// loaded (Xen before this project reports its slot-position bit instead).
    ///
    /// # Errors
    /// The hypervisor's refusal, or the transport's failure.
    pub fn status(&mut self, type_: KexecType) -> Result<bool, ClientError> {
        let (_, ret) = self.call_small(KexecCmd::STATUS, encode::status(type_).as_bytes())?;
        Ok(self.check(KexecCmd::STATUS, ret)? != 0)
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
        let (buf, ret) = self.call_small(KexecCmd::GET_RANGE, arg.as_bytes())?;
        self.check(KexecCmd::GET_RANGE, ret)?;
        let bytes = buf.as_bytes();
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
        let (_, ret) = self.call_small(KexecCmd::UNLOAD, encode::unload(type_).as_bytes())?;
        self.check(KexecCmd::UNLOAD, ret).map(drop)
    }

    /// `KEXEC_CMD_kexec`: enter the loaded image of `type_`. On a real hypervisor a
    /// successful call does not return.
    ///
    /// # Errors
    /// The hypervisor's refusal (`ENOENT` when no image of that type is loaded), or the
    /// transport's failure.
    pub fn exec(&mut self, type_: KexecType) -> Result<(), ClientError> {
        let (_, ret) = self.call_small(KexecCmd::KEXEC, encode::exec(type_).as_bytes())?;
        self.check(KexecCmd::KEXEC, ret).map(drop)
    }

    /// Checks `plan` as the hypervisor will (for CRASH, against the crash region it
    /// reports) without reading any source byte.
    ///
    /// # Errors
    /// A local [`Refusal`] naming the rule and segment, or the failure of get_range.
    pub fn check_plan(&mut self, plan: &LoadPlan) -> Result<LoadSummary, ClientError> {
        let crash_region = if plan.type_ == KexecType::CRASH {
            self.get_range(KexecRangeKind::MA_CRASH, 0)?.machine_range()
        } else {
            None
        };
        plan.check_segment_limit()
            .map_err(|r| ClientError::Refused(*r))?;
        let request = plan
            .request(|_| PLANNED_BUF)
            .map_err(|e| ClientError::Refused(Refusal::from_error(KexecCmd::LOAD, &e, true)))?;
        let validated = request
            .validate(&HostDescription::x86(crash_region))
            .map_err(|e| ClientError::Refused(Refusal::from_error(KexecCmd::LOAD, &e, true)))?;
        Ok(LoadSummary {
            request: plan
                .request(|_| 0)
                .map_err(|e| ClientError::Refused(Refusal::from_error(KexecCmd::LOAD, &e, true)))?,
            entry_mode: validated.entry_mode(),
            crash_region,
        })
    }

    /// `KEXEC_CMD_kexec_load` of `plan`: checked first ([`check_plan`](Self::check_plan)),
    /// then each source read into its own hypercall buffer, the request encoded in this
    /// client's layout, and sent.
    ///
    /// # Errors
    /// A local or hypervisor [`Refusal`], an input file that cannot be read, or the
    /// transport's failure.
    pub fn load(&mut self, plan: &LoadPlan) -> Result<LoadSummary, ClientError> {
        let checked = self.check_plan(plan)?;
        let refused =
            |e: Error| ClientError::Refused(Refusal::from_error(KexecCmd::LOAD, &e, true));
        // One buffer per source, filled from the input files.
        let mut sources: Vec<Option<T::Buffer>> = Vec::with_capacity(plan.segments.len());
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
            let mut buf = self.transport.alloc(len)?;
            plan.fill(index, &mut buf.as_mut_bytes()[..len])
                .map_err(ClientError::Input)?;
            sources.push(Some(buf));
        }
        let request = plan
            .request(|i| {
                sources
                    .get(i)
                    .and_then(Option::as_ref)
                    .map_or(0, HypercallBuffer::guest_addr)
            })
            .map_err(refused)?;
        let validated = request
            .validate(&HostDescription::x86(checked.crash_region))
            .map_err(refused)?;
        // The segment array, then the load structure (8-byte aligned), in one buffer.
        let array_len = request.segments.len() * size_of::<x86_64::KexecSegment>();
        let load_off = array_len.next_multiple_of(8);
        let mut args = self
            .transport
            .alloc(load_off + size_of::<x86_64::KexecLoad>())?;
        let base = args.guest_addr();
        let encoded = validated
            .encode(self.abi, base)
            .map_err(|e| ClientError::Refused(Refusal::from_encode(&e)))?;
        {
            let mut regions = [GuestRegion {
                base,
                bytes: args.as_mut_bytes(),
            }];
            let mut mem = SparseMemory::new(&mut regions).map_err(|e| {
                ClientError::Transport(TransportError::Memory {
                    what: format!("hypercall buffer at {base:#x}"),
                    source: std::io::Error::other(e.to_string()),
                })
            })?;
            encoded
                .write_to(&mut mem, base + load_off as u64)
                .map_err(|e| ClientError::Refused(Refusal::from_encode(&e.into())))?;
        }
        let mut buffers: Vec<&mut T::Buffer> = sources.iter_mut().flatten().collect();
        buffers.push(&mut args);
        let ret = self
            .transport
            .kexec_op(KexecCmd::LOAD, base + load_off as u64, &mut buffers)?;
        self.check(KexecCmd::LOAD, ret)?;
        Ok(LoadSummary {
            request,
            entry_mode: validated.entry_mode(),
            crash_region: checked.crash_region,
        })
    }
}

fn short_answer() -> ClientError {
    ClientError::Transport(TransportError::Memory {
        what: "reading the get_range answer".into(),
        source: std::io::Error::other("the argument buffer is shorter than xen_kexec_range_t"),
    })
}
