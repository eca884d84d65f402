// SPDX-License-Identifier: MIT
//! The harness's own bad inputs get clear, specific errors: a malformed manifest, a value
//! that does not fit its field, C that does not compile, a symbol that is not there.

use compat_tests::cc::{self, CcError};
use compat_tests::cvalue::{FieldValue, StructValue};
use compat_tests::manifest;
use xen_kexec_abi::{layout, GuestAbi};

/// Loads `text` as a manifest from a scratch file and returns the error.
fn load_error(name: &str, text: &str) -> String {
    let path =
        std::env::temp_dir().join(format!("xen-kexec-abi-{}-{name}.toml", std::process::id()));
    std::fs::write(&path, text).expect("write scratch manifest");
    let err = manifest::load(&path).expect_err("a malformed manifest must be refused");
    let _ = std::fs::remove_file(&path);
    assert!(
        err.starts_with(&path.display().to_string()) || err.starts_with("case "),
        "{err}"
    );
    err
}

const CASE: &str =
    "[[case]]\nname = \"a\"\nabout = \"x\"\nguest = \"x86_64\"\ncmd = 6\narg = \"0x1000\"\n";

#[test]
fn a_malformed_manifest_is_refused_naming_the_case_and_the_problem() {
    let twice = format!("{CASE}expect.ok = {{ status = {{ type = 0 }} }}\n{CASE}expect.ok = {{ status = {{ type = 0 }} }}\n");
    assert!(load_error("twice", &twice).ends_with("case name a is used twice"));

    let guest = CASE.replace("x86_64", "arm64") + "expect.ok = { status = { type = 0 } }\n";
    assert_eq!(
        load_error("guest", &guest),
        "case a: guest \"arm64\" is not x86_32 or x86_64"
    );

    let both =
        format!("{CASE}expect.ok = {{ status = {{ type = 0 }} }}\nexpect.errno = \"EINVAL\"\n");
    assert_eq!(
        load_error("both", &both),
        "case a: expect needs either ok, or errno and error"
    );

    let unknown_key = format!("{CASE}expect.ok = {{ status = {{ type = 0 }} }}\ncolour = 1\n");
    assert!(load_error("key", &unknown_key).contains("unknown field `colour`"));

    let bad_hex = format!("{CASE}expect.ok = {{ status = {{ type = \"0xzz\" }} }}\n");
    assert!(load_error("hex", &bad_hex).starts_with("case a: \"0xzz\": invalid digit"));
}

#[test]
fn a_region_naming_an_unknown_constant_or_structure_is_refused() {
    let text = format!(
        "{CASE}expect.ok = {{ status = {{ type = 0 }} }}\n\n[[case.region]]\naddr = \"0x1000\"\nstruct = \"xen_kexec_status\"\nvalue = {{ type = \"KEXEC_TYPE_REBOOT\" }}\n"
    );
    let path =
        std::env::temp_dir().join(format!("xen-kexec-abi-{}-const.toml", std::process::id()));
    std::fs::write(&path, &text).expect("write");
    let m = manifest::load(&path).expect("the manifest itself is well formed");
    let _ = std::fs::remove_file(&path);
    assert_eq!(
        m.cases[0].specs().unwrap_err(),
        "case a region 0: unknown constant KEXEC_TYPE_REBOOT"
    );

    let mut case = m.cases[0].clone();
    case.regions[0].structure = "xen_kexec_frob".into();
    assert_eq!(
        case.specs().unwrap_err(),
        "case a region 0: unknown struct xen_kexec_frob"
    );
}

#[test]
fn a_value_that_does_not_fit_its_field_is_refused_naming_the_field() {
    let range = StructValue {
        def: &layout::RANGE,
        fields: vec![("size".into(), FieldValue::Num(0x1_0000_0000))],
    };
    assert_eq!(
        range.c_initializer(GuestAbi::X86_32).unwrap_err(),
        "xen_kexec_range.size = 0x100000000 does not fit a 4-byte field on x86_32"
    );
    assert!(
        range.c_initializer(GuestAbi::X86_64).is_ok(),
        "8 bytes on x86_64"
    );
    let no_field = StructValue {
        def: &layout::LOAD,
        fields: vec![("flags".into(), FieldValue::Num(1))],
    };
    assert_eq!(
        no_field.rust_bytes(GuestAbi::X86_64).unwrap_err(),
        "xen_kexec_load has no field flags"
    );
}

#[test]
fn c_that_does_not_compile_reports_the_compilers_message_and_a_missing_symbol_is_named() {
    match cc::compile("int broken = ;\n", GuestAbi::X86_64, &[]) {
        Err(CcError::Failed { command, stderr }) => {
            assert!(command.contains("-m64"), "{command}");
            assert!(stderr.contains("error"), "{stderr}");
        }
        other => panic!("expected a compile failure, got {other:?}"),
    }
    let object = cc::compile("const int present = 7;\n", GuestAbi::X86_32, &[]).expect("compiles");
    assert_eq!(
        cc::symbol_bytes(&object, "present").expect("symbol"),
        7i32.to_le_bytes()
    );
    let err = cc::symbol_bytes(&object, "absent").unwrap_err();
    assert_eq!(err.to_string(), "no symbol absent in the object file");
    assert_eq!(
        cc::symbol_bytes(b"not an object", "x")
            .unwrap_err()
            .to_string()
            .split(':')
            .next(),
        Some("not an object file")
    );
}

#[test]
fn an_include_appends_its_cases_and_a_bad_include_is_refused_naming_both_files() {
    let dir = std::env::temp_dir().join(format!("xen-kexec-abi-include-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let ok = "expect.ok = { status = { type = 0 } }\n";
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write scratch manifest");
        path
    };

    let top = write(
        "top.toml",
        &format!("include = [\"more.toml\"]\n{CASE}{ok}"),
    );
    write(
        "more.toml",
        &format!("{}{ok}", CASE.replace("\"a\"", "\"b\"")),
    );
    let m = manifest::load(&top).expect("a manifest with an include");
    let names: Vec<&str> = m.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);

    write("more.toml", &format!("{CASE}{ok}"));
    let err = manifest::load(&top).unwrap_err();
    assert_eq!(err, format!("{}: case name a is used twice", top.display()));

    let missing = write(
        "missing.toml",
        &format!("include = [\"absent.toml\"]\n{CASE}{ok}"),
    );
    let err = manifest::load(&missing).unwrap_err();
    assert!(
        err.starts_with(&dir.join("absent.toml").display().to_string()),
        "{err}"
    );
    assert!(
        err.ends_with(&format!("(included by {})", missing.display())),
        "{err}"
    );

    let cycle = write("cycle.toml", "include = [\"cycle.toml\"]\n");
    let err = manifest::load(&cycle).unwrap_err();
    assert_eq!(
        err,
        format!("{0}: included by itself (included by {0})", cycle.display())
    );
    let _ = std::fs::remove_dir_all(&dir);
}
