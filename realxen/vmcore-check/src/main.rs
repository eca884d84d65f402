// SPDX-License-Identifier: MIT
//! `vmcore-check`: the crash kernel's half of the real-Xen kdump scenario. Built
//! statically, it runs as the crash kernel's init's first job, reads `/proc/vmcore` and
//! reports on the console, one `@@VMCORE` line a fact, for the harness to judge:
//!
//! - `ehdr TYPE MACHINE PHNUM SIZE`: the ELF header and the dump's size;
//! - `note NAME TYPE DESCSZ`: each note of the (merged) `PT_NOTE`s;
//! - `load PADDR SIZE`: each `PT_LOAD`;
//! - `marker TEXT PADDR`: the first dom0 marker (`XKDUMP-` and a UUID) found in memory;
//! - `done SECONDS` or `error WHAT`.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::time::Instant;

use object::elf::{FileHeader64, PT_LOAD, PT_NOTE};
use object::read::elf::{FileHeader, ProgramHeader};
use object::LittleEndian;

/// Where the crash kernel serves the dump.
const VMCORE: &str = "/proc/vmcore";
/// The marker's prefix; a UUID of 36 characters follows.
const MARKER: &[u8] = b"XKDUMP-";
/// The marker's length.
const MARKER_LEN: usize = 7 + 36;
/// How much memory is read at a time.
const CHUNK: usize = 8 << 20;

fn say(what: &str) {
    println!("@@VMCORE {what}");
}

/// Whether `b` is a marker: the prefix and a UUID's characters.
fn is_marker(b: &[u8]) -> bool {
    b.len() >= MARKER_LEN
        && b.starts_with(MARKER)
        && b[MARKER.len()..MARKER_LEN]
            .iter()
            .all(|c| c.is_ascii_hexdigit() || *c == b'-')
}

/// The first marker in `[offset, offset + size)` of the dump, with its physical address.
fn find_marker(
    file: &File,
    offset: u64,
    paddr: u64,
    size: u64,
) -> std::io::Result<Option<(String, u64)>> {
    let finder = memchr::memmem::Finder::new(MARKER);
    let mut buf = vec![0u8; CHUNK + MARKER_LEN];
    let mut done = 0u64;
    while done < size {
        let want = usize::try_from((size - done).min((CHUNK + MARKER_LEN) as u64)).unwrap_or(CHUNK);
        file.read_exact_at(&mut buf[..want], offset + done)?;
        for at in finder.find_iter(&buf[..want]) {
            if is_marker(&buf[at..want]) {
                let text = String::from_utf8_lossy(&buf[at..at + MARKER_LEN]).into_owned();
                return Ok(Some((text, paddr + done + at as u64)));
            }
        }
        done += CHUNK as u64;
    }
    Ok(None)
}

fn check() -> Result<(), String> {
    let started = Instant::now();
    let mut file = File::open(VMCORE).map_err(|e| format!("{VMCORE}: {e}"))?;
    let size = file.metadata().map_or(0, |m| m.len());
    let mut head = vec![0u8; 64 * 1024];
    let n = file.read(&mut head).map_err(|e| format!("{VMCORE}: {e}"))?;
    head.truncate(n);
    let e = LittleEndian;
    let ehdr =
        FileHeader64::<LittleEndian>::parse(&*head).map_err(|e| format!("ELF header: {e}"))?;
    let phdrs = ehdr
        .program_headers(e, &*head)
        .map_err(|e| format!("program headers: {e}"))?;
    say(&format!(
        "ehdr {} {} {} {size}",
        ehdr.e_type(e),
        ehdr.e_machine(e),
        phdrs.len()
    ));
    let mut loads = Vec::new();
    for ph in phdrs {
        match ph.p_type(e) {
            PT_NOTE => {
                let mut notes = vec![0u8; usize::try_from(ph.p_filesz(e)).unwrap_or(0)];
                file.read_exact_at(&mut notes, ph.p_offset(e))
                    .map_err(|e| format!("notes: {e}"))?;
                let mut it = object::read::elf::NoteIterator::<FileHeader64<LittleEndian>>::new(
                    e, 4, &notes,
                )
                .map_err(|e| format!("notes: {e}"))?;
                while let Some(note) = it.next().map_err(|e| format!("a note: {e}"))? {
                    say(&format!(
                        "note {} {} {}",
                        String::from_utf8_lossy(note.name()),
                        note.n_type(e),
                        note.desc().len()
                    ));
                }
            }
            PT_LOAD => {
                say(&format!("load {:#x} {:#x}", ph.p_paddr(e), ph.p_memsz(e)));
                loads.push((ph.p_offset(e), ph.p_paddr(e), ph.p_filesz(e)));
            }
            _ => {}
        }
    }
    for (offset, paddr, filesz) in loads {
        if let Some((text, at)) = find_marker(&file, offset, paddr, filesz)
            .map_err(|e| format!("reading the dump: {e}"))?
        {
            say(&format!("marker {text} {at:#x}"));
            break;
        }
    }
    say(&format!("done {:.2}", started.elapsed().as_secs_f64()));
    Ok(())
}

fn main() {
    if let Err(e) = check() {
        say(&format!("error {e}"));
    }
}
