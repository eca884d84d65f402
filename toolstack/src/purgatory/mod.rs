// SPDX-License-Identifier: MIT
//! The purgatory: the small program Xen enters first when it executes a loaded Linux
//! image. It checks the segments' SHA-256 digests, saves low memory for a crash kernel,
//! and enters Linux's 64-bit entry (see `purgatory/src/main.rs`).
//!
//! The purgatory is built from `purgatory/` for `x86_64-unknown-none` by
//! `cargo run -p headgen -- purgatory`, reproducibly, and its ELF file is committed
//! beside this crate (`purgatory/xen-kexec-purgatory.elf`); a test rebuilds it and
//! compares the bytes. This module reads that file ([`Purgatory::embedded`]), places it
//! at a machine address (applying its `R_X86_64_RELATIVE` relocations) and patches the
//! [`params::Params`] block in.

pub mod params;

use std::fmt;

use object::elf;
use object::read::elf::{ElfFile64, FileHeader, ProgramHeader, Rela, SectionHeader};
use object::{LittleEndian, Object, ObjectSymbol};
use zerocopy::IntoBytes;

use params::Params;

/// The purgatory's ELF file, as built by `cargo run -p headgen -- purgatory`.
pub const ELF: &[u8] = include_bytes!("../../purgatory/xen-kexec-purgatory.elf");

/// Why a purgatory ELF file cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurgatoryError(String);

impl fmt::Display for PurgatoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the purgatory image: {}", self.0)
    }
}

impl std::error::Error for PurgatoryError {}

fn bad(what: impl Into<String>) -> PurgatoryError {
    PurgatoryError(what.into())
}

/// A purgatory image, linked at 0, ready to be placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purgatory {
    /// The loadable bytes from address 0 to the end of the last file-backed byte.
    bytes: Vec<u8>,
    /// The bytes in memory, zero-initialised data (the stack) included.
    mem_size: u64,
    /// The entry's offset.
    entry: u64,
    /// Where [`Params`] sits.
    params: usize,
    /// Each `R_X86_64_RELATIVE` relocation: where, and the addend.
    relative: Vec<(usize, u64)>,
}

impl Purgatory {
    /// The purgatory this crate was built with.
    ///
    /// # Errors
    /// Only if the committed file is not a purgatory (a test checks that it is).
    pub fn embedded() -> Result<Purgatory, PurgatoryError> {
        Purgatory::parse(ELF)
    }

    /// Reads a purgatory from its ELF file: an x86-64 executable whose loadable
    /// segments start at 0, with the symbol `purgatory_params`.
    ///
    /// # Errors
    /// A file that is not such an ELF file, or whose relocations are not all relative.
    pub fn parse(data: &[u8]) -> Result<Purgatory, PurgatoryError> {
        // The ELF reader wants its headers aligned; an embedded file is not.
        let mut aligned = vec![0u64; data.len().div_ceil(8)];
        aligned.as_mut_bytes()[..data.len()].copy_from_slice(data);
        Purgatory::parse_aligned(&aligned.as_bytes()[..data.len()])
    }

    fn parse_aligned(data: &[u8]) -> Result<Purgatory, PurgatoryError> {
        let file = ElfFile64::<LittleEndian>::parse(data).map_err(|e| bad(e.to_string()))?;
        let endian = file.endian();
        let header = file.elf_header();
        if header.e_machine(endian) != elf::EM_X86_64 {
            return Err(bad("not an x86-64 ELF file"));
        }
        let mut mem_size = 0u64;
        let mut file_size = 0u64;
        let mut loads = Vec::new();
        for ph in header
            .program_headers(endian, data)
            .map_err(|e| bad(e.to_string()))?
        {
            if ph.p_type(endian) != elf::PT_LOAD {
                continue;
            }
            let (vaddr, filesz, memsz) =
                (ph.p_vaddr(endian), ph.p_filesz(endian), ph.p_memsz(endian));
            let bytes = ph
                .data(endian, data)
                .map_err(|()| bad("a PT_LOAD lies outside the file"))?;
            let end = vaddr
                .checked_add(memsz)
                .filter(|&e| e <= 1 << 24)
                .ok_or_else(|| bad("a PT_LOAD ends past 16 MiB"))?;
            mem_size = mem_size.max(end);
            if filesz > 0 {
                file_size = file_size.max(vaddr + filesz);
            }
            loads.push((vaddr, bytes));
        }
        if loads.is_empty() {
            return Err(bad("no PT_LOAD"));
        }
        let mut bytes = vec![0u8; usize::try_from(file_size).map_err(|_| bad("too large"))?];
        for (vaddr, data) in loads.into_iter().filter(|(_, d)| !d.is_empty()) {
            let at = usize::try_from(vaddr).map_err(|_| bad("too large"))?;
            bytes[at..at + data.len()].copy_from_slice(data);
        }
        let params = file
            .symbols()
            .find(|s| s.name() == Ok(params::SYMBOL))
            .ok_or_else(|| bad(format!("no symbol {}", params::SYMBOL)))?;
        let params = usize::try_from(params.address()).map_err(|_| bad("too large"))?;
        if params + size_of::<Params>() > bytes.len() {
            return Err(bad(format!(
                "{} lies outside the loaded bytes",
                params::SYMBOL
            )));
        }
        let relative = relocations(&file, data)?;
        if relative.iter().any(|&(at, _)| at + 8 > bytes.len()) {
            return Err(bad("a relocation lies outside the loaded bytes"));
        }
        Ok(Purgatory {
            bytes,
            mem_size,
            entry: header.e_entry(endian),
            params,
            relative,
        })
    }

    /// The bytes in memory (the segment's `dest_size` before page rounding).
    pub fn mem_size(&self) -> u64 {
        self.mem_size
    }

    /// The size of the loaded bytes (the segment's `buf_size`).
    pub fn file_size(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Where the parameter block sits in the placed bytes.
    pub fn params_offset(&self) -> usize {
        self.params
    }

    /// The entry address when placed at `base`.
    pub fn entry(&self, base: u64) -> u64 {
        base + self.entry
    }

    /// The purgatory's bytes placed at machine address `base`, with `params` patched in.
    pub fn place(&self, base: u64, params: &Params) -> Vec<u8> {
        let mut bytes = self.bytes.clone();
        for &(at, addend) in &self.relative {
            bytes[at..at + 8].copy_from_slice(&base.wrapping_add(addend).to_le_bytes());
        }
        bytes[self.params..self.params + size_of::<Params>()].copy_from_slice(params.as_bytes());
        bytes
    }
}

/// The `R_X86_64_RELATIVE` relocations of `file`, as (offset, addend).
fn relocations(
    file: &ElfFile64<'_, LittleEndian>,
    data: &[u8],
) -> Result<Vec<(usize, u64)>, PurgatoryError> {
    let endian = file.endian();
    let sections = file
        .elf_header()
        .sections(endian, data)
        .map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::new();
    for section in sections.iter() {
        let Some((relas, _)) = section.rela(endian, data).map_err(|e| bad(e.to_string()))? else {
            continue;
        };
        for rela in relas {
            if rela.r_type(endian, false) != elf::R_X86_64_RELATIVE {
                return Err(bad(format!(
                    "relocation type {} (only R_X86_64_RELATIVE can be applied)",
                    rela.r_type(endian, false)
                )));
            }
            let at = usize::try_from(rela.r_offset(endian)).map_err(|_| bad("too large"))?;
            out.push((at, rela.r_addend(endian).cast_unsigned()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_purgatory_parses_with_its_parameter_block() {
        let p = Purgatory::embedded().expect("the committed purgatory parses");
        assert_eq!(p.entry(0x1000), 0x1000, "the entry comes first (link.ld)");
        assert!(
            p.mem_size() > p.file_size(),
            "the stack is zero-initialised, after the bytes"
        );
        // The unpatched block has no magic, so the purgatory would halt.
        let block = &p.bytes[p.params..p.params + size_of::<Params>()];
        assert_eq!(block, Params::EMPTY.as_bytes());
    }

    #[test]
    fn placing_patches_the_block_and_relocates_every_pointer() {
        let p = Purgatory::embedded().expect("parses");
        let params = Params {
            magic: params::MAGIC,
            entry: 0x2000_0200,
            ..Params::EMPTY
        };
        let at0 = p.place(0, &params);
        let at = p.place(0x2bf5_3000, &params);
        assert_eq!(&at[p.params..p.params + 8], b"XKPURG01");
        assert_eq!(at.len(), at0.len());
        let differing: Vec<usize> = (0..at.len())
            .step_by(8)
            .filter(|&i| at[i..].iter().zip(&at0[i..]).take(8).any(|(a, b)| a != b))
            .collect();
        let relocated: Vec<usize> = p.relative.iter().map(|&(o, _)| o).collect();
        for &(o, addend) in &p.relative {
            assert_eq!(
                u64::from_le_bytes(at[o..o + 8].try_into().expect("8")),
                0x2bf5_3000 + addend
            );
        }
        assert!(
            differing.iter().all(|i| relocated.contains(i)),
            "only relocated words move: {differing:?} vs {relocated:?}"
        );
    }

    #[test]
    fn a_file_that_is_not_a_purgatory_is_refused_by_name() {
        let e = Purgatory::parse(b"\x7fELF nonsense").expect_err("refused");
        assert!(e.to_string().starts_with("the purgatory image: "), "{e}");
        let mut no_symbol = ELF.to_vec();
        let at = no_symbol
            .windows(params::SYMBOL.len())
            .position(|w| w == params::SYMBOL.as_bytes())
            .expect("the symbol name is in .strtab");
        no_symbol[at] = b'X';
        let e = Purgatory::parse(&no_symbol).expect_err("refused");
        assert_eq!(
            e.to_string(),
            "the purgatory image: no symbol purgatory_params"
        );
    }
}
