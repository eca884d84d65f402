//! No ABI structure holds a pointer-sized, platform-dependent or union field: every field
//! type of every `#[repr(C...)]` structure in the layout modules is on an allowlist of
//! explicit-width types, and the structures found are exactly those of the layout model.
//!
//! The compile-time layout assertions already fail on any host where a field's width
//! changes (CI builds for i686 and x86_64); this test also catches a platform-dependent
//! type that happens to have the right size on the hosts CI builds for. (The layout
//! assertions also require every field's type to be an `AbiField`, at compile time.)

use xen_kexec_abi::layout;

/// Field types allowed in an ABI structure: fixed-width integers, the open enums over
/// them, and the 8-byte guest handle.
const ALLOWED: [&str; 10] = [
    "u8",
    "u16",
    "u32",
    "u64",
    "i32",
    "KexecType",
    "KexecExecType",
    "KexecRangeKind",
    "ElfMachine",
    "GuestHandle64<",
];

const SOURCES: [(&str, &str); 2] = [
    ("x86_64.rs", include_str!("../src/x86_64.rs")),
    ("x86_32.rs", include_str!("../src/x86_32.rs")),
];

/// Whether `ty` is on the allowlist (a `GuestHandle64<...>` of any pointee included).
fn is_explicit_width(ty: &str) -> bool {
    ALLOWED
        .iter()
        .any(|ok| ty == *ok || (ok.ends_with('<') && ty.starts_with(ok)))
}

/// A structure found by the scan: (file, name, [(field, type)]).
type Found = (&'static str, String, Vec<(String, String)>);

/// Every `#[repr(C...)]` struct in `source`.
fn repr_c_structs(file: &'static str, source: &'static str) -> Vec<Found> {
    let mut found = Vec::new();
    let mut lines = source.lines().peekable();
    let mut in_repr_c = false;
    while let Some(line) = lines.next() {
        let line = line.trim();
        if line.starts_with("#[repr(C") {
            in_repr_c = true;
        } else if let Some(rest) = line.strip_prefix("pub struct ") {
            assert!(in_repr_c, "{file}: struct without #[repr(C)]: {line}");
            let name = rest.trim_end_matches(" {").to_string();
            let mut fields = Vec::new();
            for field in lines.by_ref() {
                let field = field.trim();
                if field == "}" {
                    break;
                }
                // Every field, whatever its visibility: skip comments and attributes.
                if field.starts_with("//") || field.starts_with("#[") || field.is_empty() {
                    continue;
                }
                let decl = field
                    .strip_prefix("pub(crate) ")
                    .or_else(|| field.strip_prefix("pub "))
                    .unwrap_or(field);
                let (fname, ty) = decl.split_once(':').expect("field: type");
                fields.push((
                    fname.trim().to_string(),
                    ty.trim().trim_end_matches(',').to_string(),
                ));
            }
            found.push((file, name, fields));
            in_repr_c = false;
        } else if line.is_empty() || line.ends_with(';') || line == "}" {
            // The end of an item: attributes above the next struct start afresh.
            in_repr_c = false;
        }
    }
    found
}

#[test]
fn every_abi_structure_field_has_an_explicit_width_type() {
    let mut checked = 0;
    for (file, source) in SOURCES {
        assert!(!source.contains("union "), "{file} declares a Rust union");
        for (file, name, fields) in repr_c_structs(file, source) {
            assert!(!fields.is_empty(), "{file}: {name} has no fields");
            for (field, ty) in fields {
                assert!(
                    is_explicit_width(&ty),
                    "{file}: {name}.{field} has type {ty}, not an explicit-width ABI type"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "the scan found only {checked} fields");
}

#[test]
fn the_scanned_structures_are_exactly_the_models() {
    let model: Vec<_> = layout::ALL.iter().map(|d| d.rust_name).collect();
    let in_64: Vec<_> = repr_c_structs(SOURCES[0].0, SOURCES[0].1)
        .into_iter()
        .map(|s| s.1)
        .collect();
    assert_eq!(
        in_64, model,
        "x86_64.rs defines every model structure, in order"
    );
    // x86_32 re-exports the layout-identical ones and defines the other three.
    let in_32: Vec<_> = repr_c_structs(SOURCES[1].0, SOURCES[1].1)
        .into_iter()
        .map(|s| s.1)
        .collect();
    assert_eq!(in_32, ["KexecRange", "KexecSegment", "KexecLoad"]);
}

#[test]
fn the_scan_finds_and_rejects_pointer_sized_and_platform_types() {
    let bad = "#[repr(C)]\n#[derive(\n    Debug,\n)]\npub struct Bad {\n    /// Doc.\n    pub size: usize,\n    pub p: *const u8,\n    len: isize,\n    #[allow(dead_code)]\n    pub(crate) w: c_ulong,\n}\n";
    let structs = repr_c_structs("bad.rs", bad);
    assert_eq!(structs.len(), 1);
    let types: Vec<_> = structs[0].2.iter().map(|(_, ty)| ty.as_str()).collect();
    assert_eq!(types, ["usize", "*const u8", "isize", "c_ulong"]);
    for ty in [
        "usize",
        "isize",
        "c_ulong",
        "core::ffi::c_long",
        "*const u8",
        "&'static u8",
        "u128",
    ] {
        assert!(!is_explicit_width(ty), "{ty} must be refused");
    }
    for ty in ["u64", "GuestHandle64<ConstVoid>", "ElfMachine"] {
        assert!(is_explicit_width(ty), "{ty} must be allowed");
    }
}

#[test]
fn the_handle_is_a_u64_on_every_host() {
    assert_eq!(size_of::<xen_kexec_abi::GuestHandle64<u8>>(), 8);
    assert!(include_str!("../src/handle.rs").contains("    raw: u64,\n"));
}
