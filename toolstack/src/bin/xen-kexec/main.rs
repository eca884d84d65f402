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
//!   kexec     [kexec-tools' options] [KERNEL]   (also: the program run as `kexec`)
//!   decode    --guest x86_32|x86_64 --cmd N --arg ADDR --mem ADDR=FILE... [--crash-region START:SIZE] [--rules strict|xen]
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

#[macro_use]
mod output;
mod decode;
mod linux_load;
mod personality;
mod report;

use std::ffi::OsString;
use std::fmt;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser as _;
use serde::Serialize;
use xen_kexec_abi::KexecType;
use xen_kexec_hypervisor::sim::{SimConfig, SimE820, SimError, SimRange};
use xen_kexec_toolstack::cli::{self, Backend, Cli, Command, LoadArgs, SimCommand};
use xen_kexec_toolstack::plan::{self, PlanOptions, MAX_LOAD_BYTES};
use xen_kexec_toolstack::privcmd::PrivcmdTransport;
use xen_kexec_toolstack::record::{ImageNote, RecordStore};
use xen_kexec_toolstack::sim::SimTransport;
use xen_kexec_toolstack::tracked::Tracked;
use xen_kexec_toolstack::{Client, ClientError, Refusal, Transport, TransportError};

use output::{report_failure, write_stdout, Failure};
use report::{
    ExecReport, GetRangeReport, Head, Hex, LoadReport, MemoryMapReport, Mode, RangeJson,
    SimInitReport, StatusReport, UnloadReport, SCHEMA,
};

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
pub(crate) trait CliTransport: Transport {
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

/// Keeps what a state-changing call did, whatever its result: a success whose state
/// cannot be kept is that failure (exit 2: on the simulated host the change is lost); a
/// refusal stands as the answer, and a state that cannot be kept after it is a warning
/// on stderr (prefixed `prefix`), never in its place.
pub(crate) fn kept<T: CliTransport, R>(
    transport: &mut T,
    result: Result<R, ClientError>,
    prefix: &str,
) -> Result<R, ClientError> {
    match (transport.commit(), result) {
        (Ok(()), r) => r,
        (Err(e), Ok(_)) => Err(ClientError::Transport(e)),
        (Err(e), Err(refusal)) => {
            note!("{prefix}: warning: {e}");
            Err(refusal)
        }
    }
}

/// Prints the status record's warnings of `command` on stderr: each operation stands.
pub(crate) fn warn<T: Transport>(tracked: &mut Tracked<T>, prefix: &str) {
    for w in tracked.take_warnings() {
        note!("{prefix}: warning: {w} (status will say presence is unknown)");
    }
}

/// Runs a hypervisor command on `transport`: the report to print.
fn run_on<T: CliTransport>(
    transport: T,
    guest: cli::AutoGuest,
    command: &Command,
    json: bool,
) -> Result<String, Failure> {
    let client = Client::new(transport, guest)?;
    let head = Head::new(command.name(), client.abi());
    let mut tracked = Tracked::new(client, RecordStore::from_env());
    let report = run_tracked(&mut tracked, head, command, json);
    warn(&mut tracked, &format!("xen-kexec {}", command.name()));
    report
}

/// [`run_on`] with the client in hand.
fn run_tracked<T: CliTransport>(
    tracked: &mut Tracked<T>,
    head: Head,
    command: &Command,
    json: bool,
) -> Result<String, Failure> {
    let client = tracked.client_mut();
    match command {
        Command::Status { type_ } => {
            let answer = tracked.status(type_.kexec_type())?;
            render(&StatusReport::new(head, &answer), json)
        }
        Command::GetRange { range, cpu } => {
            let r = client.get_range(range.kind(), cpu.unwrap_or(0))?;
            render(&GetRangeReport::new(head, &r), json)
        }
        Command::Load(args) => render(&load(tracked, head, args)?, json),
        Command::Unload { type_ } => render(&unload(tracked, head, type_.kexec_type())?, json),
        Command::Exec { type_ } => render(&exec(client, head, type_.kexec_type())?, json),
        Command::MemoryMap => {
            let ranges = client.machine_memory_map()?;
            render(&MemoryMapReport { head, ranges }, json)
        }
        Command::Decode(_) | Command::Sim(_) | Command::Kexec { .. } => Err(Failure::Usage(
            format!("`{}` is not a hypervisor command", command.name()),
        )),
    }
}

/// `load`: plans the image, checks it (a dry run stops there) or loads it.
fn load<T: CliTransport>(
    tracked: &mut Tracked<T>,
    head: Head,
    args: &LoadArgs,
) -> Result<LoadReport, Failure> {
    let client = tracked.client_mut();
    let (plan, note, core) = match (&args.elf, &args.kernel) {
        (_, Some(kernel)) => {
            let linux = linux_load::LinuxArgs {
                type_: args.type_.kexec_type(),
                kernel,
                initrd: args.initrd.as_ref(),
                append: args.append.as_deref(),
                reuse_cmdline: args.reuse_cmdline,
                no_checks: args.no_checks,
                corrupt_digest: args.test_corrupt_digest,
                omit_elfcorehdr: args.test_no_elfcorehdr,
            };
            let plan = linux_load::plan_on(client, &linux)?;
            (plan.load, linux.note(), plan.layout.core_phdrs)
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
            ImageNote {
                kernel: Some(elf.display().to_string()),
                ..ImageNote::default()
            },
            Vec::new(),
        ),
        (None, None) => return Err(Failure::Usage("load needs --elf or --kernel".into())),
    };
    if !plan.entry_in_a_segment() {
        note!(
            "xen-kexec load: warning: entry {:#x} is in no segment of the image: nothing \
             is loaded there",
            plan.entry_maddr
        );
    }
    let summary = if args.dry_run {
        client.check_plan(&plan)?.summary()
    } else {
        let s = tracked.load(&plan, note);
        // A failed load may have changed the hypervisor's state too (a CRASH load
        // unloads the old image first).
        kept(tracked.client_mut().transport_mut(), s, "xen-kexec load")?
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
    tracked: &mut Tracked<T>,
    head: Head,
    type_: KexecType,
) -> Result<UnloadReport, Failure> {
    let r = tracked.unload(type_);
    kept(tracked.client_mut().transport_mut(), r, "xen-kexec unload")?;
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
    kept(client.transport_mut(), r, "xen-kexec exec")?;
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
                // SIZE 0 is none, as Xen answers without `crashkernel=` (0/0).
                crash_region: Some(SimRange::from(*crash_region)).filter(|r| r.size != 0),
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
                crash_region: config.crash_region.map_or(RangeJson::NONE, RangeJson::from),
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
    let mut sim = SimTransport::open(path)?;
    sim.load_pages()?;
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

/// Whether `command`, once it succeeded, changed the hypervisor's (or the simulated
/// host's) state.
fn changes_state(command: &Command) -> bool {
    match command {
        Command::Load(args) => !args.dry_run,
        Command::Unload { .. } | Command::Exec { .. } => true,
        Command::Sim(sim) => matches!(sim, SimCommand::Init { .. }),
        _ => false,
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
    let argv: Vec<OsString> = std::env::args_os().collect();
    if argv.first().is_some_and(|name| cli::is_kexec_name(name)) {
        return personality::main(&argv[1..], None);
    }
    let cli = Cli::parse();
    if let Command::Kexec { args } = &cli.command {
        return personality::main(args, Some((&cli.backend, cli.guest)));
    }
    let name = cli.command.name();
    if let Err(f) = output::check_stdout() {
        return report_failure(name, false, &f);
    }
    match run(&cli) {
        Ok(Some(report)) => match write_stdout(format!("{report}\n").as_bytes()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(Failure::Usage(m)) if changes_state(&cli.command) => {
                let done = Failure::Usage(format!("{m} (the {name} was done)"));
                report_failure(name, false, &done)
            }
            Err(f) => report_failure(name, cli.json, &f),
        },
        Ok(None) => ExitCode::SUCCESS,
        Err(failure) => report_failure(name, cli.json, &failure),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xen_kexec_abi::{Errno, GuestAbi, KexecCmd};
    use xen_kexec_toolstack::sim::SimBuffer;
    use xen_kexec_toolstack::{CallError, Hypercall};

    /// A simulated host whose state can never be saved (a read-only directory).
    struct Unsaveable(SimTransport);

    impl Transport for Unsaveable {
        type Buffer = SimBuffer;
        fn kernel_abi(&self) -> Result<GuestAbi, TransportError> {
            self.0.kernel_abi()
        }
        fn alloc(&mut self, len: usize) -> Result<SimBuffer, TransportError> {
            self.0.alloc(len)
        }
        fn hypercall(
            &mut self,
            call: Hypercall,
            buffers: &mut [&mut SimBuffer],
        ) -> Result<i64, CallError> {
            self.0.hypercall(call, buffers)
        }
    }

    impl CliTransport for Unsaveable {
        fn entered(&self) -> Option<(u64, xen_kexec_abi::EntryMode)> {
            None
        }
        fn commit(&mut self) -> Result<(), TransportError> {
            Err(TransportError::Sim {
                message: "cannot save simulated host: read-only directory".into(),
            })
        }
    }

    #[test]
    fn a_failed_save_never_hides_a_refusal_and_fails_a_success() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sim = SimTransport::create(
            &dir.path().join("h.json"),
            SimConfig::default(),
            GuestAbi::X86_64,
        )
        .expect("sim");
        let mut t = Unsaveable(sim);
        let refusal = Refusal {
            cmd: KexecCmd::LOAD.into(),
            errno: Errno::EADDRNOTAVAIL,
            rule: Some("CrashEntryOutside"),
            segment: None,
            reason: "entry outside".into(),
            local: false,
        };
        match kept(
            &mut t,
            Err::<(), _>(ClientError::Refused(refusal.clone())),
            "test",
        ) {
            Err(ClientError::Refused(r)) => assert_eq!(r, refusal),
            other => panic!("{other:?}"),
        }
        match kept(&mut t, Ok(()), "test") {
            Err(ClientError::Transport(e)) => {
                assert!(e.to_string().contains("cannot save"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }
}
