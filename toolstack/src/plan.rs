// SPDX-License-Identifier: MIT
//! The ELF image planner: an ELF file and raw blobs become a [`LoadPlan`], the segments
//! of a `kexec_op` load and where each one's bytes come from.
//!
//! - One segment per `PT_LOAD`, at its physical address (`p_paddr`), page-rounded: the
//!   file's `p_filesz` bytes are the source, the rest of the pages zeroed by the
//!   hypervisor. `PT_LOAD`s that share a page are merged into one segment (a kexec load
//!   may not have overlapping destinations); `PT_LOAD`s whose bytes overlap are refused.
//! - The arch comes from `e_machine`: `EM_386` needs `ELFCLASS32`, `EM_X86_64` needs
//!   `ELFCLASS64`; anything else is refused.
//! - The entry point is `e_entry` translated through the `PT_LOAD` that holds it
//!   (virtual to physical; an `e_entry` that is already physical, as in Linux's
//!   `vmlinux`, is taken as it is), unless `--entry` overrides it.
//! - `--blob FILE@ADDR` adds a file's bytes at machine address `ADDR` (an initrd, a
//!   parameter block), placed and merged like a `PT_LOAD`.
//! - `--map-low-1m` adds kexec-tools' segment without a buffer that maps the first MiB
//!   for the image (from the end of the highest segment below 1 MiB, or from 0).
//!
//! Nothing but the ELF headers is read while planning: every region is checked for
//! wrapping and overlap, and the total of the source bytes against a limit, before any
//! source byte is read ([`LoadPlan::fill`] reads them later, straight into the
//! hypercall buffers).

use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use object::elf::{FileHeader32, FileHeader64, PT_LOAD};
use object::read::elf::{FileHeader, ProgramHeader};
use object::{Endianness, FileKind, ReadCache};
use xen_kexec_abi::load::{LoadRequest, Segment};
use xen_kexec_abi::{ElfMachine, Errno, Error, KexecCmd, KexecType, OpenEnum};

use crate::client::Refusal;
use crate::input::{InputError, InputFile};

/// The longest description of a merged segment's contents before the rest is said as
/// "+ more": an ELF of thousands of PT_LOADs merged into one page must not cost quadratic
/// time or print a huge message.
const WHAT_MAX: usize = 160;

/// What ends a description cut at [`WHAT_MAX`].
const MORE: &str = " + more";

/// The page size of x86 segment destinations.
pub const PAGE: u64 = 4096;

/// The end of the low memory `--map-low-1m` maps.
pub const LOW_1M: u64 = 1 << 20;

/// The most segments a plan has by default: real Xen refuses 16 (its bound is
/// `nr_segments >= KEXEC_SEGMENT_MAX`).
pub const XEN_SEGMENT_LIMIT: usize = 15;

/// The most source bytes one load may carry (1 GiB): every one of them is held in a
/// hypercall buffer at once.
pub const MAX_LOAD_BYTES: u64 = 1 << 30;

/// `FILE@ADDR`: a blob's file and machine address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobArg {
    /// The file.
    pub path: PathBuf,
    /// The machine address of its first byte.
    pub addr: u64,
}

/// What to plan.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// DEFAULT or CRASH.
    pub type_: KexecType,
    /// The ELF image.
    pub elf: PathBuf,
    /// Raw blobs.
    pub blobs: Vec<BlobArg>,
    /// The entry point's machine address, overriding the ELF's.
    pub entry: Option<u64>,
    /// Add the segment mapping the first MiB.
    pub map_low_1m: bool,
    /// Allow 16 segments (hypervisors built on xen-kexec-hypervisor take them).
    pub allow_16_segments: bool,
}

/// Why a plan cannot be made: the input is wrong (the command's exit status 2).
#[derive(Debug)]
#[non_exhaustive]
pub enum PlanError {
    /// An input file cannot be used.
    Input(InputError),
    /// The ELF file is malformed or not an ELF file.
    Elf {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A region wraps past 2^64.
    Wraps {
        /// The region (`PT_LOAD 2 of FILE`, `blob FILE`).
        what: String,
        /// Its first address.
        start: u64,
        /// Its size.
        size: u64,
    },
    /// The bytes of two regions overlap.
    Overlap {
        /// The earlier region.
        first: String,
        /// The later region.
        second: String,
    },
    /// The sources of the load exceed [`MAX_LOAD_BYTES`], or a buffer does not fit this
    /// process's address space.
    TooLarge {
        /// What.
        what: String,
        /// Its size in bytes.
        size: u64,
    },
    /// A blob file is empty: it would be a segment of no bytes, which loads nothing.
    EmptyBlob {
        /// The blob (`blob FILE@ADDR`).
        what: String,
    },
    /// A 32-bit (`EM_386`) image's entry point is above 4 GiB: it is entered in
    /// protected mode, with 32-bit addresses.
    Entry32Above4G {
        /// The entry point's machine address.
        entry: u64,
    },
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Input(e) => e.fmt(f),
            PlanError::Elf { path, message } => write!(f, "{}: {message}", path.display()),
            PlanError::Wraps { what, start, size } => write!(
                f,
                "{what}: {start:#x} + {size:#x} runs past the top of the address space"
            ),
            PlanError::Overlap { first, second } => {
                write!(f, "{first} and {second} overlap")
            }
            PlanError::TooLarge { what, size } => write!(
                f,
                "{what}: {size:#x} bytes of sources, more than the {} MiB a load may carry",
                MAX_LOAD_BYTES >> 20
            ),
            PlanError::EmptyBlob { what } => {
                write!(f, "{what}: the file is empty: a segment of no bytes")
            }
            PlanError::Entry32Above4G { entry } => write!(
                f,
                "entry {entry:#x} is above 4 GiB, and an EM_386 image is entered in 32-bit \
                 protected mode"
            ),
        }
    }
}

impl std::error::Error for PlanError {}

impl From<InputError> for PlanError {
    fn from(e: InputError) -> Self {
        PlanError::Input(e)
    }
}

/// A run of a file's bytes placed at a machine address, with zeroed memory after it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Piece {
    what: String,
    file: usize,
    file_offset: u64,
    paddr: u64,
    filesz: u64,
    memsz: u64,
}

/// A piece's bytes within its segment's source buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Placed {
    file: usize,
    file_offset: u64,
    buf_offset: u64,
    len: u64,
}

/// One segment of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedSegment {
    /// Machine address of the destination (page aligned).
    pub dest_maddr: u64,
    /// Size of the destination (whole pages).
    pub dest_size: u64,
    /// What it holds, for people (`PT_LOAD 0 of vmlinux`, `blob initrd@0x...`).
    pub what: String,
    /// Whether it has a source buffer (else it is only mapped, never written).
    pub buffered: bool,
    pieces: Vec<Placed>,
}

impl PlannedSegment {
    /// The source buffer's size: up to the last file byte (the rest is zeroed).
    pub fn buf_size(&self) -> u64 {
        self.pieces
            .iter()
            .map(|p| p.buf_offset + p.len)
            .max()
            .unwrap_or(0)
    }
}

/// Where a plan's bytes come from: an input file, read when the load is sent, or bytes
/// the planner made (a Linux image's zero page, the purgatory).
#[derive(Debug)]
pub(crate) enum Source {
    /// A file, read with positioned reads.
    File(InputFile),
    /// Bytes in memory.
    Bytes(Vec<u8>),
}

impl Source {
    /// Fills `dst` from `offset`.
    pub(crate) fn read_at(&self, offset: u64, dst: &mut [u8]) -> Result<(), PlanError> {
        match self {
            Source::File(file) => Ok(file.read_at(offset, dst)?),
            Source::Bytes(bytes) => {
                let src = usize::try_from(offset)
                    .ok()
                    .and_then(|o| bytes.get(o..o.checked_add(dst.len())?))
                    .ok_or(PlanError::TooLarge {
                        what: "a planned buffer".into(),
                        size: offset.saturating_add(dst.len() as u64),
                    })?;
                dst.copy_from_slice(src);
                Ok(())
            }
        }
    }
}

impl PlannedSegment {
    /// A segment at `dest_maddr` of `dest_size` bytes whose buffer is `len` bytes of
    /// source `source` from `offset`, or one with no buffer (`from` is `None`).
    pub(crate) fn new(
        dest_maddr: u64,
        dest_size: u64,
        what: String,
        from: Option<(usize, u64, u64)>,
    ) -> PlannedSegment {
        PlannedSegment {
            dest_maddr,
            dest_size,
            what,
            buffered: from.is_some(),
            pieces: from
                .map(|(file, file_offset, len)| Placed {
                    file,
                    file_offset,
                    buf_offset: 0,
                    len,
                })
                .into_iter()
                .collect(),
        }
    }
}

/// A load, planned: segments and where their bytes come from. Nothing is read yet.
#[derive(Debug)]
pub struct LoadPlan {
    /// DEFAULT or CRASH.
    pub type_: KexecType,
    /// The image's machine.
    pub arch: ElfMachine,
    /// The entry point's machine address.
    pub entry_maddr: u64,
    /// The segments, by destination.
    pub segments: Vec<PlannedSegment>,
    /// Whether 16 segments are allowed.
    pub allow_16_segments: bool,
    sources: Vec<Source>,
}

impl LoadPlan {
    /// A plan of `segments` (by destination) over `sources`, made by another planner.
    pub(crate) fn new(
        type_: KexecType,
        arch: ElfMachine,
        entry_maddr: u64,
        segments: Vec<PlannedSegment>,
        sources: Vec<Source>,
    ) -> LoadPlan {
        LoadPlan {
            type_,
            arch,
            entry_maddr,
            segments,
            allow_16_segments: false,
            sources,
        }
    }

    /// The load request, `buf_of(i)` giving the guest address of segment `i`'s buffer
    /// (used for buffered segments only).
    ///
    /// # Errors
    /// [`Error::TooManySegments`] beyond 16.
    pub fn request(&self, buf_of: impl Fn(usize) -> u64) -> Result<LoadRequest, Error> {
        let mut req = LoadRequest::new(self.type_, self.arch, self.entry_maddr);
        for (i, seg) in self.segments.iter().enumerate() {
            req.push_segment(Segment {
                buf: if seg.buffered { buf_of(i) } else { 0 },
                buf_size: seg.buf_size(),
                dest_maddr: seg.dest_maddr,
                dest_size: seg.dest_size,
            })?;
        }
        Ok(req)
    }

    /// Whether the entry point lies in one of the segments. An entry outside every
    /// segment (an `--entry` mistyped) is a warning, not a refusal: Xen does not check
    /// it, and a test of Xen's own rules needs such a plan to reach them.
    pub fn entry_in_a_segment(&self) -> bool {
        self.segments.iter().any(|s| {
            self.entry_maddr >= s.dest_maddr && self.entry_maddr - s.dest_maddr < s.dest_size
        })
    }

    /// Refuses a plan of more segments than a load carries (naming how many it needs),
    /// and one of 16 unless allowed: real Xen refuses 16.
    ///
    /// # Errors
    /// A local `EINVAL` refusal, rule `TooManySegments` or `XenSegmentLimit`.
    pub fn check_segment_limit(&self) -> Result<(), Box<Refusal>> {
        let n = self.segments.len();
        let capacity = xen_kexec_abi::load::SegmentList::CAPACITY;
        if n > capacity {
            // The request cannot even be built: say how many the image needs.
            return Err(Box::new(Refusal {
                cmd: KexecCmd::LOAD.into(),
                errno: Errno::EINVAL,
                rule: Some("TooManySegments"),
                segment: None,
                reason: format!(
                    "the image needs {n} segments and a load carries at most {capacity} \
                     (KEXEC_SEGMENT_MAX)"
                ),
                local: true,
            }));
        }
        if n > XEN_SEGMENT_LIMIT
            && n <= xen_kexec_abi::load::SegmentList::CAPACITY
            && !self.allow_16_segments
        {
            return Err(Box::new(Refusal {
                cmd: KexecCmd::LOAD.into(),
                errno: Errno::EINVAL,
                rule: Some("XenSegmentLimit"),
                segment: u32::try_from(n - 1).ok(),
                reason: format!(
                    "the image needs {n} segments and Xen refuses more than {XEN_SEGMENT_LIMIT} \
                     (its bound is nr_segments >= KEXEC_SEGMENT_MAX); --allow-16-segments \
                     lifts this for hypervisors built on xen-kexec-hypervisor"
                ),
                local: true,
            }));
        }
        Ok(())
    }

    /// Reads segment `index`'s source bytes into `buf` (exactly
    /// [`buf_size`](PlannedSegment::buf_size) bytes, zeroed where no file byte goes).
    ///
    /// # Errors
    /// [`PlanError::Input`] when a file cannot be read (or shrank since planning).
    pub fn fill(&self, index: usize, buf: &mut [u8]) -> Result<(), PlanError> {
        self.fill_part(index, 0, buf)
    }

    /// Reads bytes `[offset, offset + part.len())` of segment `index`'s buffer (as
    /// [`fill`](Self::fill) would write them) into `part`: so that a transport can
    /// fill a large source a piece at a time.
    ///
    /// # Errors
    /// [`PlanError::Input`] when a file cannot be read (or shrank since planning).
    pub fn fill_part(&self, index: usize, offset: usize, part: &mut [u8]) -> Result<(), PlanError> {
        let Some(seg) = self.segments.get(index) else {
            return Ok(());
        };
        part.fill(0);
        let end = offset.saturating_add(part.len());
        for p in &seg.pieces {
            let (Ok(start), Ok(len)) = (usize::try_from(p.buf_offset), usize::try_from(p.len))
            else {
                continue;
            };
            // The piece's bytes that fall inside this part.
            let (from, to) = (start.max(offset), start.saturating_add(len).min(end));
            if from >= to {
                continue;
            }
            let (Some(dst), Some(source)) = (
                part.get_mut(from - offset..to - offset),
                self.sources.get(p.file),
            ) else {
                continue;
            };
            let skip = u64::try_from(from - start).unwrap_or(u64::MAX);
            source.read_at(p.file_offset.saturating_add(skip), dst)?;
        }
        Ok(())
    }
}

/// The header facts of an ELF file the plan needs.
struct ElfFacts {
    machine: ElfMachine,
    entry: u64,
    /// `(index, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz)` of each `PT_LOAD`.
    loads: Vec<[u64; 6]>,
}

/// The name of an ELF machine for messages.
fn machine_name(m: u16) -> String {
    ElfMachine(m)
        .c_name()
        .map_or_else(|| format!("e_machine {m}"), |n| format!("{n} ({m})"))
}

fn read_elf(file: &InputFile) -> Result<ElfFacts, PlanError> {
    let path = file.path();
    let elf_err = |message: String| PlanError::Elf {
        path: path.to_owned(),
        message,
    };
    let mut f = file.file();
    f.seek(SeekFrom::Start(0))
        .map_err(|e| elf_err(format!("cannot read: {e}")))?;
    let mut magic = [0u8; 4];
    if f.read_exact(&mut magic).is_err() || magic != *b"\x7fELF" {
        // A bzImage has "HdrS" at 0x202: say where it loads.
        let mut hdrs = [0u8; 4];
        let bzimage = f.seek(SeekFrom::Start(0x202)).is_ok()
            && f.read_exact(&mut hdrs).is_ok()
            && hdrs == *b"HdrS";
        return Err(elf_err(if bzimage {
            "not an ELF file but a Linux bzImage: load it with --kernel".into()
        } else {
            "not an ELF file (no \\x7fELF magic)".into()
        }));
    }
    let cache = ReadCache::new(file.file());
    match FileKind::parse(&cache) {
        Ok(FileKind::Elf32) => elf_facts::<FileHeader32<Endianness>>(&cache, path, false),
        Ok(FileKind::Elf64) => elf_facts::<FileHeader64<Endianness>>(&cache, path, true),
        Ok(kind) => Err(elf_err(format!("not an ELF file ({kind:?})"))),
        Err(e) => Err(elf_err(format!("not a valid ELF file: {e}"))),
    }
}

fn elf_facts<H: FileHeader<Endian = Endianness>>(
    data: &ReadCache<&std::fs::File>,
    path: &Path,
    class64: bool,
) -> Result<ElfFacts, PlanError> {
    let elf_err = |message: String| PlanError::Elf {
        path: path.to_owned(),
        message,
    };
    let header = H::parse(data).map_err(|e| elf_err(format!("bad ELF header: {e}")))?;
    let endian = header
        .endian()
        .map_err(|e| elf_err(format!("bad ELF header: {e}")))?;
    if !header.is_little_endian() {
        return Err(elf_err(
            "big-endian ELF; x86 images are little-endian".into(),
        ));
    }
    let machine = header.e_machine(endian);
    let (class, bits) = if class64 {
        ("ELFCLASS64", 64)
    } else {
        ("ELFCLASS32", 32)
    };
    match (ElfMachine(machine), class64) {
        (ElfMachine::EM_386, false) | (ElfMachine::EM_X86_64, true) => {}
        (ElfMachine::EM_386, true) => {
            return Err(elf_err(
                "EM_386 image in an ELFCLASS64 file; EM_386 needs ELFCLASS32".into(),
            ))
        }
        (ElfMachine::EM_X86_64, false) => {
            return Err(elf_err(
                "EM_X86_64 image in an ELFCLASS32 file; EM_X86_64 needs ELFCLASS64".into(),
            ))
        }
        _ => {
            return Err(elf_err(format!(
            "{} ({class}, {bits}-bit) is neither EM_386 nor EM_X86_64: Xen enters only x86 images",
            machine_name(machine)
        )))
        }
    }
    if header.e_phnum(endian) == object::elf::PN_XNUM {
        return Err(elf_err(
            "extended program header numbering (e_phnum = PN_XNUM) is not supported".into(),
        ));
    }
    let phdrs = header
        .program_headers(endian, data)
        .map_err(|e| elf_err(format!("bad program headers: {e}")))?;
    let mut loads = Vec::new();
    for (i, ph) in (0u64..).zip(phdrs) {
        if ph.p_type(endian) != PT_LOAD {
            continue;
        }
        loads.push([
            i,
            ph.p_offset(endian).into(),
            ph.p_vaddr(endian).into(),
            ph.p_paddr(endian).into(),
            ph.p_filesz(endian).into(),
            ph.p_memsz(endian).into(),
        ]);
    }
    Ok(ElfFacts {
        machine: ElfMachine(machine),
        entry: header.e_entry(endian).into(),
        loads,
    })
}

/// `e_entry` as a machine address: through the `PT_LOAD` whose virtual range holds it,
/// else as a physical address inside a `PT_LOAD`'s physical range.
fn entry_maddr(facts: &ElfFacts) -> Option<u64> {
    let within = |addr: u64, base: u64, size: u64| addr >= base && addr - base < size;
    facts
        .loads
        .iter()
        .find(|l| within(facts.entry, l[2], l[5]))
        .map(|l| l[3].wrapping_add(facts.entry - l[2]))
        .or_else(|| {
            facts
                .loads
                .iter()
                .find(|l| within(facts.entry, l[3], l[5]))
                .map(|_| facts.entry)
        })
}

/// Plans the load `opts` describes, reading only the ELF headers.
///
/// # Errors
/// [`PlanError`], naming the file, region or value.
pub fn plan(opts: &PlanOptions) -> Result<LoadPlan, PlanError> {
    let mut files = vec![InputFile::open(&opts.elf)?];
    // Blobs first: their regions are known from their sizes alone, so a wrapping one is
    // refused before even the ELF headers are read.
    let mut pieces = blob_pieces(&opts.blobs, &mut files)?;
    let elf = &files[0];
    let facts = read_elf(elf)?;
    pieces.extend(elf_pieces(elf, &facts)?);
    let entry = match opts.entry {
        Some(entry) => entry,
        None => entry_maddr(&facts).ok_or_else(|| PlanError::Elf {
            path: elf.path().to_owned(),
            message: format!(
                "e_entry {:#x} is in no PT_LOAD (virtual or physical); give --entry",
                facts.entry
            ),
        })?,
    };
    let mut segments = merge(pieces)?;
    let total: u64 = segments.iter().map(PlannedSegment::buf_size).sum();
    if total > MAX_LOAD_BYTES {
        return Err(PlanError::TooLarge {
            what: format!("{} segments", segments.len()),
            size: total,
        });
    }
    if opts.map_low_1m {
        map_low_1m(&mut segments);
    }
    check_entry(facts.machine, entry)?;
    Ok(LoadPlan {
        type_: opts.type_,
        arch: facts.machine,
        entry_maddr: entry,
        segments,
        allow_16_segments: opts.allow_16_segments,
        sources: files.into_iter().map(Source::File).collect(),
    })
}

/// Refuses an `EM_386` image's entry point above 4 GiB: it is entered in 32-bit
/// protected mode and would fault. Xen does not check it (nor does kexec-tools).
fn check_entry(machine: ElfMachine, entry: u64) -> Result<(), PlanError> {
    if machine == ElfMachine::EM_386 && entry > u64::from(u32::MAX) {
        return Err(PlanError::Entry32Above4G { entry });
    }
    Ok(())
}

/// One piece per blob, its file opened and appended to `files`; each region checked.
fn blob_pieces(blobs: &[BlobArg], files: &mut Vec<InputFile>) -> Result<Vec<Piece>, PlanError> {
    let mut pieces = Vec::with_capacity(blobs.len());
    for blob in blobs {
        let input = InputFile::open(&blob.path)?;
        let what = format!("blob {}@{:#x}", blob.path.display(), blob.addr);
        if input.is_empty() {
            return Err(PlanError::EmptyBlob { what });
        }
        pieces.push(Piece {
            what,
            file: files.len(),
            file_offset: 0,
            paddr: blob.addr,
            filesz: input.len(),
            memsz: input.len(),
        });
        files.push(input);
    }
    for p in &pieces {
        page_span(p)?;
    }
    Ok(pieces)
}

/// One piece per `PT_LOAD` with memory of the ELF file (file 0), each checked against
/// its header and the file's size.
fn elf_pieces(elf: &InputFile, facts: &ElfFacts) -> Result<Vec<Piece>, PlanError> {
    let name = elf.path().display().to_string();
    let bad = |message: String| PlanError::Elf {
        path: elf.path().to_owned(),
        message,
    };
    let mut pieces = Vec::new();
    for &[i, offset, _, paddr, filesz, memsz] in &facts.loads {
        let what = format!("PT_LOAD {i} of {name}");
        if filesz > memsz {
            return Err(bad(format!(
                "{what}: p_filesz {filesz:#x} exceeds p_memsz {memsz:#x}"
            )));
        }
        if offset.checked_add(filesz).is_none_or(|end| end > elf.len()) {
            return Err(bad(format!(
                "{what}: file bytes {offset:#x} + {filesz:#x} run past the end of the file ({:#x} bytes)",
                elf.len()
            )));
        }
        if memsz == 0 {
            continue;
        }
        pieces.push(Piece {
            what,
            file: 0,
            file_offset: offset,
            paddr,
            filesz,
            memsz,
        });
    }
    if pieces.is_empty() {
        return Err(bad("no PT_LOAD with memory: nothing to load".into()));
    }
    Ok(pieces)
}

/// Adds kexec-tools' segment without a buffer that maps low memory: from the end of the
/// highest segment below 1 MiB (or from 0) up to 1 MiB, if any is left.
fn map_low_1m(segments: &mut Vec<PlannedSegment>) {
    let start = segments
        .iter()
        .filter(|s| s.dest_maddr < LOW_1M)
        .map(|s| s.dest_maddr + s.dest_size)
        .max()
        .unwrap_or(0);
    if start < LOW_1M {
        segments.push(PlannedSegment {
            dest_maddr: start,
            dest_size: LOW_1M - start,
            what: "low 1 MiB (mapped, no buffer)".into(),
            buffered: false,
            pieces: Vec::new(),
        });
        segments.sort_by_key(|s| s.dest_maddr);
    }
}

/// A piece's page-rounded destination `[start, end)`.
fn page_span(p: &Piece) -> Result<(u64, u64), PlanError> {
    let wraps = || PlanError::Wraps {
        what: p.what.clone(),
        start: p.paddr,
        size: p.memsz,
    };
    let end = p.paddr.checked_add(p.memsz).ok_or_else(wraps)?;
    let end = end.checked_next_multiple_of(PAGE).ok_or_else(wraps)?;
    Ok((p.paddr - p.paddr % PAGE, end))
}

/// Sorts the pieces by address, refuses overlapping bytes, and merges pieces that share
/// a page into one segment.
fn merge(mut pieces: Vec<Piece>) -> Result<Vec<PlannedSegment>, PlanError> {
    pieces.sort_by_key(|p| p.paddr);
    let mut segments: Vec<PlannedSegment> = Vec::new();
    // The piece reaching furthest so far, and its end: any later piece starting before
    // that end overlaps it.
    let mut furthest: Option<(usize, u64)> = None;
    for (i, p) in pieces.iter().enumerate() {
        let (start, end) = page_span(p)?;
        let byte_end = p.paddr + p.memsz; // checked by page_span
        if let Some((j, reach)) = furthest {
            if p.paddr < reach {
                return Err(PlanError::Overlap {
                    first: pieces[j].what.clone(),
                    second: p.what.clone(),
                });
            }
        }
        if furthest.is_none_or(|(_, reach)| byte_end > reach) {
            furthest = Some((i, byte_end));
        }
        let shares_a_page = segments
            .last()
            .is_some_and(|s| start < s.dest_maddr + s.dest_size);
        if !shares_a_page {
            segments.push(PlannedSegment {
                dest_maddr: start,
                dest_size: 0,
                what: String::new(),
                buffered: true,
                pieces: Vec::new(),
            });
        }
        let Some(seg) = segments.last_mut() else {
            continue; // just pushed, or merged into
        };
        seg.dest_size = (seg.dest_maddr + seg.dest_size).max(end) - seg.dest_maddr;
        // What the segment holds, in words: bounded (see WHAT_MAX).
        if seg.what.is_empty() {
            seg.what.clone_from(&p.what);
        } else if seg.what.len() <= WHAT_MAX {
            seg.what.push_str(" + ");
            seg.what.push_str(&p.what);
        } else if !seg.what.ends_with(MORE) {
            seg.what.push_str(MORE);
        }
        if p.filesz > 0 {
            seg.pieces.push(Placed {
                file: p.file,
                file_offset: p.file_offset,
                buf_offset: p.paddr - seg.dest_maddr,
                len: p.filesz,
            });
        }
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(what: &str, paddr: u64, filesz: u64, memsz: u64) -> Piece {
        Piece {
            what: what.into(),
            file: 0,
            file_offset: 0x100,
            paddr,
            filesz,
            memsz,
        }
    }

    #[test]
    fn pieces_sharing_a_page_merge_into_one_segment_with_zeroed_gaps() {
        let segs = merge(vec![
            piece("b", 0x10_1800, 0x100, 0x900),
            piece("a", 0x10_0000, 0x1000, 0x1800),
            piece("c", 0x20_0000, 0, 0x10),
        ])
        .expect("merges");
        assert_eq!(segs.len(), 2);
        assert_eq!((segs[0].dest_maddr, segs[0].dest_size), (0x10_0000, 0x3000));
        assert_eq!(segs[0].what, "a + b");
        // b's file bytes start 0x1800 into the buffer; the gap between is zeroes.
        assert_eq!(segs[0].buf_size(), 0x1900);
        // c has no file bytes: a buffer of none, so the hypervisor zeroes its page.
        assert_eq!((segs[1].dest_maddr, segs[1].dest_size), (0x20_0000, 0x1000));
        assert!(segs[1].buffered);
        assert_eq!(segs[1].buf_size(), 0);
    }

    #[test]
    fn a_page_of_thousands_of_pieces_has_a_bounded_description() {
        let pieces: Vec<Piece> = (0..4096u64)
            .map(|i| piece(&format!("PT_LOAD {i} of image.elf"), 0x10_0000 + i, 1, 1))
            .collect();
        let segs = merge(pieces).expect("merges");
        assert_eq!(segs.len(), 1);
        assert!(segs[0]
            .what
            .starts_with("PT_LOAD 0 of image.elf + PT_LOAD 1 of"));
        assert!(segs[0].what.ends_with(" + more"), "{}", segs[0].what);
        assert!(
            segs[0].what.len() <= WHAT_MAX + 40,
            "{}",
            segs[0].what.len()
        );
        assert_eq!(segs[0].pieces.len(), 4096);
    }

    #[test]
    fn overlapping_bytes_are_refused_naming_both() {
        let e = merge(vec![
            piece("a", 0x10_0000, 0x10, 0x3000),
            piece("b", 0x10_4000, 0x10, 0x10),
            piece("c", 0x10_2000, 0x10, 0x10),
        ])
        .expect_err("c is inside a");
        assert_eq!(e.to_string(), "a and c overlap");
    }

    #[test]
    fn a_region_reaching_past_2_pow_64_is_refused() {
        let e = merge(vec![piece("a", u64::MAX - 0x10, 0, 0x100)]).expect_err("wraps");
        assert!(e.to_string().contains("past the top"), "{e}");
        // Ending exactly on the last page's end also has no page-rounded u64 end.
        let e = merge(vec![piece("a", u64::MAX - 0xfff, 0, 0x1000)]).expect_err("wraps");
        assert!(matches!(e, PlanError::Wraps { .. }), "{e}");
    }

    #[test]
    fn entry_is_translated_through_the_pt_load_that_holds_it() {
        let facts = ElfFacts {
            machine: ElfMachine::EM_X86_64,
            entry: 0xffff_ffff_8100_0040,
            loads: vec![
                [0, 0x1000, 0xffff_ffff_8000_0000, 0x100_0000, 0x1000, 0x1000],
                [1, 0x2000, 0xffff_ffff_8100_0000, 0x200_0000, 0x1000, 0x2000],
            ],
        };
        assert_eq!(entry_maddr(&facts), Some(0x200_0040));
        // Already physical (Linux's vmlinux): kept.
        let phys = ElfFacts {
            entry: 0x100_0010,
            ..facts
        };
        assert_eq!(entry_maddr(&phys), Some(0x100_0010));
        let nowhere = ElfFacts { entry: 0x5, ..phys };
        assert_eq!(entry_maddr(&nowhere), None);
    }
}
