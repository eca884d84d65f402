// SPDX-License-Identifier: MIT
//! `include/public/kexec.h`, rendered from the layout model and the abi crate's items.
//!
//! Every fact in it has one source: structures, members, C types and their order come
//! from the layout model ([`xen_kexec_abi::layout`]); names and values of the constants
//! from the crate's open enums and constants; every comment on a declaration from the
//! doc comment of the Rust item it renders ([`crate::abi_docs`]). This module adds only
//! Xen's framing (SPDX line, banner and licence, include guard, `#include "xen.h"`, the
//! Emacs block) and the outline: which constants stand next to which structure, and
//! which commands are gone.

use xen_kexec_abi::consts::KEXEC_SEGMENT_MAX;
use xen_kexec_abi::layout::{StructDef, EXEC, LOAD, RANGE};
use xen_kexec_abi::{KexecCmd, KexecRangeKind, KexecType, OpenEnum};

use crate::abi_docs::{self, AbiDocs};
use crate::cdecl;
use crate::comment;
use crate::error::Error;
use crate::repo;

/// The header's path, relative to the repository root.
pub(crate) const PATH: &str = "include/public/kexec.h";

/// The include guard Xen gives its `kexec.h`.
const GUARD: &str = "_XEN_PUBLIC_KEXEC_H";

/// A constant the header defines, with its value from the abi crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HeaderConst {
    /// The C name (`KEXEC_CMD_kexec_load`).
    pub(crate) name: &'static str,
    /// Its value.
    pub(crate) value: i64,
}

/// The commands Xen 4.23 removed: the header says they existed and does not define
/// them, so that `#ifdef KEXEC_CMD_kexec_load_v1` is false, as with Xen's own header.
pub(crate) const REMOVED_COMMANDS: [KexecCmd; 2] = [KexecCmd::LOAD_V1, KexecCmd::UNLOAD_V1];

/// Every value of the open enum `T`, as header constants.
fn known<T>() -> Vec<HeaderConst>
where
    T: OpenEnum + Into<T::Repr>,
    T::Repr: Into<i64>,
{
    T::KNOWN
        .iter()
        .map(|&(name, value)| HeaderConst {
            name,
            value: value.into().into(),
        })
        .collect()
}

/// The commands the header defines: every `KEXEC_CMD_*` but the removed ones.
fn commands() -> Vec<HeaderConst> {
    known::<KexecCmd>()
        .into_iter()
        .filter(|c| !REMOVED_COMMANDS.iter().any(|r| r.c_name() == Some(c.name)))
        .collect()
}

/// The constants defined right before the structure `def` (the values its members
/// take).
fn constants_before(def: &StructDef) -> Vec<HeaderConst> {
    if def.c_name == EXEC.c_name {
        known::<KexecType>()
    } else if def.c_name == RANGE.c_name {
        known::<KexecRangeKind>()
    } else if def.c_name == LOAD.c_name {
        vec![HeaderConst {
            name: "KEXEC_SEGMENT_MAX",
            value: KEXEC_SEGMENT_MAX.into(),
        }]
    } else {
        Vec::new()
    }
}

/// Every constant the header defines, in its order: what the C checks assert.
pub(crate) fn constants(model: &[&'static StructDef]) -> Vec<HeaderConst> {
    let mut all = commands();
    for def in model {
        all.extend(constants_before(def));
    }
    all
}

/// The header: `model`'s structures and the constants, commented from `docs`.
pub(crate) fn render(model: &[&'static StructDef], docs: &AbiDocs) -> Result<String, Error> {
    let mut out: Vec<String> = banner();
    out.push(String::new());
    out.push(format!("#ifndef {GUARD}"));
    out.push(format!("#define {GUARD}"));
    out.push(String::new());
    out.push("#include \"xen.h\"".to_owned());
    out.push(String::new());
    out.extend(comment::lines(&docs.constant("__HYPERVISOR_kexec_op")?, ""));

    let width = name_width(&commands());
    for &(name, cmd) in KexecCmd::KNOWN {
        out.push(String::new());
        if REMOVED_COMMANDS.contains(&cmd) {
            let text = format!(
                "Command {} was {name}, and is not defined. {}",
                cmd.0,
                docs.constant(name)?
            );
            out.extend(comment::lines(&text, ""));
        } else {
            out.extend(comment::lines(&docs.constant(name)?, ""));
            out.push(define(
                HeaderConst {
                    name,
                    value: cmd.0.into(),
                },
                width,
            ));
        }
    }

    for def in model {
        let consts = constants_before(def);
        if !consts.is_empty() {
            let width = name_width(&consts);
            for c in consts {
                out.push(String::new());
                out.extend(comment::lines(&docs.constant(c.name)?, ""));
                out.push(define(c, width));
            }
        }
        out.push(String::new());
        out.extend(structure(def, docs)?);
    }

    out.push(String::new());
    out.push(format!("#endif /* {GUARD} */"));
    out.extend(FOOTER.iter().map(|l| (*l).to_owned()));
    let mut text = out.join("\n");
    text.push('\n');
    Ok(text)
}

fn name_width(consts: &[HeaderConst]) -> usize {
    consts.iter().map(|c| c.name.len()).max().unwrap_or(0)
}

/// `#define NAME value`, the values of a group in one column, as Xen aligns them.
fn define(c: HeaderConst, width: usize) -> String {
    format!("#define {:<width$} {}", c.name, c.value)
}

/// The typedef of `def`, each member commented, then its guest handle if Xen has one.
fn structure(def: &StructDef, docs: &AbiDocs) -> Result<Vec<String>, Error> {
    let typedef = cdecl::typedef_name(def);
    let mut out = comment::lines(&docs.structure(def.rust_name)?, "");
    out.push(format!("typedef struct {} {{", def.c_name));
    for &(name, ctype) in def.fields {
        out.extend(comment::lines(&docs.field(def.rust_name, name)?, "    "));
        out.push(cdecl::member(ctype, name, "    "));
    }
    out.push(format!("}} {typedef};"));
    if def.guest_handle {
        out.push(format!("DEFINE_XEN_GUEST_HANDLE({typedef});"));
    }
    Ok(out)
}

/// The banner and licence, line by line.
fn banner() -> Vec<String> {
    let text = [
        "/* SPDX-License-Identifier: MIT */",
        "/* generated by cargo run -p headgen -- generate, do not edit */",
        "/******************************************************************************",
        " * kexec.h",
        " *",
        " * Xen's kexec interface: load, unload, query and enter the images that a",
        " * reboot or a crash hands the machine to. A drop-in for Xen 4.23's",
        " * xen/include/public/kexec.h.",
        " *",
        " * Generated by \"{command}\" from the xen-kexec-abi",
        " * crate: structures from its layout model ({model}), constants",
        " * from its open enums, comments from the doc comments of {consts} and",
        " * {structs}. Do not edit: change the crate and regenerate.",
        " *",
        " * This header defines no hypercall number (__HYPERVISOR_kexec_op is xen.h's),",
        " * no ELF machine number (EM_386 and EM_X86_64, for the arch member, are",
        " * <elf.h>'s) and no errno value (the errors are those of Xen's errno.h), so",
        " * that it cannot clash with the headers that do.",
        " *",
        " * Copyright (c) the xen-kexec-abi contributors.",
        " *",
        " * Permission is hereby granted, free of charge, to any person obtaining a copy",
        " * of this software and associated documentation files (the \"Software\"), to",
        " * deal in the Software without restriction, including without limitation the",
        " * rights to use, copy, modify, merge, publish, distribute, sublicense, and/or",
        " * sell copies of the Software, and to permit persons to whom the Software is",
        " * furnished to do so, subject to the following conditions:",
        " *",
        " * The above copyright notice and this permission notice shall be included in",
        " * all copies or substantial portions of the Software.",
        " *",
        " * THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR",
        " * IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,",
        " * FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE",
        " * AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER",
        " * LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING",
        " * FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER",
        " * DEALINGS IN THE SOFTWARE.",
        " */",
    ];
    text.iter()
        .map(|l| {
            l.replace("{command}", repo::GENERATE_COMMAND)
                .replace("{model}", repo::MARKER)
                .replace("{consts}", abi_docs::CONSTS)
                .replace("{structs}", abi_docs::STRUCTS)
        })
        .collect()
}

/// The Emacs local-variables block that ends Xen's headers.
const FOOTER: &[&str] = &[
    "",
    "/*",
    " * Local variables:",
    " * mode: C",
    " * c-file-style: \"BSD\"",
    " * c-basic-offset: 4",
    " * tab-width: 4",
    " * indent-tabs-mode: nil",
    " * End:",
    " */",
];

#[cfg(test)]
mod tests {
    use super::*;
    use xen_kexec_abi::layout::{self, CType};

    fn generated() -> String {
        let docs = AbiDocs::read(&repo::for_tests()).expect("the docs read");
        render(&layout::ALL, &docs).expect("the header renders")
    }

    /// The header's comments as one line of prose: what a C reader reads.
    fn prose(h: &str) -> String {
        h.lines()
            .filter_map(|l| {
                let l = l.trim();
                l.strip_prefix("/*")
                    .or_else(|| l.strip_prefix('*'))
                    .map(|l| l.trim_end_matches("*/").trim())
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn the_header_has_xens_framing() {
        let h = generated();
        assert!(h.starts_with("/* SPDX-License-Identifier: MIT */\n"), "{h}");
        assert!(h.contains(repo::GENERATE_COMMAND));
        assert!(h.contains("Permission is hereby granted, free of charge"));
        assert!(h.contains("#ifndef _XEN_PUBLIC_KEXEC_H\n#define _XEN_PUBLIC_KEXEC_H\n"));
        assert!(h.contains("\n#include \"xen.h\"\n"));
        assert!(h.contains("\n#endif /* _XEN_PUBLIC_KEXEC_H */\n"));
        assert!(
            h.ends_with(" * indent-tabs-mode: nil\n * End:\n */\n"),
            "{h}"
        );
        assert!(!h.contains("//"), "C89 has no line comments");
    }

    #[test]
    fn every_model_structure_is_declared_with_xens_names_handles_and_types() {
        let h = generated();
        for def in layout::ALL {
            let typedef = cdecl::typedef_name(def);
            assert!(
                h.contains(&format!("typedef struct {} {{\n", def.c_name)),
                "{typedef}"
            );
            assert!(h.contains(&format!("}} {typedef};\n")), "{typedef}");
            assert_eq!(
                h.contains(&format!("DEFINE_XEN_GUEST_HANDLE({typedef});")),
                def.guest_handle,
                "{typedef}"
            );
            for &(name, ctype) in def.fields {
                let decl = match ctype {
                    CType::Handle(pointee) => format!("XEN_GUEST_HANDLE({pointee}) h;"),
                    other => format!("{} {name};", cdecl::spelling(other)),
                };
                assert!(h.contains(&decl), "{typedef}.{name}: {decl}");
            }
        }
        assert!(
            !h.contains("type_") && !h.contains("Kexec"),
            "no Rust name leaks"
        );
        assert!(
            h.contains("    int range;\n") && !h.contains(" int32_t "),
            "Xen's C types"
        );
        assert!(
            h.contains("    unsigned long size;\n"),
            "the guest's word, not uint64_t"
        );
    }

    #[test]
    fn the_64_bit_members_are_spelled_uint64_t_for_xens_compat_generator() {
        let h = generated();
        for member in ["buf_size", "dest_maddr", "dest_size", "entry_maddr"] {
            assert!(h.contains(&format!("    uint64_t {member};\n")), "{member}");
        }
        assert_eq!(
            h.matches("        uint64_t _pad;\n").count(),
            2,
            "both handle unions"
        );
    }

    #[test]
    fn every_constant_is_defined_once_with_the_crates_value() {
        let h = generated();
        let constants = constants(&layout::ALL);
        for c in &constants {
            let defines: Vec<&str> = h
                .lines()
                .filter(|l| l.split_whitespace().nth(1) == Some(c.name))
                .collect();
            assert_eq!(defines.len(), 1, "{}: {defines:?}", c.name);
            assert_eq!(
                defines[0].split_whitespace().collect::<Vec<_>>(),
                ["#define", c.name, &c.value.to_string()]
            );
        }
        let defines = h.lines().filter(|l| l.starts_with("#define ")).count();
        assert_eq!(
            defines,
            constants.len() + 1,
            "the constants and the include guard"
        );
        assert!(!h.contains("#define EM_") && !h.contains("#define XEN_E"));
        assert!(!h.contains("#define __HYPERVISOR_"), "xen.h defines it");
    }

    #[test]
    fn every_command_is_defined_or_said_to_be_gone() {
        let h = generated();
        for &(name, cmd) in KexecCmd::KNOWN {
            let defined = h.contains(&format!("#define {name} "));
            assert_eq!(defined, !REMOVED_COMMANDS.contains(&cmd), "{name}");
            if !defined {
                assert!(
                    h.contains(&format!(
                        "Command {} was {name}, and is not defined.",
                        cmd.0
                    )),
                    "{name}"
                );
            }
        }
        assert!(REMOVED_COMMANDS.iter().all(|c| c.c_name().is_some()));
    }

    #[test]
    fn constants_stand_next_to_the_structure_that_holds_them() {
        let h = generated();
        let at = |s: &str| h.find(s).unwrap_or_else(|| panic!("{s} missing"));
        assert!(at("#define KEXEC_TYPE_CRASH") < at("typedef struct xen_kexec_exec "));
        assert!(at("typedef struct xen_kexec_exec ") < at("#define KEXEC_RANGE_MA_CRASH"));
        assert!(at("#define KEXEC_RANGE_MA_VMCOREINFO") < at("typedef struct xen_kexec_range "));
        assert!(at("typedef struct xen_kexec_segment ") < at("#define KEXEC_SEGMENT_MAX"));
        assert!(at("#define KEXEC_SEGMENT_MAX") < at("typedef struct xen_kexec_load "));
    }

    #[test]
    fn the_header_states_the_hypercalls_contract() {
        let p = prose(&generated());
        for point in [
            // The prototype and the results.
            "long kexec_op(unsigned int cmd, void *arg)",
            "negated Xen errno value on failure",
            // The machine state when an image is entered.
            "it runs on one CPU, and every other CPU is stopped",
            "interrupts are disabled",
            "the contents of the registers are undefined",
            "each segment's destination is mapped 1:1",
            "where the page tables themselves lie is unspecified",
            // Where the segments of each type may lie.
            "Its segments' destinations may be anywhere in machine memory",
            "Each of its segments that has a source buffer, and its entry address, must lie \
             inside the crash region",
            // What a load does to each destination.
            "the tail of the destination past buf_size is zeroed",
            "A segment whose buf is null is neither copied nor zeroed: its destination is \
             only mapped",
            // get_range, kind by kind.
            "The crash region reserved at boot for the crash image: its start and size, both \
             0 when none is reserved",
            "The machine memory holding Xen's own image",
            "nr being its CPU number",
            "The vmcoreinfo note",
            // status.
            "returns 1 if one is, 0 if none is, and a negative errno value on error",
            // KEXEC_SEGMENT_MAX: Xen and this decoder.
            "Xen refuses a load of exactly 16",
            "the xen-kexec-abi decoder accepts 16",
        ] {
            assert!(p.contains(point), "missing: {point}\n{p}");
        }
    }

    #[test]
    fn every_line_fits_in_80_columns_and_comments_carry_no_markdown() {
        let h = generated();
        let long: Vec<&str> = h.lines().filter(|l| l.chars().count() > 80).collect();
        assert!(long.is_empty(), "lines wider than 80 columns: {long:#?}");
        assert!(!h.contains('\t'), "no tabs, so characters are columns");
        let declarations = &h[h.find("#ifndef").expect("the include guard")..];
        assert!(!declarations.contains('`'), "no code span: {declarations}");
        assert!(
            !declarations.contains("](") && !declarations.contains("::"),
            "no doc link"
        );
        assert!(!declarations.contains("Rust"), "{declarations}");
    }

    #[test]
    fn generation_is_deterministic() {
        assert_eq!(generated(), generated());
    }
}
