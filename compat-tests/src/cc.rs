// SPDX-License-Identifier: MIT
//! Compiling C with the guest's compiler and reading initialised objects back out of the
//! object file: how the fixtures get the bytes a real C compiler lays out.
//!
//! Only `-c` is used (no linking), with `-ffreestanding`, so `gcc -m32` works without
//! multilib and no sysroot is needed.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use object::{Object, ObjectSection, ObjectSymbol};
use xen_kexec_abi::GuestAbi;

/// Why a compile or a read-back failed: always says what to do about it.
#[derive(Debug)]
pub enum CcError {
    /// The compiler is not installed.
    Missing {
        /// The program looked for.
        program: String,
        /// The Debian package that provides it.
        package: &'static str,
    },
    /// The compiler ran and refused the source.
    Failed {
        /// The command line.
        command: String,
        /// What the compiler printed.
        stderr: String,
    },
    /// The object file could not be read, or lacks a symbol.
    Object(String),
    /// A file could not be read or written.
    Io(String),
}

impl fmt::Display for CcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CcError::Missing { program, package } => write!(
                f,
                "{program} is not installed: apt-get install {package} (or run scripts/setup)"
            ),
            CcError::Failed { command, stderr } => write!(f, "`{command}` failed:\n{stderr}"),
            CcError::Object(msg) | CcError::Io(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for CcError {}

/// The repository root (the parent of this crate's directory).
///
/// # Panics
/// Never in this workspace: the crate's directory always has a parent.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("compat-tests lives in the repository root")
        .to_path_buf()
}

/// The `-m` flag of a guest ABI for gcc.
fn width_flag(abi: GuestAbi) -> &'static str {
    match abi {
        GuestAbi::X86_32 => "-m32",
        GuestAbi::X86_64 => "-m64",
    }
}

/// Compiles `source` for `abi` with gcc (`-ffreestanding -c`, with the public header and
/// the test `xen.h` shim on the include path) and returns the object file's bytes.
///
/// # Errors
/// [`CcError::Missing`] naming the Debian package when gcc is absent, [`CcError::Failed`]
/// with the compiler's message when it refuses the source.
pub fn compile(source: &str, abi: GuestAbi, include_dirs: &[PathBuf]) -> Result<Vec<u8>, CcError> {
    let dir = scratch_dir()?;
    let c_file = dir.join("fixture.c");
    let o_file = dir.join("fixture.o");
    std::fs::write(&c_file, source)
        .map_err(|e| CcError::Io(format!("{}: {e}", c_file.display())))?;
    let mut cmd = Command::new("gcc");
    cmd.args([
        width_flag(abi),
        "-ffreestanding",
        "-fno-zero-initialized-in-bss",
        "-std=gnu11",
    ])
    .args(["-Wall", "-Wextra", "-Werror", "-c", "-o"])
    .arg(&o_file)
    .arg(&c_file);
    for dir in include_dirs {
        cmd.arg("-I").arg(dir);
    }
    let command = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => CcError::Missing {
            program: "gcc".into(),
            package: "gcc",
        },
        _ => CcError::Io(format!("running gcc: {e}")),
    })?;
    if !out.status.success() {
        return Err(CcError::Failed {
            command,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    let bytes =
        std::fs::read(&o_file).map_err(|e| CcError::Io(format!("{}: {e}", o_file.display())))?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(bytes)
}

/// The initialised bytes of the object named `symbol` in an ELF object file.
///
/// # Errors
/// [`CcError::Object`] when the file is not ELF, lacks the symbol, or the symbol has no
/// initialised bytes (it landed in `.bss`).
pub fn symbol_bytes(object_file: &[u8], symbol: &str) -> Result<Vec<u8>, CcError> {
    let file = object::File::parse(object_file)
        .map_err(|e| CcError::Object(format!("not an object file: {e}")))?;
    let sym = file
        .symbols()
        .find(|s| s.name() == Ok(symbol))
        .ok_or_else(|| CcError::Object(format!("no symbol {symbol} in the object file")))?;
    let section = sym
        .section_index()
        .and_then(|i| file.section_by_index(i).ok())
        .ok_or_else(|| CcError::Object(format!("{symbol} is not in a section")))?;
    let data = section
        .data()
        .map_err(|e| CcError::Object(format!("section of {symbol}: {e}")))?;
    let start = usize::try_from(sym.address() - section.address())
        .map_err(|_| CcError::Object(format!("{symbol}: offset out of range")))?;
    let len = usize::try_from(sym.size())
        .map_err(|_| CcError::Object(format!("{symbol}: size out of range")))?;
    data.get(start..start + len)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| CcError::Object(format!("{symbol}: no initialised bytes (in .bss?)")))
}

/// A fresh directory for one compile, removed after use.
fn scratch_dir() -> Result<PathBuf, CcError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "xen-kexec-abi-cc-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| CcError::Io(format!("{}: {e}", dir.display())))?;
    Ok(dir)
}
