// SPDX-License-Identifier: MIT
//! What the harness needs to know about an ELF executable: its class, machine, entry,
//! loadable segments, and whether it asks for a dynamic loader.

use object::elf::{FileHeader32, FileHeader64, PT_INTERP, PT_LOAD};
use object::read::elf::{FileHeader, ProgramHeader};
use object::Endianness;

/// One `PT_LOAD` program header with its file bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Load {
    /// `p_paddr`.
    pub paddr: u64,
    /// `p_memsz`.
    pub memsz: u64,
    /// The `p_filesz` bytes from the file.
    pub data: Vec<u8>,
}

/// An ELF executable's summary.
#[derive(Debug, Clone)]
pub struct Summary {
    /// ELFCLASS64 (else ELFCLASS32).
    pub class64: bool,
    /// `e_machine`.
    pub machine: u16,
    /// `e_entry`.
    pub entry: u64,
    /// The `PT_LOAD` segments, in file order.
    pub loads: Vec<Load>,
    /// Whether a `PT_INTERP` names a dynamic loader (a static executable has none).
    pub interp: bool,
}

/// Reads the summary of the ELF file `bytes` (`what` names it in errors).
///
/// # Errors
/// A message naming `what` when the bytes are not a well-formed ELF executable.
pub fn summarize(what: &str, bytes: &[u8]) -> Result<Summary, String> {
    match bytes.get(4) {
        Some(1) => summarize_as::<FileHeader32<Endianness>>(what, bytes),
        Some(2) => summarize_as::<FileHeader64<Endianness>>(what, bytes),
        _ => Err(format!("{what}: not an ELF file (no ELF class)")),
    }
}

fn summarize_as<Elf: FileHeader<Endian = Endianness>>(
    what: &str,
    bytes: &[u8],
) -> Result<Summary, String> {
    let bad = |e: &dyn std::fmt::Display| format!("{what}: malformed ELF: {e}");
    let header = Elf::parse(bytes).map_err(|e| bad(&e))?;
    let endian = header.endian().map_err(|e| bad(&e))?;
    let phdrs = header.program_headers(endian, bytes).map_err(|e| bad(&e))?;
    let mut loads = Vec::new();
    let mut interp = false;
    for ph in phdrs {
        match ph.p_type(endian) {
            PT_LOAD => {
                let data = ph
                    .data(endian, bytes)
                    .map_err(|()| bad(&"a PT_LOAD's bytes lie outside the file"))?;
                loads.push(Load {
                    paddr: ph.p_paddr(endian).into(),
                    memsz: ph.p_memsz(endian).into(),
                    data: data.to_vec(),
                });
            }
            PT_INTERP => interp = true,
            _ => {}
        }
    }
    Ok(Summary {
        class64: header.is_class_64(),
        machine: header.e_machine(endian),
        entry: header.e_entry(endian).into(),
        loads,
        interp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_refused_with_its_name() {
        let err = summarize("junk.bin", b"not an elf at all").unwrap_err();
        assert!(err.starts_with("junk.bin: "), "{err}");
        let err = summarize("short.elf", b"\x7fELF\x02").unwrap_err();
        assert!(err.contains("short.elf: malformed ELF"), "{err}");
    }
}
