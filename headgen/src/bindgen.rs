//! Runs cbindgen, as a library, over the abi crate's source.
//!
//! cbindgen reads `abi/src/x86_64.rs` (the structures, with their doc comments) and
//! `abi/src/consts.rs` (the `KEXEC_*` constants). What it emits is restricted to the ABI:
//! - structures: only those the layout model lists (their `rust_name`s are cbindgen's
//!   include list, renamed to the model's `c_name`s), so other public types of the abi
//!   crate never reach the header;
//! - constants: `consts.rs` also holds constants that other headers define, and those
//!   are excluded ([`excluded_constants`]). Like Xen's own `kexec.h`, the header defines
//!   none of them, since defining them here could clash with their own header in a C
//!   consumer:
//!   - `EM_*` belong to `<elf.h>` and the errno values `XEN_E*` to Xen's `errno.h`; they
//!     are excluded by the names their open enums ([`ElfMachine`], [`Errno`]) list;
//!   - hypercall numbers belong to Xen's `xen.h` (which `kexec.h` includes): every
//!     constant of `consts.rs` whose name starts with [`HYPERCALL_PREFIX`] is excluded.
//!
//! The open enums are defined by a macro, which cbindgen does not expand, and the guest
//! handle is a generic Rust type with no C equivalent. So that cbindgen knows every type
//! the structures use, headgen hands it a small *prelude* of stand-in declarations,
//! derived from the Rust types themselves (their names, and the integer each open enum
//! wraps). What cbindgen renders for them is replaced by Xen's spelling in
//! [`crate::xenify`].
//!
//! cbindgen reports problems (an unknown type, a skipped item) only as `log` warnings and
//! carries on, emitting the unknown name verbatim. headgen installs a logger that records
//! them, and any warning fails generation.

use std::any::type_name;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use xen_kexec_abi::layout::StructDef;
use xen_kexec_abi::{
    ConstVoid, ElfMachine, Errno, GuestHandle64, KexecCmd, KexecExecType, KexecRangeKind,
    KexecType, OpenEnum,
};

use crate::error::Error;

/// The macro cbindgen is told to write for `#[repr(align(N))]`, so that it renders those
/// structures at all; [`crate::xenify`] removes it again.
pub(crate) const ALIGN_MARKER: &str = "HEADGEN_REPR_ALIGN";

/// The abi crate's source files that cbindgen reads.
#[derive(Clone, Debug)]
pub(crate) struct AbiSources {
    /// The structures: `abi/src/x86_64.rs`.
    pub(crate) structs: PathBuf,
    /// The constants: `abi/src/consts.rs`.
    pub(crate) consts: PathBuf,
}

impl AbiSources {
    /// The sources in the workspace at `root`.
    pub(crate) fn in_workspace(root: &Path) -> Self {
        AbiSources {
            structs: root.join("abi/src/x86_64.rs"),
            consts: root.join("abi/src/consts.rs"),
        }
    }
}

/// An open enum as cbindgen sees it through the prelude, and as C spells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OpenEnumType {
    /// The Rust type's name (`KexecType`).
    pub(crate) rust_name: &'static str,
    /// The Rust integer it wraps (`u8`).
    pub(crate) repr: &'static str,
    /// Its C type, [`OpenEnum::C_TYPE`] (`uint8_t`).
    pub(crate) c_type: &'static str,
}

impl OpenEnumType {
    fn of<T: OpenEnum>() -> Self {
        OpenEnumType {
            rust_name: short_name::<T>(),
            repr: short_name::<T::Repr>(),
            c_type: T::C_TYPE,
        }
    }
}

/// The Rust types cbindgen meets in the structures that it cannot see the definitions
/// of, and what C makes of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StandIns {
    /// Every open enum of the abi crate.
    pub(crate) open_enums: Vec<OpenEnumType>,
    /// The guest handle type's name (`GuestHandle64`); cbindgen names an instance
    /// `GuestHandle64_<Pointee>`.
    pub(crate) handle: &'static str,
    /// The untyped pointee's Rust name (`ConstVoid`; Xen's `const_void`).
    pub(crate) const_void: &'static str,
}

impl StandIns {
    /// The stand-ins of the abi crate's types.
    pub(crate) fn of_abi() -> Self {
        StandIns {
            open_enums: vec![
                OpenEnumType::of::<KexecCmd>(),
                OpenEnumType::of::<KexecType>(),
                OpenEnumType::of::<KexecExecType>(),
                OpenEnumType::of::<KexecRangeKind>(),
                OpenEnumType::of::<ElfMachine>(),
                OpenEnumType::of::<Errno>(),
            ],
            handle: short_name::<GuestHandle64<ConstVoid>>(),
            const_void: short_name::<ConstVoid>(),
        }
    }

    /// The prelude: Rust declarations cbindgen can read in place of the real ones.
    pub(crate) fn prelude(&self) -> String {
        let mut out = String::from(
            "//! Stand-ins written by headgen so that cbindgen knows every type of the \
             kexec structures.\n",
        );
        for e in &self.open_enums {
            let _ = writeln!(out, "pub type {} = {};", e.rust_name, e.repr);
        }
        let _ = writeln!(out, "pub struct {}<T>(T);", self.handle);
        let _ = writeln!(out, "pub struct {};", self.const_void);
        out
    }

    /// The open enum named `rust_name`, if it is one.
    pub(crate) fn open_enum(&self, rust_name: &str) -> Option<&OpenEnumType> {
        self.open_enums.iter().find(|e| e.rust_name == rust_name)
    }
}

/// The last path segment of a type's name, without generic arguments
/// (`xen_kexec_abi::handle::GuestHandle64<…>` → `GuestHandle64`).
fn short_name<T: ?Sized>() -> &'static str {
    let full = type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// How the names of Xen's hypercall numbers start (`__HYPERVISOR_kexec_op`): they are
/// defined by Xen's `xen.h`, never by `kexec.h`.
pub(crate) const HYPERCALL_PREFIX: &str = "__HYPERVISOR_";

/// The names of the constants of `consts.rs` (whose source is `consts_source`) that the
/// header must not define: the ELF machines, the errno values, and the hypercall
/// numbers (see the module documentation).
pub(crate) fn excluded_constants(consts_source: &str) -> Vec<String> {
    fn names<T: OpenEnum>() -> impl Iterator<Item = String> {
        T::KNOWN.iter().map(|(name, _)| (*name).to_owned())
    }
    let hypercalls = consts_source.lines().filter_map(|line| {
        let rest = line.trim_start().strip_prefix("pub const ")?;
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..end];
        name.starts_with(HYPERCALL_PREFIX).then(|| name.to_owned())
    });
    names::<ElfMachine>()
        .chain(names::<Errno>())
        .chain(hypercalls)
        .collect()
}

/// The text around cbindgen's declarations: Xen's framing of a public header.
#[derive(Clone, Debug)]
pub(crate) struct Framing {
    /// Everything before the include guard (licence, banner).
    pub(crate) header: String,
    /// The include guard's macro.
    pub(crate) include_guard: String,
    /// The headers included (with quotes: `"xen.h"`).
    pub(crate) include: String,
    /// Everything after the include guard's `#endif`.
    pub(crate) trailer: String,
}

/// Runs cbindgen over `sources`, emitting the structures of `model` (in its order) and
/// the constants, inside `framing`.
pub(crate) fn run(
    sources: &AbiSources,
    model: &[&'static StructDef],
    stand_ins: &StandIns,
    framing: &Framing,
) -> Result<String, Error> {
    let dir = tempfile::tempdir().map_err(|e| Error::io("creating a temporary directory", e))?;
    let prelude_path = dir.path().join("prelude.rs");
    std::fs::write(&prelude_path, stand_ins.prelude())
        .map_err(|e| Error::io(format!("writing {}", prelude_path.display()), e))?;
    for path in [&sources.structs, &sources.consts] {
        // cbindgen reports a missing file only as a parse error without the path.
        if !path.is_file() {
            return Err(Error::io(
                format!("reading {}", path.display()),
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
    }

    let mut config = cbindgen::Config {
        language: cbindgen::Language::C,
        // `typedef struct tag { ... } name;` (the typedef gets Xen's `_t` in xenify).
        style: cbindgen::Style::Both,
        documentation: true,
        documentation_style: cbindgen::DocumentationStyle::Doxy,
        documentation_length: cbindgen::DocumentationLength::Full,
        // Keep the source order: constants as consts.rs lists them, structures as the
        // model does.
        sort_by: cbindgen::SortKey::None,
        tab_width: 4,
        no_includes: true,
        includes: vec![framing.include.clone()],
        header: Some(framing.header.clone()),
        include_guard: Some(framing.include_guard.clone()),
        trailer: Some(framing.trailer.clone()),
        ..cbindgen::Config::default()
    };
    config.layout.aligned_n = Some(ALIGN_MARKER.to_owned());
    for def in model {
        config.export.include.push(def.rust_name.to_owned());
        config
            .export
            .rename
            .insert(def.rust_name.to_owned(), def.c_name.to_owned());
    }
    let consts_source = std::fs::read_to_string(&sources.consts)
        .map_err(|e| Error::io(format!("reading {}", sources.consts.display()), e))?;
    config.export.exclude = excluded_constants(&consts_source);

    let builder = cbindgen::Builder::new()
        .with_config(config)
        .with_src(&prelude_path)
        .with_src(&sources.structs)
        .with_src(&sources.consts);
    let (bindings, warnings) = with_recorded_warnings(|| builder.generate())?;
    let bindings = bindings.map_err(|e| Error::Cbindgen(e.to_string()))?;
    if !warnings.is_empty() {
        return Err(Error::CbindgenWarnings(warnings));
    }
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).map_err(|e| Error::Cbindgen(format!("output is not UTF-8: {e}")))
}

/// The logger that records cbindgen's warnings and errors.
struct Recorder {
    records: Mutex<Vec<String>>,
}

impl log::Log for Recorder {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            self.records
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(format!("{}", record.args()));
        }
    }

    fn flush(&self) {}
}

static RECORDER: Recorder = Recorder {
    records: Mutex::new(Vec::new()),
};

/// Serialises cbindgen runs: the logger is global, and each run must see only its own
/// warnings (tests run generations on several threads).
static RUN: Mutex<()> = Mutex::new(());

/// Runs `f` with the recording logger installed, and returns what it logged at `warn`
/// level or above.
fn with_recorded_warnings<T>(f: impl FnOnce() -> T) -> Result<(T, Vec<String>), Error> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            log::set_logger(&RECORDER)
                .map(|()| log::set_max_level(log::LevelFilter::Warn))
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| {
            Error::Cbindgen(format!(
                "cannot install the logger that catches its warnings: {e}"
            ))
        })?;
    let _run = RUN.lock().unwrap_or_else(PoisonError::into_inner);
    RECORDER
        .records
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
    let value = f();
    let warnings = std::mem::take(
        &mut *RECORDER
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
    Ok((value, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stand_ins_are_named_after_the_rust_types() {
        let s = StandIns::of_abi();
        assert_eq!(s.handle, "GuestHandle64");
        assert_eq!(s.const_void, "ConstVoid");
        let kexec_type = s.open_enum("KexecType").expect("KexecType is an open enum");
        assert_eq!((kexec_type.repr, kexec_type.c_type), ("u8", "uint8_t"));
        let range = s
            .open_enum("KexecRangeKind")
            .expect("KexecRangeKind is an open enum");
        assert_eq!((range.repr, range.c_type), ("i32", "int"));
        assert!(s.prelude().contains("pub type ElfMachine = u16;\n"));
    }

    #[test]
    fn elf_machines_errnos_and_hypercall_numbers_are_excluded_from_the_header() {
        let source = [
            "pub const KEXEC_TYPE_CRASH: u8 = 1;",
            "pub const __HYPERVISOR_kexec_op: u32 = 37;",
            "/// `__HYPERVISOR_other` in a comment is no constant.",
            "    pub const __HYPERVISOR_xen_version: u32 = 17;",
        ]
        .join("\n");
        let excluded = excluded_constants(&source);
        for name in [
            "EM_386",
            "EM_X86_64",
            "XEN_EINVAL",
            "__HYPERVISOR_kexec_op",
            "__HYPERVISOR_xen_version",
        ] {
            assert!(excluded.iter().any(|e| e == name), "{name}: {excluded:?}");
        }
        assert!(
            excluded
                .iter()
                .all(|name| !name.starts_with("KEXEC_") && name != "__HYPERVISOR_other"),
            "{excluded:?}"
        );
    }

    #[test]
    fn the_abi_crates_hypercall_number_is_excluded() {
        let source = std::fs::read_to_string(crate::workspace_root().join("abi/src/consts.rs"))
            .expect("consts.rs reads");
        let excluded = excluded_constants(&source);
        assert!(
            excluded.iter().any(|e| e == "__HYPERVISOR_kexec_op"),
            "{excluded:?}"
        );
    }

    #[test]
    fn a_logged_warning_is_recorded() {
        let ((), warnings) = with_recorded_warnings(|| log::warn!("Can't find Mystery."))
            .expect("the logger installs");
        assert_eq!(warnings, ["Can't find Mystery."]);
        let ((), none) = with_recorded_warnings(|| log::info!("Take x86_64::KexecExec."))
            .expect("the logger installs");
        assert!(none.is_empty(), "info messages are not warnings: {none:?}");
    }
}
