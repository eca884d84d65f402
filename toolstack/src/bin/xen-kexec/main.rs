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
//!   unload    --type default|crash
//!   exec      --type default|crash
//!   decode    --guest x86_32|x86_64 --cmd N --arg ADDR --mem ADDR=FILE... [--crash-region START:SIZE]
//!   sim init  PATH --crash-region START:SIZE [--cpus N] [--xen START:SIZE]
//!             [--vmcoreinfo START:SIZE] [--cpu-notes START:SIZE] [--kernel x86_32|x86_64]
//!   sim dump  PATH --type default|crash --maddr ADDR --len N
//! ```
//!
//! Exit status: 0 success; 1 the hypervisor refused (`ENAME (value): reason` on stderr,
//! or a JSON error object on stdout with `--json`); 2 bad command-line input or file;
//! 3 no hypervisor interface. The README documents the output and the JSON schema.

mod decode;
mod output;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{json, Map, Value};
use xen_kexec_abi::host::MachineRange;
use xen_kexec_abi::{GuestAbi, KexecRangeKind, KexecType};
use xen_kexec_hypervisor::sim::{SimConfig, SimError, SimRange};
use xen_kexec_toolstack::num::{parse_i32, parse_range, parse_u32, parse_u64};
use xen_kexec_toolstack::plan::{self, BlobArg, PlanOptions, MAX_LOAD_BYTES};
use xen_kexec_toolstack::privcmd::PrivcmdTransport;
use xen_kexec_toolstack::sim::SimTransport;
use xen_kexec_toolstack::{Client, LoadSummary, Refusal, Transport, TransportError};

use output::{
    hex, mode_name, mode_words, put_arch, put_range, put_type, report_failure, write_stdout,
    Failure,
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
    #[arg(long, value_enum, default_value_t = GuestChoice::Auto)]
    guest: GuestChoice,
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

/// `--guest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum GuestChoice {
    /// The dom0 kernel's width.
    Auto,
    /// 32-bit layouts.
    #[value(name = "x86_32")]
    X86_32,
    /// 64-bit layouts.
    #[value(name = "x86_64")]
    X86_64,
}

impl GuestChoice {
    fn forced(self) -> Option<GuestAbi> {
        match self {
            GuestChoice::Auto => None,
            GuestChoice::X86_32 => Some(GuestAbi::X86_32),
            GuestChoice::X86_64 => Some(GuestAbi::X86_64),
        }
    }
}

/// `--kernel` of `sim init`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum KernelArg {
    #[value(name = "x86_32")]
    X86_32,
    #[value(name = "x86_64")]
    X86_64,
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

    fn word(self) -> &'static str {
        match self {
            TypeArg::Default => "default",
            TypeArg::Crash => "crash",
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
    /// Decode a captured kexec_op hypercall from guest memory images (JSON on stdout).
    Decode(decode::DecodeArgs),
    /// The simulated hypervisor's state file.
    #[command(subcommand)]
    Sim(SimCommand),
}

/// Arguments of `load`.
#[derive(Debug, clap::Args)]
struct LoadArgs {
    #[arg(long = "type", value_enum)]
    type_: TypeArg,
    /// The ELF image: one segment per PT_LOAD at its physical address.
    #[arg(long, value_name = "FILE")]
    elf: PathBuf,
    /// A raw blob (initrd, parameter block) at machine address ADDR. Repeatable.
    #[arg(long = "blob", value_name = "FILE@ADDR", value_parser = parse_blob)]
    blobs: Vec<BlobArg>,
    /// The entry point's machine address, overriding the ELF's e_entry.
    #[arg(long, value_name = "ADDR", value_parser = parse_u64)]
    entry: Option<u64>,
    /// Add kexec-tools' segment without a buffer that maps the first MiB.
    #[arg(long)]
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
        #[arg(long, value_enum, default_value_t = KernelArg::X86_64)]
        kernel: KernelArg,
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

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Command::Status { .. } => "status",
            Command::GetRange { .. } => "get-range",
            Command::Load(_) => "load",
            Command::Unload { .. } => "unload",
            Command::Exec { .. } => "exec",
            Command::Decode(_) => "decode",
            Command::Sim(SimCommand::Init { .. }) => "sim init",
            Command::Sim(SimCommand::Dump { .. }) => "sim dump",
        }
    }
}

/// What a command prints: text lines, or the JSON object.
struct Report {
    text: String,
    json: Value,
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

fn base_json(command: &str, abi: GuestAbi) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("command".into(), command.into());
    o.insert("guest".into(), abi.name().into());
    o
}

/// Runs a hypervisor command on `transport`.
fn run_on<T: CliTransport>(
    transport: T,
    guest: GuestChoice,
    command: &Command,
) -> Result<Report, Failure> {
    let mut client = Client::new(transport, guest.forced())?;
    let abi = client.abi();
    let name = command.name();
    let mut o = base_json(name, abi);
    let report = match command {
        Command::Status { type_ } => {
            let loaded = client.status(type_.kexec_type())?;
            put_type(&mut o, type_.kexec_type());
            o.insert("loaded".into(), loaded.into());
            Report {
                text: if loaded { "loaded" } else { "not loaded" }.into(),
                json: o.into(),
            }
        }
        Command::GetRange { range, cpu } => {
            let r = client.get_range(range.kind(), cpu.unwrap_or(0))?;
            put_range(&mut o, r.range);
            o.insert("nr".into(), r.nr.into());
            o.insert("start".into(), hex(r.start));
            o.insert("size".into(), hex(r.size));
            Report {
                text: format!("start {:#x} size {:#x}", r.start, r.size),
                json: o.into(),
            }
        }
        Command::Load(args) => {
            let plan = plan::plan(&PlanOptions {
                type_: args.type_.kexec_type(),
                elf: args.elf.clone(),
                blobs: args.blobs.clone(),
                entry: args.entry,
                map_low_1m: args.map_low_1m,
                allow_16_segments: args.allow_16_segments,
            })
            .map_err(|e| Failure::Usage(e.to_string()))?;
            let summary = if args.dry_run {
                client.check_plan(&plan)?.summary()
            } else {
                let s = client.load(&plan);
                // A failed load may have changed the hypervisor's state too (a CRASH
                // load unloads the old image first).
                client.transport_mut().commit()?;
                s?
            };
            load_report(o, args, &plan, &summary)
        }
        Command::Unload { type_ } => {
            let r = client.unload(type_.kexec_type());
            client.transport_mut().commit()?;
            r?;
            put_type(&mut o, type_.kexec_type());
            Report {
                text: format!("unloaded {} image", type_.word()),
                json: o.into(),
            }
        }
        Command::Exec { type_ } => {
            let r = client.exec(type_.kexec_type());
            client.transport_mut().commit()?;
            r?;
            put_type(&mut o, type_.kexec_type());
            match client.transport().entered() {
                Some((entry, mode)) => {
                    o.insert("entry_maddr".into(), hex(entry));
                    o.insert("entry_mode".into(), mode_name(mode).into());
                    Report {
                        text: format!(
                            "entered {} image at {entry:#x} ({})",
                            type_.word(),
                            mode_words(mode)
                        ),
                        json: o.into(),
                    }
                }
                None => Report {
                    text: format!("exec of the {} image returned", type_.word()),
                    json: o.into(),
                },
            }
        }
        Command::Decode(_) | Command::Sim(_) => unreachable!("not a hypervisor command"),
    };
    Ok(report)
}

fn load_report(
    mut o: Map<String, Value>,
    args: &LoadArgs,
    plan: &plan::LoadPlan,
    summary: &LoadSummary,
) -> Report {
    let req = &summary.request;
    o.insert("dry_run".into(), args.dry_run.into());
    put_type(&mut o, req.type_);
    put_arch(&mut o, req.arch);
    o.insert("entry_maddr".into(), hex(req.entry_maddr));
    o.insert("entry_mode".into(), mode_name(summary.entry_mode).into());
    o.insert(
        "crash_region".into(),
        summary.crash_region.map_or(
            Value::Null,
            |r| json!({ "start": hex(r.start()), "size": hex(r.size()) }),
        ),
    );
    let mut text = format!(
        "{} {} image: {} segments, entry {:#x} ({})",
        if args.dry_run { "would load" } else { "loaded" },
        args.type_.word(),
        plan.segments.len(),
        req.entry_maddr,
        mode_words(summary.entry_mode)
    );
    let mut segs = Vec::new();
    for (i, seg) in plan.segments.iter().enumerate() {
        let _ = write!(
            text,
            "\n  segment {i}: dest {:#x} size {:#x} buf_size {:#x}{}  {}",
            seg.dest_maddr,
            seg.dest_size,
            seg.buf_size(),
            if seg.buffered { "" } else { " (no buffer)" },
            seg.what
        );
        segs.push(json!({
            "dest_maddr": hex(seg.dest_maddr),
            "dest_size": hex(seg.dest_size),
            "buf_size": hex(seg.buf_size()),
            "buffered": seg.buffered,
            "source": seg.what,
        }));
    }
    o.insert("segments".into(), segs.into());
    Report {
        text,
        json: o.into(),
    }
}

fn sim_command(command: &SimCommand, json: bool) -> Result<Option<Report>, Failure> {
    match command {
        SimCommand::Init {
            path,
            crash_region,
            cpus,
            xen,
            vmcoreinfo,
            cpu_notes,
            kernel,
        } => {
            let defaults = SimConfig::default();
            let config = SimConfig {
                crash_region: Some(SimRange::from(*crash_region)),
                cpus: cpus.unwrap_or(defaults.cpus),
                xen: xen.map_or(defaults.xen, SimRange::from),
                vmcoreinfo: vmcoreinfo.map(SimRange::from).or(defaults.vmcoreinfo),
                cpu_notes: cpu_notes.map(SimRange::from).or(defaults.cpu_notes),
                ..defaults
            };
            let kernel = match kernel {
                KernelArg::X86_32 => GuestAbi::X86_32,
                KernelArg::X86_64 => GuestAbi::X86_64,
            };
            let sim = SimTransport::create(path, config, kernel)?;
            sim.save()?;
            let range = |r: SimRange| json!({ "start": hex(r.start), "size": hex(r.size) });
            Ok(Some(Report {
                text: format!(
                    "simulated host {}: crash region {:#x}:{:#x}, {} CPUs, {} dom0 kernel",
                    path.display(),
                    crash_region.start(),
                    crash_region.size(),
                    config.cpus,
                    kernel.name()
                ),
                json: json!({
                    "command": "sim init",
                    "path": path.display().to_string(),
                    "kernel": kernel.name(),
                    "crash_region": range(SimRange::from(*crash_region)),
                    "xen": range(config.xen),
                    "cpus": config.cpus,
                    "cpu_notes": config.cpu_notes.map(range),
                    "vmcoreinfo": config.vmcoreinfo.map(range),
                }),
            }))
        }
        SimCommand::Dump {
            path,
            type_,
            maddr,
            len,
        } => {
            let _ = json; // raw bytes, whatever --json says
            if *len > MAX_LOAD_BYTES {
                return Err(Failure::Usage(format!(
                    "--len {len:#x} is more than the {} MiB a dump gives",
                    MAX_LOAD_BYTES >> 20
                )));
            }
            if *len > 0 && maddr.checked_add(*len - 1).is_none() {
                return Err(Failure::Usage(format!(
                    "--maddr {maddr:#x} --len {len:#x} runs past the top of the address space"
                )));
            }
            let sim = SimTransport::open(path)?;
            let mut chunk = vec![0u8; 1 << 16];
            let mut at = *maddr;
            let mut left = *len;
            while left > 0 {
                let n = usize::try_from(left.min(chunk.len() as u64)).unwrap_or(chunk.len());
                let buf = &mut chunk[..n];
                sim.sim()
                    .image_bytes(type_.kexec_type(), at, buf)
                    .map_err(|e| sim_dump_failure(type_.kexec_type(), &e))?;
                write_stdout(buf)?;
                at = at.wrapping_add(n as u64);
                left -= n as u64;
            }
            Ok(None)
        }
    }
}

/// `sim dump` of a type with no image: the same refusal exec gives (ENOENT).
fn sim_dump_failure(type_: KexecType, error: &SimError) -> Failure {
    if let SimError::NoImage { .. } = error {
        Failure::Refused(Refusal {
            cmd: xen_kexec_abi::KexecCmd::KEXEC,
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

fn run(cli: &Cli) -> Result<Option<Report>, Failure> {
    match &cli.command {
        Command::Decode(args) => {
            let text = decode::run(args, cli.json)?;
            write_stdout(text.as_bytes())?;
            Ok(None)
        }
        Command::Sim(sim) => sim_command(sim, cli.json),
        command => match &cli.backend {
            Backend::Privcmd => run_on(PrivcmdTransport::open()?, cli.guest, command).map(Some),
            Backend::Sim(path) => run_on(SimTransport::open(path)?, cli.guest, command).map(Some),
        },
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let name = cli.command.name();
    match run(&cli) {
        Ok(Some(report)) => {
            let text = if cli.json {
                format!("{}\n", report.json)
            } else {
                format!("{}\n", report.text)
            };
            match write_stdout(text.as_bytes()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(f) => report_failure(name, cli.json, &f),
            }
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(failure) => report_failure(name, cli.json, &failure),
    }
}
