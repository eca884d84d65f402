// SPDX-License-Identifier: MIT
//! The Linux planner: a bzImage, an initrd and a command line become a [`LoadPlan`] that
//! Xen enters through the purgatory.
//!
//! Where it places things: inside the crash region for a CRASH image, in RAM of the
//! machine memory map (from 1 MiB, below 4 GiB) for a DEFAULT one. First the kernel, at
//! an address that honours `kernel_alignment` (`pref_address` for a DEFAULT image when it
//! is free, and always for a kernel that is not relocatable), with `init_size` bytes of
//! room; then the initrd below `initrd_addr_max`; then the zero page with the command
//! line after it; then the purgatory; for a crash kernel, a backup area for the low
//! 640 KiB. A segment without a buffer maps the low 1 MiB (as kexec-tools' Xen path
//! does), so the purgatory can read it.
//!
//! The kernel is told an e820 table: the machine map for a DEFAULT image; for a crash
//! kernel, the RAM below 640 KiB, the crash region as RAM (minus the backup area, marked
//! reserved) and the machine map's firmware ranges (reserved, ACPI, NVS).
//!
//! The purgatory's parameter block carries the SHA-256 digest of the kernel, initrd and
//! zero-page segments (unless `verify` is off), the kernel's 64-bit entry and the zero
//! page's address, the backup copy and the serial port the command line's console names.

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use xen_kexec_abi::host::MachineRange;
use xen_kexec_abi::{ElfMachine, KexecType};

use super::boot_params::{self, Placement, E820_MAX};
use super::bzimage::{BzImage, BzImageError, ENTRY_64, HEAD_LEN};
use super::corehdr::{self, CoreFacts};
use crate::input::{InputError, InputFile};
use crate::memmap::{E820Type, MemRange};
use crate::plan::{LoadPlan, PlanError, PlannedSegment, Source, LOW_1M, PAGE};
use crate::purgatory::params::{Copy, Params, Region, FLAG_VERIFY, MAGIC, MAX_COPIES, MAX_REGIONS};
use crate::purgatory::{Purgatory, PurgatoryError};

/// The segments left for Xen's note pages in a crash load: Xen takes 15, and a crash
/// kernel's own are at most six (low 1 MiB, kernel, initrd, zero page, purgatory, the
/// core header with the backup).
const CRASH_NOTE_SEGMENTS: usize = 15 - 6;

/// The low memory a crash kernel reuses and the purgatory saves first: 640 KiB.
pub const BACKUP_LEN: u64 = 0xa_0000;
/// The lowest address a DEFAULT image's segments are placed at.
const DEFAULT_FLOOR: u64 = LOW_1M;
/// The highest: every segment below 4 GiB.
const DEFAULT_CEILING: u64 = 1 << 32;
/// How much of a file is hashed per read.
const HASH_CHUNK: usize = 4 << 20;

/// What to load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinuxOptions {
    /// DEFAULT (a reboot into it) or CRASH (kdump).
    pub type_: KexecType,
    /// The bzImage.
    pub kernel: PathBuf,
    /// The initial ramdisk, if any.
    pub initrd: Option<PathBuf>,
    /// The kernel's command line.
    pub cmdline: String,
    /// Whether the purgatory checks the segments' digests (`--no-checks` turns it off).
    pub verify: bool,
    /// Test only: give the purgatory a wrong digest for the first checked segment, to
    /// prove that it refuses to enter (the real-Xen run's `--test-corrupt-digest`).
    pub corrupt_digest: bool,
    /// Test only: leave `elfcorehdr=` off a crash kernel's command line (the header is
    /// still loaded), to prove the real-Xen kdump check fails without it
    /// (`--test-no-elfcorehdr`).
    pub omit_elfcorehdr: bool,
}

/// What the hypervisor told about the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineFacts {
    /// The machine memory map (`XENMEM_machine_memory_map`).
    pub memory_map: Vec<MemRange>,
    /// The crash region (`KEXEC_RANGE_MA_CRASH`), if one is reserved.
    pub crash_region: Option<MachineRange>,
    /// Each physical CPU's crash notes (`KEXEC_RANGE_MA_CPU`), for a crash kernel's core
    /// header.
    pub cpu_notes: Vec<MachineRange>,
    /// Xen's vmcoreinfo note (`KEXEC_RANGE_MA_VMCOREINFO`), for the same.
    pub vmcoreinfo: Option<MachineRange>,
}

/// Where the planner put things, for `--dry-run` and the tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinuxLayout {
    /// The protected-mode kernel's load address; its 64-bit entry is 0x200 on.
    pub kernel: u64,
    /// The initrd's address and size.
    pub initrd: Option<(u64, u64)>,
    /// The zero page's address; the command line follows it.
    pub boot_params: u64,
    /// The command line's address.
    pub cmdline: u64,
    /// The purgatory's address (the image's entry).
    pub purgatory: u64,
    /// The backup area (CRASH).
    pub backup: Option<u64>,
    /// The ELF core header (CRASH): where, and its bytes.
    pub elfcorehdr: Option<(u64, Vec<u8>)>,
    /// The core header's program headers (CRASH), for `--dry-run`.
    pub core_phdrs: Vec<corehdr::CorePhdr>,
    /// The command line the kernel is given (`elfcorehdr=` appended for a crash kernel).
    pub cmdline_text: String,
    /// The e820 table the kernel is told.
    pub e820: Vec<MemRange>,
    /// The serial port the purgatory reports on (0: none).
    pub serial_port: u16,
    /// The digests the purgatory checks.
    pub digests: Vec<Region>,
}

/// A Linux load, planned.
#[derive(Debug)]
pub struct LinuxPlan {
    /// The segments and their sources.
    pub load: LoadPlan,
    /// Where everything went.
    pub layout: LinuxLayout,
}

/// Why a Linux image cannot be planned. Nothing is loaded.
#[derive(Debug)]
pub enum LinuxError {
    /// A file cannot be used.
    Input(InputError),
    /// The kernel is not a bzImage this loader enters.
    Image {
        /// The kernel file.
        path: PathBuf,
        /// Why.
        error: BzImageError,
    },
    /// The initrd is empty.
    EmptyInitrd {
        /// The initrd file.
        path: PathBuf,
    },
    /// The command line is longer than the kernel takes (`cmdline_size`).
    CmdlineTooLong {
        /// Its length in bytes.
        len: usize,
        /// The kernel's `cmdline_size`.
        max: usize,
    },
    /// A crash kernel needs a crash region, and the hypervisor reports none.
    NoCrashRegion,
    /// A piece does not fit where it must go.
    DoesNotFit {
        /// What (`the kernel (init_size 0x3f98000)`).
        what: String,
        /// Its size in bytes.
        size: u64,
        /// Where it was looked for.
        within: String,
    },
    /// The initrd fits only above the kernel's `initrd_addr_max`.
    InitrdTooHigh {
        /// The initrd's size.
        size: u64,
        /// The highest end the kernel takes.
        end_max: u64,
    },
    /// More ranges than a zero page's e820 table holds.
    TooManyRanges {
        /// How many.
        count: usize,
    },
    /// The purgatory image is unusable.
    Purgatory(PurgatoryError),
    /// Reading a source failed.
    Plan(PlanError),
    /// The ELF core header could not be written.
    CoreHeader(String),
}

impl LinuxError {
    /// The rule broken, as a stable name (`--json`'s `rule`).
    pub fn rule(&self) -> &'static str {
        match self {
            LinuxError::Input(_) => "InputFile",
            LinuxError::Image { error, .. } => error.rule(),
            LinuxError::EmptyInitrd { .. } => "EmptyInitrd",
            LinuxError::CmdlineTooLong { .. } => "CmdlineTooLong",
            LinuxError::NoCrashRegion => "NoCrashRegion",
            LinuxError::DoesNotFit { .. } => "DoesNotFit",
            LinuxError::InitrdTooHigh { .. } => "InitrdAboveMax",
            LinuxError::TooManyRanges { .. } => "TooManyE820Ranges",
            LinuxError::Purgatory(_) => "Purgatory",
            LinuxError::Plan(_) => "PlanInput",
            LinuxError::CoreHeader(_) => "CoreHeader",
        }
    }
}

impl fmt::Display for LinuxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinuxError::Input(e) => e.fmt(f),
            LinuxError::Image { path, error } => write!(f, "{} {error}", path.display()),
            LinuxError::EmptyInitrd { path } => {
                write!(f, "the initrd {} is empty", path.display())
            }
            LinuxError::CmdlineTooLong { len, max } => write!(
                f,
                "the command line is {len} bytes; the kernel takes at most {max} (cmdline_size)"
            ),
            LinuxError::NoCrashRegion => f.write_str(
                "the hypervisor reports no crash region: boot Xen with crashkernel= (a \
                 distribution kernel needs 128M or more)",
            ),
            LinuxError::DoesNotFit { what, size, within } => {
                write!(f, "{what} ({size:#x} bytes) does not fit {within}")
            }
            LinuxError::InitrdTooHigh { size, end_max } => write!(
                f,
                "the initrd ({size:#x} bytes) fits only above the kernel's initrd_addr_max \
                 ({:#x})",
                end_max - 1
            ),
            LinuxError::TooManyRanges { count } => write!(
                f,
                "the kernel would be told {count} memory ranges; its e820 table holds {E820_MAX}"
            ),
            LinuxError::Purgatory(e) => e.fmt(f),
            LinuxError::Plan(e) => e.fmt(f),
            LinuxError::CoreHeader(e) => write!(f, "the ELF core header: {e}"),
        }
    }
}

impl std::error::Error for LinuxError {}

impl From<InputError> for LinuxError {
    fn from(e: InputError) -> Self {
        LinuxError::Input(e)
    }
}

impl From<PlanError> for LinuxError {
    fn from(e: PlanError) -> Self {
        LinuxError::Plan(e)
    }
}

/// Free machine memory: sorted, disjoint `[start, end)` ranges, taken from as pieces
/// are placed.
#[derive(Clone, Debug)]
struct Free {
    ranges: Vec<(u64, u64)>,
    /// For messages: where this memory is.
    name: String,
}

impl Free {
    /// The lowest address aligned to `align` with `size` free bytes ending at or below
    /// `end_max`, taken.
    fn take(&mut self, size: u64, align: u64, end_max: u64) -> Option<u64> {
        let at = self.ranges.iter().find_map(|&(start, end)| {
            let at = start.checked_next_multiple_of(align)?;
            let stop = at.checked_add(size)?;
            (stop <= end && stop <= end_max).then_some(at)
        })?;
        self.take_at(at, size).then_some(at)
    }

    /// `[at, at + size)` taken if it is free.
    fn take_at(&mut self, at: u64, size: u64) -> bool {
        let Some(stop) = at.checked_add(size) else {
            return false;
        };
        let Some(i) = self
            .ranges
            .iter()
            .position(|&(start, end)| start <= at && stop <= end)
        else {
            return false;
        };
        let (start, end) = self.ranges.remove(i);
        if stop < end {
            self.ranges.insert(i, (stop, end));
        }
        if start < at {
            self.ranges.insert(i, (start, at));
        }
        true
    }
}

/// The memory a `type_` image's buffered segments may use.
fn free_memory(type_: KexecType, machine: &MachineFacts) -> Result<Free, LinuxError> {
    if type_ == KexecType::CRASH {
        let region = machine.crash_region.ok_or(LinuxError::NoCrashRegion)?;
        let region_end = region.end().unwrap_or(u64::MAX);
        let start = region.start().next_multiple_of(PAGE);
        let end = region_end / PAGE * PAGE;
        return Ok(Free {
            ranges: if start < end {
                vec![(start, end)]
            } else {
                Vec::new()
            },
            name: format!(
                "in the crash region [{:#x}, {:#x})",
                region.start(),
                region_end
            ),
        });
    }
    let mut ranges: Vec<(u64, u64)> = machine
        .memory_map
        .iter()
        .filter(|r| r.kind == E820Type::RAM)
        .filter_map(|r| {
            let start = r.start.max(DEFAULT_FLOOR).next_multiple_of(PAGE);
            let end = (r.end().min(DEFAULT_CEILING)) / PAGE * PAGE;
            (start < end).then_some((start, end))
        })
        .collect();
    ranges.sort_unstable();
    Ok(Free {
        ranges,
        name: "in the machine's RAM from 1 MiB to 4 GiB".into(),
    })
}

/// The serial port the command line's console names (`console=ttyS0` is COM1, 0x3f8),
/// or 0.
pub fn serial_port(cmdline: &str) -> u16 {
    const PORTS: [u16; 4] = [0x3f8, 0x2f8, 0x3e8, 0x2e8];
    cmdline
        .split_ascii_whitespace()
        .filter_map(|arg| {
            let value = arg
                .strip_prefix("console=")
                .or_else(|| arg.strip_prefix("earlyprintk="))?;
            let n = value.strip_prefix("ttyS").or_else(|| {
                value
                    .strip_prefix("serial")
                    .map(|rest| rest.trim_start_matches(',').trim_start_matches("ttyS"))
            })?;
            let digit = n.chars().next().map_or(Some(0), |c| c.to_digit(10))?;
            PORTS.get(digit as usize).copied()
        })
        .next_back()
        .unwrap_or(0)
}

/// The e820 table a crash kernel is told: the RAM below 640 KiB, the crash region as RAM
/// with `reserved` (the backup area) marked reserved, and the firmware ranges.
fn crash_e820(
    machine: &MachineFacts,
    region: MachineRange,
    reserved: &[(u64, u64)],
) -> Vec<MemRange> {
    let mut out: Vec<MemRange> = machine
        .memory_map
        .iter()
        .filter_map(|r| match r.kind {
            E820Type::RAM => {
                let end = r.end().min(BACKUP_LEN);
                (r.start < end).then(|| MemRange {
                    start: r.start,
                    size: end - r.start,
                    kind: E820Type::RAM,
                })
            }
            _ => Some(*r),
        })
        .collect();
    let mut at = region.start();
    let mut holes: Vec<(u64, u64)> = reserved.to_vec();
    holes.sort_unstable();
    for (start, size) in holes {
        if start > at {
            out.push(MemRange {
                start: at,
                size: start - at,
                kind: E820Type::RAM,
            });
        }
        out.push(MemRange {
            start,
            size,
            kind: E820Type::RESERVED,
        });
        at = start + size;
    }
    let end = region.end().unwrap_or(u64::MAX);
    if end > at {
        out.push(MemRange {
            start: at,
            size: end - at,
            kind: E820Type::RAM,
        });
    }
    out.sort_unstable_by_key(|r| r.start);
    out
}

/// The SHA-256 of `len` bytes of `source` from `offset`.
fn digest(source: &Source, offset: u64, len: u64) -> Result<[u8; 32], PlanError> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; HASH_CHUNK.min(usize::try_from(len).unwrap_or(HASH_CHUNK))];
    let mut done = 0u64;
    while done < len {
        let n = usize::try_from(len - done).map_or(buf.len(), |left| left.min(buf.len()));
        source.read_at(offset + done, &mut buf[..n])?;
        hasher.update(&buf[..n]);
        done += n as u64;
    }
    Ok(hasher.finalize().into())
}

/// A piece of the image placed: its destination, its bytes, and whether it is hashed.
struct Piece {
    what: String,
    dest: u64,
    dest_size: u64,
    /// (source index, offset, length), or `None` for a segment without a buffer.
    from: Option<(usize, u64, u64)>,
    hashed: bool,
}

/// Opens and reads the kernel's setup header.
fn open_kernel(path: &Path) -> Result<(InputFile, BzImage), LinuxError> {
    let file = InputFile::open(path)?;
    let mut head = vec![0u8; HEAD_LEN.min(usize::try_from(file.len()).unwrap_or(HEAD_LEN))];
    file.read_at(0, &mut head)?;
    let image = BzImage::parse(&head, file.len()).map_err(|error| LinuxError::Image {
        path: path.to_owned(),
        error,
    })?;
    Ok((file, image))
}

/// Places the kernel: at `pref_address` when it must be (not relocatable) or may be
/// (DEFAULT, free there), else the lowest aligned address with `init_size` room.
fn place_kernel(
    image: &BzImage,
    type_: KexecType,
    free: &mut Free,
) -> Result<(u64, u64), LinuxError> {
    let size = image.init_size().next_multiple_of(PAGE);
    let pref = image.header.pref_address.get();
    let fits_at_pref = (!image.relocatable() || type_ == KexecType::DEFAULT)
        && pref.is_multiple_of(image.alignment())
        && free.take_at(pref, size);
    let at = if fits_at_pref {
        Some(pref)
    } else if image.relocatable() {
        free.take(size, image.alignment(), u64::MAX)
    } else {
        None
    };
    let what = if image.relocatable() {
        format!("the kernel (init_size {:#x})", image.init_size())
    } else {
        format!("the kernel, not relocatable, at pref_address {pref:#x}")
    };
    at.map(|at| (at, size)).ok_or(LinuxError::DoesNotFit {
        what,
        size,
        within: free.name.clone(),
    })
}

/// Places the initrd below the kernel's `initrd_addr_max`.
fn place_initrd(image: &BzImage, len: u64, free: &mut Free) -> Result<u64, LinuxError> {
    let size = len.next_multiple_of(PAGE);
    let end_max = image.initrd_end_max();
    if let Some(at) = free.take(size, PAGE, end_max) {
        return Ok(at);
    }
    if free.clone().take(size, PAGE, u64::MAX).is_some() {
        return Err(LinuxError::InitrdTooHigh { size: len, end_max });
    }
    Err(LinuxError::DoesNotFit {
        what: "the initrd".into(),
        size: len,
        within: free.name.clone(),
    })
}

/// The files of a Linux load, opened and checked.
struct Inputs {
    kernel: InputFile,
    image: BzImage,
    initrd: Option<InputFile>,
}

/// Opens the kernel and initrd and checks the command line against the kernel.
fn open_inputs(opts: &LinuxOptions) -> Result<Inputs, LinuxError> {
    let (kernel, image) = open_kernel(&opts.kernel)?;
    let initrd = match &opts.initrd {
        Some(path) => {
            let file = InputFile::open(path)?;
            if file.is_empty() {
                return Err(LinuxError::EmptyInitrd { path: path.clone() });
            }
            Some(file)
        }
        None => None,
    };
    if opts.cmdline.len() > image.cmdline_max() {
        return Err(LinuxError::CmdlineTooLong {
            len: opts.cmdline.len(),
            max: image.cmdline_max(),
        });
    }
    Ok(Inputs {
        kernel,
        image,
        initrd,
    })
}

/// Where each piece goes, and the sizes of the zero-page and purgatory segments.
struct Places {
    kernel: (u64, u64),
    initrd: Option<(u64, u64)>,
    boot_params: (u64, u64),
    purgatory: (u64, u64),
    backup: Option<u64>,
    elfcorehdr: Option<(u64, u64)>,
    /// Where the purgatory copies Xen's notes, inside the core header's segment.
    copies_at: Option<u64>,
}

/// Places every piece in `free`, in the order the module docs give.
fn place(
    opts: &LinuxOptions,
    inputs: &Inputs,
    purgatory: &Purgatory,
    core_sizes: Option<(u64, u64)>,
    free: &mut Free,
) -> Result<Places, LinuxError> {
    let kernel = place_kernel(&inputs.image, opts.type_, free)?;
    let initrd = match &inputs.initrd {
        Some(file) => Some((place_initrd(&inputs.image, file.len(), free)?, file.len())),
        None => None,
    };
    let mut take = |what: &str, size: u64| {
        free.take(size, PAGE, u64::MAX)
            .map(|at| (at, size))
            .ok_or_else(|| LinuxError::DoesNotFit {
                what: what.into(),
                size,
                within: free.name.clone(),
            })
    };
    // A crash kernel's core header, the copies of Xen's notes after it, and the backup
    // of the low memory: one segment, reserved in the crash kernel's e820 table.
    let (backup, elfcorehdr, copies_at) = match core_sizes {
        Some((header_len, copies_len)) => {
            let header = header_len.next_multiple_of(16);
            let area = (header + copies_len).next_multiple_of(PAGE);
            let (at, _) = take(
                "the ELF core header and the backup of the low 640 KiB",
                area + BACKUP_LEN,
            )?;
            (
                Some(at + area),
                Some((at, area)),
                (copies_len > 0).then_some(at + header),
            )
        }
        None => (None, None, None),
    };
    // A crash kernel's command line grows by " elfcorehdr=NNNNNNNNK" (under 32 bytes).
    let cmdline_room = opts.cmdline.len() as u64 + 32;
    let bp_size = (boot_params::SIZE as u64 + cmdline_room).next_multiple_of(PAGE);
    let boot_params = take("the zero page and command line", bp_size)?;
    let purgatory = take("the purgatory", purgatory.mem_size().next_multiple_of(PAGE))?;
    Ok(Places {
        kernel,
        initrd,
        boot_params,
        purgatory,
        backup,
        elfcorehdr,
        copies_at,
    })
}

/// The zero page and the command line after it: the zero-page segment's bytes.
fn zero_page_bytes(cmdline: &str, image: &BzImage, at: &Places, e820: &[MemRange]) -> Vec<u8> {
    let page = boot_params::build(
        image,
        &Placement {
            kernel: at.kernel.0,
            initrd: at.initrd,
            cmdline: at.boot_params.0 + boot_params::SIZE as u64,
        },
        e820,
    );
    let mut bytes = page.to_vec();
    bytes.extend_from_slice(cmdline.as_bytes());
    bytes.push(0);
    bytes
}

/// The purgatory's parameter block for `at`, with `digests`.
fn purgatory_params(
    opts: &LinuxOptions,
    at: &Places,
    digests: &[Region],
    copies: &[(u64, u64, u64)],
) -> Params {
    let mut params = Params {
        magic: MAGIC,
        entry: at.kernel.0 + ENTRY_64,
        boot_params: at.boot_params.0,
        flags: if opts.verify { FLAG_VERIFY } else { 0 },
        serial_port: serial_port(&opts.cmdline),
        ..Params::EMPTY
    };
    let n = digests.len().min(MAX_REGIONS);
    params.regions[..n].copy_from_slice(&digests[..n]);
    if opts.corrupt_digest && n > 0 {
        params.regions[0].sha256[0] ^= 0xff;
    }
    params.nr_regions = u32::try_from(n).unwrap_or(0);
    if let Some(backup) = at.backup {
        params.backup_src = 0;
        params.backup_dst = backup;
        params.backup_len = BACKUP_LEN;
    }
    let n = copies.len().min(MAX_COPIES);
    for (slot, &(src, dst, len)) in params.copies.iter_mut().zip(&copies[..n]) {
        *slot = Copy { src, dst, len };
    }
    params.nr_copies = u32::try_from(n).unwrap_or(0);
    params
}

/// The digests of the hashed pieces, read from their sources.
fn digests(pieces: &[Piece], sources: &[Source]) -> Result<Vec<Region>, PlanError> {
    pieces
        .iter()
        .filter(|p| p.hashed)
        .filter_map(|p| p.from.map(|from| (p.dest, from)))
        .map(|(start, (source, offset, len))| {
            Ok(Region {
                start,
                len,
                sha256: digest(&sources[source], offset, len)?,
            })
        })
        .collect()
}

/// The segments without a buffer: the low 1 MiB, and the pages of Xen's notes that the
/// purgatory copies (CRASH).
fn unbuffered(note_pages: &[(u64, u64)]) -> Vec<Piece> {
    let notes = note_pages.iter().map(|&(start, end)| Piece {
        what: "Xen's crash notes (mapped, no buffer; the purgatory copies them)".into(),
        dest: start,
        dest_size: end - start,
        from: None,
        hashed: false,
    });
    let low = Piece {
        what: "low 1 MiB (mapped, no buffer)".into(),
        dest: 0,
        dest_size: LOW_1M,
        from: None,
        hashed: false,
    };
    [low].into_iter().chain(notes).collect()
}

/// The pages of Xen's note areas, merged, for segments without a buffer that map them
/// for the purgatory's copy; `None` when they are not copied: an area below 1 MiB or in
/// the crash region, more areas than [`MAX_COPIES`], or more segments than `budget`.
fn note_pages(machine: &MachineFacts, budget: usize) -> Option<Vec<(u64, u64)>> {
    let region = machine.crash_region?;
    let (region_start, region_end) = (region.start(), region.end()?);
    let areas: Vec<MachineRange> = machine
        .cpu_notes
        .iter()
        .chain(machine.vmcoreinfo.iter())
        .copied()
        .collect();
    if areas.is_empty() || areas.len() > MAX_COPIES {
        return None;
    }
    let mut pages = Vec::with_capacity(areas.len());
    for r in &areas {
        let start = r.start() / PAGE * PAGE;
        let end = r.end()?.checked_next_multiple_of(PAGE)?;
        if start < LOW_1M || (start < region_end && end > region_start) {
            return None;
        }
        pages.push((start, end));
    }
    pages.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (start, end) in pages {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    (merged.len() <= budget).then_some(merged)
}

/// The segments with a buffer but the purgatory, and their sources: 0 the kernel file,
/// 1 the zero page `bp`, 2 the initrd (if any).
fn buffered(
    opts: &LinuxOptions,
    inputs: Inputs,
    at: &Places,
    bp: Vec<u8>,
) -> (Vec<Piece>, Vec<Source>) {
    let image = &inputs.image;
    let bp_len = bp.len() as u64;
    let mut sources = vec![Source::File(inputs.kernel), Source::Bytes(bp)];
    let mut pieces = vec![
        Piece {
            what: format!(
                "kernel {} (protected mode; init_size {:#x})",
                opts.kernel.display(),
                image.init_size()
            ),
            dest: at.kernel.0,
            dest_size: at.kernel.1,
            from: Some((0, image.kernel_offset, image.kernel_len)),
            hashed: true,
        },
        Piece {
            what: "boot_params (zero page) + command line".into(),
            dest: at.boot_params.0,
            dest_size: at.boot_params.1,
            from: Some((1, 0, bp_len)),
            hashed: true,
        },
    ];
    if let (Some(file), Some((dest, len))) = (inputs.initrd, at.initrd) {
        pieces.push(Piece {
            what: format!("initrd {}", file.path().display()),
            dest,
            dest_size: len.next_multiple_of(PAGE),
            from: Some((sources.len(), 0, len)),
            hashed: true,
        });
        sources.push(Source::File(file));
    }
    (pieces, sources)
}

/// `cmdline` with `arg` added for the kernel: before a standalone `--`, after which
/// Linux hands the words to init.
pub fn with_kernel_arg(cmdline: &str, arg: &str) -> String {
    let mut words: Vec<&str> = cmdline.split_ascii_whitespace().collect();
    let at = words.iter().position(|w| *w == "--").unwrap_or(words.len());
    words.insert(at, arg);
    words.join(" ")
}

/// What a crash kernel's core header describes, with the backup copy at `backup_at`
/// and the notes' copies at `copies_at`.
fn core_facts(
    machine: &MachineFacts,
    backup_at: u64,
    copies_at: Option<u64>,
) -> Option<CoreFacts<'_>> {
    machine.crash_region.map(|region| CoreFacts {
        cpu_notes: &machine.cpu_notes,
        vmcoreinfo: machine.vmcoreinfo,
        memory_map: &machine.memory_map,
        crash_region: region,
        backup: (0, BACKUP_LEN, backup_at),
        copies_at,
    })
}

/// Refuses an e820 table or a command line larger than the kernel takes.
fn check_view(e820: &[MemRange], cmdline: &str, image: &BzImage) -> Result<(), LinuxError> {
    if e820.len() > E820_MAX {
        return Err(LinuxError::TooManyRanges { count: e820.len() });
    }
    if cmdline.len() > image.cmdline_max() {
        return Err(LinuxError::CmdlineTooLong {
            len: cmdline.len(),
            max: image.cmdline_max(),
        });
    }
    Ok(())
}

/// What [`crash_view`] gives: the e820 table, the command line, and the core header's
/// address and bytes.
type KernelView = (Vec<MemRange>, String, Option<(u64, Vec<u8>)>);

/// What the kernel is told: its e820 table and command line, and for a crash kernel its
/// core header (address and bytes), with the backup area and the header reserved in the
/// table and `elfcorehdr=` on the command line.
fn crash_view(
    opts: &LinuxOptions,
    machine: &MachineFacts,
    at: &Places,
    core: impl Fn(u64, Option<u64>) -> Option<Result<Vec<u8>, LinuxError>>,
) -> Result<KernelView, LinuxError> {
    let (Some(region), Some(backup), Some((hdr, hdr_size))) =
        (machine.crash_region, at.backup, at.elfcorehdr)
    else {
        return Ok((machine.memory_map.clone(), opts.cmdline.clone(), None));
    };
    let bytes = core(backup, at.copies_at).unwrap_or_else(|| Ok(Vec::new()))?;
    let e820 = crash_e820(machine, region, &[(backup, BACKUP_LEN), (hdr, hdr_size)]);
    let cmdline = if opts.omit_elfcorehdr {
        opts.cmdline.clone()
    } else {
        with_kernel_arg(&opts.cmdline, &format!("elfcorehdr={}K", hdr / 1024))
    };
    Ok((e820, cmdline, Some((hdr, bytes))))
}

/// Plans the Linux load `opts` describes on the machine `machine` describes. Reads the
/// kernel's header, and (to hash them) the kernel and initrd unless `verify` is off.
///
/// # Errors
/// [`LinuxError`], naming the file, field and value; nothing is loaded.
pub fn plan(opts: &LinuxOptions, machine: &MachineFacts) -> Result<LinuxPlan, LinuxError> {
    let inputs = open_inputs(opts)?;
    let purgatory = Purgatory::embedded().map_err(LinuxError::Purgatory)?;
    let mut free = free_memory(opts.type_, machine)?;
    // A crash kernel's core header: its size is known before its addresses.
    let core = |backup_at: u64, copies_at: Option<u64>| {
        core_facts(machine, backup_at, copies_at)
            .map(|facts| corehdr::build(&facts).map_err(|e| LinuxError::CoreHeader(e.to_string())))
    };
    let note_pages = match opts.type_ {
        KexecType::CRASH => note_pages(machine, CRASH_NOTE_SEGMENTS),
        _ => None,
    };
    let core_sizes = match (opts.type_, core(0, None)) {
        (KexecType::CRASH, Some(bytes)) => {
            let copies = note_pages
                .as_ref()
                .and_then(|_| core_facts(machine, 0, Some(0)));
            let copies_len = copies.map_or(0, |facts| corehdr::note_copies(&facts, 0).1);
            Some((bytes?.len() as u64, copies_len))
        }
        _ => None,
    };
    let at = place(opts, &inputs, &purgatory, core_sizes, &mut free)?;
    let (e820, cmdline, core_bytes) = crash_view(opts, machine, &at, core)?;
    check_view(&e820, &cmdline, &inputs.image)?;
    let bp = zero_page_bytes(&cmdline, &inputs.image, &at, &e820);
    let (mut pieces, mut sources) = buffered(opts, inputs, &at, bp);
    if let Some((hdr, bytes)) = &core_bytes {
        pieces.push(Piece {
            what: "ELF core header (elfcorehdr), then the copies of Xen's notes and the \
                   backup of the low 640 KiB (the purgatory fills both)"
                .into(),
            dest: *hdr,
            dest_size: at.elfcorehdr.map_or(0, |(_, area)| area) + BACKUP_LEN,
            from: Some((sources.len(), 0, bytes.len() as u64)),
            hashed: true,
        });
        sources.push(Source::Bytes(bytes.clone()));
    }
    let digests = if opts.verify {
        digests(&pieces, &sources)?
    } else {
        Vec::new()
    };
    let copies = match (at.backup, at.copies_at) {
        (Some(backup), Some(copies_at)) => core_facts(machine, backup, Some(copies_at))
            .map_or_else(Vec::new, |facts| corehdr::note_copies(&facts, copies_at).0),
        _ => Vec::new(),
    };
    let params = purgatory_params(opts, &at, &digests, &copies);
    let placed = purgatory.place(at.purgatory.0, &params);
    pieces.push(Piece {
        what: "purgatory (xen-kexec's: digests, backup, 64-bit entry)".into(),
        dest: at.purgatory.0,
        dest_size: at.purgatory.1,
        from: Some((sources.len(), 0, placed.len() as u64)),
        hashed: false,
    });
    sources.push(Source::Bytes(placed));
    pieces.extend(unbuffered(note_pages.as_deref().unwrap_or_default()));
    pieces.sort_by_key(|p| p.dest);
    let segments = pieces
        .into_iter()
        .map(|p| PlannedSegment::new(p.dest, p.dest_size, p.what, p.from))
        .collect();
    Ok(LinuxPlan {
        load: LoadPlan::new(
            opts.type_,
            ElfMachine::EM_X86_64,
            purgatory.entry(at.purgatory.0),
            segments,
            sources,
        ),
        layout: LinuxLayout {
            kernel: at.kernel.0,
            initrd: at.initrd,
            boot_params: at.boot_params.0,
            cmdline: at.boot_params.0 + boot_params::SIZE as u64,
            purgatory: at.purgatory.0,
            backup: at.backup,
            core_phdrs: at
                .backup
                .filter(|_| core_bytes.is_some())
                .and_then(|backup| core_facts(machine, backup, at.copies_at))
                .map_or_else(Vec::new, |facts| corehdr::summary(&facts)),
            elfcorehdr: core_bytes,
            cmdline_text: cmdline,
            e820,
            serial_port: params.serial_port,
            digests,
        },
    })
}
