// SPDX-License-Identifier: MIT
//! The command lines of `xen-kexec`, as clap definitions the binary parses with and
//! headgen renders the man pages and shell completions from ([`command`],
//! [`kexec_command`]).
//!
//! ```text
//! xen-kexec [--backend privcmd|sim:PATH] [--guest auto|x86_32|x86_64] [--json] COMMAND
//! kexec [kexec-tools' options] [KERNEL]        (the personality: [`kexec`])
//! ```

pub mod kexec;

use std::fmt;
use std::path::{Path, PathBuf};

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use xen_kexec_abi::host::MachineRange;
use xen_kexec_abi::{GuestAbi, KexecRangeKind, KexecType};

use crate::memmap::{parse_memory_map, MemRange};
use crate::num::{parse_i32, parse_range, parse_u32, parse_u64};
use crate::plan::BlobArg;

pub use kexec::{kexec_command, parse_kexec};

/// The Xen release whose public interface this toolstack speaks: the kexec ABI of
/// `xen/include/public/kexec.h` (and `memory.h`'s machine memory map) of Xen 4.23, which
/// the `xen-kexec-abi` crate follows byte for byte.
pub const XEN_INTERFACE_RELEASE: (u32, u32) = (4, 23);

/// [`XEN_INTERFACE_RELEASE`] in the encoding of Xen's `__XEN_LATEST_INTERFACE_VERSION__`
/// (`xen-compat.h`: `0x00MMmm00`, e.g. `0x00041300` for 4.19).
pub const XEN_INTERFACE_VERSION: u32 =
    (XEN_INTERFACE_RELEASE.0 << 16) | (XEN_INTERFACE_RELEASE.1 << 8);

/// What `--version` prints after the program's name: this version, and the Xen
/// interface it speaks.
pub fn version_text() -> String {
    format!(
        "{} (Xen kexec interface {}.{}, {XEN_INTERFACE_VERSION:#010x})",
        env!("CARGO_PKG_VERSION"),
        XEN_INTERFACE_RELEASE.0,
        XEN_INTERFACE_RELEASE.1
    )
}

/// The description of `xen-kexec(8)`.
const LONG_ABOUT: &str = "Loads, inspects and enters kexec images through Xen's kexec_op, \
over Linux privcmd in a dom0 (--backend privcmd, the default) or over a simulated \
hypervisor kept in a file (--backend sim:PATH).\n\n\
Exit status: 0 success; 1 refused (by the hypervisor, or by xen-kexec for a rule the \
hypervisor applies); 2 bad command-line input or file; 3 no hypervisor interface.\n\n\
Loads and unloads keep a status record under /run/xen-kexec (the directory \
XEN_KEXEC_STATE_DIR names, if set): Xen's status answer is a bit that every load and \
unload flips, and `status` reports presence from the record when that bit agrees with \
it. Run as `kexec` (a symlink or hard link), or as `xen-kexec kexec ARGS...`, it reads \
kexec-tools' command line: see kexec(8).";

/// The environment variable that gives `--backend` when the option is not given (and
/// the `kexec` personality's backend, which has no such option).
pub const BACKEND_ENV: &str = "XEN_KEXEC_BACKEND";

/// The native command line, for the man page and completions.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Whether the program named `argv0` runs as the `kexec` personality: its file name is
/// `kexec`.
pub fn is_kexec_name(argv0: &std::ffi::OsStr) -> bool {
    Path::new(argv0).file_name().is_some_and(|n| n == "kexec")
}

/// The command line of `xen-kexec`.
#[derive(Debug, Parser)]
#[command(name = "xen-kexec", version = version_text(), about, long_about = LONG_ABOUT)]
pub struct Cli {
    /// How hypercalls are made: Linux privcmd (in a Xen dom0), or the simulated
    /// hypervisor whose state is kept in the file PATH (`sim:PATH`).
    #[arg(
        long,
        value_name = "privcmd|sim:PATH",
        default_value = "privcmd",
        env = BACKEND_ENV,
        value_parser = parse_backend
    )]
    pub backend: Backend,
    /// The argument layout: the dom0 kernel's (auto), or forced.
    #[arg(long, value_parser = auto_guest(), default_value = "auto")]
    pub guest: AutoGuest,
    /// Print one JSON object per command on stdout (refusals too).
    #[arg(long)]
    pub json: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// `--backend`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Linux privcmd, in a Xen dom0.
    Privcmd,
    /// The simulated hypervisor whose state is the file.
    Sim(PathBuf),
}

/// `privcmd` or `sim:PATH`.
///
/// # Errors
/// Anything else, quoted.
pub fn parse_backend(text: &str) -> Result<Backend, String> {
    match text.split_once(':') {
        None if text == "privcmd" => Ok(Backend::Privcmd),
        Some(("sim", path)) if !path.is_empty() => Ok(Backend::Sim(PathBuf::from(path))),
        _ => Err(format!("`{text}` is neither `privcmd` nor `sim:PATH`")),
    }
}

/// `--guest`: a width, or `None` for `auto` (the dom0 kernel's). An alias, so that clap
/// takes the value from the parser below rather than making the option optional.
pub type AutoGuest = Option<GuestAbi>;

/// The names `--guest` and `--kernel` take for a [`GuestAbi`]: its own (`x86_32`,
/// `x86_64`), with clap's list of possible values in messages and help.
pub fn guest_abi() -> impl TypedValueParser<Value = GuestAbi> {
    PossibleValuesParser::new(GuestAbi::ALL.map(GuestAbi::name)).try_map(|name| {
        GuestAbi::from_name(&name).ok_or_else(|| format!("`{name}` is not a guest width"))
    })
}

/// `--guest auto|x86_32|x86_64`.
pub fn auto_guest() -> impl TypedValueParser<Value = AutoGuest> {
    let names = ["auto"]
        .into_iter()
        .chain(GuestAbi::ALL.map(GuestAbi::name));
    PossibleValuesParser::new(names).try_map(|name| match name.as_str() {
        "auto" => Ok(None),
        _ => GuestAbi::from_name(&name)
            .map(Some)
            .ok_or_else(|| format!("`{name}` is not a guest width")),
    })
}

/// `--type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TypeArg {
    /// `KEXEC_TYPE_DEFAULT`: the image a reboot enters.
    Default,
    /// `KEXEC_TYPE_CRASH`: the image a crash enters.
    Crash,
}

impl TypeArg {
    /// The ABI's value.
    pub fn kexec_type(self) -> KexecType {
        match self {
            TypeArg::Default => KexecType::DEFAULT,
            TypeArg::Crash => KexecType::CRASH,
        }
    }
}

/// `--range`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RangeArg {
    /// `KEXEC_RANGE_MA_CRASH`.
    Crash,
    /// `KEXEC_RANGE_MA_XEN`.
    Xen,
    /// `KEXEC_RANGE_MA_CPU`.
    Cpu,
    /// `KEXEC_RANGE_MA_XENHEAP`.
    Xenheap,
    /// `KEXEC_RANGE_MA_BOOT_PARAM`.
    BootParam,
    /// `KEXEC_RANGE_MA_EFI_MEMMAP`.
    EfiMemmap,
    /// `KEXEC_RANGE_MA_VMCOREINFO`.
    Vmcoreinfo,
}

impl RangeArg {
    /// The ABI's value.
    pub fn kind(self) -> KexecRangeKind {
        match self {
            RangeArg::Crash => KexecRangeKind::MA_CRASH,
            RangeArg::Xen => KexecRangeKind::MA_XEN,
            RangeArg::Cpu => KexecRangeKind::MA_CPU,
            RangeArg::Xenheap => KexecRangeKind::MA_XENHEAP,
            RangeArg::BootParam => KexecRangeKind::MA_BOOT_PARAM,
            RangeArg::EfiMemmap => KexecRangeKind::MA_EFI_MEMMAP,
            RangeArg::Vmcoreinfo => KexecRangeKind::MA_VMCOREINFO,
        }
    }
}

/// The commands of `xen-kexec`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Whether an image of the type is loaded: prints `loaded`, `not loaded`, or why
    /// that is unknown (from xen-kexec's status record, checked against Xen's bit).
    Status {
        /// The image type.
        #[arg(long = "type", value_enum)]
        type_: TypeArg,
    },
    /// A machine range the hypervisor reports: prints `start 0x... size 0x...`.
    GetRange {
        /// The range.
        #[arg(long, value_enum)]
        range: RangeArg,
        /// The physical CPU, for `--range cpu` (decimal or 0x hex; a negative number is
        /// sent as it is, and the hypervisor refuses it).
        #[arg(long, value_name = "N", value_parser = parse_i32, allow_hyphen_values = true)]
        cpu: Option<i32>,
    },
    /// Load a Linux bzImage (--kernel) or an ELF image (--elf) as the image of the type.
    Load(LoadArgs),
    /// Unload the image of the type.
    Unload {
        /// The image type.
        #[arg(long = "type", value_enum)]
        type_: TypeArg,
    },
    /// Enter the loaded image of the type (on a real hypervisor, does not return).
    Exec {
        /// The image type.
        #[arg(long = "type", value_enum)]
        type_: TypeArg,
    },
    /// The machine's memory map (memory_op XENMEM_machine_memory_map): one e820 range a
    /// line.
    MemoryMap,
    /// Decode a captured kexec_op hypercall from guest memory images (in words, or JSON
    /// with --json).
    Decode(DecodeArgs),
    /// The simulated hypervisor's state file.
    #[command(subcommand)]
    Sim(SimCommand),
    /// kexec-tools' command line (the `kexec` personality): `xen-kexec kexec -p ...` is
    /// `kexec -p ...`; see kexec(8) of this package.
    #[command(disable_help_flag = true)]
    Kexec {
        /// kexec-tools' options and the kernel.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        args: Vec<std::ffi::OsString>,
    },
}

/// Arguments of `load`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("image").required(true).args(["elf", "kernel"])))]
#[allow(clippy::struct_excessive_bools)] // each is a command-line flag
pub struct LoadArgs {
    /// The image type.
    #[arg(long = "type", value_enum)]
    pub type_: TypeArg,
    /// The ELF image: one segment per PT_LOAD at its physical address.
    #[arg(long, value_name = "FILE")]
    pub elf: Option<PathBuf>,
    /// A Linux bzImage (boot protocol 2.12 or later, 64-bit), entered through
    /// xen-kexec's purgatory.
    #[arg(long, value_name = "BZIMAGE")]
    pub kernel: Option<PathBuf>,
    /// The Linux image's initial ramdisk.
    #[arg(long, value_name = "FILE", conflicts_with = "elf")]
    pub initrd: Option<PathBuf>,
    /// The Linux image's command line.
    #[arg(
        long,
        visible_alias = "command-line",
        value_name = "TEXT",
        conflicts_with = "elf"
    )]
    pub append: Option<String>,
    /// Start the command line with the running kernel's (/proc/cmdline) minus
    /// crashkernel= and BOOT_IMAGE=.
    #[arg(long, conflicts_with = "elf")]
    pub reuse_cmdline: bool,
    /// Do not have the purgatory check the segments' SHA-256 digests.
    #[arg(long, conflicts_with = "elf")]
    pub no_checks: bool,
    /// Test only: give the purgatory one wrong digest, so that it must refuse to enter.
    #[arg(long, hide = true, conflicts_with = "elf")]
    pub test_corrupt_digest: bool,
    /// Test only: leave elfcorehdr= off a crash kernel's command line.
    #[arg(long, hide = true, conflicts_with = "elf")]
    pub test_no_elfcorehdr: bool,
    /// A raw blob (initrd, parameter block) at machine address ADDR. Repeatable.
    #[arg(long = "blob", value_name = "FILE@ADDR", value_parser = parse_blob, conflicts_with = "kernel")]
    pub blobs: Vec<BlobArg>,
    /// The entry point's machine address, overriding the ELF's e_entry.
    #[arg(long, value_name = "ADDR", value_parser = parse_u64, conflicts_with = "kernel")]
    pub entry: Option<u64>,
    /// Add kexec-tools' segment without a buffer that maps the first MiB.
    #[arg(long, conflicts_with = "kernel")]
    pub map_low_1m: bool,
    /// Allow 16 segments (real Xen refuses 16; hypervisors built on xen-kexec-hypervisor
    /// take them).
    #[arg(long = "allow-16-segments")]
    pub allow_16_segments: bool,
    /// Plan and check the load, print it, and send nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `FILE@ADDR`.
///
/// # Errors
/// Text without `@`, no file, or a bad address, quoted.
pub fn parse_blob(text: &str) -> Result<BlobArg, String> {
    let (path, addr) = text
        .rsplit_once('@')
        .ok_or_else(|| format!("`{text}` is not FILE@ADDR"))?;
    if path.is_empty() {
        return Err(format!("`{text}` names no file before `@`"));
    }
    Ok(BlobArg {
        path: PathBuf::from(path),
        addr: parse_u64(addr)?,
    })
}

/// The `sim` commands.
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Create (or reset) a simulated host in the file PATH.
    Init {
        /// The state file.
        path: PathBuf,
        /// The crash region (START:SIZE; SIZE 0 for none).
        #[arg(long, value_name = "START:SIZE", value_parser = parse_range)]
        crash_region: MachineRange,
        /// The number of CPUs.
        #[arg(long, value_name = "N", value_parser = parse_u32)]
        cpus: Option<u32>,
        /// Xen's own image (KEXEC_RANGE_MA_XEN).
        #[arg(long, value_name = "START:SIZE", value_parser = parse_range)]
        xen: Option<MachineRange>,
        /// The vmcoreinfo note.
        #[arg(long, value_name = "START:SIZE", value_parser = parse_range)]
        vmcoreinfo: Option<MachineRange>,
        /// CPU 0's crash notes (KEXEC_RANGE_MA_CPU 0); CPU i's are the i-th range of the
        /// same size after them.
        #[arg(long, value_name = "START:SIZE", value_parser = parse_range)]
        cpu_notes: Option<MachineRange>,
        /// The simulated dom0 kernel's width.
        #[arg(long, value_parser = guest_abi(), default_value = "x86_64")]
        kernel: GuestAbi,
        /// The machine's e820 map, in ascending order: START:SIZE:KIND entries separated
        /// by commas, KIND one of ram, reserved, acpi, nvs, unusable or a number
        /// (default: a 1 GiB QEMU PC's).
        #[arg(long, value_name = "START:SIZE:KIND,...", value_parser = parse_memory_map_arg)]
        memory_map: Option<MemoryMapSpec>,
    },
    /// Raw bytes to stdout: what the loaded image of the type finds at machine
    /// addresses [ADDR, ADDR + N) when entered.
    Dump {
        /// The state file.
        path: PathBuf,
        /// The image type.
        #[arg(long = "type", value_enum)]
        type_: TypeArg,
        /// The first machine address.
        #[arg(long, value_name = "ADDR", value_parser = parse_u64)]
        maddr: u64,
        /// The number of bytes.
        #[arg(long, value_name = "N", value_parser = parse_u64)]
        len: u64,
    },
}

/// `--memory-map`: the ranges it lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryMapSpec(pub Vec<MemRange>);

/// `START:SIZE:KIND,...`.
///
/// # Errors
/// The first bad entry, named.
pub fn parse_memory_map_arg(text: &str) -> Result<MemoryMapSpec, String> {
    parse_memory_map(text)
        .map(MemoryMapSpec)
        .map_err(|e| e.to_string())
}

impl Command {
    /// The command's name, as messages and `"command"` give it.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Status { .. } => "status",
            Command::GetRange { .. } => "get-range",
            Command::Load(_) => "load",
            Command::Unload { .. } => "unload",
            Command::Exec { .. } => "exec",
            Command::MemoryMap => "memory-map",
            Command::Decode(_) => "decode",
            Command::Sim(SimCommand::Init { .. }) => "sim init",
            Command::Sim(SimCommand::Dump { .. }) => "sim dump",
            Command::Kexec { .. } => "kexec",
        }
    }
}

/// Arguments of `xen-kexec decode`.
#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    /// The width of the guest that made the call: its argument layouts.
    #[arg(long, value_parser = guest_abi())]
    pub guest: GuestAbi,
    /// The command: kexec_op's first argument (decimal or 0x hex).
    #[arg(long, value_name = "N", value_parser = parse_u32)]
    pub cmd: u32,
    /// The guest address of the argument structure (decimal or 0x hex).
    #[arg(long, value_name = "ADDR", value_parser = parse_u64)]
    pub arg: u64,
    /// Guest memory: the bytes of FILE at guest address ADDR. Repeat for more regions;
    /// regions must not overlap.
    #[arg(long = "mem", value_name = "ADDR=FILE", value_parser = parse_mem)]
    pub mem: Vec<MemArg>,
    /// The host's crash region, START:SIZE (each decimal or 0x hex). Without it the host
    /// has none, and every crash-image load is refused.
    #[arg(long, value_name = "START:SIZE", value_parser = parse_range)]
    pub crash_region: Option<MachineRange>,
    /// The rules to decode by: this crate's (`strict`), or Xen's answers (`xen`: at most
    /// 15 segments, the reserved `_pad` byte ignored), as Xen itself calls the decoder.
    #[arg(long, value_enum, default_value_t = RulesArg::Strict)]
    pub rules: RulesArg,
}

/// `--rules`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RulesArg {
    /// `RuleProfile::Strict`: 16 segments accepted, a non-zero `_pad` refused.
    Strict,
    /// `RuleProfile::Xen`: at most 15 segments, `_pad` ignored.
    Xen,
}

impl RulesArg {
    /// The abi crate's profile.
    pub fn profile(self) -> xen_kexec_abi::host::RuleProfile {
        match self {
            RulesArg::Strict => xen_kexec_abi::host::RuleProfile::Strict,
            RulesArg::Xen => xen_kexec_abi::host::RuleProfile::Xen,
        }
    }
}

/// One `--mem ADDR=FILE`, as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemArg {
    /// The guest address.
    pub addr: u64,
    /// The file.
    pub path: PathBuf,
}

impl fmt::Display for MemArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}={}", self.addr, self.path.display())
    }
}

/// `ADDR=FILE`.
///
/// # Errors
/// Text without `=`, no file, or a bad address, quoted.
pub fn parse_mem(text: &str) -> Result<MemArg, String> {
    let (addr, path) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not ADDR=FILE"))?;
    if path.is_empty() {
        return Err(format!("`{text}` names no file after `=`"));
    }
    Ok(MemArg {
        addr: parse_u64(addr)?,
        path: PathBuf::from(path),
    })
}
