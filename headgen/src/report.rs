// SPDX-License-Identifier: MIT
//! `headgen layout`: pahole-style reports of the layout model.
//!
//! Every number comes from [`xen_kexec_abi::layout`]: each structure's size and
//! alignment, each field's offset and size, the holes between fields and the padding at
//! the end, on each arch; and, when both x86 widths are shown, where the 32-bit and
//! 64-bit layouts differ, side by side. The markdown form is committed as
//! `docs/layout.md`, and one table per structure as `abi/doc/<name>.md` for rustdoc.

use std::fmt::Write as _;

use xen_kexec_abi::layout::{Arch, CompatClass, Field, StructDef};

use crate::cdecl::{spelling, typedef_name};
use crate::repo;

/// A gap of `bytes` before field `before` (or at the end, for `None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gap {
    /// The field the gap precedes; `None` for the trailing padding.
    pub(crate) before: Option<&'static str>,
    /// Its size in bytes.
    pub(crate) bytes: usize,
}

/// The holes and the trailing padding of `def` on `arch`, in order.
pub(crate) fn gaps(def: &'static StructDef, arch: Arch) -> Vec<Gap> {
    let mut gaps = Vec::new();
    let mut end = 0;
    for field in def.iter() {
        let offset = field.offset(arch);
        if offset > end {
            gaps.push(Gap {
                before: Some(field.name),
                bytes: offset - end,
            });
        }
        end = offset + field.size(arch);
    }
    if def.size(arch) > end {
        gaps.push(Gap {
            before: None,
            bytes: def.size(arch) - end,
        });
    }
    gaps
}

fn compat_name(class: CompatClass) -> &'static str {
    match class {
        CompatClass::Checked => "checked",
        CompatClass::Translated => "translated",
    }
}

fn both_x86(arches: &[Arch]) -> bool {
    arches.contains(&Arch::X86_32) && arches.contains(&Arch::X86_64)
}

/// What differs between the x86_32 and x86_64 layouts of `def`, in words
/// (`identical`, or a list such as `alignment 4 vs 8`).
pub(crate) fn x86_differences(def: &'static StructDef) -> String {
    let (a, b) = (Arch::X86_32, Arch::X86_64);
    let mut diffs = Vec::new();
    if def.size(a) != def.size(b) {
        diffs.push(format!("size {} vs {}", def.size(a), def.size(b)));
    }
    if def.align(a) != def.align(b) {
        diffs.push(format!("alignment {} vs {}", def.align(a), def.align(b)));
    }
    for f in def.iter() {
        let mut parts = Vec::new();
        if f.offset(a) != f.offset(b) {
            parts.push(format!("at {} vs {}", f.offset(a), f.offset(b)));
        }
        if f.size(a) != f.size(b) {
            parts.push(format!("{} vs {} bytes", f.size(a), f.size(b)));
        }
        if !parts.is_empty() {
            diffs.push(format!("`{}` {}", f.name, parts.join(", ")));
        }
    }
    if diffs.is_empty() {
        "identical".to_owned()
    } else {
        diffs.join("; ")
    }
}

/// The text report: a pahole-style block per structure and arch, then, when both x86
/// widths are shown, their layouts side by side.
pub(crate) fn text(model: &[&'static StructDef], arches: &[Arch]) -> String {
    let mut out =
        String::from("/* Offsets and sizes in bytes: \"offset size\" after each member. */\n\n");
    for def in model {
        for arch in arches {
            pahole_block(&mut out, def, *arch);
        }
        if both_x86(arches) {
            side_by_side(&mut out, def);
        }
    }
    out
}

fn pahole_block(out: &mut String, def: &'static StructDef, arch: Arch) {
    let width = def
        .iter()
        .map(|f| spelling(f.ctype).len() + 1 + f.name.len())
        .max()
        .unwrap_or(0);
    let _ = writeln!(out, "struct {} {{ /* {} */", def.c_name, arch.name());
    let gaps = gaps(def, arch);
    for field in def.iter() {
        if let Some(gap) = gaps.iter().find(|g| g.before == Some(field.name)) {
            let _ = writeln!(out, "    /* XXX {} bytes hole */", gap.bytes);
        }
        let decl = format!("{} {};", spelling(field.ctype), field.name);
        let _ = writeln!(
            out,
            "    {decl:<w$} /* {:>4} {:>4} */",
            field.offset(arch),
            field.size(arch),
            w = width + 1
        );
    }
    let holes: Vec<_> = gaps.iter().filter(|g| g.before.is_some()).collect();
    let padding = gaps
        .iter()
        .find(|g| g.before.is_none())
        .map_or(0, |g| g.bytes);
    let _ = writeln!(
        out,
        "\n    /* size: {}, align: {}, members: {}, holes: {}, sum holes: {}, padding: {} */\n}};\n",
        def.size(arch),
        def.align(arch),
        def.len(),
        holes.len(),
        holes.iter().map(|g| g.bytes).sum::<usize>(),
        padding
    );
}

fn side_by_side(out: &mut String, def: &'static StructDef) {
    let (a, b) = (Arch::X86_32, Arch::X86_64);
    let width = def
        .iter()
        .map(|f| f.name.len())
        .max()
        .unwrap_or(0)
        .max("sizeof, alignof".len());
    let _ = writeln!(
        out,
        "{}: x86_32 vs x86_64 ({}): {}",
        typedef_name(def),
        compat_name(def.compat),
        x86_differences(def)
    );
    let _ = writeln!(
        out,
        "    {:<width$}   {:>13}   {:>13}",
        "", "x86_32", "x86_64"
    );
    let _ = writeln!(
        out,
        "    {:<width$}   {:>13}   {:>13}",
        "field", "offset  size", "offset  size"
    );
    let row = |out: &mut String, name: &str, x: (usize, usize), y: (usize, usize)| {
        let mark = if x == y { "" } else { "   <- differs" };
        let _ = writeln!(
            out,
            "    {name:<width$}   {:>6} {:>5}   {:>6} {:>5}{mark}",
            x.0, x.1, y.0, y.1
        );
    };
    for f in def.iter() {
        row(
            out,
            f.name,
            (f.offset(a), f.size(a)),
            (f.offset(b), f.size(b)),
        );
    }
    row(
        out,
        "sizeof, alignof",
        (def.size(a), def.align(a)),
        (def.size(b), def.align(b)),
    );
    out.push('\n');
}

/// `n`, in bold when `bold`.
fn num(n: usize, bold: bool) -> String {
    if bold {
        format!("**{n}**")
    } else {
        n.to_string()
    }
}

/// Whether `arch`'s number differs from the other x86 width's, when both are shown.
fn differs(arches: &[Arch], arch: Arch, of: impl Fn(Arch) -> usize) -> bool {
    both_x86(arches)
        && matches!(arch, Arch::X86_32 | Arch::X86_64)
        && of(Arch::X86_32) != of(Arch::X86_64)
}

/// The markdown table of one structure: a row per field (offset and size on each
/// arch), then its size and alignment, holes and padding.
pub(crate) fn struct_table(def: &'static StructDef, arches: &[Arch]) -> String {
    let mut out = String::from("| field | C type |");
    for arch in arches {
        let _ = write!(out, " {} |", arch.name());
    }
    out.push_str("\n|---|---|");
    for _ in arches {
        out.push_str("---|");
    }
    out.push('\n');
    let cell = |f: &Field, arch: Arch| {
        format!(
            "{} ({})",
            num(f.offset(arch), differs(arches, arch, |a| f.offset(a))),
            num(f.size(arch), differs(arches, arch, |a| f.size(a)))
        )
    };
    for f in def.iter() {
        let _ = write!(out, "| `{}` | `{}` |", f.name, spelling(f.ctype));
        for arch in arches {
            let _ = write!(out, " {} |", cell(&f, *arch));
        }
        out.push('\n');
    }
    out.push_str("| *size, alignment* | |");
    for arch in arches {
        let _ = write!(
            out,
            " {}, {} |",
            num(def.size(*arch), differs(arches, *arch, |a| def.size(a))),
            num(def.align(*arch), differs(arches, *arch, |a| def.align(a)))
        );
    }
    out.push_str("\n| *holes, padding* | |");
    for arch in arches {
        let gaps = gaps(def, *arch);
        let holes: usize = gaps
            .iter()
            .filter(|g| g.before.is_some())
            .map(|g| g.bytes)
            .sum();
        let padding: usize = gaps
            .iter()
            .filter(|g| g.before.is_none())
            .map(|g| g.bytes)
            .sum();
        let _ = write!(out, " {holes}, {padding} |");
    }
    out.push('\n');
    out
}

/// The banner of a generated markdown file (an HTML comment: invisible when rendered).
fn banner() -> String {
    format!(
        "<!-- Generated by `{}` from the layout model (abi/src/layout.rs). Do not edit. -->\n",
        repo::GENERATE_COMMAND
    )
}

const LEGEND: &str = "Each cell is *offset (size)* in bytes";

/// The markdown report (`docs/layout.md` with every arch).
pub(crate) fn markdown(model: &[&'static StructDef], arches: &[Arch]) -> String {
    let mut out = banner();
    out.push_str("\n# Layouts of the kexec structures\n\n");
    let names: Vec<_> = arches.iter().map(|a| a.name()).collect();
    let _ = writeln!(
        out,
        "Sizes, alignments and offsets in bytes on {}, computed from the layout model\n\
         (`abi/src/layout.rs`) and proven by C compilers (`cargo run -p headgen -- check`).",
        names.join(", ")
    );
    if both_x86(arches) {
        out.push_str("**Bold** marks a number that differs between x86_32 and x86_64.\n");
    }
    out.push_str("\n## At a glance\n\nSize, alignment of each structure.\n\n| structure |");
    for name in &names {
        let _ = write!(out, " {name} |");
    }
    out.push_str(" compat |");
    if both_x86(arches) {
        out.push_str(" x86_32 vs x86_64 |");
    }
    out.push_str("\n|---|");
    for _ in arches {
        out.push_str("---|");
    }
    out.push_str("---|");
    if both_x86(arches) {
        out.push_str("---|");
    }
    out.push('\n');
    for def in model {
        let _ = write!(out, "| `{}` |", typedef_name(def));
        for arch in arches {
            let _ = write!(
                out,
                " {}, {} |",
                num(def.size(*arch), differs(arches, *arch, |a| def.size(a))),
                num(def.align(*arch), differs(arches, *arch, |a| def.align(a)))
            );
        }
        let _ = write!(out, " {} |", compat_name(def.compat));
        if both_x86(arches) {
            let _ = write!(out, " {} |", x86_differences(def));
        }
        out.push('\n');
    }
    for def in model {
        let _ = write!(
            out,
            "\n## `{}`\n\n{LEGEND}.\n\n{}",
            typedef_name(def),
            struct_table(def, arches)
        );
    }
    out
}

/// The rustdoc section of one structure (`abi/doc/<c_name>.md`): its table on every
/// arch.
pub(crate) fn struct_doc(def: &'static StructDef) -> String {
    format!(
        "{}\n# Layout\n\n`{}` on each Xen arch, from the layout model ([`crate::layout`]). \
         {LEGEND}; **bold** marks where x86_32 and x86_64 differ. Xen's compat layer: \
         {} (x86_32 vs x86_64: {}).\n\n{}",
        banner(),
        typedef_name(def),
        compat_name(def.compat),
        x86_differences(def),
        struct_table(def, &Arch::ALL)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use xen_kexec_abi::layout::{self, CType, LOAD, RANGE, SEGMENT};

    /// A structure with a hole and trailing padding (the real ones have neither).
    static GAPPY: StructDef = StructDef {
        c_name: "gappy",
        rust_name: "Gappy",
        fields: &[("a", CType::U8), ("b", CType::U64), ("c", CType::U16)],
        guest_handle: false,
        compat: CompatClass::Checked,
    };

    #[test]
    fn holes_and_padding_follow_the_arch() {
        assert_eq!(
            gaps(&GAPPY, Arch::X86_64),
            [
                Gap {
                    before: Some("b"),
                    bytes: 7
                },
                Gap {
                    before: None,
                    bytes: 6
                }
            ]
        );
        assert_eq!(
            gaps(&GAPPY, Arch::X86_32),
            [
                Gap {
                    before: Some("b"),
                    bytes: 3
                },
                Gap {
                    before: None,
                    bytes: 2
                }
            ]
        );
        for def in layout::ALL {
            for arch in Arch::ALL {
                assert!(
                    gaps(def, arch).is_empty(),
                    "{} has no padding on {}",
                    def.c_name,
                    arch.name()
                );
            }
        }
    }

    #[test]
    fn the_text_report_shows_offsets_holes_and_padding() {
        let t = text(&[&GAPPY], &[Arch::X86_64]);
        assert!(t.contains("struct gappy { /* x86_64 */"), "{t}");
        assert!(
            t.contains("    /* XXX 7 bytes hole */\n    uint64_t b;"),
            "{t}"
        );
        assert!(t.contains("/*    8    8 */"), "{t}");
        assert!(
            t.contains("size: 24, align: 8, members: 3, holes: 1, sum holes: 7, padding: 6"),
            "{t}"
        );
        assert!(!t.contains("x86_32 vs x86_64"), "one arch: no comparison");
    }

    #[test]
    fn the_text_report_puts_the_x86_widths_side_by_side() {
        let t = text(&[&RANGE], &Arch::ALL);
        assert!(
            t.contains("xen_kexec_range_t: x86_32 vs x86_64 (translated)"),
            "{t}"
        );
        let start = t
            .lines()
            .find(|l| l.trim_start().starts_with("start "))
            .expect("a start row");
        assert!(
            start.contains("12     4       16     8   <- differs"),
            "{start}"
        );
        let nr = t
            .lines()
            .find(|l| l.trim_start().starts_with("nr "))
            .expect("an nr row");
        assert!(!nr.contains("differs"), "{nr}");
    }

    #[test]
    fn the_differences_are_named_in_words() {
        assert_eq!(x86_differences(&layout::EXEC), "identical");
        assert_eq!(x86_differences(&SEGMENT), "alignment 4 vs 8");
        assert_eq!(
            x86_differences(&RANGE),
            "size 16 vs 24; alignment 4 vs 8; `size` 4 vs 8 bytes; `start` at 12 vs 16, 4 vs 8 bytes"
        );
    }

    #[test]
    fn markdown_bolds_what_differs_between_the_x86_widths() {
        let md = markdown(&layout::ALL, &Arch::ALL);
        assert!(md.starts_with("<!-- Generated by `cargo run -p headgen -- generate`"));
        assert!(md.contains("| `xen_kexec_range_t` | **16**, **4** | **24**, **8** | 16, 4 | 24, 8 | translated |"), "{md}");
        assert!(
            md.contains(
                "| `start` | `unsigned long` | **12** (**4**) | **16** (**8**) | 12 (4) | 16 (8) |"
            ),
            "{md}"
        );
        assert!(md.contains("| `xen_kexec_load_t` | 24, **4** | 24, **8** | 24, 8 | 24, 8 | checked | alignment 4 vs 8 |"), "{md}");
        let one = markdown(&[&LOAD], &[Arch::Arm32]);
        assert!(!one.contains("**"), "no comparison, no bold: {one}");
    }

    #[test]
    fn the_struct_doc_is_a_table_for_every_arch() {
        let doc = struct_doc(&LOAD);
        assert!(doc.contains("# Layout"));
        assert!(doc.contains("| field | C type | x86_32 | x86_64 | arm32 | arm64 |"));
        assert!(doc.contains(
            "| `segments` | `union { XEN_GUEST_HANDLE(xen_kexec_segment_t) h; uint64_t _pad; }` | 8 (8) | 8 (8) | 8 (8) | 8 (8) |"
        ));
    }
}
