// SPDX-License-Identifier: MIT
//! The doc text of the header: the doc comments of the abi crate's items, read from its
//! source. It is written once, in Rust, for rustdoc and C readers alike: the first
//! block of each doc comment (up to its first blank line) is C header prose, and later
//! paragraphs are for Rust readers only (see the module docs of `abi/src/consts.rs`).
//!
//! The source is parsed with `syn`, as Rust: these files are the generator's input,
//! never its output.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::Error;

/// The constants' source, relative to the repository root.
pub(crate) const CONSTS: &str = "abi/src/consts.rs";

/// The structures' source (the 64-bit layout, whose docs speak for the C structures).
pub(crate) const STRUCTS: &str = "abi/src/x86_64.rs";

/// The doc comments of the abi crate's constants and structures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AbiDocs {
    /// `const` name → its doc comment.
    consts: BTreeMap<String, String>,
    /// `struct` name → its docs.
    structs: BTreeMap<String, StructDocs>,
}

/// The doc comment of a structure, and its fields' (Rust name, doc comment).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct StructDocs {
    doc: String,
    fields: Vec<(String, String)>,
}

impl AbiDocs {
    /// Reads the docs of [`CONSTS`] and [`STRUCTS`] in the checkout at `root`.
    pub(crate) fn read(root: &Path) -> Result<Self, Error> {
        let read = |file: &str| {
            let path = root.join(file);
            std::fs::read_to_string(&path)
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))
        };
        Self::parse(&read(CONSTS)?, &read(STRUCTS)?)
    }

    /// The docs of the constants in `consts` and the structures in `structs` (Rust
    /// source text of [`CONSTS`] and [`STRUCTS`]).
    pub(crate) fn parse(consts: &str, structs: &str) -> Result<Self, Error> {
        let mut docs = AbiDocs::default();
        for item in parse_file(CONSTS, consts)?.items {
            if let syn::Item::Const(c) = item {
                docs.consts.insert(c.ident.to_string(), doc_of(&c.attrs));
            }
        }
        for item in parse_file(STRUCTS, structs)?.items {
            if let syn::Item::Struct(s) = item {
                let fields = s
                    .fields
                    .iter()
                    .filter_map(|f| Some((f.ident.as_ref()?.to_string(), doc_of(&f.attrs))))
                    .collect();
                let doc = doc_of(&s.attrs);
                docs.structs
                    .insert(s.ident.to_string(), StructDocs { doc, fields });
            }
        }
        Ok(docs)
    }

    /// The C text of the constant `name`'s doc comment.
    pub(crate) fn constant(&self, name: &str) -> Result<String, Error> {
        let doc = self.consts.get(name).ok_or_else(|| Error::Doc {
            file: CONSTS,
            item: name.to_owned(),
            message: "no such constant".to_owned(),
        })?;
        c_text(doc, CONSTS, name)
    }

    /// The C text of the structure `rust_name`'s doc comment.
    pub(crate) fn structure(&self, rust_name: &str) -> Result<String, Error> {
        c_text(&self.struct_entry(rust_name)?.doc, STRUCTS, rust_name)
    }

    /// The C text of the doc comment of the field that Xen names `c_name` in the
    /// structure `rust_name` (Rust spells a keyword with a trailing `_`: `type_`).
    pub(crate) fn field(&self, rust_name: &str, c_name: &str) -> Result<String, Error> {
        let item = format!("{rust_name}.{c_name}");
        let (_, doc) = self
            .struct_entry(rust_name)?
            .fields
            .iter()
            .find(|(name, _)| name == c_name || name.strip_suffix('_') == Some(c_name))
            .ok_or_else(|| Error::Doc {
                file: STRUCTS,
                item: item.clone(),
                message: "no such field".to_owned(),
            })?;
        c_text(doc, STRUCTS, &item)
    }

    fn struct_entry(&self, rust_name: &str) -> Result<&StructDocs, Error> {
        self.structs.get(rust_name).ok_or_else(|| Error::Doc {
            file: STRUCTS,
            item: rust_name.to_owned(),
            message: "no such structure".to_owned(),
        })
    }
}

fn parse_file(file: &'static str, source: &str) -> Result<syn::File, Error> {
    syn::parse_file(source).map_err(|e| Error::Doc {
        file,
        item: "the file".to_owned(),
        message: format!("does not parse as Rust: {e}"),
    })
}

/// The doc comment of an item: its `///` lines (literal `#[doc = "..."]` attributes)
/// joined, each without the one space after `///`. Attributes whose value is not a
/// literal (`#[doc = include_str!(...)]`, rustdoc's layout tables) are not doc text.
fn doc_of(attrs: &[syn::Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(syn::MetaNameValue {
                value:
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(s),
                        ..
                    }),
                ..
            }) => Some(s.value()),
            _ => None,
        })
        .map(|line| line.strip_prefix(' ').unwrap_or(&line).to_owned())
        .collect();
    lines.join("\n")
}

/// The C part of a doc comment: its first block, up to the first blank line (still
/// Markdown: [`crate::comment`] renders its code spans). Refused when there is none, or
/// when, without its backticks, it would end or nest the C comment that holds it.
fn c_text(doc: &str, file: &'static str, item: &str) -> Result<String, Error> {
    let block: Vec<&str> = doc
        .lines()
        .map(str::trim_end)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .collect();
    let text = block.join("\n");
    let refuse = |message: &str| Error::Doc {
        file,
        item: item.to_owned(),
        message: message.to_owned(),
    };
    if text.trim().is_empty() {
        return Err(refuse(
            "has no doc comment; its first block is the C header's comment",
        ));
    }
    let bare = text.replace('`', "");
    if bare.contains("*/") || bare.contains("/*") {
        return Err(refuse(
            "its first block would contain */ or /* inside a C comment",
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONSTS_SRC: &str = "
#![allow(non_upper_case_globals)]
/// The reboot image. Held in `type`.
///
/// Rust readers only.
pub const KEXEC_TYPE_DEFAULT: u8 = 0;
pub const UNDOCUMENTED: u8 = 1;
/// Ends `KEXEC_TYPE_*`/ early.
pub const BAD: u8 = 2;
";

    const STRUCTS_SRC: &str = r#"
/// One segment:
/// - copied;
///   then zeroed.
///
/// More for rustdoc.
#[doc = include_str!("../doc/xen_kexec_segment.md")]
#[repr(C)]
pub struct KexecSegment {
    /// Which image.
    pub type_: u8,
    pub bare: u8,
}
"#;

    fn docs() -> AbiDocs {
        AbiDocs::parse(CONSTS_SRC, STRUCTS_SRC).expect("parses")
    }

    #[test]
    fn the_c_text_is_the_first_block() {
        assert_eq!(
            docs().constant("KEXEC_TYPE_DEFAULT").expect("documented"),
            "The reboot image. Held in `type`."
        );
        assert_eq!(
            docs().structure("KexecSegment").expect("documented"),
            "One segment:\n- copied;\n  then zeroed."
        );
    }

    #[test]
    fn a_field_is_found_by_its_c_name_even_when_rust_spells_it_with_an_underscore() {
        assert_eq!(
            docs().field("KexecSegment", "type").expect("documented"),
            "Which image."
        );
    }

    #[test]
    fn a_missing_or_undocumented_item_is_an_error_naming_file_and_item() {
        let d = docs();
        for (e, file, item) in [
            (d.constant("UNDOCUMENTED"), CONSTS, "UNDOCUMENTED"),
            (d.constant("NO_SUCH"), CONSTS, "NO_SUCH"),
            (
                d.field("KexecSegment", "bare"),
                STRUCTS,
                "KexecSegment.bare",
            ),
            (
                d.field("KexecSegment", "gone"),
                STRUCTS,
                "KexecSegment.gone",
            ),
            (d.structure("KexecLoad"), STRUCTS, "KexecLoad"),
        ] {
            let e = e.expect_err("refused").to_string();
            assert!(e.contains(file) && e.contains(item), "{e}");
        }
    }

    #[test]
    fn text_that_would_end_the_c_comment_is_refused() {
        let e = docs().constant("BAD").expect_err("*/").to_string();
        assert!(e.contains("BAD") && e.contains("*/"), "{e}");
    }

    #[test]
    fn source_that_is_not_rust_is_an_error_naming_the_file() {
        let e = AbiDocs::parse("pub const X: u8 = ;", "")
            .expect_err("no parse")
            .to_string();
        assert!(e.contains(CONSTS) && e.contains("does not parse"), "{e}");
    }
}
