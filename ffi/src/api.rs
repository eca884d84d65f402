// SPDX-License-Identifier: MIT
//! The safe implementation of the C functions: everything but the pointer handling of
//! [`crate::raw`]. It turns the C arguments into the abi crate's types, calls the one
//! decoder and the one encoder of [`xen_kexec_abi`], and turns the results back into C
//! values, an errno and a reason.

use core::ffi::{c_int, c_uint};
use core::fmt;
use core::mem::MaybeUninit;

use xen_kexec_abi::decode::{decode, load_into, LoadSlot, Operation};
use xen_kexec_abi::encode::EncodeError;
use xen_kexec_abi::get_range::RangeQuery;
use xen_kexec_abi::guest_mem::GuestMemory;
use xen_kexec_abi::host::{HostDescription, MachineRange, PageSize, RuleProfile};
use xen_kexec_abi::load::{LoadRequest, Segment, SegmentList, ValidatedLoad};
use xen_kexec_abi::{
    ElfMachine, EntryMode, Errno, Error, GuestAbi, KexecCmd, KexecRangeKind, KexecType,
};

use crate::types::{
    xen_kexec_host_t, xen_kexec_op_t, xen_kexec_plain_segment_t, XEN_KEXEC_RULES_STRICT,
    XEN_KEXEC_RULES_XEN,
};

/// Why a C call was refused: a rule of the ABI (the decoder's or encoder's own error,
/// with its errno), or a C argument that is unusable (`EINVAL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The abi crate refused the request.
    Rule(Error),
    /// The abi crate's encoder refused the load (a rule, or a handle too wide).
    Encode(EncodeError),
    /// The decoder gave an operation this version of the C interface has no form for
    /// (`EOPNOTSUPP`): the abi crate grew a command or an entry mode first.
    NoCForm {
        /// The operation's command.
        cmd: KexecCmd,
    },
    /// A required pointer argument (named) is NULL.
    Null(&'static str),
    /// A pointer argument (named) is not aligned for its type.
    Misaligned(&'static str),
    /// An output buffer (named) overlaps another output or an input.
    Overlap(&'static str),
    /// An output buffer's length (named) is below what is written to it.
    TooSmall {
        /// The length argument.
        what: &'static str,
        /// Its value.
        len: usize,
        /// The bytes that would be written.
        need: usize,
    },
    /// A `cmd` above 32 bits (`EOPNOTSUPP`, as Xen answers any unknown command).
    CmdTooWide {
        /// The value passed.
        cmd: u64,
    },
    /// A reason buffer that is not NULL but has length 0.
    EmptyReasonBuffer,
    /// A guest width other than 32 or 64.
    Bits(c_uint),
    /// A page size that is not a power of two.
    PageSize(u64),
    /// A host profile that is neither `XEN_KEXEC_RULES_STRICT` nor `XEN_KEXEC_RULES_XEN`.
    Profile(u64),
    /// A crash region whose end wraps past 2^64.
    CrashRegionWraps {
        /// `crash_start`.
        start: u64,
        /// `crash_size`.
        size: u64,
    },
    /// `xen_kexec_complete_get_range` was given an operation of another command.
    NotGetRange {
        /// The operation's `cmd`.
        cmd: u32,
    },
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        Refusal::Rule(e)
    }
}

impl From<EncodeError> for Refusal {
    fn from(e: EncodeError) -> Self {
        Refusal::Encode(e)
    }
}

impl Refusal {
    /// The Xen errno: the rule's own, `EINVAL` for an unusable argument.
    pub(crate) const fn errno(&self) -> Errno {
        match self {
            Refusal::Rule(e) => e.errno(),
            Refusal::Encode(e) => e.errno(),
            Refusal::NoCForm { .. } | Refusal::CmdTooWide { .. } => Errno::EOPNOTSUPP,
            _ => Errno::EINVAL,
        }
    }

    /// What the C function returns: the errno negated.
    pub(crate) const fn ret(&self) -> c_int {
        -self.errno().0
    }
}

impl Refusal {
    /// The name of the rule broken: the abi crate's for a load rule, the variant's name
    /// for an unusable argument. The whole reason of the Xen build.
    #[cfg_attr(not(xen_kexec_rule_names), allow(dead_code))] // reason: used by the Xen build only; tested in every build
    pub(crate) const fn rule(&self) -> &'static str {
        match self {
            Refusal::Rule(e) => e.rule(),
            Refusal::Encode(e) => e.rule(),
            Refusal::NoCForm { .. } => "NoCForm",
            Refusal::Null(_) => "Null",
            Refusal::Misaligned(_) => "Misaligned",
            Refusal::Overlap(_) => "Overlap",
            Refusal::TooSmall { .. } => "TooSmall",
            Refusal::CmdTooWide { .. } => "CmdTooWide",
            Refusal::EmptyReasonBuffer => "EmptyReasonBuffer",
            Refusal::Bits(_) => "Bits",
            Refusal::PageSize(_) => "PageSize",
            Refusal::Profile(_) => "Profile",
            Refusal::CrashRegionWraps { .. } => "CrashRegionWraps",
            Refusal::NotGetRange { .. } => "NotGetRange",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            // Exactly the Rust decoder's text, so C callers log what Rust callers do.
            Refusal::Rule(e) => e.fmt(f),
            Refusal::Encode(e) => e.fmt(f),
            Refusal::NoCForm { cmd } => write!(
                f,
                "operation {cmd:?} has no C form in this version of xen-kexec-ffi"
            ),
            Refusal::Null(what) => write!(f, "{what} is NULL"),
            Refusal::Misaligned(what) => write!(f, "{what} is not aligned for its type"),
            Refusal::Overlap(what) => {
                write!(f, "{what} overlaps another argument of the call")
            }
            Refusal::TooSmall { what, len, need } => {
                write!(f, "{what} {len} is below the {need} bytes written")
            }
            Refusal::CmdTooWide { cmd } => {
                write!(f, "command {cmd:#x} is not a kexec_op command")
            }
            Refusal::EmptyReasonBuffer => f.write_str("why is not NULL and why_len is 0"),
            Refusal::Bits(bits) => write!(f, "guest bits {bits} is neither 32 nor 64"),
            Refusal::PageSize(size) => {
                write!(f, "host page_size {size:#x} is not a power of two")
            }
            Refusal::Profile(p) => write!(f, "host profile {p} is not a rule profile"),
            Refusal::CrashRegionWraps { start, size } => write!(
                f,
                "host crash region {start:#x} + {size:#x} wraps past 2^64"
            ),
            Refusal::NotGetRange { cmd } => write!(
                f,
                "op cmd {:?} is not KEXEC_CMD_kexec_get_range",
                KexecCmd(cmd)
            ),
        }
    }
}

/// The guest width of `bits`.
pub(crate) fn guest_abi(bits: c_uint) -> Result<GuestAbi, Refusal> {
    match bits {
        32 => Ok(GuestAbi::X86_32),
        64 => Ok(GuestAbi::X86_64),
        other => Err(Refusal::Bits(other)),
    }
}

/// The command `cmd` as the guest passed it (Xen's `unsigned long op`): a value above 32
/// bits is no command (`EOPNOTSUPP`, as Xen's switch answers it).
pub(crate) fn command(cmd: u64) -> Result<KexecCmd, Refusal> {
    u32::try_from(cmd)
        .map(KexecCmd)
        .map_err(|_| Refusal::CmdTooWide { cmd })
}

/// The host description of `host`: crash_size 0 is no crash region.
pub(crate) fn host_description(host: &xen_kexec_host_t) -> Result<HostDescription, Refusal> {
    let page_size = PageSize::new(host.page_size).ok_or(Refusal::PageSize(host.page_size))?;
    let crash_region = if host.crash_size == 0 {
        None
    } else {
        Some(MachineRange::new(host.crash_start, host.crash_size).ok_or(
            Refusal::CrashRegionWraps {
                start: host.crash_start,
                size: host.crash_size,
            },
        )?)
    };
    let profile = match host.profile {
        XEN_KEXEC_RULES_STRICT => RuleProfile::Strict,
        XEN_KEXEC_RULES_XEN => RuleProfile::Xen,
        other => return Err(Refusal::Profile(other)),
    };
    Ok(HostDescription {
        page_size,
        crash_region,
        profile,
    })
}

/// The number of segments `nr` as a length, refused beyond `KEXEC_SEGMENT_MAX` before any
/// segment is read.
pub(crate) fn segment_count(nr: u32) -> Result<usize, Refusal> {
    usize::try_from(nr)
        .ok()
        .filter(|&n| n <= SegmentList::CAPACITY)
        .ok_or(Refusal::Rule(Error::TooManySegments { nr }))
}

/// `xen_kexec_decode` once its pointers are references: decodes `kexec_op(cmd, arg)`.
pub(crate) fn decode_op<M: GuestMemory + ?Sized>(
    abi: GuestAbi,
    mem: &mut M,
    host: &xen_kexec_host_t,
    cmd: KexecCmd,
    arg: u64,
) -> Result<xen_kexec_op_t, Refusal> {
    let host = host_description(host)?;
    if cmd == KexecCmd::LOAD {
        // Decoded in a slot on this stack and converted from there: `decode` would return
        // the ~540-byte load by value, one more copy (the same checks, order and errors).
        let mut slot = LoadSlot::new();
        return c_load(load_into(abi, mem, arg, &host, &mut slot)?);
    }
    c_op(&decode(abi, cmd, arg, mem, &host)?)
}

/// The C form of a decoded operation; fields the command does not use are zero.
fn c_op(op: &Operation) -> Result<xen_kexec_op_t, Refusal> {
    let no_c_form = Refusal::NoCForm { cmd: op.cmd() };
    let mut out = xen_kexec_op_t {
        cmd: op.cmd().0,
        ..xen_kexec_op_t::default()
    };
    match op {
        Operation::Exec { type_ } | Operation::Unload { type_ } | Operation::Status { type_ } => {
            out.r#type = type_.0;
        }
        Operation::GetRange(query) => {
            out.range = query.range.0;
            out.nr = query.nr;
        }
        Operation::Load(load) => return c_load(load),
        _ => return Err(no_c_form),
    }
    Ok(out)
}

/// The C form of a decoded load.
fn c_load(load: &ValidatedLoad) -> Result<xen_kexec_op_t, Refusal> {
    let mut out = xen_kexec_op_t {
        cmd: KexecCmd::LOAD.0,
        r#type: load.kexec_type().0,
        arch: load.arch().0,
        entry_maddr: load.entry_maddr(),
        // At most KEXEC_SEGMENT_MAX (16): the validated load holds no more.
        nr_segments: u32::try_from(load.segments().len()).unwrap_or(u32::MAX),
        ..xen_kexec_op_t::default()
    };
    out.entry_bits = match load.entry_mode() {
        EntryMode::Protected32 => 32,
        EntryMode::Long64 => 64,
        _ => {
            return Err(Refusal::NoCForm {
                cmd: KexecCmd::LOAD,
            })
        }
    };
    for (slot, seg) in out.segments.iter_mut().zip(load.segments()) {
        *slot = xen_kexec_plain_segment_t {
            buf: seg.buf,
            buf_size: seg.buf_size,
            dest_maddr: seg.dest_maddr,
            dest_size: seg.dest_size,
        };
    }
    Ok(out)
}

/// `xen_kexec_complete_get_range` once its pointers are references: writes the answer
/// (`size` bytes at `start`) back to the guest's `xen_kexec_range_t` at `arg`.
pub(crate) fn complete_get_range<M: GuestMemory + ?Sized>(
    abi: GuestAbi,
    mem: &mut M,
    arg: u64,
    op: &xen_kexec_op_t,
    start: u64,
    size: u64,
) -> Result<(), Refusal> {
    if op.cmd != KexecCmd::GET_RANGE.0 {
        return Err(Refusal::NotGetRange { cmd: op.cmd });
    }
    let range = KexecRangeKind(op.range);
    if !range.is_known() {
        return Err(Refusal::Rule(Error::UnknownRangeKind { range }));
    }
    let query = RangeQuery {
        abi,
        arg,
        range,
        nr: op.nr,
    };
    // Note the order: the abi crate takes (size, start), the C interface (start, size).
    query.complete(mem, size, start)?;
    Ok(())
}

/// The arguments of `xen_kexec_encode_load` other than its output buffers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LoadArgs<'a> {
    /// The guest width to encode for.
    pub(crate) abi: GuestAbi,
    /// The host the load is validated against.
    pub(crate) host: &'a xen_kexec_host_t,
    /// KEXEC_TYPE_*.
    pub(crate) type_: u8,
    /// The image's ELF machine.
    pub(crate) arch: u16,
    /// Entry point.
    pub(crate) entry_maddr: u64,
    /// The segments (at most 16: see [`segment_count`]).
    pub(crate) segments: &'a [xen_kexec_plain_segment_t],
    /// Where the guest will place the segment array.
    pub(crate) segments_addr: u64,
}

/// `xen_kexec_encode_load` once its pointers are slices: validates with the decoder's
/// rules, then writes the 24-byte load structure and 32 bytes per segment. Nothing is
/// written when the load is refused.
pub(crate) fn encode_load(
    args: &LoadArgs<'_>,
    load_out: &mut [MaybeUninit<u8>],
    segments_out: &mut [MaybeUninit<u8>],
) -> Result<(), Refusal> {
    let host = host_description(args.host)?;
    let mut request = LoadRequest::new(
        KexecType(args.type_),
        ElfMachine(args.arch),
        args.entry_maddr,
    );
    for seg in args.segments {
        request.push_segment(Segment {
            buf: seg.buf,
            buf_size: seg.buf_size,
            dest_maddr: seg.dest_maddr,
            dest_size: seg.dest_size,
        })?;
    }
    let encoded = request
        .validate(&host)?
        .encode(args.abi, args.segments_addr)?;
    copy_out(load_out, encoded.load_bytes());
    copy_out(segments_out, encoded.segment_bytes());
    Ok(())
}

/// A byte of an output buffer: C's buffers may be uninitialised (`MaybeUninit<u8>`);
/// the tests use plain bytes.
pub(crate) trait ByteSlot {
    /// Stores `b`.
    fn set(&mut self, b: u8);
}

impl ByteSlot for MaybeUninit<u8> {
    fn set(&mut self, b: u8) {
        self.write(b);
    }
}

impl ByteSlot for u8 {
    fn set(&mut self, b: u8) {
        *self = b;
    }
}

/// Writes `bytes` to the start of `out` (as many as fit; the callers size `out` exactly).
fn copy_out<B: ByteSlot>(out: &mut [B], bytes: &[u8]) {
    for (slot, &b) in out.iter_mut().zip(bytes) {
        slot.set(b);
    }
}

/// Writes `reason` to `out` as a NUL-terminated string, truncated to fit (`out` holds at
/// least the NUL: the caller refuses a zero length).
#[cfg(not(xen_kexec_rule_names))]
pub(crate) fn write_reason<B: ByteSlot>(out: &mut [B], reason: &dyn fmt::Display) {
    let mut writer = Truncating { out, len: 0 };
    // The writer never fails; it stops copying when full.
    let _ = fmt::write(&mut writer, format_args!("{reason}"));
    let Truncating { out, len } = writer;
    if let Some(nul) = out.get_mut(len) {
        nul.set(0);
    }
}

/// The reason of the Xen build (`--cfg xen_kexec_rule_names`, see `xen/README.md`): the
/// name of the rule broken (`""` on success), copied byte by byte. No `core::fmt`, so no
/// formatter vtable: the object then has no indirect branch but the guest's copy
/// callbacks, which a CET-IBT hypervisor (Xen's `CONFIG_XEN_IBT`) needs.
#[cfg(xen_kexec_rule_names)]
pub(crate) fn write_reason<B: ByteSlot>(out: &mut [B], rule: &'static str) {
    let room = out.len().saturating_sub(1);
    let n = room.min(rule.len());
    copy_out(out.get_mut(..n).unwrap_or_default(), rule.as_bytes());
    if let Some(nul) = out.get_mut(n) {
        nul.set(0);
    }
}

/// A `fmt::Write` into a byte buffer that keeps its last byte for the NUL and drops
/// whatever does not fit.
#[cfg(not(xen_kexec_rule_names))]
struct Truncating<'a, B> {
    out: &'a mut [B],
    len: usize,
}

#[cfg(not(xen_kexec_rule_names))]
impl<B: ByteSlot> fmt::Write for Truncating<'_, B> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.out.len().saturating_sub(1);
        let free = self.out.get_mut(self.len..room).unwrap_or_default();
        let n = free.len().min(s.len());
        copy_out(free, s.as_bytes());
        self.len += n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(len: usize, text: &str) -> Vec<u8> {
        let mut buf = vec![0xaa_u8; len];
        write_reason(&mut buf, &text);
        buf
    }

    #[test]
    fn a_reason_is_nul_terminated_and_truncated_to_the_buffer() {
        assert_eq!(reason(8, "abc"), b"abc\0\xaa\xaa\xaa\xaa");
        assert_eq!(reason(4, "abcdef"), b"abc\0");
        assert_eq!(reason(1, "abcdef"), b"\0");
        assert_eq!(reason(7, "abcdef"), b"abcdef\0");
        assert_eq!(reason(6, "abcdef"), b"abcde\0");
    }

    #[test]
    fn arguments_outside_the_contract_are_einval_with_their_value_named() {
        assert_eq!(guest_abi(48), Err(Refusal::Bits(48)));
        assert_eq!(Refusal::Bits(48).ret(), -Errno::EINVAL.0);
        assert_eq!(
            Refusal::Bits(48).to_string(),
            "guest bits 48 is neither 32 nor 64"
        );
        let host = xen_kexec_host_t {
            page_size: 3000,
            ..xen_kexec_host_t::default()
        };
        assert_eq!(host_description(&host), Err(Refusal::PageSize(3000)));
        let wraps = xen_kexec_host_t {
            page_size: 4096,
            crash_start: u64::MAX - 0xfff,
            crash_size: 0x2000,
            profile: XEN_KEXEC_RULES_STRICT,
        };
        assert!(matches!(
            host_description(&wraps),
            Err(Refusal::CrashRegionWraps { .. })
        ));
        assert_eq!(segment_count(16), Ok(16));
        assert_eq!(segment_count(17).map_err(|r| r.errno()), Err(Errno::EINVAL));
    }

    #[test]
    fn crash_size_zero_is_no_crash_region() {
        let host = xen_kexec_host_t {
            page_size: 4096,
            crash_start: 0x1000_0000,
            crash_size: 0,
            profile: XEN_KEXEC_RULES_STRICT,
        };
        assert_eq!(host_description(&host).map(|h| h.crash_region), Ok(None));
    }

    /// The C host's `profile` selects the rules: 0 the strict ones (the default of a
    /// zeroed host), 1 Xen's, anything else is an unusable argument (`EINVAL`).
    #[test]
    fn host_profile_selects_the_rules_and_refuses_unknown_values() {
        let strict = xen_kexec_host_t {
            page_size: 4096,
            ..xen_kexec_host_t::default()
        };
        let xen = xen_kexec_host_t {
            profile: XEN_KEXEC_RULES_XEN,
            ..strict
        };
        let bad = xen_kexec_host_t {
            profile: 2,
            ..strict
        };
        assert_eq!(
            host_description(&strict).map(|h| h.profile),
            Ok(RuleProfile::Strict)
        );
        assert_eq!(
            host_description(&xen).map(|h| h.profile),
            Ok(RuleProfile::Xen)
        );
        assert_eq!(host_description(&bad), Err(Refusal::Profile(2)));
        assert_eq!(Refusal::Profile(2).ret(), -Errno::EINVAL.0);
        assert_eq!(
            Refusal::Profile(2).to_string(),
            "host profile 2 is not a rule profile"
        );
    }

    /// The Xen build's reason (`--cfg xen_kexec_rule_names`) is the rule's name: the abi
    /// crate's own for a load rule, the variant's for an unusable argument.
    #[test]
    fn rule_names_are_the_abi_rule_or_the_refusal_variant() {
        let rule = Refusal::Rule(Error::TooManySegments { nr: 16 });
        assert_eq!(rule.rule(), "TooManySegments");
        assert_eq!(Refusal::Profile(2).rule(), "Profile");
        assert_eq!(Refusal::Null("op").rule(), "Null");
    }
}
