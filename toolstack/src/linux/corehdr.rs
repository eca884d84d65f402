// SPDX-License-Identifier: MIT
//! The ELF core header (`elfcorehdr`) a crash kernel reads to serve `/proc/vmcore`: an
//! ELF64 `ET_CORE` file of program headers only, written with the `object` crate.
//!
//! - one `PT_NOTE` per physical CPU's crash notes (`KEXEC_RANGE_MA_CPU`), and one for
//!   Xen's vmcoreinfo (`KEXEC_RANGE_MA_VMCOREINFO`), each at the machine address Xen
//!   reported (`p_offset = p_paddr`), sized by Xen's answer: Xen sizes each CPU's range
//!   to its notes exactly (PRSTATUS, Xen's core note, and on CPU 0 Xen's info note);
//! - one `PT_LOAD` per RAM range of the machine memory map outside the crash region,
//!   `p_offset = p_paddr` (the crash kernel reads the old memory in place), except the
//!   low RAM the crash kernel reuses, which is served from the backup copy the purgatory
//!   made (`p_offset` = the backup area).
//!
//! Xen's own image (`KEXEC_RANGE_MA_XEN`) lies in RAM and so inside a `PT_LOAD`; like
//! kexec-tools, no header of its own names it: `crash` and `makedumpfile` find Xen
//! through the `VMCOREINFO_XEN` note.

use object::elf;
use object::write::elf::{FileHeader, ProgramHeader, Writer};
use object::Endianness;
use xen_kexec_abi::host::MachineRange;

use crate::memmap::{E820Type, MemRange};

/// The size of the ELF64 file header.
const EHDR: u64 = 64;
/// The size of one ELF64 program header.
const PHDR: u64 = 56;

/// One program header of the core header, as `--dry-run` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CorePhdr {
    /// `PT_NOTE` or `PT_LOAD`.
    pub p_type: u32,
    /// Where the crash kernel reads it (a machine address).
    pub offset: u64,
    /// The machine address it describes.
    pub paddr: u64,
    /// Its size in bytes.
    pub size: u64,
}

impl CorePhdr {
    /// `PT_NOTE` or `PT_LOAD`.
    pub fn type_name(&self) -> &'static str {
        if self.p_type == elf::PT_NOTE {
            "PT_NOTE"
        } else {
            "PT_LOAD"
        }
    }
}

/// The program headers as [`CorePhdr`]s, in file order.
pub fn summary(facts: &CoreFacts<'_>) -> Vec<CorePhdr> {
    program_headers(facts)
        .iter()
        .map(|h| CorePhdr {
            p_type: h.p_type,
            offset: h.p_offset,
            paddr: h.p_paddr,
            size: h.p_memsz,
        })
        .collect()
}

/// What the core header describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreFacts<'a> {
    /// Each physical CPU's crash-note range, in CPU order.
    pub cpu_notes: &'a [MachineRange],
    /// Xen's vmcoreinfo note, if it has one.
    pub vmcoreinfo: Option<MachineRange>,
    /// The machine memory map.
    pub memory_map: &'a [MemRange],
    /// The crash region (left out of the dump: the crash kernel runs there).
    pub crash_region: MachineRange,
    /// The low RAM the purgatory saved, and where it put it: `(start, size, backup)`.
    pub backup: (u64, u64, u64),
    /// Where the purgatory copies the notes ([`note_copies`]), if it does: each
    /// `PT_NOTE` then points at its copy, followed by zeros.
    pub copies_at: Option<u64>,
}

/// The zero bytes after each note copy: more than a note header (12 bytes), so that
/// Linux's note reader, which reads one header past the last note, reads zeros inside
/// its own buffer.
pub const NOTE_PAD: u64 = 16;

/// Where each note area (the CPUs' notes, then vmcoreinfo) is copied when the copies
/// start at `at`: `(source, copy, length)`, 16-byte aligned, each followed by at least
/// [`NOTE_PAD`] zero bytes. Returns the copies and the bytes they take.
pub fn note_copies(facts: &CoreFacts<'_>, at: u64) -> (Vec<(u64, u64, u64)>, u64) {
    let mut next = at;
    let copies = facts
        .cpu_notes
        .iter()
        .chain(facts.vmcoreinfo.iter())
        .map(|r| {
            let copy = (r.start(), next, r.size());
            next += (r.size() + NOTE_PAD).next_multiple_of(16);
            copy
        })
        .collect();
    (copies, next - at)
}

/// The RAM ranges of `map` minus `hole`.
fn ram_outside(map: &[MemRange], hole: MachineRange) -> Vec<(u64, u64)> {
    let (hole_start, hole_end) = (hole.start(), hole.end().unwrap_or(u64::MAX));
    let mut out = Vec::new();
    for r in map.iter().filter(|r| r.kind == E820Type::RAM) {
        let (start, end) = (r.start, r.end());
        if end <= hole_start || start >= hole_end {
            out.push((start, end));
            continue;
        }
        if start < hole_start {
            out.push((start, hole_start));
        }
        if end > hole_end {
            out.push((hole_end, end));
        }
    }
    out
}

/// The program headers, in file order: notes first, then the loads by address.
pub fn program_headers(facts: &CoreFacts<'_>) -> Vec<ProgramHeader> {
    // A PT_NOTE read at `offset`, `size` bytes, describing the notes at `paddr`.
    let note = |paddr: u64, offset: u64, size: u64| ProgramHeader {
        p_type: elf::PT_NOTE,
        p_flags: 0,
        p_offset: offset,
        p_vaddr: 0,
        p_paddr: paddr,
        p_filesz: size,
        p_memsz: size,
        p_align: 0,
    };
    let mut headers: Vec<ProgramHeader> = match facts.copies_at {
        // Each note read from its copy, with the zeros after it.
        Some(at) => note_copies(facts, at)
            .0
            .into_iter()
            .map(|(src, copy, len)| note(src, copy, len + NOTE_PAD))
            .collect(),
        None => facts
            .cpu_notes
            .iter()
            .chain(facts.vmcoreinfo.iter())
            .map(|r| note(r.start(), r.start(), r.size()))
            .collect(),
    };
    let (backup_src, backup_len, backup_at) = facts.backup;
    for (start, end) in ram_outside(facts.memory_map, facts.crash_region) {
        // The low RAM the crash kernel reuses is read from its backup copy; the rest of
        // a range that reaches past the backed-up part is read in place.
        let backed = start == backup_src && end <= backup_src + backup_len;
        headers.push(ProgramHeader {
            p_type: elf::PT_LOAD,
            p_flags: elf::PF_R | elf::PF_W | elf::PF_X,
            p_offset: if backed { backup_at } else { start },
            p_vaddr: 0,
            p_paddr: start,
            p_filesz: end - start,
            p_memsz: end - start,
            p_align: 0,
        });
    }
    headers
}

/// The size of the header for `n` program headers.
pub fn size(n: usize) -> u64 {
    EHDR + PHDR * n as u64
}

/// The core header's bytes.
///
/// # Errors
/// The writer's, which cannot happen for headers only (no strings, no sections).
pub fn build(facts: &CoreFacts<'_>) -> Result<Vec<u8>, object::write::Error> {
    let headers = program_headers(facts);
    let mut bytes = Vec::new();
    let mut w = Writer::new(Endianness::Little, true, &mut bytes);
    w.reserve_file_header();
    w.reserve_program_headers(u32::try_from(headers.len()).unwrap_or(u32::MAX));
    w.write_file_header(&FileHeader {
        os_abi: elf::ELFOSABI_NONE,
        abi_version: 0,
        e_type: elf::ET_CORE,
        e_machine: elf::EM_X86_64,
        e_entry: 0,
        e_flags: 0,
    })?;
    w.write_align_program_headers();
    for h in &headers {
        w.write_program_header(h);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::read::elf::{ElfFile64, FileHeader as _, ProgramHeader as _};
    use object::LittleEndian;

    fn range(start: u64, size: u64) -> MachineRange {
        MachineRange::new(start, size).expect("a range")
    }

    #[test]
    fn the_header_reads_back_with_every_note_and_ram_range_outside_the_region() {
        let map = [
            MemRange {
                start: 0,
                size: 0x9fc00,
                kind: E820Type::RAM,
            },
            MemRange {
                start: 0xf0000,
                size: 0x10000,
                kind: E820Type::RESERVED,
            },
            MemRange {
                start: 0x10_0000,
                size: 0x3fee_0000,
                kind: E820Type::RAM,
            },
        ];
        let facts = CoreFacts {
            cpu_notes: &[range(0x3ffc_f700, 0x1f4), range(0x3ffc_f900, 0x194)],
            vmcoreinfo: Some(range(0x3fd7_c540, 0x1000)),
            memory_map: &map,
            crash_region: range(0x2000_0000, 0xc00_0000),
            backup: (0, 0xa_0000, 0x2428_1000),
            copies_at: None,
        };
        let bytes = build(&facts).expect("builds");
        assert_eq!(bytes.len() as u64, size(6));
        let file = ElfFile64::<LittleEndian>::parse(&*bytes).expect("an ELF file");
        let e = file.endian();
        let header = file.elf_header();
        assert_eq!(header.e_type(e), elf::ET_CORE);
        assert_eq!(header.e_machine(e), elf::EM_X86_64);
        let got: Vec<(u32, u64, u64, u64)> = header
            .program_headers(e, &*bytes)
            .expect("headers")
            .iter()
            .map(|p| (p.p_type(e), p.p_offset(e), p.p_paddr(e), p.p_memsz(e)))
            .collect();
        assert_eq!(
            got,
            [
                (elf::PT_NOTE, 0x3ffc_f700, 0x3ffc_f700, 0x1f4),
                (elf::PT_NOTE, 0x3ffc_f900, 0x3ffc_f900, 0x194),
                (elf::PT_NOTE, 0x3fd7_c540, 0x3fd7_c540, 0x1000),
                (elf::PT_LOAD, 0x2428_1000, 0, 0x9fc00),
                (elf::PT_LOAD, 0x10_0000, 0x10_0000, 0x1ff0_0000),
                (elf::PT_LOAD, 0x2c00_0000, 0x2c00_0000, 0x13fe_0000),
            ],
            "notes in CPU order, then RAM around the crash region, the low RAM from its backup"
        );
    }
}
