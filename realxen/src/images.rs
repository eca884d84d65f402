// SPDX-License-Identifier: MIT
//! The entry-mode test images: `images/mode.S`, assembled by gcc and linked by ld into an
//! `EM_386` and an `EM_X86_64` crash image with the same code bytes. Entered by Xen, the
//! code reports on COM1 the mode it runs in and ends the QEMU run (see the source).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use xen_kexec_abi::{ElfMachine, EntryMode};

use crate::elf;
use crate::machine::{Region, DEBUG_EXIT_PORT, DEBUG_EXIT_VALUE};

/// What an entered image prints before the mode's name (`@@RX entry mode=long64`).
pub const ENTRY_MARK: &str = "@@RX entry mode=";

/// The name an image prints for the mode it finds itself in (it tells only these two
/// apart; any other mode the ABI may name gets a name no image prints).
pub fn mode_name(mode: EntryMode) -> &'static str {
    match mode {
        EntryMode::Protected32 => "protected32",
        EntryMode::Long64 => "long64",
        _ => "(a mode the test image cannot report)",
    }
}

/// A linked test image.
#[derive(Debug, Clone)]
pub struct Image {
    /// Its ELF machine (the `arch` the load declares).
    pub machine: ElfMachine,
    /// The ELF file.
    pub path: PathBuf,
    /// Its file name, the same in dom0's `/images` and on the host.
    pub name: &'static str,
    /// The mode Xen must enter it in, from the ABI's rule for its `arch`.
    pub mode: EntryMode,
}

/// The two builds: (machine, gcc flag, ld emulation, file name).
const BUILDS: [(ElfMachine, &str, &str, &str); 2] = [
    (ElfMachine::EM_386, "-m32", "elf_i386", "mode32.elf"),
    (ElfMachine::EM_X86_64, "-m64", "elf_x86_64", "mode64.elf"),
];

/// Builds both images in `out`, linked at the start of `crash`, and checks them: each is
/// of the class its machine needs, has one `PT_LOAD` at the region's start with its entry
/// there, and both carry the same bytes.
///
/// # Errors
/// A failed gcc or ld run (with its output), or an image that fails a check.
pub fn build(out: &Path, crash: Region) -> Result<[Image; 2], String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("images");
    fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let quoted = |s: &str| format!("\"{s}\"");
    let mut images = Vec::new();
    let mut first_load: Option<(PathBuf, Vec<u8>)> = None;
    for (machine, gcc_flag, emulation, name) in BUILDS {
        let object = out.join(name).with_extension("o");
        let path = out.join(name);
        run(Command::new("gcc")
            .args([gcc_flag, "-c", "-o"])
            .arg(&object)
            .arg(format!("-DENTRY_MARK={}", quoted(ENTRY_MARK)))
            .arg(format!(
                "-DMODE_LONG={}",
                quoted(mode_name(EntryMode::Long64))
            ))
            .arg(format!(
                "-DMODE_PROTECTED={}",
                quoted(mode_name(EntryMode::Protected32))
            ))
            .arg(format!("-DDEBUG_EXIT_PORT={DEBUG_EXIT_PORT:#x}"))
            .arg(format!("-DDEBUG_EXIT_VALUE={DEBUG_EXIT_VALUE:#x}"))
            .arg(src.join("mode.S")))?;
        run(Command::new("ld")
            .args([
                "-m",
                emulation,
                "--build-id=none",
                "-nostdlib",
                "-static",
                "-T",
            ])
            .arg(src.join("mode.ld"))
            .arg(format!("--defsym=CRASH_BASE={:#x}", crash.start))
            .arg("-o")
            .arg(&path)
            .arg(&object))?;
        let load = check(&path, machine, crash)?;
        match &first_load {
            None => first_load = Some((path.clone(), load)),
            Some((first, bytes)) if *bytes != load => {
                return Err(format!(
                    "{} and {} do not carry the same code bytes",
                    first.display(),
                    path.display()
                ))
            }
            Some(_) => {}
        }
        let mode = EntryMode::for_arch(machine).map_err(|e| format!("{}: {e}", path.display()))?;
        images.push(Image {
            machine,
            path,
            name,
            mode,
        });
    }
    images
        .try_into()
        .map_err(|_| "two builds give two images".to_owned())
}

/// Checks one image and returns its loaded bytes.
fn check(path: &Path, machine: ElfMachine, crash: Region) -> Result<Vec<u8>, String> {
    let what = path.display().to_string();
    let bytes = fs::read(path).map_err(|e| format!("{what}: {e}"))?;
    let elf = elf::summarize(&what, &bytes)?;
    let want_class64 = machine == ElfMachine::EM_X86_64;
    if elf.machine != machine.0 || elf.class64 != want_class64 {
        return Err(format!(
            "{what}: e_machine {} ELFCLASS{}, want {machine:?} ELFCLASS{}",
            elf.machine,
            if elf.class64 { 64 } else { 32 },
            if want_class64 { 64 } else { 32 }
        ));
    }
    let [load] = elf.loads.as_slice() else {
        return Err(format!(
            "{what}: {} PT_LOAD segments, want 1",
            elf.loads.len()
        ));
    };
    if load.paddr != crash.start || elf.entry != crash.start || load.memsz > crash.size {
        return Err(format!(
            "{what}: loads at {:#x} ({:#x} bytes), entry {:#x}; want both at the crash region's start {:#x}",
            load.paddr, load.memsz, elf.entry, crash.start
        ));
    }
    Ok(load.data.clone())
}

/// Runs a build tool; its output becomes the error when it fails.
pub(crate) fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| format!("{shown}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{shown}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::MACHINE;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("realxen-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn both_images_carry_the_same_bytes_at_the_crash_region() {
        let out = scratch("images-ok");
        let [i386, x86_64] = build(&out, MACHINE.crash).unwrap();
        assert_eq!(
            (i386.machine, x86_64.machine),
            (ElfMachine::EM_386, ElfMachine::EM_X86_64)
        );
        assert_eq!(i386.mode, EntryMode::Protected32);
        assert_eq!(x86_64.mode, EntryMode::Long64);
        let data = |i: &Image| {
            let bytes = fs::read(&i.path).unwrap();
            elf::summarize("", &bytes).unwrap().loads[0].data.clone()
        };
        let code = data(&i386);
        assert_eq!(code, data(&x86_64));
        // The mode test hangs on one byte: `48` then `90`, `dec %eax` or a REX.W nop.
        assert!(code.windows(2).any(|w| w == [0x48, 0x90]));
        // The messages the harness looks for are in the code, built from its constants.
        for mode in [EntryMode::Protected32, EntryMode::Long64] {
            let msg = format!("{ENTRY_MARK}{}\n", mode_name(mode));
            assert!(
                code.windows(msg.len()).any(|w| w == msg.as_bytes()),
                "{msg:?} missing"
            );
        }
    }

    #[test]
    fn an_image_outside_the_crash_region_is_caught() {
        let out = scratch("images-elsewhere");
        build(&out, MACHINE.crash).unwrap();
        let elsewhere = Region {
            start: MACHINE.crash.start + MACHINE.crash.size,
            size: MACHINE.crash.size,
        };
        let err = check(&out.join("mode64.elf"), ElfMachine::EM_X86_64, elsewhere).unwrap_err();
        assert!(
            err.contains("mode64.elf") && err.contains("crash region"),
            "{err}"
        );
        let err = check(
            &out.join("mode32.elf"),
            ElfMachine::EM_X86_64,
            MACHINE.crash,
        )
        .unwrap_err();
        assert!(err.contains("want EM_X86_64 ELFCLASS64"), "{err}");
    }
}
