// SPDX-License-Identifier: MIT
//! What each command prints, as types: one `Serialize` struct per command's report (its
//! `--json` form, the schema of `docs/cli.md`) with `Display` for the text a person
//! reads.
//!
//! Every object carries `"schema": 1` and the command's name; 64-bit values (addresses,
//! sizes) are `"0x…"` strings, always; ABI values are their C name (`null` for a value
//! the ABI does not define) with the number alongside (`type`, `type_value`).

use std::fmt;

use serde::{Serialize, Serializer};
use xen_kexec_abi::decode::Operation;
use xen_kexec_abi::host::MachineRange;
use xen_kexec_abi::load::Segment;
use xen_kexec_abi::{
    ElfMachine, EntryMode, GuestAbi, KexecCmd, KexecRangeKind, KexecType, OpenEnum,
};
use xen_kexec_hypervisor::sim::SimRange;
use xen_kexec_toolstack::linux::corehdr::CorePhdr;
use xen_kexec_toolstack::memmap::MemRange;
use xen_kexec_toolstack::plan::PlannedSegment;
use xen_kexec_toolstack::tracked::StatusAnswer;
use xen_kexec_toolstack::{LoadSummary, RangeAnswer, Refusal};

/// The version of the JSON schema every object follows (`"schema": 1`).
pub(crate) const SCHEMA: u32 = 1;

/// A 64-bit value as `"0x…"` in JSON (JSON readers that hold numbers as doubles lose
/// precision above 2^53) and as `0x…` in text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hex(pub(crate) u64);

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// A machine range: `{"start": "0x…", "size": "0x…"}`.
#[derive(Clone, Copy, Debug, Serialize)]
pub(crate) struct RangeJson {
    start: Hex,
    size: Hex,
}

impl RangeJson {
    /// No range: 0/0, as Xen answers for a crash region it does not have.
    pub(crate) const NONE: RangeJson = RangeJson {
        start: Hex(0),
        size: Hex(0),
    };
}

impl From<MachineRange> for RangeJson {
    fn from(r: MachineRange) -> Self {
        RangeJson {
            start: Hex(r.start()),
            size: Hex(r.size()),
        }
    }
}

impl From<SimRange> for RangeJson {
    fn from(r: SimRange) -> Self {
        RangeJson {
            start: Hex(r.start),
            size: Hex(r.size),
        }
    }
}

/// An open enum value's pair of fields, `KEY` (its C name or `null`) and `KEY_value`.
macro_rules! named_value {
    ($name:ident, $ty:ty, $key:literal, $value_key:literal) => {
        #[doc = concat!("`", $key, "` and `", $value_key, "`.")]
        #[derive(Clone, Copy, Debug, Serialize)]
        pub(crate) struct $name {
            #[serde(rename = $key)]
            name: Option<&'static str>,
            #[serde(rename = $value_key)]
            value: i64,
        }

        impl From<$ty> for $name {
            fn from(v: $ty) -> Self {
                $name {
                    name: v.c_name(),
                    value: i64::from(v.0),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name {
                    Some(n) => f.write_str(n),
                    None => write!(f, "{} {}", $key, self.value),
                }
            }
        }
    };
}

named_value!(TypeField, KexecType, "type", "type_value");
named_value!(ArchField, ElfMachine, "arch", "arch_value");
named_value!(RangeField, KexecRangeKind, "range", "range_value");
named_value!(CmdField, KexecCmd, "cmd", "cmd_value");

/// What every object starts with: the schema version, the command, the guest layout.
#[derive(Clone, Copy, Debug, Serialize)]
pub(crate) struct Head {
    schema: u32,
    command: &'static str,
    guest: &'static str,
}

impl Head {
    pub(crate) fn new(command: &'static str, guest: GuestAbi) -> Head {
        Head {
            schema: SCHEMA,
            command,
            guest: guest.name(),
        }
    }
}

/// The entry mode's name (as the abi crate serializes it).
fn mode_name(m: EntryMode) -> &'static str {
    match m {
        EntryMode::Protected32 => "Protected32",
        EntryMode::Long64 => "Long64",
        // `EntryMode` is non-exhaustive: a mode this build does not know is not named
        // as one it does.
        _ => "Unknown",
    }
}

/// The entry mode in words, for text output.
fn mode_words(m: EntryMode) -> &'static str {
    match m {
        EntryMode::Protected32 => "32-bit protected mode",
        EntryMode::Long64 => "64-bit long mode",
        _ => "an entry mode this xen-kexec does not know",
    }
}

/// An entry mode: its name in JSON, in words in text.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mode(pub(crate) EntryMode);

impl Serialize for Mode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(mode_name(self.0))
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(mode_words(self.0))
    }
}

/// `default` or `crash` (`type N` for another value), for text.
fn type_word(t: KexecType) -> String {
    match t {
        KexecType::DEFAULT => "default".into(),
        KexecType::CRASH => "crash".into(),
        other => format!("type {}", other.0),
    }
}

/// `status`: whether an image of the type is loaded, and where that came from. Text:
/// `loaded`, `not loaded`, or `unknown: ` and why.
#[derive(Debug, Serialize)]
pub(crate) struct StatusReport {
    #[serde(flatten)]
    head: Head,
    #[serde(flatten)]
    type_: TypeField,
    /// `null` when unknown.
    loaded: Option<bool>,
    /// `record`, `hypervisor` or `unknown`.
    source: &'static str,
    #[serde(skip)]
    unknown_because: Option<String>,
}

impl StatusReport {
    pub(crate) fn new(head: Head, answer: &StatusAnswer) -> StatusReport {
        StatusReport {
            head,
            type_: answer.type_.into(),
            loaded: answer.loaded,
            source: answer.source.name(),
            unknown_because: answer.unknown_because(),
        }
    }
}

impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.loaded, &self.unknown_because) {
            (Some(true), _) => f.write_str("loaded"),
            (Some(false), _) => f.write_str("not loaded"),
            (None, Some(why)) => write!(f, "unknown: {why}"),
            (None, None) => f.write_str("unknown"),
        }
    }
}

/// `get-range`: the range the hypervisor reports. Text: `start 0x… size 0x…`.
#[derive(Debug, Serialize)]
pub(crate) struct GetRangeReport {
    #[serde(flatten)]
    head: Head,
    #[serde(flatten)]
    range: RangeField,
    nr: i32,
    start: Hex,
    size: Hex,
}

impl GetRangeReport {
    pub(crate) fn new(head: Head, r: &RangeAnswer) -> GetRangeReport {
        GetRangeReport {
            head,
            range: r.range.into(),
            nr: r.nr,
            start: Hex(r.start),
            size: Hex(r.size),
        }
    }
}

impl fmt::Display for GetRangeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "start {} size {}", self.start, self.size)
    }
}

/// `memory-map`: the machine's e820 map. Text: one range a line,
/// `[0x0000000000100000-0x000000003ffdffff] RAM`, as Linux prints e820 ranges. JSON:
/// `ranges`: `[{start, size` (hex)`, type` (int)`, kind` (its name)`}]`.
#[derive(Debug, Serialize)]
pub(crate) struct MemoryMapReport {
    #[serde(flatten)]
    pub(crate) head: Head,
    pub(crate) ranges: Vec<MemRange>,
}

impl fmt::Display for MemoryMapReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// One segment of a `load` report.
#[derive(Debug, Serialize)]
pub(crate) struct LoadSegment {
    dest_maddr: Hex,
    dest_size: Hex,
    buf_size: Hex,
    buffered: bool,
    source: String,
}

/// One program header of a crash kernel's ELF core header.
#[derive(Debug, Serialize)]
pub(crate) struct CorePhdrJson {
    #[serde(rename = "type")]
    type_: &'static str,
    offset: Hex,
    paddr: Hex,
    size: Hex,
}

/// `load`: what was loaded (or, with `--dry-run`, would be). Text: a summary line and
/// one line per segment.
#[derive(Debug, Serialize)]
pub(crate) struct LoadReport {
    #[serde(flatten)]
    head: Head,
    dry_run: bool,
    #[serde(flatten)]
    type_: TypeField,
    #[serde(flatten)]
    arch: ArchField,
    entry_maddr: Hex,
    entry_mode: Mode,
    crash_region: Option<RangeJson>,
    segments: Vec<LoadSegment>,
    /// A Linux crash kernel's ELF core header (absent for other loads).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    core_header: Vec<CorePhdrJson>,
    #[serde(skip)]
    word: String,
}

impl LoadReport {
    pub(crate) fn new(
        head: Head,
        dry_run: bool,
        segments: &[PlannedSegment],
        summary: &LoadSummary,
        core: &[CorePhdr],
    ) -> LoadReport {
        let req = &summary.request;
        LoadReport {
            head,
            dry_run,
            type_: req.type_.into(),
            arch: req.arch.into(),
            entry_maddr: Hex(req.entry_maddr),
            entry_mode: Mode(summary.entry_mode),
            crash_region: summary.crash_region.map(RangeJson::from),
            segments: segments
                .iter()
                .map(|seg| LoadSegment {
                    dest_maddr: Hex(seg.dest_maddr),
                    dest_size: Hex(seg.dest_size),
                    buf_size: Hex(seg.buf_size()),
                    buffered: seg.buffered,
                    source: seg.what.clone(),
                })
                .collect(),
            core_header: core
                .iter()
                .map(|p| CorePhdrJson {
                    type_: p.type_name(),
                    offset: Hex(p.offset),
                    paddr: Hex(p.paddr),
                    size: Hex(p.size),
                })
                .collect(),
            word: type_word(req.type_),
        }
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} image: {} segments, entry {} ({})",
            if self.dry_run { "would load" } else { "loaded" },
            self.word,
            self.segments.len(),
            self.entry_maddr,
            self.entry_mode
        )?;
        for (i, seg) in self.segments.iter().enumerate() {
            write!(
                f,
                "\n  segment {i}: dest {} size {} buf_size {}{}  {}",
                seg.dest_maddr,
                seg.dest_size,
                seg.buf_size,
                if seg.buffered { "" } else { " (no buffer)" },
                seg.source
            )?;
        }
        for p in &self.core_header {
            write!(
                f,
                "\n  core header: {} paddr {} size {} read at {}",
                p.type_, p.paddr, p.size, p.offset
            )?;
        }
        Ok(())
    }
}

/// `unload`. Text: `unloaded default image`.
#[derive(Debug, Serialize)]
pub(crate) struct UnloadReport {
    #[serde(flatten)]
    pub(crate) head: Head,
    #[serde(flatten)]
    pub(crate) type_: TypeField,
    #[serde(skip)]
    pub(crate) kexec_type: KexecType,
}

impl fmt::Display for UnloadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unloaded {} image", type_word(self.kexec_type))
    }
}

/// `exec`: where the image was entered, when the hypervisor returns (the simulated one
/// does; a real one does not). Text: `entered crash image at 0x… (64-bit long mode)`.
#[derive(Debug, Serialize)]
pub(crate) struct ExecReport {
    #[serde(flatten)]
    pub(crate) head: Head,
    #[serde(flatten)]
    pub(crate) type_: TypeField,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) entry_maddr: Option<Hex>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) entry_mode: Option<Mode>,
    #[serde(skip)]
    pub(crate) kexec_type: KexecType,
}

impl fmt::Display for ExecReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = type_word(self.kexec_type);
        match (self.entry_maddr, self.entry_mode) {
            (Some(entry), Some(mode)) => write!(f, "entered {word} image at {entry} ({mode})"),
            _ => write!(f, "exec of the {word} image returned"),
        }
    }
}

/// `sim init`: the simulated host made.
#[derive(Debug, Serialize)]
pub(crate) struct SimInitReport {
    pub(crate) schema: u32,
    pub(crate) command: &'static str,
    pub(crate) path: String,
    pub(crate) kernel: &'static str,
    pub(crate) crash_region: RangeJson,
    pub(crate) xen: RangeJson,
    pub(crate) cpus: u32,
    pub(crate) cpu_notes: Option<RangeJson>,
    pub(crate) vmcoreinfo: Option<RangeJson>,
}

impl fmt::Display for SimInitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "simulated host {}: crash region {}:{}, {} CPUs, {} dom0 kernel",
            self.path, self.crash_region.start, self.crash_region.size, self.cpus, self.kernel
        )
    }
}

/// A segment as `decode` read it.
#[derive(Debug, Serialize)]
pub(crate) struct DecodedSegment {
    buf: Hex,
    buf_size: Hex,
    dest_maddr: Hex,
    dest_size: Hex,
}

impl From<&Segment> for DecodedSegment {
    fn from(s: &Segment) -> Self {
        DecodedSegment {
            buf: Hex(s.buf),
            buf_size: Hex(s.buf_size),
            dest_maddr: Hex(s.dest_maddr),
            dest_size: Hex(s.dest_size),
        }
    }
}

/// The operation `decode` read: its fields by command.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum DecodedOperation {
    /// exec, unload, status.
    Type {
        #[serde(flatten)]
        type_: TypeField,
    },
    /// get_range: the query, and the guest address its answer goes to.
    GetRange {
        #[serde(flatten)]
        range: RangeField,
        nr: i32,
        arg: Hex,
    },
    /// load: the validated request.
    Load {
        #[serde(flatten)]
        type_: TypeField,
        #[serde(flatten)]
        arch: ArchField,
        entry_maddr: Hex,
        entry_mode: Mode,
        segments: Vec<DecodedSegment>,
    },
}

/// `decode`: a captured `kexec_op` call, decoded as the hypervisor decodes it. Text: the
/// command and what it carries, one segment a line.
#[derive(Debug, Serialize)]
pub(crate) struct DecodeReport {
    #[serde(flatten)]
    head: Head,
    #[serde(flatten)]
    cmd: CmdField,
    operation: DecodedOperation,
}

impl DecodeReport {
    /// The report of `op`, or `None` for an operation this build does not know.
    pub(crate) fn new(guest: GuestAbi, op: &Operation) -> Option<DecodeReport> {
        let operation = match op {
            Operation::Exec { type_ }
            | Operation::Unload { type_ }
            | Operation::Status { type_ } => DecodedOperation::Type {
                type_: (*type_).into(),
            },
            Operation::GetRange(q) => DecodedOperation::GetRange {
                range: q.range.into(),
                nr: q.nr,
                arg: Hex(q.arg),
            },
            Operation::Load(load) => DecodedOperation::Load {
                type_: load.kexec_type().into(),
                arch: load.arch().into(),
                entry_maddr: Hex(load.entry_maddr()),
                entry_mode: Mode(load.entry_mode()),
                segments: load.segments().iter().map(DecodedSegment::from).collect(),
            },
            _ => return None,
        };
        Some(DecodeReport {
            head: Head::new("decode", guest),
            cmd: op.cmd().into(),
            operation,
        })
    }
}

impl fmt::Display for DecodeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} from an {} guest: ", self.cmd, self.head.guest)?;
        match &self.operation {
            DecodedOperation::Type { type_ } => write!(f, "{type_}"),
            DecodedOperation::GetRange { range, nr, arg } => {
                write!(f, "{range} nr {nr}, answer to {arg}")
            }
            DecodedOperation::Load {
                type_,
                arch,
                entry_maddr,
                entry_mode,
                segments,
            } => {
                write!(
                    f,
                    "{type_} image for {arch}, entry {entry_maddr} ({entry_mode}), {} segments",
                    segments.len()
                )?;
                for (i, s) in segments.iter().enumerate() {
                    write!(
                        f,
                        "\n  segment {i}: buf {} buf_size {} dest {} size {}",
                        s.buf, s.buf_size, s.dest_maddr, s.dest_size
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// The `error` object of a refusal.
#[derive(Debug, Serialize)]
struct ErrorJson<'a> {
    errno: String,
    value: i32,
    rule: Option<&'static str>,
    segment: Option<u32>,
    reason: &'a str,
    local: bool,
}

/// A refusal with `--json` (on stdout, exit 1):
/// `{"schema", "command", "error": {"errno", "value", "rule", "segment", "reason", "local"}}`.
#[derive(Debug, Serialize)]
pub(crate) struct RefusalReport<'a> {
    schema: u32,
    command: &'a str,
    error: ErrorJson<'a>,
}

impl<'a> RefusalReport<'a> {
    pub(crate) fn new(command: &'a str, r: &'a Refusal) -> RefusalReport<'a> {
        RefusalReport {
            schema: SCHEMA,
            command,
            error: ErrorJson {
                errno: r.errno_name(),
                value: r.errno.0,
                rule: r.rule,
                segment: r.segment,
                reason: &r.reason,
                local: r.local,
            },
        }
    }
}
