// SPDX-License-Identifier: MIT
//! The C checks: real compilers prove that the header lays out as the layout model says.
//!
//! For each arch, a translation unit rendered from the model includes the header and
//! asserts at compile time each structure's size and alignment, each field's offset and
//! size, each constant's value, and that the removed commands are not defined (no number
//! is typed anywhere but in the abi crate).
//! Every unit is compiled `-ffreestanding -c` (no linking, so no multilib libc or
//! sysroot is needed), warnings as errors:
//!
//! | arch | compiler | dialects |
//! |---|---|---|
//! | x86_32 | `gcc -m32`, `g++ -m32` | C11; C89 `-pedantic`; C++98 `-pedantic` |
//! | x86_64 | `gcc -m64`, `g++ -m64` | C11; C89 `-pedantic`; C++98 `-pedantic` |
//! | arm32 | `clang --target=arm-linux-gnueabihf` | C11 |
//! | arm64 | `clang --target=aarch64-linux-gnu` | C11 |
//!
//! C11 units use `_Static_assert`; C89 and C++98 have none, so theirs declare an array
//! type whose size is negative when the condition is false. Alignment is measured the
//! portable way: the offset of the structure after a `char`.
//!
//! The header includes `"xen.h"`: the checks supply the test-only shim of
//! `headgen/c/xen.h` (Xen's guest handle layouts for x86 and Arm).

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use xen_kexec_abi::layout::{Arch, StructDef};
use xen_kexec_abi::OpenEnum;

use crate::cdecl::typedef_name;
use crate::error::Error;
use crate::kexec_h::{self, HeaderConst};

/// The test-only `xen.h` the checks compile the header against.
const XEN_H_SHIM: &str = include_str!("../c/xen.h");

/// A C or C++ dialect a check compiles in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// C11, with `_Static_assert`.
    C11,
    /// ISO C89, `-pedantic`.
    C89,
    /// ISO C++98, `-pedantic`.
    Cxx98,
}

impl Dialect {
    fn flag(self) -> &'static str {
        match self {
            Dialect::C11 => "-std=c11",
            Dialect::C89 => "-std=c89",
            Dialect::Cxx98 => "-std=c++98",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Dialect::Cxx98 => "cc",
            Dialect::C11 | Dialect::C89 => "c",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Dialect::C11 => "c11",
            Dialect::C89 => "c89",
            Dialect::Cxx98 => "cxx98",
        }
    }
}

/// A compiler command and the Debian package that provides it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Compiler {
    /// The program (`gcc`).
    pub(crate) program: String,
    /// The flags that select the arch (`-m32`).
    pub(crate) arch_flags: Vec<String>,
    /// The Debian package to install when it is missing.
    pub(crate) package: &'static str,
}

impl Compiler {
    fn new(program: &str, arch_flag: &str, package: &'static str) -> Self {
        Compiler {
            program: program.to_owned(),
            arch_flags: vec![arch_flag.to_owned()],
            package,
        }
    }

    /// The compiler this project uses for `arch` in `dialect`.
    ///
    /// The units are freestanding, compiled `-c` and include only the compiler's own
    /// `<stddef.h>` and `<stdint.h>`, so none needs a libc or multilib support for the
    /// target: Debian's plain `gcc` compiles them with `-m32` as well as `-m64`, and a
    /// missing compiler is named by the package that provides the program itself
    /// (`gcc`, `g++`, `clang`).
    pub(crate) fn for_arch(arch: Arch, dialect: Dialect) -> Self {
        let cxx = dialect == Dialect::Cxx98;
        match (arch, cxx) {
            (Arch::X86_32, false) => Compiler::new("gcc", "-m32", "gcc"),
            (Arch::X86_64, false) => Compiler::new("gcc", "-m64", "gcc"),
            (Arch::X86_32, true) => Compiler::new("g++", "-m32", "g++"),
            (Arch::X86_64, true) => Compiler::new("g++", "-m64", "g++"),
            (Arch::Arm32, false) => Compiler::new("clang", "--target=arm-linux-gnueabihf", "clang"),
            (Arch::Arm64, false) => Compiler::new("clang", "--target=aarch64-linux-gnu", "clang"),
            (Arch::Arm32, true) => {
                Compiler::new("clang++", "--target=arm-linux-gnueabihf", "clang")
            }
            (Arch::Arm64, true) => Compiler::new("clang++", "--target=aarch64-linux-gnu", "clang"),
        }
    }
}

/// One C check: an arch, a dialect, and the compiler that runs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CCheck {
    /// The arch whose layout is asserted.
    pub(crate) arch: Arch,
    /// The dialect.
    pub(crate) dialect: Dialect,
    /// The compiler.
    pub(crate) compiler: Compiler,
}

impl CCheck {
    /// The check of `arch` in `dialect` with this project's compiler for it.
    pub(crate) fn new(arch: Arch, dialect: Dialect) -> Self {
        CCheck {
            arch,
            dialect,
            compiler: Compiler::for_arch(arch, dialect),
        }
    }

    /// The command line, minus the file names.
    fn args(&self) -> Vec<String> {
        let mut args = self.compiler.arch_flags.clone();
        args.extend(
            [
                self.dialect.flag(),
                "-pedantic",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-ffreestanding",
                "-c",
            ]
            .map(str::to_owned),
        );
        args
    }

    /// How reports name this check: `x86_32: gcc -m32 -std=c11 -pedantic ...`.
    pub(crate) fn label(&self) -> String {
        format!(
            "{}: {} {}",
            self.arch.name(),
            self.compiler.program,
            self.args().join(" ")
        )
    }
}

/// The checks `headgen check` runs: every arch in C11, and both x86 widths in C89 and
/// C++98.
pub(crate) fn standard_checks() -> Vec<CCheck> {
    let mut checks: Vec<CCheck> = Arch::ALL
        .into_iter()
        .map(|a| CCheck::new(a, Dialect::C11))
        .collect();
    for dialect in [Dialect::C89, Dialect::Cxx98] {
        for arch in [Arch::X86_32, Arch::X86_64] {
            checks.push(CCheck::new(arch, dialect));
        }
    }
    checks
}

/// What the C checks assert about the header.
#[derive(Clone, Debug)]
pub(crate) struct Expected<'a> {
    /// The structures and their layouts.
    pub(crate) model: &'a [&'static StructDef],
    /// The constants and their values.
    pub(crate) constants: Vec<HeaderConst>,
    /// Names the header must not define.
    pub(crate) undefined: Vec<&'static str>,
}

impl<'a> Expected<'a> {
    /// What the header rendered from `model` must give.
    pub(crate) fn of(model: &'a [&'static StructDef]) -> Self {
        Expected {
            model,
            constants: kexec_h::constants(model),
            undefined: kexec_h::REMOVED_COMMANDS
                .iter()
                .filter_map(|c| c.c_name())
                .collect(),
        }
    }
}

/// The translation unit asserting `expected` on `arch`, in `dialect`.
pub(crate) fn render(arch: Arch, dialect: Dialect, expected: &Expected<'_>) -> String {
    let a = arch.name();
    let mut aligners = String::new();
    let mut asserts = String::new();
    let mut check = |name: String, cond: String| {
        let _ = writeln!(asserts, "HEADGEN_CHECK({a}_{name}, {cond});");
    };
    for def in expected.model {
        let t = typedef_name(def);
        let (size, align) = (def.size(arch), def.align(arch));
        let _ = writeln!(aligners, "struct headgen_align_{t} {{ char c; {t} t; }};");
        check(
            format!("sizeof_{t}_is_{size}"),
            format!("sizeof({t}) == {size}"),
        );
        check(
            format!("alignof_{t}_is_{align}"),
            format!("offsetof(struct headgen_align_{t}, t) == {align}"),
        );
        for field in def.iter() {
            let (f, offset, fsize) = (field.name, field.offset(arch), field.size(arch));
            check(
                format!("offsetof_{t}_{f}_is_{offset}"),
                format!("offsetof({t}, {f}) == {offset}"),
            );
            check(
                format!("sizeof_{t}_{f}_is_{fsize}"),
                format!("sizeof((({t} *)0)->{f}) == {fsize}"),
            );
        }
    }
    for c in &expected.constants {
        check(
            format!("{}_is_{}", c.name, c.value),
            format!("{} == {}", c.name, c.value),
        );
    }
    let mut undefined = String::new();
    for name in &expected.undefined {
        let _ = writeln!(
            undefined,
            "#ifdef {name}\n#error \"{name} is defined\"\n#endif"
        );
    }
    let macro_def = match dialect {
        Dialect::C11 => "_Static_assert(cond, #name)",
        Dialect::C89 | Dialect::Cxx98 => "typedef char headgen_check_ ## name[(cond) ? 1 : -1]",
    };
    format!(
        "/*\n * Generated by headgen from the layout model (abi/src/layout.rs): the layout of\n \
         * kexec.h on {a}, and the values of its constants. Compiled, never linked.\n */\n\
         #include <stddef.h>\n#include \"kexec.h\"\n\n\
         #define HEADGEN_CHECK(name, cond) {macro_def}\n\n\
         /* Alignment: the offset of a structure after a char. */\n{aligners}\n{asserts}\n\
         /* Names the header must not define. */\n{undefined}"
    )
}

/// The outcome of one check.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The check.
    pub(crate) check: CCheck,
    /// How many assertions its unit makes.
    pub(crate) assertions: usize,
    /// Whether it compiled.
    pub(crate) result: Result<(), Error>,
}

/// Compiles `header` with each of `checks`, asserting `expected`. The checks run in
/// parallel; each outcome is returned, in the order of `checks`.
pub(crate) fn run(
    header: &str,
    checks: &[CCheck],
    expected: &Expected<'_>,
) -> Result<Vec<Outcome>, Error> {
    let dir = tempfile::tempdir().map_err(|e| Error::io("creating a temporary directory", e))?;
    write(dir.path(), "kexec.h", header)?;
    write(dir.path(), "xen.h", XEN_H_SHIM)?;
    let mut running: Vec<(CCheck, usize, Result<Child, Error>)> = Vec::new();
    for check in checks {
        let tu = render(check.arch, check.dialect, expected);
        let assertions = tu
            .lines()
            .filter(|l| l.starts_with("HEADGEN_CHECK("))
            .count();
        let file = format!(
            "check_{}_{}.{}",
            check.arch.name(),
            check.dialect.name(),
            check.dialect.extension()
        );
        write(dir.path(), &file, &tu)?;
        let child = Command::new(&check.compiler.program)
            .args(check.args())
            .arg("-o")
            .arg(format!("{file}.o"))
            .arg(&file)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::MissingCompiler {
                    program: check.compiler.program.clone(),
                    package: check.compiler.package,
                },
                _ => Error::io(format!("starting {}", check.compiler.program), e),
            });
        running.push((check.clone(), assertions, child));
    }
    let mut outcomes = Vec::new();
    for (check, assertions, child) in running {
        let result = child.and_then(|child| {
            let output = child
                .wait_with_output()
                .map_err(|e| Error::io(format!("running {}", check.compiler.program), e))?;
            if output.status.success() {
                Ok(())
            } else {
                Err(Error::CCheck {
                    check: check.label(),
                    stderr: format!(
                        "{}{}",
                        String::from_utf8_lossy(&output.stdout),
                        String::from_utf8_lossy(&output.stderr)
                    ),
                })
            }
        });
        outcomes.push(Outcome {
            check,
            assertions,
            result,
        });
    }
    Ok(outcomes)
}

fn write(dir: &Path, name: &str, text: &str) -> Result<(), Error> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi_docs::AbiDocs;
    use xen_kexec_abi::layout::{self, CType, RANGE, SEGMENT};

    fn generated_header() -> String {
        let docs = AbiDocs::read(&crate::repo::for_tests()).expect("the docs read");
        kexec_h::render(&layout::ALL, &docs).expect("the header renders")
    }

    /// A copy of `def` whose field `field` has type `ctype`: the model with one number
    /// changed.
    fn perturbed(def: &'static StructDef, field: &str, ctype: CType) -> &'static StructDef {
        let fields: Vec<_> = def
            .fields
            .iter()
            .map(|&(name, t)| (name, if name == field { ctype } else { t }))
            .collect();
        Box::leak(Box::new(StructDef {
            c_name: def.c_name,
            rust_name: def.rust_name,
            fields: Box::leak(fields.into_boxed_slice()),
            guest_handle: def.guest_handle,
            compat: def.compat,
        }))
    }

    fn failed_arches(outcomes: &[Outcome]) -> Vec<(Arch, Dialect)> {
        outcomes
            .iter()
            .filter(|o| o.result.is_err())
            .map(|o| (o.check.arch, o.check.dialect))
            .collect()
    }

    #[test]
    fn the_generated_header_passes_every_check() {
        let outcomes = run(
            &generated_header(),
            &standard_checks(),
            &Expected::of(&layout::ALL),
        )
        .expect("the checks run");
        assert_eq!(outcomes.len(), 8);
        for o in &outcomes {
            assert!(o.result.is_ok(), "{}: {:?}", o.check.label(), o.result);
            assert!(o.assertions > 50, "{}", o.check.label());
        }
    }

    #[test]
    fn a_model_whose_range_is_fixed_width_fails_only_on_32_bit_arches() {
        // If the model said `uint64_t` where Xen has `unsigned long`, the 64-bit arches
        // could not tell; the 32-bit ones must.
        let model: Vec<&'static StructDef> = layout::ALL
            .iter()
            .map(|d| {
                if d.c_name == RANGE.c_name {
                    perturbed(&RANGE, "size", CType::U64)
                } else {
                    *d
                }
            })
            .collect();
        let outcomes = run(
            &generated_header(),
            &standard_checks(),
            &Expected::of(&model),
        )
        .expect("the checks run");
        assert_eq!(
            failed_arches(&outcomes),
            [
                (Arch::X86_32, Dialect::C11),
                (Arch::Arm32, Dialect::C11),
                (Arch::X86_32, Dialect::C89),
                (Arch::X86_32, Dialect::Cxx98),
            ]
        );
        let message = outcomes[0]
            .result
            .as_ref()
            .expect_err("x86_32 fails")
            .to_string();
        assert!(message.contains("x86_32: gcc -m32"), "{message}");
        assert!(
            message.contains("x86_32_offsetof_xen_kexec_range_t_start_is_16"),
            "{message}"
        );
    }

    #[test]
    fn a_model_with_a_wider_field_fails_on_every_arch() {
        let model: Vec<&'static StructDef> = layout::ALL
            .iter()
            .map(|d| {
                if d.c_name == SEGMENT.c_name {
                    perturbed(&SEGMENT, "buf_size", CType::U32)
                } else {
                    *d
                }
            })
            .collect();
        let checks: Vec<_> = Arch::ALL
            .into_iter()
            .map(|a| CCheck::new(a, Dialect::C11))
            .collect();
        let outcomes =
            run(&generated_header(), &checks, &Expected::of(&model)).expect("the checks run");
        assert_eq!(failed_arches(&outcomes).len(), 4);
        let arm64 = outcomes[3]
            .result
            .as_ref()
            .expect_err("arm64 fails")
            .to_string();
        assert!(
            arm64.contains("arm64: clang --target=aarch64-linux-gnu"),
            "{arm64}"
        );
    }

    #[test]
    fn a_wrong_constant_value_fails_the_check() {
        let mut expected = Expected::of(&layout::ALL);
        let crash = expected
            .constants
            .iter_mut()
            .find(|c| c.name == "KEXEC_TYPE_CRASH")
            .expect("listed");
        crash.value += 1;
        let checks = [CCheck::new(Arch::X86_64, Dialect::C89)];
        let outcomes = run(&generated_header(), &checks, &expected).expect("the checks run");
        let message = outcomes[0].result.as_ref().expect_err("fails").to_string();
        assert!(
            message.contains("x86_64_KEXEC_TYPE_CRASH_is_2"),
            "{message}"
        );
    }

    #[test]
    fn a_header_with_a_warning_fails_the_pedantic_checks() {
        // A C99 line comment is an error in C89 -pedantic.
        let header =
            generated_header().replace("#include \"xen.h\"\n", "#include \"xen.h\"\n// note\n");
        let checks = [CCheck::new(Arch::X86_32, Dialect::C89)];
        let outcomes = run(&header, &checks, &Expected::of(&layout::ALL)).expect("the checks run");
        assert!(outcomes[0].result.is_err());
    }

    #[test]
    fn a_header_that_defines_a_removed_command_fails_the_check() {
        let header = generated_header().replace(
            "#include \"xen.h\"\n",
            "#include \"xen.h\"\n#define KEXEC_CMD_kexec_unload_v1 2\n",
        );
        let checks = [CCheck::new(Arch::X86_64, Dialect::C11)];
        let outcomes = run(&header, &checks, &Expected::of(&layout::ALL)).expect("the checks run");
        let message = outcomes[0].result.as_ref().expect_err("fails").to_string();
        assert!(
            message.contains("KEXEC_CMD_kexec_unload_v1 is defined"),
            "{message}"
        );
    }

    #[test]
    fn a_missing_compiler_names_the_debian_package() {
        let mut check = CCheck::new(Arch::Arm32, Dialect::C11);
        check.compiler.program = "headgen-test-no-such-clang".to_owned();
        let outcomes =
            run(&generated_header(), &[check], &Expected::of(&layout::ALL)).expect("runs");
        let message = outcomes[0]
            .result
            .as_ref()
            .expect_err("missing")
            .to_string();
        assert!(message.contains("headgen-test-no-such-clang"), "{message}");
        assert!(message.contains("Debian package `clang`"), "{message}");
    }

    #[test]
    fn each_compiler_is_named_by_the_package_of_the_program_itself() {
        for arch in Arch::ALL {
            for dialect in [Dialect::C11, Dialect::C89, Dialect::Cxx98] {
                let compiler = Compiler::for_arch(arch, dialect);
                let expected = match compiler.program.as_str() {
                    "gcc" => "gcc",
                    "g++" => "g++",
                    "clang" | "clang++" => "clang",
                    other => unreachable!("unexpected compiler {other}"),
                };
                assert_eq!(compiler.package, expected, "{arch:?} {dialect:?}");
            }
        }
        let gcc32 = Error::MissingCompiler {
            program: "gcc".to_owned(),
            package: Compiler::for_arch(Arch::X86_32, Dialect::C89).package,
        }
        .to_string();
        assert!(gcc32.contains("apt-get install gcc)"), "{gcc32}");
        assert!(!gcc32.contains("multilib"), "-c needs no multilib: {gcc32}");
    }

    #[test]
    fn the_unit_asserts_every_number_from_the_model() {
        let range_only = Expected {
            model: &[&RANGE],
            constants: Vec::new(),
            undefined: vec!["KEXEC_CMD_kexec_load_v1"],
        };
        let tu = render(Arch::X86_32, Dialect::C11, &range_only);
        assert!(tu.contains("HEADGEN_CHECK(x86_32_sizeof_xen_kexec_range_t_is_16, sizeof(xen_kexec_range_t) == 16);"));
        assert!(tu.contains("offsetof(struct headgen_align_xen_kexec_range_t, t) == 4);"));
        assert!(tu.contains("offsetof(xen_kexec_range_t, start) == 12);"));
        assert!(tu.contains("sizeof(((xen_kexec_range_t *)0)->start) == 4);"));
        assert!(tu.contains("#ifdef KEXEC_CMD_kexec_load_v1\n#error"));
        let c89 = render(Arch::X86_32, Dialect::C89, &range_only);
        assert!(c89.contains("[(cond) ? 1 : -1]") && !c89.contains("_Static_assert"));
    }
}
