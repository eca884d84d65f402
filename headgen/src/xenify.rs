//! The one post-processing step: turns cbindgen's C into Xen's, checking it against the
//! layout model as it goes.
//!
//! cbindgen renders the declarations from the abi crate's source, but some of Xen's
//! conventions cannot be expressed to it. Each rewrite below exists for one of them:
//!
//! 1. **Comments.** cbindgen's comment styles are `/** ... */` (Doxygen), `/* ... */`
//!    without leading stars, or `//`; Xen writes `/*`, ` * ...`, ` */`. And a Rust doc
//!    comment goes on with examples and (through `#[doc = include_str!(...)]`, which
//!    cbindgen ignores anyway) layout tables that belong in rustdoc, not in a C header.
//!    So each doc comment becomes a Xen-style comment of its **first paragraph** only.
//!    That paragraph is Markdown wrapped for rustdoc, so two more steps make it C prose:
//!    its code spans lose their backticks (`` `type` `` → `type`; a C header has no
//!    Markdown, and Xen's own comments name identifiers bare), and it is re-wrapped
//!    ([`wrap`]) to fit [`MAX_COLUMNS`], prefix and indentation included, because Xen's
//!    public headers keep to 80 columns and rustfmt lets doc comments run to 100.
//! 2. **Typedef names.** cbindgen gives the tag and the typedef one name; Xen's typedef
//!    adds `_t` (`typedef struct xen_kexec_load { ... } xen_kexec_load_t;`).
//! 3. **Members.** Rust cannot name a field `type` (it spells it `type_`), an open enum is
//!    a Rust newtype that C sees as its integer, a guest handle is Xen's
//!    `union { XEN_GUEST_HANDLE(T) h; uint64_t _pad; }`, and `xen_kexec_range`'s
//!    `size`/`start` are the guest's `unsigned long` while the 64-bit Rust view has `u64`.
//!    So every member is written from the layout model (name and C type), after checking
//!    that what cbindgen read from the Rust field agrees with it.
//! 4. **Alignment.** The 64-bit Rust structures are `#[repr(align(8))]` so that any host
//!    lays them out as x86_64 does. In C that alignment follows from the `uint64_t` and
//!    `unsigned long` members, and an explicit attribute would force 8 on the 32-bit x86
//!    guests that include this same header (they align those members to 4). The
//!    attribute cbindgen writes for it is removed (after checking it against the model).
//! 5. **Guest handles.** Xen declares `DEFINE_XEN_GUEST_HANDLE(name_t);` right after each
//!    structure whose model entry has `guest_handle`; cbindgen has no way to emit a line
//!    after a structure.
//! 6. **Stand-ins.** The typedefs cbindgen writes for the prelude's stand-in types
//!    ([`crate::bindgen`]) are dropped: the members no longer use them.
//!
//! Anything else in cbindgen's output that is not framing, a constant or a model
//! structure is an error, so nothing outside the ABI can leak into the header, and the
//! constants must be exactly the expected ones with the expected values.

use xen_kexec_abi::layout::{self, Arch, CType, StructDef};

use crate::bindgen::{StandIns, ALIGN_MARKER};
use crate::cdecl;
use crate::error::Error;
use crate::header::HeaderConst;

/// What cbindgen's output is checked against.
pub(crate) struct Expected<'a> {
    /// The structures, in the order the header declares them.
    pub(crate) model: &'a [&'static StructDef],
    /// The stand-in types cbindgen was given.
    pub(crate) stand_ins: &'a StandIns,
    /// The constants the header defines, with their values.
    pub(crate) constants: &'a [HeaderConst],
}

/// Rewrites cbindgen's output `raw` into Xen's form (see the module documentation).
pub(crate) fn xenify(raw: &str, expected: &Expected<'_>) -> Result<String, Error> {
    let mut x = Xenifier {
        expected,
        lines: raw.lines().enumerate().map(|(i, l)| (i + 1, l)).collect(),
        pos: 0,
        out: Vec::new(),
    };
    x.run()?;
    Ok(collapse_blank_lines(&x.out))
}

struct Xenifier<'a, 'r> {
    expected: &'a Expected<'a>,
    lines: Vec<(usize, &'r str)>,
    pos: usize,
    out: Vec<String>,
}

fn err(line: usize, message: impl Into<String>) -> Error {
    Error::Xenify {
        line,
        message: message.into(),
    }
}

impl<'r> Xenifier<'_, 'r> {
    fn next(&mut self) -> Option<(usize, &'r str)> {
        let line = self.lines.get(self.pos).copied();
        self.pos += 1;
        line
    }

    fn run(&mut self) -> Result<(), Error> {
        let mut structs = 0;
        let mut defines: Vec<(usize, String, String)> = Vec::new();
        while let Some((n, line)) = self.next() {
            let trimmed = line.trim();
            if trimmed == "/**" {
                self.doc_comment(n, indent_of(line))?;
            } else if trimmed.starts_with("/*") {
                // Framing (licence, banner, Emacs footer): kept as it is.
                self.out.push(line.to_owned());
                let mut closed = trimmed.contains("*/");
                while !closed {
                    let Some((_, l)) = self.next() else {
                        return Err(err(n, "a comment is not closed"));
                    };
                    self.out.push(l.to_owned());
                    closed = l.contains("*/");
                }
            } else if trimmed.is_empty() {
                self.out.push(String::new());
            } else if let Some(define) = trimmed.strip_prefix("#define ") {
                let mut parts = define.split_whitespace();
                if let (Some(name), Some(value)) = (parts.next(), parts.next()) {
                    defines.push((n, name.to_owned(), value.to_owned()));
                }
                self.out.push(line.to_owned());
            } else if trimmed.starts_with('#') {
                self.out.push(line.to_owned());
            } else if let Some(head) = trimmed
                .strip_prefix("typedef struct ")
                .and_then(|rest| rest.strip_suffix(" {"))
            {
                let def = self.expected.model.get(structs).ok_or_else(|| {
                    err(
                        n,
                        format!("structure `{head}` is not one the layout model lists"),
                    )
                })?;
                self.structure(n, head, def)?;
                structs += 1;
            } else if let Some(decl) = trimmed.strip_prefix("typedef ") {
                // 6: a stand-in's typedef: `typedef uint8_t KexecType;` or
                // `typedef struct GuestHandle64_X GuestHandle64_X;`.
                let name = decl.trim_end_matches(';').rsplit(' ').next().unwrap_or("");
                let handle = format!("{}_", self.expected.stand_ins.handle);
                if self.expected.stand_ins.open_enum(name).is_none() && !name.starts_with(&handle) {
                    return Err(err(n, format!("unexpected declaration `{trimmed}`: only the layout model's structures belong in the header")));
                }
            } else {
                return Err(err(n, format!("unexpected line `{trimmed}`")));
            }
        }
        if structs != self.expected.model.len() {
            let missing: Vec<_> = self.expected.model[structs..]
                .iter()
                .map(|d| d.c_name)
                .collect();
            return Err(err(
                0,
                format!("cbindgen did not render {}", missing.join(", ")),
            ));
        }
        self.check_defines(&defines)
    }

    /// 1: a `/** ... */` doc comment becomes a Xen comment of its first paragraph,
    /// without backticks, wrapped to [`MAX_COLUMNS`].
    fn doc_comment(&mut self, start: usize, indent: &str) -> Result<(), Error> {
        let mut paragraph: Vec<&str> = Vec::new();
        let mut ended = false;
        loop {
            let Some((n, line)) = self.next() else {
                return Err(err(start, "a doc comment is not closed"));
            };
            let trimmed = line.trim();
            if trimmed == "*/" {
                break;
            }
            let text = trimmed
                .strip_prefix("* ")
                .or_else(|| trimmed.strip_prefix('*'))
                .unwrap_or(trimmed)
                .trim_end();
            // Checked with and without backticks: removing them must not make one either.
            let c_text = strip_code_spans(text);
            if [text, c_text.as_str()]
                .iter()
                .any(|t| t.contains("*/") || t.contains("/*"))
            {
                return Err(err(n, format!("a doc comment contains `/*` or `*/`, which cannot go in a C comment: `{text}`")));
            }
            if text.is_empty() {
                ended |= !paragraph.is_empty();
            } else if !ended {
                paragraph.push(text);
            }
        }
        if !paragraph.is_empty() {
            let prefix = format!("{indent} * ");
            let width = MAX_COLUMNS.saturating_sub(prefix.chars().count());
            self.out.push(format!("{indent}/*"));
            for text in wrap(&strip_code_spans(&paragraph.join("\n")), width) {
                self.out.push(if text.is_empty() {
                    format!("{indent} *")
                } else {
                    format!("{prefix}{text}")
                });
            }
            self.out.push(format!("{indent} */"));
        }
        Ok(())
    }

    /// 2-5: one structure, from `typedef struct ... {` (already read) to its end.
    fn structure(
        &mut self,
        start: usize,
        head: &str,
        def: &'static StructDef,
    ) -> Result<(), Error> {
        // 4: `HEADGEN_REPR_ALIGN(8) xen_kexec_load`.
        let name = match head
            .strip_prefix(ALIGN_MARKER)
            .and_then(|r| r.strip_prefix('('))
        {
            Some(rest) => {
                let (align, name) = rest
                    .split_once(") ")
                    .ok_or_else(|| err(start, format!("cannot read `{head}`")))?;
                let model_align = def.align(Arch::X86_64);
                if align.parse::<usize>().ok() != Some(model_align) {
                    return Err(err(start, format!(
                        "{}: the Rust structure is align({align}), the layout model says {model_align} on x86_64",
                        def.c_name
                    )));
                }
                name
            }
            None => head,
        };
        if name != def.c_name {
            return Err(err(
                start,
                format!(
                    "structure `{name}` where the layout model has `{}` next",
                    def.c_name
                ),
            ));
        }
        self.out.push(format!("typedef struct {} {{", def.c_name));
        let mut index = 0;
        loop {
            let Some((n, line)) = self.next() else {
                return Err(err(start, format!("structure `{name}` is not closed")));
            };
            let trimmed = line.trim();
            if trimmed == "/**" {
                self.doc_comment(n, indent_of(line))?;
            } else if let Some(close) = trimmed.strip_prefix("} ") {
                if close != format!("{name};") {
                    return Err(err(n, format!("structure `{name}` ends with `{trimmed}`")));
                }
                if index != def.len() {
                    return Err(err(
                        n,
                        format!(
                            "{} (Rust {}) has {index} fields; the layout model has {}",
                            def.c_name,
                            def.rust_name,
                            def.len()
                        ),
                    ));
                }
                let typedef = cdecl::typedef_name(def);
                self.out.push(format!("}} {typedef};"));
                if def.guest_handle {
                    self.out
                        .push(format!("DEFINE_XEN_GUEST_HANDLE({typedef});"));
                }
                return Ok(());
            } else {
                let member = self
                    .member(def, index, trimmed, indent_of(line))
                    .map_err(|message| err(n, message))?;
                self.out.push(member);
                index += 1;
            }
        }
    }

    /// 3: the member `index` of `def`, from cbindgen's `TYPE NAME;`.
    fn member(
        &self,
        def: &'static StructDef,
        index: usize,
        decl: &str,
        indent: &str,
    ) -> Result<String, String> {
        let (ty, rust_name) = decl
            .strip_suffix(';')
            .and_then(|d| d.rsplit_once(' '))
            .ok_or_else(|| format!("cannot read the member declaration `{decl}`"))?;
        if index >= def.len() {
            return Err(format!(
                "{} (Rust {}) has a field `{rust_name}` beyond the layout model's {} fields",
                def.c_name,
                def.rust_name,
                def.len()
            ));
        }
        let field = def.field_at(index);
        // Rust spells a field whose name is a keyword with a trailing underscore.
        if rust_name != field.name && rust_name.strip_suffix('_') != Some(field.name) {
            return Err(format!(
                "field {index} of {} is `{rust_name}` in the Rust source; the layout model calls it `{}`",
                def.rust_name, field.name
            ));
        }
        let ty = ty.strip_prefix("struct ").unwrap_or(ty);
        self.check_type(def, field.name, ty, field.ctype)?;
        Ok(cdecl::member(field.ctype, field.name, indent))
    }

    /// Whether the type cbindgen read from the Rust field (`ty`) is the model's `ctype`.
    fn check_type(
        &self,
        def: &StructDef,
        field: &str,
        ty: &str,
        ctype: CType,
    ) -> Result<(), String> {
        let stand_ins = self.expected.stand_ins;
        let model = cdecl::spelling(ctype);
        let agrees = if let Some(open_enum) = stand_ins.open_enum(ty) {
            open_enum.c_type == model
        } else if let Some(pointee) = ty
            .strip_prefix(stand_ins.handle)
            .and_then(|p| p.strip_prefix('_'))
        {
            let c_pointee = if pointee == stand_ins.const_void {
                snake_case(pointee)
            } else {
                // The pointee need not be among the structures being rendered.
                let known = self.expected.model.iter().chain(layout::ALL.iter());
                match known.into_iter().find(|d| d.rust_name == pointee) {
                    Some(d) => cdecl::typedef_name(d),
                    None => format!("(the Rust type {pointee})"),
                }
            };
            matches!(ctype, CType::Handle(p) if p == c_pointee)
        } else {
            cbindgen_spelling(ctype).as_deref() == Some(ty)
        };
        if agrees {
            Ok(())
        } else {
            Err(format!(
                "{}.{field}: the Rust field's type renders as `{ty}`, but the layout model says `{model}`",
                def.c_name
            ))
        }
    }

    fn check_defines(&self, defines: &[(usize, String, String)]) -> Result<(), Error> {
        for (n, name, value) in defines {
            let Some(expected) = self.expected.constants.iter().find(|c| c.name == name) else {
                return Err(err(
                    *n,
                    format!(
                        "`#define {name}` is not one of the header's KEXEC_* constants; \
                     exclude it in headgen/src/bindgen.rs or list it in headgen/src/header.rs"
                    ),
                ));
            };
            if value.parse::<i64>().ok() != Some(expected.value) {
                return Err(err(
                    *n,
                    format!(
                        "`#define {name} {value}`: the abi crate's value is {}",
                        expected.value
                    ),
                ));
            }
        }
        for c in self.expected.constants {
            if !defines.iter().any(|(_, name, _)| name == c.name) {
                return Err(err(
                    0,
                    format!("cbindgen did not render the constant {}", c.name),
                ));
            }
        }
        Ok(())
    }
}

/// How cbindgen renders the Rust field that the 64-bit view uses for `ctype`.
fn cbindgen_spelling(ctype: CType) -> Option<String> {
    match ctype {
        CType::Int => Some("int32_t".to_owned()),
        CType::U8 | CType::U16 | CType::U32 | CType::U64 | CType::UnsignedLong => {
            Some(format!("uint{}_t", 8 * ctype.size(Arch::X86_64)))
        }
        CType::Handle(_) => None,
    }
}

/// `ConstVoid` → `const_void`.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The widest line a comment may make: Xen's public headers keep to 80 columns.
const MAX_COLUMNS: usize = 80;

/// `text` without Markdown's code-span backticks: a C comment is not Markdown.
fn strip_code_spans(text: &str) -> String {
    text.replace('`', "")
}

/// `text` re-wrapped greedily into lines of at most `width` characters.
///
/// Paragraphs (separated by blank lines) stay paragraphs, separated by one empty line;
/// within one, the line breaks of `text` are ignored and words are never split, so a
/// word longer than `width` gets a line of its own.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut paragraphs: Vec<Vec<&str>> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !paragraph.is_empty() {
                paragraphs.push(std::mem::take(&mut paragraph));
            }
        } else {
            paragraph.extend(line.split_whitespace());
        }
    }
    if !paragraph.is_empty() {
        paragraphs.push(paragraph);
    }
    for (i, words) in paragraphs.into_iter().enumerate() {
        if i > 0 {
            lines.push(String::new());
        }
        let mut line = String::new();
        for word in words {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines
}

fn indent_of(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

/// Joins `lines`, with no run of blank lines longer than one (dropped stand-ins leave
/// gaps) and exactly one newline at the end.
fn collapse_blank_lines(lines: &[String]) -> String {
    let mut out = String::new();
    let mut blank = true; // no blank line at the start either
    for line in lines {
        if line.is_empty() {
            if !blank {
                out.push('\n');
            }
            blank = true;
        } else {
            out.push_str(line);
            out.push('\n');
            blank = false;
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::header_constants;
    use std::fmt::Write as _;
    use xen_kexec_abi::layout::{EXEC, LOAD, RANGE};

    fn run(
        raw: &str,
        model: &[&'static StructDef],
        constants: &[HeaderConst],
    ) -> Result<String, Error> {
        let stand_ins = StandIns::of_abi();
        xenify(
            raw,
            &Expected {
                model,
                stand_ins: &stand_ins,
                constants,
            },
        )
    }

    const RANGE_RAW: &str = "\
typedef int32_t KexecRangeKind;

/**
 * Argument of get_range.
 * Second line.
 *
 * ```
 * example();
 * ```
 */
typedef struct HEADGEN_REPR_ALIGN(8) xen_kexec_range {
    /**
     * Which range.
     */
    KexecRangeKind range;
    int32_t nr;
    uint64_t size;
    uint64_t start;
} xen_kexec_range;
";

    #[test]
    fn a_doc_comment_becomes_a_xen_comment_of_its_first_paragraph_rewrapped() {
        let out = run(RANGE_RAW, &[&RANGE], &[]).expect("xenifies");
        assert!(
            out.starts_with("/*\n * Argument of get_range. Second line.\n */\n"),
            "{out}"
        );
        assert!(
            out.contains("    /*\n     * Which range.\n     */\n    int range;\n"),
            "{out}"
        );
        assert!(!out.contains("example"), "{out}");
        assert!(!out.contains("/**"), "{out}");
    }

    #[test]
    fn members_take_xens_types_and_the_alignment_attribute_goes() {
        let out = run(RANGE_RAW, &[&RANGE], &[]).expect("xenifies");
        assert!(out.contains("typedef struct xen_kexec_range {\n"), "{out}");
        assert!(out.contains("    int nr;\n    unsigned long size;\n    unsigned long start;\n} xen_kexec_range_t;\n"), "{out}");
        assert!(
            !out.contains("KexecRangeKind"),
            "the stand-in typedef is dropped: {out}"
        );
        assert!(!out.contains(ALIGN_MARKER), "{out}");
        assert!(
            !out.contains("DEFINE_XEN_GUEST_HANDLE"),
            "range has no guest handle: {out}"
        );
    }

    #[test]
    fn handles_become_unions_and_guest_handle_structures_get_their_define() {
        let raw = "\
typedef struct GuestHandle64_KexecSegment GuestHandle64_KexecSegment;
typedef uint8_t KexecType;
typedef uint16_t ElfMachine;
typedef struct HEADGEN_REPR_ALIGN(8) xen_kexec_load {
    KexecType type_;
    uint8_t _pad;
    ElfMachine arch;
    uint32_t nr_segments;
    struct GuestHandle64_KexecSegment segments;
    uint64_t entry_maddr;
} xen_kexec_load;
";
        let out = run(raw, &[&LOAD], &[]).expect("xenifies");
        assert_eq!(
            out,
            "typedef struct xen_kexec_load {\n    uint8_t type;\n    uint8_t _pad;\n    uint16_t arch;\n    \
             uint32_t nr_segments;\n    union {\n        XEN_GUEST_HANDLE(xen_kexec_segment_t) h;\n        \
             uint64_t _pad;\n    } segments;\n    uint64_t entry_maddr;\n} xen_kexec_load_t;\n\
             DEFINE_XEN_GUEST_HANDLE(xen_kexec_load_t);\n"
        );
    }

    #[test]
    fn a_field_the_model_does_not_have_is_an_error_naming_both() {
        let raw = "typedef struct xen_kexec_exec {\n    int32_t kind;\n} xen_kexec_exec;\n";
        let e = run(raw, &[&EXEC], &[])
            .expect_err("the name differs")
            .to_string();
        assert!(
            e.contains("`kind`") && e.contains("`type`") && e.contains("line 2"),
            "{e}"
        );
    }

    #[test]
    fn a_field_type_the_model_does_not_have_is_an_error() {
        let raw = "typedef struct xen_kexec_exec {\n    uint8_t type_;\n} xen_kexec_exec;\n";
        let e = run(raw, &[&EXEC], &[])
            .expect_err("the type differs")
            .to_string();
        assert!(e.contains("`uint8_t`") && e.contains("`int`"), "{e}");
        let raw = RANGE_RAW.replace("uint64_t size;", "uint32_t size;");
        let e = run(&raw, &[&RANGE], &[])
            .expect_err("the width differs")
            .to_string();
        assert!(
            e.contains("xen_kexec_range.size") && e.contains("unsigned long"),
            "{e}"
        );
    }

    #[test]
    fn a_wrong_alignment_attribute_is_an_error() {
        let raw = RANGE_RAW.replace("ALIGN(8)", "ALIGN(4)");
        let e = run(&raw, &[&RANGE], &[])
            .expect_err("align differs")
            .to_string();
        assert!(e.contains("align(4)") && e.contains("says 8"), "{e}");
    }

    #[test]
    fn a_structure_outside_the_model_is_refused() {
        let raw = "typedef struct Decoder {\n    int32_t x;\n} Decoder;\n";
        let e = run(raw, &[], &[])
            .expect_err("not in the model")
            .to_string();
        assert!(e.contains("`Decoder`") && e.contains("layout model"), "{e}");
        let e = run("typedef uint32_t Other;\n", &[], &[])
            .expect_err("not a stand-in")
            .to_string();
        assert!(e.contains("typedef uint32_t Other;"), "{e}");
        let e = run(RANGE_RAW, &[&RANGE, &EXEC], &[])
            .expect_err("exec is missing")
            .to_string();
        assert!(e.contains("did not render xen_kexec_exec"), "{e}");
    }

    #[test]
    fn constants_must_be_exactly_the_expected_ones() {
        let constants = header_constants();
        let all = constants.iter().fold(String::new(), |mut all, c| {
            let _ = writeln!(all, "#define {} {}", c.name, c.value);
            all
        });
        run(&all, &[], &constants).expect("all expected constants");
        let e = run(&format!("{all}#define EM_386 3\n"), &[], &constants)
            .expect_err("extra")
            .to_string();
        assert!(
            e.contains("EM_386") && e.contains("not one of the header's"),
            "{e}"
        );
        let wrong = all.replace("#define KEXEC_TYPE_CRASH 1", "#define KEXEC_TYPE_CRASH 2");
        let e = run(&wrong, &[], &constants)
            .expect_err("wrong value")
            .to_string();
        assert!(
            e.contains("KEXEC_TYPE_CRASH 2") && e.contains("value is 1"),
            "{e}"
        );
        let missing = all.replace("#define KEXEC_SEGMENT_MAX 16\n", "");
        let e = run(&missing, &[], &constants)
            .expect_err("missing")
            .to_string();
        assert!(e.contains("KEXEC_SEGMENT_MAX"), "{e}");
    }

    #[test]
    fn a_comment_terminator_in_doc_text_is_an_error() {
        let raw = "/**\n * Ends early */ oops\n */\n";
        let e = run(raw, &[], &[]).expect_err("*/ in doc").to_string();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn a_comment_terminator_made_by_removing_backticks_is_an_error() {
        let raw = "/**\n * Glob `KEXEC_TYPE_*`/ oops\n */\n";
        let e = run(raw, &[], &[])
            .expect_err("*/ once unquoted")
            .to_string();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn wrap_leaves_text_that_fits_as_one_line() {
        assert_eq!(
            wrap("Which image: a KEXEC_TYPE_* value.", 40),
            ["Which image: a KEXEC_TYPE_* value."]
        );
        assert_eq!(wrap("exactly ten", 11), ["exactly ten"]);
    }

    #[test]
    fn wrap_fills_each_line_greedily_and_ignores_the_old_breaks() {
        let text = "one two three\nfour five six seven";
        assert_eq!(wrap(text, 13), ["one two three", "four five six", "seven"]);
        assert_eq!(wrap(text, 14), ["one two three", "four five six", "seven"]);
        assert_eq!(wrap(text, 100), ["one two three four five six seven"]);
        let lines = wrap(&"word ".repeat(50), 23);
        assert_eq!(lines.len(), 13, "{lines:?}");
        assert!(
            lines[..12].iter().all(|l| l == "word word word word"),
            "{lines:?}"
        );
        assert_eq!(lines[12], "word word");
    }

    #[test]
    fn wrap_keeps_paragraphs_apart() {
        assert_eq!(
            wrap("first paragraph\n\n\nsecond one here", 9),
            ["first", "paragraph", "", "second", "one here"]
        );
    }

    #[test]
    fn wrap_never_splits_a_word_longer_than_the_width() {
        assert_eq!(
            wrap("a XEN_GUEST_HANDLE(xen_kexec_segment_t) b c", 10),
            ["a", "XEN_GUEST_HANDLE(xen_kexec_segment_t)", "b c"]
        );
    }

    #[test]
    fn doc_comments_are_wrapped_to_80_columns_with_their_indentation() {
        let long = "word ".repeat(40);
        let raw = [
            "/**",
            &format!(" * {long}"),
            " */",
            "typedef struct xen_kexec_exec {",
            "    /**",
            &format!("     * {long}"),
            "     */",
            "    int32_t type_;",
            "} xen_kexec_exec;\n",
        ]
        .join("\n");
        let out = run(&raw, &[&EXEC], &[]).expect("xenifies");
        let top: Vec<&str> = out.lines().filter(|l| l.starts_with(" * ")).collect();
        let member: Vec<&str> = out.lines().filter(|l| l.starts_with("     * ")).collect();
        // " * " + 15 words of 4 letters and their spaces = 77; a 16th would make 82.
        assert_eq!(top.len(), 3, "{out}");
        assert_eq!(top[0].len(), 77, "{out}");
        // "     * " + 14 words = 76; a 15th would make 81.
        assert_eq!(member.len(), 3, "{out}");
        assert_eq!(member[0].len(), 76, "{out}");
        assert!(out.lines().all(|l| l.len() <= MAX_COLUMNS), "{out}");
        assert_eq!(
            out.split_whitespace().filter(|w| *w == "word").count(),
            80,
            "no word lost: {out}"
        );
    }

    #[test]
    fn doc_comments_lose_their_markdown_backticks() {
        let raw = "/**\n * Argument of `KEXEC_CMD_kexec`: enter the image of `type`.\n */\n";
        assert_eq!(
            run(raw, &[], &[]).expect("xenifies"),
            "/*\n * Argument of KEXEC_CMD_kexec: enter the image of type.\n */\n"
        );
    }

    #[test]
    fn framing_comments_pass_through() {
        let raw = "/* SPDX-License-Identifier: MIT */\n/*****\n * kexec.h\n *\n * Licence.\n */\n";
        assert_eq!(run(raw, &[], &[]).expect("framing"), raw);
    }
}
