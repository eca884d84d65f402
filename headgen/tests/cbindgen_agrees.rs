// SPDX-License-Identifier: MIT
//! cbindgen, the tool the ffi crate's C header will come from, reads the Rust structures
//! as the layout model describes them: the same structures, the same members in the same
//! order, each as wide as the model says on x86_64.
//!
//! The header `include/public/kexec.h` is rendered from the model, not by cbindgen; this
//! test keeps the two views of the ABI from drifting apart where cbindgen is the judge.

use std::path::Path;

use xen_kexec_abi::layout::{self, Arch, StructDef};
use xen_kexec_abi::{
    ConstVoid, ElfMachine, GuestHandle64, KexecExecType, KexecRangeKind, KexecType,
};

/// cbindgen's C for the structures of `abi/src/x86_64.rs`, one per model structure,
/// named as the model names them.
fn cbindgen_c() -> String {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../abi/src/x86_64.rs");
    let mut config = cbindgen::Config {
        language: cbindgen::Language::C,
        documentation: false,
        sort_by: cbindgen::SortKey::None,
        ..cbindgen::Config::default()
    };
    // cbindgen renders `#[repr(align(N))]` only through a macro it is given.
    config.layout.aligned_n = Some("ALIGNED".to_owned());
    for def in layout::ALL {
        config.export.include.push(def.rust_name.to_owned());
        config
            .export
            .rename
            .insert(def.rust_name.to_owned(), def.c_name.to_owned());
    }
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(source)
        .generate()
        .expect("cbindgen reads abi/src/x86_64.rs");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("UTF-8")
}

/// The width on x86_64 of a C type as cbindgen names it: a fixed-width integer, or a
/// Rust type it cannot see into (the open enums are made by a macro, the handle is
/// generic), whose width is the Rust type's own.
fn width(c_type: &str) -> Option<usize> {
    let rust_types = [
        ("KexecType", size_of::<KexecType>()),
        ("KexecExecType", size_of::<KexecExecType>()),
        ("KexecRangeKind", size_of::<KexecRangeKind>()),
        ("ElfMachine", size_of::<ElfMachine>()),
        ("GuestHandle64", size_of::<GuestHandle64<ConstVoid>>()),
    ];
    if let Some(bits) = c_type
        .strip_prefix("uint")
        .or_else(|| c_type.strip_prefix("int"))
        .and_then(|t| t.strip_suffix("_t"))
    {
        return bits.parse::<usize>().ok().map(|b| b / 8);
    }
    let base = c_type.split(['<', '_']).next().unwrap_or(c_type);
    rust_types.iter().find(|(n, _)| *n == base).map(|(_, w)| *w)
}

/// The members (name, C type) of the structure `c_name` in cbindgen's C.
fn members(c: &str, c_name: &str) -> Vec<(String, String)> {
    let open = c
        .lines()
        .position(|l| l.starts_with("typedef struct") && l.contains(&format!(" {c_name} {{")))
        .unwrap_or_else(|| panic!("cbindgen did not render {c_name}:\n{c}"));
    c.lines()
        .skip(open + 1)
        .take_while(|l| !l.starts_with('}'))
        .map(|l| {
            let decl = l.trim().trim_end_matches(';');
            let (ty, name) = decl.rsplit_once(' ').expect("a member is `type name;`");
            (name.to_owned(), ty.trim_start_matches("struct ").to_owned())
        })
        .collect()
}

fn c_name_of(rust_field: &str) -> &str {
    // Rust cannot name a field `type`.
    rust_field.strip_suffix('_').unwrap_or(rust_field)
}

#[test]
fn cbindgen_renders_every_model_structure_in_the_models_order() {
    let c = cbindgen_c();
    let rendered: Vec<&str> = c
        .lines()
        .filter_map(|l| l.strip_prefix("typedef struct "))
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("xen_kexec_")))
        .collect();
    let model: Vec<&str> = layout::ALL.iter().map(|d| d.c_name).collect();
    assert_eq!(rendered, model, "{c}");
}

#[test]
fn cbindgen_sees_the_models_members_in_order_with_the_models_widths() {
    let c = cbindgen_c();
    for def in layout::ALL {
        let members = members(&c, def.c_name);
        let seen: Vec<(&str, Option<usize>)> = members
            .iter()
            .map(|(name, ty)| (c_name_of(name), width(ty)))
            .collect();
        let want: Vec<(&str, Option<usize>)> = def
            .iter()
            .map(|f| (f.name, Some(f.size(Arch::X86_64))))
            .collect();
        assert_eq!(seen, want, "{}: cbindgen rendered {members:?}", def.c_name);
    }
}

#[test]
fn the_comparison_catches_a_model_that_differs() {
    // The same comparison against a model with one width changed must fail.
    let c = cbindgen_c();
    let narrowed = StructDef {
        fields: &[
            ("buf", layout::CType::Handle("const_void")),
            ("buf_size", layout::CType::U32),
            ("dest_maddr", layout::CType::U64),
            ("dest_size", layout::CType::U64),
        ],
        ..layout::SEGMENT
    };
    let members = members(&c, narrowed.c_name);
    let widths: Vec<Option<usize>> = members.iter().map(|(_, ty)| width(ty)).collect();
    let model: Vec<Option<usize>> = narrowed
        .fields
        .iter()
        .map(|(_, t)| Some(t.size(Arch::X86_64)))
        .collect();
    assert_ne!(widths, model);
}
