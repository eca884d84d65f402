// SPDX-License-Identifier: MIT
//! `xen-kexec`: load, inspect and enter kexec images through Xen's `kexec_op`, over
//! Linux privcmd in a dom0 or over a simulated hypervisor kept in a file.
//!
//! ```text
//! xen-kexec [--backend privcmd|sim:PATH] [--guest auto|x86_32|x86_64] [--json] COMMAND
//!   status    --type default|crash
//!   get-range --range crash|xen|cpu|xenheap|boot-param|efi-memmap|vmcoreinfo [--cpu N]
//!   load      --type default|crash --elf FILE [--blob FILE@ADDR]... [--entry ADDR]
//!             [--map-low-1m] [--allow-16-segments] [--dry-run]
//!   load      --type default|crash --kernel BZIMAGE [--initrd FILE]
//!             [--append TEXT] [--reuse-cmdline] [--no-checks] [--dry-run]
//!   unload    --type default|crash
//!   exec      --type default|crash
//!   memory-map
//!   decode    --guest x86_32|x86_64 --cmd N --arg ADDR --mem ADDR=FILE... [--crash-region START:SIZE]
//!   sim init  PATH --crash-region START:SIZE [--cpus N] [--xen START:SIZE]
//!             [--vmcoreinfo START:SIZE] [--cpu-notes START:SIZE] [--kernel x86_32|x86_64]
//!             [--memory-map START:SIZE:KIND,...]
//!   sim dump  PATH --type default|crash --maddr ADDR --len N
//! ```
//!
//! Exit status: 0 success; 1 the hypervisor refused (`ENAME (value): reason` on stderr,
//! or a JSON error object on stdout with `--json`); 2 bad command-line input or file;
//! 3 no hypervisor interface. `docs/cli.md` documents the output and the JSON schema
//! (the types of [`report`]).

mod decode;
mod linux_load;
mod output;
mod report;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;
use xen_kexec_abi::host::MachineRange;
use xen_kexec_abi::{GuestAbi, KexecRangeKind, KexecType};
use xen_kexec_hypervisor::sim::{SimConfig, SimE820, SimError, SimRange};
use xen_kexec_toolstack::memmap::{parse_memory_map, MemRange};
use xen_kexec_toolstack::num::{parse_i32, parse_range, parse_u32, parse_u64};
use xen_kexec_toolstack::plan::{self, BlobArg, PlanOptions, MAX_LOAD_BYTES};
use xen_kexec_toolstack::privcmd::PrivcmdTransport;
use xen_kexec_toolstack::sim::SimTransport;
use xen_kexec_toolstack::{Client, Refusal, Transport, TransportError};

use output::{report_failure, write_stdout, Failure};
use report::{
    ExecReport, GetRangeReport, Head, Hex, LoadReport, MemoryMapReport, Mode, RangeJson,
    SimInitReport, StatusReport, UnloadReport, SCHEMA,
};

/// Command line of xen-kexec.
#[derive(Debug, Parser)]
#[command(name = "xen-kexec", version, about)]
struct Cli {
    /// How hypercalls are made: Linux privcmd (in a Xen dom0), or the simulated
    /// hypervisor whose state is kept in the file PATH (`sim:PATH`).
    #[arg(long, value_name = "privcmd|sim:PATH", default_value = "privcmd", value_parser = parse_backend)]
    backend: Backend,
    /// The argument layout: the dom0 kernel's (auto), or forced.
    #[arg(long, value_parser = auto_guest(), default_value = "auto")]
    guest: AutoGuest,
    /// Print one JSON object per command on stdout (refusals too).
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// `--backend`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Backend {
    Privcmd,
    Sim(PathBuf),
}

fn parse_backend(text: &str) -> Result<Backend, String> {
    match text.split_once(':') {
        None if text == "privcmd" => Ok(Backend::Privcmd),
        Some(("sim", path)) if !path.is_empty() => Ok(Backend::Sim(PathBuf::from(path))),
        _ => Err(format!("`{text}` is neither `privcmd` nor `sim:PATH`")),
    }
}

/// `--guest`: a width, or `None` for `auto` (the dom0 kernel's). An alias, so that clap
/// takes the value from the parser below rather than making the option optional.
type AutoGuest = Option<GuestAbi>;

/// The names `--guest` and `--kernel` take for a [`GuestAbi`]: its own (`x86_32`,
/// `x86_64`), with clap's list of possible values in messages and help.
fn guest_abi() -> impl TypedValueParser<Value = GuestAbi> {
    PossibleValuesParser::new(GuestAbi::ALL.map(GuestAbi::name)).try_map(|name| {
        GuestAbi::from_name(&name).ok_or_else(|| format!("`{name}` is not a guest width"))
    })
}

/// `--guest auto|x86_32|x86_64`.
fn auto_guest() -> impl TypedValueParser<Value = AutoGuest> {
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
enum TypeArg {
    Default,
    Crash,
}

impl TypeArg {
    fn kexec_type(self) -> KexecType {
        match self {
            TypeArg::Default => KexecType::DEFAULT,
            TypeArg::Crash => KexecType::CRASH,
        }
    }
}

/// `--range`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum RangeArg {
    Crash,
    Xen,
    Cpu,
    Xenheap,
    BootParam,
    EfiMemmap,
    Vmcoreinfo,
}

impl RangeArg {
    fn kind(self) -> KexecRangeKind {
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

#[derive(Debug, Subcommand)]
enum Command {
    /// Whether an image of the type is loaded: prints `loaded` or `not loaded`.
    Status {
        #[arg(long = "type", value_enum)]
        type_: TypeArg,
    },
    /// A machine range the hypervisor reports: prints `start 0x… size 0x…`.
    GetRange {
        #[arg(long, value_enum)]
        range: RangeArg,
        /// The physical CPU, for `--range cpu` (decimal or 0x hex; a negative number is
        /// sent as it is, and the hypervisor refuses it).
        #[arg(long, value_name = "N", value_parser = parse_i32, allow_hyphen_values = true)]
        cpu: Option<i32>,
    },
    /// Load an ELF image (and blobs) as the image of the type.
    Load(LoadArgs),
    /// Unload the image of the type.
    Unload {
        #[arg(long = "type", value_enum)]
        type_: TypeArg,
    },
    /// Enter the loaded image of the type (on a real hypervisor, does not return).
    Exec {
        #[arg(long = "type", value_enum)]
        type_: TypeArg,
    },
    /// The machine's memory map (memory_op XENMEM_machine_memory_map): one e820 range a
    /// line.
    MemoryMap,
    /// Decode a captured kexec_op hypercall from guest memory images (in words, or JSON
    /// with --json).
    Decode(decode::DecodeArgs),
    /// The simulated hypervisor's state file.
    #[command(subcommand)]
    Sim(SimCommand),
}

/// Arguments of `load`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("image").required(true).args(["elf", "kernel"])))]
#[allow(clippy::struct_excessive_bools)] // each is a command-line flag
struct LoadArgs {
    #[arg(long = "type", value_enum)]
    type_: TypeArg,
    /// The ELF image: one segment per PT_LOAD at its physical address.
    #[arg(long, value_name = "FILE")]
    elf: Option<PathBuf>,
    /// A Linux bzImage (boot protocol 2.12 or later, 64-bit), entered through
    /// xen-kexec's purgatory.
    #[arg(long, value_name = "BZIMAGE")]
    kernel: Option<PathBuf>,
    /// The Linux image's initial ramdisk.
    #[arg(long, value_name = "FILE", conflicts_with = "elf")]
    initrd: Option<PathBuf>,
    /// The Linux image's command line.
    #[arg(
        long,
        visible_alias = "command-line",
        value_name = "TEXT",
        conflicts_with = "elf"
    )]
    append: Option<String>,
    /// Start the command line with the running kernel's (/proc/cmdline) minus
    /// crashkernel= and BOOT_IMAGE=.
    #[arg(long, conflicts_with = "elf")]
    reuse_cmdline: bool,
    /// Do not have the purgatory check the segments' SHA-256 digests.
    #[arg(long, conflicts_with = "elf")]
    no_checks: bool,
    /// Test only: give the purgatory one wrong digest, so that it must refuse to enter.
    #[arg(long, hide = true, conflicts_with = "elf")]
    test_corrupt_digest: bool,
    /// Test only: leave elfcorehdr= off a crash kernel's command line.
    #[arg(long, hide = true, conflicts_with = "elf")]
    test_no_elfcorehdr: bool,
    /// A raw blob (initrd, parameter block) at machine address ADDR. Repeatable.
    #[arg(long = "blob", value_name = "FILE@ADDR", value_parser = parse_blob, conflicts_with = "kernel")]
    blobs: Vec<BlobArg>,
    /// The entry point's machine address, overriding the ELF's e_entry.
    #[arg(long, value_name = "ADDR", value_parser = parse_u64, conflicts_with = "kernel")]
    entry: Option<u64>,
    /// Add kexec-tools' segment without a buffer that maps the first MiB.
    #[arg(long, conflicts_with = "kernel")]
    map_low_1m: bool,
    /// Allow 16 segments (real Xen refuses 16; hypervisors built on xen-kexec-hypervisor
    /// take them).
    #[arg(long = "allow-16-segments")]
    allow_16_segments: bool,
    /// Plan and check the load, print it, and send nothing.
    #[arg(long)]
    dry_run: bool,
}

fn parse_blob(text: &str) -> Result<BlobArg, String> {
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

#[derive(Debug, Subcommand)]
enum SimCommand {
    /// Create (or reset) a simulated host in the file PATH.
    Init {
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
        path: PathBuf,
        #[arg(long = "type", value_enum)]
        type_: TypeArg,
        #[arg(long, value_name = "ADDR", value_parser = parse_u64)]
        maddr: u64,
        #[arg(long, value_name = "N", value_parser = parse_u64)]
        len: u64,
    },
}

/// `--memory-map`: the ranges it lists.
#[derive(Clone, Debug, PartialEq, Eq)]
struct MemoryMapSpec(Vec<MemRange>);

fn parse_memory_map_arg(text: &str) -> Result<MemoryMapSpec, String> {
    parse_memory_map(text)
        .map(MemoryMapSpec)
        .map_err(|e| e.to_string())
}

impl Command {
    fn name(&self) -> &'static str {
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
        }
    }
}

/// A command's report as it is printed: its JSON object with `--json`, else its text.
fn render<R: Serialize + fmt::Display>(report: &R, json: bool) -> Result<String, Failure> {
    if json {
        serde_json::to_string(report)
            .map_err(|e| Failure::Usage(format!("cannot render the report as JSON: {e}")))
    } else {
        Ok(report.to_string())
    }
}

/// A transport as the command line uses it: what it says after an exec, and keeping
/// its state.
trait CliTransport: Transport {
    /// The entry a successful exec made, as text and JSON (the simulated host records
    /// it; on a real hypervisor a successful exec does not return).
    fn entered(&self) -> Option<(u64, xen_kexec_abi::EntryMode)>;
    /// Keeps what the commands changed.
    fn commit(&mut self) -> Result<(), TransportError>;
}

impl CliTransport for PrivcmdTransport {
    fn entered(&self) -> Option<(u64, xen_kexec_abi::EntryMode)> {
        None
    }

    fn commit(&mut self) -> Result<(), TransportError> {
        Ok(())
    }
}

impl CliTransport for SimTransport {
    fn entered(&self) -> Option<(u64, xen_kexec_abi::EntryMode)> {
        SimTransport::entered(self).map(|e| (e.entry_maddr, e.entry_mode))
    }

    fn commit(&mut self) -> Result<(), TransportError> {
        self.save()
    }
}

/// Runs a hypervisor command on `transport`: the report to print.
fn run_on<T: CliTransport>(
    transport: T,
    guest: AutoGuest,
    command: &Command,
    json: bool,
) -> Result<String, Failure> {
    let mut client = Client::new(transport, guest)?;
    let head = Head::new(command.name(), client.abi());
    match command {
        Command::Status { type_ } => {
            let type_ = type_.kexec_type();
            let loaded = client.status(type_)?;
            render(
                &StatusReport {
                    head,
                    type_: type_.into(),
                    loaded,
                },
                json,
            )
        }
        Command::GetRange { range, cpu } => {
            let r = client.get_range(range.kind(), cpu.unwrap_or(0))?;
            render(&GetRangeReport::new(head, &r), json)
        }
        Command::Load(args) => render(&load(&mut client, head, args)?, json),
        Command::Unload { type_ } => render(&unload(&mut client, head, type_.kexec_type())?, json),
        Command::Exec { type_ } => render(&exec(&mut client, head, type_.kexec_type())?, json),
        Command::MemoryMap => {
            let ranges = client.machine_memory_map()?;
            render(&MemoryMapReport { head, ranges }, json)
        }
        Command::Decode(_) | Command::Sim(_) => Err(Failure::Usage(format!(
            "`{}` is not a hypervisor command",
            command.name()
        ))),
    }
}

/// `load`: plans the image, checks it (a dry run stops there) or loads it.
fn load<T: CliTransport>(
    client: &mut Client<T>,
    head: Head,
    args: &LoadArgs,
) -> Result<LoadReport, Failure> {
    let (plan, core) = match (&args.elf, &args.kernel) {
        (_, Some(kernel)) => {
            let linux = linux_load::plan_on(
                client,
                &linux_load::LinuxArgs {
                    type_: args.type_.kexec_type(),
                    kernel,
                    initrd: args.initrd.as_ref(),
                    append: args.append.as_deref(),
                    reuse_cmdline: args.reuse_cmdline,
                    no_checks: args.no_checks,
                    corrupt_digest: args.test_corrupt_digest,
                    omit_elfcorehdr: args.test_no_elfcorehdr,
                },
            )?;
            (linux.load, linux.layout.core_phdrs)
        }
        (Some(elf), None) => (
            plan::plan(&PlanOptions {
                type_: args.type_.kexec_type(),
                elf: elf.clone(),
                blobs: args.blobs.clone(),
                entry: args.entry,
                map_low_1m: args.map_low_1m,
                allow_16_segments: args.allow_16_segments,
            })
            .map_err(|e| Failure::Usage(e.to_string()))?,
            Vec::new(),
        ),
        (None, None) => return Err(Failure::Usage("load needs --elf or --kernel".into())),
    };
    let summary = if args.dry_run {
        client.check_plan(&plan)?.summary()
    } else {
        let s = client.load(&plan);
        // A failed load may have changed the hypervisor's state too (a CRASH load
        // unloads the old image first).
        client.transport_mut().commit()?;
        s?
    };
    Ok(LoadReport::new(
        head,
        args.dry_run,
        &plan.segments,
        &summary,
        &core,
    ))
}

/// `unload`.
fn unload<T: CliTransport>(
    client: &mut Client<T>,
    head: Head,
    type_: KexecType,
) -> Result<UnloadReport, Failure> {
    let r = client.unload(type_);
    client.transport_mut().commit()?;
    r?;
    Ok(UnloadReport {
        head,
        type_: type_.into(),
        kexec_type: type_,
    })
}

/// `exec`: with the entry the simulated host made.
fn exec<T: CliTransport>(
    client: &mut Client<T>,
    head: Head,
    type_: KexecType,
) -> Result<ExecReport, Failure> {
    let r = client.exec(type_);
    client.transport_mut().commit()?;
    r?;
    let entered = client.transport().entered();
    Ok(ExecReport {
        head,
        type_: type_.into(),
        entry_maddr: entered.map(|(entry, _)| Hex(entry)),
        entry_mode: entered.map(|(_, mode)| Mode(mode)),
        kexec_type: type_,
    })
}

/// The `sim` commands: the report to print (`sim dump` writes raw bytes itself).
fn sim_command(command: &SimCommand, json: bool) -> Result<Option<String>, Failure> {
    match command {
        SimCommand::Init {
            path,
            crash_region,
            cpus,
            xen,
            vmcoreinfo,
            cpu_notes,
            kernel,
            memory_map,
        } => {
            let defaults = SimConfig::default();
            let config = SimConfig {
                crash_region: Some(SimRange::from(*crash_region)),
                cpus: cpus.unwrap_or(defaults.cpus),
                xen: xen.map_or(defaults.xen, SimRange::from),
                vmcoreinfo: vmcoreinfo.map(SimRange::from).or(defaults.vmcoreinfo),
                cpu_notes: cpu_notes.map(SimRange::from).or(defaults.cpu_notes),
                memory_map: memory_map.as_ref().map_or(defaults.memory_map, |m| {
                    m.0.iter()
                        .map(|r| SimE820 {
                            start: r.start,
                            size: r.size,
                            kind: r.kind.0,
                        })
                        .collect()
                }),
                ..SimConfig::default()
            };
            SimTransport::create(path, config.clone(), *kernel)?.save()?;
            let report = SimInitReport {
                schema: SCHEMA,
                command: "sim init",
                path: path.display().to_string(),
                kernel: kernel.name(),
                crash_region: (*crash_region).into(),
                xen: config.xen.into(),
                cpus: config.cpus,
                cpu_notes: config.cpu_notes.map(RangeJson::from),
                vmcoreinfo: config.vmcoreinfo.map(RangeJson::from),
            };
            render(&report, json).map(Some)
        }
        // Raw bytes, whatever --json says.
        SimCommand::Dump {
            path,
            type_,
            maddr,
            len,
        } => sim_dump(path, type_.kexec_type(), *maddr, *len).map(|()| None),
    }
}

/// `sim dump`: the image's bytes at `[maddr, maddr + len)` to stdout, a chunk at a time.
fn sim_dump(path: &Path, type_: KexecType, maddr: u64, len: u64) -> Result<(), Failure> {
    if len > MAX_LOAD_BYTES {
        return Err(Failure::Usage(format!(
            "--len {len:#x} is more than the {} MiB a dump gives",
            MAX_LOAD_BYTES >> 20
        )));
    }
    if len > 0 && maddr.checked_add(len - 1).is_none() {
        return Err(Failure::Usage(format!(
            "--maddr {maddr:#x} --len {len:#x} runs past the top of the address space"
        )));
    }
    let sim = SimTransport::open(path)?;
    let mut chunk = vec![0u8; 1 << 16];
    let mut at = maddr;
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left.min(chunk.len() as u64)).unwrap_or(chunk.len());
        let buf = &mut chunk[..n];
        sim.sim()
            .image_bytes(type_, at, buf)
            .map_err(|e| sim_dump_failure(type_, &e))?;
        write_stdout(buf)?;
        at = at.wrapping_add(n as u64);
        left -= n as u64;
    }
    Ok(())
}

/// `sim dump` of a type with no image: the same refusal exec gives (ENOENT).
fn sim_dump_failure(type_: KexecType, error: &SimError) -> Failure {
    if let SimError::NoImage { .. } = error {
        Failure::Refused(Refusal {
            cmd: xen_kexec_abi::KexecCmd::KEXEC.into(),
            errno: xen_kexec_abi::Errno::ENOENT,
            rule: Some(error.rule()),
            segment: None,
            reason: format!("no {type_:?} image is loaded"),
            local: true,
        })
    } else {
        Failure::Usage(error.to_string())
    }
}

fn run(cli: &Cli) -> Result<Option<String>, Failure> {
    match &cli.command {
        Command::Decode(args) => decode::run(args, cli.json).map(Some),
        Command::Sim(sim) => sim_command(sim, cli.json),
        command => match &cli.backend {
            Backend::Privcmd => {
                run_on(PrivcmdTransport::open()?, cli.guest, command, cli.json).map(Some)
            }
            Backend::Sim(path) => {
                run_on(SimTransport::open(path)?, cli.guest, command, cli.json).map(Some)
            }
        },
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let name = cli.command.name();
    match run(&cli) {
        Ok(Some(report)) => match write_stdout(format!("{report}\n").as_bytes()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(f) => report_failure(name, cli.json, &f),
        },
        Ok(None) => ExitCode::SUCCESS,
        Err(failure) => report_failure(name, cli.json, &failure),
    }
}
